"""Run one command in a sandbox backend with limits and a deadline; kill the whole tree at the end.

Boundary: process management only, through ``asyncio`` subprocesses. The command runs in its own
session (so its process group can be killed as one) under ``jail.py``, which applies the limits
and outlives nothing. At the deadline, or when the awaiting task is cancelled, every process of
the run is killed before this returns or re-raises: with a PID namespace, killing its first
process takes all the others with it; without one (the ``none`` backend) the jail, a child
subreaper, kills its descendants first. It never interprets the command's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tactful.feedback.execution.backends import (
    OUT_AT,
    SCRATCH_AT,
    WARM_AT,
    Layout,
    jail_argv,
    wrapper_argv,
)
from tactful.feedback.execution.cgroup import RunGroup, join_command
from tactful.feedback.execution.jail import SETUP_FAILED, TIMED_OUT

logger = logging.getLogger(__name__)

OUTPUT_HEAD = 16_000
OUTPUT_TAIL = 48_000
# The jail enforces the deadline; this process kills the run a little later if the jail did not.
JAIL_GRACE_S = 2.0
# What a run may have beyond its limits before the kernel refuses: the jail's watch sees the
# limit passed (and says so) before a fork or an allocation fails.
PROCESS_MARGIN = 16
MEMORY_MARGIN = 64 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run may use; the jail stops it past any of these and says which."""

    cpu_s: int
    memory_bytes: int  # resident memory of all the run's processes together
    processes: int = 512
    disk_bytes: int = 1 << 30  # written into the copy, and into /tmp

    @property
    def address_bytes(self) -> int:
        """Per process: address space, not resident memory (interpreters reserve more)."""
        return max(2 * self.memory_bytes, self.memory_bytes + (2 << 30))

    @classmethod
    def for_timeout(
        cls,
        timeout_s: float,
        memory_bytes: int | None = None,
        processes: int | None = None,
        disk_bytes: int | None = None,
    ) -> Limits:
        try:
            physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            physical = 8 << 30
        return cls(
            cpu_s=int(timeout_s) + 5,
            memory_bytes=memory_bytes or min(4 << 30, physical // 2),
            processes=processes or 512,
            disk_bytes=disk_bytes or (1 << 30),
        )

    def to_jail(self, sandboxed: bool = True) -> dict[str, int | None]:
        return {
            "cpu_s": self.cpu_s,
            "memory_bytes": self.memory_bytes,
            "address_bytes": self.address_bytes,
            "processes": self.processes,
            # counted by the kernel per user, so a margin over the jail's own count
            "nproc": self.processes + PROCESS_MARGIN,
            # sandboxed, every writable place is a size-capped tmpfs; otherwise a file may not
            # grow much past the limit the jail's watch of the copy's growth reports
            "file_bytes": None if sandboxed else self.disk_bytes + (1 << 20),
            "disk_bytes": self.disk_bytes,
        }


def stop_reason(stopped: str | None, limits: Limits) -> str:
    """What stopped a run, in a person's words ("" when nothing did)."""
    if stopped == "processes":
        return f"stopped: more than {limits.processes} processes"
    if stopped == "memory":
        return f"stopped: memory limit ({limits.memory_bytes >> 20} MB)"
    if stopped == "disk":
        return f"stopped: wrote more than {limits.disk_bytes >> 20} MB"
    if stopped == "cpu":
        return f"stopped: more than {limits.cpu_s} s of CPU time"
    return ""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    exit_code: int | None  # None when killed at the deadline
    output: str  # stdout and stderr interleaved, head and tail kept
    duration_s: float
    timed_out: bool
    stopped: str | None = None  # "processes", "memory", "disk", "cpu": the limit that stopped it
    cpu_s: float = 0.0

    @property
    def setup_failed(self) -> bool:
        return self.exit_code == SETUP_FAILED


class _Output:
    """Keeps the first and last part of a stream without holding all of it."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = OUTPUT_HEAD - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > OUTPUT_TAIL:
            cut = len(self.tail) - OUTPUT_TAIL
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        middle = f"\n… ({self.dropped} bytes of output cut) …\n".encode() if self.dropped else b""
        return bytes(self.head + middle + self.tail).decode("utf-8", "replace")


def read_output(path: Path) -> str:
    """A run's output file, its head and tail kept like a stream's."""
    sink = _Output()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(65536):
                sink.add(chunk)
    except OSError:
        return ""
    return sink.text()


async def _drain(stream: asyncio.StreamReader, sink: _Output) -> None:
    while chunk := await stream.read(65536):
        sink.add(chunk)


def _kill_tree(process: asyncio.subprocess.Process, backend: str) -> None:
    if process.returncode is not None:
        return
    if backend == "bwrap":
        # bwrap and, with it, the jail (it dies with its parent) and the PID namespace
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    else:
        # the jail kills its descendants (even those in other sessions) on SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)


def read_usage(out: Path) -> dict:
    try:
        raw = json.loads((out / "usage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


async def run_command(
    backend: str,
    layout: Layout,
    argv: list[str],
    env: dict[str, str],
    timeout_s: float,
    limits: Limits,
    helper: Path,
    out: Path,
    *,
    changes: Path | None = None,
    deleted: list[str] | None = None,
    on_copied: Callable[[], None] | None = None,
) -> RunOutcome:
    """Run ``argv`` in the test root of ``layout`` inside ``backend``; see the module docstring.

    ``changes`` holds the edited files (laid over the warm copy in the sandbox), ``deleted``
    the files the edit removes; ``on_copied`` is called once the warm copy has been read.
    """
    sandboxed = backend == "bwrap"
    test_root = layout.test_root(backend)
    spec: dict = {
        "argv": argv,
        "cwd": str(test_root),
        "env": env,
        "limits": limits.to_jail(sandboxed),
        "deadline_s": timeout_s,
        "sandboxed": sandboxed,
        "bytecode": str(test_root),
    }
    out_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    ready_read, ready_write = os.pipe()
    spec["ready_fd"] = ready_write
    if sandboxed:
        spec["out_fd"] = out_fd
        spec["out_at"] = OUT_AT
        if layout.overlay:
            spec["overlay"] = {
                "warm_at": WARM_AT,
                "scratch_at": SCRATCH_AT,
                "root": str(layout.root),
                "changes": str(changes) if changes is not None else None,
                "deleted": list(deleted or []),
                "venvs": [str(layout.root / relative) for _source, relative in layout.into_copy],
            }
            spec["disks"] = ["/tmp", "/dev/shm", SCRATCH_AT]
            # what the run compiled is in its writes; the rest is the warm copy's already
            spec["bytecode"] = f"{SCRATCH_AT}/upper"
        else:
            spec["copy"] = {
                "from": WARM_AT,
                "to": str(layout.root),
                "changes": str(changes) if changes is not None else None,
                "deleted": list(deleted or []),
            }
            spec["disks"] = ["/tmp", "/dev/shm", str(layout.root)]
    else:
        spec["out"] = str(out)
        spec["grows"] = [str(layout.copy.parent), limits.disk_bytes]
        spec["watch_s"] = 0.1  # the host's whole /proc is read each time
    spec_path = helper / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    group = await asyncio.to_thread(
        RunGroup.create,
        f"tactful-{helper.parent.name}",
        limits.processes + PROCESS_MARGIN,
        limits.memory_bytes + layout.copy_bytes + layout.tmp_bytes + MEMORY_MARGIN,
    )
    command = join_command(group, wrapper_argv(backend, layout) + jail_argv(spec_path))
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(out_fd, ready_write) if sandboxed else (ready_write,),
        )
    finally:
        os.close(out_fd)
        os.close(ready_write)
    copied = asyncio.ensure_future(asyncio.to_thread(os.read, ready_read, 1))
    if on_copied is not None:
        copied.add_done_callback(lambda _done: on_copied())
    copied.add_done_callback(lambda _done: os.close(ready_read))
    sink = _Output()
    assert process.stdout is not None
    reader = asyncio.ensure_future(_drain(process.stdout, sink))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), timeout_s + JAIL_GRACE_S)
    except TimeoutError:
        timed_out = True
        _kill_tree(process, backend)
        try:
            await asyncio.wait_for(process.wait(), JAIL_GRACE_S + 1)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    except asyncio.CancelledError:
        # kill before re-raising, and wait for it: a cancelled validation leaves nothing running
        _kill_tree(process, backend)
        reader.cancel()
        try:
            await asyncio.wait_for(process.wait(), JAIL_GRACE_S)
        except (TimeoutError, asyncio.CancelledError):
            pass
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            if group is not None:
                await asyncio.to_thread(group.remove)
        raise
    finally:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(copied), 2.0)
    # the pipe closes when the last process holding it is gone; do not wait forever for it
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader, 2.0)
    duration = time.monotonic() - started
    code = process.returncode
    usage = await asyncio.to_thread(read_usage, out)
    stopped = usage.get("stopped")
    if group is not None:
        stopped = stopped if stopped in ("processes", "memory", "disk") else None
        stopped = stopped or group.stopped()
        await asyncio.to_thread(group.remove)
    if stopped == "deadline" or code == TIMED_OUT:
        timed_out = True
    if stopped not in ("processes", "memory", "disk"):
        stopped = "cpu" if code == 128 + signal.SIGXCPU else None
    return RunOutcome(
        None if timed_out else code,
        sink.text(),
        duration,
        timed_out,
        stopped,
        float(usage.get("cpu_s", 0.0)),
    )

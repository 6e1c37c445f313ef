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
from dataclasses import dataclass
from pathlib import Path

from tactful.feedback.execution.backends import Layout, jail_argv, jail_mounts, wrapper_argv
from tactful.feedback.execution.jail import SETUP_FAILED, TIMED_OUT

logger = logging.getLogger(__name__)

OUTPUT_HEAD = 16_000
OUTPUT_TAIL = 48_000
# The jail enforces the deadline itself too, a little later, in case this process is gone.
JAIL_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_s: int
    memory_bytes: int
    file_bytes: int = 1 << 30

    @classmethod
    def for_timeout(cls, timeout_s: float) -> Limits:
        try:
            physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            physical = 8 << 30
        # address space, not resident memory: interpreters reserve more than they touch
        return cls(cpu_s=int(timeout_s) + 5, memory_bytes=max(4 << 30, physical // 2))


@dataclass(frozen=True, slots=True)
class RunOutcome:
    exit_code: int | None  # None when killed at the deadline
    output: str  # stdout and stderr interleaved, head and tail kept
    duration_s: float
    timed_out: bool

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
    if backend == "none":
        # the jail kills its descendants (even those in other sessions) on SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


async def run_command(
    backend: str,
    layout: Layout,
    argv: list[str],
    env: dict[str, str],
    timeout_s: float,
    limits: Limits,
    spec_path: Path,
    usage_path: Path | None = None,
) -> RunOutcome:
    """Run ``argv`` in the test root of ``layout`` inside ``backend``; see the module docstring."""
    spec = {
        "argv": argv,
        "cwd": str(layout.test_root(backend)),
        "env": env,
        "limits": {
            "cpu_s": limits.cpu_s,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
        },
        "deadline_s": timeout_s + JAIL_GRACE_S,
        "usage": str(usage_path) if usage_path is not None else None,
        "mounts": jail_mounts(layout) if backend == "unshare" else None,
    }
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    command = wrapper_argv(backend, layout) + jail_argv(spec_path)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    sink = _Output()
    assert process.stdout is not None
    reader = asyncio.ensure_future(_drain(process.stdout, sink))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), timeout_s)
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
        raise
    # the pipe closes when the last process holding it is gone; do not wait forever for it
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader, 2.0)
    duration = time.monotonic() - started
    code = process.returncode
    if code == TIMED_OUT:
        timed_out = True
    return RunOutcome(None if timed_out else code, sink.text(), duration, timed_out)

"""A pytest kept warm inside the sandbox: tactful's side of ``zygote.py``.

Boundary: process management only. Starting the workspace's interpreter and importing pytest
costs more than many selected test runs; a zygote does it once per workspace and environment,
inside a bubblewrap sandbox like a cold run's, and forks one process per run. This class
starts it, sends it run and kill requests, and turns its answers into futures; it runs nothing
itself and never decides a verdict. When the zygote cannot start or dies, callers fall back to
the cold path (``Runner.run_in``), so a broken zygote costs speed, never a verdict.

``WarmPytests`` keeps one workspace's zygote: started under bubblewrap for its interpreter and
environment on first use, started again when they change, given up after two failed starts;
``WarmPytests.run`` forks one run from it, laid out as the runner prepared it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
import weakref
from pathlib import Path
from typing import IO, Any

from tactful.feedback.execution.backends import (
    OUT_AT,
    SCRATCH_AT,
    WARM_AT,
    base_view,
    overlay_layer,
    readonly_binds,
    readonly_view,
)
from tactful.feedback.execution.cgroup import RunGroup, join_command
from tactful.feedback.execution.environment import Environment
from tactful.feedback.execution.jail import TIMED_OUT
from tactful.feedback.execution.runner import (
    JAIL_GRACE_S,
    MEMORY_MARGIN,
    PROCESS_MARGIN,
    Limits,
    Runner,
    RunOutcome,
    read_output,
    read_usage,
)

logger = logging.getLogger(__name__)

ZYGOTE = Path(__file__).with_name("zygote.py")
START_TIMEOUT_S = 60.0
ZYGOTE_TMP_BYTES = 64 << 20  # the zygote's own /tmp; each run mounts one of its own


class ZygoteGone(Exception):
    """The zygote exited or could not start; the run must go the cold way."""


class WarmPytest:
    """One zygote process and the runs it has in flight."""

    def __init__(
        self,
        command: list[str],
        spec: dict[str, Any],
        spec_path: Path,
        log_path: Path,
        group: RunGroup | None = None,
    ) -> None:
        self._command = command
        self._group = group
        self._spec = spec
        self._spec_path = spec_path
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[str, concurrent.futures.Future[int]] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.failure: str | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None and self.failure is None

    def start(self) -> bool:
        """Start the zygote and wait until pytest is imported; False (with ``failure``) if not."""
        self._spec_path.write_text(json.dumps(self._spec), encoding="utf-8")
        log: IO[bytes] = self._log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        except OSError as exc:
            self.failure = f"cannot start: {exc}"
            return False
        finally:
            log.close()
        threading.Thread(target=self._read, name="tactful-zygote", daemon=True).start()
        if not self._ready.wait(START_TIMEOUT_S) and self.failure is None:
            self.failure = "did not start in time"
        if self.failure is not None:
            self.close()
            return False
        return True

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for raw in process.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if "ready" in message:
                self._ready.set()
            elif "error" in message:
                self.failure = str(message["error"])
                self._ready.set()
            elif "done" in message:
                with self._lock:
                    future = self._pending.pop(str(message["done"]), None)
                if future is not None and not future.done():
                    future.set_result(int(message.get("code", 1)))
        if self.failure is None:
            self.failure = "exited"
        self._ready.set()
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ZygoteGone(self.failure))

    def submit(self, request: dict[str, Any]) -> concurrent.futures.Future[int]:
        """Start a run; the future gives its exit status (124: deadline, 125: setup failed)."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        with self._lock:
            if not self.alive:
                future.set_exception(ZygoteGone(self.failure or "not running"))
                return future
            self._pending[request["id"]] = future
            self._send({"op": "run", **request})
        return future

    def kill(self, run_id: str) -> None:
        with self._lock:
            if self.alive:
                self._send({"op": "kill", "id": run_id})

    def _send(self, message: dict[str, Any]) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        try:
            process.stdin.write((json.dumps(message) + "\n").encode())
            process.stdin.flush()
        except (OSError, ValueError) as exc:
            self.failure = f"lost: {exc}"

    def close(self) -> None:
        """Stop the zygote and every run it has (its PID namespace goes with it)."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if process.stdin is not None:
                process.stdin.close()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if self.failure is None:
            self.failure = "closed"
        if self._group is not None:
            self._group.remove()
            self._group = None

    def stopped(self) -> str | None:
        """The limit the zygote's control group met, if it has one and any was met."""
        return self._group.stopped() if self._group is not None else None


class WarmPytests:
    """The warm pytest of one workspace, for the interpreter and environment in force."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._zygote: WarmPytest | None = None
        self._key = ""
        self._failures = 0
        self._lock = threading.Lock()

    def for_environment(self, environment: Environment) -> WarmPytest | None:
        """The zygote for this workspace's interpreter and environment, started on first use."""
        interpreter = environment.interpreter
        if interpreter is None:
            return None
        runner = self._runner
        root, warm = runner.root, runner.warm
        key = f"{interpreter}|{environment.fingerprint()}"
        with self._lock:
            current = self._zygote
            if current is not None and current.alive and self._key == key:
                return current
            if current is not None:
                current.close()
                self._zygote = None
            if self._failures >= 2:
                return None
            readonly = [*runner.environment_folders(environment), runner.coverage_folder()]
            venvs = [relative for relative in runner.inner_environments(environment)]
            runs = warm.runs
            runs.mkdir(parents=True, exist_ok=True)
            spec = {
                "venvs": venvs,
                "root": str(root),
                "warm_at": WARM_AT,
                "scratch_at": SCRATCH_AT,
                "out_at": OUT_AT,
                "runs": str(runs),
                # each run mounts a /tmp of its own: what lives under the zygote's is bound again
                "under_tmp": [
                    str(path)
                    for path in readonly_binds(readonly)
                    if path.is_relative_to("/tmp") and path != root
                ],
                "preload": ["pytest"],
                "warm_imports": ["coverage"],
                "warm_path": str(runner.coverage_folder()),
            }
            empty = overlay_layer(warm.home)
            argv = base_view(readonly, ZYGOTE_TMP_BYTES, nested=True, empty=empty)
            argv += ["--ro-bind", str(warm.copy), WARM_AT, "--bind", str(runs), str(runs)]
            argv += ["--dir", SCRATCH_AT, "--dir", OUT_AT, "--dir", str(root)]
            for name in venvs:
                argv += readonly_view(str(root / name), str(root / name), empty)
            spec_path = runs / "zygote.json"
            argv += ["--remount-ro", "/", "--", str(interpreter), "-I", str(ZYGOTE), str(spec_path)]
            limits = runner.limits(runner.options.timeout_s)
            # a ceiling for the zygote and the runs it forks together, where the machine has
            # control groups; each run is also watched and limited on its own (zygote.py)
            group = RunGroup.create(
                f"tactful-zygote-{os.getpid()}-{id(self):x}",
                2 * (limits.processes + PROCESS_MARGIN),
                2 * (limits.memory_bytes + 3 * limits.disk_bytes) + MEMORY_MARGIN,
            )
            zygote = WarmPytest(
                join_command(group, argv), spec, spec_path, warm.home / "zygote.log", group
            )
            if not zygote.start():
                self._failures += 1
                logger.info("no warm pytest for %s: %s", root, zygote.failure)
                return None
            self._zygote, self._key = zygote, key
            # a sandbox dropped without close() does not leave its zygote behind
            weakref.finalize(self, zygote.close)
            return zygote

    async def run(
        self,
        zygote: WarmPytest,
        run: Path,
        args: list[str],
        env: dict[str, str],
        timeout: float,
        limits: Limits,
    ) -> RunOutcome:
        """One run forked from the warm pytest; ZygoteGone when it could not be done there."""
        warm = self._runner.warm
        out = run / "out"
        request = {
            "id": run.name,
            "helper": str(run / "helper"),
            "out": str(out),
            "args": args,
            "env": env,
            "limits": limits.to_jail(True),
            "deadline_s": timeout,
        }
        started = time.monotonic()
        # the warm copy lies under the run's overlay: it must not change meanwhile
        held = await asyncio.to_thread(warm.hold)
        try:
            finished = asyncio.wrap_future(zygote.submit(request))
            timed_out = False
            code: int | None = None
            try:
                code = await asyncio.wait_for(asyncio.shield(finished), timeout + JAIL_GRACE_S)
            except TimeoutError:
                timed_out = True
                zygote.kill(run.name)
                with contextlib.suppress(TimeoutError, ZygoteGone):
                    await asyncio.wait_for(finished, JAIL_GRACE_S)
            except asyncio.CancelledError:
                # killed before re-raising, so nothing of the run outlives the cancellation
                zygote.kill(run.name)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(finished, JAIL_GRACE_S)
                raise
        finally:
            warm.release(held)
        usage = await asyncio.to_thread(read_usage, out)
        stopped = usage.get("stopped")
        if stopped == "deadline" or code == TIMED_OUT:
            timed_out = True
        if stopped not in ("processes", "memory", "disk"):
            stopped = zygote.stopped() or ("cpu" if code == 128 + signal.SIGXCPU else None)
        output = read_output(out / "output.txt")
        duration = time.monotonic() - started
        return RunOutcome(
            None if timed_out else code,
            output,
            duration,
            timed_out,
            stopped,
            float(usage.get("cpu_s", 0.0)),
        )

    def close(self) -> None:
        """Stop the warm pytest, if one runs (it also stops when this process ends)."""
        with self._lock:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None

"""A pytest kept warm inside the sandbox: tactful's side of ``zygote.py``.

Boundary: process management only. Starting the workspace's interpreter and importing pytest
costs more than many selected test runs; a zygote does it once per workspace and environment,
inside a bubblewrap sandbox like a cold run's, and forks one process per run. This class
starts it, sends it run and kill requests, and turns its answers into futures; it runs nothing
itself and never decides a verdict. When the zygote cannot start or dies, callers fall back to
the cold path (``runner.run_command``), so a broken zygote costs speed, never a verdict.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO

from tactful.feedback.execution.cgroup import RunGroup

logger = logging.getLogger(__name__)

ZYGOTE = Path(__file__).with_name("zygote.py")
START_TIMEOUT_S = 60.0


class ZygoteGone(Exception):
    """The zygote exited or could not start; the run must go the cold way."""


class WarmPytest:
    """One zygote process and the runs it has in flight."""

    def __init__(
        self,
        command: list[str],
        spec: dict,
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

    def submit(self, request: dict) -> concurrent.futures.Future[int]:
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

    def _send(self, message: dict) -> None:
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

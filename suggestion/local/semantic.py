"""Member names after a dot in Python, from jedi, without ever making a request wait for it.

Boundary: runs jedi (static analysis only: it reads files, never imports or runs the user's
code) in a worker process of its own (``jedi_worker``): jedi is not thread-safe, and in a
thread of the server its pure-Python inference would hold the interpreter lock for tens of
milliseconds at a time, delaying every other request. A request that finds no answer in the
cache schedules one and goes on without it (after a wait of a few milliseconds at most); the
next keystroke on the same expression finds it. Any jedi failure, or a worker that cannot start,
means "no semantic names", never an error.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future

from tactful.suggestion.types import CompletionRequest

logger = logging.getLogger(__name__)

_CACHE_SIZE = 256
# Longest wait for jedi inside a request when the answer is almost there.
_WAIT = 0.003
# What jedi reads of a long document (``jedi_source``): the lines above the cursor, and at
# most this many lines of the module's head.
JEDI_WINDOW = 1500
JEDI_HEAD = 400
_DEFINITIONS = ("def ", "class ", "async def ", "@")


class MemberNames:
    """Cache of jedi's attribute names by the text before the dot."""

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, str], Future[frozenset[str] | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._failed = False

    @staticmethod
    def applies(line_tokens: list[str], partial: str) -> bool:
        """Whether the cursor is on a member name: right after ``.`` or in a name after it."""
        if partial and not partial.isidentifier():
            return False
        if partial:
            return len(line_tokens) >= 2 and line_tokens[-2] == "."
        return bool(line_tokens) and line_tokens[-1] == "."

    def names(
        self,
        request: CompletionRequest,
        deadline: float | None,
        lines: Sequence[str] | None = None,
    ) -> frozenset[str] | None:
        """Member names jedi knows at the request's dot, or None when not (yet) known
        (``lines``: the document's lines, when the caller has them)."""
        if lines is None:
            lines = request.text.split("\n")
        row = request.position.line
        line = lines[row][: request.position.column]
        dot = line.rfind(".")
        if dot < 0:
            return None
        key = (request.uri, f"{row}:{line[: dot + 1]}")
        with self._lock:
            future = self._cache.get(key)
            if future is None:
                worker = self._start()
                if worker is None:
                    return None
                head, at = jedi_source(lines, row, line[: dot + 1])
                future = worker.ask(head, request.path, request.workspace_root, at + 1, dot + 1)
                self._cache[key] = future
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        if not future.done():
            wait = _WAIT if deadline is None else min(_WAIT, deadline - time.monotonic())
            if wait <= 0:
                return None
            try:
                return future.result(timeout=wait)
            except Exception:
                return None
        return future.result()

    def _start(self) -> _Worker | None:
        if self._worker is not None and self._worker.alive():
            return self._worker
        if self._failed:
            return None
        try:
            self._worker = _Worker()
        except OSError:
            logger.warning("the jedi worker could not start; no semantic names", exc_info=True)
            self._failed = True
            return None
        return self._worker

    def close(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
            self._cache.clear()
        if worker is not None:
            worker.close()


def jedi_source(lines: Sequence[str], row: int, line: str) -> tuple[str, int]:
    """The text jedi is given for a dot on line ``row`` (``line``: that line up to the dot) and
    that line's number in it: the module's head (up to its first top-level definition: the
    imports) and the ``JEDI_WINDOW`` lines above the cursor, so that its parse (and the text
    sent to it) costs the same in a 10,000-line file as in a 1,000-line one. The names a
    member's owner comes from are almost always in one or the other."""
    start = max(0, row - JEDI_WINDOW)
    head: list[str] = []
    if start > 0:
        for text in lines[: min(start, JEDI_HEAD)]:
            if text.startswith(_DEFINITIONS):
                break
            head.append(text)
    kept = [*head, *lines[start:row], line]
    return "\n".join(kept), len(kept) - 1


class _Worker:
    """The worker process, with a thread that writes requests and one that reads answers."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            # ``-P``: the working directory (the project) never shadows a module of ours.
            [sys.executable, "-P", "-m", "tactful.suggestion.local.jedi_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._pending: dict[int, Future[frozenset[str] | None]] = {}
        self._ids = itertools.count()
        self._outbox: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._write, name="tactful-jedi-writer", daemon=True).start()
        threading.Thread(target=self._read, name="tactful-jedi-reader", daemon=True).start()

    def alive(self) -> bool:
        return self._process.poll() is None

    def ask(
        self, text: str, path: str | None, root: str | None, line: int, column: int
    ) -> Future[frozenset[str] | None]:
        future: Future[frozenset[str] | None] = Future()
        number = next(self._ids)
        self._pending[number] = future
        request = {"id": number, "text": text, "path": path, "root": root}
        request.update(line=line, column=column)
        self._outbox.put(json.dumps(request))
        return future

    def _write(self) -> None:
        stream = self._process.stdin
        while stream is not None:
            message = self._outbox.get()
            if message is None:
                break
            try:
                stream.write(message + "\n")
                stream.flush()
            except (OSError, ValueError):
                break
        self._fail_pending()

    def _read(self) -> None:
        stream = self._process.stdout
        if stream is None:
            return
        for raw in stream:
            try:
                answer = json.loads(raw)
            except json.JSONDecodeError:
                continue
            future = self._pending.pop(answer.get("id"), None)
            if future is not None and not future.done():
                names = answer.get("names")
                future.set_result(frozenset(names) if names else None)
        self._fail_pending()

    def _fail_pending(self) -> None:
        for number in list(self._pending):
            future = self._pending.pop(number, None)
            if future is not None and not future.done():
                future.set_result(None)

    def close(self) -> None:
        self._outbox.put(None)
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()


def common_completion(names: frozenset[str], partial: str) -> str | None:
    """What every name starting with ``partial`` continues with, when that is something."""
    matching = [name for name in names if name.startswith(partial) and name != partial]
    if not matching or not partial:
        return None
    first, last = min(matching), max(matching)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[len(partial) : size] or None

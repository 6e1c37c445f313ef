"""Member names after a dot in Python, from jedi, without ever making a request wait for it.

Boundary: runs jedi (static analysis only: it reads files, never imports or runs the user's
code) in one worker thread of its own, as jedi is not thread-safe. A request that finds no
answer in the cache schedules one and goes on without it; the next keystroke on the same
expression finds it. Any jedi failure means "no semantic names", never an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

from tactful.suggestion.types import CompletionRequest

logger = logging.getLogger(__name__)

_CACHE_SIZE = 256
# Longest wait for jedi inside a request when the answer is almost there.
_WAIT = 0.003


class MemberNames:
    """Cache of jedi's attribute names by the text before the dot."""

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, str], Future[frozenset[str] | None]] = OrderedDict()
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @staticmethod
    def applies(line_tokens: list[str], partial: str) -> bool:
        """Whether the cursor is on a member name: right after ``.`` or in a name after it."""
        if partial and not partial.isidentifier():
            return False
        if partial:
            return len(line_tokens) >= 2 and line_tokens[-2] == "."
        return bool(line_tokens) and line_tokens[-1] == "."

    def names(self, request: CompletionRequest, deadline: float | None) -> frozenset[str] | None:
        """Member names jedi knows at the request's dot, or None when not (yet) known."""
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
                head = "\n".join([*lines[:row], line[: dot + 1]])
                future = self._executor().submit(
                    _jedi_names, head, request.path, request.workspace_root, row + 1, dot + 1
                )
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
        try:
            return future.result()
        except Exception:
            return None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tactful-jedi")
        return self._pool


def _jedi_names(
    text: str, path: str | None, root: str | None, line: int, column: int
) -> frozenset[str] | None:
    try:
        import jedi

        project = jedi.Project(root) if root else None
        script = jedi.Script(code=text, path=path, project=project)
        completions = script.complete(line, column)
    except Exception:
        logger.debug("jedi could not complete at %s:%d:%d", path, line, column, exc_info=True)
        return None
    names = frozenset(c.name for c in completions if c.name)
    return names or None

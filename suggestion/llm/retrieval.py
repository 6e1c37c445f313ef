"""Similar snippets from the workspace, to show a model code like the code being written.

Boundary: reads only the files ``tactful.analyzers.secrets.workspace_files`` allows (not ignored
by git, not secret by name) and texts handed to ``observe`` for files that are not secret; it
never sends anything anywhere. Redaction happens where the prompt is built.

Method (as in RepoCoder and the neighbouring-files context of hosted code assistants): files are
cut into sliding windows of lines; a window is the set of its identifier tokens; the lines before
the cursor are the query, and the windows with the highest Jaccard similarity to it are the
snippets. Building the index reads files, so callers run ``search`` off the event loop.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from tactful.analyzers.languages import language_of_path
from tactful.analyzers.secrets import is_secret_path, workspace_files

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Match:
    """A window of a file and its similarity to the query."""

    path: str
    start_line: int
    text: str
    score: float


@dataclass(slots=True)
class _File:
    lines: list[str]
    windows: list[tuple[int, frozenset[str]]]


def tokens(text: str) -> frozenset[str]:
    """The identifier tokens of a text, as a set."""
    return frozenset(_TOKEN.findall(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


class SnippetIndex:
    """Windows of the workspace's files of one language family, built on first search.

    ``observe`` replaces a file's text (an open buffer is newer than the disk); it only records
    the text, and the windows are recut at the next search.
    """

    def __init__(
        self,
        root: str | Path | None,
        *,
        window_lines: int = 12,
        stride: int = 6,
        max_files: int = 3000,
        max_file_bytes: int = 300_000,
        max_windows: int = 60_000,
    ) -> None:
        self.root = Path(root).resolve() if root else None
        self.window_lines = window_lines
        self.stride = stride
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.max_windows = max_windows
        self._files: dict[str, _File] = {}
        # key -> (the path as the editor named it, its text)
        self._pending: dict[str, tuple[str, str]] = {}
        self._built = False
        self._lock = threading.Lock()

    def observe(self, path: str | None, text: str) -> None:
        """Record a buffer's text; whether it may be used is decided when it is indexed."""
        if path is None or len(text) > self.max_file_bytes:
            return
        self._pending[self._key(path)] = (path, text)

    def set_root(self, root: str | Path | None) -> None:
        """The workspace root, when it was not known at construction (the first request says)."""
        if self.root is None and root:
            self.root = Path(root).resolve()

    def search(
        self,
        query: str,
        *,
        path: str | None,
        cursor_line: int,
        limit: int = 2,
        min_score: float = 0.15,
    ) -> list[Match] | None:
        """The best windows for ``query``, one per file at most, not the cursor's own region.

        None while the index is being read in the background: a request does not wait for it.
        """
        wanted = tokens(query)
        if len(wanted) < 3:
            return []
        if not self._lock.acquire(blocking=False):
            return None
        try:
            self._ensure_built()
            self._apply_pending()
            current = self._key(path) if path else None
            family = _family(path)
            best: dict[str, tuple[float, int]] = {}
            for key, entry in self._files.items():
                if family and _family(key) != family:
                    continue
                for start, window in entry.windows:
                    if (
                        key == current
                        and start + self.window_lines > cursor_line - 2 * self.window_lines
                    ):
                        # The lines around the cursor are in the prompt already.
                        continue
                    score = jaccard(wanted, window)
                    if score >= min_score and score > best.get(key, (0.0, 0))[0]:
                        best[key] = (score, start)
            ranked = sorted(best.items(), key=lambda item: -item[1][0])[:limit]
            matches = []
            for key, (score, start) in ranked:
                lines = self._files[key].lines[start : start + self.window_lines]
                matches.append(
                    Match(self._display(key), start, "\n".join(lines).strip("\n"), score)
                )
            return matches
        finally:
            self._lock.release()

    def _key(self, path: str) -> str:
        return str(Path(path).resolve(strict=False))

    def _display(self, key: str) -> str:
        if self.root is not None:
            try:
                return Path(key).relative_to(self.root).as_posix()
            except ValueError:
                pass
        return Path(key).name

    def build(self) -> None:
        """Read the workspace's files now (otherwise the first search does); blocking."""
        with self._lock:
            self._ensure_built()

    def _ensure_built(self) -> None:
        if self._built:
            return
        self._built = True
        if self.root is None:
            return
        total = 0
        for path in workspace_files(self.root)[: self.max_files * 4]:
            if len(self._files) >= self.max_files or total >= self.max_windows:
                break
            if language_of_path(path) is None:
                continue
            try:
                if path.stat().st_size > self.max_file_bytes:
                    continue
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            entry = self._cut(text)
            self._files[str(path)] = entry
            total += len(entry.windows)
        logger.debug("snippet index: %d files, %d windows", len(self._files), total)

    def _apply_pending(self) -> None:
        while self._pending:
            key, (named, text) = self._pending.popitem()
            # Judged by the name the editor used: the key is where links lead, and a link from
            # the workspace to elsewhere must read as what it is.
            if is_secret_path(self.root, named) or is_secret_path(self.root, key):
                self._files.pop(key, None)
            else:
                self._files[key] = self._cut(text)

    def _cut(self, text: str) -> _File:
        lines = text.split("\n")
        windows = []
        for start in range(0, max(1, len(lines) - self.window_lines + self.stride), self.stride):
            chunk = tokens("\n".join(lines[start : start + self.window_lines]))
            if len(chunk) >= 3:
                windows.append((start, chunk))
        return _File(lines, windows)


def _family(path: str | None) -> str | None:
    if not path:
        return None
    language = language_of_path(path)
    if language in ("javascript", "javascriptreact", "typescript", "typescriptreact"):
        return "js"
    return language

"""The documents next edits may land in: the one being edited, the other open ones, and the
workspace's files, each with its text and (parsed on demand) tree.

Boundary: reads files through the callables it is given and the repository index's file list;
never writes. Other files are searched by text first (a word must occur in them), and only the
files that pass are parsed, at most ``max_parsed`` per request, most recently opened first: the
cost of a request follows what it finds, not the size of the workspace.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Tree

from tactful.analyzers.index import read_source, source_files
from tactful.analyzers.languages import language_of_path
from tactful.suggestion.next_edits.trees import Source, parse


@dataclass(slots=True)
class Target:
    """A document next edits may change: its uri, workspace-relative path, text and tree."""

    uri: str
    path: str | None
    language_id: str
    source: Source
    _tree: Tree | None = None
    _parsed: bool = False
    _cache: ParseCache | None = field(default=None, repr=False)

    @property
    def tree(self) -> Tree | None:
        if not self._parsed:
            self._parsed = True
            if self._cache is not None:
                self._tree = self._cache.tree(self.source, self.language_id)
            else:
                self._tree = parse(self.source, self.language_id)
        return self._tree


class ParseCache:
    """Trees of unopened files by their content, so a file is parsed once while it stays the
    same (a few tens of files at most)."""

    def __init__(self, size: int = 48) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._trees: OrderedDict[str, Tree | None] = OrderedDict()

    def tree(self, source: Source, language_id: str) -> Tree | None:
        digest = hashlib.blake2b(source.data, digest_size=16).hexdigest() + language_id
        with self._lock:
            if digest in self._trees:
                self._trees.move_to_end(digest)
                return self._trees[digest]
        tree = parse(source, language_id)
        with self._lock:
            self._trees[digest] = tree
            while len(self._trees) > self._size:
                self._trees.popitem(last=False)
        return tree


FileLister = Callable[[], Iterable[tuple[str, str]]]


class WorkspaceFiles:
    """The workspace's source files as (relative path, text) pairs.

    Either from a folder (the repository index's file list, ``git ls-files`` where there is a
    repository, each file read when first searched and re-read when it changes on disk) or from
    a callable that lists the pairs (tests, benchmarks, an editor's own view).
    """

    def __init__(self, root: str | Path | None = None, files: FileLister | None = None) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self._files = files
        self._lock = threading.Lock()
        self._paths: list[str] | None = None
        self._texts: dict[str, tuple[int, int, str | None]] = {}
        self._sources: dict[str, Source] = {}
        self.parses = ParseCache()

    def source(self, path: str, text: str) -> Source:
        """The ``Source`` of a file's text, kept while the text stays the same."""
        with self._lock:
            known = self._sources.get(path)
            if known is not None and (known.text is text or known.text == text):
                return known
            source = self._sources[path] = Source(text)
            return source

    def refresh(self) -> None:
        """Forget the file list (files were added or removed)."""
        with self._lock:
            self._paths = None

    def items(self) -> Iterator[tuple[str, str]]:
        if self._files is not None:
            yield from self._files()
            return
        if self.root is None:
            return
        with self._lock:
            if self._paths is None:
                self._paths = [p for p in source_files(self.root) if language_of_path(p)]
            paths = list(self._paths)
        for relative in paths:
            text = self._read(relative)
            if text is not None:
                yield relative, text

    def uri(self, path: str) -> str:
        if self.root is not None:
            return (self.root / path).as_uri()
        return Path(path).resolve().as_uri() if Path(path).is_absolute() else "file:///" + path

    def _read(self, relative: str) -> str | None:
        assert self.root is not None
        target = self.root / relative
        try:
            stat = target.stat()
        except OSError:
            return None
        known = self._texts.get(relative)
        if known is not None and known[0] == stat.st_mtime_ns and known[1] == stat.st_size:
            return known[2]
        text = read_source(target)
        self._texts[relative] = (stat.st_mtime_ns, stat.st_size, text)
        return text

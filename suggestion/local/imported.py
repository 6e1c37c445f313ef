"""The token statistics of the workspace modules a document imports: the code it is about to use.

Boundary: reads the repository index (its files' tokens), never the disk; pure computation
otherwise. Called from the engine's own worker thread, like the rest of the engine.

A new file says little of itself, and the workspace's statistics as a whole mix everything the
project does. What a file imports from the workspace is what it is about to call, subclass and
test, with the names, arguments and idioms of those modules: ``from boltons.cacheutils import
LRU, LRI`` and then ``cache = LRU(max_size=3)``. Their counts are built once per set of modules
(and again when one of them changes), a few tens of milliseconds for a large module; a document
importing nothing from the workspace costs a scan of its import lines.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from tactful.analyzers.imports import imported_modules, module_paths
from tactful.analyzers.index import RepositoryIndex
from tactful.analyzers.ngrams import NgramCounts

# Sets of modules whose counts are kept (most recently used), and whose files were looked up.
KEPT = 8
LOOKUPS = 64
# The most tokens counted for one document's imports: a file importing half of a large project
# gets the first modules it names, so that building the counts stays within a request's time.
MAX_TOKENS = 120_000


class ImportedModules:
    """Counts of the workspace files that documents import, kept for the sets asked lately."""

    def __init__(self, order: int) -> None:
        self.order = order
        self._paths: OrderedDict[tuple[str, tuple[str, ...], int], list[str]] = OrderedDict()
        self._counts: OrderedDict[tuple[tuple[str, str], ...], NgramCounts] = OrderedDict()

    def counts(
        self, index: RepositoryIndex, relative: str, lines: Sequence[str]
    ) -> NgramCounts | None:
        """The statistics of the workspace modules that ``lines`` (the document ``relative``,
        a path in the workspace) import; None when it imports none of them."""
        modules = imported_modules(lines)
        if not modules:
            return None
        paths = self._lookup(index, relative, modules)
        if not paths:
            return None
        files: list[tuple[str, str]] = []
        tokens: list[list[str]] = []
        total = 0
        for path in paths:
            found = index.tokens(path)
            if found is None or total + len(found[1]) > MAX_TOKENS:
                continue
            files.append((path, found[0]))
            tokens.append(found[1])
            total += len(found[1])
        if not files:
            return None
        key = tuple(files)
        counts = self._counts.get(key)
        if counts is None:
            counts = NgramCounts(self.order)
            for stream in tokens:
                counts.add(stream)
            self._counts[key] = counts
            while len(self._counts) > KEPT:
                self._counts.popitem(last=False)
        self._counts.move_to_end(key)
        return counts

    def _lookup(self, index: RepositoryIndex, relative: str, modules: tuple[str, ...]) -> list[str]:
        key = (relative, modules, index.file_count)
        paths = self._paths.get(key)
        if paths is None:
            paths = module_paths(modules, relative, index.paths())
            self._paths[key] = paths
            while len(self._paths) > LOOKUPS:
                self._paths.popitem(last=False)
        return paths

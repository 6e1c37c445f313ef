"""The token statistics of the workspace modules a document imports: the code it is about to use.

Boundary: reads the repository index (its files' tokens), never the disk; pure computation
otherwise. Called from the engine's own worker thread, like the rest of the engine, so it needs
no lock of its own.

A new file says little of itself, and the workspace's statistics as a whole mix everything the
project does. What a file imports from the workspace is what it is about to call, subclass and
test, with the names, arguments and idioms of those modules: ``from boltons.cacheutils import
LRU, LRI`` and then ``cache = LRU(max_size=3)``. Their counts are built once per set of modules
(and again when one of them changes).

Building them takes long for a request (120,000 tokens, the most counted for one document, take
about 170 ms), so a request never does: ``counts`` answers with the counts of the set of modules
the document imports when they are built, and otherwise with those the document was answered
with before (the set before an import was added, or before an imported file changed), or none,
and notes what it wants. ``count_slice`` builds the wanted counts ``SLICE_TOKENS`` tokens at a
time, each slice a job of the engine's worker queued between requests (the server runs them
after a document opens, after files change and after a request that wanted counts). Counts that
no document wants any more by the time a slice comes are dropped unfinished. A document
importing nothing from the workspace costs a scan of its import lines.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from tactful.analyzers.imports import imported_modules, module_paths
from tactful.analyzers.index import RepositoryIndex
from tactful.analyzers.ngrams import NgramCounts

# Sets of modules whose counts are kept (most recently used), files looked up, and documents
# whose imports are remembered (the counts they used, the modules they import).
KEPT = 8
LOOKUPS = 64
DOCUMENTS = 32
# The most tokens counted for one document's imports: a file importing half of a large project
# gets the first modules it names, so that the counts stay a few tens of MB.
MAX_TOKENS = 120_000
# Tokens counted per slice: about 3 ms of work, the longest a request waits behind one.
SLICE_TOKENS = 2048

K = TypeVar("K")
V = TypeVar("V")

# Which files' tokens a set of counts is made of: (path, digest) each, in the order counted.
Key = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Building:
    """Counts being built a slice at a time: the files' tokens, and how far they are counted."""

    key: Key
    streams: list[list[str]]
    counts: NgramCounts
    stream: int = 0
    position: int = 0

    def count(self, size: int) -> bool:
        """Count the next ``size`` tokens; True once every file is counted."""
        left = size
        while left > 0 and self.stream < len(self.streams):
            tokens = self.streams[self.stream]
            end = min(len(tokens), self.position + left)
            self.counts.add(tokens, self.position, end)
            left -= end - self.position
            if end >= len(tokens):
                self.stream, self.position = self.stream + 1, 0
            else:
                self.position = end
        return self.stream >= len(self.streams)


class ImportedModules:
    """Counts of the workspace files that documents import, kept for the sets asked lately,
    built in the background (``count_slice``) when a document wants a set not built yet."""

    def __init__(self, order: int) -> None:
        self.order = order
        self._paths: OrderedDict[tuple[str, tuple[str, ...], int], list[str]] = OrderedDict()
        self._counts: OrderedDict[Key, NgramCounts] = OrderedDict()
        # Per open document (its uri): its path in the workspace and the modules it imported
        # when last asked, the counts it was last answered with, and the counts it wants built
        # (with their files' tokens).
        self._modules: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        self._used: OrderedDict[str, NgramCounts] = OrderedDict()
        self._wanted: OrderedDict[str, tuple[Key, list[list[str]]]] = OrderedDict()
        self._building: _Building | None = None

    @property
    def wanted(self) -> bool:
        """Whether some document wants counts not built yet (``count_slice`` has work)."""
        return bool(self._wanted)

    def counts(
        self, index: RepositoryIndex, document: str, relative: str, lines: Sequence[str]
    ) -> NgramCounts | None:
        """The statistics of the workspace modules that ``lines`` (the document ``document``,
        at ``relative`` in the workspace) import, when they are built; until then those the
        document was last answered with (None: none, or it imports none of the workspace's
        modules)."""
        modules = imported_modules(lines)
        _remember(self._modules, document, (relative, modules), DOCUMENTS)
        return self._answer(index, document, relative, modules)

    def files_changed(self, index: RepositoryIndex) -> None:
        """Files of the index changed: the documents asked about lately want the counts of what
        they import as it is now (built again for those whose imported files changed)."""
        for document, (relative, modules) in list(self._modules.items()):
            self._answer(index, document, relative, modules)

    def forget(self, document: str) -> None:
        """The document closed: it wants nothing any more."""
        for kept in (self._modules, self._used, self._wanted):
            kept.pop(document, None)

    def count_slice(self, size: int = SLICE_TOKENS) -> bool:
        """Build ``size`` more tokens of the counts wanted most recently; True while counts are
        still wanted (the caller runs another slice)."""
        building = self._building
        if building is None or all(key != building.key for key, _ in self._wanted.values()):
            # Nothing begun, or what was begun is no longer wanted: the latest wish instead.
            if not self._wanted:
                self._building = None
                return False
            key, streams = next(reversed(self._wanted.values()))
            building = self._building = _Building(key, streams, NgramCounts(self.order))
        if building.count(size):
            self._building = None
            _remember(self._counts, building.key, building.counts, KEPT)
            for document, (key, _streams) in list(self._wanted.items()):
                if key == building.key:
                    del self._wanted[document]
                    _remember(self._used, document, building.counts, DOCUMENTS)
        return bool(self._wanted)

    def _answer(
        self, index: RepositoryIndex, document: str, relative: str, modules: tuple[str, ...]
    ) -> NgramCounts | None:
        files = self._files(index, relative, modules) if modules else None
        if files is None:
            self._wanted.pop(document, None)
            self._used.pop(document, None)
            return None
        key, streams = files
        counts = self._counts.get(key)
        if counts is None:
            _remember(self._wanted, document, (key, streams), DOCUMENTS)
            return self._used.get(document)
        self._counts.move_to_end(key)
        self._wanted.pop(document, None)
        _remember(self._used, document, counts, DOCUMENTS)
        return counts

    def _files(
        self, index: RepositoryIndex, relative: str, modules: tuple[str, ...]
    ) -> tuple[Key, list[list[str]]] | None:
        """The indexed files ``modules`` name (up to ``MAX_TOKENS`` tokens) and their tokens."""
        paths = self._lookup(index, relative, modules)
        files: list[tuple[str, str]] = []
        streams: list[list[str]] = []
        total = 0
        for path in paths:
            found = index.tokens(path)
            if found is None or total + len(found[1]) > MAX_TOKENS:
                continue
            files.append((path, found[0]))
            streams.append(found[1])
            total += len(found[1])
        return (tuple(files), streams) if files else None

    def _lookup(self, index: RepositoryIndex, relative: str, modules: tuple[str, ...]) -> list[str]:
        key = (relative, modules, index.file_count)
        paths = self._paths.get(key)
        if paths is None:
            paths = module_paths(modules, relative, index.paths())
            self._paths[key] = paths
            while len(self._paths) > LOOKUPS:
                self._paths.popitem(last=False)
        return paths


def _remember(kept: OrderedDict[K, V], key: K, value: V, most: int) -> None:
    """Keep ``value`` under ``key`` as the most recent of at most ``most``."""
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > most:
        kept.popitem(last=False)

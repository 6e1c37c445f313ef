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
no document wants any more by the time a slice comes are dropped unfinished. Counts kept for
another set of files that no other document is answered with are changed into the wanted ones
when that takes fewer tokens than counting them from nothing: an import added, an imported file
changed, the next file of a package opened. A document importing nothing from the workspace
costs a scan of its import lines.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
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
# Tokens counted per slice: about 3 ms of work on an idle machine. A slice stops early, after a
# step of ``STEP_TOKENS`` (a fraction of a millisecond), when told to (a request is waiting).
SLICE_TOKENS = 2048
STEP_TOKENS = 256

K = TypeVar("K")
V = TypeVar("V")

# Which files' tokens a set of counts is made of: (path, digest) each, in the order counted.
Key = tuple[tuple[str, str], ...]


# One step of building counts: the tokens at ``start:end`` of a file's ``tokens``, added to the
# counts (``sign`` 1) or taken out of them (-1).
Step = tuple[list[str], int, int, int]


@dataclass(slots=True)
class _Kept:
    """Counts built, with the tokens of the files they count (to tell what another set adds)."""

    counts: NgramCounts
    streams: list[list[str]]


@dataclass(slots=True)
class _Building:
    """Counts being built a slice at a time (from nothing, or from counts of another set of
    files that are changed into these): the steps left, and how far the current one is."""

    key: Key
    streams: list[list[str]]
    counts: NgramCounts
    steps: list[Step]
    step: int = 0
    position: int = 0

    def count(self, size: int, stop_early: Callable[[], bool] | None = None) -> bool:
        """Take the next ``size`` tokens of the steps, ``STEP_TOKENS`` at a time, fewer when
        ``stop_early`` (asked between two of those) says so; True once all are taken."""
        counted = 0
        while counted < size and self.step < len(self.steps):
            if counted and stop_early is not None and stop_early():
                break
            counted += self._take(min(STEP_TOKENS, size - counted))
        return self.step >= len(self.steps)

    def _take(self, size: int) -> int:
        """Take the next ``size`` tokens of the steps (fewer at the end); how many were."""
        left = size
        while left > 0 and self.step < len(self.steps):
            tokens, start, end, sign = self.steps[self.step]
            begin = max(start, self.position)
            stop = min(end, begin + left)
            if sign > 0:
                self.counts.add(tokens, begin, stop)
            else:
                self.counts.remove(tokens, begin, stop)
            left -= stop - begin
            if stop >= end:
                self.step, self.position = self.step + 1, 0
            else:
                self.position = stop
        return size - left


class ImportedModules:
    """Counts of the workspace files that documents import, kept for the sets asked lately,
    built in the background (``count_slice``) when a document wants a set not built yet."""

    def __init__(self, order: int) -> None:
        self.order = order
        self._paths: OrderedDict[tuple[str, tuple[str, ...], int], list[str]] = OrderedDict()
        self._counts: OrderedDict[Key, _Kept] = OrderedDict()
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

    def count_slice(
        self, size: int = SLICE_TOKENS, stop_early: Callable[[], bool] | None = None
    ) -> bool:
        """Build ``size`` more tokens of the counts wanted most recently (fewer when
        ``stop_early``, asked every ``STEP_TOKENS``, says so: a request is waiting); True while
        counts are still wanted (the caller runs another slice)."""
        building = self._building
        if building is None or all(key != building.key for key, _ in self._wanted.values()):
            # Nothing begun, or what was begun is no longer wanted: the latest wish instead.
            if not self._wanted:
                self._building = None
                return False
            key, streams = next(reversed(self._wanted.values()))
            building = self._building = self._begin(key, streams)
        if building.count(size, stop_early):
            self._building = None
            _remember(self._counts, building.key, _Kept(building.counts, building.streams), KEPT)
            for document, (key, _streams) in list(self._wanted.items()):
                if key == building.key:
                    del self._wanted[document]
                    _remember(self._used, document, building.counts, DOCUMENTS)
        return bool(self._wanted)

    def _begin(self, key: Key, streams: list[list[str]]) -> _Building:
        """Counts of ``key`` to build: from the kept counts of another set of files that it
        takes the fewest tokens to change into these (the set before an import was added or
        an imported file changed, or another document's, most files shared), when that is
        fewer than counting these from nothing. Counts another document is answered with are
        never changed (only those of documents that want ``key``)."""
        wanting = {document for document, (wanted, _s) in self._wanted.items() if wanted == key}
        in_use = [counts for document, counts in self._used.items() if document not in wanting]
        best: tuple[int, Key, list[Step]] | None = None
        least = sum(len(tokens) for tokens in streams)
        for other, kept in self._counts.items():
            if any(counts is kept.counts for counts in in_use):
                continue
            steps = _changes(other, kept.streams, key, streams)
            cost = sum(end - start for _t, start, end, _s in steps)
            if cost < least:
                best, least = (cost, other, steps), cost
        if best is None:
            fresh = [(tokens, 0, len(tokens), 1) for tokens in streams]
            return _Building(key, streams, NgramCounts(self.order), fresh)
        _cost, other, steps = best
        # Changed in place: no longer the counts of ``other`` (a request of a document that
        # wants ``key`` meanwhile sees them partly changed, as the index's readers do).
        base = self._counts.pop(other)
        return _Building(key, streams, base.counts, steps)

    def _answer(
        self, index: RepositoryIndex, document: str, relative: str, modules: tuple[str, ...]
    ) -> NgramCounts | None:
        files = self._files(index, relative, modules) if modules else None
        if files is None:
            self._wanted.pop(document, None)
            self._used.pop(document, None)
            return None
        key, streams = files
        kept = self._counts.get(key)
        if kept is None:
            _remember(self._wanted, document, (key, streams), DOCUMENTS)
            return self._used.get(document)
        counts = kept.counts
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


def _changes(
    old: Key, old_streams: list[list[str]], new: Key, new_streams: list[list[str]]
) -> list[Step]:
    """The steps that turn the counts of the files ``old`` into those of ``new``: the files
    only ``old`` has (or had at another digest) taken out, then those only ``new`` has put in."""
    before = dict(zip(old, old_streams, strict=True))
    after = dict(zip(new, new_streams, strict=True))
    steps: list[Step] = [
        (tokens, 0, len(tokens), -1) for file, tokens in before.items() if file not in after
    ]
    steps.extend(
        (tokens, 0, len(tokens), 1) for file, tokens in after.items() if file not in before
    )
    return steps


def _remember(kept: OrderedDict[K, V], key: K, value: V, most: int) -> None:
    """Keep ``value`` under ``key`` as the most recent of at most ``most``."""
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > most:
        kept.popitem(last=False)

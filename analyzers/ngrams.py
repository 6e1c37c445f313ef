"""Token n-gram counts that can be added to and taken from, for a file, a buffer or a repository.

Boundary: counting only; no I/O, no text (tokens come from ``tactful.analyzers.tokens``). Not
thread-safe by itself: the owner serialises writers and readers (the repository index swaps in a
freshly built object, or takes its lock for small updates).

Layout: ``tables[k]`` maps a context (the tuple of the ``k`` tokens before a position) to a dict
of the tokens seen after it and their counts; the key ``None`` of that dict holds their total, so
the number of distinct followers is ``len(dict) - 1`` without a scan. Contexts of up to ``order``
tokens are kept.
"""

from __future__ import annotations

import sys
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import cydifflib

_TOTAL = None


class NgramCounts:
    """Counts of every token after each of its contexts of length 0..``order``."""

    __slots__ = ("_pending", "_vocabulary", "order", "tables", "tokens_counted")

    def __init__(self, order: int = 5) -> None:
        self.order = order
        self.tables: list[dict[tuple[str, ...], dict[str | None, int]]] = [
            {} for _ in range(order + 1)
        ]
        self.tables[0][()] = {_TOTAL: 0}
        self.tokens_counted = 0
        self._vocabulary: list[str] = []
        self._pending: list[str] = []

    @classmethod
    def from_rows(cls, order: int, rows: Iterable[Sequence[Any]]) -> NgramCounts:
        """Counts from rows of ``[context length, context tokens, {follower: count}, total]``
        (a pruned table keeps each context's total as it was counted), read one at a time."""
        counts = cls(order)
        for k, context, followers, total in rows:
            if not 0 <= k <= order:
                continue
            key = tuple(sys.intern(token) for token in context)
            entry: dict[str | None, int] = {
                sys.intern(token): int(n) for token, n in followers.items()
            }
            entry[_TOTAL] = int(total)
            counts.tables[k][key] = entry
        unigrams = counts.tables[0].get(())
        if unigrams is not None and _TOTAL in unigrams:
            counts.tokens_counted = unigrams[_TOTAL] or 0
            counts._pending.extend(token for token in unigrams if token is not None)
        else:
            counts.tables[0][()] = {_TOTAL: 0}
        return counts

    def add(self, tokens: Sequence[str], start: int = 0, end: int | None = None) -> None:
        """Count the tokens at positions ``start:end`` of ``tokens`` after their contexts."""
        end = len(tokens) if end is None else min(end, len(tokens))
        start = max(0, start)
        if end - start < 64:
            self._count(tokens, start, end, 1)
            return
        # Many tokens at once (a file read whole): context by context length, the tuples
        # made by zip rather than a slice per token and length.
        tables = self.tables
        unigrams = tables[0][()]
        pending = self._pending
        for token in tokens[start:end]:
            before = unigrams.get(token, 0)
            unigrams[token] = before + 1
            if before == 0:
                pending.append(token)
        unigrams[_TOTAL] += end - start
        for table, pairs in self._contexts(tokens, start, end):
            for context, token in pairs:
                followers = table.get(context)
                if followers is None:
                    table[context] = {_TOTAL: 1, token: 1}
                else:
                    followers[token] = followers.get(token, 0) + 1
                    followers[_TOTAL] += 1
        self.tokens_counted += end - start

    def remove(self, tokens: Sequence[str], start: int = 0, end: int | None = None) -> None:
        """Undo ``add`` of the same tokens and positions."""
        end = len(tokens) if end is None else min(end, len(tokens))
        start = max(0, start)
        if end - start < 64:
            self._count(tokens, start, end, -1)
            return
        # Many tokens at once (a file set apart or changed on disk): as ``add`` does, context
        # length by context length with the tuples made by zip, about twice as fast as a
        # position at a time. The counts end as ``_count`` would leave them.
        tables = self.tables
        unigrams = tables[0][()]
        for token in tokens[start:end]:
            before = unigrams.get(token, 0)
            if before <= 1:
                unigrams.pop(token, None)
            else:
                unigrams[token] = before - 1
        unigrams[_TOTAL] -= end - start
        for table, pairs in self._contexts(tokens, start, end):
            for context, token in pairs:
                followers = table.get(context)
                if followers is None:
                    continue
                count = followers.get(token, 0) - 1
                if count <= 0:
                    followers.pop(token, None)
                else:
                    followers[token] = count
                total = followers[_TOTAL] - 1
                if total <= 0:
                    del table[context]
                else:
                    followers[_TOTAL] = total
        self.tokens_counted -= end - start

    def _contexts(
        self, tokens: Sequence[str], start: int, end: int
    ) -> Iterator[
        tuple[dict[tuple[str, ...], dict[str | None, int]], Iterator[tuple[tuple[str, ...], str]]]
    ]:
        """For each context length, its table and the (context, token) pairs of the positions
        ``start`` to ``end`` (the tuples made by zip rather than a slice per token)."""
        for k in range(1, self.order + 1):
            first = max(start, k)
            if first >= end:
                continue
            contexts = zip(*(tokens[first - k + i : end - k + i] for i in range(k)), strict=True)
            yield self.tables[k], zip(contexts, tokens[first:end], strict=True)

    def _count(self, tokens: Sequence[str], start: int, end: int, sign: int) -> None:
        tables = self.tables
        order = self.order
        unigrams = tables[0][()]
        for position in range(max(0, start), min(end, len(tokens))):
            token = tokens[position]
            before = unigrams.get(token, 0)
            if before + sign <= 0:
                unigrams.pop(token, None)
            else:
                unigrams[token] = before + sign
                if before == 0:
                    self._pending.append(token)
                    if len(self._pending) > max(4096, len(self._vocabulary)):
                        # Tokens come back each time a line is counted again: without a
                        # completion asked for, nothing else would ever take them in.
                        self._sort_pending()
            unigrams[_TOTAL] += sign
            for k in range(1, min(order, position) + 1):
                context = tuple(tokens[position - k : position])
                table = tables[k]
                followers = table.get(context)
                if followers is None:
                    if sign < 0:
                        continue
                    followers = table[context] = {_TOTAL: 0}
                count = followers.get(token, 0) + sign
                if count <= 0:
                    followers.pop(token, None)
                else:
                    followers[token] = count
                followers[_TOTAL] += sign
                if followers[_TOTAL] <= 0:
                    del table[context]
        self.tokens_counted += sign * max(0, min(end, len(tokens)) - max(0, start))

    def followers(self, context: tuple[str, ...]) -> dict[str | None, int] | None:
        """Tokens seen after ``context`` (any length up to ``order``) with counts; key None is the
        total."""
        if len(context) > self.order:
            return None
        return self.tables[len(context)].get(context)

    def count(self, token: str) -> int:
        return self.tables[0][()].get(token, 0)

    def with_prefix(self, prefix: str, limit: int = 200) -> list[tuple[str, int]]:
        """Tokens that start with ``prefix`` and their counts (at most ``limit`` of them)."""
        self._sort_pending()
        vocabulary = self._vocabulary
        unigrams = self.tables[0][()]
        index = bisect_left(vocabulary, prefix)
        found: list[tuple[str, int]] = []
        while index < len(vocabulary) and len(found) < limit:
            token = vocabulary[index]
            if not token.startswith(prefix):
                break
            count = unigrams.get(token, 0)
            if count:
                found.append((token, count))
            index += 1
        return found

    def _sort_pending(self) -> None:
        pending = self._pending
        if not pending:
            return
        vocabulary = self._vocabulary
        unigrams = self.tables[0][()]
        if len(pending) > 64 or len(vocabulary) > 2 * len(unigrams) + 64:
            # Rebuilt without the tokens no longer counted (words typed and deleted again),
            # so that the vocabulary stays the size of what is counted over a long session.
            merged = set(vocabulary)
            merged.update(pending)
            self._vocabulary = sorted(token for token in merged if token in unigrams)
        else:
            for token in pending:
                index = bisect_left(vocabulary, token)
                if index == len(vocabulary) or vocabulary[index] != token:
                    insort(vocabulary, token)
        pending.clear()


def changed_stretches(
    old: Sequence[str], new: Sequence[str], order: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The stretches of positions of ``old`` and of ``new`` whose n-grams (contexts of up to
    ``order`` tokens) differ: removing the first's counts and adding the second's turns the
    counts of ``old`` into those of ``new``, as taking all of ``old`` out and putting all of
    ``new`` in would.

    The two are matched line by line (a line: the tokens from one line break to the next), so
    that a file changed in a few places costs those places, not the file. A position of a run
    of lines both have in common keeps its n-grams when it is at least ``order`` tokens into
    the run (all its contexts lie in the run), or when the run starts both sequences.
    """
    old_starts, old_lines = _lines(old)
    new_starts, new_lines = _lines(new)
    # The lines both start and end with, then the matcher on the rest (difflib's algorithm,
    # compiled; popular lines are not used to start a match, which bounds its cost).
    head = 0
    limit = min(len(old_lines), len(new_lines))
    while head < limit and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while tail < limit - head and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    runs = [(0, 0, head)] if head else []
    old_middle = old_lines[head : len(old_lines) - tail]
    new_middle = new_lines[head : len(new_lines) - tail]
    if old_middle and new_middle:
        matcher = cydifflib.SequenceMatcher(None, old_middle, new_middle, autojunk=True)
        runs.extend((head + i, head + j, n) for i, j, n in matcher.get_matching_blocks() if n)
    if tail:
        runs.append((len(old_lines) - tail, len(new_lines) - tail, tail))
    old_kept: list[tuple[int, int]] = []
    new_kept: list[tuple[int, int]] = []
    for i, j, n in runs:
        old_start, new_start = old_starts[i], new_starts[j]
        length = _end(old_starts, len(old), i + n) - old_start
        skip = 0 if old_start == new_start == 0 else order
        if length > skip:
            old_kept.append((old_start + skip, old_start + length))
            new_kept.append((new_start + skip, new_start + length))
    return _complement(old_kept, len(old)), _complement(new_kept, len(new))


def _lines(tokens: Sequence[str]) -> tuple[list[int], list[tuple[str, ...]]]:
    """Where each line of a token stream starts, and its tokens (a line break starts one)."""
    starts = [0, *(i for i in range(1, len(tokens)) if tokens[i][:1] == "\n")]
    ends = [*starts[1:], len(tokens)]
    return starts, [tuple(tokens[a:b]) for a, b in zip(starts, ends, strict=True)]


def _end(starts: list[int], size: int, line: int) -> int:
    return starts[line] if line < len(starts) else size


def _complement(kept: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """The stretches of ``range(size)`` outside ``kept`` (in order, not overlapping)."""
    stretches = []
    at = 0
    for start, end in kept:
        if start > at:
            stretches.append((at, start))
        at = max(at, end)
    if at < size:
        stretches.append((at, size))
    return stretches

"""What every proposer shares: where to look (the current document, then the others) and how a
found place becomes a ``NextEdit``.

Boundary: plain Python over ``Target``s and tree-sitter nodes; no protocol, no I/O of its own
(other documents come from the ``Elsewhere`` it is given). A ``Budget`` bounds how many other
files a request parses and until when it may search.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tactful.analyzers.text import Span
from tactful.suggestion.next_edits.targets import Target
from tactful.suggestion.next_edits.trees import Source
from tactful.suggestion.next_edits.types import Feature, NextEdit


@dataclass(slots=True)
class Budget:
    """How much searching a request may still do, in CPU time of the thread that proposes:
    on a busy machine a request waits longer for the CPU, but searches as far as on an idle one,
    so what it finds does not depend on what else runs."""

    deadline: float  # time.thread_time() after which no other file is opened
    max_parsed: int = 12
    parsed: int = 0

    @classmethod
    def for_seconds(cls, seconds: float, max_parsed: int = 12) -> Budget:
        return cls(time.thread_time() + seconds, max_parsed)

    @property
    def spent(self) -> bool:
        return time.thread_time() >= self.deadline

    @property
    def over(self) -> bool:
        return self.spent or self.parsed >= self.max_parsed


@dataclass(slots=True)
class Elsewhere:
    """The documents other than the current one: open ones first, then the workspace's files.

    ``containing(word)`` yields those whose text has ``word`` in it, parsing them only as they
    are taken, within the budget.
    """

    targets: Callable[[], Iterator[Target]]
    budget: Budget
    _seen: dict[str, bool] = field(default_factory=dict)

    def containing(self, word: str) -> Iterator[Target]:
        encoded = word.encode()
        for target in self.targets():
            if self.budget.spent:
                return
            if encoded not in target.source.data:
                continue
            if not target._parsed:
                if self.budget.over:
                    return
                self.budget.parsed += 1
            if target.tree is not None:
                yield target


def next_edit(
    target: Target,
    start_byte: int,
    end_byte: int,
    new_text: str,
    *,
    label: str,
    source: str,
    score: float,
    evidence: dict[str, float],
    origin: int,
) -> NextEdit:
    """A next edit replacing bytes ``[start_byte, end_byte)`` of ``target`` by ``new_text``,
    trimmed to the part that really changes."""
    text = target.source
    start = text.char(start_byte)
    end = text.char(end_byte)
    old = text.text[start:end]
    # Trim what the replacement keeps, so the edit shows (and touches) only what changes.
    head = 0
    limit = min(len(old), len(new_text))
    while head < limit and old[head] == new_text[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == new_text[len(new_text) - 1 - tail]:
        tail += 1
    start += head
    end -= tail
    replacement = new_text[head : len(new_text) - tail]
    return NextEdit(
        uri=target.uri,
        path=target.path,
        span=Span(text.point(start), text.point(end)),
        old_text=text.text[start:end],
        new_text=replacement,
        label=label,
        source=source,
        score=round(max(0.0, min(1.0, score)), 4),
        evidence=tuple(Feature(name, float(value)) for name, value in sorted(evidence.items())),
        origin=origin,
    )


def by_line(source: Source, replacements: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Replacements (byte ranges and texts) joined per line: one edit makes a whole line what it
    should be, rather than one name of several on it."""
    ordered = sorted(replacements)
    joined: list[tuple[int, int, str]] = []
    group: list[tuple[int, int, str]] = []

    def flush() -> None:
        if not group:
            return
        start, end = group[0][0], group[-1][1]
        pieces = []
        cursor = start
        for a, b, text in group:
            pieces.append(source.data[cursor:a].decode("utf-8", "surrogatepass"))
            pieces.append(text)
            cursor = b
        joined.append((start, end, "".join(pieces)))
        group.clear()

    for start, end, text in ordered:
        if group and (start < group[-1][1] or b"\n" in source.data[group[-1][1] : start]):
            if start < group[-1][1]:
                continue  # overlapping: the first one stands
            flush()
        group.append((start, end, text))
    flush()
    return joined


def quote(text: str, limit: int = 40) -> str:
    """``text`` for a label: one line, shortened."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

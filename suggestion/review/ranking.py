"""Which review comments to show: deduplicated, ranked by what this user found useful, capped.

Boundary: pure functions over ``Comment``s and a ``Memory`` of past dismissals (plain data the
feedback layer reads from its store); no I/O. A dismissed comment is never shown again, and every
dismissal of a rule lowers the score of that rule's other comments, so a rule a user keeps
dismissing sinks below the cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from tactful.suggestion.review.comments import ORIGIN_RUFF, Comment, with_ids
from tactful.suggestion.review.rules import RUFF_EQUIVALENTS

MAX_PER_FILE = 5
MAX_TOTAL = 30
# Comments scoring below this are not worth a reader's attention.
MIN_SCORE = 0.15


@dataclass(frozen=True)
class Memory:
    """What the user taught: dismissed comment ids, and per rule how many of its comments were
    shown and how many dismissed."""

    dismissed: frozenset[str] = frozenset()
    shown_by_rule: Mapping[str, int] = field(default_factory=dict)
    dismissed_by_rule: Mapping[str, int] = field(default_factory=dict)

    def weight(self, rule: str) -> float:
        """How much this user values the rule: 1.0 until they dismiss it, then lower with each
        dismissal, recovering as more of its comments are kept."""
        dismissed = self.dismissed_by_rule.get(rule, 0)
        kept = max(self.shown_by_rule.get(rule, 0) - dismissed, 0)
        return (kept + 2.0) / (kept + 2.0 + 2.0 * dismissed)

    def with_dismissal(self, comment_id: str, rule: str = "") -> Memory:
        """This memory after the developer dismissed a comment (of ``rule``, when known)."""
        by_rule = dict(self.dismissed_by_rule)
        if rule:
            by_rule[rule] = by_rule.get(rule, 0) + 1
        return Memory(self.dismissed | {comment_id}, self.shown_by_rule, by_rule)


@dataclass(frozen=True, slots=True)
class Selection:
    shown: tuple[Comment, ...]
    hidden: int


def select(
    comments: Iterable[Comment],
    memory: Memory | None = None,
    max_per_file: int = MAX_PER_FILE,
    max_total: int = MAX_TOTAL,
) -> Selection:
    """Ids set, duplicates merged, dismissed ones dropped, the rest ranked and capped; returned
    in reading order (path, line)."""
    memory = memory or Memory()
    unique = _deduplicate(with_ids(list(comments)))
    hidden = 0
    scored: list[Comment] = []
    for comment in unique:
        if comment.id in memory.dismissed:
            hidden += 1
            continue
        score = round(comment.prior * memory.weight(comment.rule), 4)
        if score < MIN_SCORE:
            hidden += 1
            continue
        scored.append(replace(comment, score=score))
    scored.sort(key=lambda c: (-c.score, c.path, c.span.start, c.rule))
    per_file: dict[str, int] = {}
    shown: list[Comment] = []
    for comment in scored:
        if per_file.get(comment.path, 0) >= max_per_file or len(shown) >= max_total:
            hidden += 1
            continue
        per_file[comment.path] = per_file.get(comment.path, 0) + 1
        shown.append(comment)
    shown.sort(key=lambda c: (c.path, c.span.start, -c.score, c.rule))
    return Selection(tuple(shown), hidden)


def _deduplicate(comments: list[Comment]) -> list[Comment]:
    """One comment per id, and per line one comment per meaning: a ruff code that says what one
    of our rules says on the same line gives way to ours."""
    by_id: dict[str, Comment] = {}
    for comment in comments:
        kept = by_id.get(comment.id)
        if kept is None or comment.prior > kept.prior:
            by_id[comment.id] = comment
    ours = {(c.path, c.line, c.rule) for c in by_id.values() if c.origin != ORIGIN_RUFF}
    result = []
    for comment in by_id.values():
        meaning = RUFF_EQUIVALENTS.get(comment.rule) if comment.origin == ORIGIN_RUFF else None
        if meaning is not None and (comment.path, comment.line, meaning) in ours:
            continue
        result.append(comment)
    return result


def meaning(rule: str) -> str:
    """What a rule says: ours for a ruff code that says what one of our rules says, else the
    rule itself."""
    return RUFF_EQUIVALENTS.get(rule, rule)


def once_per_line(found: Sequence[tuple[str, int, str, int]], parts: Sequence[str]) -> list[bool]:
    """Which findings to show when several parts (``parts``, in order of preference) show
    findings on one document, so that a finding shows once per line whichever part found it.

    ``found`` holds ``(part, line, rule, severity)``, severity 0 the most severe. Findings of
    different parts on one line with the same ``meaning`` are one finding, and the better part's
    are kept: the more severe, then ours over a ruff code saying the same (ours says more, and
    knows where printing is the point), then the part earlier in ``parts``. Findings of one part
    are never merged with each other: two unused imports on one line are two findings.
    """
    ranks: dict[tuple[int, str], dict[str, tuple[int, bool, int]]] = {}
    for part, line, rule, severity in found:
        key = (line, meaning(rule))
        order = parts.index(part) if part in parts else len(parts)
        rank = (severity, rule != key[1], order)
        by_part = ranks.setdefault(key, {})
        by_part[part] = min(by_part.get(part, rank), rank)
    best = {key: min(by_part, key=by_part.__getitem__) for key, by_part in ranks.items()}
    return [best[(line, meaning(rule))] == part for part, line, rule, _severity in found]

"""What the feedback store knows about review comments, as the ranker's ``Memory``.

Boundary: reads ``comment.shown`` and ``comment.dismissed`` events (through the store, or the
store file read-only for the command line) and builds the plain ``Memory`` that
``suggestion.review`` ranks with; writes nothing itself and runs nothing. It never raises: a
missing, locked or newer store means an empty memory and one log message.
``resolved_comments`` tells which shown comments the developer acted on, from two reviewed
texts of a file; ``comment_detail`` and ``dismissal`` are what the events say of a comment.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from tactful.feedback import events as ev
from tactful.feedback.store import FeedbackStore, StoreUnavailable, read_events
from tactful.suggestion.review.comments import Comment
from tactful.suggestion.review.ranking import Memory

logger = logging.getLogger(__name__)

_KINDS = (ev.COMMENT_SHOWN, ev.COMMENT_DISMISSED)


def memory_from_events(events: Iterable[ev.Event]) -> Memory:
    """Dismissed ids, and per rule how many comments were shown and dismissed."""
    dismissed: set[str] = set()
    shown_ids: dict[str, str] = {}
    shown_by_rule: dict[str, int] = {}
    dismissed_by_rule: dict[str, int] = {}
    for event in events:
        rule = str(event.detail.get("rule", "")) if event.detail else ""
        if event.kind == ev.COMMENT_SHOWN and event.item_id not in shown_ids:
            shown_ids[event.item_id] = rule
            if rule:
                shown_by_rule[rule] = shown_by_rule.get(rule, 0) + 1
        elif event.kind == ev.COMMENT_DISMISSED and event.item_id not in dismissed:
            dismissed.add(event.item_id)
            rule = rule or shown_ids.get(event.item_id, "")
            if rule:
                dismissed_by_rule[rule] = dismissed_by_rule.get(rule, 0) + 1
    return Memory(frozenset(dismissed), shown_by_rule, dismissed_by_rule)


def load_memory(store: FeedbackStore | str | Path, workspace: str) -> Memory:
    """The review memory of one workspace, from a running store or a store file."""
    try:
        if isinstance(store, FeedbackStore):
            events = store.events(kinds=_KINDS, workspace=workspace)
        else:
            events = read_events(store, kinds=_KINDS, workspace=workspace)
    except (StoreUnavailable, OSError, TimeoutError) as exc:
        logger.warning("review comments dismissed before are unknown: %s", exc)
        return Memory()
    return memory_from_events(events)


def resolved_comments(
    before: str, after: str, shown: Iterable[Comment], produced: Sequence[Comment]
) -> list[str]:
    """The ids of the ``shown`` comments (made on ``before``) that the developer resolved by
    the time the file reads ``after``, where the new review ``produced`` its comments.

    Conservative on purpose: a comment counts only when its own line was edited or deleted (a
    line-level diff of the two texts puts it in a changed block) and no comment of the same
    rule lies on the lines that replaced it. A file reviewed again with that line untouched, or
    a line edited while the problem stays (``print(w)`` to ``print(w, h)``), resolves nothing.
    """
    shown = list(shown)
    if before == after or not shown:
        return []
    old_lines, new_lines = before.split("\n"), after.split("\n")
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    replaced_by: dict[int, range] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            for line in range(i1, i2):
                replaced_by[line] = range(j1, j2)
    still = {(c.rule, c.line) for c in produced}
    return [
        c.id
        for c in shown
        if c.line in replaced_by and not any((c.rule, n) in still for n in replaced_by[c.line])
    ]


def comment_detail(comment: Comment, language: str = "") -> dict[str, object]:
    """What a ``comment.*`` event says about its comment (never its text)."""
    return {
        "kind": "comment",
        "rule": comment.rule,
        "source": comment.origin,
        "severity": comment.severity.value,
        "language": language,
    }


def dismissal(comment_id: str, workspace: str, rule: str = "", source: str = "") -> ev.Event:
    """The event of a comment marked not useful."""
    return ev.Event(
        ev.COMMENT_DISMISSED,
        item_id=comment_id,
        workspace=workspace,
        explicit=True,
        detail={"kind": "comment", "rule": rule, "source": source},
    )

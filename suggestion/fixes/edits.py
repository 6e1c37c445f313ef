"""Edits as differences between two versions of a file.

Boundary: text arithmetic for fix proposers. A proposer rewrites a whole module (libcst, an LLM)
and this module reduces the rewrite to the few line ranges that really changed, so a fix shows
and applies as a local change. It never parses code.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from tactful.analyzers.text import Edit, Point, Span, apply_edits, split_lines


def edits_between(old: str, new: str, path: str) -> tuple[Edit, ...]:
    """Line-range edits that turn ``old`` into ``new`` (empty when they are equal)."""
    if old == new:
        return ()
    old_lines = split_lines(old, keepends=True)
    new_lines = split_lines(new, keepends=True)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    edits: list[Edit] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(
            Edit(
                path,
                Span(_line_start(old_lines, i1), _line_start(old_lines, i2)),
                "".join(new_lines[j1:j2]),
            )
        )
    return tuple(edits)


def _line_start(lines: Sequence[str], index: int) -> Point:
    # The end of a file without a final newline is a point on its last line, not past it.
    if index >= len(lines) and lines and not lines[-1].endswith("\n"):
        return Point(len(lines) - 1, len(lines[-1]))
    return Point(index, 0)


def apply(text: str, edits: Sequence[Edit]) -> str:
    """``text`` with ``edits`` applied; edits that overlap an earlier one are skipped."""
    kept: list[Edit] = []
    for edit in sorted(edits, key=lambda e: (e.span.start, e.span.end)):
        if kept and edit.span.start < kept[-1].span.end:
            continue
        kept.append(edit)
    return apply_edits(text, kept)


def changed_lines(edits: Sequence[Edit]) -> int:
    """How many lines a fix touches: the size used to prefer small fixes."""
    total = 0
    for edit in edits:
        removed = edit.span.end.line - edit.span.start.line + (1 if edit.span.end.column else 0)
        added = edit.new_text.count("\n") + (0 if edit.new_text.endswith("\n") else 1)
        total += max(removed, 0) + (added if edit.new_text else 0)
    return max(total, 1)

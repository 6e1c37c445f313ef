"""``--diff``: fixes printed as one unified diff that ``git apply`` and ``patch -p1`` take.

Boundary: text only; nothing here reads or writes the user's files. The caller passes each
file's current text and the edits it would make; what comes out is one patch, a section per
file in path order, with git's ``a/``/``b/`` prefixes and its marker for a last line without a
newline, so the patch applies exactly (``ruff check --diff`` prints the same shape).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

from tactful.analyzers.text import Edit, apply_edits, split_lines

NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(path: str, old: str, new: str, context: int = 3) -> str:
    """The diff of one file from ``old`` to ``new`` (empty when they are equal)."""
    if old == new:
        return ""
    lines = list(
        difflib.unified_diff(
            split_lines(old, keepends=True),
            split_lines(new, keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
            n=context,
        )
    )
    if " " in path:
        # As git writes it: a tab ends a name with spaces, which patch(1) would otherwise cut.
        lines[0] = lines[0].rstrip("\n") + "\t\n"
        lines[1] = lines[1].rstrip("\n") + "\t\n"
    out: list[str] = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            # A last line without its newline: git's marker says so, or the patch would add one.
            out.append(line + "\n" + NO_NEWLINE)
    return "".join(out)


def overlap(edit: Edit, other: Edit) -> bool:
    """Whether two edits of one file touch the same text (two insertions at one point do)."""
    if edit.span.start == other.span.start:
        return True
    return edit.span.start < other.span.end and other.span.start < edit.span.end


def combine(text: str, fixes: Sequence[Sequence[Edit]]) -> tuple[str, list[int]]:
    """``text`` with as many of ``fixes`` (each the edits of one fix) as fit, in order: a fix
    that overlaps one already taken is left out. The new text, and the indices taken."""
    taken: list[int] = []
    edits: list[Edit] = []
    for number, fix in enumerate(fixes):
        if any(overlap(edit, kept) for edit in fix for kept in edits):
            continue
        edits.extend(fix)
        taken.append(number)
    return apply_edits(text, edits), taken


def patch(files: Mapping[str, tuple[str, str]] | Iterable[tuple[str, str, str]]) -> str:
    """One patch for several files, given as ``{path: (old, new)}`` or ``(path, old, new)``
    triples; sections in path order, unchanged files left out."""
    triples = (
        [(path, old, new) for path, (old, new) in files.items()]
        if isinstance(files, Mapping)
        else list(files)
    )
    return "".join(unified_diff(path, old, new) for path, old, new in sorted(triples))

"""Unified diffs (``git diff``, ``diff -u``) parsed and applied to texts; edits made into changes.

Boundary: text in, text out; no file system. What the sandbox applies is a ``Change`` per file:
its new text (None when the file is deleted) and the old line ranges it touched, which is what
test selection needs. A diff that does not apply raises ``PatchError`` with a message for people.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tactful.analyzers.text import Edit, apply_edits, split_lines


class PatchError(ValueError):
    """The diff is malformed or does not apply to the workspace."""


@dataclass(frozen=True, slots=True)
class Change:
    """A file's new text and the zero-based, inclusive old line ranges that changed.

    ``in_place`` is true when every changed line was rewritten where it stands, with its
    indentation kept and no line added or removed: such an edit can only change what happens
    when one of those lines runs, which lets test selection look at lines, not functions.
    """

    path: str
    new_text: str | None
    old_lines: tuple[tuple[int, int], ...]
    created: bool = False
    in_place: bool = False


@dataclass(frozen=True, slots=True)
class _Hunk:
    old_start: int  # one-based, as written in the header
    old_count: int
    lines: tuple[str, ...]  # each starting with " ", "-" or "+"; no line breaks


@dataclass(frozen=True, slots=True)
class FilePatch:
    old_path: str | None  # None for a new file
    new_path: str | None  # None for a deleted file
    hunks: tuple[_Hunk, ...]
    no_newline_at_end: bool = False

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _strip_prefix(raw: str) -> str | None:
    name = raw.split("\t", 1)[0].strip()
    if name.startswith('"') and name.endswith('"'):
        name = name[1:-1].encode().decode("unicode_escape")
    if name == "/dev/null":
        return None
    if name.startswith(("a/", "b/")):
        name = name[2:]
    return name


def parse_patch(text: str) -> list[FilePatch]:
    """Files and hunks of a unified diff; headers other than ---/+++/@@ are skipped. Lines end
    at ``\\n`` alone: a file's ``\\r\\n`` line ends, form feeds and the like stay in the lines'
    text, as ``git diff`` wrote them and as the file has them."""
    lines = split_lines(text)
    patches: list[FilePatch] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        old_path = _strip_prefix(line[4:])
        new_path = _strip_prefix(lines[i + 1][4:])
        i += 2
        hunks: list[_Hunk] = []
        no_newline = False
        while i < len(lines) and lines[i].startswith("@@"):
            match = _HUNK.match(lines[i])
            if not match:
                raise PatchError(f"malformed hunk header: {lines[i]!r}")
            old_start = int(match.group(1))
            old_count = int(match.group(2)) if match.group(2) is not None else 1
            new_count = int(match.group(4)) if match.group(4) is not None else 1
            i += 1
            body: list[str] = []
            seen_old = seen_new = 0
            while i < len(lines) and (seen_old < old_count or seen_new < new_count):
                entry = lines[i]
                if entry.startswith("\\"):
                    i += 1
                    continue
                kind = entry[:1] or " "
                if kind not in " -+":
                    raise PatchError(
                        f"unexpected line in a hunk of {new_path or old_path}: {entry!r}"
                    )
                if kind in " -":
                    seen_old += 1
                if kind in " +":
                    seen_new += 1
                body.append(kind + entry[1:])
                i += 1
            if i < len(lines) and lines[i].startswith("\\"):
                # "\ No newline at end of file" after the last line of the new side
                no_newline = body[-1].startswith("+") or body[-1].startswith(" ")
                i += 1
            if seen_old != old_count or seen_new != new_count:
                raise PatchError(f"hunk of {new_path or old_path} is shorter than its header says")
            hunks.append(_Hunk(old_start, old_count, tuple(body)))
        if old_path is None and new_path is None:
            raise PatchError("a diff entry names no file")
        patches.append(FilePatch(old_path, new_path, tuple(hunks), no_newline))
    if not patches:
        raise PatchError("no file changes found in the diff")
    return patches


def apply_file_patch(old_text: str | None, patch: FilePatch) -> Change:
    """Apply one file's hunks to its text; hunks may have moved by a few lines, never fuzzily."""
    if patch.new_path is None:
        if old_text is None:
            raise PatchError(f"{patch.old_path}: the diff deletes a file that does not exist")
        count = old_text.count("\n") + (0 if old_text.endswith("\n") or not old_text else 1)
        return Change(patch.old_path or "", None, ((0, max(count - 1, 0)),))
    if patch.old_path is None:
        if old_text is not None:
            raise PatchError(f"{patch.new_path}: the diff creates a file that already exists")
        old_text = ""
    old_text = old_text or ""
    old = old_text.split("\n") if old_text else []
    trailing_newline = old_text.endswith("\n") or old_text == ""
    if old_text.endswith("\n"):
        old.pop()
    result: list[str] = []
    cursor = 0  # next old line (zero-based) not yet copied
    ranges: list[tuple[int, int]] = []
    in_place = bool(patch.hunks)
    for hunk in patch.hunks:
        expected = [line[1:] for line in hunk.lines if line[0] in " -"]
        start = _locate(
            old, expected, max(hunk.old_start - 1, 0) if hunk.old_count else hunk.old_start, cursor
        )
        if start is None:
            raise PatchError(f"{patch.path}: hunk at line {hunk.old_start} does not apply")
        in_place = in_place and _rewrites_in_place(hunk.lines)
        result.extend(old[cursor:start])
        position = start
        replacing = False  # "+" lines right after "-" lines take their place: no new range
        for line in hunk.lines:
            kind, body = line[0], line[1:]
            if kind == " ":
                result.append(body)
                position += 1
                replacing = False
            elif kind == "-":
                ranges.append((position, position))
                position += 1
                replacing = True
            else:
                result.append(body)
                if not replacing:
                    # an insertion: the lines on both sides hold the new code
                    ranges.append((max(position - 1, 0), min(position, max(len(old) - 1, 0))))
        cursor = position
    result.extend(old[cursor:])
    new_text = "\n".join(result)
    if result and (trailing_newline or patch.old_path is None) and not patch.no_newline_at_end:
        new_text += "\n"
    created = patch.old_path is None
    return Change(patch.path, new_text, _merge(ranges), created, in_place and not created)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _rewrites_in_place(lines: tuple[str, ...]) -> bool:
    """True when each run of removed lines is replaced by as many, equally indented lines."""
    removed: list[str] = []
    added: list[str] = []
    for line in (*lines, " "):
        kind, body = line[0], line[1:]
        if kind == "-":
            if added:
                return False
            removed.append(body)
        elif kind == "+":
            added.append(body)
        else:
            if len(removed) != len(added):
                return False
            if any(
                _indent(a) != _indent(b) or not b.strip()
                for a, b in zip(removed, added, strict=True)
            ):
                return False
            removed, added = [], []
    return True


def _locate(old: list[str], expected: list[str], hint: int, floor: int) -> int | None:
    """Where ``expected`` occurs in ``old`` at or after ``floor``, nearest to ``hint``."""
    if not expected:
        return max(min(hint, len(old)), floor)
    candidates = sorted(range(floor, len(old) - len(expected) + 1), key=lambda c: abs(c - hint))
    for candidate in candidates:
        if old[candidate : candidate + len(expected)] == expected:
            return candidate
    return None


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def changes_from_patch(text: str, read: Callable[[str], str | None]) -> list[Change]:
    """Changes of a unified diff, reading each file's current text with ``read(path)``."""
    changes = []
    for patch in parse_patch(text):
        old_text = read(patch.old_path) if patch.old_path is not None else None
        if patch.old_path is not None and old_text is None:
            raise PatchError(f"{patch.old_path}: no such file in the workspace")
        if patch.old_path is None and patch.new_path is not None:
            old_text = read(patch.new_path)
        changes.append(apply_file_patch(old_text, patch))
    return changes


def changes_from_edits(edits: Sequence[Edit], read: Callable[[str], str | None]) -> list[Change]:
    """Changes of a list of edits (grouped by file), reading each file's text with ``read``."""
    by_path: dict[str, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    changes = []
    for path, file_edits in by_path.items():
        old_text = read(path)
        created = old_text is None
        new_text = apply_edits(old_text or "", file_edits)
        ranges = _merge(
            [(e.span.start.line, max(e.span.start.line, e.span.end.line)) for e in file_edits]
        )
        in_place = not created and all(_edits_in_place(e, old_text or "") for e in file_edits)
        changes.append(Change(path, new_text, ranges, created, in_place))
    return changes


def change_between(path: str, old_text: str | None, new_text: str | None) -> Change:
    """The change that makes ``old_text`` (None: no such file) into ``new_text`` (None: deleted),
    its old line ranges as a unified diff of the two would give them."""
    if new_text is None:
        count = (old_text or "").count("\n") + (0 if (old_text or "").endswith("\n") else 1)
        return Change(path, None, ((0, max(count - 1, 0)),))
    if old_text is None:
        return Change(path, new_text, (), created=True)
    old, new = old_text.split("\n"), new_text.split("\n")
    ranges: list[tuple[int, int]] = []
    in_place = True
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "insert":
            # an insertion: the lines on both sides hold the new code
            ranges.append((max(i1 - 1, 0), min(i1, max(len(old) - 1, 0))))
        else:
            ranges.append((i1, i2 - 1))
        in_place = in_place and (
            tag == "replace"
            and i2 - i1 == j2 - j1
            and all(
                _indent(a) == _indent(b) and a.strip() and b.strip()
                for a, b in zip(old[i1:i2], new[j1:j2], strict=True)
            )
        )
    return Change(path, new_text, _merge(ranges), in_place=in_place and bool(ranges))


def _edits_in_place(edit: Edit, old_text: str) -> bool:
    """One line rewritten after its indentation, with no line break added or removed."""
    start, end = edit.span.start, edit.span.end
    if start.line != end.line or "\n" in edit.new_text or "\r" in edit.new_text:
        return False
    lines = old_text.split("\n")
    if start.line >= len(lines):
        return False
    line = lines[start.line]
    rewritten = line[: start.column] + edit.new_text + line[end.column :]
    return _indent(rewritten) == _indent(line) and line.strip() != "" and rewritten.strip() != ""

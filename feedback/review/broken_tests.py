"""Review comments for the tests a change breaks: each failing test on the changed line that
caused it, naming the test and its assertion.

Boundary: plain Python from the execution judge's ``ChangeCheck`` (the tests of what changed
since ``review.base``, run on the workspace as saved) to review ``Comment``s. It runs nothing
and reads no file: the texts come with the diff's ``FileChange``s.

Which line a failure is blamed on, first that holds:

1. the deepest entry of the failure's traceback that lies on a changed line;
2. the deepest entry inside a changed function: that function's first changed line the test
   ran (the run's coverage, labelled by test), else its first changed line;
3. a changed function whose changed lines the test ran, then one the test ran at all;
4. the first changed function of a file in the traceback, else of any changed file; else the
   first changed line (a change at module level).

A test that fails without the change too never gets here: the judge set it aside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tactful.analyzers.diff import ChangeStatus, FileChange
from tactful.analyzers.findings import Severity
from tactful.analyzers.text import Point, Span
from tactful.feedback.execution.exercise import FUNCTION, Unit, changed_units
from tactful.feedback.execution.verdict import ChangeCheck, TestFailure
from tactful.suggestion.review.comments import BREAKS_TEST, ORIGIN_TESTS, Comment, with_ids

MESSAGE_LIMIT = 400
# A test the change breaks is among the most useful things review can say.
PRIOR = 0.95


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """A changed file as blame sees it: its change (new side), its path as the tests name it
    (relative to the workspace folder), and its changed functions."""

    change: FileChange
    path: str
    units: tuple[Unit, ...]

    @property
    def changed(self) -> frozenset[int]:
        """One-based changed lines of the new text."""
        return frozenset(line + 1 for line in self.change.changed_lines)

    def functions(self) -> list[Unit]:
        return [unit for unit in self.units if unit.kind == FUNCTION]


def changed_file(change: FileChange, path: str) -> ChangedFile:
    """``change`` (from the diff) as blame sees it; ``path`` is its name in the workspace."""
    old = None if change.status is ChangeStatus.ADDED else change.old_text
    units = changed_units(path, old, change.text, lambda _name: True)
    return ChangedFile(change, path, tuple(units))


def blame(
    failure: TestFailure, files: Sequence[ChangedFile], ran: Mapping[str, frozenset[int]]
) -> tuple[ChangedFile, int] | None:
    """The changed file and one-based line a failing test is blamed on (see the module
    docstring); ``ran`` is the changed lines the test ran, by path. None when nothing changed."""
    by_path = {file.path: file for file in files}
    entries = [(by_path[path], line) for path, line in reversed(failure.entries) if path in by_path]
    for file, line in entries:
        if line in file.changed:
            return file, line
    for file, line in entries:
        inside = [u for u in file.functions() if u.body[0] <= line <= u.body[1]]
        if inside:
            innermost = max(inside, key=lambda u: u.body[0])
            first = _first_changed(file, innermost, ran)
            if first is not None:
                return file, first
    for touched in (_ran_changed, _ran_at_all):
        for file in files:
            for unit in file.functions():
                if touched(file, unit, ran):
                    first = _first_changed(file, unit, ran)
                    if first is not None:
                        return file, first
    in_traceback = list(dict.fromkeys(file for file, _line in entries))
    for file in [*in_traceback, *files]:
        for unit in file.functions():
            first = _first_changed(file, unit, ran)
            if first is not None:
                return file, first
    for file in [*in_traceback, *files]:
        if file.changed:
            return file, min(file.changed)
    return None


def _unit_lines(file: ChangedFile, unit: Unit) -> list[int]:
    lines = sorted(line for line in unit.new_lines if line in file.changed)
    return lines or sorted(line for line in file.changed if unit.body[0] <= line <= unit.body[1])


def _first_changed(file: ChangedFile, unit: Unit, ran: Mapping[str, frozenset[int]]) -> int | None:
    lines = _unit_lines(file, unit)
    seen = ran.get(file.path, frozenset())
    hit = [line for line in lines if line in seen]
    first = hit or lines
    return first[0] if first else None


def _ran_changed(file: ChangedFile, unit: Unit, ran: Mapping[str, frozenset[int]]) -> bool:
    return any(line in ran.get(file.path, ()) for line in _unit_lines(file, unit))


def _ran_at_all(file: ChangedFile, unit: Unit, ran: Mapping[str, frozenset[int]]) -> bool:
    first, last = unit.body
    return any(first <= line <= last for line in ran.get(file.path, ()))


def failure_message(failure: TestFailure) -> str:
    """``breaks tests/test_calc.py::test_add: assert add(2, 3) == 5 (assert 6 == 5, where 6 =
    add(2, 3))``: the test, the statement that failed and what pytest said of it."""
    statement = failure.statement
    said = failure.message
    if said.startswith("AssertionError") and statement.startswith("assert"):
        explanation = ", ".join(
            line.strip().removeprefix("+").strip()
            for line in said.removeprefix("AssertionError").lstrip(":").splitlines()
            if line.strip()
        )
        text = statement if explanation in ("", statement) else f"{statement} ({explanation})"
    else:
        lines = [line.strip() for line in said.splitlines() if line.strip()]
        text = ", ".join(lines[:3]) or statement or "failed"
    message = f"breaks {failure.node_id}: {text}"
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"


def broken_test_comments(check: ChangeCheck, files: Sequence[ChangedFile]) -> list[Comment]:
    """One comment per test the change breaks, on the changed line blamed for it (ids set)."""
    comments = []
    for failure in check.failures:
        found = blame(failure, files, check.ran.get(failure.node_id, {}))
        if found is None:
            continue
        file, line = found
        row = line - 1
        text = file.change.lines[row] if row < len(file.change.lines) else ""
        indent = len(text) - len(text.lstrip())
        comments.append(
            Comment(
                path=file.change.path,
                span=Span(Point(row, indent), Point(row, len(text))),
                rule=BREAKS_TEST,
                message=failure_message(failure),
                origin=ORIGIN_TESTS,
                severity=Severity.ERROR,
                prior=PRIOR,
                line_text=text,
            )
        )
    return with_ids(comments)

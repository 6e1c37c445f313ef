"""Which changed line a broken test is blamed on, and what its comment says: the traceback's
changed line first, then the changed function the traceback or the test's own run reached."""

from __future__ import annotations

import pytest

from tactful.analyzers.diff import ChangeStatus, FileChange, diff_hunks
from tactful.feedback.execution.verdict import ChangeCheck, Status, TestFailure, Verdict
from tactful.feedback.review.broken_tests import (
    blame,
    broken_test_comments,
    changed_file,
    failure_message,
)

OLD = (
    "def sub(a, b):\n"  # 1
    "    return a - b\n"  # 2
    "\n\n"  # 3, 4
    "def ratio(a, b):\n"  # 5
    "    top = a\n"  # 6
    "    return top / b\n"  # 7
    "\n\n"  # 8, 9
    "LIMIT = 3\n"  # 10
)
NEW = (
    "def sub(a, b):\n"
    "    return -(b - a)\n"  # 2: changed
    "\n\n"
    "def ratio(a, b):\n"
    "    top = a + 0\n"  # 6: changed
    "    return top / (b - b)\n"  # 7: changed
    "\n\n"
    "LIMIT = 4\n"  # 10: changed
)


def files(old: str = OLD, new: str = NEW):
    """The file as the repository names it (``pkg/calc.py``) and as the tests do (``calc.py``:
    the workspace folder is ``pkg``)."""
    hunks = diff_hunks(old, new)
    change = FileChange("pkg/calc.py", "pkg/calc.py", ChangeStatus.MODIFIED, hunks, new, old)
    return [changed_file(change, "calc.py")]


T = "tests/test_calc.py"


@pytest.mark.parametrize(
    ("entries", "ran", "line", "why"),
    [
        ([(T, 4), ("calc.py", 7)], {}, 7, "the traceback's deepest changed line"),
        ([(T, 4), ("calc.py", 7), ("other.py", 2)], {}, 7, "frames outside the change skipped"),
        ([(T, 4)], {"calc.py": frozenset({2})}, 2, "the changed line the test ran"),
        ([(T, 4)], {"calc.py": frozenset({6, 7})}, 6, "the first changed line the test ran"),
        ([(T, 4)], {"calc.py": frozenset({7})}, 7, "only the second changed line ran"),
        ([(T, 4)], {}, 2, "nothing seen: the first changed function's first changed line"),
    ],
)
def test_blame(entries, ran, line, why) -> None:
    failure = TestFailure(f"{T}::test_x", "AssertionError", "assert x", tuple(entries))
    found = blame(failure, files(), ran)
    assert found is not None, why
    assert found[1] == line, why


def test_a_frame_inside_a_changed_function_on_an_unchanged_line_blames_that_function() -> None:
    old = "def area(w, h):\n    w = w * 2\n    check(w)\n    return w * h\n"
    new = "def area(w, h):\n    w = w * 3\n    check(w)\n    return w * h\n"
    failure = TestFailure(f"{T}::test_area", "ValueError: too wide", "", ((T, 3), ("calc.py", 3)))
    found = blame(failure, files(old, new), {})
    assert found is not None and found[1] == 2


@pytest.mark.parametrize(
    ("message", "statement", "expected"),
    [
        (
            "AssertionError: assert 6 == 5\n +  where 6 = add(2, 3)",
            "assert add(2, 3) == 5",
            "assert add(2, 3) == 5 (assert 6 == 5, where 6 = add(2, 3))",
        ),
        ("AssertionError", "assert ok", "assert ok"),
        (
            "ZeroDivisionError: division by zero",
            "assert ratio(1, 2) == 0.5",
            "ZeroDivisionError: division by zero",
        ),
        ("", "", "failed"),
    ],
)
def test_failure_message(message: str, statement: str, expected: str) -> None:
    failure = TestFailure(f"{T}::test_x", message, statement)
    assert failure_message(failure) == f"breaks {T}::test_x: {expected}"


def test_comments_lie_on_the_blamed_line_with_stable_ids() -> None:
    failure = TestFailure(
        f"{T}::test_ratio",
        "ZeroDivisionError: division by zero",
        "assert ratio(1, 2) == 0.5",
        ((T, 9), ("calc.py", 7)),
    )
    check = ChangeCheck(Verdict(Status.FAILED, failed_ids=(failure.node_id,)), (failure,))
    (comment,) = broken_test_comments(check, files())
    assert (comment.path, comment.line, comment.rule) == ("pkg/calc.py", 6, "breaks-test")
    assert comment.span.start.column == 4 and comment.line_text == "    return top / (b - b)"
    assert comment.message == f"breaks {T}::test_ratio: ZeroDivisionError: division by zero"
    assert comment.id == broken_test_comments(check, files())[0].id

"""Unified diffs applied to texts, with the old lines they touch (what test selection needs)."""

from __future__ import annotations

import pytest

from tactful.feedback.execution.patch import PatchError, changes_from_patch

BASE = "a\nb\nc\nd\ne\nf\ng\n"


def check(
    old: dict[str, str],
    diff: str,
    expected: dict[str, str | None],
    lines: dict[str, tuple[tuple[int, int], ...]],
) -> None:
    changes = changes_from_patch(diff, old.get)
    assert {c.path: c.new_text for c in changes} == expected
    assert {c.path: c.old_lines for c in changes} == lines


@pytest.mark.parametrize(
    ("old", "diff", "expected", "lines"),
    [
        pytest.param(
            {"f.txt": BASE},
            "--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n",
            {"f.txt": "a\nb\nC\nd\ne\nf\ng\n"},
            {"f.txt": ((2, 2),)},
            id="replace one line",
        ),
        pytest.param(
            {"f.txt": BASE},
            "--- f.txt\n+++ f.txt\n@@ -6,2 +6,1 @@\n f\n-g\n",
            {"f.txt": "a\nb\nc\nd\ne\nf\n"},
            {"f.txt": ((6, 6),)},
            id="delete the last line, no a/ b/ prefixes",
        ),
        pytest.param(
            {"f.txt": "x\n" + BASE},
            "--- a/f.txt\n+++ b/f.txt\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n",
            {"f.txt": "x\na\nb\nC\nd\ne\nf\ng\n"},
            {"f.txt": ((3, 3),)},
            id="a hunk that moved by one line",
        ),
        pytest.param(
            {},
            "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n",
            {"new.py": "x = 1\ny = 2\n"},
            {"new.py": ((0, 0),)},
            id="a new file",
        ),
        pytest.param(
            {"old.py": "x = 1\n"},
            "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n",
            {"old.py": None},
            {"old.py": ((0, 0),)},
            id="a deleted file",
        ),
        pytest.param(
            {"f.txt": "a\nb"},
            "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
            "+B\n\\ No newline at end of file\n",
            {"f.txt": "a\nB"},
            {"f.txt": ((1, 1),)},
            id="no newline at the end",
        ),
        pytest.param(
            {"a.py": "1\n2\n", "b.py": "3\n"},
            "diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n"
            "@@ -1,2 +1,3 @@\n 1\n+1.5\n 2\n"
            "diff --git a/b.py b/b.py\n--- a/b.py\n+++ b/b.py\n@@ -1 +1 @@\n-3\n+4\n",
            {"a.py": "1\n1.5\n2\n", "b.py": "4\n"},
            {"a.py": ((0, 1),), "b.py": ((0, 0),)},
            id="git headers and two files",
        ),
    ],
)
def test_patches_apply(old, diff, expected, lines) -> None:
    check(old, diff, expected, lines)


@pytest.mark.parametrize(
    ("old", "diff", "message"),
    [
        ({"f.txt": BASE}, "not a diff\n", "no file changes"),
        (
            {"f.txt": BASE},
            "--- a/f.txt\n+++ b/f.txt\n@@ -2,1 +2,1 @@\n-zzz\n+c\n",
            "does not apply",
        ),
        ({}, "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-a\n+b\n", "no such file"),
        ({"f.txt": BASE}, "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n", "shorter"),
        ({"f.txt": BASE}, "--- a/f.txt\n+++ b/f.txt\n@@ bad @@\n", "malformed"),
    ],
)
def test_bad_patches_say_why(old, diff, message) -> None:
    with pytest.raises(PatchError, match=message):
        changes_from_patch(diff, old.get)

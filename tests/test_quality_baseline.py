"""The baseline file and the rule that shows a finding once per line, data-driven over their
public functions (the CLI and the server show them end to end in test_quality_baseline_cli.py
and test_quality_scope_lsp.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tactful.analyzers.baseline import (
    Baseline,
    BaselineError,
    baseline_path,
    fingerprint,
    load,
    save,
)
from tactful.suggestion.review.ranking import once_per_line

RECORDED = Baseline.of(
    [
        ("m.py", "F401", "import os"),
        ("m.py", "T201", "    print(x)"),
        ("m.py", "T201", "print(x)"),
    ]
)


@pytest.mark.parametrize(
    ("findings", "recorded"),
    [
        # The same lines anywhere in the file, re-indented or not.
        ([("F401", "import os"), ("T201", "        print(x)")], [True, True]),
        # Two recorded prints: a third identical one is new.
        ([("T201", "print(x)")] * 3, [True, True, False]),
        # Another rule on a recorded line, or a recorded rule on an edited line: new.
        ([("E501", "import os"), ("F401", "import os, sys")], [False, False]),
    ],
)
def test_findings_are_recorded_by_rule_and_line_text(
    findings: list[tuple[str, str]], recorded: list[bool]
) -> None:
    assert RECORDED.recorded("m.py", findings) == recorded
    assert RECORDED.recorded("other.py", findings) == [False] * len(findings)


def test_fingerprints_ignore_whitespace_only() -> None:
    assert fingerprint("x = f(a, b)") == fingerprint("  x=f(a,b)  ")
    assert fingerprint("x = f(a, b)") != fingerprint("x = f(b, a)")
    assert len(fingerprint("")) == 16


def test_a_saved_baseline_reads_back_the_same(tmp_path: Path) -> None:
    assert load(tmp_path) is None
    path = save(tmp_path, RECORDED)
    assert path == baseline_path(tmp_path) == tmp_path / ".tactful" / "baseline.json"
    assert load(tmp_path) == RECORDED and len(RECORDED) == 3
    data = json.loads(path.read_text(encoding="utf-8"))
    printed = {"rule": "T201", "line": fingerprint("print(x)"), "count": 2}
    assert printed in data["files"]["m.py"] and len(data["files"]["m.py"]) == 2
    assert [p.name for p in path.parent.iterdir()] == ["baseline.json"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "cannot be read"),
        ('{"version": 2, "files": {}}', "not a tactful baseline of version 1"),
        ('{"version": 1, "files": []}', "'files' is not a table"),
        ('{"version": 1, "files": {"m.py": [{"rule": "F401"}]}}', "lacks its rule or line"),
        ('{"version": 1, "files": {"m.py": [{"rule": 1, "line": "x"}]}}', "is malformed"),
    ],
)
def test_a_broken_baseline_is_a_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    baseline_path(tmp_path).parent.mkdir()
    baseline_path(tmp_path).write_text(text, encoding="utf-8")
    with pytest.raises(BaselineError, match=problem):
        load(tmp_path)


PARTS = ("tactful.quality", "tactful.review")
WARNING, INFO = 1, 2


@pytest.mark.parametrize(
    ("found", "shown"),
    [
        # The same ruff code from both parts: quality's, which carries the fix.
        (
            [("tactful.quality", 3, "F841", WARNING), ("tactful.review", 3, "F841", WARNING)],
            [True, False],
        ),
        # A ruff code and the review rule that says the same: the rule's fuller words.
        (
            [
                ("tactful.quality", 4, "E722", WARNING),
                ("tactful.quality", 4, "S110", WARNING),
                ("tactful.review", 4, "broad-except", WARNING),
            ],
            [False, False, True],
        ),
        # ... unless the ruff code is the more severe.
        (
            [("tactful.quality", 5, "FIX002", WARNING), ("tactful.review", 5, "todo-added", INFO)],
            [True, False],
        ),
        # One part's findings are never merged: two unused imports on one line.
        (
            [("tactful.quality", 1, "F401", WARNING), ("tactful.quality", 1, "F401", WARNING)],
            [True, True],
        ),
        # Different lines, or different meanings, are different findings.
        (
            [
                ("tactful.quality", 1, "F401", WARNING),
                ("tactful.review", 2, "F401", WARNING),
                ("tactful.review", 1, "debug-leftover", WARNING),
            ],
            [True, True, True],
        ),
    ],
)
def test_a_finding_shows_once_per_line(
    found: list[tuple[str, int, str, int]], shown: list[bool]
) -> None:
    assert once_per_line(found, PARTS) == shown

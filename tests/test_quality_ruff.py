"""The ruff adapter runs the real ruff and reads its findings and fixes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tactful.analyzers.findings import Applicability, Severity
from tactful.analyzers.ruff import (
    SYNTAX_ERROR,
    RuffOptions,
    check_paths,
    check_text,
    rule_documentation,
    rule_url,
)
from tactful.analyzers.text import Point, Span, apply_edits


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def rules(findings) -> list[str]:
    return sorted(f.rule for f in findings)


def test_unsaved_text_is_checked_with_ruff_defaults(tmp_path: Path) -> None:
    # The file on disk is clean; the editor's text is not: the text is what counts.
    write(tmp_path, {"mod.py": "x = 1\n"})
    findings = check_text("import os\n", "mod.py", tmp_path)
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "F401"
    assert finding.path == "mod.py"
    assert finding.span == Span(Point(0, 7), Point(0, 9))
    assert finding.url == "https://docs.astral.sh/ruff/rules/unused-import"
    (fix,) = finding.fixes
    assert fix.applicability is Applicability.SAFE
    assert fix.origin == "ruff"
    assert apply_edits("import os\n", list(fix.edits)) == ""


def test_columns_are_code_points_after_non_ascii_text(tmp_path: Path) -> None:
    text = 'x = "😀é"; import os\n'
    findings = check_text(text, tmp_path / "m.py", tmp_path, RuffOptions(select=("F401",)))
    (finding,) = findings
    start = finding.span.start
    assert text.split("\n")[start.line][start.column :].startswith("os")
    assert apply_edits(text, list(finding.fixes[0].edits)).startswith('x = "😀é"')


def test_project_configuration_is_respected(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": (
                "[tool.ruff]\nextend-exclude = ['generated.py']\n"
                "[tool.ruff.lint]\nselect = ['E741']\n"
            ),
        },
    )
    text = "import os\nl = 1\n"
    assert rules(check_text(text, "pkg/a.py", tmp_path)) == ["E741"]
    assert check_text(text, "generated.py", tmp_path) == []


def test_select_replaces_the_selection(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.ruff.lint]\nselect = ['E741']\n"})
    text = "import os\nl = 1\ntry:\n    pass\nexcept ValueError as e:\n    raise KeyError(1)\n"
    assert rules(check_text(text, "a.py", tmp_path, RuffOptions(select=("F", "B")))) == [
        "B904",
        "F401",
        "F841",
    ]
    widened = check_text(text, "a.py", tmp_path, RuffOptions(extend_select=("F401",)))
    assert rules(widened) == ["E741", "F401"]


def test_unsafe_fixes_are_reported_and_labelled(tmp_path: Path) -> None:
    text = "def f():\n    unused = 1\n"
    (finding,) = check_text(text, "a.py", tmp_path, RuffOptions(select=("F841",)))
    assert finding.fixes[0].applicability is Applicability.UNSAFE
    assert "unused" not in apply_edits(text, list(finding.fixes[0].edits))


def test_syntax_errors_are_findings_without_fixes(tmp_path: Path) -> None:
    findings = check_text("def f(:\n    return 1\n", "a.py", tmp_path)
    assert findings
    assert all(f.rule == SYNTAX_ERROR for f in findings)
    assert all(f.severity is Severity.ERROR and not f.fixes for f in findings)
    assert findings[0].span.start.line == 0


def test_paths_on_disk_relative_to_the_root(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/a.py": "import os\n", "pkg/b.py": "import sys\n\nprint(sys)\n"})
    findings = check_paths([], tmp_path)
    assert [(f.path, f.rule) for f in findings] == [("pkg/a.py", "F401")]
    assert findings[0].fixes[0].edits[0].path == "pkg/a.py"
    assert check_paths(["pkg/b.py"], tmp_path) == []


def test_broken_configuration_gives_no_findings_and_no_exception(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.ruff.lint]\nselect = 'not a list\n"})
    assert check_text("import os\n", "a.py", tmp_path) == []
    assert any("ruff failed" in r.getMessage() for r in caplog.records)


def test_missing_ruff_gives_no_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # An interpreter without ruff beside it and an empty PATH: ruff cannot be found at all.
    fake_python = tmp_path / "bin" / "python"
    fake_python.parent.mkdir()
    fake_python.write_text("")
    monkeypatch.setattr(sys, "executable", str(fake_python))
    monkeypatch.setitem(sys.modules, "ruff.__main__", None)
    monkeypatch.setenv("PATH", os.fspath(tmp_path / "nowhere"))
    assert check_text("import os\n", "a.py", tmp_path) == []
    assert check_paths([], tmp_path) == []
    assert any("ruff is not installed" in r.getMessage() for r in caplog.records)


def test_rule_documentation_and_url() -> None:
    assert "raise" in rule_documentation("B904")
    assert rule_documentation(SYNTAX_ERROR) == ""
    assert rule_url("E741") == "https://docs.astral.sh/ruff/rules/ambiguous-variable-name"
    assert rule_url(SYNTAX_ERROR) is None

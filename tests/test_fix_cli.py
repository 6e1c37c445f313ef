"""``tactful fix`` as ruff users drive it: rules and paths chosen on the command line, the fixes
as a patch, workflow annotations, findings judged in parallel, and a progress bar with each
result printed as it is judged, on a real terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

from fixtures.lsp import TACTFUL, tactful
from fixtures.workspace import Workspace
from test_quality_cli import MODULE, project


def rules_of(done: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(item["rule"] for item in json.loads(done.stdout)["findings"])


def test_rules_and_paths_are_chosen_as_ruff_chooses_them(workspace: Workspace) -> None:
    project(workspace)
    workspace.write("other.py", "import sys\n")
    workspace.commit("another file")

    every = tactful("fix", "--format", "json", cwd=workspace.root)
    assert rules_of(every) == ["E741", "F401", "F401", "TRY004"]

    only_f = tactful("fix", "--select", "F", "--format", "json", cwd=workspace.root)
    assert rules_of(only_f) == ["F401", "F401"]
    # The more specific selector wins, as in ruff: every F rule but F401 is none here.
    both = tactful(
        "fix", "--select", "F,E741", "--ignore", "F401", "--format", "json", cwd=workspace.root
    )
    assert rules_of(both) == ["E741"]

    one_file = tactful("fix", "mod.py", "--format", "json", cwd=workspace.root)
    assert {item["path"] for item in json.loads(one_file.stdout)["findings"]} == {"mod.py"}
    excluded = tactful("fix", "--exclude", "mod.py", "--format", "json", cwd=workspace.root)
    assert [item["path"] for item in json.loads(excluded.stdout)["findings"]] == ["other.py"]
    two = tactful("fix", "mod.py", "other.py", "--format", "json", cwd=workspace.root)
    assert rules_of(two) == rules_of(every)

    unknown = tactful("fix", "--select", "NOPE999", cwd=workspace.root)
    assert unknown.returncode == 2 and "NOPE999" in unknown.stderr


def test_paths_of_two_projects_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    project(workspace)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pyproject.toml").write_text("", encoding="utf-8")
    (elsewhere / "x.py").write_text("import os\n", encoding="utf-8")
    done = tactful("fix", "mod.py", str(elsewhere / "x.py"), cwd=workspace.root)
    assert done.returncode == 2 and "one project at a time" in done.stderr


def test_diff_prints_what_apply_writes_and_writes_nothing(workspace: Workspace) -> None:
    project(workspace)
    assert tactful("trust", str(workspace.root), cwd=workspace.root).returncode == 0

    shown = tactful("fix", "--diff", cwd=workspace.root)
    assert shown.returncode == 1, shown.stderr  # findings remain: nothing was written
    assert workspace.read("mod.py") == MODULE
    assert shown.stdout.startswith("--- a/mod.py\n+++ b/mod.py\n"), shown.stdout
    assert "-import os\n" in shown.stdout and "+    length = value.strip()\n" in shown.stdout
    # The TRY004 fix fails the tests: not in the patch, and said so.
    assert "TypeError" not in shown.stdout
    assert "2 fixes in the patch" in shown.stderr
    one = tactful("fix", "--diff", "--select", "E741", cwd=workspace.root)
    assert "tactful fix: 1 fix in the patch\n" in one.stderr

    patch = workspace.root / "fixes.patch"
    patch.write_text(shown.stdout, encoding="utf-8")
    workspace.git("apply", str(patch))
    patched = workspace.read("mod.py")
    workspace.write("mod.py", MODULE)
    applied = tactful("fix", "--apply", cwd=workspace.root)
    assert applied.returncode == 1
    assert workspace.read("mod.py") == patched

    both = tactful("fix", "--diff", "--apply", cwd=workspace.root)
    assert both.returncode == 2
    as_json = tactful("fix", "--diff", "--format", "json", cwd=workspace.root)
    assert as_json.returncode == 2 and "--diff" in as_json.stderr


def test_github_format_is_one_annotation_per_finding_left(workspace: Workspace) -> None:
    project(workspace)
    done = tactful("fix", "--format", "github", cwd=workspace.root)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("::") for line in lines)
    f401 = next(line for line in lines if "F401" in line)
    assert f401.startswith("::warning file=mod.py,line=1,endLine=1,col=8,endColumn=10,")
    assert "title=tactful fix F401::`os` imported but unused%0Afix: " in f401
    assert "not validated (workspace not trusted)" in f401


def test_parallel_judging_gives_the_same_verdicts(workspace: Workspace) -> None:
    project(workspace)
    assert tactful("trust", str(workspace.root), cwd=workspace.root).returncode == 0

    def verdicts(jobs: str) -> list[tuple[str, str, str | None]]:
        done = tactful("fix", "--jobs", jobs, "--format", "json", cwd=workspace.root)
        return [
            (item["rule"], item["verdict"]["status"], item["fix"] and item["fix"]["title"])
            for item in json.loads(done.stdout)["findings"]
        ]

    one = verdicts("1")
    assert {rule: status for rule, status, _ in one} == {
        "F401": "passed",
        "E741": "passed",
        "TRY004": "failed",
    }
    assert verdicts("3") == one
    refused = tactful("fix", "--jobs", "0", cwd=workspace.root)
    assert refused.returncode == 2 and "--jobs" in refused.stderr


def test_a_terminal_gets_a_bar_and_each_finding_as_it_is_judged(workspace: Workspace) -> None:
    project(workspace)
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*TACTFUL, "fix"],
            cwd=workspace.root,
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "120"},
            text=True,
            timeout=240,
            check=False,
        )
        os.close(follower)
        follower = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all of it was read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert done.returncode == 1
    assert b"judging fixes" in drawn and b"\x1b[" in drawn  # rich drew the bar on stderr
    out = done.stdout
    assert "mod.py:1:8: F401 `os` imported but unused" in out
    assert "mod.py:7:5: E741" in out
    assert out.rstrip().endswith("3 findings, 3 with a fix, 0 validated by the tests; 3 remaining")
    assert "\x1b[" not in out  # results on stdout carry no escape sequences


def test_a_file_ruff_cannot_read_is_said_not_checked_whatever_the_selection(
    workspace: Workspace,
) -> None:
    project(workspace)
    latin = "# -*- coding: latin-1 -*-\nimport os\nNAME = 'café'\n"
    (workspace.root / "latin.py").write_bytes(latin.encode("latin-1"))
    workspace.commit("a latin-1 file")

    done = tactful("fix", "--select", "F401", "--format", "json", cwd=workspace.root)

    assert done.returncode == 1, done.stderr
    (unread,) = [f for f in json.loads(done.stdout)["findings"] if f["path"] == "latin.py"]
    assert unread["rule"] == "E902" and unread["fix"] is None
    assert unread["verdict"]["reason"] == "ruff cannot read the file: not checked"
    text = tactful("fix", "--select", "F401", "latin.py", cwd=workspace.root)
    assert text.returncode == 1
    assert "latin.py:1:1: E902" in text.stdout and text.stdout.count("not checked") == 1
    assert text.stdout.endswith(
        "\n1 finding, 0 with a fix, 0 validated by the tests; 1 remaining\n"
    )
    # Asked not to hear of it, one is not told.
    quiet = tactful("fix", "--select", "F401", "--ignore", "E902", "latin.py", cwd=workspace.root)
    assert quiet.returncode == 0 and "latin.py" not in quiet.stdout


def test_a_file_ruff_cannot_parse_is_reported_whatever_the_selection(
    workspace: Workspace,
) -> None:
    project(workspace)
    workspace.write("broken.py", "import os\ndef f(:\n    pass\n")
    workspace.commit("a file that does not parse")

    done = tactful("fix", "--select", "F401", "--no-validate", "broken.py", cwd=workspace.root)

    # ruff checked nothing in it, F401 included: not "0 findings"
    assert done.returncode == 1, done.stderr
    assert "broken.py:2:7: invalid-syntax" in done.stdout
    quiet = tactful(
        "fix", "--select", "F401", "--ignore", "invalid-syntax", "--no-validate", "broken.py",
        cwd=workspace.root,
    )  # fmt: skip
    assert quiet.returncode == 0 and "broken.py" not in quiet.stdout

"""``tactful validate --patch``: exit codes and the documented JSON, on a real repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.lsp import tactful
from fixtures.pyenv import make_env
from fixtures.workspace import Workspace

from tactful.feedback import trust
from tactful.server.cli import main

CALC = "def add(a, b):\n    return a + b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
JSON_KEYS = {
    "version",
    "workspace",
    "status",
    "summary",
    "tests_run",
    "test_ids",
    "failed_ids",
    "failures",
    "duration_s",
    "cpu_s",
    "backend",
    "sandboxed",
    "selection",
    "selection_reason",
    "exercised",
    "unexercised",
    "inputs",
    "counterexample",
    "failing_before",
    "interpreter",
    "alike_by",
    "reason",
    "cached",
}


# The sandboxed runs use this interpreter: its own test plugins only slow them down.
pytestmark = pytest.mark.usefixtures("plain_pytest")


@pytest.fixture
def repo(workspace: Workspace) -> Workspace:
    workspace.write("calc.py", CALC)
    workspace.write("tests/test_calc.py", TESTS)
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("start")
    make_env(workspace.root / ".venv")
    return workspace


def diff_of(repo: Workspace, new_calc: str) -> str:
    """A real ``git diff`` of a change to calc.py, with the file restored afterwards."""
    repo.write("calc.py", new_calc)
    diff = repo.git("diff")
    repo.write("calc.py", CALC)
    return diff


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_passing_and_failing_patches(
    repo: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust.trust(repo.root)
    good = tmp_path / "good.diff"
    good.write_text(diff_of(repo, CALC.replace("a + b", "b + a")))
    bad = tmp_path / "bad.diff"
    bad.write_text(diff_of(repo, CALC.replace("a + b", "a * b")))

    passed = validate(capsys, "--patch", str(good), str(repo.root), "--format", "json")
    failed = validate(capsys, "--patch", str(bad), str(repo.root))

    assert passed[0] == 0
    report = json.loads(passed[1])
    assert set(report) == JSON_KEYS
    assert report["status"] == "passed"
    assert report["test_ids"] == ["tests/test_calc.py::test_add"]
    assert report["sandboxed"] is True
    assert failed[0] == 1
    assert failed[1].startswith("failed: 1 of 1 test failed")
    assert "assert 6 == 5" in failed[1]
    assert repo.read("calc.py") == CALC


def test_one_failure_among_several_tests_is_counted_in_plain_words(
    repo: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # add(0, 0) passes with `a * b` too; run first, it makes two tests run, one failing.
    repo.write(
        "tests/test_calc.py",
        "from calc import add\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n\n\n"
        + TESTS.split("\n\n\n", 1)[1],
    )
    repo.commit("a second test")
    trust.trust(repo.root)
    bad = tmp_path / "bad.diff"
    bad.write_text(diff_of(repo, CALC.replace("a + b", "a * b")))

    code, out, _ = validate(capsys, "--patch", str(bad), str(repo.root), "--format", "json")

    report = json.loads(out)
    assert code == 1 and report["tests_run"] == 2
    assert report["summary"] == "1 of 2 tests failed"


def test_usage_and_trust_errors_exit_2(
    repo: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.diff"
    good.write_text(diff_of(repo, CALC.replace("a + b", "b + a")))
    stale = tmp_path / "stale.diff"
    stale.write_text(good.read_text().replace("-    return a + b", "-    return a - b"))

    untrusted = validate(capsys, "--patch", str(good), str(repo.root), "--format", "json")
    trust.trust(repo.root)
    missing = validate(capsys, "--patch", str(tmp_path / "none.diff"), str(repo.root))
    not_applying = validate(capsys, "--patch", str(stale), str(repo.root))

    assert untrusted[0] == 2
    assert json.loads(untrusted[1])["summary"] == "not validated (workspace not trusted)"
    assert missing[0] == 2 and "cannot read the patch" in missing[2]
    assert not_applying[0] == 2 and "does not apply" in not_applying[2]


def test_the_patch_can_come_from_stdin(repo: Workspace) -> None:
    trust.trust(repo.root)
    diff = diff_of(repo, CALC.replace("a + b", "a - b"))

    done = tactful("validate", "--patch", "-", str(repo.root), stdin=diff, timeout=120)

    assert done.returncode == 1, done.stderr
    assert "tests/test_calc.py::test_add" in done.stdout


UNTESTED = """\
def add(a, b):
    return a + b


def sub(a: int, b: int) -> int:
    return a - b


def area(shape: "Shape") -> float:
    return shape.width * shape.height
"""


@pytest.mark.parametrize(
    ("old", "new", "status", "code"),
    [
        # no test calls sub(): old and new are called on the same generated inputs
        ("a - b", "-b + a", "equivalent", 0),
        ("a - b", "b - a", "different", 1),
        # no value of a Shape can be made: nothing shows what the change does
        ("shape.width * shape.height", "shape.height * shape.width", "unexercised", 1),
    ],
)
def test_code_no_test_runs_gets_its_own_verdicts_and_exit_codes(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    status: str,
    code: int,
) -> None:
    workspace.write("calc.py", UNTESTED)
    workspace.write("tests/test_calc.py", TESTS)
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("start")
    make_env(workspace.root / ".venv")
    trust.trust(workspace.root)
    workspace.write("calc.py", UNTESTED.replace(old, new))
    patch = tmp_path / "change.diff"
    patch.write_text(workspace.git("diff"))
    workspace.write("calc.py", UNTESTED)

    done = validate(capsys, "--patch", str(patch), str(workspace.root), "--format", "json")

    report = json.loads(done[1])
    assert (report["status"], done[0]) == (status, code), report["reason"]
    assert report["tests_run"] == 1 and report["test_ids"] == ["tests/test_calc.py::test_add"]
    assert report["exercised"] is False
    assert report["interpreter"] == str(workspace.root / ".venv" / "bin" / "python")
    if status == "equivalent":
        assert report["inputs"] > 0
        assert report["summary"] == f"same behaviour on {report['inputs']} inputs"
    elif status == "different":
        assert report["counterexample"]["function"] == "calc.py:sub"
        assert report["counterexample"]["input"].startswith("sub(")
    else:
        assert report["summary"] == "tests pass, but none runs this code"
        assert report["unexercised"] == ["calc.py:area"]
        assert "Shape" in report["reason"]

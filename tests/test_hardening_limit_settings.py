"""A validation run's limits come from the user's settings (``validation.processes``,
``validation.memoryMb``, ``validation.diskMb``): a lower value there stops the run and the verdict
says so; the same value in a workspace file is refused. Real ``tactful validate --patch`` runs,
in the sandbox, on a real repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.pyenv import make_env
from fixtures.workspace import Workspace

from tactful.analyzers.userdirs import config_dir
from tactful.feedback import trust
from tactful.server.cli import main

CALC = "def add(a, b):\n    return a + b\n"
# A test that, within the default limits, holds 40 processes and 300 MB for two seconds each
# (what the run's watch, which looks a few times a second, needs to see them on a busy machine)
# and writes 100 MB.
HUNGRY = """
import subprocess
import time

from calc import add


def test_add_with_company():
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(40)]
    time.sleep(2)
    for sleeper in sleepers:
        sleeper.kill()
        sleeper.wait()
    held = [b"x" * (16 << 20) for _ in range(19)]
    time.sleep(2)
    with open("big.bin", "wb") as handle:
        for _ in range(100):
            handle.write(b"x" * (1 << 20))
    assert add(2, 3) == 5 and len(held) == 19
"""


# The sandboxed runs use this interpreter: its own test plugins only slow them down.
pytestmark = pytest.mark.usefixtures("plain_pytest")


@pytest.fixture
def repo(workspace: Workspace, tmp_path: Path) -> tuple[Workspace, Path]:
    workspace.write("calc.py", CALC)
    workspace.write("tests/test_calc.py", HUNGRY)
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("start")
    make_env(workspace.root / ".venv")  # the project's interpreter, which the tests run with
    workspace.write("calc.py", CALC.replace("a + b", "b + a"))
    patch = tmp_path / "swap.diff"
    patch.write_text(workspace.git("diff"))
    workspace.write("calc.py", CALC)
    trust.trust(workspace.root)
    return workspace, patch


def validate(capsys: pytest.CaptureFixture[str], root: Path, patch: Path) -> dict:
    main(["validate", "--patch", str(patch), str(root), "--format", "json"])
    out, _ = capsys.readouterr()
    return json.loads(out)


def user_settings(text: str) -> None:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text)


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("processes = 16", "stopped: more than 16 processes"),
        ("memory_mb = 128", "stopped: memory limit (128 MB)"),
        ("disk_mb = 32", "stopped: wrote more than 32 MB"),
    ],
)
def test_a_lower_limit_in_the_user_settings_stops_the_run(
    repo: tuple[Workspace, Path],
    capsys: pytest.CaptureFixture[str],
    setting: str,
    reason: str,
) -> None:
    workspace, patch = repo
    within_defaults = validate(capsys, workspace.root, patch)
    user_settings(f"[validation]\n{setting}\n")
    limited = validate(capsys, workspace.root, patch)

    assert within_defaults["status"] == "passed", within_defaults["summary"]
    assert limited["status"] == "failed", limited["summary"]
    assert limited["reason"] == reason
    assert reason in limited["summary"]


def test_a_limit_in_a_workspace_file_is_refused(
    repo: tuple[Workspace, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    workspace, patch = repo
    workspace.write(".tactful.toml", "[validation]\nprocesses = 16\nmemory_mb = 128\n")

    report = validate(capsys, workspace.root, patch)

    assert report["status"] == "passed", report["failures"]

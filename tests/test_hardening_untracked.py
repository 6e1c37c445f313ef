"""A virtual environment made in the workspace, in a repository that does not ignore it.

``python -m venv .venv`` (before Python 3.13) writes no ``.gitignore`` into the environment, and
a project from a source distribution often has no ``.gitignore`` at all: git then lists every
file of the environment as untracked. Review, the engine's index and the sandbox's copy leave
them out, and the review says how many it left out and where.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from fixtures.workspace import Workspace

from tactful.analyzers.index import source_files
from tactful.feedback.execution.workspace import list_files
from tactful.server.cli import main

LEFTOVER = 'def shout(text):\n    print("DEBUG", text)\n    return text.upper()\n'


@pytest.fixture
def project(workspace: Workspace) -> Workspace:
    """A committed module, a new module of the project, and a real virtual environment (with a
    package in its site-packages) and a build folder, none of them ignored."""
    workspace.write("pkg/__init__.py", "")
    workspace.write("pkg/core.py", "def double(x):\n    return 2 * x\n")
    workspace.commit("init")
    workspace.write("pkg/loud.py", LEFTOVER)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(workspace.root / ".venv")], check=True
    )
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    workspace.write(f".venv/lib/{version}/site-packages/vendored/noisy.py", LEFTOVER)
    # An environment under any name is known by its pyvenv.cfg.
    workspace.write("tools-env/pyvenv.cfg", "home = /usr/bin\n")
    workspace.write("tools-env/lib/helper.py", LEFTOVER)
    workspace.write("build/lib/pkg/loud.py", LEFTOVER)
    return workspace


def test_review_leaves_out_the_environment_and_says_so(project: Workspace, capsys) -> None:
    code = main(["review", str(project.root), "--format", "json"])
    data = json.loads(capsys.readouterr().out)

    assert code == 1
    assert data["files"] == ["pkg/loud.py"]
    assert {c["path"] for c in data["comments"]} == {"pkg/loud.py"}
    assert data["skipped"] == []
    left_out = [note for note in data["notes"] if "left out" in note]
    assert len(left_out) == 3
    assert re.match(
        r"\d+ untracked files in \.venv/ left out: a build, cache or virtual", left_out[0]
    )
    assert any(note.startswith("1 untracked file in build/ left out") for note in left_out)
    assert any(note.startswith("2 untracked files in tools-env/ left out") for note in left_out)


def test_the_index_and_the_sandbox_copy_leave_out_the_environment(project: Workspace) -> None:
    assert source_files(project.root) == ["pkg/__init__.py", "pkg/core.py", "pkg/loud.py"]
    copied = list_files(project.root)
    assert "pkg/loud.py" in copied
    assert [name for name in copied if not name.startswith("pkg/")] == []


def test_a_tracked_file_in_such_a_folder_is_the_project_s(project: Workspace, capsys) -> None:
    project.git("add", "-f", "build/lib/pkg/loud.py")
    project.git("commit", "-q", "-m", "build output committed on purpose")
    project.write("build/lib/pkg/loud.py", LEFTOVER + "\n\nX = 1\n")

    main(["review", str(project.root), "--format", "json"])
    data = json.loads(capsys.readouterr().out)

    assert data["files"] == ["build/lib/pkg/loud.py", "pkg/loud.py"]
    assert "build/lib/pkg/loud.py" in source_files(project.root)

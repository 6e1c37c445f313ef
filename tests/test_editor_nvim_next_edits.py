"""Next edits in the Neovim plugin, end to end: a real headless Neovim with editors/nvim on its
runtimepath, a real `tactful serve`, a real git repository, and the driver's ``next_edits``
scenario (tests/test_editor_nvim.lua) typing as a person would.

After an edit and a pause the first next edit shows at its line (a sign, the line as the edit
leaves it); <Tab> jumps there and applies it, the server hears of the accept, and the next one
appears; the dismiss key turns one down; an edit in another file opens that file; with nothing
shown the keys do what they did before, and ghost text takes <Tab> before a next edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.nvim import (
    COMPLETE,
    PLUGIN,
    feedback_stats,
    git,
    isolated_env,
    project,
    run_nvim,
    server_command,
    step_outcome,
)

LOOKUP = """\
def lookup(d, k, defaults, cache):
    if d.has_key(k):
        return d[k]
    if defaults.has_key(k):
        return defaults[k]
    return cache.has_key(k)
"""

LIB = "def fetch(url, retries):\n    return url\n"
APP = 'from lib import fetch\n\n\ndef main():\n    return fetch("x", 3)\n'

# `def area(width, height):` in the uncommitted geometry.py, where `width` starts.
RENAME = {"row": 3, "col": 9}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("nvim-next-edits")
    root = project(base)
    for name, text in (("lookup.py", LOOKUP), ("lib.py", LIB), ("app.py", APP)):
        (root / name).write_text(text)
    git(root, "add", "lookup.py", "lib.py", "app.py")
    git(root, "commit", "-q", "-m", "lookup and fetch")
    env = isolated_env(base)
    config = {
        "scenario": "next_edits",
        "plugin": str(PLUGIN),
        "cmd": server_command(),
        "file": str(root / "lookup.py"),
        "geometry": str(root / "geometry.py"),
        "lib": str(root / "lib.py"),
        "settings": {"completion": {"engine": "local"}, "filter": {"enabled": False}},
        "complete": COMPLETE,
        "rename": RENAME,
        "deadline_ms": 200_000,
    }
    results = run_nvim(base, config, env, root, ["-u", "NONE", "-i", "NONE", "-n"])
    results["project"] = root
    results["env"] = env
    return results


def test_the_server_offers_next_edits_and_tab_is_mapped_in_both_modes(session):
    attach = step_outcome(session, "attach")
    assert attach["offered"] is True
    assert attach["normal_tab"] == "tactful: jump to the next edit and apply it"
    # Insert mode's <Tab> is the inline completion's first, then the next edit's.
    assert attach["insert_tab"] == "tactful: accept the suggestion"


def test_after_a_pause_the_next_edit_shows_at_its_line(session):
    shown = step_outcome(session, "shown_after_a_pause")
    assert shown["waited_ms"] >= 300, "asked before the pause"
    assert shown["row"] == 3 and shown["here"] is True
    assert shown["label"] == "`d.has_key(k)` → `k in d` (1 more)"
    assert shown["current"]["id"] == shown["id"]
    signs = [m for m in shown["marks"] if m.get("sign")]
    assert len(signs) == 1 and signs[0]["row"] == 3 and signs[0]["sign"] == "»"
    # The line as the edit leaves it, then the label.
    assert "if k in defaults:" in signs[0]["text"]
    assert shown["label"] in signs[0]["text"]
    # What it replaces is highlighted where it stands.
    old = [m for m in shown["marks"] if m.get("hl") == "TactfulNextEditOld"]
    assert [(m["row"], m["col"]) for m in old] == [(3, 7)]
    assert shown["mode"] == "n"


def test_tab_applies_it_reports_the_accept_and_the_next_one_appears(session):
    tab = step_outcome(session, "tab_applies_it_and_the_next_appears")
    assert tab["id"] == tab["shown_id"]
    assert tab.get("error") is None
    assert tab["result"] is True, "the server did not know the accepted id"
    assert tab["line"] == "    if k in defaults:"
    # The cursor jumped there: after the inserted text (1-based row, byte column).
    assert tab["cursor"] == [4, len("    if k in defaults")]
    assert tab["user_calls"] == 0, "the user's <Tab> ran although a next edit showed"
    assert tab["next_row"] == 5
    assert tab["next_label"] == "`d.has_key(k)` → `k in d`"
    assert any("return k in cache" in m["text"] for m in tab["marks"])


def test_the_dismiss_key_turns_it_down_and_nothing_is_left(session):
    dismiss = step_outcome(session, "dismiss_in_insert_mode")
    assert dismiss["still_shown"] is True
    assert dismiss["same_id"] and dismiss["reason"] == "dismissed"
    assert dismiss.get("error") is None and dismiss["result"] is True
    assert dismiss.get("left") is None and dismiss["marks"] == 0
    # <C-]> was tactful's, not typed into the line.
    assert dismiss["line"] == "    if k in defaults:"


def test_with_no_next_edit_shown_tab_runs_the_users_normal_mode_mapping(session):
    tab = step_outcome(session, "tab_falls_through_when_nothing_shows")
    assert tab["user_calls"] == 1
    assert tab["accepted"] == 0
    assert "return cache.has_key(k)" in tab["text"]


def test_ghost_text_takes_tab_before_a_next_edit(session):
    ghost = step_outcome(session, "ghost_text_takes_tab_first")
    assert ghost["rename_label"].startswith("rename `width` → `w`")
    assert ghost["ghost"] and ghost["ghost_still"]
    assert ghost["next_row"] == RENAME["row"] + 1
    assert (ghost["inline_accepted"], ghost["next_accepted"]) == (1, 0)
    assert ghost["rename_line"] == "    return width * height"
    assert ghost["renamed_line"] == "    return w * height"


def test_a_next_edit_in_another_file_shows_where_and_tab_opens_and_applies_it(session):
    other = step_outcome(session, "another_file")
    assert other["here"] is False
    assert other["uri"].endswith("/app.py")
    assert other["label"].startswith("remove `retries` in the call to `fetch`")
    assert any("app.py:5" in m["text"] for m in other["marks"])
    assert other.get("error") is None and other["result"] is True
    assert Path(other["file"]).name == "app.py"
    assert other["line"] == '    return fetch("x")'
    assert other["cursor"][0] == 5


def test_next_edits_shown_and_accepted_reach_the_feedback_store(session):
    summary = feedback_stats(session["env"])["next_edits"]
    assert summary["accepted"] >= 2
    assert summary["rejected"]["explicit"] >= 1
    assert summary["shown"] >= summary["accepted"] + 1

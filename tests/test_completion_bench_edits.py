"""``tactful bench edits`` on a repository made here: real commits replayed through a real
server, and the replay's hunk plan on texts written here."""

from __future__ import annotations

import json

import pytest
from fixtures.lsp import tactful
from fixtures.workspace import Workspace

from tactful.suggestion.keystrokes import keystrokes
from tactful.suggestion.replay import plan_hunks

PHRASE = "register_handler(dispatcher, on_ready_callback, priority=3)"
BEFORE = (
    "import os\n\n\n"
    + "".join(f"def setup_{n}(dispatcher):\n    {PHRASE}\n\n\n" for n in range(3))
    + "def last():\n    return os.sep\n"
)
# The commit adds a fourth function in the middle (typed where it belongs: the bench fails when
# the edits it sent do not add up to the file) and changes a word in the last line.
AFTER = BEFORE.replace(
    "def last():", f"def setup_3(dispatcher):\n    {PHRASE}\n\n\ndef last():"
).replace("os.sep", "os.pathsep")
ADDED = "import os\n\n\ndef join(a, b):\n    return os.path.join(a, b)\n"


def apply(text: str, plan: list) -> str:
    for hunk in plan:
        text = text[: hunk.start] + hunk.typed + text[hunk.end :]
    return text


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (BEFORE, AFTER),
        ("a = 1\nb = 2\n", "a = 1\nx = 0\nb = 2\n"),
        ("a = 1\nb = 2\n", "b = 2\n"),
        ("a = 1\nb = 2", "a = 1\nb = 2\nc = 3"),
        ("", "x = 1\n"),
        ("x = f(a, b)\n", "x = f(a, b, c)\n"),
    ],
)
def test_the_hunk_plan_turns_the_old_text_into_the_new(old: str, new: str) -> None:
    assert apply(old, plan_hunks(old, new)) == new


def test_a_changed_word_is_retyped_and_new_lines_start_with_enter() -> None:
    (word,) = plan_hunks("x = f(a, b)\ny = 2\n", "x = f(a, b, c)\ny = 2\n")
    assert word.typed == ", c" and word.start == word.end == len("x = f(a, b")
    (lines,) = plan_hunks("a = 1\nb = 2\n", "a = 1\nx = 0\ny = 1\nb = 2\n")
    # Enter at the end of the line above, then the new lines.
    assert lines.typed == "\nx = 0\ny = 1" and lines.start == len("a = 1")
    # Lines added above an indented line are typed as whole lines, not before its code.
    old = "def f():\n    x = 1\n    value = g(x)\n"
    new = "def f():\n    x = 1\n    if x:\n        x = 2\n    value = g(x)\n"
    (above,) = plan_hunks(old, new)
    assert above.typed == "\n    if x:\n        x = 2" and above.start == len("def f():\n    x = 1")
    assert apply(old, [above]) == new
    # Lines that open a block around it: typed above it, then the line is indented further.
    old = "    x = 1\n    value = g(x)\n"
    new = "    x = 1\n    if x:\n        x = 2\n    else:\n        value = g(x)\n"
    lines, indent = plan_hunks(old, new)
    assert lines.typed == "\n    if x:\n        x = 2\n    else:" and indent.typed == "    "
    assert apply(old, [lines, indent]) == new
    # Lines rewritten: typed in whole lines, not up to what their old end shares with the new.
    old = "def f(a):\n    total = compute(a)\n"
    new = "def f(a):\n    if a:\n        total = fetch(a)\n"
    (rewritten,) = plan_hunks(old, new)
    assert rewritten.typed == "if a:\n        total = fetch(a)"
    assert apply(old, [rewritten]) == new
    (pasted,) = plan_hunks("a = 1\n", "a = 1\n" + "z = 0\n" * 5, max_added=3)
    assert pasted.pasted


def test_bench_edits_replays_commits_through_the_server(workspace: Workspace) -> None:
    workspace.write("handlers.py", BEFORE)
    workspace.write("notes.txt", "not code\n")
    workspace.write("old_name.py", ADDED.replace("join", "split"))
    workspace.commit("base")
    workspace.write("handlers.py", AFTER)
    workspace.write("paths.py", ADDED)
    # A file moved is not a file written: neither typed nor edited.
    workspace.git("mv", "old_name.py", "new_name.py")
    workspace.commit("add a handler and paths")
    report, lines = _bench_with_details(workspace)
    assert len(report["commits"]) == 1
    local = report["engines"]["local"]
    assert local["commits"] == 1 and local["files"] == 1
    # one commit: no other sample of commits to speak of
    assert local["keystrokes_saved_rate_interval"] is None
    typed = sum(keystrokes(h.typed) for h in plan_hunks(BEFORE, AFTER))
    assert local["keystrokes"] == typed
    # The phrase is in the file three times above the new function: it is suggested there.
    assert 0 < local["accepted"] <= local["shown"] <= local["requests"]
    assert local["keystrokes_saved"] >= keystrokes(PHRASE) // 2
    new_files = local["new_files"]
    assert new_files["files"] == 1 and new_files["keystrokes"] == keystrokes(ADDED)
    assert local["new_files_first_100_lines"]["keystrokes"] == keystrokes(ADDED)
    sizes = local["latency_ms_by_file_size"]
    assert sum(part["requests"] for part in sizes.values()) == (
        local["requests"] + new_files["requests"]
    )
    # One detail line a request: what was still to type, what the hunk removed, what showed.
    assert len(lines) == local["requests"] + new_files["requests"]
    edited = [line for line in lines if not line["new_file"]]
    assert {line["path"] for line in edited} == {"handlers.py"}
    assert sum(line["accepted"] for line in edited) == local["accepted"]
    assert all(line["shown"] is not None for line in edited if line["accepted"])
    assert all(line["coming"].startswith(line["shown"]) for line in lines if line["accepted"])
    assert all(line["commit"] == report["commits"][0] for line in lines)
    # The repository itself is left as it was.
    assert workspace.read("handlers.py") == AFTER
    assert workspace.git("status", "--porcelain").strip() == ""


def test_bench_edits_text_says_what_was_not_typed(workspace: Workspace) -> None:
    workspace.write("handlers.py", BEFORE)
    workspace.commit("base")
    workspace.write("handlers.py", AFTER)
    workspace.commit("edit a file, add none")

    result = tactful("bench", "edits", str(workspace.root), "--commits", "0")

    assert result.returncode == 0, result.stderr
    assert "  new files: none typed\n" in result.stdout
    assert "  first 100 lines of new files: none typed\n" in result.stdout
    assert "None" not in result.stdout


def test_bench_edits_rejects_a_folder_that_is_not_a_repository(tmp_path) -> None:
    result = tactful("bench", "edits", str(tmp_path), timeout=60)
    assert result.returncode == 2 and "not a git repository" in result.stderr


LATIN = "# -*- coding: latin-1 -*-\nGREETING = 'café'\n\n\ndef greet(name):\n    return GREETING\n"


def test_bench_edits_types_a_latin_1_file_as_it_declares(workspace: Workspace) -> None:
    path = workspace.root / "greet.py"
    path.write_bytes(LATIN.encode("latin-1"))
    workspace.commit("base")
    farewell = LATIN.replace("return GREETING", "return f'{GREETING}, {name}, à bientôt'")
    path.write_bytes(farewell.encode("latin-1"))
    workspace.commit("greet by name")

    _report, lines = _bench_with_details(workspace)

    assert lines and all(line["path"] == "greet.py" for line in lines)
    # The file is typed as it reads, its accents and all, never a replacement character.
    assert "à bientôt" in lines[0]["coming"]
    assert not any("\ufffd" in json.dumps(line, ensure_ascii=False) for line in lines)


def _bench_with_details(workspace: Workspace) -> tuple[dict, list[dict]]:
    """``bench edits --commits 0`` of the workspace in JSON: the report and its detail lines."""
    details = workspace.root.parent / "details.jsonl"
    result = tactful(
        "bench", "edits", str(workspace.root), "--commits", "0", "--format", "json",
        "--details", str(details),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    return json.loads(result.stdout), lines


def test_bench_edits_says_how_far_another_sample_of_commits_could_move_the_rate(
    workspace: Workspace,
) -> None:
    workspace.write("handlers.py", BEFORE)
    workspace.commit("base")
    workspace.write("handlers.py", AFTER)
    workspace.commit("a handler the file already has the phrase of")
    workspace.write("handlers.py", AFTER + "\n\ndef unrelated(quux):\n    return quux * 7 - 3\n")
    workspace.commit("something new")

    text = tactful("bench", "edits", str(workspace.root), "--commits", "0")
    done = tactful("bench", "edits", str(workspace.root), "--commits", "0", "--format", "json")

    assert done.returncode == 0 and text.returncode == 0, done.stderr + text.stderr
    local = json.loads(done.stdout)["engines"]["local"]
    interval = local["keystrokes_saved_rate_interval"]
    assert interval["commits"] == 2 and interval["level"] == 0.95
    assert interval["low"] <= local["keystrokes_saved_rate"] <= interval["high"]
    # the two commits save differently: resampling them moves the rate
    assert interval["low"] < interval["high"]
    assert "resampling these 2 commits (bootstrap): 95% of resamples saved " in text.stdout

"""``tactful/nextEdits`` inside the real server, over stdio: what is advertised and answered,
what accepting and dismissing record, and that a slow model never holds the server up."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from fixtures.fake_llm import Reply
from fixtures.lsp import change_document, init_params, inline_at, open_document, tactful, wait_for
from fixtures.workspace import Workspace
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from tactful.feedback.store import read_events

METHOD = "tactful/nextEdits"

HAS_KEY = """\
def lookup(d, k, defaults):
    if d.has_key(k):
        return d[k]
    if defaults.has_key(k):
        return defaults[k]
    return cache.has_key(k)
"""


async def next_edits(lsp: LanguageClient, uri: str, line: int, character: int) -> list:
    answer = await lsp.protocol.send_request_async(
        METHOD,
        {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
    )
    return list(answer.items)


async def command(lsp: LanguageClient, name: str, *arguments: object) -> object:
    return await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )


def apply(text: str, item) -> str:
    """``text`` with an item applied, as an editor applies it (UTF-16 columns of ASCII text)."""
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: item.range.start.line])
    end = sum(len(line) + 1 for line in lines[: item.range.end.line])
    start += item.range.start.character
    end += item.range.end.character
    return text[:start] + item.newText + text[end:]


async def started(lsp: LanguageClient, project: Workspace, store: Path, **options) -> object:
    options.setdefault("feedback", {"store": str(store)})
    return await lsp.initialize_session(init_params(project.root, options))


async def test_next_edits_are_advertised_and_follow_a_repeated_edit(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    result = await started(lsp, workspace, store)
    assert result.capabilities.experimental["tactfulNextEdits"] is True
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, HAS_KEY)
    # The developer rewrites the first ``has_key``.
    change_document(lsp, uri, 2, (1, 7), (1, 19), "k in d")
    items = await next_edits(lsp, uri, 1, 13)
    assert [item.uri for item in items] == [uri, uri]
    text = HAS_KEY.replace("d.has_key(k)", "k in d")
    first = apply(text, items[0]).split("\n")
    assert first[3] == "    if k in defaults:"
    assert items[0].label == "`d.has_key(k)` → `k in d` (1 more)"
    assert all(isinstance(item.id, str) and item.id for item in items)

    # Accepted: the editor applies it, then runs the accept command.
    change_document(
        lsp,
        uri,
        3,
        (items[0].range.start.line, items[0].range.start.character),
        (items[0].range.end.line, items[0].range.end.character),
        items[0].newText,
    )
    assert await command(lsp, "tactful.acceptSuggestion", items[0].id) is True
    # Dismissed: the other one.
    assert await command(lsp, "tactful.rejectSuggestion", items[1].id) is True

    def recorded() -> list:
        events = read_events(store)
        kinds = {(e.kind, e.item_id) for e in events}
        wanted = {
            ("next_edit.accepted", items[0].id),
            ("next_edit.rejected", items[1].id),
        }
        return events if wanted <= kinds else []

    events = await wait_for(recorded)
    shown = [e for e in events if e.kind == "next_edit.shown"]
    assert {e.item_id for e in shown} == {items[0].id, items[1].id}
    assert all(e.code is None and e.code_hash and e.detail["source"] == "repeat" for e in shown)
    rejected = next(e for e in events if e.kind == "next_edit.rejected")
    assert rejected.explicit

    # The dismissed one is not proposed again.
    assert await next_edits(lsp, uri, 3, 20) == []


async def test_next_edits_passed_by_are_inferred_rejected_and_counted_in_stats(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    await started(lsp, workspace, store)
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, HAS_KEY)
    change_document(lsp, uri, 2, (1, 7), (1, 19), "k in d")
    (first, second) = await next_edits(lsp, uri, 1, 13)
    # The developer takes the second by hand and writes something else over the first's place.
    text = apply(HAS_KEY.replace("d.has_key(k)", "k in d"), second)
    lines = text.split("\n")
    lines[3] = "    if k in (defaults or {}):"
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="\n".join(lines))],
        )
    )
    await next_edits(lsp, uri, 3, 10)

    def recorded() -> list:
        events = read_events(store)
        return events if any(e.kind == "next_edit.rejected" for e in events) else []

    events = await wait_for(recorded)
    rejected = [(e.item_id, e.explicit) for e in events if e.kind == "next_edit.rejected"]
    # Typed by hand is not a rejection; the one written over is, inferred.
    assert rejected == [(first.id, False)]

    # ``tactful stats`` reads the same store.
    done = tactful("stats", "--store", str(store), "--format", "json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["next_edits"]
    assert summary["shown"] == 2 and summary["accepted"] == 0
    assert summary["rejected"] == {"explicit": 0, "inferred": 1}
    assert summary["sources"] == {"repeat": {"shown": 2, "accepted": 0}}
    text_report = tactful("stats", "--store", str(store)).stdout
    assert "next edits shown" in text_report


async def test_a_signature_change_is_followed_into_another_file_in_utf16_columns(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    workspace.write("lib.py", "def fetch(url, retries):\n    return url\n")
    # A character outside the Basic Multilingual Plane counts as two UTF-16 units.
    workspace.write("app.py", "from lib import fetch\n\nprint('🐍', fetch('x', 3))\n")
    workspace.commit("init")
    await started(lsp, workspace, tmp_path / "fb.sqlite3")
    uri = workspace.uri("lib.py")
    open_document(lsp, uri, workspace.read("lib.py"))
    change_document(lsp, uri, 2, (0, 13), (0, 22), "")
    (item,) = await next_edits(lsp, uri, 0, 13)
    assert item.uri == workspace.uri("app.py")
    assert (item.range.start.line, item.range.start.character) == (2, 21)
    assert (item.range.end.line, item.range.end.character) == (2, 24)
    assert item.newText == ""
    # Nothing ran: the workspace is not trusted, and the label says so.
    assert item.label == (
        "remove `retries` in the call to `fetch` — not validated (workspace not trusted)"
    )


async def test_params_that_do_not_fit_get_an_error_and_the_server_keeps_serving(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    await started(lsp, workspace, tmp_path / "fb.sqlite3")
    try:
        await lsp.protocol.send_request_async(METHOD, {"textDocument": {}})
    except JsonRpcInvalidParams as error:
        assert "position" in str(error) or "uri" in str(error)
    else:
        raise AssertionError("the request was answered without an error")
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, HAS_KEY)
    # A document that is not open, and a position past the end: nothing, not an error.
    assert await next_edits(lsp, workspace.uri("nowhere.py"), 0, 0) == []
    assert await next_edits(lsp, uri, 500, 3) == []


async def test_next_edits_can_be_turned_off(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    await started(lsp, workspace, tmp_path / "fb.sqlite3", nextEdits={"enabled": False})
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, HAS_KEY)
    change_document(lsp, uri, 2, (1, 7), (1, 19), "k in d")
    assert await next_edits(lsp, uri, 1, 13) == []


async def test_a_slow_model_holds_up_nothing_and_a_stale_answer_is_dropped(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path, fake_llm
) -> None:
    options = {
        "llm": {"model": "openai/fake", "apiBase": fake_llm.url, "timeoutS": 30},
        "completion": {"engine": "local"},
        "filter": {"enabled": False},
    }
    await started(lsp, workspace, tmp_path / "fb.sqlite3", **options)
    fake_llm.default = Reply("", delay_s=8.0)
    uri = workspace.uri("mod.py")
    text = "import os\n\nleft = os.path.join(base, 'left')\nright = os.path.join(base, 'right')\n"
    open_document(lsp, uri, text + "middle = os.pa")
    change_document(lsp, uri, 2, (4, 14), (4, 14), "t")
    asked = asyncio.ensure_future(next_edits(lsp, uri, 4, 15))
    await wait_for(lambda: fake_llm.requests)
    # While the model thinks, the server answers completions...
    answer = await lsp.text_document_inline_completion_async(inline_at(uri, 4, 15))
    assert answer is not None
    assert not asked.done()
    # ...and follows edits: the next-edit answer, computed for an older text, is dropped.
    change_document(lsp, uri, 3, (4, 15), (4, 15), "h")
    assert await asked == []


async def test_a_next_edit_on_the_cursors_line_comes_as_an_inline_completion(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    await started(lsp, workspace, store, completion={"engine": "local"})
    uri = workspace.uri("mod.py")
    ready: list = []
    lsp.protocol.fm.features["tactful/inlineCompletionReady"] = ready.append
    open_document(lsp, uri, HAS_KEY)
    change_document(lsp, uri, 2, (1, 7), (1, 19), "k in d")
    # The cursor on the line of the next edit, before it: the engines have nothing there, and
    # the request does not wait for the next-edit engine: nothing yet.
    first = await lsp.text_document_inline_completion_async(inline_at(uri, 3, 4))
    assert first is None or not first.items
    # After a pause the next edit is ready, and the editor is told to ask again there.
    (told,) = await wait_for(lambda: ready)
    assert (told.textDocument.uri, told.textDocument.version) == (uri, 2)
    assert (told.position.line, told.position.character) == (3, 4)
    # Asked again at that moment, the next edit comes as one item reaching from the cursor
    # to the end of the edit.
    answer = await lsp.text_document_inline_completion_async(inline_at(uri, 3, 4))
    assert answer is not None
    (item,) = answer.items
    assert item.insert_text == "if k in defaults"
    assert (item.range.start.line, item.range.start.character) == (3, 4)
    assert (item.range.end.line, item.range.end.character) == (3, 26)
    assert item.command is not None and item.command.command == "tactful.acceptSuggestion"
    (item_id,) = item.command.arguments

    # Applied and accepted as an editor does: recorded as a next edit accepted.
    change_document(lsp, uri, 3, (3, 4), (3, 26), item.insert_text)
    assert await command(lsp, "tactful.acceptSuggestion", item_id) is True

    def recorded() -> list:
        events = read_events(store)
        return events if any(e.kind == "next_edit.accepted" for e in events) else []

    events = await wait_for(recorded)
    assert [e.item_id for e in events if e.kind == "next_edit.accepted"] == [item_id]
    assert [e.item_id for e in events if e.kind == "next_edit.shown"] == [item_id]
    assert not [e for e in events if e.kind == "completion.accepted"]


async def test_a_next_edit_on_another_line_is_not_an_inline_completion(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    await started(lsp, workspace, store, completion={"engine": "local"})
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, HAS_KEY)
    change_document(lsp, uri, 2, (1, 7), (1, 19), "k in d")
    # On the line below the edit: the best next edit is two lines further, so the editor is
    # never told to ask again, and asking again gives nothing.
    ready: list = []
    lsp.protocol.fm.features["tactful/inlineCompletionReady"] = ready.append
    answer = await lsp.text_document_inline_completion_async(inline_at(uri, 2, 8))
    assert answer is None or not answer.items
    # The next-edit request shows it: it exists, it is just not on the cursor's line.
    (first, _second) = await next_edits(lsp, uri, 2, 8)
    assert first.range.start.line == 3
    # By now the inline one was prepared (the pause is long past) and found nothing there.
    again = await lsp.text_document_inline_completion_async(inline_at(uri, 2, 8))
    assert again is None or not again.items
    assert ready == []


LIB = "def fetch(url, retries):\n    return url * retries\n"
APP = 'from lib import fetch\n\n\ndef main():\n    return fetch("x", 3)\n'


async def open_trusted_fetch_project(
    lsp: LanguageClient, workspace: Workspace, store: Path, expected: str
) -> str:
    """lib.py and app.py with a test that `main()` returns `expected`, trusted, lib.py open."""
    workspace.write("lib.py", LIB)
    workspace.write("app.py", APP)
    workspace.write(
        "tests/test_app.py",
        f"from app import main\n\n\ndef test_main():\n    assert main() == {expected!r}\n",
    )
    workspace.commit("fetch")
    await started(
        lsp,
        workspace,
        store,
        workspace={"trusted": True},
        validation={"python": sys.executable},
    )
    uri = workspace.uri("lib.py")
    open_document(lsp, uri, LIB)
    return uri


async def test_in_a_trusted_workspace_an_edit_in_another_file_is_shown_once_its_tests_pass(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    uri = await open_trusted_fetch_project(lsp, workspace, tmp_path / "fb.sqlite3", "x")
    # The developer drops `retries` from the signature and the body (unsaved: the sandbox gets
    # the editor's text).
    change_document(lsp, uri, 2, (1, 14), (1, 24), "")
    change_document(lsp, uri, 3, (0, 13), (0, 22), "")
    (item,) = await next_edits(lsp, uri, 0, 13)
    assert item.uri == workspace.uri("app.py")
    assert item.label == "remove `retries` in the call to `fetch` — 1 test passed"
    # The file on disk was not touched: the tests ran on a sandboxed copy.
    assert workspace.read("app.py") == APP


async def test_in_a_trusted_workspace_an_edit_in_another_file_the_tests_fail_is_not_shown(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    uri = await open_trusted_fetch_project(lsp, workspace, tmp_path / "fb.sqlite3", "xxx")
    # The signature loses `retries` but the body still uses it: the call in app.py, followed,
    # fails the test (a NameError), so it is not shown.
    change_document(lsp, uri, 2, (0, 13), (0, 22), "")
    assert await next_edits(lsp, uri, 0, 13) == []
    # Once the body no longer needs it, the same next edit passes and is shown.
    change_document(lsp, uri, 3, (1, 17), (1, 24), "3")
    (item,) = await next_edits(lsp, uri, 1, 18)
    assert item.uri == workspace.uri("app.py")
    assert item.label == "remove `retries` in the call to `fetch` — 1 test passed"

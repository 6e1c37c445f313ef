"""The feedback loop inside the real server, over stdio."""

from __future__ import annotations

from pathlib import Path

from fixtures.lsp import REPEATED, change_document, init_params, inline_at, open_document, wait_for
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.feedback.store import StoreUnavailable, read_events


async def test_a_corrupt_store_is_said_once_and_the_server_keeps_serving(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database " * 500)
    await lsp.initialize_session(init_params(workspace.root, {"feedback": {"store": str(bad)}}))
    message = await wait_for(
        lambda: next((m for m in lsp.messages if "feedback store" in m.message), None)
    )
    assert message.type == types.MessageType.Warning
    assert str(bad) in message.message and "in memory" in message.message
    uri = (workspace.root / "a.py").as_uri()
    open_document(lsp, uri, "import os\n")
    change_document(lsp, uri, 2, (1, 0), (1, 0), "x = 1\n")
    # Still answering requests after the store failed.
    answer = await lsp.text_document_inline_completion_async(inline_at(uri, 1, 5))
    assert answer is not None
    assert sum("feedback store" in m.message for m in lsp.messages) == 1
    assert bad.read_bytes().startswith(b"not a database")


def set_up(path: Path) -> bool:
    """Whether the store exists and its writer has brought it to the current schema (a reader
    can meet it between two migration steps while the server creates it)."""
    try:
        read_events(path)
    except StoreUnavailable:
        return False
    return path.exists()


async def test_the_store_is_created_where_the_setting_says(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    target = tmp_path / "store" / "fb.sqlite3"
    await lsp.initialize_session(init_params(workspace.root, {"feedback": {"store": str(target)}}))
    await wait_for(lambda: set_up(target))
    assert read_events(target) == []
    assert not any("feedback store" in m.message for m in lsp.messages)


async def first_item(lsp: LanguageClient, uri: str, line: int, character: int):
    answer = await lsp.text_document_inline_completion_async(inline_at(uri, line, character))
    items = answer.items if isinstance(answer, types.InlineCompletionList) else answer
    assert items, "the local engine had a suggestion"
    return items[0]


async def test_accepts_explicit_and_inferred_rejections_are_recorded(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    await lsp.initialize_session(
        init_params(
            workspace.root,
            {
                "completion": {"engine": "local"},
                # Shown whatever the model thinks, so the test knows what the editor sees.
                "filter": {"enabled": False},
                "feedback": {"store": str(store)},
            },
        )
    )
    uri = workspace.uri("m.py")
    line = "middle = os.pa"
    open_document(lsp, uri, REPEATED + line)
    # 1. Accepted: the editor inserts the text, then runs the item's command.
    item = await first_item(lsp, uri, 4, len(line))
    change_document(lsp, uri, 2, (4, len(line)), (4, len(line)), item.insert_text)
    await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
    )
    (accepted_id,) = item.command.arguments
    # 2. Dismissed by the editor.
    text = REPEATED + line + item.insert_text + " 'middle')\nfar = os.pa"
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    item = await first_item(lsp, uri, 5, len("far = os.pa"))
    (dismissed_id,) = item.command.arguments
    await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tactful.rejectSuggestion", arguments=[dismissed_id])
    )
    # 3. Typed over: the developer writes something else where it was shown.
    item = await first_item(lsp, uri, 5, len("far = os.pa"))
    (typed_over_id,) = item.command.arguments
    change_document(lsp, uri, 4, (5, len("far = os.pa")), (5, len("far = os.pa")), "rdir")

    def recorded() -> list:
        events = read_events(store)
        done = {e.item_id for e in events if e.kind == "suggestion.rejected"}
        return events if typed_over_id in done and dismissed_id in done else []

    events = await wait_for(recorded)
    outcome = {(e.kind, e.item_id, e.explicit) for e in events}
    assert ("suggestion.accepted", accepted_id, False) in outcome
    assert ("suggestion.rejected", dismissed_id, True) in outcome
    assert ("suggestion.rejected", typed_over_id, False) in outcome
    shown = [e for e in events if e.kind == "suggestion.shown"]
    assert {accepted_id, dismissed_id, typed_over_id} <= {e.item_id for e in shown}
    assert all(e.code is None and e.code_hash and e.features for e in shown)

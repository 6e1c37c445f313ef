"""Inline and list completions through the real server over stdio."""

from __future__ import annotations

import asyncio

from fixtures.lsp import (
    REPEATED,
    change_document,
    indexed,
    init_params,
    inline_at,
    open_document,
)
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities


async def inline(lsp: LanguageClient, uri: str, line: int, character: int) -> list:
    # Asked for by a key: shown whatever the acceptance filter predicts, so that these tests of
    # the protocol do not depend on the shipped prior's judgement (the filter has its own).
    params = inline_at(uri, line, character, invoked=True)
    answer = await lsp.text_document_inline_completion_async(params)
    if answer is None:
        return []
    return list(answer.items if isinstance(answer, types.InlineCompletionList) else answer)


async def test_inline_items_carry_an_id_and_the_accept_command(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    await lsp.initialize_session(init_params(workspace.root, {"completion": {"engine": "local"}}))
    uri = workspace.uri("m.py")
    text = REPEATED + "middle = os.pa"
    open_document(lsp, uri, text)
    items = await inline(lsp, uri, 4, len("middle = os.pa"))
    assert len(items) == 1
    item = items[0]
    assert item.insert_text == "th.join(base,"
    assert item.range == types.Range(
        start=types.Position(line=4, character=14), end=types.Position(line=4, character=14)
    )
    assert item.command.command == "tactful.acceptSuggestion"
    (suggestion_id,) = item.command.arguments
    assert isinstance(suggestion_id, str) and suggestion_id
    accepted = await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tactful.acceptSuggestion", arguments=[suggestion_id])
    )
    assert accepted is True
    unknown = await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tactful.rejectSuggestion", arguments=["nope"])
    )
    assert unknown is False


async def test_ranges_count_utf16_units_before_the_cursor(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    await lsp.initialize_session(init_params(workspace.root, {"completion": {"engine": "local"}}))
    uri = workspace.uri("m.py")
    # Two characters outside the Basic Multilingual Plane on the line: 2 UTF-16 units each.
    prefix = "s = '😀𝄞'; middle = os.pa"
    open_document(lsp, uri, REPEATED + prefix)
    units = len(prefix.encode("utf-16-le")) // 2
    assert units == len(prefix) + 2
    items = await inline(lsp, uri, 4, units)
    assert [i.insert_text for i in items] == ["th.join(base,"]
    assert items[0].range.start == types.Position(line=4, character=units)
    assert items[0].range.end == types.Position(line=4, character=units)


async def test_a_result_for_an_older_version_is_never_returned(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    await lsp.initialize_session(init_params(workspace.root, {"completion": {"engine": "local"}}))
    uri = workspace.uri("m.py")
    open_document(lsp, uri, REPEATED + "middle = os.pa")
    pending = asyncio.ensure_future(inline(lsp, uri, 4, 14))
    # The line changes while the request is answered: whatever comes back must not be the
    # suggestion for the old line.
    change_document(lsp, uri, 2, (4, 0), (4, 14), "z")
    older = await pending
    assert all(item.insert_text != "th.join(base," for item in older)
    newer = await inline(lsp, uri, 4, 1)
    assert all(item.insert_text != "th.join(base," for item in newer)


async def test_a_newer_request_for_a_document_supersedes_the_older(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    await lsp.initialize_session(init_params(workspace.root, {"completion": {"engine": "local"}}))
    uri = workspace.uri("m.py")
    open_document(lsp, uri, REPEATED + "middle = os.pa")
    first, second = await asyncio.gather(inline(lsp, uri, 4, 14), inline(lsp, uri, 4, 14))
    # Both are answered (no error), and at most one of them with the suggestion.
    assert [i.insert_text for i in second] == ["th.join(base,"]
    assert len(first) <= 1


async def test_the_workspace_is_indexed_in_the_background_with_progress(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    helpers = (
        "def normalise_header_name(name):\n    return name.strip().lower()\n\n\n"
        "key = normalise_header_name(raw)\n"
    )
    for number in range(3):
        workspace.write(f"pkg/m{number}.py", helpers)
    workspace.commit("helpers")
    await lsp.initialize_session(init_params(workspace.root, {"completion": {"engine": "local"}}))
    await indexed(lsp)
    uri = workspace.uri("new.py")
    line = "value = normalise_h"
    open_document(lsp, uri, line)
    items = await inline(lsp, uri, 0, len(line))
    # The name only the index knows, completed (its argument too where the statistics are
    # sure enough of it).
    assert len(items) == 1 and items[0].insert_text in ("eader_name", "eader_name(raw)")


async def test_clients_without_inline_completion_get_a_completion_list(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    capabilities = client_capabilities("visual-studio-code")
    capabilities.text_document.inline_completion = None
    await lsp.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=workspace.root.as_uri(),
            # A completion request cannot say whether it was asked for by a key, so the
            # filter judges it; this test is about the list, not the filter.
            initialization_options={
                "completion": {"engine": "local"},
                "filter": {"enabled": False},
            },
        )
    )
    uri = workspace.uri("m.py")
    open_document(lsp, uri, REPEATED + "middle = os.pa")
    answer = await lsp.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=4, character=14),
        )
    )
    assert isinstance(answer, types.CompletionList) and answer.is_incomplete
    (item,) = answer.items
    assert item.text_edit.new_text == "path.join(base,"
    assert item.text_edit.range.start == types.Position(line=4, character=12)
    assert item.command.command == "tactful.acceptSuggestion"
    assert item.command.arguments and isinstance(item.command.arguments[0], str)

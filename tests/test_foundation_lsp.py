"""The server over real stdio, driven by pytest-lsp as an editor would."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fixtures.lsp import REPEATED, change_document, init_params, inline_at, open_document, wait_for
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient, make_test_lsp_client

from tactful.analyzers.document import Document
from tactful.server.convert import to_changes


async def test_initialize_advertises_the_design_capabilities(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    result = await lsp.initialize_session(init_params(workspace.root, pull_diagnostics=True))
    caps = result.capabilities
    assert result.server_info is not None and result.server_info.name == "tactful"
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Incremental and sync.open_close
    assert caps.diagnostic_provider is not None
    assert caps.execute_command_provider is not None
    assert caps.position_encoding in ("utf-16", types.PositionEncodingKind.Utf16)


async def test_bad_settings_are_named_once_and_the_rest_applies(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    await lsp.initialize_session(
        init_params(workspace.root, {"completion": {"maxLines": "lots", "engine": "local"}})
    )
    message = await wait_for(
        lambda: next((m for m in lsp.messages if "completion.maxLines" in m.message), None)
    )
    assert message.type == types.MessageType.Warning
    lsp.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"tactful": {"review": {"base": 7}}})
    )
    await wait_for(lambda: any("review.base" in m.message for m in lsp.messages))
    assert sum("completion.maxLines" in m.message for m in lsp.messages) == 1


async def test_log_messages_reach_the_client(lsp: LanguageClient, workspace: Workspace) -> None:
    await lsp.initialize_session(init_params(workspace.root))
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(
                uri="file:///nowhere.py", version=2
            ),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x")],
        )
    )
    await wait_for(lambda: any("not open" in m.message for m in lsp.log_messages))


async def test_edits_with_astral_characters_stay_in_sync(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    await lsp.initialize_session(init_params(workspace.root, pull_diagnostics=True))
    uri = workspace.uri("a.py")
    open_document(lsp, uri, "s = '😀'\nt = 1\n")
    # Replace the "1" on line 1 and insert after the emoji (UTF-16 column 7 is after 😀).
    change_document(lsp, uri, 2, (0, 7), (0, 7), "é")
    change_document(lsp, uri, 3, (1, 4), (1, 5), "2")
    result = await lsp.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert result.kind == "full"


@pytest.mark.parametrize(
    ("encoding", "character"),
    [("utf-16", 7), ("utf-8", 9), ("utf-32", 6)],
)
def test_client_changes_convert_in_the_negotiated_encoding(encoding: str, character: int) -> None:
    document = Document("file:///a.py", "s = '😀'\n", 1, "python")
    changes = to_changes(
        [
            types.TextDocumentContentChangePartial(
                range=types.Range(
                    start=types.Position(line=0, character=character),
                    end=types.Position(line=0, character=character),
                ),
                text="é",
            )
        ],
        document,
        encoding,
    )
    document.apply(changes, 2)
    assert document.text == "s = '😀é'\n"


async def test_clients_that_cannot_be_asked_to_pull_again_are_pushed_to(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    capabilities = init_params(workspace.root, client="neovim@v0.11.0")
    # Neovim 0.11 pulls but has no workspace/diagnostic/refresh: pull is not offered to it.
    result = await lsp.initialize_session(capabilities)
    assert result.capabilities.diagnostic_provider is None


async def test_status_notification_follows_settings_and_trust(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    statuses: list = []
    lsp.protocol.fm.features["tactful/status"] = statuses.append
    await lsp.initialize_session(init_params(workspace.root))
    await wait_for(lambda: statuses)
    first = statuses[0]  # pygls' client turns unknown params into attribute objects
    assert first.engine == "local" and first.trusted is False
    assert first.validation.enabled is False
    # Trust never comes from settings a repository can write; the editor's own trust
    # decision has a notification of its own.
    lsp.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"workspace": {"trusted": True}})
    )
    await wait_for(lambda: any("workspace.trusted" in m.message for m in lsp.messages))
    lsp.protocol.notify("tactful/workspaceTrusted", {"trusted": True})
    await wait_for(lambda: len(statuses) > 1)
    assert len(statuses) == 2
    assert statuses[-1].trusted is True and statuses[-1].validation.enabled is True


async def test_the_module_runs_isolated_from_the_working_directory(tmp_path: Path) -> None:
    """An editor starts ``python -m tactful.server`` in the project it edits; the project's own
    ``logging.py`` (and the like) must not replace the standard library's in the server, at
    start-up or when a feature first imports what it needs."""
    project = Workspace(tmp_path / "project")
    for name in ("logging", "json", "asyncio", "typing", "subprocess"):
        project.write(f"{name}.py", f'raise ImportError("the project\'s {name}.py was run")\n')
    client = make_test_lsp_client()
    # Deliberately without ``-P``: the module itself must keep the working directory out.
    await client.start_io(sys.executable, "-m", "tactful.server", "serve", cwd=project.root)
    try:
        await client.initialize_session(
            init_params(project.root, {"quality": {"select": ["F401"]}}, client="emacs")
        )
        uri = project.uri("m.py")
        open_document(client, uri, "import re\n" + REPEATED + "middle = os.pa")
        found = await wait_for(
            lambda: [d for d in client.diagnostics.get(uri, []) if d.source == "tactful.quality"]
        )
        assert [d.code for d in found] == ["F401"]
        answer = await client.text_document_inline_completion_async(
            inline_at(uri, 5, len("middle = os.pa"), invoked=True)
        )
        assert answer is not None
        items = answer.items if isinstance(answer, types.InlineCompletionList) else answer
        # The name at least, never past the call's first argument: where it stops depends on
        # whether the shipped language statistics were read yet (a loaded machine is slower).
        assert [item.insert_text for item in items] in (
            ["th.join"],
            ["th.join("],
            ["th.join(base"],
            ["th.join(base,"],
        )
    finally:
        await client.shutdown_session()
    assert not [m for m in client.log_messages if "was run" in m.message]

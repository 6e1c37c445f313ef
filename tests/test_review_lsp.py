"""Review diagnostics over real stdio: on changed lines only, refreshed after edits and saves,
merged with other sources, dismissed through the code action, and the model's comments under
``$/progress``."""

from __future__ import annotations

import json

from fixtures.fake_llm import FakeLLM, Reply
from fixtures.lsp import change_document, init_params, open_document, wait_for
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.feedback import events as ev
from tactful.feedback.store import default_store_path, read_events

SOURCE = "tactful.review"

OLD = 'import os\n\n\ndef area(w, h):\n    """Area of a w by h rectangle."""\n    return w * h\n'
NEW = (
    'import os\n\n\ndef area(w, h):\n    """Area of a w by h rectangle."""\n    print(w)\n'
    "    return w * h\n"
)


def review_diagnostics(lsp: LanguageClient, uri: str) -> list[types.Diagnostic]:
    return [d for d in lsp.diagnostics.get(uri, []) if d.source == SOURCE]


def lines_of(diagnostics: list[types.Diagnostic]) -> list[tuple[int, str]]:
    return sorted((d.range.start.line + 1, str(d.code)) for d in diagnostics)


def read_code_actions_as_sent(lsp: LanguageClient) -> None:
    """lsprotocol's client side reads any item with a ``command`` key as a ``Command``, but a
    ``CodeAction`` may carry a command object too (LSP 3.16): tell them apart by its type."""
    converter = lsp.protocol._converter

    def structure(item: dict, _: object) -> types.Command | types.CodeAction:
        kind = types.Command if isinstance(item.get("command"), str) else types.CodeAction
        return converter.structure(item, kind)

    converter.register_structure_hook(types.Command | types.CodeAction, structure)


def repo(workspace: Workspace) -> Workspace:
    workspace.write("geo.py", OLD)
    workspace.write("other.py", "x = 1\n")
    workspace.commit("init")
    workspace.write("geo.py", NEW)
    return workspace


async def test_comments_on_changed_lines_follow_edits_and_dismissals(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    repo(workspace)
    # Every quality finding, the unchanged line's `import os` included (the default scope shows
    # only those on changed lines).
    await lsp.initialize_session(init_params(workspace.root, {"quality": {"scope": "all"}}))
    uri = workspace.uri("geo.py")
    open_document(lsp, uri, NEW)

    await wait_for(lambda: review_diagnostics(lsp, uri))
    # `import os` is unused (F401), but it did not change: no review comment there.
    assert lines_of(review_diagnostics(lsp, uri)) == [(6, "debug-leftover")]
    # The quality findings of the same document are published with ours, not replaced.
    await wait_for(lambda: any(d.source == "tactful.quality" for d in lsp.diagnostics[uri]))
    assert review_diagnostics(lsp, uri)

    # An edit adds a breakpoint below: reviewed after the debounce, in the new version.
    change_document(lsp, uri, 2, (6, 0), (6, 0), "    breakpoint()\n")
    await wait_for(lambda: len(review_diagnostics(lsp, uri)) == 2)
    assert lines_of(review_diagnostics(lsp, uri)) == [
        (6, "debug-leftover"),
        (7, "debug-leftover"),
    ]

    printed = next(d for d in review_diagnostics(lsp, uri) if d.range.start.line == 5)
    read_code_actions_as_sent(lsp)
    actions = await lsp.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=printed.range,
            context=types.CodeActionContext(diagnostics=[printed]),
        )
    )
    (action,) = [a for a in actions or [] if a.title.startswith("Not useful")]
    assert action.command is not None and action.command.command == "tactful.dismissComment"
    comment_id = action.command.arguments[0]
    assert comment_id == printed.data["id"]

    done = await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )
    assert done is True
    await wait_for(lambda: len(review_diagnostics(lsp, uri)) == 1)
    assert lines_of(review_diagnostics(lsp, uri)) == [(7, "debug-leftover")]

    # Another edit, and the dismissed comment stays away.
    change_document(lsp, uri, 3, (0, 0), (0, 0), "LIMIT = 1\n")
    await wait_for(lambda: lines_of(review_diagnostics(lsp, uri)) == [(8, "debug-leftover")])

    def recorded() -> set[tuple[str, str]]:
        return {(e.kind, e.item_id) for e in read_events(default_store_path())}

    await wait_for(lambda: (ev.COMMENT_DISMISSED, comment_id) in recorded())
    assert (ev.COMMENT_SHOWN, comment_id) in recorded()


async def test_review_changes_covers_files_not_open(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    repo(workspace)
    workspace.write("other.py", "x = 1\nbreakpoint()\n")
    await lsp.initialize_session(init_params(workspace.root))

    result = await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tactful.reviewChanges")
    )

    assert result == {"files": 2, "comments": 2}
    assert lines_of(review_diagnostics(lsp, workspace.uri("other.py"))) == [(2, "debug-leftover")]
    assert lines_of(review_diagnostics(lsp, workspace.uri("geo.py"))) == [(6, "debug-leftover")]


async def test_model_comments_on_save_with_progress_and_nothing_misplaced(
    lsp: LanguageClient, workspace: Workspace, fake_llm: FakeLLM
) -> None:
    repo(workspace)
    options = {"llm": {"model": "openai/fake", "apiBase": fake_llm.url}}
    await lsp.initialize_session(init_params(workspace.root, options))
    uri = workspace.uri("geo.py")
    fake_llm.script(
        Reply(
            json.dumps(
                {
                    "comments": [
                        {"line": 6, "quote": "print(w)", "comment": "Debug output to stdout."},
                        {"line": 1, "comment": "Unchanged import: must not show."},
                        {"line": 40, "comment": "Past the end: must not show."},
                    ]
                }
            )
        )
    )
    open_document(lsp, uri, NEW)
    await wait_for(lambda: review_diagnostics(lsp, uri))

    lsp.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await wait_for(lambda: any(d.code == "llm" for d in review_diagnostics(lsp, uri)))

    assert lines_of(review_diagnostics(lsp, uri)) == [(6, "debug-leftover"), (6, "llm")]
    assert "def area(w, h):" in fake_llm.prompts()[0]
    reports = [r for values in lsp.progress_reports.values() for r in values]
    assert any(
        isinstance(r, types.WorkDoneProgressBegin) and r.title == "Reviewing changes"
        for r in reports
    )
    assert any(isinstance(r, types.WorkDoneProgressEnd) for r in reports)

    # Edits keep the model's comment on its line (no new request), and move it with the code.
    change_document(lsp, uri, 2, (0, 0), (0, 0), "LIMIT = 1\n")
    await wait_for(
        lambda: lines_of(review_diagnostics(lsp, uri)) == [(7, "debug-leftover"), (7, "llm")]
    )
    assert len(fake_llm.requests) == 1

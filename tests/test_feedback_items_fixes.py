"""Quick fixes through the feedback loop, over real stdio with real ruff and a real store: each
action carries ``tactful.fixApplied``; applied fixes raise their rule, ignored ones (solved
another way, or left when the document closes) are learned once and then hidden, fix-all is not
filtered, and in a trusted workspace the tests' verdict is recorded once per fix."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

from fixtures.lsp import apply_lsp_edits, init_params, open_document, wait_for
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.feedback import events as ev
from tactful.feedback.store import read_events

QUALITY = "tactful.quality"
FIX_APPLIED = "tactful.fixApplied"


def options(store: Path, **more: object) -> dict[str, object]:
    # No exploration: what the model would hide stays hidden, so the test knows what is offered.
    return {"filter": {"explore": 0.0}, "feedback": {"store": str(store)}, **more}


def findings(lsp: LanguageClient, uri: str) -> list[tuple[int, str]]:
    return sorted(
        (d.range.start.line, str(d.code))
        for d in lsp.diagnostics.get(uri, [])
        if d.source == QUALITY
    )


def lines(first: int, last: int) -> types.Range:
    return types.Range(
        start=types.Position(line=first, character=0), end=types.Position(line=last, character=0)
    )


async def actions(
    lsp: LanguageClient,
    uri: str,
    where: types.Range,
    only: list[str] | None = None,
    trigger: types.CodeActionTriggerKind | None = None,
) -> list[types.CodeAction]:
    """The code actions for ``where`` once the server has them for the document's version."""
    deadline = time.monotonic() + 30
    while True:
        found = await lsp.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=where,
                context=types.CodeActionContext(diagnostics=[], only=only, trigger_kind=trigger),
            )
        )
        if found or time.monotonic() > deadline:
            return [a for a in found or [] if isinstance(a, types.CodeAction)]
        await asyncio.sleep(0.1)


def quick_fixes(found: list[types.CodeAction]) -> list[types.CodeAction]:
    return [a for a in found if a.kind == types.CodeActionKind.QuickFix]


def replace_all(lsp: LanguageClient, uri: str, version: int, text: str) -> None:
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def events_of(store: Path, kind: str) -> list[ev.Event]:
    return [e for e in read_events(store) if e.kind == kind]


async def open_linted(
    lsp: LanguageClient, workspace: Workspace, store: Path, rules: list[str], text: str
) -> tuple[types.InitializeResult, str]:
    """A session whose ruff selects ``rules``, with ``mod.py`` open on ``text``: the
    initialize result and the document's uri."""
    workspace.write("pyproject.toml", f"[tool.ruff.lint]\nselect = {rules!r}\n")
    result = await lsp.initialize_session(init_params(workspace.root, options(store)))
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, text)
    return result, uri


async def test_an_applied_fix_is_recorded_and_raises_its_rule(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    text = "import os\nimport sys\n\n\ndef f():\n    return 1\n"
    result, uri = await open_linted(lsp, workspace, store, ["F401"], text)
    assert FIX_APPLIED in result.capabilities.execute_command_provider.commands
    await wait_for(lambda: findings(lsp, uri) == [(0, "F401"), (1, "F401")])

    (first,) = quick_fixes(await actions(lsp, uri, lines(0, 1)))
    assert "`os`" in first.title
    assert first.command is not None and first.command.command == FIX_APPLIED
    (first_id,) = first.command.arguments
    # The editor applies the edit, then runs the action's command.
    resolved = await lsp.code_action_resolve_async(first)
    text = apply_lsp_edits(text, resolved.edit)
    assert text.startswith("import sys\n")
    replace_all(lsp, uri, 2, text)
    done = await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command=FIX_APPLIED, arguments=first.command.arguments)
    )
    assert done is True

    await wait_for(lambda: findings(lsp, uri) == [(0, "F401")])
    (second,) = quick_fixes(await actions(lsp, uri, lines(0, 1)))
    assert "`sys`" in second.title
    (second_id,) = second.command.arguments
    assert second_id != first_id

    offered = await wait_for(
        lambda: len(events_of(store, ev.FIX_OFFERED)) == 2 and events_of(store, ev.FIX_OFFERED)
    )
    by_id = {e.item_id: e for e in offered}
    # Learned from the applied fix: the next fix of the same rule is more likely useful.
    assert by_id[second_id].probability > by_id[first_id].probability
    (taken,) = events_of(store, ev.FIX_APPLIED)
    assert taken.item_id == first_id and taken.explicit
    assert taken.detail["rule"] == "F401" and taken.detail["kind"] == "fix"
    assert not events_of(store, ev.FIX_IGNORED)


async def test_ignored_fixes_are_learned_once_then_hidden_but_fix_all_keeps_them(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    text = "import os\nimport sys\nimport json\n\n\ndef f():\n    unused = 1\n    return 1\n"
    _, uri = await open_linted(lsp, workspace, store, ["F401", "F841"], text)
    await wait_for(lambda: len(findings(lsp, uri)) == 4)

    whole = lines(0, 8)
    offered = quick_fixes(await actions(lsp, uri, whole))
    assert len(offered) == 4 and all(a.command.command == FIX_APPLIED for a in offered)
    ids = {a.title.split("`")[1]: a.command.arguments[0] for a in offered}
    assert set(ids) == {"os", "sys", "json", "unused"}
    # Asked again (an editor asks on every cursor move): still one offer each.
    assert len(quick_fixes(await actions(lsp, uri, whole))) == 4

    # The developer uses `os` and `sys` instead of removing them: those fixes were ignored.
    text += "\nSEP = os.sep + sys.prefix\n"
    replace_all(lsp, uri, 2, text)
    await wait_for(lambda: findings(lsp, uri) == [(2, "F401"), (6, "F841")])
    await wait_for(lambda: len(events_of(store, ev.FIX_IGNORED)) == 2)

    # Two ignored fixes of F401: the model now hides the rule's remaining quick fix...
    titles = [a.title for a in quick_fixes(await actions(lsp, uri, whole))]
    assert len(titles) == 1 and "`unused`" in titles[0]
    (hidden,) = await wait_for(lambda: events_of(store, ev.FIX_HIDDEN))
    assert hidden.item_id == ids["json"] and hidden.probability < 0.4
    # ...but a fix-all the developer asks for still takes it (safe), and only it.
    (fix_all,) = await actions(lsp, uri, whole, only=["source.fixAll.tactful"])
    assert fix_all.command.command == FIX_APPLIED
    ids_applied, how = fix_all.command.arguments
    assert list(ids_applied) == [ids["json"]] and how == "fixAll"

    # Closed with their findings still there and never applied: the fixes offered for `json`
    # (before the model hid it) and for `unused` were ignored too.
    lsp.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await wait_for(lambda: len(events_of(store, ev.FIX_IGNORED)) == 4)
    await asyncio.sleep(0.5)  # anything recorded twice would be in by now
    ignored = Counter(e.item_id for e in events_of(store, ev.FIX_IGNORED))
    assert ignored == Counter(ids.values())
    assert Counter(e.item_id for e in events_of(store, ev.FIX_OFFERED)) == Counter(
        {item_id: 1 for item_id in ids.values()}
    )
    assert not events_of(store, ev.FIX_APPLIED)


async def test_verdicts_of_offered_fixes_are_recorded_once(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    workspace.write("pyproject.toml", "[tool.ruff.lint]\nselect = ['F401']\n")
    module = "import os\n\n\ndef double(x):\n    return 2 * x\n"
    workspace.write("mod.py", module)
    workspace.write(
        "tests/test_mod.py",
        "from mod import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
    )
    workspace.commit("start")
    # The module is unchanged since the commit: only the scope `all` shows its finding.
    await lsp.initialize_session(
        init_params(
            workspace.root,
            options(
                store,
                workspace={"trusted": True},
                validation={"python": sys.executable},
                quality={"scope": "all"},
            ),
        )
    )
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, module)

    async def tested() -> list[types.CodeAction]:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            fixes = quick_fixes(await actions(lsp, uri, lines(0, 1)))
            if fixes and "tests still running" not in fixes[0].title:
                return fixes
            await asyncio.sleep(0.2)
        raise AssertionError("the fix was not tested in time")

    (fix,) = await tested()
    assert fix.title.endswith("1 test passed") and fix.is_preferred
    assert len(quick_fixes(await actions(lsp, uri, lines(0, 1)))) == 1
    (item_id,) = fix.command.arguments

    (verdict,) = await wait_for(lambda: events_of(store, ev.VALIDATION_VERDICT))
    assert verdict.item_id == item_id
    assert verdict.detail["verdict"] == "passed" and verdict.detail["tests"] == 1
    assert verdict.detail["rule"] == "F401" and verdict.detail["duration_s"] > 0
    assert [e.item_id for e in events_of(store, ev.FIX_OFFERED)] == [item_id]
    assert verdict.language == "python" and verdict.workspace


async def test_a_light_bulb_request_does_not_count_as_offering_the_fix(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    text = "import os\n\n\ndef f():\n    return 1\n"
    _, uri = await open_linted(lsp, workspace, store, ["F401"], text)
    await wait_for(lambda: findings(lsp, uri) == [(0, "F401")])
    # The editor asks on its own as the cursor moves (to draw a light bulb): the fix is in the
    # answer, but the developer has seen nothing, so closing the document ignores nothing.
    automatic = types.CodeActionTriggerKind.Automatic
    (bulb,) = quick_fixes(await actions(lsp, uri, lines(0, 1), trigger=automatic))
    lsp.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    # Opened again, and this time the developer opens the menu: now it is offered.
    open_document(lsp, uri, text)
    await wait_for(lambda: findings(lsp, uri) == [(0, "F401")])
    invoked = types.CodeActionTriggerKind.Invoked
    (menu,) = quick_fixes(await actions(lsp, uri, lines(0, 1), trigger=invoked))
    assert menu.command is not None and bulb.command is not None
    assert menu.command.arguments == bulb.command.arguments
    offered = await wait_for(lambda: events_of(store, ev.FIX_OFFERED))
    assert [e.item_id for e in offered] == list(menu.command.arguments)
    # Recorded after the close was handled: an ignored fix from it would be in the store.
    assert not events_of(store, ev.FIX_IGNORED)

"""An LLM that is slow, down or failing never costs a suggestion: the real server over stdio,
the fake provider hanging, failing or refusing, the messages and the status the editors show."""

from __future__ import annotations

import asyncio

from fixtures.fake_llm import Reply, closed_port_url
from fixtures.lsp import REPEATED, change_document, init_params, inline_at, open_document, wait_for
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

SOURCE = REPEATED


def options(fake_llm, engine: str) -> dict:
    return {
        "completion": {"engine": engine, "debounceMs": 0},
        # A deadline long enough for litellm's import on a loaded machine: it is never waited
        # for in ``auto``.
        "llm": {"model": "openai/fake-base", "apiBase": fake_llm.url, "timeoutS": 60},
    }


async def inline(lsp: LanguageClient, uri: str, line: int, character: int) -> list:
    """Inline items at a position, asked by a key (shown whatever the filter predicts: these
    tests are about the engines)."""
    answer = await lsp.text_document_inline_completion_async(
        inline_at(uri, line, character, invoked=True)
    )
    if answer is None:
        return []
    return list(answer.items if isinstance(answer, types.InlineCompletionList) else answer)


LLM_TEXT = "th.join(base, 'middle')"
# The local engine's answer there: the name at least, never past the call's first argument
# (where it stops depends on whether the shipped statistics were read yet).
LOCAL_TEXTS = ("th.join", "th.join(", "th.join(base", "th.join(base,")


def completions_asked(fake_llm) -> int:
    """Requests of the completion engine (quality fixes may ask the same provider too)."""
    return sum(1 for r in fake_llm.requests if r.prompt.startswith("# Path: m.py"))


async def test_auto_shows_the_local_answer_then_the_llms_when_it_arrives(
    lsp: LanguageClient, workspace: Workspace, fake_llm
) -> None:
    ready: list = []
    lsp.protocol.fm.features["tactful/inlineCompletionReady"] = ready.append
    fake_llm.default = Reply(LLM_TEXT + "\n", delay_s=3.0)
    await lsp.initialize_session(init_params(workspace.root, options(fake_llm, engine="auto")))
    lsp.initialized(types.InitializedParams())
    uri = workspace.uri("m.py")
    open_document(lsp, uri, SOURCE + "middle = os.pa")
    # The local answer at once: the LLM (litellm importing, then 3 s to answer) is not waited
    # for; 30 s is half its deadline.
    items = await asyncio.wait_for(inline(lsp, uri, 4, len("middle = os.pa")), 30)
    assert [item.insert_text in LOCAL_TEXTS for item in items] == [True]
    # Its answer arrives in the background, and the editor is told to ask again there.
    await wait_for(lambda: ready, timeout=120)
    (said,) = ready
    assert (said.textDocument.uri, said.textDocument.version) == (uri, 1)
    assert (said.position.line, said.position.character) == (4, len("middle = os.pa"))
    again = await inline(lsp, uri, 4, len("middle = os.pa"))
    assert [item.insert_text for item in again] == [LLM_TEXT]
    assert again[0].command.arguments != items[0].command.arguments  # a suggestion of its own
    assert completions_asked(fake_llm) == 1
    assert not [m for m in lsp.messages if m.type <= types.MessageType.Warning]


async def test_a_failing_provider_is_said_once_backed_off_and_said_again_when_back(
    lsp: LanguageClient, workspace: Workspace, fake_llm
) -> None:
    statuses: list = []
    lsp.protocol.fm.features["tactful/status"] = statuses.append
    fake_llm.default = Reply(status=503, error="the model is loading")
    await lsp.initialize_session(init_params(workspace.root, options(fake_llm, engine="auto")))
    lsp.initialized(types.InitializedParams())
    uri = workspace.uri("m.py")
    text = SOURCE + "middle = os.pa"
    open_document(lsp, uri, text)
    items = await inline(lsp, uri, 4, len("middle = os.pa"))
    assert [item.insert_text in LOCAL_TEXTS for item in items] == [True]
    warnings = await wait_for(
        lambda: [m for m in lsp.messages if m.type == types.MessageType.Warning], timeout=120
    )
    assert "does not answer" in warnings[0].message
    assert (
        "other (HTTP 503)" in warnings[0].message and "the model is loading" in warnings[0].message
    )
    down = await wait_for(lambda: [s for s in statuses if s.llm and s.llm.state == "down"])
    assert down[-1].engine == "local" and down[-1].llm.label == "other"
    # Backed off: more keystrokes, no more calls and no more messages.
    asked = completions_asked(fake_llm)
    for n, typed in enumerate(("t", "th", "th."), start=2):
        change_document(lsp, uri, n, (4, 14 + len(typed) - 1), (4, 14 + len(typed) - 1), typed[-1])
        await inline(lsp, uri, 4, 14 + len(typed))
    assert completions_asked(fake_llm) == asked
    fake_llm.default = Reply(".join(base, 'middle')\n")
    # Once the back-off (5 s) has passed, the next request tries the provider again.
    await asyncio.sleep(5.5)
    change_document(lsp, uri, 5, (4, 17), (4, 17), "j")
    await inline(lsp, uri, 4, 18)
    back = await wait_for(
        lambda: [m for m in lsp.messages if m.type == types.MessageType.Info], timeout=60
    )
    assert "answers again" in back[-1].message
    await wait_for(lambda: statuses[-1].llm.state == "ready" and statuses[-1].engine == "llm")
    assert len([m for m in lsp.messages if m.type == types.MessageType.Warning]) == 1


async def test_engine_llm_with_a_refused_connection_answers_with_the_local_engine(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    settings = {
        "completion": {"engine": "llm", "debounceMs": 0},
        "llm": {"model": "openai/fake-base", "apiBase": closed_port_url(), "timeoutS": 60},
    }
    await lsp.initialize_session(init_params(workspace.root, settings))
    lsp.initialized(types.InitializedParams())
    uri = workspace.uri("m.py")
    open_document(lsp, uri, SOURCE + "middle = os.pa")
    items = await inline(lsp, uri, 4, len("middle = os.pa"))
    assert [item.insert_text in LOCAL_TEXTS for item in items] == [True]
    (warning,) = await wait_for(
        lambda: [m for m in lsp.messages if m.type == types.MessageType.Warning]
    )
    assert "connection refused" in warning.message and "local engine" in warning.message
    # Down now: the local answer without waiting for the provider, and nothing said again.
    again = await asyncio.wait_for(inline(lsp, uri, 4, len("middle = os.pa")), 30)
    assert [item.insert_text in LOCAL_TEXTS for item in again] == [True]
    assert len([m for m in lsp.messages if m.type == types.MessageType.Warning]) == 1

"""LLM completions through the real server over stdio, with a scripted OpenAI-style provider."""

from __future__ import annotations

import time

from fixtures.fake_llm import Reply
from fixtures.lsp import init_params, open_document
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

SOURCE = "import os\n\nleft = os.path.join(base, 'left')\nright = os.path.join(base, 'right')\n"


def options(fake_llm, engine: str = "llm") -> dict:
    return {
        "completion": {"engine": engine, "debounceMs": 0},
        # The provider gets time to import litellm on the first request in a loaded CI machine.
        "llm": {"model": "openai/fake-base", "apiBase": fake_llm.url, "timeoutS": 60},
    }


async def inline(lsp: LanguageClient, uri: str, line: int, character: int) -> list:
    # Asked for by a key: shown whatever the acceptance filter predicts (these tests are about
    # the engines, not the filter).
    answer = await lsp.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    if answer is None:
        return []
    return list(answer.items if isinstance(answer, types.InlineCompletionList) else answer)


async def inline_when_ready(lsp: LanguageClient, uri: str, line: int, character: int) -> list:
    """Ask until the engine answers: it starts in the background (litellm's import takes seconds
    on a busy machine) and gives nothing until then."""
    deadline = time.monotonic() + 90
    while True:
        items = await inline(lsp, uri, line, character)
        if items or time.monotonic() > deadline:
            return items


async def test_llm_suggestion_through_the_server_without_secrets(
    lsp: LanguageClient, workspace: Workspace, fake_llm
) -> None:
    canary = "CANARY-0d9e-ENV"
    workspace.write(".env", f"API_TOKEN={canary}\n")
    workspace.write("util.py", SOURCE)
    workspace.commit("init")
    fake_llm.default = Reply(" os.path.join(base, 'middle')\n")
    await lsp.initialize_session(init_params(workspace.root, options(fake_llm)))
    lsp.initialized(types.InitializedParams())
    # The editor has the secret file open too: its text reaches the server, never the model.
    open_document(lsp, workspace.uri(".env"), f"API_TOKEN={canary}\n", language="dotenv")
    uri = workspace.uri("m.py")
    text = SOURCE + "middle = "
    open_document(lsp, uri, text)
    items = await inline_when_ready(lsp, uri, 4, len("middle = "))
    # The server's post-processing and filter may shorten what the model said, never change it.
    assert len(items) == 1 and len(items[0].insert_text) >= 2
    assert "os.path.join(base, 'middle')".startswith(items[0].insert_text)
    assert items[0].command.command == "tactful.acceptSuggestion"
    prompts = fake_llm.prompts()
    assert prompts and all(canary not in prompt for prompt in prompts)
    assert prompts[-1].endswith("right = os.path.join(base, 'right')\nmiddle =")

"""Trust and endpoints come only from the user, over real stdio: settings a repository can write
(``workspace/didChangeConfiguration`` pushed or pulled, ``[tool.tactful]``, ``.tactful.toml``)
cannot grant trust, pick the model's endpoint, loosen the sandbox or move the feedback store.
The fake LLM server plays the repository's endpoint and must receive nothing; a conftest that
writes a marker shows whether the workspace's code ran. The same settings from
``initializationOptions``, and trust from ``tactful/workspaceTrusted``, do take effect."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.fake_llm import FakeLLM, Reply
from fixtures.lsp import code_actions, init_params, open_document, wait_for
from fixtures.pyenv import make_env
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

MODULE = "import os\n\n\ndef double(x):\n    return 2 * x\n"
REFUSED = (
    "workspace.trusted",
    "llm.model",
    "llm.apiBase",
    "validation.sandbox",
    "validation.timeoutS",
    "validation.command",
    "feedback.store",
    "feedback.storeCode",
)


def project(workspace: Workspace, marker: Path) -> None:
    """A repository whose conftest leaves a marker when anything imports it."""
    workspace.write("pyproject.toml", "[tool.ruff.lint]\nselect = ['F401']\n")
    workspace.write("conftest.py", f"open({str(marker)!r}, 'w').write('ran')\n")
    workspace.write("mod.py", "def double(x):\n    return 2 * x\n")
    workspace.write(
        "tests/test_mod.py",
        "from mod import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
    )
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("start")
    make_env(workspace.root / ".venv")  # the project's interpreter, which its tests run with
    workspace.write("mod.py", MODULE)


def hostile(fake_llm: FakeLLM, marker: Path, store: Path) -> dict[str, Any]:
    """What a repository would like tactful to do, in the editor's camelCase."""
    return {
        "workspace": {"trusted": True},
        "llm": {"model": "openai/repo-model", "apiBase": fake_llm.url},
        "validation": {
            "sandbox": "none",
            "timeoutS": 100000,
            "command": ["python", "-c", f"open({str(marker)!r}, 'w').write('ran')"],
        },
        "feedback": {"store": str(store), "storeCode": True},
    }


def toml(values: dict[str, Any]) -> str:
    """The same settings as ``[tool.tactful]`` tables."""
    lines = []
    for section, table in values.items():
        lines.append(f"[tool.tactful.{section}]")
        for key, value in table.items():
            snake = "".join("_" + c.lower() if c.isupper() else c for c in key)
            lines.append(f"{snake} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


async def fix_titles(lsp: LanguageClient, uri: str) -> list[str]:
    """The quick fix titles for the unused import once the server has linted the document."""
    deadline = time.monotonic() + 60
    while True:
        found = await code_actions(lsp, uri)
        titles = [a.title for a in found if a.kind == types.CodeActionKind.QuickFix]
        if titles and "running" not in titles[0]:
            return titles
        if time.monotonic() > deadline:
            raise AssertionError(f"no settled quick fix within 60 s: {titles}")
        await asyncio.sleep(0.2)


async def review_changes(lsp: LanguageClient) -> Any:
    return await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tactful.reviewChanges")
    )


def refusal(lsp: LanguageClient) -> str:
    return next((m.message for m in lsp.messages if "is ignored" in m.message), "")


@pytest.mark.parametrize("channel", ["pushed", "pulled", "workspace files"])
async def test_a_repository_cannot_grant_trust_pick_the_endpoint_or_loosen_runs(
    lsp: LanguageClient, workspace: Workspace, fake_llm: FakeLLM, tmp_path: Path, channel: str
) -> None:
    marker = tmp_path / "workspace-code-ran"
    store = tmp_path / "repository-chosen-store.sqlite3"
    project(workspace, marker)
    values = hostile(fake_llm, marker, store)
    fake_llm.default = Reply('{"comments": []}')
    if channel == "workspace files":
        workspace.write("pyproject.toml", "[tool.ruff.lint]\nselect = ['F401']\n\n" + toml(values))
    if channel == "pulled":
        # What a client answers workspace/configuration with, from the project's settings.
        lsp.set_configuration(values, section="tactful")
    await lsp.initialize_session(init_params(workspace.root, {"completion": {"debounceMs": 0}}))
    lsp.initialized(types.InitializedParams())
    if channel == "pushed":
        # What Eglot sends from a repository's .dir-locals.el, with one key it may set.
        settings = {"tactful": {**values, "review": {"base": "HEAD"}}}
        lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings))
    elif channel == "pulled":
        lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(None))

    message = await wait_for(lambda: refusal(lsp))
    for key in REFUSED:
        assert repr(key) in message, (key, message)
    # The whole review of the changed files: it would ask the model, were one set.
    assert (await review_changes(lsp))["files"] >= 1
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, MODULE)
    titles = await fix_titles(lsp, uri)
    assert titles == [
        "Remove unused import: `os` (F401) — safe fix, not validated (workspace not trusted)"
    ]
    lsp.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )

    assert fake_llm.requests == []
    assert not marker.exists()
    assert not store.exists()
    # Each refused key is said once, not on every reload.
    assert sum("is ignored" in m.message for m in lsp.messages) == 1


async def test_the_user_and_the_editor_trust_still_decide(
    lsp: LanguageClient, workspace: Workspace, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    """The control: the same endpoint from initializationOptions is asked, and the editor's
    trust notification lets the tests run (so the test above would see it if they did)."""
    marker = tmp_path / "workspace-code-ran"
    project(workspace, marker)
    fake_llm.default = Reply('{"comments": []}')
    options = {"llm": {"model": "openai/user-model", "apiBase": fake_llm.url, "timeoutS": 20}}
    await lsp.initialize_session(init_params(workspace.root, options))
    lsp.initialized(types.InitializedParams())
    assert (await review_changes(lsp))["files"] >= 1
    assert fake_llm.requests and fake_llm.requests[0].body["model"] == "user-model"
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, MODULE)
    assert "not trusted" in (await fix_titles(lsp, uri))[0]

    lsp.protocol.notify("tactful/workspaceTrusted", {"trusted": True})
    deadline = time.monotonic() + 120
    while "passed" not in (titles := await fix_titles(lsp, uri))[0]:
        assert time.monotonic() < deadline, titles
        await asyncio.sleep(0.2)
    assert titles == ["Remove unused import: `os` (F401) — 1 test passed"]
    assert not refusal(lsp)

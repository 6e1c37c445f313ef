"""Start-up pays only for what ``initialize`` needs: the features it does not need load with
``initialized``, and what ``initialize`` advertises for them is what they register."""

from __future__ import annotations

import json
import subprocess
import sys

from fixtures.lsp import init_params
from fixtures.raw import RawServer
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.server.app import build_server
from tactful.server.features import DEFERRED, load_deferred

# What answering ``initialize`` must not import: each costs start-up time (litellm seconds,
# libcst and GitPython tens of milliseconds) and is needed only later.
LATER = (
    "litellm",
    "openai",
    "libcst",
    "git",
    "jedi",
    "tactful.server.features.quality",
    "tactful.server.features.code_action",
    "tactful.server.features.review",
    "tactful.feedback.execution.judge",
    "tactful.feedback.loop",
    "tactful.suggestion.llm.engine",
    "tactful.suggestion.local.engine",
    "tactful.server.cli.bench",
    "tactful.server.cli.fix",
    "tactful.server.cli.review",
)


def test_starting_the_server_imports_nothing_initialize_does_not_need() -> None:
    # What ``tactful serve`` does before it reads the first message: parse its command line,
    # build the server.
    probe = (
        "import json, sys; from tactful.server.cli import build_parser; "
        "from tactful.server.app import build_server; "
        "build_parser('serve').parse_args(['serve']); build_server(); "
        f"print(json.dumps(sorted(m for m in {list(LATER)!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", probe], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def test_what_initialize_advertises_for_the_deferred_features_is_what_they_register() -> None:
    server = build_server()
    manager = server.protocol.fm
    methods = [method for feature in DEFERRED for method, _ in feature.methods]
    commands = [command for feature in DEFERRED for command in feature.commands]
    declared = (
        {m: manager.feature_options.get(m) for m in methods},
        {c for c in commands if c in manager.commands},
    )
    stand_ins = {m: manager.features[m] for m in methods}
    load_deferred(server)
    load_deferred(server)  # once only
    registered = (
        {m: manager.feature_options.get(m) for m in methods},
        {c for c in commands if c in manager.commands},
    )
    assert declared == registered and declared[1] == set(commands)
    assert all(manager.features[m] is not stand_ins[m] for m in methods)
    assert server.deferred_loaded


async def test_the_capabilities_include_the_deferred_features(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    result = await lsp.initialize_session(init_params(workspace.root))
    caps = result.capabilities
    assert isinstance(caps.code_action_provider, types.CodeActionOptions)
    assert caps.code_action_provider.resolve_provider
    assert set(caps.code_action_provider.code_action_kinds or []) == {
        types.CodeActionKind.QuickFix,
        "source.fixAll.tactful",
    }
    assert caps.execute_command_provider is not None
    assert {
        "tactful.fixApplied",
        "tactful.reviewChanges",
        "tactful.dismissComment",
        "tactful.acceptSuggestion",
        "tactful.rejectSuggestion",
    } <= set(caps.execute_command_provider.commands)


def test_a_deferred_command_called_before_initialized_loads_its_feature() -> None:
    server = RawServer()
    try:
        server.request(1, "initialize", {"capabilities": {}, "rootUri": None, "processId": None})
        server.wait_response(1)
        # No ``initialized`` yet (a client that does not wait): the feature loads to answer.
        server.request(
            2,
            "workspace/executeCommand",
            {"command": "tactful.dismissComment", "arguments": ["no-such-comment"]},
        )
        assert server.wait_response(2, timeout=60) == {"jsonrpc": "2.0", "id": 2, "result": False}
    finally:
        server.close()

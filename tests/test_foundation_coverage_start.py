"""A trusted workspace gets its coverage map built in the background; an untrusted one never."""

from __future__ import annotations

import asyncio
import sys

from fixtures.lsp import init_params, wait_for
from fixtures.workspace import Workspace
from pytest_lsp import LanguageClient

from tactful.analyzers.userdirs import cache_dir

PROJECT = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


def _maps() -> list:
    return list(cache_dir().rglob("coverage-map.json"))


async def test_trusted_workspace_builds_its_coverage_map(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    for name, text in PROJECT.items():
        workspace.write(name, text)
    workspace.commit("project")
    options = {"workspace": {"trusted": True}, "validation": {"python": sys.executable}}
    await lsp.initialize_session(init_params(workspace.root, options))
    (found,) = await wait_for(_maps, timeout=120, interval=0.5)
    assert "test_calc.py::test_add" in found.read_text()


async def test_untrusted_workspace_runs_nothing(lsp: LanguageClient, workspace: Workspace) -> None:
    for name, text in PROJECT.items():
        workspace.write(name, text)
    workspace.commit("project")
    await lsp.initialize_session(init_params(workspace.root))
    # Give a wrongly started build the time it would need to write its map.
    await asyncio.sleep(5)
    assert _maps() == []

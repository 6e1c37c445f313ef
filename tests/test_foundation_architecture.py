"""Architecture invariants: only server/ speaks LSP; dependencies point one way."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["server", "feedback", "suggestion", "analyzers"]


def test_import_linter_contracts_hold(tmp_path: Path) -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is part of the test extra"
    # import-linter reads modules from files: give it the namespace as a plain folder of links,
    # whatever kind of install (wheel, strict or lenient editable) this environment has.
    namespace = tmp_path / "tactful"
    namespace.mkdir()
    for layer in LAYERS:
        (namespace / layer).symlink_to(ROOT / layer, target_is_directory=True)
    result = subprocess.run(
        [lint, "--config", str(ROOT / "pyproject.toml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_lsp_and_no_upward_imports_even_lazily() -> None:
    # import-linter sees module-level imports; this also catches imports inside functions.
    problems = []
    for rank, layer in enumerate(LAYERS):
        above = {f"tactful.{name}" for name in LAYERS[:rank]}
        for path in (ROOT / layer).rglob("*.py"):
            for name in _imports(path):
                if layer != "server" and name.split(".")[0] in {"pygls", "lsprotocol"}:
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
                if any(name == a or name.startswith(a + ".") for a in above):
                    problems.append(f"{path.relative_to(ROOT)} imports {name} (upward)")
    assert problems == []


def test_library_code_never_prints() -> None:
    offenders = []
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            if "cli" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "print"
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_review_and_quality_handlers_say_whether_they_run_on_the_loop() -> None:
    from tactful.server.app import build_server
    from tactful.server.features import load_deferred
    from tactful.server.handlers import BACKGROUND, LOCAL, local_command, on_event

    server = build_server()
    load_deferred(server)
    events = ("open", "change", "save", "close", "settings")
    expected = {
        f"{event} ({feature})": LOCAL for event in events for feature in ("quality", "review")
    }
    expected["command tactful.reviewChanges"] = BACKGROUND
    # A dismissal answers once the store has committed it: it awaits the store's writer.
    expected["command tactful.dismissComment"] = BACKGROUND
    assert server.handler_kinds == expected

    async def slow(*args: object) -> None:
        return None

    # A coroutine cannot be registered as a local handler: it would not answer at once.
    with pytest.raises(TypeError):
        local_command(server, "tactful.example", "an example")(slow)
    with pytest.raises(TypeError):
        on_event(server, "open", "example", slow)

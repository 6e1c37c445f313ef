"""Which workspace modules a document imports: what the local engine leans on in a new file."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace

import pytest
from fixtures.lsp import change_document, indexed, init_params, inline_at, open_document
from fixtures.shop import fill_request
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.analyzers.imports import imported_modules, module_paths
from tactful.analyzers.index import RepositoryIndex
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.local.imported import STEP_TOKENS, ImportedModules
from tactful.suggestion.types import CompletionRequest


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["import os, os.path as p", "import sys"], ("os", "os.path", "sys")),
        (
            ["from shop.carts import Cart as C, total", "    from . import views"],
            ("shop.carts", "shop.carts.Cart", "shop.carts.total", ".", ".views"),
        ),
        (["from ..base import (", "    Model,", ")"], ("..base",)),
        # Unfinished or not an import at all: nothing, never an error.
        (["from shop.carts imp", "imported = 1", "from", "import "], ()),
    ],
)
def test_the_modules_a_document_imports(lines: list[str], expected: tuple[str, ...]) -> None:
    assert imported_modules(lines) == expected


PATHS = [
    "src/shop/__init__.py",
    "src/shop/carts.py",
    "src/shop/types.py",
    "src/shop/admin/views.py",
    "tests/helpers.py",
    "tests/test_carts.py",
]


@pytest.mark.parametrize(
    ("modules", "importer", "expected"),
    [
        # Absolute names from the root or a folder at the top (``src/``, ``tests/``).
        (
            ("shop.carts", "helpers"),
            "tests/test_carts.py",
            ["src/shop/carts.py", "tests/helpers.py"],
        ),
        (("shop",), "tests/test_carts.py", ["src/shop/__init__.py"]),
        # ``import types`` inside the package is the standard library's, not shop/types.py.
        (("types",), "src/shop/carts.py", []),
        # Relative names from the importer's package, never the importer itself.
        ((".types", ".carts"), "src/shop/carts.py", ["src/shop/types.py"]),
        (
            ("..", "..carts"),
            "src/shop/admin/views.py",
            ["src/shop/__init__.py", "src/shop/carts.py"],
        ),
    ],
)
def test_the_workspace_files_that_imported_modules_name(
    modules: tuple[str, ...], importer: str, expected: list[str]
) -> None:
    assert module_paths(modules, importer, PATHS) == expected


CARTS = """\
class Cart:
    def add_item(self, sku, quantity=1):
        self.items[sku] = quantity


def fill(cart):
    cart.add_item("apple", quantity=2)
"""

LEDGERS = """\
def post(ledger):
    ledger.add_entry("cash", amount=10)
    ledger.add_entry("bank", amount=20)
    ledger.add_entry("card", amount=30)
"""


def _shop(
    workspace: Workspace, carts: str = CARTS
) -> tuple[RepositoryIndex, CompletionRequest, LocalEngine]:
    """The shop's modules indexed, the request in a new test file importing the carts, and an
    engine without jedi or the shipped statistics (the workspace's alone decide)."""
    workspace.write("shop/carts.py", carts)
    workspace.write("shop/ledgers.py", LEDGERS)
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    return (
        index,
        fill_request(workspace),
        LocalEngine(index, Tuning(semantic=False, language_weight=0.0)),
    )


def _count_all(engine: LocalEngine) -> None:
    while engine.count_imports():
        pass


def _first(engine: LocalEngine, request: CompletionRequest) -> str:
    found = engine.suggest(request)
    assert found
    return found[0].text


def test_a_new_file_leans_on_the_workspace_modules_it_imports_once_they_are_counted(
    workspace: Workspace,
) -> None:
    index, request, engine = _shop(workspace)
    # The request does not count the imported modules: it is answered as the workspace as a
    # whole says, and leaves them to be counted in the background.
    assert _first(engine, request).startswith("entry")
    assert engine.counting_wanted
    slices = 0
    while engine.count_imports():
        slices += 1
    assert not engine.counting_wanted
    # Counted: the imported module is what decides it now.
    assert _first(engine, request).startswith("item")
    alone = LocalEngine(index, Tuning(semantic=False, language_weight=0.0, imported_weight=0.0))
    alone.count_imports()
    assert _first(alone, request).startswith("entry")


def test_the_modules_a_document_opens_with_are_counted_before_its_first_request(
    workspace: Workspace,
) -> None:
    _index, request, engine = _shop(workspace)
    engine.reading(request)
    while engine.read_more(request) or engine.count_imports():
        pass
    assert _first(engine, request).startswith("item")


def test_an_imported_file_changed_is_counted_again_while_the_old_counts_answer(
    workspace: Workspace,
) -> None:
    index, request, engine = _shop(workspace)
    engine.suggest(request)
    _count_all(engine)
    assert _first(engine, request).startswith("item")
    index.update(workspace.root / "shop" / "carts.py", CARTS.replace("add_item", "add_line"))
    engine.files_changed()
    assert engine.counting_wanted
    # Until the changed module is counted again, the counts of the module as it was answer.
    assert _first(engine, request).startswith("item")
    _count_all(engine)
    assert _first(engine, request).startswith("line")


def test_counts_no_document_wants_any_more_are_dropped_unfinished(workspace: Workspace) -> None:
    # A module long enough to take many slices to count.
    _index, request, engine = _shop(
        workspace, CARTS + "".join(f"v{n} = [{n}, {n}]\n" for n in range(3000))
    )
    engine.suggest(request)
    assert engine.count_imports()  # one slice of many
    # The import is deleted before they are counted: nothing is wanted, nothing more counted.
    gone = replace(request, version=2, text=request.text.replace("from shop.carts import Cart", ""))
    assert _first(engine, gone).startswith("entry")
    assert not engine.counting_wanted
    assert not engine.count_imports()


def _counted(modules: ImportedModules) -> int:
    slices = 1
    while modules.count_slice(size=64):
        slices += 1
    return slices


def test_counts_are_changed_into_those_of_an_added_import_as_if_counted_afresh(
    workspace: Workspace,
) -> None:
    workspace.write("shop/carts.py", CARTS * 20)
    workspace.write("shop/ledgers.py", LEDGERS)
    workspace.write("shop/taxes.py", "def rate(amount):\n    return amount / 5\n")
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    before = ["from shop.carts import Cart", ""]
    after = ["from shop.ledgers import post", *before]
    modules = ImportedModules(5)
    modules.counts(index, "a", "tests/test_a.py", before)
    _counted(modules)
    old = modules.counts(index, "a", "tests/test_a.py", before)
    modules.counts(index, "a", "tests/test_a.py", after)
    # Only the added module is counted, into the counts the document had.
    assert _counted(modules) < 4
    changed = modules.counts(index, "a", "tests/test_a.py", after)
    afresh = ImportedModules(5)
    afresh.counts(index, "b", "tests/test_b.py", after)
    assert _counted(afresh) > 10
    counted = afresh.counts(index, "b", "tests/test_b.py", after)
    assert changed is old and changed is not None and counted is not None
    assert changed.tables == counted.tables

    # Counts another open document is answered with are never changed for this one.
    modules.counts(index, "c", "tests/test_c.py", before)
    _counted(modules)
    kept = modules.counts(index, "c", "tests/test_c.py", before)
    assert kept is not None and kept is not changed
    snapshot = copy.deepcopy(kept.tables)
    # Changing ``c``'s counts (the carts) would be cheaper: ``a``'s are changed instead.
    taxed = ["from shop.carts import Cart", "from shop.taxes import rate", ""]
    modules.counts(index, "a", "tests/test_a.py", taxed)
    _counted(modules)
    assert modules.counts(index, "a", "tests/test_a.py", taxed) is changed
    assert modules.counts(index, "c", "tests/test_c.py", before) is kept
    assert kept.tables == snapshot


async def _inline_texts(lsp: LanguageClient, uri: str, line: int, character: int) -> list[str]:
    # Asked for by a key: shown whatever the acceptance filter predicts.
    answer = await lsp.text_document_inline_completion_async(
        inline_at(uri, line, character, invoked=True)
    )
    items = answer.items if isinstance(answer, types.InlineCompletionList) else answer or []
    return [item.insert_text for item in items if isinstance(item.insert_text, str)]


async def test_a_request_never_waits_for_the_imported_modules_counts_over_the_server(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    workspace.write("shop/carts.py", CARTS)
    workspace.write("shop/ledgers.py", LEDGERS)
    workspace.commit("shop")
    await lsp.initialize_session(init_params(workspace.root, {"completion": {"engine": "local"}}))
    await indexed(lsp)
    uri = workspace.uri("tests/test_fill.py")
    body = "\n\ndef test_fill():\n    cart = Cart()\n    cart.add_"
    open_document(lsp, uri, body)
    assert (await _inline_texts(lsp, uri, 4, len("    cart.add_")))[0].startswith("entry")
    # The import is typed, and the request right after it is answered at once, without the
    # imported module's counts (they are counted after it, in the background).
    change_document(lsp, uri, 2, (0, 0), (0, 0), "from shop.carts import Cart\n")
    first = await _inline_texts(lsp, uri, 5, len("    cart.add_"))
    assert first and first[0].startswith("entry")

    async def counted() -> bool:
        found = await _inline_texts(lsp, uri, 5, len("    cart.add_"))
        return bool(found) and found[0].startswith("item")

    # Once counted, the imported module decides the answer.
    for _ in range(200):
        if await counted():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the imported module's counts were never used")


def test_counts_built_in_slices_stopped_early_are_those_built_whole(workspace: Workspace) -> None:
    # Stopped after every step (as when requests keep arriving), a slice still makes progress
    # and the counts come out the same.
    index, _request, _engine = _shop(workspace, CARTS * 40)
    lines = ["from shop.carts import Cart", "from shop.ledgers import post", ""]
    stopped, whole = ImportedModules(5), ImportedModules(5)
    stopped.counts(index, "a", "tests/test_a.py", lines)
    whole.counts(index, "a", "tests/test_a.py", lines)
    slices = 1
    while stopped.count_slice(stop_early=lambda: True):
        slices += 1
    while whole.count_slice():
        pass
    built = stopped.counts(index, "a", "tests/test_a.py", lines)
    expected = whole.counts(index, "a", "tests/test_a.py", lines)
    assert built is not None and expected is not None
    assert built.tables == expected.tables
    assert slices > 1 and slices * STEP_TOKENS >= built.tokens_counted

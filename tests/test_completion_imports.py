"""Which workspace modules a document imports: what the local engine leans on in a new file."""

from __future__ import annotations

import pytest
from fixtures.workspace import Workspace

from tactful.analyzers.imports import imported_modules, module_paths
from tactful.analyzers.index import RepositoryIndex
from tactful.analyzers.text import Point
from tactful.suggestion.local.engine import LocalEngine, Tuning
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


def test_a_new_file_leans_on_the_workspace_modules_it_imports(workspace: Workspace) -> None:
    workspace.write("shop/carts.py", CARTS)
    workspace.write("shop/ledgers.py", LEDGERS)
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    text = "from shop.carts import Cart\n\n\ndef test_fill():\n    cart = Cart()\n    cart.add_"
    path = workspace.root / "tests" / "test_fill.py"
    request = CompletionRequest(
        path.as_uri(),
        str(path),
        "python",
        1,
        text,
        Point(5, len("    cart.add_")),
        workspace_root=str(workspace.root),
    )
    tuning = Tuning(semantic=False, language_weight=0.0)
    found = LocalEngine(index, tuning).suggest(request)
    assert found and found[0].text.startswith("item")
    # The workspace as a whole says otherwise: the imported module is what decided it.
    alone = LocalEngine(index, Tuning(semantic=False, language_weight=0.0, imported_weight=0.0))
    found = alone.suggest(request)
    assert found and found[0].text.startswith("entry")

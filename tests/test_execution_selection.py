"""Test selection: the coverage map (real coverage of real pytest runs), the import graph, and the
fallback to the whole suite."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures.workspace import Workspace

from tactful.analyzers.text import Edit, Point, Span
from tactful.feedback import trust
from tactful.feedback.execution import Sandbox, Selection, Status, ValidationOptions
from tactful.feedback.execution.selection import ImportGraph

OPTIONS = ValidationOptions(coverage_map=False, python=sys.executable, differential=False)
PROJECT = {
    "shop/__init__.py": "",
    "shop/prices.py": """\
        RATE = 2


        def total(items):
            return sum(items) * RATE


        def discount(amount):
            if amount > 100:
                return amount - 10
            return amount


        def unused(value):
            return value + 1


        def _registered():
            return "ready"


        STATE = _registered()
    """,
    "shop/cart.py": """\
        from .prices import total


        def checkout(items):
            return total(items)


        def refund(items):
            if not items:
                return 0
            return -total(items)
    """,
    "tests/test_prices.py": """\
        from shop.prices import discount


        def test_big_discount():
            assert discount(200) == 190


        def test_small_discount():
            assert discount(50) == 50
    """,
    "tests/test_cart.py": """\
        from shop.cart import checkout, refund


        def test_checkout():
            assert checkout([1, 2]) == 6


        def test_nothing_to_refund():
            assert refund([]) == 0
    """,
    "tests/test_plain.py": """\
        def test_alone():
            assert 1 + 1 == 2
    """,
    "README.txt": "a shop\n",
}


# The sandboxed runs use this interpreter: its own test plugins only slow them down.
pytestmark = pytest.mark.usefixtures("plain_pytest")


def make_shop(root: Path) -> Workspace:
    project = Workspace(root)
    for name, text in PROJECT.items():
        project.write(name, textwrap.dedent(text))
    project.commit("start")
    return project


@pytest.fixture
def shop(tmp_path: Path) -> Workspace:
    project = make_shop(tmp_path / "shop")
    trust.trust(project.root)
    return project


@pytest.fixture(scope="module")
def mapped_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One shop and its coverage map for the tests that only read them: (root, cache)."""
    base = tmp_path_factory.mktemp("mapped")
    project = make_shop(base / "shop")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        sandbox = Sandbox(project.root, OPTIONS, trusted=True, cache=base / "cache")
        coverage_map = asyncio.run(sandbox.update_coverage_map())
    assert coverage_map is not None
    assert len(coverage_map.tests) == 5
    return project.root, base / "cache"


def replace_line(path: str, line: int, old: str, new: str, text: str) -> Edit:
    row = textwrap.dedent(text).splitlines()[line]
    column = row.index(old)
    return Edit(path, Span(Point(line, column), Point(line, column + len(old))), new)


def prices_edit(line: int, old: str, new: str) -> Edit:
    return replace_line("shop/prices.py", line, old, new, PROJECT["shop/prices.py"])


@pytest.fixture
def judge(mapped_shop: tuple[Path, Path]) -> Sandbox:
    root, cache = mapped_shop
    return Sandbox(root, OPTIONS, trusted=True, cache=cache)


def test_coverage_selects_the_tests_that_ran_the_edited_function(judge: Sandbox) -> None:
    # `amount > 100` -> `amount >= 100`: only the discount tests run discount()
    verdict = judge.validate_sync([prices_edit(8, ">", ">=")])

    assert verdict.selection is Selection.COVERAGE
    assert set(verdict.test_ids) == {
        "tests/test_prices.py::test_big_discount",
        "tests/test_prices.py::test_small_discount",
    }
    assert verdict.status is Status.PASSED


def test_coverage_selection_catches_a_wrong_edit(judge: Sandbox) -> None:
    verdict = judge.validate_sync([prices_edit(4, "* RATE", "* RATE + 1")])

    assert verdict.selection is Selection.COVERAGE
    assert verdict.test_ids == ("tests/test_cart.py::test_checkout",)
    assert verdict.status is Status.FAILED


def test_module_level_edits_select_the_importers(judge: Sandbox) -> None:
    verdict = judge.validate_sync([prices_edit(0, "2", "(1 + 1)")])

    assert verdict.selection is Selection.IMPORTS
    # test_cart imports prices through cart, transitively; test_plain imports neither
    assert {node.split("::")[0] for node in verdict.test_ids} == {
        "tests/test_prices.py",
        "tests/test_cart.py",
    }
    assert verdict.status is Status.PASSED


def test_code_run_at_import_time_selects_the_importers(judge: Sandbox) -> None:
    verdict = judge.validate_sync([prices_edit(18, '"ready"', "1 / 0")])

    assert verdict.selection is Selection.IMPORTS
    assert verdict.status is Status.FAILED


def test_code_no_test_runs_is_not_called_tested(judge: Sandbox) -> None:
    # no test calls unused(): the smallest test file importing the module shows it still
    # imports, and says so; its passing is no verdict on the edit
    verdict = judge.validate_sync([prices_edit(14, "+ 1", "- 1")])

    assert verdict.selection is Selection.IMPORTS
    assert "coverage map has no test that runs the edited lines" in verdict.selection_reason
    assert {node.split("::")[0] for node in verdict.test_ids} == {"tests/test_cart.py"}
    assert verdict.status is Status.UNEXERCISED
    assert verdict.unexercised == ("shop/prices.py:unused",)
    assert verdict.summary() == "tests pass, but none runs this code"


def test_a_line_rewritten_in_place_selects_the_tests_that_ran_it(judge: Sandbox) -> None:
    # only the big discount reaches `return amount - 10`
    verdict = judge.validate_sync([prices_edit(9, "- 10", "- 11")])

    assert verdict.test_ids == ("tests/test_prices.py::test_big_discount",)
    assert verdict.status is Status.FAILED


def test_a_line_no_test_ran_selects_the_tests_that_ran_its_function(judge: Sandbox) -> None:
    text = PROJECT["shop/cart.py"]
    edit = replace_line("shop/cart.py", 10, "-total(items)", "-total(items) * 1", text)

    verdict = judge.validate_sync([edit])

    # no test reaches `return -total(items)`, but one runs refund(): a verdict on its function
    assert verdict.selection is Selection.COVERAGE
    assert verdict.test_ids == ("tests/test_cart.py::test_nothing_to_refund",)
    assert verdict.status is Status.PASSED and verdict.exercised is True


def test_an_import_added_for_the_edited_code_selects_the_tests_that_ran_it(
    judge: Sandbox,
) -> None:
    uses = prices_edit(10, "return amount", "return contextlib.nullcontext(amount).enter_result")
    added = Edit("shop/prices.py", Span(Point(0, 0), Point(0, 0)), "import contextlib\n\n")
    # an import binding a name the module already reads reaches code the edit left alone
    rebinds = Edit("shop/prices.py", Span(Point(0, 0), Point(0, 0)), "from math import e as RATE\n")

    # ruff's fixes sometimes write an import line again as it was
    rewritten = replace_line("shop/prices.py", 0, "RATE = 2", "RATE = 2", PROJECT["shop/prices.py"])

    narrowed = judge.validate_sync([added, uses])
    wide = judge.validate_sync([rebinds, uses])
    same = judge.validate_sync([rewritten, prices_edit(9, "- 10", "- 10 + 0")])

    assert narrowed.selection is Selection.COVERAGE, narrowed.selection_reason
    assert set(narrowed.test_ids) == {
        "tests/test_prices.py::test_big_discount",
        "tests/test_prices.py::test_small_discount",
    }
    assert "only adds imports of names nothing else reads" in narrowed.selection_reason
    assert narrowed.status is Status.PASSED and narrowed.exercised is True
    assert same.selection is Selection.COVERAGE, same.selection_reason
    assert same.test_ids == ("tests/test_prices.py::test_big_discount",)
    assert wide.selection is Selection.IMPORTS
    assert {node.split("::")[0] for node in wide.test_ids} == {
        "tests/test_prices.py",
        "tests/test_cart.py",
    }


def test_a_new_line_selects_the_tests_that_ran_the_function(judge: Sandbox) -> None:
    edit = Edit("shop/prices.py", Span(Point(9, 0), Point(9, 0)), "        amount += 0\n")

    verdict = judge.validate_sync([edit])

    assert set(verdict.test_ids) == {
        "tests/test_prices.py::test_big_discount",
        "tests/test_prices.py::test_small_discount",
    }


def test_tests_that_start_processes_are_mapped_or_always_run(shop: Workspace) -> None:
    shop.write(
        "tests/test_spawn.py",
        textwrap.dedent("""\
        import os
        import subprocess
        import sys


        def run(code, env=None):
            subprocess.run([sys.executable, "-c", code], check=True, env=env)


        def test_in_a_child():
            run("from shop.prices import unused; assert unused(1) == 2")


        def test_in_a_clean_child():
            run("from shop.prices import total; total([1])", env={"PATH": os.environ["PATH"]})
    """),
    )
    shop.commit("tests in child processes")
    sandbox = Sandbox(shop.root, OPTIONS)
    coverage_map = asyncio.run(sandbox.update_coverage_map())

    verdict = sandbox.validate_sync([prices_edit(14, "+ 1", "- 1")])

    assert coverage_map is not None
    # the child that inherited the environment was measured, under its test's name
    covering, _ = coverage_map.tests_covering("shop/prices.py", [15])
    assert covering == {"tests/test_spawn.py::test_in_a_child"}
    # the one started with a bare environment was not: that test joins every selection
    assert coverage_map.spawning == {"tests/test_spawn.py::test_in_a_clean_child"}
    assert verdict.status is Status.FAILED
    assert verdict.failed_ids == ("tests/test_spawn.py::test_in_a_child",)


def test_an_edit_to_a_non_python_file_runs_everything(judge: Sandbox) -> None:
    edit = Edit("README.txt", Span(Point(0, 0), Point(0, 1)), "A")

    verdict = judge.validate_sync([edit])

    assert verdict.selection is Selection.ALL
    assert verdict.tests_run == 5


def test_without_a_map_the_import_graph_selects(shop: Workspace) -> None:
    sandbox = Sandbox(shop.root, OPTIONS)

    verdict = sandbox.validate_sync([prices_edit(8, ">", ">=")])

    assert verdict.selection is Selection.IMPORTS
    assert "tests/test_plain.py::test_alone" not in verdict.test_ids
    assert verdict.status is Status.PASSED


def test_the_map_is_updated_for_changed_files(shop: Workspace) -> None:
    judge = Sandbox(shop.root, OPTIONS)
    asyncio.run(judge.update_coverage_map())
    shop.write(
        "tests/test_more.py",
        textwrap.dedent("""\
        from shop.prices import discount


        def test_exact_hundred():
            assert discount(100) == 100
    """),
    )

    updated = asyncio.run(judge.update_coverage_map())
    verdict = judge.validate_sync([prices_edit(8, ">", ">=")])

    assert updated is not None and "tests/test_more.py::test_exact_hundred" in updated.tests
    assert verdict.selection is Selection.COVERAGE
    assert "tests/test_more.py::test_exact_hundred" in verdict.failed_ids
    assert verdict.status is Status.FAILED


@pytest.mark.parametrize(
    ("files", "edited", "expected"),
    [
        # absolute, relative and from-imports, through a chain of modules
        (
            {
                "app/__init__.py": "",
                "app/core.py": "X = 1\n",
                "app/api.py": "from . import core\n",
                "app/cli.py": "from app.api import run\n",
                "tests/test_cli.py": "import app.cli\n",
                "tests/test_other.py": "import json\n",
            },
            "app/core.py",
            {"app/core.py", "app/api.py", "app/cli.py", "tests/test_cli.py"},
        ),
        # a src layout, and a package __init__ that every submodule import runs
        (
            {
                "src/lib/__init__.py": "VERSION = 1\n",
                "src/lib/util.py": "def f():\n    pass\n",
                "tests/test_util.py": "from lib.util import f\n",
                "tests/test_none.py": "def test():\n    pass\n",
            },
            "src/lib/__init__.py",
            {"src/lib/__init__.py", "tests/test_util.py"},
        ),
        # a broken file imports nothing but is still found as a target
        (
            {"mod.py": "def broken(:\n", "test_mod.py": "import mod\n"},
            "mod.py",
            {"mod.py", "test_mod.py"},
        ),
    ],
)
def test_import_graph(files: dict[str, str], edited: str, expected: set[str]) -> None:
    hashes = {name: str(hash(text)) for name, text in files.items()}

    found = ImportGraph().importers(hashes, files.get, [edited])

    assert found == expected

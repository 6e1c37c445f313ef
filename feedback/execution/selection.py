"""Which tests an edit needs: those that ran the edited code, else those that import it, else all.

Boundary: reads Python sources of the warm copy (``ast``, never importing or running them) and
the coverage map; decides a ``TestPlan``. It never under-selects on purpose: whenever it cannot
tell (a file the map has not seen in this version, code that runs at import time, an edit to a
non-Python file, a conftest), it falls back to a wider set.

The unit of coverage is the innermost function whose body holds an edited line: the tests that
executed any line of that body are selected (a line rewritten in place narrows them to the tests
that ran its statement, when any did). An edited line outside any function body (module or
class level, a ``def`` line with its defaults and decorators) runs at import time, so the tests
that import the module, transitively, are selected; except for import statements an edit adds
that bind names the module neither had nor read, of modules outside the workspace, in a module
no file star-imports (a fix's ``import contextlib``), and for module-level lines written again
as they were: they reach only the edited code that reads those names, and the tests that run it
import the module. When the map knows that no test runs the
edited function, one test file importing the module is run, and the plan says so: that shows the
module still imports, not that the edit was tested (the judge then calls it ``unexercised``).
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from tactful.feedback.execution.coverage_map import CoverageMap
from tactful.feedback.execution.exercise import module_name
from tactful.feedback.execution.patch import Change
from tactful.feedback.execution.verdict import Selection

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TestPlan:
    """The tests to run: whole files, or exact node ids within those files."""

    method: Selection
    files: tuple[str, ...] = ()  # test files passed to the runner; empty: the whole suite
    node_ids: tuple[str, ...] | None = None  # exact tests (coverage); None: every test of files
    whole_files: tuple[str, ...] = ()  # with node_ids: files whose every test runs as well
    why: str = ""


def is_test_file(relative: str) -> bool:
    name = PurePosixPath(relative).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


STAR = ".*"


def _imports(source: str, module: str, is_package: bool) -> set[str]:
    """Modules a file imports (each with its parent packages, which run first); a module it
    imports every name of (``from m import *``) also as ``m.*``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    stars: set[str] = set()  # ``from base import *``, as ``base.*``
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base:
                names.add(base)
            for alias in node.names:
                if alias.name != "*":
                    names.add(f"{base}.{alias.name}" if base else alias.name)
                elif base:
                    stars.add(f"{base}{STAR}")
    expanded: set[str] = set()
    for name in names:
        parts = name.split(".")
        expanded.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return expanded | stars


class ImportGraph:
    """Who imports whom among a workspace's Python files; re-parses only files that changed."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, str], set[str]] = {}  # (path, content hash) -> imports
        self._stars: set[str] = set()  # modules some file imports every name of, as ``m.*``

    def star_imported(
        self, files: dict[str, str], read: Callable[[str], str | None], module: str
    ) -> bool:
        """Whether some file imports every name of ``module`` (``from module import *``)."""
        self.importers(files, read, ())
        return f"{module}{STAR}" in self._stars

    def importers(
        self, files: dict[str, str], read: Callable[[str], str | None], targets: Iterable[str]
    ) -> set[str]:
        """Every file that imports one of ``targets``, transitively (the targets included)."""
        python = [name for name in files if name.endswith(".py")]
        present = set(files)
        by_module: dict[str, list[str]] = {}
        for name in python:
            by_module.setdefault(module_name(name, present.__contains__), []).append(name)
        reverse: dict[str, set[str]] = {}
        parsed: dict[tuple[str, str], set[str]] = {}
        for name in python:
            key = (name, files[name])
            imported = self._parsed.get(key)
            if imported is None:
                module = module_name(name, present.__contains__)
                imported = _imports(read(name) or "", module, name.endswith("__init__.py"))
            parsed[key] = imported
            for module in imported:
                for target in by_module.get(module, ()):
                    reverse.setdefault(target, set()).add(name)
        self._parsed = parsed
        self._stars = {
            star for imported in parsed.values() for star in imported if star.endswith(STAR)
        }
        seen = set(targets)
        stack = list(seen)
        while stack:
            for importer in reverse.get(stack.pop(), ()):
                if importer not in seen:
                    seen.add(importer)
                    stack.append(importer)
        return seen


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> ast.Module | None:
    """The syntax tree of a file's text (kept: the same file is edited again and again)."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _body_range(tree: ast.AST, line: int) -> tuple[int, int] | None:
    """One-based line range of the innermost function body holding ``line``, if any."""
    best: tuple[int, int] | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            start = node.body[0].lineno
            end = node.end_lineno or start
            if start <= line <= end and (best is None or start >= best[0]):
                best = (start, end)
    return best


def _statement_range(tree: ast.AST, line: int) -> tuple[int, int] | None:
    """Lines of the innermost statement holding ``line``: all of a simple statement, the header
    of a compound one (``if …:``, ``for …:``, ``try:``), whose lines run whenever it does."""
    best: ast.stmt | None = None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.stmt)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
            and (best is None or node.lineno >= best.lineno)
        ):
            best = node
    if best is None:
        return None
    body = getattr(best, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
        return best.lineno, max(best.lineno, body[0].lineno - 1)
    return best.lineno, best.end_lineno or best.lineno


def _skeleton(statement: ast.stmt) -> str:
    """A module-level statement with the bodies of the functions in it left out: what runs
    at import."""
    copied = copy.deepcopy(statement)
    for node in ast.walk(copied):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.body = [ast.Pass()]
    return ast.dump(copied, include_attributes=False)


def _bound_names(statement: ast.Import | ast.ImportFrom) -> set[str]:
    return {
        alias.asname
        or (alias.name.split(".")[0] if isinstance(statement, ast.Import) else alias.name)
        for alias in statement.names
    }


def added_imports(old_text: str, new_text: str) -> list[ast.Import | ast.ImportFrom] | None:
    """The import statements an edit added at module level, when that is all it changed there
    (the bodies of functions aside; none when only the layout changed there) and each binds a
    name the old text neither binds nor reads anywhere: such an import reaches only the edited
    code that reads the names, whose tests import the module. None otherwise."""
    old_tree, new_tree = _parsed(old_text), _parsed(new_text)
    if old_tree is None or new_tree is None:
        return None
    old = [_skeleton(statement) for statement in old_tree.body]
    new = [_skeleton(statement) for statement in new_tree.body]
    added: list[ast.Import | ast.ImportFrom] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag != "insert":
            return None
        for statement in new_tree.body[j1:j2]:
            if isinstance(statement, ast.Import) or (
                isinstance(statement, ast.ImportFrom)
                and not statement.level
                and statement.module != "__future__"
                and all(alias.name != "*" for alias in statement.names)
            ):
                added.append(statement)
            else:
                return None
    if not added:
        return added
    known: set[str] = set()
    for node in ast.walk(old_tree):
        if isinstance(node, ast.Name):
            known.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            known.add(node.name)
        elif isinstance(node, ast.alias):
            known.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.arg):
            known.add(node.arg)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            known.update(node.names)
    if any(_bound_names(statement) & known for statement in added):
        return None
    return added


def _imported_module(statement: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    return [statement.module or ""]


@dataclass(frozen=True, slots=True)
class _Need:
    node_ids: frozenset[str] = frozenset()
    import_files: frozenset[str] = frozenset()  # files whose importers must run
    unrun_files: frozenset[str] = frozenset()  # edited where no test runs: an import check
    whole_suite: str = ""  # non-empty: why everything must run
    narrowed: bool = False  # module-level lines skipped: imports only the edited code reads


def _needs(
    change: Change,
    current_hash: str | None,
    old_text: str | None,
    cmap: CoverageMap | None,
    imports_only: Callable[[Change, str], bool] = lambda change, old_text: False,
) -> _Need:
    path = change.path
    importers = _Need(import_files=frozenset({path}))
    if not path.endswith(".py"):
        return _Need(whole_suite=f"{path} is not Python")
    if PurePosixPath(path).name == "conftest.py":
        return importers
    if change.created or change.new_text is None or old_text is None or cmap is None:
        return importers
    if not cmap.knows(path, current_hash):
        return importers
    tree = _parsed(old_text)
    if tree is None:
        return importers
    node_ids: set[str] = set()
    narrowed = False
    for first, last in change.old_lines:
        for line in range(first + 1, last + 2):
            body = _body_range(tree, line)
            if body is None:
                if imports_only(change, old_text):
                    narrowed = True  # only imports the edited code reads were added here
                    continue
                return importers  # module or class level, or a def line: runs at import
            lines = body
            statement = _statement_range(tree, line) if change.in_place else None
            if statement is not None and body[0] <= statement[0] and statement[1] <= body[1]:
                # a line rewritten in place only matters to the tests that ran it
                lines = statement
            covering, at_import = cmap.tests_covering(path, range(lines[0], lines[1] + 1))
            if not covering and not at_import and lines != body:
                # No test ran the line itself, so none can see the edit; but a verdict is
                # "passed" only when the tests ran the function it is in: those are the ones
                covering, at_import = cmap.tests_covering(path, range(body[0], body[1] + 1))
            if at_import:
                return importers
            node_ids.update(covering)
    if not node_ids:
        # no test ran the edited code, so none can see the edit, unless the module no
        # longer imports: one importing test file checks that
        return _Need(unrun_files=frozenset({path}), narrowed=narrowed)
    return _Need(node_ids=frozenset(node_ids), narrowed=narrowed)


def plan_tests(
    changes: list[Change],
    files: dict[str, str],
    read: Callable[[str], str | None],
    graph: ImportGraph,
    cmap: CoverageMap | None,
    unmappable: Iterable[str] = (),
) -> TestPlan:
    """The smallest set of tests that still sees every effect of ``changes``.

    ``files`` maps every workspace file to its content hash; ``read`` gives a file's text as
    the map saw it; ``unmappable`` names files whose edited lines do not match that text.
    Tests that start processes (whose coverage the map cannot see) join every selection.
    """
    node_ids: set[str] = set()  # tests the map says ran the edited lines
    import_files: set[str] = set()
    unrun_files: set[str] = set()
    no_lines = set(unmappable)
    narrowed = False
    present = set(files)

    def imports_only(change: Change, old_text: str) -> bool:
        """Whether ``change`` adds, at module level, only imports of modules outside the
        workspace binding names nothing else reads, in a module nobody star-imports."""
        if change.new_text is None:
            return False
        added = added_imports(old_text, change.new_text)
        if added is None:
            return False
        if not added:
            return True  # only the layout changed at module level (a statement written again)
        local = {
            module_name(n, present.__contains__).split(".")[0] for n in files if n.endswith(".py")
        }
        if any(name.split(".")[0] in local for s in added for name in _imported_module(s)):
            return False  # importing a module of the workspace runs its code
        return not graph.star_imported(files, read, module_name(change.path, present.__contains__))

    for change in changes:
        usable = None if change.path in no_lines else cmap
        need = _needs(change, files.get(change.path), read(change.path), usable, imports_only)
        if need.whole_suite:
            return TestPlan(Selection.ALL, why=need.whole_suite)
        node_ids |= need.node_ids
        import_files |= need.import_files
        unrun_files |= need.unrun_files
        narrowed = narrowed or need.narrowed
    if not (node_ids or import_files or unrun_files):
        return TestPlan(Selection.ALL, why="no test could be tied to the edit")
    known_tests = cmap.test_files() if cmap is not None else set()

    def is_test(name: str) -> bool:
        return name in known_tests or is_test_file(name)

    test_names = [name for name in files if is_test(name)]
    spawning = set(cmap.spawning) if cmap is not None else set()
    import_check: set[str] = set()
    if unrun_files and cmap is not None:
        counts = Counter(cmap.test_paths)
        # a test file whose tests ran some code of the module surely imports it; else one that
        # imports it, as far as the import graph can tell
        candidates = sorted({cmap.file_of(node) for node in cmap.tests_touching(unrun_files)})
        if not candidates:
            importing = graph.importers(files, read, unrun_files)
            candidates = [name for name in importing if counts.get(name)]
        if candidates:
            smallest = min(candidates, key=lambda name: (counts[name], name))
            import_check = {
                n for n, p in zip(cmap.tests, cmap.test_paths, strict=True) if p == smallest
            }
        else:
            import_files |= unrun_files
    if not import_files:
        assert cmap is not None  # only the map yields node ids
        covering = set(node_ids)
        node_ids |= import_check | (spawning - cmap.failing)
        ids = tuple(sorted(node_ids))
        files_of = tuple(sorted({cmap.file_of(node) for node in node_ids}))
        if not covering:
            # Nothing the map knows runs the edited lines: the one test file run only shows
            # that the module still imports; its passing says nothing about the edit.
            return TestPlan(
                Selection.IMPORTS,
                files_of,
                ids,
                why="the coverage map has no test that runs the edited lines; one test file "
                "that imports the module was run",
            )
        why = "the tests the coverage map says run the edited lines"
        if import_check:
            why += ", and one test file that imports a module whose edited lines no test runs"
        if narrowed:
            why += (
                " (at module level the edit only adds imports of names nothing else reads, or"
                " writes statements again as they were)"
            )
        return TestPlan(Selection.COVERAGE, files_of, ids, why=why)
    dependents = graph.importers(files, read, import_files)
    selected: set[str] = {name for name in dependents if is_test(name)}
    for name in dependents:
        if PurePosixPath(name).name == "conftest.py":
            folder = PurePosixPath(name).parent
            selected.update(
                t
                for t in test_names
                if folder == PurePosixPath(".") or PurePosixPath(t).is_relative_to(folder)
            )
    if cmap is not None:
        selected.update(cmap.file_of(node) for node in node_ids | import_check | spawning)
    if not selected:
        return TestPlan(
            Selection.ALL, why="no test file imports the edited modules: the whole suite"
        )
    if len(selected) >= len(test_names):
        return TestPlan(Selection.ALL, why="every test file imports the edited modules")
    return TestPlan(
        Selection.IMPORTS,
        tuple(sorted(selected)),
        why="the test files that import the edited modules (import graph)",
    )

"""What a corpus's whole test suite executes, measured with coverage.py: the benchmarks' oracle.

A verdict that says "tests passed" for a change to a function the whole suite never executes
is a false validation, whatever tactful's own selection and coverage map say; this measures the
suite independently of them: ``coverage run -m pytest`` with the corpus's own environment, in
the corpus folder, outside the sandbox (the corpora are fetched from PyPI by the benchmarks
themselves). coverage is installed into the corpus's environment, pinned as tactful pins it.
A change to a function that compiles to the same code as before (``compiles_alike``: a comment,
a line break, a local variable's annotation) needs no run to be known harmless.
"""

from __future__ import annotations
import __future__

import ast
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import CodeType

COVERAGE = "coverage==7.17.3"
FUTURE_ANNOTATIONS = __future__.annotations.compiler_flag


def suite_lines(root: Path, pytest_args: Sequence[str] = ()) -> dict[str, set[int]]:
    """{relative path: lines executed} over the whole suite of ``root`` (its ``.venv``)."""
    root = root.resolve()
    python = root / ".venv" / "bin" / "python"
    has = subprocess.run(
        [str(python), "-c", "import coverage"], capture_output=True, check=False
    ).returncode
    if has != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", COVERAGE], check=True)
    with tempfile.TemporaryDirectory(prefix="suite-coverage-") as scratch:
        data_file = Path(scratch) / ".coverage"
        subprocess.run(
            [
                str(python),
                "-m",
                "coverage",
                "run",
                f"--data-file={data_file}",
                f"--source={root}",
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                *pytest_args,
            ],
            cwd=root,
            capture_output=True,
            check=False,
        )
        from coverage import CoverageData

        data = CoverageData(basename=str(data_file))
        data.read()
        found: dict[str, set[int]] = {}
        for name in data.measured_files():
            path = Path(name)
            if path.is_relative_to(root):
                found[path.relative_to(root).as_posix()] = set(data.lines(name) or ())
        return found


def runs(lines: dict[str, set[int]], path: str, text: str, line: int) -> bool:
    """Whether the suite runs the code at one-based ``line`` of ``path`` (whose text is
    ``text``): some line of the body of the innermost function whose body holds it, or, for a
    line in no function's body (module or class level; a ``def`` line with its decorators,
    defaults and annotations, which run where the ``def`` statement does), the module imported."""
    executed = lines.get(path, set())
    body = _innermost_body(text, line)
    if body is None:
        return bool(executed)
    first, last = body
    return any(first <= n <= last for n in executed)


def compiles_alike(old_text: str, new_text: str, line: int) -> bool:
    """Whether the innermost function holding one-based ``line`` of ``old_text`` compiles to the
    same code in ``new_text`` (line numbers aside): then no call of it can tell the two apart,
    so whether a test runs it says nothing. Judged by this interpreter's compiler, not by how
    tactful compares syntax trees."""
    try:
        old_tree = ast.parse(old_text)
        old_code = compile(old_text, "<old>", "exec", dont_inherit=True)
        new_code = compile(new_text, "<new>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    found = _innermost_function(old_tree, line)
    if found is None:
        return False
    name, occurrence = found
    old_functions = [c for c in _code_objects(old_code) if c.co_qualname == name]
    new_functions = [c for c in _code_objects(new_code) if c.co_qualname == name]
    if occurrence >= len(old_functions) or occurrence >= len(new_functions):
        return False
    return _shape(old_functions[occurrence]) == _shape(new_functions[occurrence])


def _innermost_function(tree: ast.AST, line: int) -> tuple[str, int] | None:
    """The compiler's qualified name of the innermost function whose body holds ``line``, and
    which of the functions of that name it is, in source order."""
    best: tuple[int, str, int] | None = None
    seen: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                occurrence = seen[name] = seen.get(name, -1) + 1
                if child.body:
                    first, last = child.body[0].lineno, child.end_lineno or child.body[0].lineno
                    if first <= line <= last and (best is None or first >= best[0]):
                        best = (first, name, occurrence)
                visit(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return (best[1], best[2]) if best is not None else None


def _code_objects(code: CodeType) -> list[CodeType]:
    """Every code object compiled into ``code``, in the order the compiler made them."""
    found: list[CodeType] = []
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            found.append(constant)
            found.extend(_code_objects(constant))
    return found


def _shape(code: CodeType) -> tuple:
    """What a code object does, without where its lines are."""
    return (
        code.co_code,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        # a __future__ import's flag is on every code object of the module; where it changes
        # anything (annotations compiled as strings) the bytecode shows it
        code.co_flags & ~FUTURE_ANNOTATIONS,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_exceptiontable,
        tuple(
            _shape(c) if isinstance(c, CodeType) else (type(c).__name__, repr(c))
            for c in code.co_consts
        ),
    )


def _innermost_body(text: str, line: int) -> tuple[int, int] | None:
    """One-based first and last line of the innermost function body holding ``line``."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    best: tuple[int, int] | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first, last = node.body[0].lineno, node.end_lineno or node.body[0].lineno
            if first <= line <= last and (best is None or first >= best[0]):
                best = (first, last)
    return best

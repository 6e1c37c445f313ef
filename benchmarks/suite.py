"""What a corpus's whole test suite executes, measured with coverage.py: the benchmarks' oracle.

A verdict that says "tests passed" for a change to a function the whole suite never executes
is a false validation, whatever tactful's own selection and coverage map say; this measures the
suite independently of them: ``coverage run -m pytest`` with the corpus's own environment, in
the corpus folder, outside the sandbox (the corpora are fetched from PyPI by the benchmarks
themselves). coverage is installed into the corpus's environment, pinned as tactful pins it.
"""

from __future__ import annotations

import ast
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

COVERAGE = "coverage==7.17.3"


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

"""Validation speed and fidelity on click 8.1.8: selected tests against the whole suite.

Deliberately wrong one-function edits (mutants: flipped comparisons, off-by-one constants,
dropped statements) of click's own source are validated twice through the real sandbox: with
the tests that ``Sandbox.validate`` selects (coverage map, import graph, whole suite), and with
the whole suite. Printed as JSON:

- ``time_share_median``: median wall time of a selected validation (sync, selection, copy, run)
  over the median wall time of a whole-suite validation (target: at most 0.25);
  ``cpu_share_median`` is the same with CPU time (tactful's and every sandboxed process's), which
  other work on a shared machine does not inflate;
- ``agreement``: share of mutants whose two verdicts agree (target: at least 0.95);
- ``false_passed``: mutants the selected tests passed and the whole suite failed (target: 0).

The sdist is fetched by ``corpora.py`` into ``benchmarks/corpora/`` (git-ignored) and
unpacked into a folder of this benchmark's own, with a virtual environment holding pytest and
click (editable), as a developer of click would have it.

    python benchmarks/validation.py [--mutants N] [--seed S] [--sandbox auto|bwrap|unshare|none]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from corpora import CORPORA, download, project_python, unpack

from tactful.analyzers.text import Edit, Point, Span
from tactful.feedback.execution import Sandbox, Status, ValidationOptions, Verdict

PACKAGE = "click==8.1.8"
PROJECT = CORPORA / "validation-click-8.1.8"
PYTEST = "pytest==8.3.4"  # what click 8.1.8 was released against

FLIPS = {
    ast.Lt: ">=",
    ast.LtE: ">",
    ast.Gt: "<=",
    ast.GtE: "<",
    ast.Eq: "!=",
    ast.NotEq: "==",
    ast.Is: "is not",
    ast.IsNot: "is",
    ast.In: "not in",
    ast.NotIn: "in",
}
TOKENS = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare() -> Path:
    """The unpacked sdist with a ``.venv`` holding pytest and click (editable)."""
    if (PROJECT / ".venv" / "bin" / "python").exists():
        return PROJECT
    shutil.rmtree(PROJECT, ignore_errors=True)
    unpack(download(PACKAGE), PROJECT)
    log("making a virtual environment with pytest and click")
    project_python(PROJECT, (PYTEST,))
    return PROJECT


@dataclass(frozen=True)
class Mutant:
    kind: str
    path: str
    function: str
    line: int
    edit: Edit


def _column(line_text: str, byte_offset: int) -> int:
    return len(line_text.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))


def _point(lines: list[str], lineno: int | None, byte_offset: int | None) -> Point:
    # ast leaves end positions optional; every node parsed from source has them
    line = (lineno or 1) - 1
    return Point(line, _column(lines[line], byte_offset or 0))


def mutants_of(root: Path, relative: str) -> list[Mutant]:
    text = (root / relative).read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    found: list[Mutant] = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = function.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in FLIPS:
                op = type(node.ops[0])
                start = _point(lines, node.left.end_lineno, node.left.end_col_offset)
                end = _point(lines, node.comparators[0].lineno, node.comparators[0].col_offset)
                if start.line != end.line:
                    continue
                between = lines[start.line][start.column : end.column]
                if between.strip() != TOKENS[op]:
                    continue
                span = Span(start, end)
                found.append(
                    Mutant(
                        "flip",
                        relative,
                        function.name,
                        start.line,
                        Edit(relative, span, f" {FLIPS[op]} "),
                    )
                )
            elif (
                isinstance(node, ast.Constant)
                and type(node.value) is int
                and node.lineno == node.end_lineno
            ):
                span = Span(
                    _point(lines, node.lineno, node.col_offset),
                    _point(lines, node.end_lineno, node.end_col_offset),
                )
                found.append(
                    Mutant(
                        "off-by-one",
                        relative,
                        function.name,
                        node.lineno - 1,
                        Edit(relative, span, str(node.value + 1)),
                    )
                )
        statements = [s for s in body if not isinstance(s, ast.FunctionDef | ast.ClassDef)]
        if len(body) > 1:
            for statement in statements:
                if isinstance(statement, ast.Return | ast.Pass):
                    continue
                span = Span(
                    _point(lines, statement.lineno, statement.col_offset),
                    _point(lines, statement.end_lineno, statement.end_col_offset),
                )
                found.append(
                    Mutant(
                        "drop",
                        relative,
                        function.name,
                        statement.lineno - 1,
                        Edit(relative, span, "pass"),
                    )
                )
    return found


def choose(root: Path, count: int, seed: int) -> list[Mutant]:
    by_kind: dict[str, list[Mutant]] = {}
    for path in sorted((root / "src" / "click").glob("*.py")):
        for mutant in mutants_of(root, path.relative_to(root).as_posix()):
            by_kind.setdefault(mutant.kind, []).append(mutant)
    rng = random.Random(seed)
    chosen: list[Mutant] = []
    kinds = sorted(by_kind)
    for i in range(count):
        pool = by_kind[kinds[i % len(kinds)]]
        chosen.append(pool.pop(rng.randrange(len(pool))))
    return chosen


async def timed(validation: Awaitable[Verdict]) -> tuple[Verdict, float, float]:
    """A validation with its wall time and CPU time: tactful's own, and that of every process
    of the test run (which the sandbox reports, wherever the run was started from)."""
    wall, own = time.monotonic(), time.process_time()
    verdict = await validation
    cpu = (time.process_time() - own) + verdict.cpu_s
    return verdict, time.monotonic() - wall, cpu


async def measure(root: Path, count: int, seed: int, backend: str, cache: Path) -> dict:
    options = ValidationOptions(sandbox=backend, timeout_s=120, coverage_map=False)
    judge = Sandbox(root, options, trusted=True, cache=cache)

    started = time.monotonic()
    baseline = await judge.validate(everything=True)
    first_run_s = time.monotonic() - started
    if baseline.status is not Status.PASSED:
        raise SystemExit(
            f"click's suite does not pass unedited: {baseline.summary()}\n"
            f"{baseline.reason}\n{baseline.failures}"
        )
    log(f"whole suite: {baseline.tests_run} tests, backend {baseline.backend}")

    started = time.monotonic()
    coverage_map = await judge.update_coverage_map()
    map_s = time.monotonic() - started
    if coverage_map is None:
        raise SystemExit("the coverage map could not be made")
    log(f"coverage map: {len(coverage_map.tests)} tests in {map_s:.1f} s")

    mutants = choose(root, count, seed)
    full_times: list[float] = []
    full_cpu: list[float] = []
    selected_times: list[float] = []
    selected_cpu: list[float] = []
    rows = []
    for number, mutant in enumerate(mutants, 1):
        selected, selected_s, selected_c = await timed(judge.validate([mutant.edit]))
        whole, whole_s, whole_c = await timed(judge.validate([mutant.edit], everything=True))
        selected_times.append(selected_s)
        selected_cpu.append(selected_c)
        if whole.status is Status.PASSED:
            # a failing whole run stops at its first failure: not the suite's time
            full_times.append(whole_s)
            full_cpu.append(whole_c)
        rows.append(
            {
                "kind": mutant.kind,
                "path": mutant.path,
                "function": mutant.function,
                "line": mutant.line + 1,
                "new_text": mutant.edit.new_text,
                "selected": selected.status.value,
                "selection": selected.selection.value,
                "selected_tests": selected.tests_run,
                "selected_s": round(selected_s, 3),
                "selected_cpu_s": round(selected_c, 3),
                "whole": whole.status.value,
                "whole_s": round(whole_s, 3),
                "whole_cpu_s": round(whole_c, 3),
            }
        )
        log(
            f"{number:3}/{len(mutants)} {mutant.kind:10} {mutant.path}:{mutant.line + 1} "
            f"{mutant.function}: selected {selected.status.value} "
            f"({selected.selection.value}, {selected.tests_run} tests, {selected_s:.2f} s), "
            f"whole {whole.status.value} ({whole_s:.2f} s)"
        )

    # the whole suite's time, measured the same way (a fresh edit each time, so no cache)
    for i in range(3):
        filler = Edit("src/click/__init__.py", Span(Point(0, 0), Point(0, 0)), f"# run {i}\n")
        verdict, wall, cpu = await timed(judge.validate([filler], everything=True))
        if verdict.status is Status.PASSED:
            full_times.append(wall)
            full_cpu.append(cpu)

    agree = sum(row["selected"] == row["whole"] for row in rows)
    false_passed = [r for r in rows if r["selected"] == "passed" and r["whole"] != "passed"]
    full_median = statistics.median(full_times)
    selected_median = statistics.median(selected_times)
    by_selection: dict[str, dict[str, float]] = {}
    for method in sorted({row["selection"] for row in rows}):
        times = [row["selected_s"] for row in rows if row["selection"] == method]
        by_selection[method] = {
            "mutants": len(times),
            "median_s": round(statistics.median(times), 3),
        }
    return {
        "corpus": "click-8.1.8",
        "backend": baseline.backend,
        "suite_tests": baseline.tests_run,
        "first_run_s": round(first_run_s, 3),
        "coverage_map_s": round(map_s, 3),
        "whole_suite_median_s": round(full_median, 3),
        "selected_median_s": round(selected_median, 3),
        "time_share_median": round(selected_median / full_median, 3),
        "time_share_target": 0.25,
        # CPU seconds of tactful and every process of the run: what wall time would be on an
        # idle machine, and not skewed by other work on a shared one
        "whole_suite_cpu_median_s": round(statistics.median(full_cpu), 3),
        "selected_cpu_median_s": round(statistics.median(selected_cpu), 3),
        "cpu_share_median": round(statistics.median(selected_cpu) / statistics.median(full_cpu), 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "mutants": len(rows),
        "whole_suite_failed": sum(row["whole"] == "failed" for row in rows),
        "agreement": round(agree / len(rows), 3),
        "agreement_target": 0.95,
        "false_passed": len(false_passed),
        "false_passed_mutants": false_passed,
        "by_kind": {
            kind: sum(1 for row in rows if row["kind"] == kind)
            for kind in sorted({r["kind"] for r in rows})
        },
        "by_selection": by_selection,
        "disagreements": [row for row in rows if row["selected"] != row["whole"]],
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=60)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "unshare", "none"))
    parser.add_argument(
        "--details",
        type=Path,
        default=None,
        help="also write every mutant's verdicts to this JSON file",
    )
    args = parser.parse_args()
    root = prepare()
    with tempfile.TemporaryDirectory(prefix="tactful-bench-cache-") as cache:
        report = asyncio.run(measure(root, args.mutants, args.seed, args.sandbox, Path(cache)))
    if args.details:
        args.details.write_text(json.dumps(report, indent=2), encoding="utf-8")
    del report["rows"]  # every mutant's verdicts: in --details only
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Validation speed and fidelity on a real project (click 8.1.8; boltons 24.1.0 and
more-itertools 10.5.0 as checks): selected tests against the whole suite, and the differential
check where no test runs the code.

Which functions the whole suite runs is measured with coverage.py on its own (``suite.py``).
Deliberately wrong one-line edits (mutants: flipped comparisons, off-by-one constants, dropped
statements) are validated through the real sandbox, the path users get (coverage map on, the
project's ``.venv``):

- mutants of functions the suite runs, twice: with the tests that ``Sandbox.validate`` selects,
  and with the whole suite. ``agreement``: share whose two verdicts agree (target at least
  0.95); ``false_passed``: selected ``passed`` where the whole suite does not (target 0);
  ``time_share_median``: median wall time of a selected validation over that of a whole-suite
  one (target at most 0.25), ``cpu_share_median`` the same in CPU time, which other work on a
  shared machine does not inflate;
- mutants of functions no test runs, once: the differential check (old against new on recorded
  or generated inputs) should say ``different``. ``differential_caught``: share of ``different``
  among the mutants it could run (``different`` or ``equivalent``; target at least 0.80), and how
  many it could not (``unexercised``, with the reasons);
- ruff's own safe fixes (every rule) in functions no test runs: they should keep the behaviour.
  ``safe_fixes_same``: share of ``equivalent`` among those the check could run (target at least
  0.90); ``safe_fixes_same_of_all`` the same share over all of them, those it could not run
  counted as not shown the same.

The sdist is fetched by ``corpora.py`` into ``benchmarks/corpora/`` (git-ignored) and
unpacked into a folder of this benchmark's own, with a virtual environment holding pytest and
the project (editable), as a developer of the project would have it.

    python benchmarks/validation.py [--corpus click|boltons|more-itertools] [--mutants N]
        [--unrun-mutants N] [--seed S] [--sandbox auto|bwrap|unshare|none] [--details FILE]
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
from fixes import standalone
from suite import runs, suite_lines

from tactful.analyzers.ruff import RuffOptions, check_paths
from tactful.analyzers.text import Edit, Point, Span
from tactful.feedback.execution import Sandbox, Status, ValidationOptions, Verdict
from tactful.feedback.execution.exercise import enclosing_body

PYTEST = "pytest==8.3.4"  # what click 8.1.8 was released against


@dataclass(frozen=True)
class Corpus:
    requirement: str
    package: str  # the folder of the project's modules, relative to its root
    # pytest arguments of its validation.command: boltons' socket test talks to a server on
    # 127.0.0.1, which the sandbox's network namespace does not have
    pytest_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.requirement.replace("==", "-")


KNOWN = {
    "click": Corpus("click==8.1.8", "src/click"),
    "boltons": Corpus(
        "boltons==24.1.0",
        "boltons",
        ("--deselect", "tests/test_socketutils.py::test_socketutils_netstring"),
    ),
    "more-itertools": Corpus("more-itertools==10.5.0", "more_itertools"),
}

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


def prepare(corpus: Corpus) -> Path:
    """The unpacked sdist with a ``.venv`` holding pytest and the project (editable)."""
    project = CORPORA / f"validation-{corpus.name}"
    if (project / ".venv" / "bin" / "python").exists():
        return project
    shutil.rmtree(project, ignore_errors=True)
    unpack(download(corpus.requirement), project)
    # pytest's own configuration search must stop at the project, as in a checkout of it
    if not any(
        (project / n).exists() for n in ("pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")
    ):
        (project / "pytest.ini").write_text("[pytest]\n")
    log(f"making a virtual environment with pytest and {corpus.requirement}")
    project_python(project, (PYTEST,))
    return project


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


def in_function_body(text: str, line: int) -> bool:
    found = enclosing_body(text, line)
    return found is not None and line >= found[1][0]


def choose(
    root: Path,
    package: str,
    count: int,
    seed: int,
    suite: dict[str, set[int]],
    run_by_suite: bool,
) -> list[Mutant]:
    """``count`` mutants, kinds taking turns, of functions the whole suite runs (or does not)."""
    by_kind: dict[str, list[Mutant]] = {}
    for path in sorted((root / package).glob("*.py")):
        relative = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        for mutant in mutants_of(root, relative):
            line = mutant.line + 1
            if not in_function_body(text, line):
                continue
            if runs(suite, relative, text, line) == run_by_suite:
                by_kind.setdefault(mutant.kind, []).append(mutant)
    rng = random.Random(seed)
    chosen: list[Mutant] = []
    kinds = sorted(by_kind)
    for i in range(count):
        pools = [by_kind[k] for k in kinds if by_kind[k]]
        if not pools:
            break
        pool = pools[i % len(pools)]
        chosen.append(pool.pop(rng.randrange(len(pool))))
    return chosen


def safe_fixes_in_unrun_code(
    root: Path, package: str, suite: dict[str, set[int]]
) -> list[tuple[str, Edit]]:
    """(rule, edits) of ruff's safe fixes, over every rule, inside function bodies no test runs."""
    from tactful.analyzers.findings import Applicability

    findings = check_paths([package], root, RuffOptions(select=("ALL",)))
    found = []
    texts: dict[str, str] = {}
    for finding in findings:
        if not finding.fixes or finding.fixes[0].applicability is not Applicability.SAFE:
            continue
        text = texts.setdefault(finding.path, (root / finding.path).read_text(encoding="utf-8"))
        line = finding.span.start.line + 1
        edits = finding.fixes[0].edits
        if not all(in_function_body(text, e.span.start.line + 1) for e in edits):
            continue
        if runs(suite, finding.path, text, line):
            continue
        found.append((finding.rule, edits))
    return found


async def timed(validation: Awaitable[Verdict]) -> tuple[Verdict, float, float]:
    """A validation with its wall time and CPU time: tactful's own, and that of every process
    of the test run (which the sandbox reports, wherever the run was started from)."""
    wall, own = time.monotonic(), time.process_time()
    verdict = await validation
    cpu = (time.process_time() - own) + verdict.cpu_s
    return verdict, time.monotonic() - wall, cpu


def verdict_row(verdict: Verdict, wall: float) -> dict[str, object]:
    """The columns of a row on a validation of code the suite does not run."""
    return {
        "verdict": verdict.status.value,
        "inputs": verdict.inputs,
        "reason": verdict.reason[:300],
        "counterexample": verdict.counterexample.to_json() if verdict.counterexample else None,
        "s": round(wall, 3),
    }


async def measure(
    corpus: Corpus,
    root: Path,
    count: int,
    unrun_count: int,
    seed: int,
    backend: str,
    cache: Path,
) -> dict:
    command = ("python", "-m", "pytest", *corpus.pytest_args) if corpus.pytest_args else None
    options = ValidationOptions(sandbox=backend, timeout_s=120, coverage_map=False, command=command)
    judge = Sandbox(root, options, trusted=True, cache=cache)

    started = time.monotonic()
    baseline = await judge.validate(everything=True)
    first_run_s = time.monotonic() - started
    if baseline.status is not Status.PASSED:
        raise SystemExit(
            f"{corpus.name}'s suite does not pass unedited: {baseline.summary()}\n"
            f"{baseline.reason}\n{baseline.failures}"
        )
    log(f"whole suite: {baseline.tests_run} tests, backend {baseline.backend}")

    started = time.monotonic()
    coverage_map = await judge.update_coverage_map()
    map_s = time.monotonic() - started
    if coverage_map is None:
        raise SystemExit("the coverage map could not be made")
    log(f"coverage map: {len(coverage_map.tests)} tests in {map_s:.1f} s")
    suite = await asyncio.to_thread(suite_lines, root, corpus.pytest_args)

    mutants = choose(root, corpus.package, count, seed, suite, run_by_suite=True)
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
        filler = Edit(
            f"{corpus.package}/__init__.py", Span(Point(0, 0), Point(0, 0)), f"# run {i}\n"
        )
        verdict, wall, cpu = await timed(judge.validate([filler], everything=True))
        if verdict.status is Status.PASSED:
            full_times.append(wall)
            full_cpu.append(cpu)

    unrun_rows = []
    unrun = choose(root, corpus.package, unrun_count, seed, suite, run_by_suite=False)
    for number, mutant in enumerate(unrun, 1):
        verdict, wall, _cpu = await timed(judge.validate([mutant.edit]))
        unrun_rows.append(
            {
                "kind": mutant.kind,
                "path": mutant.path,
                "function": mutant.function,
                "line": mutant.line + 1,
                "new_text": mutant.edit.new_text,
                **verdict_row(verdict, wall),
            }
        )
        log(
            f"unrun {number:3} {mutant.kind:10} {mutant.path}:{mutant.line + 1} "
            f"{mutant.function}: {verdict.status.value} ({verdict.summary()[:80]}, {wall:.1f} s)"
        )

    safe_rows = []
    for number, (rule, edits) in enumerate(
        await asyncio.to_thread(safe_fixes_in_unrun_code, root, corpus.package, suite), 1
    ):
        verdict, wall, _cpu = await timed(judge.validate(list(edits)))
        safe_rows.append(
            {
                "rule": rule,
                "path": edits[0].path,
                "line": edits[0].span.start.line + 1,
                **verdict_row(verdict, wall),
            }
        )
        log(
            f"safe fix {number:3} {rule} {edits[0].path}:{edits[0].span.start.line + 1}: "
            f"{verdict.status.value} ({verdict.summary()[:80]})"
        )

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

    def tally(items: list[dict]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in items:
            counts[item["verdict"]] = counts.get(item["verdict"], 0) + 1
        return counts

    ran = [r for r in unrun_rows if r["verdict"] in ("different", "equivalent")]
    safe_ran = [r for r in safe_rows if r["verdict"] in ("different", "equivalent")]
    return {
        "corpus": corpus.name,
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
        "agreement": round(agree / len(rows), 3) if rows else None,
        "agreement_target": 0.95,
        "false_passed": len(false_passed),
        "false_passed_mutants": false_passed,
        "by_kind": {
            kind: sum(1 for row in rows if row["kind"] == kind)
            for kind in sorted({r["kind"] for r in rows})
        },
        "by_selection": by_selection,
        "disagreements": [row for row in rows if row["selected"] != row["whole"]],
        "unrun_mutants": len(unrun_rows),
        "unrun_verdicts": tally(unrun_rows),
        "differential_caught": round(sum(r["verdict"] == "different" for r in ran) / len(ran), 3)
        if ran
        else None,
        "differential_caught_target": 0.80,
        "unrun_not_caught": [r for r in unrun_rows if r["verdict"] == "equivalent"],
        "unrun_could_not_run": [
            {"at": f"{r['path']}:{r['line']}", "reason": r["reason"]}
            for r in unrun_rows
            if r["verdict"] not in ("different", "equivalent")
        ],
        "safe_fixes": len(safe_rows),
        "safe_fix_verdicts": tally(safe_rows),
        "safe_fixes_same": round(
            sum(r["verdict"] == "equivalent" for r in safe_ran) / len(safe_ran), 3
        )
        if safe_ran
        else None,
        "safe_fixes_same_target": 0.90,
        # the same over every safe fix, those the check could not run (unexercised) included
        "safe_fixes_same_of_all": round(
            sum(r["verdict"] == "equivalent" for r in safe_rows) / len(safe_rows), 3
        )
        if safe_rows
        else None,
        "safe_fixes_said_different": [r for r in safe_rows if r["verdict"] == "different"],
        "rows": rows,
        "unrun_rows": unrun_rows,
        "safe_rows": safe_rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="click", choices=sorted(KNOWN))
    parser.add_argument("--mutants", type=int, default=60)
    parser.add_argument("--unrun-mutants", type=int, default=40)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "unshare", "none"))
    parser.add_argument(
        "--details",
        type=Path,
        default=None,
        help="also write every mutant's verdicts to this JSON file",
    )
    args = parser.parse_args()
    corpus = KNOWN[args.corpus]
    root = prepare(corpus)
    # ruff and pytest must see the project on its own, not this repository's configuration
    # (whose ruff settings exclude the corpora)
    standalone(root)
    with tempfile.TemporaryDirectory(prefix="tactful-bench-cache-") as cache:
        report = asyncio.run(
            measure(
                corpus,
                root,
                args.mutants,
                args.unrun_mutants,
                args.seed,
                args.sandbox,
                Path(cache),
            )
        )
    if args.details:
        args.details.write_text(json.dumps(report, indent=2), encoding="utf-8")
    for name in ("rows", "unrun_rows", "safe_rows"):
        del report[name]  # every mutant's and fix's verdicts: in --details only
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: how many ruff findings get a fix validated by the project's tests, and whether any
validation was false.

Corpora: source distributions that ship their tests, fetched by corpora.py into benchmarks/corpora/
(git-ignored), each with its own virtual environment (benchmarks/corpora/NAME-VERSION/.venv)
holding its pinned test dependencies and the project itself (editable), as a developer has it:
click 8.1.8 (the development corpus), more-itertools 10.5.0 (a check on a project of another
style, with stub files) and boltons 24.1.0 (a third, older style). ``--corpus`` also takes the
path of any project with a ``.venv``.

Rules: ruff's default rule set plus B, UP, SIM, PERF and RUF, replacing the project's selection
(the rest of its ruff configuration applies). ``--rules current`` takes the defaults of the ruff
installed (0.17 enables several hundred rules, FA100 among them); ``--rules classic`` takes
ruff's long-standing defaults ``E4, E7, E9, F``. No LLM.

The path users get: the coverage map is built first (users get it in the background once a
workspace is trusted), the interpreter is the corpus's ``.venv``, found as a user's would be.
For every finding the fix judge proposes candidates (ruff's fix, our recipes), screens them with
ruff and runs the covering tests in the sandbox; a finding counts as fixed when its fix is
``passed``: the tests that ran executed the fixed code and passed. Every verdict kind is
counted (``unexercised``, ``equivalent`` for fixes in code no test runs).

False validations, judged by an oracle outside tactful: the whole suite run once under
coverage.py (``suite.py``). A "tests passed" claim is false when the fixed function (or, for a
change outside functions, the module) is one the whole suite never executes, unless the fix
leaves that function compiling to the same code (a local variable's annotation, a comment), or
when the whole suite, run in the sandbox with the fix, does not pass. The share of findings
with a "tests passed" fix is also reported over the findings in code the whole suite runs
(target 0.85), and the selected tests' wall time over the whole suite's, for the fixes that
passed (target 0.25).
Findings in stub files (.pyi) are counted apart too: no test runs a stub.

Sampling: ``--max-findings-per-rule N`` judges at most N findings of each rule (evenly spread
over the rule's findings in file order), so a run takes minutes. The share is then reported
raw (over the findings judged) and weighted (each rule's share weighted by its number of
findings in the whole project: an estimate of the full-population share). Without sampling
both are the same figure.

    .venv/bin/python benchmarks/fixes.py [--corpus click|more-itertools|boltons|DIR]
        [--rules current|classic] [--max-findings-per-rule N] [--only RULE,...]
        [--exclude RULE,...] [--limit N] [--skip-full-check]

Prints one JSON object on stdout (one line per finding judged on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import corpora
from corpora import CORPORA, project_python

EXTRA_RULES = ("B", "UP", "SIM", "PERF", "RUF")
CLASSIC_DEFAULTS = ("E4", "E7", "E9", "F")
# click 8.1.8's requirements/tests.txt: the versions its own CI runs the tests with; the other
# projects need nothing but pytest to run their tests.
PYTEST = ("pytest==8.3.4", "iniconfig==2.0.0", "packaging==24.2", "pluggy==1.5.0")


@dataclass(frozen=True)
class Corpus:
    requirement: str
    test_requirements: tuple[str, ...] = PYTEST
    command: tuple[str, ...] | None = None  # the test command (validation.command), if not pytest


KNOWN = {
    "click": Corpus("click==8.1.8"),
    "more-itertools": Corpus("more-itertools==10.5.0"),
    # Its socket test talks to a server on 127.0.0.1, which the sandbox's network namespace
    # does not have: deselected, as `validation.command` lets a user do.
    "boltons": Corpus(
        "boltons==24.1.0",
        command=(
            "python",
            "-m",
            "pytest",
            "--deselect",
            "tests/test_socketutils.py::test_socketutils_netstring",
        ),
    ),
}


def fetch(corpus: Corpus) -> Path:
    """The corpus unpacked, with its virtual environment (both made on first use)."""
    root = corpora.fetch(corpus.requirement)
    standalone(root)
    project_python(root, corpus.test_requirements)
    return root


def standalone(root: Path) -> None:
    """Make ruff and pytest see a corpus as they would see the project on its own.

    Both look for configuration in parent folders: a corpus under benchmarks/ would take this
    repository's (whose ruff configuration excludes the corpora, whose pytest options need
    plugins the corpus lacks). An empty ruff.toml or pytest.ini stops the search: ruff then
    uses its defaults and the project's ``requires-python``, pytest its defaults, as in a
    checkout of the project.
    """

    def mentions(name: str, marker: str) -> bool:
        path = root / name
        return path.exists() and marker in path.read_text(encoding="utf-8", errors="replace")

    if not (
        (root / "ruff.toml").exists()
        or (root / ".ruff.toml").exists()
        or mentions("pyproject.toml", "[tool.ruff")
    ):
        (root / "ruff.toml").write_text(
            "# ruff's defaults: the enclosing repository's configuration is not this project's.\n"
        )
    if not (
        (root / "pytest.ini").exists()
        or (root / ".pytest.ini").exists()
        or mentions("pyproject.toml", "[tool.pytest.ini_options]")
        or mentions("tox.ini", "[pytest]")
        or mentions("setup.cfg", "[tool:pytest]")
    ):
        (root / "pytest.ini").write_text(
            "# pytest's defaults: the enclosing repository's configuration is not this project's.\n"
            "[pytest]\n"
        )


def default_rules() -> list[str]:
    """ruff's default rule set, as this ruff version defines it."""
    from tactful.analyzers.ruff import ruff_binary

    CORPORA.mkdir(parents=True, exist_ok=True)
    probe = CORPORA / ".probe.py"
    probe.write_text("")
    done = subprocess.run(
        [str(ruff_binary()), "check", "--isolated", "--show-settings", str(probe)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.split("linter.rules.enabled = [", 1)[1].split("]", 1)[0]
    return [line.rsplit("(", 1)[1].rstrip("),") for line in lines.split("\n") if "(" in line]


def stratified(findings: list, per_rule: int) -> list:
    """At most ``per_rule`` findings of each rule, evenly spread over its findings in order."""
    if per_rule <= 0:
        return findings
    by_rule: dict[str, list] = defaultdict(list)
    for finding in findings:
        by_rule[finding.rule].append(finding)
    kept: set[int] = set()
    for group in by_rule.values():
        if len(group) <= per_rule:
            kept.update(id(f) for f in group)
            continue
        step = len(group) / per_rule
        kept.update(id(group[int(i * step + step / 2)]) for i in range(per_rule))
    return [f for f in findings if id(f) in kept]


def shares_of(per_rule: dict[str, Counter], without: str | None = None) -> tuple[float, float]:
    """(raw share over the findings judged, population-weighted estimate)."""
    rules = {r: c for r, c in per_rule.items() if r != without}
    judged = sum(c["judged"] for c in rules.values())
    validated = sum(c["validated"] for c in rules.values())
    population = sum(c["population"] for c in rules.values())
    estimate = sum(
        c["population"] * c["validated"] / c["judged"] for c in rules.values() if c["judged"]
    )
    return (
        round(validated / judged, 4) if judged else 0.0,
        round(estimate / population, 4) if population else 0.0,
    )


def weighted_share(per_rule: dict[str, Counter], part: str, whole: str) -> float | None:
    """Each rule's ``part / whole`` weighted by the rule's population."""
    rules = [c for c in per_rule.values() if c[whole]]
    population = sum(c["population"] for c in rules)
    if not population:
        return None
    return round(sum(c["population"] * c[part] / c[whole] for c in rules) / population, 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="click", help="click, more-itertools, boltons or DIR")
    parser.add_argument("--rules", choices=("current", "classic"), default="current")
    parser.add_argument("--max-findings-per-rule", type=int, default=0, metavar="N")
    parser.add_argument("--only", default="", help="judge only these rules (comma-separated)")
    parser.add_argument("--exclude", default="", help="do not judge these rules")
    parser.add_argument("--limit", type=int, default=0, help="judge at most N findings")
    parser.add_argument("--skip-full-check", action="store_true")
    args = parser.parse_args()

    # Warm copies, verdicts and ruff's cache stay with the corpora, away from the user's.
    os.environ.setdefault("XDG_CACHE_HOME", str(CORPORA / ".fixes-cache"))
    os.environ.setdefault("XDG_DATA_HOME", str(CORPORA / ".fixes-data"))

    from suite import compiles_alike, runs, suite_lines

    from tactful.analyzers.ruff import RuffOptions, check_paths
    from tactful.analyzers.text import apply_edits
    from tactful.feedback.execution import Sandbox, Status, ValidationOptions
    from tactful.feedback.fixes import FixJudge, FixRequest

    known = KNOWN.get(args.corpus)
    root = (fetch(known) if known else Path(args.corpus)).resolve()
    standalone(root)
    defaults = default_rules() if args.rules == "current" else list(CLASSIC_DEFAULTS)
    options = RuffOptions(select=(*defaults, *EXTRA_RULES))
    command = known.command if known else None
    # The path users get: the coverage map on (built in the background once a workspace is
    # trusted; here first, and timed), the project's environment found as users' is (.venv).
    validation = ValidationOptions(timeout_s=180, command=command)
    sandbox = Sandbox(root, validation, trusted=True)

    started = time.monotonic()
    coverage_map = asyncio.run(sandbox.update_coverage_map())
    map_s = time.monotonic() - started
    print(
        f"coverage map: {len(coverage_map.tests) if coverage_map else 0} tests in {map_s:.1f} s",
        file=sys.stderr,
    )
    # The oracle: what the whole suite executes, measured with coverage.py on its own.
    pytest_args = list(command[3:]) if command else []
    suite = suite_lines(root, pytest_args)

    started = time.monotonic()
    population = check_paths(["."], root, options)
    only = {r for r in args.only.split(",") if r}
    excluded = {r for r in args.exclude.split(",") if r}
    eligible = [f for f in population if (not only or f.rule in only) and f.rule not in excluded]
    judged = stratified(eligible, args.max_findings_per_rule)
    if args.limit:
        judged = judged[: args.limit]
    by_file = defaultdict(list)
    for finding in population:
        by_file[finding.path].append(finding)
    judged_by_file = defaultdict(list)
    for finding in judged:
        judged_by_file[finding.path].append(finding)
    judge = FixJudge(root, ruff_options=options, validate=sandbox.validate_sync)

    offers = []
    texts: dict[str, str] = {}
    in_suite: dict[int, bool] = {}
    for path, file_findings in judged_by_file.items():
        text = texts[path] = (root / path).read_text(encoding="utf-8")
        for finding in file_findings:
            offer = judge.turn(FixRequest(finding, text, tuple(by_file[path]))).offer
            assert offer is not None  # a turn ends with its offer
            in_suite[len(offers)] = runs(suite, path, text, finding.span.start.line + 1)
            offers.append(offer)
            print(
                f"{finding.path}:{finding.span.start.line + 1} {finding.rule}: "
                f"{offer.title or 'no fix: ' + offer.verdict.summary()}"
                + f" ({offer.verdict.selection.value}, {offer.verdict.duration_s:.2f} s"
                + f"{', in code the suite runs' if in_suite[len(offers) - 1] else ''})"
                + ("" if offer.validated else f" [{' | '.join(offer.rejections)[:300]}]"),
                file=sys.stderr,
                flush=True,
            )
    judge_s = time.monotonic() - started

    per_rule: dict[str, Counter] = defaultdict(Counter)
    for finding in eligible:
        per_rule[finding.rule]["population"] += 1
    misses: dict[str, list[str]] = defaultdict(list)
    by_origin: Counter[str] = Counter()
    ruff_fix: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    for number, offer in enumerate(offers):
        counts = per_rule[offer.finding.rule]
        counts["judged"] += 1
        counts["in_suite"] += in_suite[number]
        verdicts[offer.verdict.status.value if offer.fix is not None else "no fix"] += 1
        ruff_fix[offer.finding.fixes[0].applicability.value if offer.finding.fixes else "none"] += 1
        if offer.validated:
            counts["validated"] += 1
            counts["validated_in_suite"] += in_suite[number]
            by_origin[offer.fix.origin] += 1
        elif len(misses[offer.finding.rule]) < 2:
            where = f"{offer.finding.path}:{offer.finding.span.start.line + 1}"
            why = offer.rejections[-1] if offer.rejections else offer.verdict.summary()
            misses[offer.finding.rule].append(f"{where}: {why}"[:240])

    # A "tests passed" claim is false when the whole suite fails with the fix, or when the
    # changed function (or module) is one the whole suite never executes.
    false_validations = []
    full_checked = 0
    shares: list[float] = []
    cpu_shares: list[float] = []  # the same in CPU time, which other work does not inflate
    shares_by_selection: dict[str, list[float]] = defaultdict(list)
    seen: dict[tuple, tuple[str, float]] = {}
    for offer in offers:
        if not offer.validated:
            continue
        path = offer.finding.path
        # each edited line of the old text, judged by the suite's own coverage, not by how
        # tactful names what an edit changed: the innermost function's body must have run (a
        # line outside any function body: the module must have been imported)
        for edit in offer.fix.edits:
            text = texts.get(edit.path) or (root / edit.path).read_text(encoding="utf-8")
            fixed = apply_edits(text, [e for e in offer.fix.edits if e.path == edit.path])
            first, last = edit.span.start.line + 1, edit.span.end.line + 1
            if edit.span.end.column == 0 and last > first:
                last -= 1  # the edit ends where that line starts: it leaves the line alone
            unrun = [
                n
                for n in range(first, last + 1)
                if not runs(suite, edit.path, text, n) and not compiles_alike(text, fixed, n)
            ]
            if unrun:
                false_validations.append(
                    {
                        "path": edit.path,
                        "line": unrun[0],
                        "rule": offer.finding.rule,
                        "title": offer.title,
                        "why": f"the whole suite never runs the code at {edit.path}:{unrun[0]}",
                    }
                )
                break
        if args.skip_full_check:
            continue
        key = (path, tuple(offer.fix.edits))
        if key not in seen:
            whole = sandbox.validate_sync(offer.fix.edits, everything=True)
            seen[key] = (whole.status.value, whole.duration_s, whole.cpu_s)
            full_checked += 1
        status, whole_s, whole_cpu = seen[key]
        if status != Status.PASSED.value:
            false_validations.append(
                {
                    "path": path,
                    "rule": offer.finding.rule,
                    "title": offer.title,
                    "why": f"the whole suite says {status}",
                }
            )
        elif whole_s > 0 and not offer.verdict.cached:
            shares.append(offer.verdict.duration_s / whole_s)
            shares_by_selection[offer.verdict.selection.value].append(
                offer.verdict.duration_s / whole_s
            )
            if whole_cpu > 0:
                cpu_shares.append(offer.verdict.cpu_s / whole_cpu)

    raw, weighted = shares_of(per_rule)
    raw_no_fa, weighted_no_fa = shares_of(per_rule, without="FA100")
    in_suite_judged = sum(c["in_suite"] for c in per_rule.values())
    in_suite_validated = sum(c["validated_in_suite"] for c in per_rule.values())
    missed = sorted(
        (
            (c["population"] * (1 - c["validated"] / c["judged"]), rule)
            for rule, c in per_rule.items()
            if c["judged"]
        ),
        reverse=True,
    )
    result = {
        "corpus": root.name,
        "rules": f"ruff defaults ({args.rules}: {len(defaults)} selectors) + "
        + ", ".join(EXTRA_RULES),
        "population": len(population),
        "eligible": len(eligible),
        "judged": len(offers),
        "max_findings_per_rule": args.max_findings_per_rule or None,
        "coverage_map_s": round(map_s, 1),
        "coverage_map_tests": len(coverage_map.tests) if coverage_map else 0,
        "ruff_fix_available": dict(ruff_fix),
        "fix_offered": sum(o.offered for o in offers),
        "verdicts_of_offered_fixes": dict(verdicts),
        "validated_fix_offered": sum(o.validated for o in offers),
        "validated_share": raw,
        "validated_share_weighted": weighted,
        "validated_share_without_FA100": raw_no_fa,
        "validated_share_weighted_without_FA100": weighted_no_fa,
        # findings in code the whole suite runs (coverage.py, outside tactful): the share with
        # a "tests passed" fix
        "judged_in_code_the_suite_runs": in_suite_judged,
        "passed_in_code_the_suite_runs": in_suite_validated,
        "passed_share_in_code_the_suite_runs": round(in_suite_validated / in_suite_judged, 4)
        if in_suite_judged
        else None,
        # each rule's share weighted by its number of findings in the whole project
        "passed_share_in_code_the_suite_runs_weighted": weighted_share(
            per_rule, "validated_in_suite", "in_suite"
        ),
        "passed_share_target": 0.85,
        "validated_by_origin": dict(by_origin),
        # Stub files run in no test: their fixes are never "tests passed" now.
        "judged_in_stubs": sum(o.finding.path.endswith(".pyi") for o in offers),
        "validated_in_stubs": sum(o.validated and o.finding.path.endswith(".pyi") for o in offers),
        "distinct_rules": len(per_rule),
        "rules_with_a_validated_fix": sum(1 for c in per_rule.values() if c["validated"]),
        "top_misses": [
            {
                "rule": rule,
                "estimated_missed": round(count, 1),
                **per_rule[rule],
                "examples": misses.get(rule, []),
            }
            for count, rule in missed[:15]
            if count > 0
        ],
        "per_rule": {rule: dict(c) for rule, c in sorted(per_rule.items())},
        "full_suite_checks": full_checked,
        "false_validations": len(false_validations),
        "false_validation_details": false_validations,
        # wall time of a fix's selected tests over the whole suite's, for the fixes that passed
        "selected_time_share_median": round(statistics.median(shares), 3) if shares else None,
        "selected_cpu_share_median": round(statistics.median(cpu_shares), 3)
        if cpu_shares
        else None,
        "load_average": [round(n, 2) for n in os.getloadavg()],
        # by how the tests were chosen: a change at module level needs every test importing the
        # module (``imports``, often ``all``), one inside a function only those that ran it
        "selected_time_share_by_selection": {
            method: {"fixes": len(values), "median": round(statistics.median(values), 3)}
            for method, values in sorted(shares_by_selection.items())
        },
        "selected_time_share_target": 0.25,
        "judge_seconds": round(judge_s, 1),
        "total_seconds": round(time.monotonic() - started, 1),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

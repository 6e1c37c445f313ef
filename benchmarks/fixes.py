"""Benchmark: how many ruff findings get a fix validated by the project's tests, and whether any
validation was false.

Corpus: click 8.1.8's sdist (it ships its tests), fetched with pip into benchmarks/corpora/
(git-ignored), with its test dependencies and click itself (editable) in
benchmarks/corpora/click-8.1.8/.venv, the project's own virtual environment as a user has it.

Rules: ruff's default rule set plus B, UP, SIM, PERF and RUF, replacing the project's selection
(the rest of its ruff configuration applies). ``--rules current`` takes the defaults of the ruff
installed (0.17 enables several hundred rules, FA100 among them); ``--rules classic`` takes
ruff's long-standing defaults ``E4, E7, E9, F``. No LLM. For every finding the fix judge proposes
candidates (ruff's fix, our recipes), screens them with ruff and runs the covering tests in the
sandbox; a finding counts as fixed when a fix is offered with passing tests. Then every distinct
fix reported as passing is run against the whole suite: a failure there is a false validation.

    .venv/bin/python benchmarks/fixes.py [--rules current|classic] [--corpus DIR] [--limit N]
                                         [--skip-full-check]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = HERE / "corpora"
CLICK = "click==8.1.8"
EXTRA_RULES = ("B", "UP", "SIM", "PERF", "RUF")
CLASSIC_DEFAULTS = ("E4", "E7", "E9", "F")
# click 8.1.8's requirements/tests.txt: the versions its own CI runs the tests with.
TEST_REQUIREMENTS = ("pytest==8.3.4", "iniconfig==2.0.0", "packaging==24.2", "pluggy==1.5.0")


def fetch_click() -> Path:
    root = CORPORA / "click-8.1.8"
    if not (root / "tests").is_dir():
        CORPORA.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                CLICK,
                "-d",
                str(CORPORA),
            ],
            check=True,
        )
        with tarfile.open(CORPORA / "click-8.1.8.tar.gz") as archive:
            archive.extractall(CORPORA, filter="data")
    venv = root / ".venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *TEST_REQUIREMENTS], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(root)], check=True
        )
    return root


def default_rules() -> list[str]:
    """ruff's default rule set, as this ruff version defines it."""
    from tactful.analyzers.ruff import ruff_binary

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, help="a project with .venv (default: click 8.1.8)")
    parser.add_argument("--limit", type=int, default=0, help="judge at most N findings")
    parser.add_argument("--skip-full-check", action="store_true")
    parser.add_argument("--rules", choices=("current", "classic"), default="current")
    args = parser.parse_args()

    # Warm copies, verdicts and ruff's cache stay with the corpora, away from the user's.
    os.environ.setdefault("XDG_CACHE_HOME", str(CORPORA / ".cache"))
    os.environ.setdefault("XDG_DATA_HOME", str(CORPORA / ".data"))

    from tactful.analyzers.ruff import RuffOptions, check_paths
    from tactful.feedback.execution import Sandbox, ValidationOptions
    from tactful.feedback.fixes import FixJudge

    root = (args.corpus or fetch_click()).resolve()
    defaults = default_rules() if args.rules == "current" else list(CLASSIC_DEFAULTS)
    options = RuffOptions(select=(*defaults, *EXTRA_RULES))
    sandbox = Sandbox(root, ValidationOptions(timeout_s=180, coverage_map=False), trusted=True)

    started = time.monotonic()
    findings = check_paths(["."], root, options)
    if args.limit:
        findings = findings[: args.limit]
    by_file = defaultdict(list)
    for finding in findings:
        by_file[finding.path].append(finding)
    judge = FixJudge(root, ruff_options=options, validate=sandbox.validate_sync)

    offers = []
    for path, file_findings in by_file.items():
        text = (root / path).read_text(encoding="utf-8")
        for finding in file_findings:
            offer = judge.offer(finding, text, file_findings)
            offers.append((offer, text))
            print(
                f"{finding.path}:{finding.span.start.line + 1} {finding.rule}: "
                f"{offer.title or 'no fix: ' + offer.verdict.summary()}",
                file=sys.stderr,
            )
    judge_s = time.monotonic() - started

    ruff_fix = Counter(
        (offer.finding.fixes[0].applicability.value if offer.finding.fixes else "none")
        for offer, _ in offers
    )
    validated = [(o, t) for o, t in offers if o.validated]
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    by_origin: Counter[str] = Counter()
    for offer, _ in offers:
        by_rule[offer.finding.rule]["findings"] += 1
        if offer.validated:
            by_rule[offer.finding.rule]["validated"] += 1
            by_origin[offer.fix.origin] += 1

    false_validations = []
    full_checked = 0
    if not args.skip_full_check:
        seen: dict[tuple, bool] = {}
        for offer, _ in validated:
            key = (offer.finding.path, tuple(offer.fix.edits))
            if key not in seen:
                verdict = sandbox.validate_sync(offer.fix.edits, everything=True)
                seen[key] = verdict.passed
                full_checked += 1
            if not seen[key]:
                false_validations.append(
                    {"path": offer.finding.path, "rule": offer.finding.rule, "title": offer.title}
                )

    total = len(offers)
    result = {
        "corpus": root.name,
        "rules": f"ruff defaults ({args.rules}: {len(defaults)} selectors) + "
        + ", ".join(EXTRA_RULES),
        "findings": total,
        "ruff_fix_available": dict(ruff_fix),
        "ruff_fix_share": round(1 - ruff_fix.get("none", 0) / total, 4) if total else 0,
        "fix_offered": sum(o.offered for o, _ in offers),
        "validated_fix_offered": len(validated),
        "validated_share": round(len(validated) / total, 4) if total else 0,
        "validated_by_origin": dict(by_origin),
        "validated_share_without_FA100": _share_without(offers, "FA100"),
        "distinct_rules": len(by_rule),
        "rules_with_a_validated_fix": sum(1 for c in by_rule.values() if c["validated"]),
        "per_rule": {rule: dict(c) for rule, c in sorted(by_rule.items())},
        "full_suite_checks": full_checked,
        "false_validations": len(false_validations),
        "false_validation_details": false_validations,
        "judge_seconds": round(judge_s, 1),
        "total_seconds": round(time.monotonic() - started, 1),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


def _share_without(offers, rule: str) -> float:
    kept = [o for o, _ in offers if o.finding.rule != rule]
    return round(sum(o.validated for o in kept) / len(kept), 4) if kept else 0.0


if __name__ == "__main__":
    raise SystemExit(main())

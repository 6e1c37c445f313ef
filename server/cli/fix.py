"""``tactful fix [PATH] [--validate/--no-validate] [--apply] [--format text|json]``.

Runs ruff on PATH (a file or a folder; default: the current folder) with the project's
configuration and ``quality.select``, proposes a fix for each finding (ruff's, recipes, an LLM's
when ``llm.model`` is set), screens it with ruff and, with ``--validate`` (the default in a
trusted workspace), runs the tests that cover it in the sandbox. ``--apply`` writes the fixes
whose tests ran the fixed code and passed, then checks again; ``--include-unexercised`` also
writes those no test runs (tests pass but none runs the fixed code, or the old and new code
behaved the same on the inputs tried).

Exit codes: 0 no findings remain; 1 findings remain; 2 a usage or settings error (no such path,
``--validate`` in a workspace that is not trusted or without a sandbox). The JSON format is
documented in docs/fix-json.md.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections import defaultdict
from pathlib import Path

from tactful.analyzers.findings import Finding
from tactful.analyzers.ruff import RuffOptions, check_paths, rule_url
from tactful.analyzers.text import Edit, Point, apply_edits
from tactful.feedback.execution.verdict import not_validated
from tactful.feedback.fixes import FixJudge, FixOffer
from tactful.server import settings as settings_mod
from tactful.server.features.quality import llm_config
from tactful.server.validation import sandbox_for

JSON_VERSION = 1
_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git", "ruff.toml", ".ruff.toml")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fix",
        help="quality findings with proposed fixes, validated by the tests (exit 1: findings)",
        description="Run ruff, propose a fix for each finding and judge it with ruff and the "
        "project's tests in a sandbox.",
    )
    parser.add_argument("path", nargs="?", default=".", help="file or folder (default: .)")
    parser.add_argument(
        "--validate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the tests for each fix (default: when the workspace is trusted)",
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="write the fixes whose tests ran the fixed code and passed into the files",
    )
    parser.add_argument(
        "--include-unexercised",
        action="store_true",
        help="with --apply, also write fixes in code no test runs (tests pass but none runs it, "
        "or it behaved the same on generated inputs)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="format")
    parser.set_defaults(func=run)


def project_root(path: Path) -> Path:
    """The nearest folder at or above ``path`` that looks like a project, else ``path``'s own."""
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in _ROOT_MARKERS):
            return folder
    return start


def run(args: argparse.Namespace) -> int:
    target = Path(args.path).resolve()
    if not target.exists():
        print(f"tactful fix: {args.path} does not exist", file=sys.stderr)
        return 2
    root = project_root(target)
    resolved = settings_mod.load(root)
    for problem in resolved.problems:
        print(f"tactful fix: {problem}", file=sys.stderr)
    settings = resolved.settings
    select = settings.quality.select
    options = RuffOptions(select=tuple(select) if select is not None else None)

    sandbox = sandbox_for(root, settings)
    validate_wanted = args.validate
    if validate_wanted is None:
        validate_wanted = settings.validation.enabled and sandbox.trusted()
    if validate_wanted and not sandbox.trusted():
        print(
            f"tactful fix: {root} is not trusted to run its tests; run `tactful trust {root}` "
            "or pass --no-validate",
            file=sys.stderr,
        )
        return 2
    if validate_wanted and not settings.validation.enabled:
        print("tactful fix: validation is off in the settings", file=sys.stderr)
        return 2

    scope = [str(target.relative_to(root)) if target != root else "."]
    findings = check_paths(scope, root, options)
    texts = _read_texts(root, findings)
    llm = llm_config(settings)
    judge = FixJudge(
        root,
        ruff_options=options,
        validate=(lambda edits: sandbox.validate_sync(edits)) if validate_wanted else None,
        not_validated_reason="not asked to validate"
        if sandbox.trusted()
        else "workspace not trusted",
        llm=llm,
    )
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_file[finding.path].append(finding)
    offers: list[FixOffer] = []
    for path, file_findings in by_file.items():
        text = texts.get(path)
        for finding in file_findings:
            if text is None:
                offers.append(FixOffer(finding, None, not_validated("the file cannot be read")))
                continue
            offers.append(judge.offer(finding, text, file_findings))

    if args.include_unexercised and not args.apply:
        print("tactful fix: --include-unexercised goes with --apply", file=sys.stderr)
        return 2
    applied: set[int] = set()
    if args.apply:
        applied = _apply(root, texts, offers, args.include_unexercised)
    remaining = check_paths(scope, root, options) if applied else findings
    if args.format == "json":
        json.dump(
            _payload(root, texts, offers, applied, remaining, bool(validate_wanted)),
            sys.stdout,
            indent=2,
        )
        print()
    else:
        _print_text(texts, offers, applied, remaining)
    return 1 if remaining else 0


def _read_texts(root: Path, findings: list[Finding]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in {f.path for f in findings}:
        try:
            texts[path] = (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return texts


def _apply(
    root: Path, texts: dict[str, str], offers: list[FixOffer], unexercised: bool
) -> set[int]:
    """Write the validated fixes (with ``unexercised``, also those in code no test runs), file
    by file, skipping any that overlaps one already taken."""
    applied: set[int] = set()
    by_file: dict[str, list[tuple[int, FixOffer]]] = defaultdict(list)
    for number, offer in enumerate(offers):
        wanted = offer.validated or (unexercised and (offer.unexercised or offer.equivalent))
        if offer.fix is not None and wanted:
            by_file[offer.finding.path].append((number, offer))
    for path, chosen in by_file.items():
        edits: list[Edit] = []
        for number, offer in chosen:
            assert offer.fix is not None
            if any(_overlap(edit, kept) for edit in offer.fix.edits for kept in edits):
                continue
            edits.extend(offer.fix.edits)
            applied.add(number)
        new_text = apply_edits(texts[path], edits)
        (root / path).write_text(new_text, encoding="utf-8")
    return applied


def _overlap(edit: Edit, other: Edit) -> bool:
    if edit.span.start == other.span.start:
        return True
    return edit.span.start < other.span.end and other.span.start < edit.span.end


def _point(point: Point) -> dict[str, int]:
    return {"line": point.line + 1, "column": point.column + 1}


def _diff(path: str, text: str, edits: tuple[Edit, ...]) -> str:
    new = apply_edits(text, list(edits))
    return "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def _payload(
    root: Path,
    texts: dict[str, str],
    offers: list[FixOffer],
    applied: set[int],
    remaining: list[Finding],
    validated: bool,
) -> dict[str, object]:
    items = []
    for number, offer in enumerate(offers):
        finding = offer.finding
        fix = offer.fix
        items.append(
            {
                "path": finding.path,
                "rule": finding.rule,
                "message": finding.message,
                "url": finding.url or rule_url(finding.rule),
                "start": _point(finding.span.start),
                "end": _point(finding.span.end),
                "fix": None
                if fix is None
                else {
                    "title": offer.title,
                    "description": fix.title,
                    "origin": fix.origin,
                    "applicability": fix.applicability.value,
                    "edits": [
                        {
                            "path": edit.path,
                            "start": _point(edit.span.start),
                            "end": _point(edit.span.end),
                            "new_text": edit.new_text,
                        }
                        for edit in fix.edits
                    ],
                    "diff": _diff(finding.path, texts.get(finding.path, ""), fix.edits),
                },
                "verdict": offer.verdict.to_json(),
                "applied": number in applied,
            }
        )
    return {
        "version": JSON_VERSION,
        "root": str(root),
        "validated": validated,
        "findings": items,
        "summary": {
            "findings": len(offers),
            "with_fix": sum(o.offered for o in offers),
            "validated": sum(o.validated for o in offers),
            "unexercised": sum(o.unexercised for o in offers),
            "equivalent": sum(o.equivalent for o in offers),
            "applied": len(applied),
            "remaining": len(remaining),
        },
    }


def _print_text(
    texts: dict[str, str], offers: list[FixOffer], applied: set[int], remaining: list[Finding]
) -> None:
    for number, offer in enumerate(offers):
        finding = offer.finding
        start = finding.span.start
        print(
            f"{finding.path}:{start.line + 1}:{start.column + 1}: {finding.rule} {finding.message}"
        )
        if offer.fix is None:
            print(f"    no fix ({offer.verdict.summary()})")
            continue
        mark = "applied: " if number in applied else "fix: "
        print(f"    {mark}{offer.title}")
        if number not in applied:
            diff = _diff(finding.path, texts.get(finding.path, ""), offer.fix.edits)
            for line in diff.splitlines()[2:]:
                print(f"      {line}")
    with_fix = sum(o.offered for o in offers)
    validated = sum(o.validated for o in offers)
    unexercised = sum(o.unexercised for o in offers)
    equivalent = sum(o.equivalent for o in offers)
    extra = ""
    if unexercised:
        extra += f", {unexercised} where the tests pass but none runs the fixed code"
    if equivalent:
        extra += f", {equivalent} behaving as before on generated inputs (no test runs them)"
    print(
        f"{len(offers)} findings, {with_fix} with a fix, {validated} validated by the tests"
        + extra
        + (f", {len(applied)} applied" if applied else "")
        + f"; {len(remaining)} remaining"
    )

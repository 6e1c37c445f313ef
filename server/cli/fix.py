"""``tactful fix [PATH...] [--select RULES] [--ignore RULES] [--exclude GLOB]
[--validate/--no-validate] [--apply | --diff] [--include-unexercised] [--jobs N]
[--format text|json|github]``.

Runs ruff on the PATHs (files or folders of one project; default: the current folder) with the
project's configuration and ``quality.select`` (or ``--select``/``--ignore``, chosen as ruff
chooses them: ``analyzers/selection.py``), proposes a fix for each finding (ruff's, recipes, an
LLM's when ``llm.model`` is set), screens it with ruff and, with ``--validate`` (the default in a
trusted workspace), runs the tests that cover it in the sandbox, up to ``--jobs`` findings at
once (default: the CPU count). In text mode each finding is printed as soon as it is judged,
under a progress bar when stderr is a terminal. ``--apply`` writes the fixes whose tests ran the
fixed code and passed, then checks again; ``--include-unexercised`` also writes those no test
runs (tests pass but none runs the fixed code, or the old and new code behaved the same on the
inputs tried); ``--diff`` prints those same fixes as one patch (``git apply`` takes it) and
writes nothing.

Exit codes: 0 no findings remain; 1 findings remain; 2 a usage or settings error (no such path,
paths of two projects, an unknown rule, ``--validate`` in a workspace that is not trusted or
without a sandbox). The JSON format is documented in docs/fix-json.md; ``github`` is one
workflow annotation per finding that remains.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

from tactful.analyzers.findings import Finding
from tactful.analyzers.ruff import (
    SYNTAX_ERROR,
    UNREADABLE,
    RuffOptions,
    check_paths,
    rule_codes,
    rule_url,
)
from tactful.analyzers.selection import PathSelection, RuleSelection, SelectionError
from tactful.analyzers.text import Edit, Point, apply_edits, split_lines
from tactful.feedback.execution.verdict import Status, not_validated
from tactful.feedback.fixes import FixJudge, FixOffer, FixRequest
from tactful.server.cli import add_selection_arguments, load_settings
from tactful.server.cli.parallel import add_jobs_argument, in_parallel
from tactful.server.cli.patches import combine, patch
from tactful.server.cli.progress import Progress, show_progress
from tactful.server.features.quality import llm_config
from tactful.server.validation import sandbox_for

logger = logging.getLogger(__name__)

JSON_VERSION = 1
FORMATS = ("text", "json", "github")
_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git", "ruff.toml", ".ruff.toml")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fix",
        help="quality findings with proposed fixes, validated by the tests (exit 1: findings)",
        description="Run ruff, propose a fix for each finding and judge it with ruff and the "
        "project's tests in a sandbox.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        default=["."],
        metavar="PATH",
        help="files or folders of one project (default: .)",
    )
    add_selection_arguments(
        parser,
        "comma-separated rule ids or prefixes to fix, like ruff's (F, E4, F401, ALL); "
        "default: quality.select, else ruff's configuration",
        "project root",
    )
    parser.add_argument(
        "--validate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the tests for each fix (default: when the workspace is trusted)",
    )
    writes = parser.add_mutually_exclusive_group()
    writes.add_argument(
        "--apply",
        action="store_true",
        help="write the fixes whose tests ran the fixed code and passed into the files",
    )
    writes.add_argument(
        "--diff",
        action="store_true",
        help="print the fixes --apply would write as one patch, and write nothing",
    )
    parser.add_argument(
        "--include-unexercised",
        action="store_true",
        help="with --apply or --diff, also the fixes in code no test runs (tests pass but none "
        "runs it, or it behaved the same on generated inputs)",
    )
    add_jobs_argument(parser, "findings judged")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        dest="format",
        help="text (default), json, or github (workflow annotations)",
    )
    parser.set_defaults(func=run)


def project_root(path: Path) -> Path:
    """The nearest folder at or above ``path`` that looks like a project, else ``path``'s own."""
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in _ROOT_MARKERS):
            return folder
    return start


def _fail(message: str) -> int:
    print(f"tactful fix: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    targets = [Path(p).resolve() for p in args.paths]
    for given, target in zip(args.paths, targets, strict=True):
        if not target.exists():
            return _fail(f"{given} does not exist")
    root = project_root(targets[0])
    scope: list[str] = []
    for given, target in zip(args.paths, targets, strict=True):
        if target != root and root not in target.parents:
            return _fail(f"{given} is not in the project at {root}: fix one project at a time")
        scope.append(target.relative_to(root).as_posix() if target != root else ".")
    if args.diff and args.format != "text":
        return _fail("--diff prints a patch: it goes with the text format")
    if args.include_unexercised and not (args.apply or args.diff):
        return _fail("--include-unexercised goes with --apply or --diff")
    codes = rule_codes()
    try:
        # a syntax error is no ruff code, yet `--ignore invalid-syntax` must be understood
        rules = RuleSelection.parse(
            args.select, args.ignore, known=(*codes, SYNTAX_ERROR) if codes else None
        )
        where = PathSelection.of(scope, args.exclude)
    except SelectionError as exc:
        return _fail(str(exc))
    settings = load_settings(root, "fix")
    select = rules.code_selectors()
    if select is None and settings.quality.select is not None:
        select = tuple(settings.quality.select)
    # A file ruff cannot read is reported whatever the selection: never a silent skip.
    options = RuffOptions(select=select, extend_select=(UNREADABLE,))

    sandbox = sandbox_for(root, settings)
    validate_wanted = args.validate
    if validate_wanted is None:
        validate_wanted = settings.validation.enabled and sandbox.trusted()
    if validate_wanted and not sandbox.trusted():
        return _fail(
            f"{root} is not trusted to run its tests; run `tactful trust {root}` or pass "
            "--no-validate"
        )
    if validate_wanted and not settings.validation.enabled:
        return _fail("validation is off in the settings")

    findings = _selected(check_paths(scope, root, options), rules, where)
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
    offers = _judge_all(judge, findings, texts, args)

    applied: set[int] = set()
    if args.apply:
        applied = _apply(root, texts, offers, args.include_unexercised)
    remaining = _selected(check_paths(scope, root, options), rules, where) if applied else findings
    if args.diff:
        _print_patch(texts, offers, args.include_unexercised)
    elif args.format == "json":
        json.dump(
            _payload(root, texts, offers, applied, remaining, bool(validate_wanted)),
            sys.stdout,
            indent=2,
        )
        print()
    elif args.format == "github":
        _print_annotations(offers, applied, remaining)
    else:
        _print_summary(offers, applied, remaining)
    return 1 if remaining else 0


def _selected(findings: list[Finding], rules: RuleSelection, where: PathSelection) -> list[Finding]:
    """What ruff found, less the rules and files the command line leaves out (ruff was already
    asked for the selected codes; this also applies ``--ignore`` and ``--exclude``)."""
    return [f for f in findings if rules.selects(f.rule) and where.selects(f.path)]


def _judge_all(
    judge: FixJudge, findings: list[Finding], texts: dict[str, str], args: argparse.Namespace
) -> list[FixOffer]:
    """Every finding's offer, in the findings' order, judged ``--jobs`` at a time; in text mode
    each is printed as soon as it is judged."""
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_file[finding.path].append(finding)
    before = {path: tuple(found) for path, found in by_file.items()}

    def offer(number: int) -> FixOffer:
        finding = findings[number]
        text = texts.get(finding.path)
        if finding.rule == UNREADABLE:
            return FixOffer(finding, None, not_validated("ruff cannot read the file: not checked"))
        if text is None:
            return FixOffer(finding, None, not_validated("the file cannot be read"))
        turn = judge.turn(FixRequest(finding, text, before[finding.path]))
        assert turn.offer is not None  # a turn ends with its offer
        return turn.offer

    people = args.format == "text" and not args.diff
    offers: dict[int, FixOffer] = {}
    with Progress(len(findings), "judging fixes", show=show_progress(people)) as bar:
        for done in in_parallel(offer, range(len(findings)), args.jobs):
            finding = findings[done.item]
            if done.result is not None:
                result = done.result
            else:
                # One finding's failure is that finding's answer; the others go on.
                logger.error("judging the fix for %s failed", _where(finding), exc_info=done.error)
                result = FixOffer(finding, None, not_validated(f"judging failed: {done.error}"))
            offers[done.item] = result
            if people:
                bar.emit(_offer_text(texts, result))
            bar.doing(finding.path)
            bar.advance()
    return [offers[number] for number in range(len(findings))]


def _where(finding: Finding) -> str:
    start = finding.span.start
    return f"{finding.path}:{start.line + 1}:{start.column + 1}"


def _read_texts(root: Path, findings: list[Finding]) -> dict[str, str]:
    """Each file's text as ruff read it: line ends kept (``--apply`` writes a ``\\r\\n`` file
    back with ``\\r\\n``, and ruff's fixes for it carry them)."""
    texts: dict[str, str] = {}
    for path in {f.path for f in findings}:
        try:
            texts[path] = (root / path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return texts


def _writable(offers: list[FixOffer], unexercised: bool) -> dict[str, list[int]]:
    """The offers ``--apply`` writes (and ``--diff`` prints), by file: those whose tests ran the
    fixed code and passed (with ``unexercised``, also those in code no test runs), in the
    findings' order."""
    by_file: dict[str, list[int]] = defaultdict(list)
    for number, offer in enumerate(offers):
        wanted = offer.validated or (unexercised and (offer.unexercised or offer.equivalent))
        if offer.fix is not None and wanted:
            by_file[offer.finding.path].append(number)
    return by_file


def _combined(
    texts: dict[str, str], offers: list[FixOffer], unexercised: bool
) -> tuple[dict[str, tuple[str, str]], set[int]]:
    """Each file's text before and after its writable fixes, a fix that overlaps one already
    taken left out; and the offers taken."""
    files: dict[str, tuple[str, str]] = {}
    taken: set[int] = set()
    for path, numbers in _writable(offers, unexercised).items():
        fixes = [fix.edits for n in numbers if (fix := offers[n].fix) is not None]
        new_text, kept = combine(texts[path], fixes)
        files[path] = (texts[path], new_text)
        taken.update(numbers[k] for k in kept)
    return files, taken


def _apply(
    root: Path, texts: dict[str, str], offers: list[FixOffer], unexercised: bool
) -> set[int]:
    """Write the validated fixes (with ``unexercised``, also those in code no test runs), file
    by file, skipping any that overlaps one already taken."""
    files, taken = _combined(texts, offers, unexercised)
    for path, (_, new_text) in files.items():
        (root / path).write_bytes(new_text.encode("utf-8"))
    return taken


def _print_patch(texts: dict[str, str], offers: list[FixOffer], unexercised: bool) -> None:
    files, taken = _combined(texts, offers, unexercised)
    sys.stdout.write(patch(files))
    left = sum(1 for offer in offers if offer.fix is not None) - len(taken)
    note = f"{len(taken)} fix{'' if len(taken) == 1 else 'es'} in the patch"
    if left:
        note += f"; {left} offered fixes left out (not validated by the tests, or overlapping)"
    print(f"tactful fix: {note}", file=sys.stderr)


def _point(point: Point) -> dict[str, int]:
    return {"line": point.line + 1, "column": point.column + 1}


def _diff(path: str, text: str, edits: tuple[Edit, ...]) -> str:
    new = apply_edits(text, list(edits))
    return "".join(
        difflib.unified_diff(
            split_lines(text, keepends=True),
            split_lines(new, keepends=True),
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


def _offer_text(texts: dict[str, str], offer: FixOffer, applied: bool = False) -> str:
    """One finding and its fix (or why there is none), as the text format prints it."""
    finding = offer.finding
    lines = [f"{_where(finding)}: {finding.rule} {finding.message}"]
    if offer.fix is None:
        verdict = offer.verdict
        why = verdict.reason if verdict.status is Status.NOT_VALIDATED else verdict.summary()
        lines.append(f"    {why}" if why.startswith("no fix") else f"    no fix ({why})")
        return "\n".join(lines)
    lines.append(f"    {'applied: ' if applied else 'fix: '}{offer.title}")
    if not applied:
        diff = _diff(finding.path, texts.get(finding.path, ""), offer.fix.edits)
        lines.extend(f"      {line}" for line in diff.splitlines()[2:])
    return "\n".join(lines)


def _print_summary(offers: list[FixOffer], applied: set[int], remaining: list[Finding]) -> None:
    with_fix = sum(o.offered for o in offers)
    validated = sum(o.validated for o in offers)
    unexercised = sum(o.unexercised for o in offers)
    equivalent = sum(o.equivalent for o in offers)
    extra = ""
    if unexercised:
        extra += f", {unexercised} where the tests pass but none runs the fixed code"
    # "equivalent" is shown two ways: behaving as before on the inputs tried, or compiling to
    # the same code (no input was needed, and none was tried)
    compiled = sum(o.equivalent and o.verdict.inputs == 0 for o in offers)
    if equivalent - compiled:
        extra += (
            f", {equivalent - compiled} behaving as before on generated inputs (no test runs them)"
        )
    if compiled:
        extra += f", {compiled} compiling to the same code as before (no test runs them)"
    print(
        f"{len(offers)} finding{'' if len(offers) == 1 else 's'}, {with_fix} with a fix, "
        f"{validated} validated by the tests"
        + extra
        + (f", {len(applied)} applied" if applied else "")
        + f"; {len(remaining)} remaining"
    )


def _print_annotations(offers: list[FixOffer], applied: set[int], remaining: list[Finding]) -> None:
    """One workflow annotation per finding that remains, with the fix offered for it."""
    from tactful.server.cli.github import Annotation, level_of, render

    offered = {
        (o.finding.path, o.finding.rule, o.finding.span.start): o
        for number, o in enumerate(offers)
        if number not in applied
    }
    annotations = []
    for finding in remaining:
        offer = offered.get((finding.path, finding.rule, finding.span.start))
        message = finding.message
        if offer is not None and offer.fix is not None:
            message += f"\nfix: {offer.title}"
        start, end = finding.span.start, finding.span.end
        annotations.append(
            Annotation(
                level=level_of(finding.severity.value),
                message=message,
                file=finding.path,
                line=start.line + 1,
                end_line=end.line + 1,
                column=start.column + 1,
                end_column=end.column + 1,
                title=f"tactful fix {finding.rule}",
            )
        )
    sys.stdout.write(render(annotations))

"""``tactful review [PATH...] [--base REF] [--staged] [--select RULES] [--ignore RULES]
[--exclude GLOB] [--format text|json|sarif|github|github-review]``: review comments on the
changes between REF (default ``review.base``, itself ``HEAD`` by default: uncommitted work) and
the working tree, or with ``--staged`` the index (what the next commit holds).

Exit codes: 0 no comment, 1 comments (so it gates CI and pre-commit hooks), 2 a usage error
such as a folder outside git, an unknown base or an unknown rule. The JSON format is
documented in docs/review-json.md; SARIF is 2.1.0; ``github`` is GitHub workflow annotations
(``::warning file=…,line=…::…``, one per comment); ``github-review`` is the body of a
pull-request review (``POST /repos/{owner}/{repo}/pulls/{number}/reviews``) with one comment
per line.

With ``quality.scope = "baseline"`` in the settings, comments on findings that ``tactful
baseline`` recorded are left out (before the caps), and counted as ``baselined``.

Rules and paths are chosen as ruff chooses them (``analyzers/selection.py``). In text mode each
file's comments are printed as soon as that file is reviewed, under a progress bar when stderr
is a terminal; the caps (5 comments a file, 30 in all) then apply in path order, where the
other formats rank every comment before capping.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tactful.server.cli import add_selection_arguments, load_settings
from tactful.server.cli.progress import Progress, show_progress

if TYPE_CHECKING:
    from tactful.analyzers.diff import Diff
    from tactful.analyzers.selection import PathSelection
    from tactful.suggestion.review import Comment, Memory, Review, ReviewOptions
    from tactful.suggestion.review.rules import Coverage

JSON_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FORMATS = ("text", "json", "sarif", "github", "github-review")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        description="Review the changes between a git revision and the working tree (or the "
        "index, with --staged): rules, ruff and, when one is configured, an LLM, on the "
        "changed lines only.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        default=["."],
        metavar="PATH",
        help="files or folders of one repository to review (default: .)",
    )
    parser.add_argument(
        "--base",
        default=None,
        help="revision to compare with (default: review.base, HEAD); a branch name means the "
        "merge-base of HEAD and that branch",
    )
    parser.add_argument(
        "--staged",
        action="store_true",
        help="review the index (what the next commit holds) instead of the working tree",
    )
    add_selection_arguments(
        parser,
        "comma-separated rule ids or prefixes to report, like ruff's (F, E4, F401, "
        "debug-leftover, function, ALL); default: all",
        "repository root",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        dest="format",
        help="text (default), json, sarif, github (workflow annotations) or github-review "
        "(a pull-request review body)",
    )
    parser.add_argument(
        "--no-llm", action="store_true", help="rules and ruff only, even when an LLM is set"
    )
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"tactful review: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from tactful.analyzers import ruff
    from tactful.analyzers.diff import DiffError, open_repository, working_tree_diff
    from tactful.analyzers.selection import PathSelection, RuleSelection, SelectionError
    from tactful.feedback.review import load_coverage, load_memory
    from tactful.feedback.store import store_path
    from tactful.suggestion.review import ReviewOptions
    from tactful.suggestion.review.comments import LLM_COMMENT, RULE_DESCRIPTIONS
    from tactful.suggestion.review.llm import config_from_settings

    paths = [Path(p) for p in args.paths]
    try:
        repo = open_repository(paths[0])
        root = Path(str(repo.working_tree_dir)).resolve()
        repo.close()
        relative = [_inside(root, path) for path in paths]
    except DiffError as exc:
        return _fail(str(exc))
    codes = ruff.rule_codes()
    try:
        rules = RuleSelection.parse(
            args.select,
            args.ignore,
            known=(*RULE_DESCRIPTIONS, *codes, ruff.SYNTAX_ERROR) if codes else None,
        )
        where = PathSelection.of(relative, args.exclude)
    except SelectionError as exc:
        return _fail(str(exc))
    settings = load_settings(root, "review")
    recorded = None
    if settings.quality.scope == "baseline":
        from tactful.analyzers.baseline import BaselineError, baseline_path, load
        from tactful.feedback.changes import project_root

        try:
            recorded = load(project_root(root))
        except BaselineError as exc:
            return _fail(str(exc))
        if recorded is None:
            print(
                f'tactful review: quality.scope is "baseline" but {baseline_path(root)} does '
                "not exist: every comment is shown (`tactful baseline` records one)",
                file=sys.stderr,
            )
    use_llm = not args.no_llm and settings.review.llm is not False and rules.selects(LLM_COMMENT)
    llm = (
        config_from_settings(
            settings.llm.model,
            settings.llm.api_base,
            settings.llm.timeout_s,
            settings.llm.max_tokens,
        )
        if use_llm
        else None
    )
    ruff_select = rules.code_selectors()
    if ruff_select is None and settings.quality.select:
        ruff_select = tuple(settings.quality.select)
    options = ReviewOptions(
        ruff=ruff_select is None or bool(ruff_select),
        ruff_select=ruff_select,
        llm=llm,
        selection=rules,
        baseline=recorded,
    )
    memory = load_memory(store_path(settings.feedback.store), str(root.resolve()))
    if settings.feedback.team:
        from tactful.feedback.team.memory import merged, team_memory

        memory = merged(memory, team_memory(settings.feedback.team, str(root.resolve())))
    try:
        diff = working_tree_diff(root, args.base or settings.review.base, staged=args.staged)
    except DiffError as exc:
        return _fail(str(exc))
    diff = _narrowed(diff, where)
    coverage = load_coverage(diff.root, {change.path: change.text for change in diff.files})
    if args.format == "text":
        return _review_as_it_goes(diff, options, memory, coverage, args.staged)
    from tactful.suggestion.review import review_diff

    review = review_diff(diff, options, memory=memory, coverage=coverage)
    if args.format == "github":
        from tactful.server.cli.github import render

        sys.stdout.write(render(workflow_annotations(review)))
        for note in review.notes:
            print(f"tactful review: {note}", file=sys.stderr)
    else:
        output = {
            "json": lambda r: json.dumps(to_json(r), indent=2),
            "sarif": lambda r: json.dumps(to_sarif(r), indent=2),
            "github-review": lambda r: json.dumps(to_github_review(r), indent=2),
        }[args.format](review)
        print(output)
    return 1 if review.comments else 0


def _inside(root: Path, path: Path) -> str:
    """``path`` relative to the repository ``root``; a ``DiffError`` when it is missing or
    lies outside."""
    from tactful.analyzers.diff import DiffError

    location = path.resolve()
    if not location.exists():
        raise DiffError(f"{path} does not exist")
    if not location.is_relative_to(root):
        raise DiffError(f"{path} is not in the repository at {root}: review one repository")
    return location.relative_to(root).as_posix()


def _narrowed(diff: Diff, where: PathSelection) -> Diff:
    """The diff of the selected paths alone."""
    if where.everything:
        return diff
    return replace(
        diff,
        files=tuple(change for change in diff.files if where.selects(change.path)),
        skipped=tuple(skip for skip in diff.skipped if where.selects(skip.path)),
        deleted=tuple(path for path in diff.deleted if where.selects(path)),
    )


def _review_as_it_goes(
    diff: Diff, options: ReviewOptions, memory: Memory, coverage: Coverage | None, staged: bool
) -> int:
    """Text mode: review file by file, printing each file's comments when it is done."""
    from tactful.suggestion.review import Review, review_diff
    from tactful.suggestion.review.llm import files_to_ask
    from tactful.suggestion.review.reviewers import suggest_reviewers

    per_file = replace(options, reviewers=False)
    # The model is asked about the files a whole review would ask it about (its file cap
    # holds), each in that file's turn.
    asked = (
        {change.path for change in files_to_ask(diff, options.llm)}
        if options.llm is not None
        else set()
    )
    comments: list[Comment] = []
    notes: list[str] = []
    hidden = 0
    baselined = 0
    show = show_progress(True)
    with Progress(len(diff.files), "reviewing", show=show) as bar:
        for change in diff.files:
            bar.doing(change.path)
            budget = max(options.max_total - len(comments), 0)
            llm = options.llm if change.path in asked else None
            part = review_diff(
                diff,
                replace(per_file, max_total=budget, llm=llm),
                files=[change],
                memory=memory,
                coverage=coverage,
            )
            comments.extend(part.comments)
            hidden += part.hidden
            baselined += part.baselined
            notes.extend(note for note in part.notes if note not in notes)
            if part.comments:
                bar.emit("\n".join(comment_line(c) for c in part.comments))
            bar.advance()
    reviewers = suggest_reviewers(diff) if options.reviewers and diff.files else []
    review = Review(
        root=str(diff.root),
        base=diff.base.description,
        files=tuple(change.path for change in diff.files),
        comments=tuple(comments),
        reviewers=tuple(reviewers),
        skipped=tuple((s.path, s.reason) for s in diff.skipped),
        notes=tuple(notes or diff.notes),
        hidden=hidden,
        baselined=baselined,
    )
    summary = summary_lines(review, staged)
    print(("\n" if comments else "") + "\n".join(summary))
    return 1 if comments else 0


def comment_line(c: Comment) -> str:
    return (
        f"{c.path}:{c.line + 1}:{c.span.start.column + 1}: {c.severity.value} [{c.rule}] "
        f"{c.message}"
    )


def summary_lines(review: Review, staged: bool = False) -> list[str]:
    files = len({c.path for c in review.comments})
    summary = (
        f"{len(review.comments)} comment{'s' if len(review.comments) != 1 else ''} on {files} "
        f"file{'s' if files != 1 else ''}"
        if review.comments
        else "no comments"
    )
    what = "staged" if staged else "changed"
    summary += (
        f" ({len(review.files)} {what} file{'s' if len(review.files) != 1 else ''} reviewed "
        f"against {review.base})"
    )
    if review.hidden:
        summary += f"; {review.hidden} more withheld (dismissed before, or past the caps)"
    if review.baselined:
        summary += f"; {review.baselined} in the baseline"
    lines = [summary]
    if review.reviewers:
        people = ", ".join(
            f"{r.name} <{r.email}> ({r.lines} changed line{'s' if r.lines != 1 else ''}, "
            f"{r.commits} recent commit{'s' if r.commits != 1 else ''})"
            for r in review.reviewers
        )
        lines.append(f"suggested reviewers: {people}")
    if review.skipped:
        lines.append(
            "skipped: " + ", ".join(f"{path} ({reason})" for path, reason in review.skipped)
        )
    lines.extend(f"note: {note}" for note in review.notes)
    return lines


def to_json(review: Review) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "root": review.root,
        "base": review.base,
        "files": list(review.files),
        "comments": [
            {
                "id": c.id,
                "path": c.path,
                "line": c.span.start.line + 1,
                "column": c.span.start.column + 1,
                "endLine": c.span.end.line + 1,
                "endColumn": c.span.end.column + 1,
                "rule": c.rule,
                "origin": c.origin,
                "severity": c.severity.value,
                "message": c.message,
                "score": c.score,
                "url": c.url,
            }
            for c in review.comments
        ],
        "reviewers": [
            {
                "name": r.name,
                "email": r.email,
                "lines": r.lines,
                "commits": r.commits,
                "score": r.score,
            }
            for r in review.reviewers
        ],
        "skipped": [{"path": path, "reason": reason} for path, reason in review.skipped],
        "notes": list(review.notes),
        "hidden": review.hidden,
        "baselined": review.baselined,
    }


_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note", "hint": "note"}


def to_sarif(review: Review) -> dict[str, Any]:
    from tactful.server.cli import _version
    from tactful.suggestion.review.comments import RULE_DESCRIPTIONS

    rule_ids = sorted({c.rule for c in review.comments})
    index = {rule: position for position, rule in enumerate(rule_ids)}
    urls = {c.rule: c.url for c in review.comments if c.url}
    rules = []
    for rule in rule_ids:
        descriptor: dict[str, Any] = {
            "id": rule,
            "shortDescription": {"text": RULE_DESCRIPTIONS.get(rule, f"ruff rule {rule}")},
        }
        if rule in urls:
            descriptor["helpUri"] = urls[rule]
        rules.append(descriptor)
    results = []
    for c in review.comments:
        results.append(
            {
                "ruleId": c.rule,
                "ruleIndex": index[c.rule],
                "level": _SARIF_LEVEL[c.severity.value],
                "message": {"text": c.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": c.path, "uriBaseId": "SRCROOT"},
                            "region": {
                                "startLine": c.span.start.line + 1,
                                "startColumn": c.span.start.column + 1,
                                "endLine": c.span.end.line + 1,
                                "endColumn": c.span.end.column + 1,
                            },
                        }
                    }
                ],
                "partialFingerprints": {"tactfulCommentId/v1": c.id},
                "properties": {"origin": c.origin, "score": c.score},
            }
        )
    root_uri = Path(review.root).resolve().as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tactful",
                        "version": _version(),
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"SRCROOT": {"uri": root_uri}},
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": {"base": review.base, "reviewedFiles": list(review.files)},
            }
        ],
    }


def workflow_annotations(review: Review) -> list[Any]:
    """``--format github``: one workflow annotation per comment."""
    from tactful.server.cli.github import Annotation, level_of

    return [
        Annotation(
            level=level_of(c.severity.value),
            message=c.message,
            file=c.path,
            line=c.span.start.line + 1,
            end_line=c.span.end.line + 1,
            column=c.span.start.column + 1,
            end_column=c.span.end.column + 1,
            title=f"tactful ({c.rule})",
        )
        for c in review.comments
    ]


def to_github_review(review: Review) -> dict[str, Any]:
    """A pull-request review: one comment per commented line (several comments on one line are
    joined, since GitHub shows one thread per line), on the new side (``RIGHT``)."""
    by_line: dict[tuple[str, int], list[str]] = {}
    for c in review.comments:
        by_line.setdefault((c.path, c.line + 1), []).append(f"**{c.rule}**: {c.message}")
    summary = f"tactful: {len(review.comments)} comment(s) on the changed lines."
    if review.reviewers:
        summary += " Suggested reviewers: " + ", ".join(r.name for r in review.reviewers) + "."
    return {
        "body": summary,
        "event": "COMMENT",
        "comments": [
            {"path": path, "line": line, "side": "RIGHT", "body": "\n\n".join(bodies)}
            for (path, line), bodies in sorted(by_line.items())
        ],
    }

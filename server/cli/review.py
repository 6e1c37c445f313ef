"""``tactful review [PATH] [--base REF] [--format text|json|sarif|github]``: review comments on
the changes between REF (default ``review.base``, itself ``HEAD`` by default: uncommitted work)
and the working tree.

Exit codes: 0 no comment, 1 comments (so it gates CI and pre-commit hooks), 2 a usage error
such as a folder outside git or an unknown base. The JSON format is documented in
docs/review-json.md; SARIF is 2.1.0; ``github`` is the body of a pull-request review
(``POST /repos/{owner}/{repo}/pulls/{number}/reviews``) with one comment per line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tactful.analyzers.diff import DiffError, open_repository, working_tree_diff
from tactful.analyzers.findings import Severity
from tactful.feedback.review import load_coverage, load_memory
from tactful.feedback.store import store_path
from tactful.server import settings as settings_mod
from tactful.suggestion.review import Review, ReviewOptions, review_diff
from tactful.suggestion.review.comments import RULE_DESCRIPTIONS
from tactful.suggestion.review.llm import config_from_settings

JSON_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="review comments on the changed lines (exit 1 when there are comments)",
        description="Review the changes between a git revision and the working tree.",
    )
    parser.add_argument(
        "path", nargs="?", default=".", help="a folder or file in the repository (default: .)"
    )
    parser.add_argument(
        "--base",
        default=None,
        help="revision to compare with (default: review.base, HEAD); a branch name means the "
        "merge-base of HEAD and that branch",
    )
    parser.add_argument(
        "--format", choices=("text", "json", "sarif", "github"), default="text", dest="format"
    )
    parser.add_argument(
        "--no-llm", action="store_true", help="rules and ruff only, even when an LLM is set"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    try:
        repo = open_repository(path)
        root = Path(str(repo.working_tree_dir))
        repo.close()
    except DiffError as exc:
        print(f"tactful review: {exc}", file=sys.stderr)
        return 2
    resolved = settings_mod.load(root)
    for problem in resolved.problems:
        print(f"tactful review: {problem}", file=sys.stderr)
    settings = resolved.settings
    use_llm = not args.no_llm and settings.review.llm is not False
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
    options = ReviewOptions(
        ruff_select=tuple(settings.quality.select) if settings.quality.select else None, llm=llm
    )
    memory = load_memory(store_path(settings.feedback.store), str(root.resolve()))
    if settings.feedback.team:
        from tactful.feedback.team.memory import merged, team_memory

        memory = merged(memory, team_memory(settings.feedback.team, str(root.resolve())))
    try:
        diff = working_tree_diff(path, args.base or settings.review.base)
    except DiffError as exc:
        print(f"tactful review: {exc}", file=sys.stderr)
        return 2
    coverage = load_coverage(diff.root, {change.path: change.text for change in diff.files})
    review = review_diff(diff, options, memory=memory, coverage=coverage)
    output = {
        "text": format_text,
        "json": lambda r: json.dumps(to_json(r), indent=2),
        "sarif": lambda r: json.dumps(to_sarif(r), indent=2),
        "github": lambda r: json.dumps(to_github(r), indent=2),
    }[args.format](review)
    print(output)
    return 1 if review.comments else 0


def format_text(review: Review) -> str:
    lines = [
        f"{c.path}:{c.line + 1}:{c.span.start.column + 1}: {c.severity.value} [{c.rule}] "
        f"{c.message}"
        for c in review.comments
    ]
    files = len({c.path for c in review.comments})
    summary = (
        f"{len(review.comments)} comment{'s' if len(review.comments) != 1 else ''} on {files} "
        f"file{'s' if files != 1 else ''}"
        if review.comments
        else "no comments"
    )
    summary += (
        f" ({len(review.files)} changed file{'s' if len(review.files) != 1 else ''} reviewed "
        f"against {review.base})"
    )
    if review.hidden:
        summary += f"; {review.hidden} more withheld (dismissed before, or past the caps)"
    if lines:
        lines.append("")
    lines.append(summary)
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
    return "\n".join(lines)


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
    }


_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}


def to_sarif(review: Review) -> dict[str, Any]:
    from tactful.server.app import __version__

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
                "level": _SARIF_LEVEL[c.severity],
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
                        "version": __version__,
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


def to_github(review: Review) -> dict[str, Any]:
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

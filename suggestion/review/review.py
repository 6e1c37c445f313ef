"""Review a diff: rule comments, ruff's findings and (when configured) the model's comments on
the changed lines, deduplicated, ranked and capped, with suggested reviewers.

Boundary: composes the commenters over an ``analyzers.diff.Diff``; takes what the feedback layer
knows (dismissals, coverage) as plain inputs and never reaches into it. It never raises on the
user's code; a commenter that fails adds a note and the others still speak.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tactful.analyzers import ruff
from tactful.analyzers.baseline import Baseline
from tactful.analyzers.diff import Diff, FileChange, working_tree_diff
from tactful.analyzers.findings import Finding
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.selection import RuleSelection
from tactful.suggestion.review.comments import Comment, Review
from tactful.suggestion.review.llm import Complete, LlmReviewConfig, litellm_complete, llm_comments
from tactful.suggestion.review.ranking import MAX_PER_FILE, MAX_TOTAL, Memory, select
from tactful.suggestion.review.reviewers import suggest_reviewers
from tactful.suggestion.review.rules import Coverage, RuleOptions, ruff_comments, rule_comments

logger = logging.getLogger(__name__)

_PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class ReviewOptions:
    """What to run: ruff (with an optional rule selection), the model, reviewer suggestions;
    ``selection``: the rules whose comments are kept (``--select``/``--ignore``), and
    ``baseline``: findings recorded by ``tactful baseline``, left out (``quality.scope =
    "baseline"``); both applied before ranking so that a left-out comment never takes a kept
    comment's place."""

    ruff: bool = True
    ruff_select: tuple[str, ...] | None = None
    llm: LlmReviewConfig | None = None
    reviewers: bool = True
    rules: RuleOptions = field(default_factory=RuleOptions)
    max_per_file: int = MAX_PER_FILE
    max_total: int = MAX_TOTAL
    selection: RuleSelection | None = None
    baseline: Baseline | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """What a long review is doing now, for a progress bar."""

    message: str
    percentage: int


def review_working_tree(
    path: str | Path, base: str = "HEAD", options: ReviewOptions | None = None, **kwargs: object
) -> Review:
    """Review the working tree of the repository containing ``path`` against ``base``; raises
    ``DiffError`` (with a message for people) when there is nothing that can be compared."""
    return review_diff(working_tree_diff(path, base), options, **kwargs)  # type: ignore[arg-type]


def review_diff(
    diff: Diff,
    options: ReviewOptions | None = None,
    *,
    files: Sequence[FileChange] | None = None,
    memory: Memory | None = None,
    coverage: Coverage | None = None,
    extra: Sequence[Comment] = (),
    complete: Complete = litellm_complete,
    on_progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Review:
    """Review ``files`` (default: every file of ``diff``); ``extra`` comments (kept from an
    earlier review) are ranked with the new ones."""
    options = options or ReviewOptions()
    targets = list(files if files is not None else diff.files)
    started = time.perf_counter()
    notes: list[str] = list(diff.notes)
    comments: list[Comment] = list(extra)
    findings = _ruff_findings(diff, targets, options) if options.ruff else {}
    for change in targets:
        comments.extend(rule_comments(change, coverage, options.rules, cancelled=cancelled))
        comments.extend(ruff_comments(change, findings.get(change.path, [])))
    logger.debug("rules reviewed %d files in %.3fs", len(targets), time.perf_counter() - started)
    if options.llm is not None and targets:

        def on_file(index: int, total: int, path: str) -> None:
            if on_progress is not None:
                on_progress(Progress(f"asking the model about {path}", 100 * index // total))

        outcome = llm_comments(
            diff, options.llm, targets, complete=complete, on_file=on_file, cancelled=cancelled
        )
        comments.extend(outcome.comments)
        notes.extend(outcome.problems)
        if outcome.dropped:
            notes.append(
                f"{outcome.dropped} model comment(s) dropped: not on a changed line or malformed"
            )
        if on_progress is not None:
            on_progress(Progress("model review done", 100))
    if options.selection is not None and not options.selection.everything:
        comments = [c for c in comments if options.selection.selects(c.rule)]
    baselined = 0
    if options.baseline is not None:
        fresh = _not_in(options.baseline, comments)
        baselined = len(comments) - len(fresh)
        comments = fresh
    selection = select(comments, memory, options.max_per_file, options.max_total)
    reviewers = suggest_reviewers(diff) if options.reviewers and files is None else []
    return Review(
        root=str(diff.root),
        base=diff.base.description,
        files=tuple(change.path for change in targets),
        comments=selection.shown,
        reviewers=tuple(reviewers),
        skipped=tuple((s.path, s.reason) for s in diff.skipped),
        notes=tuple(notes),
        hidden=selection.hidden,
        changed_lines={change.path: change.changed_lines for change in targets},
        baselined=baselined,
    )


def _not_in(baseline: Baseline, comments: Sequence[Comment]) -> list[Comment]:
    """The comments the baseline does not record, in their order."""
    positions: dict[str, list[int]] = {}
    for position, comment in enumerate(comments):
        positions.setdefault(comment.path, []).append(position)
    recorded = [False] * len(comments)
    for path, group in positions.items():
        marks = baseline.recorded(path, [(comments[n].rule, comments[n].line_text) for n in group])
        for position, old in zip(group, marks, strict=True):
            recorded[position] = old
    return [comment for comment, old in zip(comments, recorded, strict=True) if not old]


def _ruff_findings(
    diff: Diff, targets: Sequence[FileChange], options: ReviewOptions
) -> dict[str, list[Finding]]:
    python = [
        change
        for change in targets
        if language_of_path(change.path) == "python" and change.path.endswith(_PYTHON_SUFFIXES)
    ]
    if not python:
        return {}
    ruff_options = ruff.RuffOptions(select=options.ruff_select)
    on_disk: list[FileChange] = []
    found: dict[str, list[Finding]] = {}
    for change in python:
        if _matches_disk(diff.root / change.path, change.text):
            on_disk.append(change)
        else:
            for finding in ruff.check_text(change.text, change.path, diff.root, ruff_options):
                found.setdefault(change.path, []).append(finding)
    if on_disk:
        paths = [change.path for change in on_disk]
        for finding in ruff.check_paths(paths, diff.root, ruff_options):
            found.setdefault(finding.path, []).append(finding)
    return found


def _matches_disk(path: Path, text: str) -> bool:
    try:
        return path.read_bytes().decode("utf-8", "replace") == text
    except OSError:
        return False

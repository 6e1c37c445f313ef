"""Review comments and reviews: the plain data the commenters produce and the server shows.

Boundary: frozen data and the id scheme only; no git, no protocol, no I/O. A comment always lies
on a changed line of the new side of the diff (``span.start.line``, zero-based).

Ids are stable across unrelated edits: they hash the path, the rule and the commented line's
text without its whitespace, never its line number, so a comment keeps its id when code
above it moves and a dismissed comment stays dismissed. Identical lines carrying the same rule
in one file are told apart by their order (the second ``print(x)`` is occurrence 1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from tactful.analyzers.findings import Severity
from tactful.analyzers.text import Span

# Where a comment comes from: our structural rules, ruff, the LLM, or the project's tests.
ORIGIN_RULES = "rules"
ORIGIN_RUFF = "ruff"
ORIGIN_LLM = "llm"
ORIGIN_TESTS = "tests"  # the project's tests, run on the change in the sandbox

# Our rule ids (ruff's codes, e.g. ``F401``, are used as they are).
DEBUG_LEFTOVER = "debug-leftover"
BROAD_EXCEPT = "broad-except"
TODO_ADDED = "todo-added"
STALE_DOCSTRING = "stale-docstring"
FUNCTION_TOO_LARGE = "function-too-large"
FUNCTION_TOO_COMPLEX = "function-too-complex"
UNTESTED_CHANGE = "untested-change"
LLM_COMMENT = "llm"
BREAKS_TEST = "breaks-test"

RULE_DESCRIPTIONS: Mapping[str, str] = {
    DEBUG_LEFTOVER: "A debugging statement (print, breakpoint, pdb, console.log, dbg!) was added.",
    BROAD_EXCEPT: "An exception handler catches everything, or swallows errors silently.",
    TODO_ADDED: "A TODO or FIXME was added without a reference to an issue.",
    STALE_DOCSTRING: "A public function's parameters changed but its documentation did not.",
    FUNCTION_TOO_LARGE: "A function grew past the size bound in this change.",
    FUNCTION_TOO_COMPLEX: "A function grew past the complexity bound in this change.",
    UNTESTED_CHANGE: "A changed function is not run by any test (coverage map).",
    LLM_COMMENT: "A comment from the language model, checked to lie on a changed line.",
    BREAKS_TEST: "A test that covers the change fails with it and passes without it.",
}


def normalize_line(text: str) -> str:
    """A line's text without whitespace: re-indenting or re-formatting a line keeps its ids."""
    return "".join(text.split())


def comment_id(path: str, rule: str, line_text: str, occurrence: int = 0) -> str:
    """The stable id of a comment (16 hex digits)."""
    key = "\0".join((path, rule, normalize_line(line_text), str(occurrence)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Comment:
    """One review comment on a changed line."""

    path: str
    span: Span
    rule: str
    message: str
    origin: str
    severity: Severity = Severity.WARNING
    # Prior usefulness of the rule (0..1), before what this user taught the ranker.
    prior: float = 0.5
    url: str | None = None
    line_text: str = ""
    id: str = ""
    score: float = 0.0

    @property
    def line(self) -> int:
        return self.span.start.line


@dataclass(frozen=True, slots=True)
class Reviewer:
    """A person who knows the changed code."""

    name: str
    email: str
    lines: int  # previous versions of changed lines they last touched
    commits: int  # their recent commits on the changed files
    score: float


@dataclass(frozen=True)
class Review:
    """The outcome of reviewing a diff."""

    root: str
    base: str  # the base as described for people
    files: tuple[str, ...]  # files reviewed
    comments: tuple[Comment, ...]
    reviewers: tuple[Reviewer, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason)
    notes: tuple[str, ...] = ()
    hidden: int = 0  # comments withheld: dismissed before, or past the caps
    changed_lines: Mapping[str, frozenset[int]] = field(default_factory=dict)
    baselined: int = 0  # comments left out because the baseline records them


def with_ids(comments: list[Comment]) -> list[Comment]:
    """The comments with their stable ids set (in line order, so occurrences are stable)."""
    seen: dict[tuple[str, str, str], int] = {}
    result = []
    for comment in sorted(comments, key=lambda c: (c.path, c.span.start, c.rule, c.message)):
        key = (comment.path, comment.rule, normalize_line(comment.line_text))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        result.append(
            replace(
                comment, id=comment_id(comment.path, comment.rule, comment.line_text, occurrence)
            )
        )
    return result

"""Screening fix candidates with ruff, and ranking the survivors.

Boundary: runs ruff (through analyzers/ruff.py) on the file as a candidate would leave it; never
runs anything from the workspace (that is the execution judge's job, in feedback/).

A candidate survives when, after it, ruff no longer reports the finding and reports nothing
that was not there before. A fix that makes room for further ruff fixes (adding
``from __future__ import annotations`` lets ruff modernise annotations) is settled as
``ruff check --fix`` would: ruff's fixes for the findings it introduced, no less safe than the
fix itself, are applied too, up to a few rounds, and the candidate carries them (the tests then
judge the whole); if anything new remains, it is rejected.
Syntax-error repairs are judged differently: they must make the file compile, and findings
that the syntax error hid are allowed to appear.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tactful.analyzers.findings import Applicability, Finding, Fix
from tactful.analyzers.ruff import SYNTAX_ERROR, RuffOptions, check_text
from tactful.analyzers.text import Edit, Point
from tactful.suggestion.fixes.edits import apply, changed_lines, edits_between

logger = logging.getLogger(__name__)

SETTLE_ROUNDS = 8
_ORIGIN_ORDER = {"ruff": 0, "recipe": 1, "llm": 2}


@dataclass(frozen=True, slots=True)
class Screened:
    """A candidate that ruff accepts: the fix (follow-ups included) and the file after it."""

    fix: Fix
    text: str
    follow_ups: int = 0

    @property
    def size(self) -> int:
        return changed_lines(self.fix.edits)

    @property
    def spread(self) -> int:
        """Lines between the first and the last edit: how local the change is."""
        lines = [e.span.start.line for e in self.fix.edits] + [
            e.span.end.line for e in self.fix.edits
        ]
        return max(lines) - min(lines) if lines else 0


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why ruff rejected a candidate, in words fit for a refinement prompt or a report."""

    fix: Fix
    reason: str


def _key(finding: Finding) -> tuple[str, str]:
    # Positions move when a fix adds or removes lines, so findings are matched by what they say.
    return finding.rule, finding.message


Settled = tuple[str, Counter[tuple[str, str]], Counter[tuple[str, str]], int]
# What settles a fix the same way: the file, its text after the fix, the fix's applicability
# and the findings before it (counted by rule and message).
SettleKey = tuple[str, str, Applicability, tuple[tuple[tuple[str, str], int], ...]]


def screen(
    fix: Fix,
    finding: Finding,
    text: str,
    root: str | Path,
    before: Sequence[Finding],
    options: RuffOptions | None = None,
    memo: dict[SettleKey, Settled] | None = None,
) -> Screened | Rejection:
    """Judge ``fix`` for ``finding`` in ``text`` (whose findings are ``before``) with ruff.

    ``memo``, kept by the caller for one file's findings, remembers how each fix settled:
    findings that share a fix (FA100's, one for every annotation of a file) run ruff once.
    """
    if any(edit.path != finding.path for edit in fix.edits):
        return Rejection(fix, "the fix edits another file")
    new_text = apply(text, fix.edits)
    if new_text == text:
        return Rejection(fix, "the fix changes nothing")
    if finding.rule == SYNTAX_ERROR:
        return _screen_syntax_repair(fix, finding, new_text, text, root, options)
    counts_before = Counter(_key(f) for f in before)
    key: SettleKey = (
        finding.path,
        new_text,
        fix.applicability,
        tuple(sorted(counts_before.items())),
    )
    settled = memo.get(key) if memo is not None else None
    if settled is None:
        settled = _settle(new_text, finding.path, root, counts_before, fix.applicability, options)
        if memo is not None:
            memo[key] = settled
    new_text, counts_after, excess, follow_ups = settled
    if counts_after[_key(finding)] >= counts_before[_key(finding)]:
        return Rejection(fix, f"ruff still reports {finding.rule}: {finding.message}")
    if excess:
        new = ", ".join(f"{rule} ({message})" for rule, message in sorted(excess))
        return Rejection(fix, f"the fix introduces new findings: {new}")
    if follow_ups:
        fix = replace(
            fix,
            title=f"{fix.title} and {_plural(follow_ups, 'follow-up fix')}",
            edits=edits_between(text, new_text, finding.path),
        )
    return Screened(fix, new_text, follow_ups)


def _settle(
    new_text: str,
    path: str,
    root: str | Path,
    counts_before: Counter[tuple[str, str]],
    level: Applicability,
    options: RuffOptions | None,
) -> Settled:
    """The text after ruff's follow-up fixes for what the fix introduced, as ``ruff check
    --fix`` would settle it, with its findings counted and those that were not there before."""
    follow_ups = 0
    for round_ in range(SETTLE_ROUNDS + 1):
        after = check_text(new_text, path, root, options)
        counts_after = Counter(_key(f) for f in after)
        excess = counts_after - counts_before
        if not excess or round_ == SETTLE_ROUNDS:
            break
        settle = _follow_up_edits(after, excess, level)
        if not settle:
            break
        settled_text = apply(new_text, settle)
        if settled_text == new_text:
            break
        new_text = settled_text
        follow_ups += len(settle)
    return new_text, counts_after, excess, follow_ups


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + (
        "es" if count != 1 and noun.endswith("x") else "s" if count != 1 else ""
    )


def _follow_up_edits(
    after: Sequence[Finding], excess: Counter[tuple[str, str]], level: Applicability
) -> list[Edit]:
    """ruff's fixes for the findings a fix introduced, no less safe than the fix itself."""
    allowed = (
        {Applicability.SAFE}
        if level is Applicability.SAFE
        else {Applicability.SAFE, Applicability.UNSAFE}
    )
    remaining = Counter(excess)
    edits: list[Edit] = []
    for found in after:
        key = _key(found)
        if remaining[key] <= 0:
            continue
        usable = [f for f in found.fixes if f.applicability in allowed]
        if not usable:
            continue
        remaining[key] -= 1
        edits.extend(usable[0].edits)
    return edits


def _screen_syntax_repair(
    fix: Fix,
    finding: Finding,
    new_text: str,
    text: str,
    root: str | Path,
    options: RuffOptions | None,
) -> Screened | Rejection:
    try:
        compile(new_text, finding.path or "<file>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return Rejection(fix, f"the file still does not compile: {error}")
    after = check_text(new_text, finding.path, root, options)
    if any(f.rule == SYNTAX_ERROR for f in after):
        return Rejection(fix, "ruff still reports a syntax error")
    return Screened(fix, new_text)


def rank(survivors: Sequence[Screened]) -> list[Screened]:
    """Best first: the smallest, most local change; then ruff's own, safe fixes before others."""
    return sorted(
        survivors,
        key=lambda s: (
            s.size,
            s.spread,
            s.fix.applicability is not Applicability.SAFE,
            _ORIGIN_ORDER.get(s.fix.origin, 3),
        ),
    )


def dedupe(fixes: Sequence[Fix]) -> list[Fix]:
    """Fixes with distinct edits, first proposer kept (ruff's before a recipe's)."""
    seen: set[tuple[tuple[str, Point, Point, str], ...]] = set()
    unique: list[Fix] = []
    for fix in fixes:
        key = tuple(sorted((e.path, e.span.start, e.span.end, e.new_text) for e in fix.edits))
        if key in seen:
            continue
        seen.add(key)
        unique.append(fix)
    return unique

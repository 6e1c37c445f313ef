"""What the feedback store says about a developer's use of tactful (``tactful stats``).

Boundary: pure functions from ``Event``s to a ``Summary`` and its text and JSON forms (the JSON
is a stable public format, documented in ``docs/stats-json.md``). Nothing here reads the store or
the clock; the caller passes the events and the time zone is the machine's.

Counting rules: a suggestion counts once however many events it has. Accepted characters are the
longest accepted length of a suggestion (partial accepts included); keystrokes saved are those
characters minus the one keystroke that accepts them, as the store recorded them at the time.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tactful.feedback import events as ev

FORMAT_VERSION = 1


@dataclass
class Tally:
    """Counts for one slice (all, a language, a week)."""

    shown: int = 0
    accepted: int = 0
    rejected_explicit: int = 0
    rejected_inferred: int = 0
    typed: int = 0
    hidden: int = 0
    skipped: int = 0
    chars_accepted: int = 0
    keystrokes_saved: int = 0

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.shown if self.shown else None

    @property
    def hidden_share(self) -> float | None:
        generated = self.shown + self.hidden
        return self.hidden / generated if generated else None

    def to_json(self) -> dict[str, Any]:
        rate = self.acceptance_rate
        hidden = self.hidden_share
        return {
            "shown": self.shown,
            "accepted": self.accepted,
            "acceptance_rate": None if rate is None else round(rate, 4),
            "rejected": {"explicit": self.rejected_explicit, "inferred": self.rejected_inferred},
            "typed_by_hand": self.typed,
            "chars_accepted": self.chars_accepted,
            "keystrokes_saved": self.keystrokes_saved,
            "hidden": self.hidden,
            "hidden_share": None if hidden is None else round(hidden, 4),
            "requests_skipped": self.skipped,
        }


@dataclass
class ItemTally:
    """Review comments or fixes: how many were shown, hidden, and what became of them."""

    shown: int = 0
    hidden: int = 0
    dismissed: int = 0
    used: int = 0  # fixes applied, comments resolved

    def to_json(self) -> dict[str, Any]:
        return {
            "shown": self.shown,
            "hidden": self.hidden,
            "dismissed": self.dismissed,
            "used": self.used,
        }


@dataclass
class Summary:
    total: Tally = field(default_factory=Tally)
    languages: dict[str, Tally] = field(default_factory=dict)
    weeks: dict[str, Tally] = field(default_factory=dict)
    comments: ItemTally = field(default_factory=ItemTally)
    fixes: ItemTally = field(default_factory=ItemTally)
    verdicts: Counter[str] = field(default_factory=Counter)
    first: float | None = None
    last: float | None = None

    def to_json(self) -> dict[str, Any]:
        def day(t: float | None) -> str | None:
            return None if t is None else dt.datetime.fromtimestamp(t).date().isoformat()

        return {
            "format": FORMAT_VERSION,
            "period": {"first": day(self.first), "last": day(self.last)},
            "completions": self.total.to_json(),
            "languages": {k: v.to_json() for k, v in sorted(self.languages.items())},
            "weeks": [{"week": k, **v.to_json()} for k, v in sorted(self.weeks.items())],
            "comments": self.comments.to_json(),
            "fixes": self.fixes.to_json(),
            "verdicts": dict(sorted(self.verdicts.items())),
        }


def week_of(t: float) -> str:
    """ISO week of a time, e.g. ``2025-W07`` (local time)."""
    year, week, _ = dt.datetime.fromtimestamp(t).isocalendar()
    return f"{year}-W{week:02d}"


def summarize(events: Iterable[ev.Event]) -> Summary:
    summary = Summary()
    # A suggestion counts once: remember its slice keys and what already happened to it.
    shown_at: dict[str, tuple[str, str]] = {}
    accepted_len: dict[str, tuple[int, int]] = {}
    rejected: dict[str, bool] = {}  # item id -> explicit
    # An editor inserts an accepted suggestion before it runs the accept command, so the text
    # "typed" by hand may turn out to be an accept: counted once all events are seen.
    typed: dict[str, tuple[str, str]] = {}

    def slices(language: str, week: str) -> tuple[Tally, Tally, Tally]:
        lang = summary.languages.setdefault(language or "unknown", Tally())
        return summary.total, lang, summary.weeks.setdefault(week, Tally())

    for e in events:
        summary.first = e.time if summary.first is None else min(summary.first, e.time)
        summary.last = e.time if summary.last is None else max(summary.last, e.time)
        key = (e.language, week_of(e.time))
        kind = e.kind
        if kind == ev.SUGGESTION_SHOWN:
            if e.item_id in shown_at:
                continue
            shown_at[e.item_id] = key
            for t in slices(*key):
                t.shown += 1
        elif kind == ev.SUGGESTION_ACCEPTED:
            key = shown_at.get(e.item_id, key)
            saved = e.detail.get("keystrokes")
            saved = max(0, e.length - 1) if not isinstance(saved, int) else saved
            before = accepted_len.get(e.item_id)
            new = (max(e.length, before[0]), max(saved, before[1])) if before else (e.length, saved)
            accepted_len[e.item_id] = new
            for t in slices(*key):
                if before is None:
                    t.accepted += 1
                    if rejected.get(e.item_id) is False:
                        # An inferred rejection the accept command then corrected.
                        t.rejected_inferred = max(0, t.rejected_inferred - 1)
                t.chars_accepted += new[0] - (before[0] if before else 0)
                t.keystrokes_saved += new[1] - (before[1] if before else 0)
        elif kind == ev.SUGGESTION_REJECTED:
            if e.item_id in rejected or e.item_id in accepted_len:
                continue
            rejected[e.item_id] = e.explicit
            for t in slices(*shown_at.get(e.item_id, key)):
                if e.explicit:
                    t.rejected_explicit += 1
                else:
                    t.rejected_inferred += 1
        elif kind == ev.SUGGESTION_TYPED:
            typed.setdefault(e.item_id, shown_at.get(e.item_id, key))
        elif kind == ev.SUGGESTION_HIDDEN:
            for t in slices(*key):
                t.hidden += 1
        elif kind == ev.REQUEST_SKIPPED:
            for t in slices(*key):
                t.skipped += 1
        elif kind == ev.COMMENT_SHOWN:
            summary.comments.shown += 1
        elif kind == ev.COMMENT_HIDDEN:
            summary.comments.hidden += 1
        elif kind == ev.COMMENT_DISMISSED:
            summary.comments.dismissed += 1
        elif kind == ev.COMMENT_RESOLVED:
            summary.comments.used += 1
        elif kind == ev.FIX_OFFERED:
            summary.fixes.shown += 1
        elif kind == ev.FIX_HIDDEN:
            summary.fixes.hidden += 1
        elif kind == ev.FIX_APPLIED:
            summary.fixes.used += 1
        elif kind == ev.FIX_IGNORED:
            summary.fixes.dismissed += 1
        elif kind == ev.VALIDATION_VERDICT:
            summary.verdicts[str(e.detail.get("verdict", "unknown"))] += 1
    for item_id, key in typed.items():
        if item_id not in accepted_len:
            for t in slices(*key):
                t.typed += 1
    return summary


# What each verdict kind means, in the words fix titles use (DESIGN §4).
VERDICT_WORDS = {
    "passed": "tests passed (they ran the fixed code)",
    "unexercised": "tests pass, but none runs the fixed code",
    "equivalent": "no test runs it: same behaviour on generated or recorded inputs",
    "different": "no test runs it: behaves differently, not offered",
    "failed": "tests failed, not offered",
    "timeout": "tests timed out",
    "error": "tests could not run",
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def render_text(summary: Summary) -> str:
    """The summary as a few aligned lines for a terminal."""
    t = summary.total
    if summary.first is None:
        return "No feedback recorded yet: use tactful in an editor for a while, then ask again.\n"
    data = summary.to_json()
    lines = [
        f"tactful stats, {data['period']['first']} to {data['period']['last']}",
        "",
        f"  suggestions shown     {t.shown:>8}",
        f"  accepted              {t.accepted:>8}   ({_pct(t.acceptance_rate)} of shown)",
        f"  characters accepted   {t.chars_accepted:>8}",
        f"  keystrokes saved      {t.keystrokes_saved:>8}",
        f"  hidden by the filter  {t.hidden:>8}   ({_pct(t.hidden_share)} of generated)",
        f"  requests skipped      {t.skipped:>8}   (the gate judged the moment unpromising)",
        f"  rejected              {t.rejected_explicit + t.rejected_inferred:>8}   "
        f"({t.rejected_explicit} dismissed, {t.rejected_inferred} typed over)",
        "",
        "  per language          shown  accepted     rate  keystrokes saved",
    ]
    for name, lt in sorted(summary.languages.items(), key=lambda kv: -kv[1].shown):
        lines.append(
            f"    {name:<18}{lt.shown:>8}{lt.accepted:>10}{_pct(lt.acceptance_rate):>9}"
            f"{lt.keystrokes_saved:>18}"
        )
    lines += ["", "  per week              shown  accepted     rate  keystrokes saved"]
    for week, wt in sorted(summary.weeks.items()):
        lines.append(
            f"    {week:<18}{wt.shown:>8}{wt.accepted:>10}{_pct(wt.acceptance_rate):>9}"
            f"{wt.keystrokes_saved:>18}"
        )
    c, f = summary.comments, summary.fixes
    if c.shown or c.hidden or f.shown or f.hidden:
        lines += [
            "",
            f"  review comments: {c.shown} shown, {c.hidden} hidden, {c.dismissed} dismissed, "
            f"{c.used} acted on",
            f"  fixes: {f.shown} offered, {f.hidden} hidden, {f.used} applied, "
            f"{f.dismissed} ignored",
        ]
    if summary.verdicts:
        lines.append("  validation verdicts:")
        order = {kind: i for i, kind in enumerate(VERDICT_WORDS)}
        for kind, count in sorted(summary.verdicts.items(), key=lambda kv: order.get(kv[0], 99)):
            lines.append(f"    {count:>6}  {VERDICT_WORDS.get(kind, kind)}")
    return "\n".join(lines) + "\n"

"""What the feedback store says about a developer's use of tactful (``tactful stats``).

Boundary: pure functions from ``Event``s to a ``Summary`` and its text and JSON forms (the JSON
is a stable public format, documented in ``docs/stats-json.md``). Nothing here reads the store or
the clock; the caller passes the events and the time zone is the machine's.

Counting rules: a suggestion counts once however many events it has. Accepted characters are the
longest accepted length of a suggestion (partial accepts included); keystrokes saved are those
characters minus the one keystroke that accepts them, as the store recorded them at the time.
A hidden suggestion the developer then typed exactly by hand counts once, with the keystrokes
that typing cost less the one an accept would have cost: what showing it would have saved.

Time is binned by local day while the history spans ``DAILY_DAYS`` days or fewer (a first
week's use shows day by day), by ISO week after that.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tactful.feedback import events as ev

FORMAT_VERSION = 1
# Histories spanning this many days or fewer are shown per day, longer ones per week.
DAILY_DAYS = 28


@dataclass
class Tally:
    """Counts for one slice (all, a language, a week)."""

    shown: int = 0
    accepted: int = 0
    rejected_explicit: int = 0
    rejected_inferred: int = 0
    typed: int = 0
    hidden: int = 0
    hidden_typed: int = 0
    hidden_typed_keystrokes: int = 0
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
            "hidden_then_typed": self.hidden_typed,
            "hidden_then_typed_keystrokes": self.hidden_typed_keystrokes,
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
class NextEditTally:
    """Next edits: shown, accepted, turned down (by the editor or inferred), hidden."""

    shown: int = 0
    accepted: int = 0
    rejected_explicit: int = 0
    rejected_inferred: int = 0
    hidden: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    accepted_by_source: Counter[str] = field(default_factory=Counter)

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.shown if self.shown else None

    def to_json(self) -> dict[str, Any]:
        rate = self.acceptance_rate
        return {
            "shown": self.shown,
            "accepted": self.accepted,
            "acceptance_rate": None if rate is None else round(rate, 4),
            "rejected": {"explicit": self.rejected_explicit, "inferred": self.rejected_inferred},
            "hidden": self.hidden,
            "sources": {
                source: {"shown": shown, "accepted": self.accepted_by_source[source]}
                for source, shown in sorted(self.by_source.items())
            },
        }


@dataclass
class Summary:
    total: Tally = field(default_factory=Tally)
    languages: dict[str, Tally] = field(default_factory=dict)
    weeks: dict[str, Tally] = field(default_factory=dict)
    days: dict[str, Tally] = field(default_factory=dict)
    comments: ItemTally = field(default_factory=ItemTally)
    fixes: ItemTally = field(default_factory=ItemTally)
    next_edits: NextEditTally = field(default_factory=NextEditTally)
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
            "days": [{"day": k, **v.to_json()} for k, v in sorted(self.days.items())],
            "timeline": self.unit,
            "comments": self.comments.to_json(),
            "fixes": self.fixes.to_json(),
            "next_edits": self.next_edits.to_json(),
            "verdicts": dict(sorted(self.verdicts.items())),
        }

    @property
    def unit(self) -> str:
        """``day`` or ``week``: how time is binned for this history."""
        if self.first is None or self.last is None:
            return "day"
        span = (day_of(self.last) - day_of(self.first)).days + 1
        return "day" if span <= DAILY_DAYS else "week"

    def timeline(self) -> list[tuple[str, Tally]]:
        """Every bin from the first event to the last, in order, empty ones included (so a
        chart shows the days or weeks without use as such)."""
        if self.first is None or self.last is None:
            return []
        first, last = day_of(self.first), day_of(self.last)
        if self.unit == "day":
            count = (last - first).days + 1
            keys = [(first + dt.timedelta(days=n)).isoformat() for n in range(count)]
            return [(key, self.days.get(key, Tally())) for key in keys]
        start = first - dt.timedelta(days=first.weekday())
        keys = []
        while start <= last:
            year, week, _ = start.isocalendar()
            keys.append(f"{year}-W{week:02d}")
            start += dt.timedelta(days=7)
        return [(key, self.weeks.get(key, Tally())) for key in keys]


def day_of(t: float) -> dt.date:
    """The local date of a time."""
    return dt.datetime.fromtimestamp(t).date()


def week_of(t: float) -> str:
    """ISO week of a time, e.g. ``2025-W07`` (local time)."""
    year, week, _ = dt.datetime.fromtimestamp(t).isocalendar()
    return f"{year}-W{week:02d}"


def summarize(events: Iterable[ev.Event]) -> Summary:
    summary = Summary()
    # A suggestion counts once: remember its slice keys and what already happened to it.
    shown_at: dict[str, tuple[str, str, str]] = {}
    accepted_len: dict[str, tuple[int, int]] = {}
    rejected: dict[str, bool] = {}  # item id -> explicit
    # An editor inserts an accepted suggestion before it runs the accept command, so the text
    # "typed" by hand may turn out to be an accept: counted once all events are seen.
    typed: dict[str, tuple[str, str, str]] = {}
    # A next edit counts once: its source, and what became of it (an accept wins).
    next_shown: dict[str, str] = {}
    next_settled: dict[str, str] = {}

    def slices(language: str, week: str, day: str) -> tuple[Tally, Tally, Tally, Tally]:
        lang = summary.languages.setdefault(language or "unknown", Tally())
        return (
            summary.total,
            lang,
            summary.weeks.setdefault(week, Tally()),
            summary.days.setdefault(day, Tally()),
        )

    for e in events:
        summary.first = e.time if summary.first is None else min(summary.first, e.time)
        summary.last = e.time if summary.last is None else max(summary.last, e.time)
        key = (e.language, week_of(e.time), day_of(e.time).isoformat())
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
        elif kind == ev.SUGGESTION_HIDDEN_TYPED:
            cost = e.detail.get("keystrokes")
            for t in slices(*key):
                t.hidden_typed += 1
                t.hidden_typed_keystrokes += cost if isinstance(cost, int) else 0
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
        elif kind == ev.NEXT_EDIT_SHOWN:
            if e.item_id not in next_shown:
                next_shown[e.item_id] = str(e.detail.get("source", "unknown"))
        elif kind == ev.NEXT_EDIT_ACCEPTED:
            next_settled[e.item_id] = "accepted"
        elif kind == ev.NEXT_EDIT_REJECTED:
            if next_settled.get(e.item_id) != "accepted":
                next_settled[e.item_id] = "explicit" if e.explicit else "inferred"
        elif kind == ev.NEXT_EDIT_HIDDEN:
            summary.next_edits.hidden += 1
    for item_id, key in typed.items():
        if item_id not in accepted_len:
            for t in slices(*key):
                t.typed += 1
    next_edits = summary.next_edits
    for item_id, source in next_shown.items():
        next_edits.shown += 1
        next_edits.by_source[source] += 1
        settled = next_settled.get(item_id)
        if settled == "accepted":
            next_edits.accepted += 1
            next_edits.accepted_by_source[source] += 1
        elif settled == "explicit":
            next_edits.rejected_explicit += 1
        elif settled == "inferred":
            next_edits.rejected_inferred += 1
    return summary


# What each verdict kind means, in the words fix titles use (DESIGN §4).
VERDICT_WORDS = {
    "passed": "tests passed (they ran the fixed code)",
    "unexercised": "tests pass, but none runs the fixed code",
    "equivalent": "no test runs it: same behaviour on generated or recorded inputs, or the "
    "same code laid out anew",
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
        f"    then typed by hand  {t.hidden_typed:>8}   (exactly as predicted: "
        f"{t.hidden_typed_keystrokes} keystrokes showing them would have saved)",
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
    unit = summary.unit
    lines += [
        "",
        f"  per {unit:<18}shown  accepted     rate  keystrokes saved  hidden, typed",
    ]
    bins = summary.days if unit == "day" else summary.weeks
    for when, bt in sorted(bins.items()):
        lines.append(
            f"    {when:<18}{bt.shown:>8}{bt.accepted:>10}{_pct(bt.acceptance_rate):>9}"
            f"{bt.keystrokes_saved:>18}{bt.hidden_typed:>15}"
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
    ne = summary.next_edits
    if ne.shown or ne.hidden:
        lines += [
            "",
            f"  next edits shown      {ne.shown:>8}",
            f"  accepted              {ne.accepted:>8}   ({_pct(ne.acceptance_rate)} of shown)",
            f"  rejected              {ne.rejected_explicit + ne.rejected_inferred:>8}   "
            f"({ne.rejected_explicit} dismissed, {ne.rejected_inferred} passed by)",
            f"  hidden by the model   {ne.hidden:>8}",
        ]
    if summary.verdicts:
        lines.append("  validation verdicts:")
        order = {kind: i for i, kind in enumerate(VERDICT_WORDS)}
        for kind, count in sorted(summary.verdicts.items(), key=lambda kv: order.get(kv[0], 99)):
            lines.append(f"    {count:>6}  {VERDICT_WORDS.get(kind, kind)}")
    return "\n".join(lines) + "\n"

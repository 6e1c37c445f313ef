"""``tactful stats --team``: the team's acceptance, keystrokes saved, hidden share, fixes applied
and validated, per repository and per week.

Boundary: reads the team store's events and counts them with the same rules as ``tactful stats``
(``tactful.feedback.stats.summarize``: a suggestion counts once however many events it has), per
repository and for the whole team. Developers appear only as a count of active ones, unless the
team enabled names (``share_names``), and then by the name each one's server sent. The JSON is a
stable public format, documented in ``docs/team.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tactful.feedback import events as ev
from tactful.feedback.stats import Summary, render_text, summarize

FORMAT_VERSION = 1
_KINDS = [
    ev.SUGGESTION_SHOWN,
    ev.SUGGESTION_ACCEPTED,
    ev.SUGGESTION_REJECTED,
    ev.SUGGESTION_TYPED,
    ev.SUGGESTION_HIDDEN,
    ev.REQUEST_SKIPPED,
    ev.COMMENT_SHOWN,
    ev.COMMENT_HIDDEN,
    ev.COMMENT_DISMISSED,
    ev.COMMENT_RESOLVED,
    ev.FIX_OFFERED,
    ev.FIX_HIDDEN,
    ev.FIX_APPLIED,
    ev.FIX_IGNORED,
    ev.VALIDATION_VERDICT,
]


@dataclass
class TeamSummary:
    total: Summary
    repositories: dict[str, tuple[str, Summary]] = field(default_factory=dict)
    developers: dict[str, Summary] | None = None  # by name, only when the team enabled names
    active_developers: int = 0

    def to_json(self) -> dict[str, Any]:
        def part(summary: Summary) -> dict[str, Any]:
            data = summary.to_json()
            data["fixes"]["validated"] = summary.verdicts.get("passed", 0)
            return {
                "completions": data["completions"],
                "weeks": data["weeks"],
                "comments": data["comments"],
                "fixes": data["fixes"],
                "verdicts": data["verdicts"],
            }

        return {
            "format": FORMAT_VERSION,
            "period": self.total.to_json()["period"],
            "active_developers": self.active_developers,
            **part(self.total),
            "repositories": [
                {"id": repo_id, "label": label, **part(summary)}
                for repo_id, (label, summary) in sorted(
                    self.repositories.items(), key=lambda kv: kv[1][0]
                )
            ],
            "developers": None
            if self.developers is None
            else [
                {"name": name, "completions": s.to_json()["completions"]}
                for name, s in sorted(self.developers.items())
            ],
        }


def _events(rows: Iterable[tuple[Any, ...]]) -> Iterable[tuple[str, str, ev.Event]]:
    for developer, repository, kind, item_id, t, language, length, explicit, detail in rows:
        # Suggestion ids are random per server; prefixed, two developers' ids never meet.
        yield (
            developer,
            repository,
            ev.Event(
                kind,
                item_id=f"{developer}:{item_id}",
                language=language,
                length=length,
                explicit=explicit,
                time=t,
                detail=detail or {},
            ),
        )


def team_summary(conn: Any) -> TeamSummary:
    """Count the team store's events (see the module docstring)."""
    settings = dict(conn.execute("SELECT key, value FROM tactful_settings").fetchall())
    names_on = settings.get("share_names") is True
    labels = dict(conn.execute("SELECT id, label FROM tactful_repositories").fetchall())
    names = dict(conn.execute("SELECT id, name FROM tactful_developers").fetchall())
    rows = conn.execute(
        "SELECT developer, repository, kind, item_id, time, language, length, explicit, detail "
        "FROM tactful_events WHERE kind = ANY(%s) ORDER BY seq",
        (_KINDS,),
    ).fetchall()
    everything: list[ev.Event] = []
    by_repository: dict[str, list[ev.Event]] = {}
    by_developer: dict[str, list[ev.Event]] = {}
    for developer, repository, event in _events(rows):
        everything.append(event)
        by_repository.setdefault(repository, []).append(event)
        by_developer.setdefault(developer, []).append(event)
    summary = TeamSummary(summarize(everything), active_developers=len(by_developer))
    for repository, events in by_repository.items():
        label = labels.get(repository, "") if repository else "(no repository)"
        summary.repositories[repository] = (label, summarize(events))
    if names_on:
        summary.developers = {
            names.get(developer) or f"developer {developer[:8]}": summarize(events)
            for developer, events in by_developer.items()
        }
    return summary


def render_team_text(summary: TeamSummary) -> str:
    """The team's figures for a terminal: the whole team, then each repository."""
    if summary.total.first is None:
        return "No team events yet: servers with feedback.team send theirs in the background.\n"
    lines = [f"team: {summary.active_developers} developers with events", ""]
    lines.append(render_text(summary.total).rstrip("\n"))
    lines += ["", "  per repository        shown  accepted     rate  saved  hidden  fixes applied"]
    for _repo_id, (label, s) in sorted(summary.repositories.items(), key=lambda kv: kv[1][0]):
        t = s.total
        rate = "—" if t.acceptance_rate is None else f"{t.acceptance_rate * 100:.1f}%"
        hidden = "—" if t.hidden_share is None else f"{t.hidden_share * 100:.0f}%"
        validated = s.verdicts.get("passed", 0)
        lines.append(
            f"    {label[:18]:<18}{t.shown:>8}{t.accepted:>10}{rate:>9}{t.keystrokes_saved:>7}"
            f"{hidden:>8}{s.fixes.used:>8} ({validated} validated)"
        )
    if summary.developers is not None:
        lines += ["", "  per developer (names enabled by the team)"]
        for name, s in sorted(summary.developers.items()):
            t = s.total
            rate = "—" if t.acceptance_rate is None else f"{t.acceptance_rate * 100:.1f}%"
            lines.append(f"    {name[:24]:<24}{t.shown:>8}{t.accepted:>10}{rate:>9}")
    return "\n".join(lines) + "\n"

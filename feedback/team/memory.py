"""What the team turned down in a repository, as the review ranker's ``Memory``.

Boundary: reads ``comment.*`` and ``fix.*`` events of one repository from the team store (any
developer's) and builds the same plain ``Memory`` the local store gives, so ``tactful review``
in CI and every developer's server stop repeating what a colleague dismissed: a dismissed
comment's id is never shown again, and each dismissal of a rule — or each fix of that rule
offered and left unused (``fix.ignored``) — lowers that rule's comments. Never raises: a team
store that cannot be read means no team memory and one log message.
"""

from __future__ import annotations

import logging
from typing import Any

from tactful.feedback import events as ev
from tactful.feedback.review import memory_from_events
from tactful.feedback.team.identity import repository_of
from tactful.feedback.team.schema import TeamUnavailable, connect, ensure_schema, redact
from tactful.suggestion.review.ranking import Memory

logger = logging.getLogger(__name__)

_KINDS = (ev.COMMENT_SHOWN, ev.COMMENT_DISMISSED, ev.FIX_OFFERED, ev.FIX_IGNORED)


def repository_memory(conn: Any, repository: str) -> Memory:
    """The review memory of a repository from the team store's events."""
    rows = conn.execute(
        "SELECT kind, item_id, detail->>'rule' FROM tactful_events "
        "WHERE repository = %s AND kind = ANY(%s) ORDER BY seq",
        (repository, list(_KINDS)),
    ).fetchall()
    comments = [
        ev.Event(kind, item_id=item_id, detail={"rule": rule or ""})
        for kind, item_id, rule in rows
        if kind in (ev.COMMENT_SHOWN, ev.COMMENT_DISMISSED)
    ]
    memory = memory_from_events(comments)
    shown = dict(memory.shown_by_rule)
    dismissed = dict(memory.dismissed_by_rule)
    for kind, _item_id, rule in rows:
        if not rule:
            continue
        if kind == ev.FIX_OFFERED:
            shown[rule] = shown.get(rule, 0) + 1
        elif kind == ev.FIX_IGNORED:
            dismissed[rule] = dismissed.get(rule, 0) + 1
    return Memory(memory.dismissed, shown, dismissed)


def team_memory(url: str, workspace: str) -> Memory | None:
    """The team's memory of the repository at ``workspace``; None when there is none to
    have (not a repository, or the team store cannot be read)."""
    import psycopg

    repository = repository_of(workspace)
    if repository is None:
        return None
    try:
        conn = connect(url)
    except TeamUnavailable as exc:
        logger.warning("review comments the team dismissed are unknown: %s", exc)
        return None
    try:
        ensure_schema(conn)
        return repository_memory(conn, repository.id)
    except (TeamUnavailable, psycopg.Error) as exc:
        logger.warning("review comments the team dismissed are unknown (%s): %s", redact(url), exc)
        return None
    finally:
        conn.close()


def merged(own: Memory, team: Memory | None) -> Memory:
    """Both memories: every dismissed id, and per rule the larger count of each (this
    developer's shipped events are in both, so counts are not added)."""
    if team is None:
        return own

    def most(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {rule: max(a.get(rule, 0), b.get(rule, 0)) for rule in set(a) | set(b)}

    return Memory(
        own.dismissed | team.dismissed,
        most(dict(own.shown_by_rule), dict(team.shown_by_rule)),
        most(dict(own.dismissed_by_rule), dict(team.dismissed_by_rule)),
    )

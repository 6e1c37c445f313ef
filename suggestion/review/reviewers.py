"""Suggested reviewers: the people who wrote the code a change rewrites, and who work on its files.

Boundary: ranks the ownership facts ``analyzers.blame`` reads from git; never raises (no history
means no suggestion). The change's own author is never suggested.
"""

from __future__ import annotations

from tactful.analyzers.blame import Author, BlameRequest, current_author, ownership
from tactful.analyzers.diff import Diff
from tactful.suggestion.review.comments import Reviewer

MAX_REVIEWERS = 3
# Lines of the previous version weigh more than recent commits: they say who knows this code,
# recent commits only who works nearby.
LINE_WEIGHT = 0.7
COMMIT_WEIGHT = 0.3


def suggest_reviewers(
    diff: Diff, exclude: Author | None = None, limit: int = MAX_REVIEWERS
) -> list[Reviewer]:
    """Up to ``limit`` people who know the changed code, best first."""
    requests = [
        BlameRequest(change.old_path, tuple(change.previous_lines()))
        for change in diff.files
        if change.old_path is not None
    ]
    if not requests:
        return []
    me = exclude if exclude is not None else current_author(diff.root)
    owners = [
        o
        for o in ownership(diff.root, diff.base.commit, requests)
        if me is None or not _same_person(o.author, me)
    ]
    total_lines = sum(o.lines for o in owners) or 1
    total_commits = sum(o.commits for o in owners) or 1
    reviewers = [
        Reviewer(
            name=o.author.name,
            email=o.author.email,
            lines=o.lines,
            commits=o.commits,
            score=round(
                LINE_WEIGHT * o.lines / total_lines + COMMIT_WEIGHT * o.commits / total_commits, 3
            ),
        )
        for o in owners
    ]
    reviewers.sort(key=lambda r: (-r.score, r.name, r.email))
    return reviewers[:limit]


def _same_person(a: Author, b: Author) -> bool:
    if a.email and b.email:
        return a.email.lower() == b.email.lower()
    return bool(a.name) and a.name == b.name

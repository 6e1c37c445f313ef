"""Who knows the changed code: blame of the previous versions of changed lines, and the recent
authors of the changed files.

Boundary: git facts only (gitpython), read from the base commit, never the working tree. It
never raises: a file git cannot blame (new, renamed away, shallow history) simply adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import git

from tactful.analyzers.git_safety import open_repo

logger = logging.getLogger(__name__)

RECENT_COMMITS = 50


@dataclass(frozen=True, slots=True, order=True)
class Author:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Ownership:
    """How much of the changed code's history one person wrote."""

    author: Author
    lines: int  # previous versions of changed lines they last touched
    commits: int  # recent commits of theirs on the changed files
    last_time: int  # unix time of their latest such commit or line


@dataclass(frozen=True, slots=True)
class BlameRequest:
    """Old-side line ranges (zero-based, end exclusive) of one file at the base commit."""

    path: str
    ranges: tuple[tuple[int, int], ...]


def ownership(
    root: str | Path, commit: str | None, requests: Sequence[BlameRequest]
) -> list[Ownership]:
    """Owners of the changed code, most lines first; empty without a base commit."""
    if commit is None:
        return []
    try:
        repo = open_repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return []
    try:
        lines: dict[Author, int] = {}
        times: dict[Author, int] = {}
        wanted = [r for r in requests if r.ranges]
        with ThreadPoolExecutor(max_workers=4) as pool:
            for found in pool.map(lambda r: _blame(repo, commit, r), wanted):
                for author, when in found:
                    lines[author] = lines.get(author, 0) + 1
                    times[author] = max(times.get(author, 0), when)
        commits: dict[Author, int] = {}
        for author, when in _recent(repo, commit, [r.path for r in requests]):
            commits[author] = commits.get(author, 0) + 1
            times[author] = max(times.get(author, 0), when)
    finally:
        repo.close()
    owners = [
        Ownership(author, lines.get(author, 0), commits.get(author, 0), times[author])
        for author in times
    ]
    owners.sort(key=lambda o: (-o.lines, -o.commits, -o.last_time, o.author))
    return owners


def current_author(root: str | Path) -> Author | None:
    """The author git would record for a commit made here now."""
    try:
        repo = open_repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        reader = repo.config_reader()
        name = str(reader.get_value("user", "name", ""))
        email = str(reader.get_value("user", "email", ""))
    except Exception:  # a broken git config must not break a review
        logger.debug("could not read the git user", exc_info=True)
        return None
    finally:
        repo.close()
    return Author(name, email) if name or email else None


def _blame(repo: git.Repo, commit: str, request: BlameRequest) -> list[tuple[Author, int]]:
    args = ["--line-porcelain", "-w"]
    for start, end in request.ranges:
        args += ["-L", f"{start + 1},{end}"]
    try:
        out = repo.git.blame(*args, commit, "--", request.path)
    except git.GitCommandError as exc:
        logger.debug("no blame for %s: %s", request.path, exc)
        return []
    return list(_parse_porcelain(out.split("\n")))


def _parse_porcelain(lines: Iterable[str]) -> Iterable[tuple[Author, int]]:
    name = email = ""
    when = 0
    for line in lines:
        if line.startswith("author "):
            name = line[7:]
        elif line.startswith("author-mail "):
            email = line[12:].strip().strip("<>")
        elif line.startswith("author-time "):
            try:
                when = int(line[12:])
            except ValueError:
                when = 0
        elif line.startswith("\t"):
            if email != "not.committed.yet":
                yield Author(name, email), when
            name = email = ""
            when = 0


def _recent(repo: git.Repo, commit: str, paths: Sequence[str]) -> list[tuple[Author, int]]:
    if not paths:
        return []
    found: list[tuple[Author, int]] = []
    for start in range(0, len(paths), 200):
        try:
            out = repo.git.log(
                f"-n{RECENT_COMMITS}",
                "--no-merges",
                "--format=%aN%x00%aE%x00%at",
                commit,
                "--",
                *paths[start : start + 200],
            )
        except git.GitCommandError as exc:
            logger.debug("no history for the changed files: %s", exc)
            continue
        for line in out.split("\n"):
            parts = line.split("\0")
            if len(parts) == 3:
                try:
                    found.append((Author(parts[0], parts[1]), int(parts[2])))
                except ValueError:
                    continue
    return found

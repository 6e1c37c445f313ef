"""Where names are used across a repository: ``git grep`` for whole words, tracked and untracked.

Boundary: git facts only; reads the working tree through git, never writes, never raises (a
folder git cannot search yields nothing). Used to show a reviewer, human or model, who calls the
functions a change touches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import git

from tactful.analyzers.git_safety import open_repo

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Occurrence:
    path: str  # relative to the repository root
    line: int  # zero-based
    text: str
    word: str


def occurrences(
    root: str | Path, words: Iterable[str], max_per_word: int = 3, max_total: int = 30
) -> list[Occurrence]:
    """Lines using each word as a whole word, at most ``max_per_word`` of each."""
    wanted = sorted({w for w in words if w and w.isidentifier()})
    if not wanted:
        return []
    try:
        repo = open_repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return []
    args = ["-n", "-I", "-w", "-F", "--untracked", "--no-color", "--full-name"]
    for word in wanted:
        args += ["-e", word]
    try:
        out = repo.git.grep(*args, with_exceptions=False)
    except git.GitCommandError as exc:
        logger.debug("git grep failed: %s", exc)
        return []
    finally:
        repo.close()
    counts: dict[str, int] = {}
    found: list[Occurrence] = []
    for raw in out.split("\n") if isinstance(out, str) else []:
        path, _, rest = raw.partition(":")
        number, _, text = rest.partition(":")
        if not number.isdigit():
            continue
        for word in wanted:
            if counts.get(word, 0) >= max_per_word or word not in text:
                continue
            counts[word] = counts.get(word, 0) + 1
            found.append(Occurrence(path, int(number) - 1, text, word))
            break
        if len(found) >= max_total:
            break
    return found

"""Folders that hold builds, caches or environments, never the project's own files.

Boundary: a path's parts, one look per folder for the file that marks a virtual environment
(``pyvenv.cfg``), and ``git ls-files`` (through ``git_safety``); nothing is written.

git lists the untracked files of a folder the repository forgets to ignore, and a virtual
environment made in the workspace (``python -m venv .venv``, where tactful looks for the
project's interpreter) holds thousands of them. Whoever asks git for untracked files (the
review's diff, the index the engine learns from, the sandbox's copy) leaves out those found here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from tactful.analyzers.git_safety import run_git

TOOL_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        "node_modules",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        "build",
        "dist",
        ".idea",
    }
)


def is_tool_dir(name: str) -> bool:
    """A folder's name that says it holds a build, a cache or an environment."""
    return name in TOOL_DIRS or name.endswith(".egg-info")


class ToolFolders:
    """Untracked paths under ``root`` sorted into the project's and the tools'; the look for
    ``pyvenv.cfg`` is made once per folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._venv: dict[tuple[str, ...], bool] = {}

    def folder_of(self, relative: str) -> str | None:
        """The folder of ``relative`` (a POSIX path under the root) that holds a build, a cache
        or a virtual environment, as a relative POSIX path; None for the project's files."""
        parts = PurePosixPath(relative).parts[:-1]
        for depth, part in enumerate(parts):
            prefix = parts[: depth + 1]
            if is_tool_dir(part) or self._is_venv(prefix):
                return "/".join(prefix)
        return None

    def _is_venv(self, prefix: tuple[str, ...]) -> bool:
        known = self._venv.get(prefix)
        if known is None:
            known = self._venv[prefix] = (self.root.joinpath(*prefix) / "pyvenv.cfg").is_file()
        return known

    def split(self, untracked: Iterable[str]) -> tuple[list[str], dict[str, int]]:
        """The project's paths of ``untracked``, and how many were left out in each tool
        folder."""
        kept: list[str] = []
        left: dict[str, int] = {}
        for path in untracked:
            folder = self.folder_of(path)
            if folder is None:
                kept.append(path)
            else:
                left[folder] = left.get(folder, 0) + 1
        return kept, left


def project_files(root: Path) -> list[str] | None:
    """Tracked files under ``root`` (relative, POSIX) and the project's untracked, non-ignored
    ones (not those in a build, cache or environment folder the repository forgets to ignore);
    None outside a git work tree."""
    tracked = _ls_files(root, "--cached")
    if tracked is None:
        return None
    others = _ls_files(root, "--others", "--exclude-standard") or []
    kept, _left_out = ToolFolders(root).split(others)
    return sorted({*tracked, *kept})


def _ls_files(root: Path, *args: str) -> list[str] | None:
    try:
        # Through git_safety: the repository's configured programs (fsmonitor, filters) stay off.
        done = run_git(root, "ls-files", "-z", *args, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    names = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [name for name in names if name]

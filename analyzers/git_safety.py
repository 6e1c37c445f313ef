"""Running git on a repository we do not trust: every program its configuration names is off.

Boundary: the one way tactful runs git, by subprocess (``run_git``) or through gitpython
(``open_repo``). A repository's ``.git/config`` is written by whoever made the repository, and
git runs programs named there as a matter of course: ``core.fsmonitor`` on every command that
looks at the working tree, hooks, clean/smudge/process filters when a file is hashed, diff
drivers and textconv, credential helpers, ssh commands and pagers. Opening a cloned repository
in an editor must not run any of them.

How: git takes configuration from the environment (``GIT_CONFIG_COUNT``, ``GIT_CONFIG_KEY_n``,
``GIT_CONFIG_VALUE_n``, git >= 2.31) above every file, and passes it on to the git processes it
starts itself. Fixed keys (``SAFE_CONFIG``) turn off what has one switch; keys that name a
driver (``filter.<driver>.clean``, ``diff.<driver>.textconv``, …) are found by listing the
configuration in force (``git config --list`` only reads files) and each is overridden with an
empty value. The user's own configuration otherwise stays in force (identity, ``safe.directory``,
ignore files). Nothing here reaches the network: every transport is refused (``protocol.allow``),
which also stops a partial clone's lazy fetch of missing objects.

Never raises for a repository's content: a git that fails yields its exit status to the caller.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import git

logger = logging.getLogger(__name__)

# Keys with one value that turns a program off.
SAFE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
    ("core.sshCommand", ""),
    ("core.gitProxy", ""),
    ("core.askPass", ""),
    ("core.pager", "cat"),
    ("core.editor", "true"),
    ("core.alternateRefsCommand", ""),
    ("sequence.editor", "true"),
    ("diff.external", ""),
    ("credential.helper", ""),
    ("log.showSignature", "false"),
    ("blame.ignoreRevsFile", ""),
    ("protocol.allow", "never"),
    ("submodule.recurse", "false"),
    ("diff.ignoreSubmodules", "all"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("color.ui", "false"),
)

# Keys that name a program for one driver (or one remote, or one command), and the harmless
# value each one in force is given: ``cat`` where git needs a program that changes nothing (a
# clean filter or textconv reads the content and writes it back as is), else empty (git then
# runs nothing; a diff driver's command is also never asked for: every diff tactful runs passes
# ``--no-ext-diff``).
_DRIVER_KEYS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), value)
    for pattern, value in (
        (r"^filter\..+\.(?:clean|smudge)$", "cat"),
        (r"^filter\..+\.process$", ""),
        (r"^filter\..+\.required$", "false"),
        (r"^diff\..+\.textconv$", "cat"),
        (r"^diff\..+\.command$", ""),
        (r"^merge\..+\.driver$", ""),
        (r"^credential\..+\.helper$", ""),
        (r"^remote\..+\.(?:uploadpack|receivepack|vcs|proxy)$", ""),
        (r"^(?:difftool|mergetool)\..+\.cmd$", ""),
        (r"^gpg(?:\..+)?\.program$", ""),
        (r"^pager\..+$", ""),  # empty reads as false: no pager
        (r"^protocol\..+\.allow$", "never"),
    )
)

# Variables of the caller's environment that would point git elsewhere or run something.
_DROPPED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_EXTERNAL_DIFF",
    "GIT_EXEC_PATH",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)
_FIXED_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_PAGER": "cat",
    "GIT_EDITOR": "true",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_PROTOCOL_FROM_USER": "0",
    "GIT_ALLOW_PROTOCOL": "",
    "LC_ALL": "C",
}

LIST_TIMEOUT_S = 10.0
# How long a listing of a repository's configuration is reused while its files are unchanged
# (a file it includes may change without touching them).
_CACHE_S = 2.0


def _config_env(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for index, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _DROPPED_ENV and not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(_FIXED_ENV)
    if extra:
        env.update(extra)
    return env


Overrides = tuple[tuple[str, str], ...]


class _Overrides:
    """The driver keys in force per repository, listed once and reused while unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[
            Path, tuple[float, tuple[object, ...], tuple[tuple[str, str], ...]]
        ] = {}

    def of(self, root: Path) -> Overrides:
        signature = _signature(root)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(root)
            if entry is not None and entry[1] == signature and now - entry[0] < _CACHE_S:
                return entry[2]
        pairs = _driver_overrides(root)
        with self._lock:
            if len(self._entries) > 64:
                self._entries.clear()
            self._entries[root] = (now, signature, pairs)
        return pairs


def _signature(root: Path) -> tuple[object, ...]:
    """Modification times of the configuration files git reads for ``root``."""
    home = Path(os.environ.get("HOME", "~")).expanduser()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [root / ".git" / "config", root / ".git", home / ".gitconfig", xdg / "git" / "config"]
    stamps: list[object] = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            stamps.append(None)
            continue
        stamps.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return tuple(stamps)


def _driver_overrides(root: Path) -> Overrides:
    env = _base_env(_config_env(SAFE_CONFIG))
    try:
        done = subprocess.run(
            ["git", "config", "--list", "--name-only", "-z"],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=LIST_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("could not list the git configuration of %s: %s", root, exc)
        return ()
    names = {
        name
        for name in done.stdout.decode("utf-8", "surrogateescape").split("\0")
        if name and "\n" not in name
    }
    pairs: list[tuple[str, str]] = []
    for name in sorted(names):
        for pattern, value in _DRIVER_KEYS:
            if pattern.match(name):
                pairs.append((name, value))
                break
    return tuple(pairs)


_OVERRIDES = _Overrides()


def git_environment(
    root: str | os.PathLike[str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment for a git process working in ``root``: the caller's, less what
    would redirect git, plus configuration that turns off every program ``root``'s git
    configuration names. ``extra`` (e.g. ``GIT_INDEX_FILE``) is added last."""
    location = Path(root)
    pairs = (*SAFE_CONFIG, *_OVERRIDES.of(location))
    env = _base_env(_config_env(pairs))
    if extra:
        env.update(extra)
    return env


def run_git(
    root: str | os.PathLike[str],
    *args: str,
    timeout: float = 30.0,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``git args…`` in ``root`` with its configured programs off; raises only what
    ``subprocess.run`` raises (OSError when git is missing, TimeoutExpired)."""
    return subprocess.run(
        ["git", "--no-pager", *args],
        cwd=root,
        env=git_environment(root, extra_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def open_repo(path: str | os.PathLike[str], *, search_parent_directories: bool = False) -> git.Repo:
    """A gitpython ``Repo`` whose every git command runs with the configured programs off.

    Raises what ``git.Repo`` raises (InvalidGitRepositoryError, NoSuchPathError)."""
    import git

    repo = git.Repo(path, search_parent_directories=search_parent_directories)
    root = repo.working_tree_dir or repo.git_dir
    env = git_environment(root)
    # gitpython adds these to the environment of every command it runs for this repository,
    # including its long-running cat-file processes.
    repo.git.update_environment(**{k: v for k, v in env.items() if k.startswith(("GIT_", "SSH_"))})
    return repo

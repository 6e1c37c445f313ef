"""Who and where, as the team store knows them: a developer's pseudonymous id and a
repository's identity.

Boundary: reads git's configuration and history (``git`` subprocesses through
``analyzers/git_safety.py``, cached per folder) and
one file in the user data directory; writes only that file. A workspace's path never leaves the
machine: a repository is named by its ``origin`` remote (normalised, any credentials in it
dropped) or, without one, by its first commit, so every clone of it gets the same id. A
developer is a random id made once per user; a name goes with it only when the team enables
names (``share_names``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tactful.analyzers.git_safety import run_git
from tactful.analyzers.userdirs import data_dir

logger = logging.getLogger(__name__)

DEVELOPER_FILE = "team-developer-id"


@dataclass(frozen=True, slots=True)
class Repository:
    """``id``: what the team store keys a repository by; ``label``: what people read."""

    id: str
    label: str


def _git(folder: str, *args: str) -> str:
    try:
        done = run_git(folder, *args, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace").strip() if done.returncode == 0 else ""


def normalize_remote(url: str) -> str:
    """``git@github.com:Org/repo.git``, ``https://user:token@github.com/Org/repo`` and
    ``ssh://git@github.com/Org/repo.git`` all become ``github.com/Org/repo``."""
    url = url.strip()
    match = re.match(r"^[\w.+-]+://(?:[^@/]*@)?([^/:]+)(?::\d+)?/(.*)$", url)
    if match is None:
        match = re.match(r"^(?:[^@/]*@)?([^/:]+):(.*)$", url)  # scp-like: git@host:path
    if match is None:
        return url.removesuffix(".git").rstrip("/")
    host, path = match.group(1).lower(), match.group(2)
    return f"{host}/{path.strip('/').removesuffix('.git')}"


@lru_cache(maxsize=256)
def repository_of(workspace: str) -> Repository | None:
    """The repository a workspace folder belongs to, or None (not a git repository)."""
    if not workspace or not Path(workspace).is_dir():
        return None
    remote = _git(workspace, "config", "--get", "remote.origin.url")
    if remote:
        label = normalize_remote(remote)
        return Repository(_digest(f"remote:{label}"), label)
    roots = _git(workspace, "rev-list", "--max-parents=0", "HEAD").split()
    if roots:
        top = _git(workspace, "rev-parse", "--show-toplevel") or workspace
        return Repository(_digest(f"root:{min(roots)}"), Path(top).name)
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def developer_id(folder: Path | None = None) -> str:
    """This user's pseudonymous id, made once and kept in the user data directory (two
    servers of one user share it; two starting at once agree on the first one written)."""
    path = (folder or data_dir()) / DEVELOPER_FILE
    try:
        return _read_id(path)
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_id(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(uuid.uuid4().hex + "\n")
    return _read_id(path)


def _read_id(path: Path) -> str:
    text = path.read_text(encoding="ascii").strip()
    if not re.fullmatch(r"[0-9a-f]{32}", text):
        raise ValueError(f"{path} does not hold a developer id")
    return text


def developer_name(workspace: str = "") -> str:
    """The name git knows this developer by (sent only when the team enables names)."""
    return _git(workspace or str(Path.home()), "config", "user.name")

"""Workspace trust: nothing from a workspace runs until its folder is trusted.

Boundary: a small JSON list under the user data directory, written atomically. A folder is
trusted when it or one of its parents is on the list. Workspace files can never add to it:
only ``tactful trust`` and the editor's own workspace trust (sent by the client) can.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from tactful.analyzers.userdirs import data_dir

logger = logging.getLogger(__name__)


def trust_file() -> Path:
    return data_dir() / "trusted.json"


def trusted_folders() -> list[Path]:
    """The folders the user trusts (unreadable or corrupt list: none)."""
    try:
        raw = json.loads(trust_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        logger.warning(
            "trust list %s is unreadable (%s): treating every folder as untrusted",
            trust_file(),
            exc,
        )
        return []
    if not isinstance(raw, dict) or not isinstance(raw.get("folders"), list):
        return []
    return [Path(p) for p in raw["folders"] if isinstance(p, str)]


def is_trusted(folder: str | os.PathLike[str]) -> bool:
    target = Path(folder).resolve()
    return any(target == f or f in target.parents for f in trusted_folders())


def trust(folder: str | os.PathLike[str]) -> Path:
    """Add a folder to the trust list; returns the resolved folder."""
    target = Path(folder).resolve()
    folders = trusted_folders()
    if target not in folders:
        folders.append(target)
        _write(folders)
    return target


def untrust(folder: str | os.PathLike[str]) -> Path:
    """Remove a folder (and any folder inside it) from the trust list."""
    target = Path(folder).resolve()
    kept = [f for f in trusted_folders() if not (f == target or target in f.parents)]
    _write(kept)
    return target


def _write(folders: list[Path]) -> None:
    path = trust_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"version": 1, "folders": [str(f) for f in folders]}, indent=2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".trusted-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

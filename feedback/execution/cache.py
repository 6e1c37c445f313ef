"""Verdicts kept by everything that decides them, in memory and on disk.

Boundary: data only, under the workspace's folder in tactful's cache directory. A verdict is
found again only under the same key: the edit (each changed file's new text), the workspace's
state (a hash of every file the sandbox copies), the environment (the interpreter and a
fingerprint of what is installed in it), the test plan (how the tests were chosen and which
ones, which were set aside as failing before the edit), the command and sandbox backend, and
tactful's version with a digest of the code that runs and judges the tests. Errors and timeouts
are never kept: they may be the machine's fault, not the edit's.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from tactful.feedback.execution.verdict import Status, Verdict

logger = logging.getLogger(__name__)

MEMORY = 512
DISK = 2000
KEPT = (
    Status.PASSED,
    Status.FAILED,
    Status.UNEXERCISED,
    Status.EQUIVALENT,
    Status.DIFFERENT,
)


@functools.cache
def judge_version() -> str:
    """tactful's version and a digest of this package's sources: a verdict made by other code
    (an upgrade, or a checkout being worked on) is not taken for this code's."""
    try:
        release = version("tactful")
    except PackageNotFoundError:
        release = "0"
    digest = hashlib.sha256(release.encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        try:
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        except OSError:
            continue
    return f"{release}+{digest.hexdigest()[:16]}"


def verdict_key(parts: dict[str, Any]) -> str:
    """The key of a verdict: a hash of ``parts`` (JSON-able) and of ``judge_version``."""
    payload = {**parts, "judge": judge_version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class VerdictCache:
    """The verdicts of one workspace: the most recent in memory, the rest in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._memory: OrderedDict[str, Verdict] = OrderedDict()
        self._lock = threading.Lock()  # validate_sync may run in several threads

    def get(self, key: str) -> Verdict | None:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key].with_cached()
        try:
            raw = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            verdict = Verdict.from_json(raw)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with self._lock:
            self._memory[key] = verdict
        return verdict.with_cached()

    def put(self, key: str, verdict: Verdict) -> None:
        if verdict.status not in KEPT:
            return
        with self._lock:
            self._memory[key] = verdict
            while len(self._memory) > MEMORY:
                self._memory.popitem(last=False)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{key}.tmp"
            tmp.write_text(json.dumps(verdict.to_json()), encoding="utf-8")
            os.replace(tmp, self.folder / f"{key}.json")
            entries = list(self.folder.glob("*.json"))
            if len(entries) > DISK:
                entries.sort(key=lambda p: p.stat().st_mtime)
                for old in entries[: len(entries) - DISK * 4 // 5]:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            logger.info("could not store a verdict in %s: %s", self.folder, exc)

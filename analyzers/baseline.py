"""A baseline: the findings a project had when it was recorded, so that only new ones are shown.

Boundary: plain data and one JSON file in the repository, ``.tactful/baseline.json``, which
``tactful baseline`` writes (as basedpyright's ``--writebaseline`` does) and the
``quality.scope = "baseline"`` setting reads; nothing else is read or written, and nothing runs.

A finding is recorded by its file, its rule and a fingerprint of its line's text without
whitespace, never by its line number, so a recorded finding stays recorded while lines above
it come and go or its line is re-indented; identical lines carrying the same rule in one file
are counted, so a third ``print(x)`` where two were recorded is new. Editing a line's code makes
its findings new: they are about code the developer just wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE = Path(".tactful") / "baseline.json"
VERSION = 1
_DESCRIPTION = (
    'Findings recorded by `tactful baseline`: with quality.scope = "baseline" tactful shows '
    "only findings not listed here. Each is keyed by file, rule and a fingerprint of its line's "
    "text (not its line number); `count` is how many such lines carry the rule."
)


class BaselineError(Exception):
    """The baseline file cannot be read (message for people)."""


def fingerprint(line_text: str) -> str:
    """A line's text without whitespace, hashed (16 hex digits)."""
    normalized = "".join(line_text.split())
    return hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Baseline:
    """Recorded findings: per file (relative to the root, ``/``-separated), how many lines of
    each fingerprint carry each rule."""

    files: Mapping[str, Mapping[tuple[str, str], int]] = field(default_factory=dict)

    @classmethod
    def of(cls, findings: Iterable[tuple[str, str, str]]) -> Baseline:
        """A baseline of ``(path, rule, line text)`` findings."""
        files: dict[str, Counter[tuple[str, str]]] = {}
        for path, rule, line_text in findings:
            files.setdefault(path, Counter())[(rule, fingerprint(line_text))] += 1
        return cls({path: dict(counts) for path, counts in files.items()})

    def __len__(self) -> int:
        return sum(sum(counts.values()) for counts in self.files.values())

    def recorded(self, path: str, findings: Sequence[tuple[str, str]]) -> list[bool]:
        """For each ``(rule, line text)`` finding of one file, in order, whether the baseline
        records it (each recorded line counts once)."""
        left = Counter(self.files.get(path, {}))
        result = []
        for rule, line_text in findings:
            key = (rule, fingerprint(line_text))
            result.append(left[key] > 0)
            left[key] -= 1
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "description": _DESCRIPTION,
            "files": {
                path: [
                    {"rule": rule, "line": line, "count": count}
                    for (rule, line), count in sorted(self.files[path].items())
                ]
                for path in sorted(self.files)
            },
        }

    @classmethod
    def from_json(cls, data: object) -> Baseline:
        """The baseline a ``to_json`` document describes; ``BaselineError`` when it is not one."""
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise BaselineError(f"not a tactful baseline of version {VERSION}")
        raw_files = data.get("files")
        if not isinstance(raw_files, dict):
            raise BaselineError("its 'files' is not a table of files")
        files: dict[str, dict[tuple[str, str], int]] = {}
        for path, entries in raw_files.items():
            counts: dict[tuple[str, str], int] = {}
            if not isinstance(entries, list):
                raise BaselineError(f"the entry of {path!r} is not a list")
            for entry in entries:
                try:
                    rule, line, count = entry["rule"], entry["line"], entry.get("count", 1)
                except (TypeError, KeyError):
                    raise BaselineError(f"a finding of {path!r} lacks its rule or line") from None
                if not (isinstance(rule, str) and isinstance(line, str) and isinstance(count, int)):
                    raise BaselineError(f"a finding of {path!r} is malformed: {entry!r}")
                counts[(rule, line)] = counts.get((rule, line), 0) + max(count, 0)
            files[str(path)] = counts
        return cls(files)


def baseline_path(root: str | Path) -> Path:
    """Where a project's baseline is kept."""
    return Path(root) / FILE


def load(root: str | Path) -> Baseline | None:
    """The project's baseline, None when none was recorded; ``BaselineError`` when the file
    cannot be read or is not a baseline."""
    path = baseline_path(root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{path} cannot be read: {exc}") from None
    try:
        return Baseline.from_json(data)
    except BaselineError as exc:
        raise BaselineError(f"{path}: {exc}") from None


def save(root: str | Path, baseline: Baseline) -> Path:
    """Write the project's baseline (replacing the file at once, never half-written)."""
    path = baseline_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(baseline.to_json(), indent=1, ensure_ascii=False) + "\n"
    # Beside it, so the rename is atomic; opened as any file is, so the umask sets its mode.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path

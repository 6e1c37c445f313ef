"""The coverage map: for each line of each workspace file, the tests that executed it.

Boundary: data only. It is made from the coverage data file that ``probe.py`` writes (one dynamic
context per test node id, the empty context for code run at import or collection time), merged
incrementally when files change, and stored as JSON in the workspace's cache folder. Running the
tests that produce it is the upkeep's job (``coverage_upkeep.py``); this module never runs
anything.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# Files whose change can change which tests exist or how they run: a change rebuilds the map.
CONFIG_FILES = frozenset({"pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py"})
IMPORT_TIME = -1  # test index standing for "run outside any test" (import, collection)
VERSION = 2


@dataclass
class CoverageMap:
    """Tests by line, for the file versions (content hashes) the map was made from."""

    tests: list[str] = field(default_factory=list)  # node ids; their index is used below
    test_paths: list[str] = field(default_factory=list)  # the file of each test, relative
    files: dict[str, str] = field(default_factory=dict)  # relative path -> content hash
    lines: dict[str, dict[int, set[int]]] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)  # tests that failed with no edit applied
    # tests that started processes: what those ran is not in the map, so they always run
    spawning: set[str] = field(default_factory=set)
    # workspace files whose module the tests imported from another file (another checkout,
    # an installed copy): the map cannot tell which tests run them
    elsewhere: set[str] = field(default_factory=set)
    _path_of: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def knows(self, path: str, content_hash: str | None) -> bool:
        """True when the map was made from this version of ``path``."""
        return content_hash is not None and self.files.get(path) == content_hash

    def tests_covering(self, path: str, lines: Iterable[int]) -> tuple[set[str], bool]:
        """Node ids of the tests that ran any of ``lines``, and whether any ran at import time."""
        by_line = self.lines.get(path, {})
        indexes: set[int] = set()
        for line in lines:
            indexes |= by_line.get(line, set())
        at_import = IMPORT_TIME in indexes
        return {self.tests[i] for i in indexes if i != IMPORT_TIME}, at_import

    def file_of(self, node_id: str) -> str:
        if len(self._path_of) != len(self.tests):
            self._path_of = dict(zip(self.tests, self.test_paths, strict=True))
        return self._path_of.get(node_id) or node_id.split("::", 1)[0]

    def test_files(self) -> set[str]:
        return set(self.test_paths)

    def tests_touching(self, paths: Iterable[str]) -> set[str]:
        """Node ids of the tests that ran any line of ``paths``."""
        found: set[int] = set()
        for path in paths:
            for indexes in self.lines.get(path, {}).values():
                found |= indexes
        return {self.tests[i] for i in found if i != IMPORT_TIME}

    # Making and merging ------------------------------------------------------------------

    def merge_run(
        self,
        collected: list[list[str]],
        outcomes: dict[str, str],
        measured: dict[str, dict[int, list[str]]],
        files: dict[str, str],
        changed: Iterable[str] = (),
        spawning: Iterable[str] = (),
        elsewhere: Iterable[str] = (),
    ) -> None:
        """Fold in one probe run: the tests it ran replace their old lines everywhere.

        ``measured`` maps a relative path to {line: [node ids or "" for import time]};
        ``files`` is the current content hash of every workspace file; ``changed`` lists files
        whose old lines are all stale; ``spawning`` names the tests that started processes;
        ``elsewhere``, the files whose module the tests imported from another file.
        """
        rerun = {node for node, _path in collected}
        keep = [i for i, node in enumerate(self.tests) if node not in rerun]
        renumber = {old: new for new, old in enumerate(keep)}
        renumber[IMPORT_TIME] = IMPORT_TIME
        tests = [self.tests[i] for i in keep]
        paths = [self.test_paths[i] for i in keep]
        for node, path in collected:
            tests.append(node)
            paths.append(path)
        index = {node: i for i, node in enumerate(tests)}
        stale = set(changed)
        lines: dict[str, dict[int, set[int]]] = {}
        for path, by_line in self.lines.items():
            if path in stale or path not in files:
                continue
            kept: dict[int, set[int]] = {}
            for line, indexes in by_line.items():
                moved = {renumber[i] for i in indexes if i in renumber}
                if moved:
                    kept[line] = moved
            lines[path] = kept
        for path, contexts_by_line in measured.items():
            target = lines.setdefault(path, {})
            for line, contexts in contexts_by_line.items():
                for context in contexts:
                    if not context:
                        target.setdefault(line, set()).add(IMPORT_TIME)
                    elif context in index:
                        target.setdefault(line, set()).add(index[context])
        self.tests, self.test_paths, self.lines = tests, paths, lines
        self._path_of = {}
        self.files = {path: digest for path, digest in files.items() if tracked(path)}
        self.spawning = {n for n in self.spawning if n not in rerun and n in index} | {
            node for node in spawning if node in index
        }
        self.elsewhere = {p for p in self.elsewhere if p in self.files} | set(elsewhere)
        self.failing = {n for n in self.failing if n not in rerun and n in index} | {
            node for node, outcome in outcomes.items() if outcome in ("failed", "error")
        }

    # Storage ------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        payload = {
            "version": VERSION,
            "tests": self.tests,
            "test_paths": self.test_paths,
            "files": self.files,
            "failing": sorted(self.failing),
            "spawning": sorted(self.spawning),
            "elsewhere": sorted(self.elsewhere),
            "lines": {
                name: {str(line): sorted(indexes) for line, indexes in by_line.items()}
                for name, by_line in self.lines.items()
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".coverage-map-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, separators=(",", ":"))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> CoverageMap | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.info("coverage map %s is unreadable (%s): rebuilding it", path, exc)
            return None
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            return None
        try:
            return cls(
                tests=list(raw["tests"]),
                test_paths=list(raw["test_paths"]),
                files=dict(raw["files"]),
                failing=set(raw.get("failing", [])),
                spawning=set(raw.get("spawning", [])),
                elsewhere=set(raw.get("elsewhere", [])),
                lines={
                    name: {int(line): set(indexes) for line, indexes in by_line.items()}
                    for name, by_line in raw["lines"].items()
                },
            )
        except (KeyError, TypeError, ValueError):
            return None


def tracked(path: str) -> bool:
    """Files whose version the map records: Python sources and test configuration."""
    return path.endswith(".py") or Path(path).name in CONFIG_FILES


def read_coverage_data(data_file: Path, test_root: Path) -> dict[str, dict[int, list[str]]]:
    """{relative path: {line: [contexts]}} for the files under ``test_root``, read from a data
    file and from those its child processes wrote beside it (``name.<suffix>``)."""
    from coverage import CoverageData

    measured: dict[str, dict[int, set[str]]] = {}
    for path in sorted(data_file.parent.glob(data_file.name + "*")):
        data = CoverageData(basename=str(path))
        data.read()
        for filename in data.measured_files():
            source = Path(filename)
            if not source.is_relative_to(test_root):
                continue
            relative = source.relative_to(test_root).as_posix()
            if relative.startswith((".venv/", "venv/")):
                continue
            by_line = measured.setdefault(relative, {})
            for line, contexts in data.contexts_by_lineno(filename).items():
                by_line.setdefault(line, set()).update(contexts)
    return {
        name: {line: sorted(contexts) for line, contexts in by_line.items()}
        for name, by_line in measured.items()
    }


def child_contexts(data_file: Path) -> set[str]:
    """The tests whose child processes recorded coverage (in ``name.<suffix>`` files)."""
    from coverage import CoverageData

    seen: set[str] = set()
    for path in data_file.parent.glob(data_file.name + ".*"):
        data = CoverageData(basename=str(path))
        data.read()
        seen.update(context for context in data.measured_contexts() if context)
    return seen

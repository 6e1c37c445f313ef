"""What the tests reach, for review's untested-change rule: the validation judge's coverage map
as the ``Coverage`` that ``suggestion.review`` asks.

Boundary: reads the coverage map the judge keeps in the user cache folder; writes nothing and
runs nothing. A missing or stale map means "unknown", never an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from tactful.feedback.execution.coverage_map import CoverageMap
from tactful.feedback.execution.workspace import WarmCopy


class MapCoverage:
    """``Coverage`` for review from the validation judge's coverage map: a function is reached
    when a test (not mere import) ran one of its lines. Only files whose reviewed text is the
    version the map was made from are judged (an edited buffer's lines no longer match the
    map's); for the rest the answer is "unknown"."""

    def __init__(self, cmap: CoverageMap, texts: Mapping[str, str]) -> None:
        self.cmap = cmap
        self._hashes = {
            path: hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
            for path, text in texts.items()
        }

    def reached(self, path: str, first_line: int, last_line: int) -> bool | None:
        if path not in self.cmap.files or not self.cmap.knows(path, self._hashes.get(path)):
            return None
        if path in self.cmap.elsewhere:  # the tests ran another copy of it: unknown
            return None
        tests, _at_import = self.cmap.tests_covering(path, range(first_line + 1, last_line + 2))
        return bool(tests)


_maps: dict[Path, tuple[float, CoverageMap | None]] = {}


def coverage_map(root: str | Path) -> CoverageMap | None:
    """The coverage map the validation judge keeps for a workspace, when it has built one
    (read again only when the file changed)."""
    path = WarmCopy(Path(root).resolve()).home / "coverage-map.json"
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    cached = _maps.get(path)
    if cached is None or cached[0] != stamp:
        cmap = CoverageMap.load(path)
        cached = _maps[path] = (stamp, cmap if cmap is not None and cmap.tests else None)
    return cached[1]


def load_coverage(root: str | Path, texts: Mapping[str, str]) -> MapCoverage | None:
    """Review coverage for files whose reviewed texts are ``texts`` (path -> text)."""
    cmap = coverage_map(root)
    return MapCoverage(cmap, texts) if cmap is not None else None

"""What a file's path says about it: a test file or library code.

Boundary: string matching on a path; no I/O.
"""

from __future__ import annotations

import os
import re

_TEST_PART = re.compile(r"^tests?$|^testing$")
_TEST_NAME = re.compile(r"^test|_tests?\.\w+$|\.(?:test|spec)\.\w+$")


def path_kind(path: str) -> str:
    """``test`` for a test file (by the conventions of pytest, Go, Jest), ``src`` otherwise,
    ``""`` without a path. Tests repeat themselves and sources do not, and an engine that
    learned from both offers test idioms in sources. Give a path relative to the workspace:
    folders above it say nothing about the file."""
    if not path:
        return ""
    parts = re.split(r"[\\/]", path.lower())
    if _TEST_NAME.search(parts[-1]) or any(_TEST_PART.match(p) for p in parts[:-1]):
        return "test"
    return "src"


def workspace_relative(path: str | None, root: str | None) -> str:
    """``path`` inside the workspace at ``root`` (its name alone when it is outside)."""
    if not path:
        return ""
    if root and path.startswith(root.rstrip("/\\") + os.sep):
        return os.path.relpath(path, root)
    return os.path.basename(path)

"""The house checks itself: mypy passes as pyproject.toml configures it (strict on analyzers,
suggestion and feedback, the default check on the server), and ruff's linter and formatter find
nothing in the repository. Each runs as a developer would run it, in a subprocess from the
repository's root."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("analyzers", "suggestion", "feedback", "server")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_mypy_passes_on_every_module_of_the_four_packages(tmp_path: Path) -> None:
    # A cache of its own: a cold run, never a result left by an earlier version of the code.
    result = _run("mypy", "--cache-dir", str(tmp_path / "mypy"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Every module counted, so none was left out (a folder without __init__.py, a package
    # that mypy did not find under its tactful.* name).
    modules = sum(
        1
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    )
    checked = re.search(r"no issues found in (\d+) source files", result.stdout)
    assert checked is not None, output
    assert int(checked.group(1)) == modules, output


def test_ruff_finds_nothing_to_lint() -> None:
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing_to_format() -> None:
    result = _run("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr

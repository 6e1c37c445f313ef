"""ruff adapter: run the real ruff on files or on in-memory text and read its findings and fixes.

Boundary: the only module that runs the ruff binary. It turns ruff's JSON output (JSON lines
for in-memory text, read up to ``MAX_FINDINGS`` and then ruff is stopped) into
``Finding``/``Fix``/``Edit`` values (zero-based code-point positions, paths relative to the
project root) and never raises: a missing, crashing or slow ruff yields no findings and one
clear log message. It runs ruff only, never anything from the workspace, so it is safe on
untrusted projects.

The project's own ruff configuration is respected because ruff runs from the project root and
discovers it (for stdin, from ``--stdin-filename``); ``select`` replaces the rule selection, as
``ruff check --select`` does, while the project's per-file ignores and ``noqa`` comments stay.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tactful.analyzers.findings import Applicability, Finding, Fix, Severity
from tactful.analyzers.text import Edit, Point, Span
from tactful.analyzers.userdirs import cache_dir

logger = logging.getLogger(__name__)

SYNTAX_ERROR = "invalid-syntax"
RULE_DOCS_URL = "https://docs.astral.sh/ruff/rules/"
DEFAULT_TIMEOUT_S = 30.0
# Findings read for one text, first ones first: a megabyte of random bytes as Python gets over
# 200,000 (83 MB of JSON that took half a minute to read); nobody reads past the first thousand.
MAX_FINDINGS = 1000

_logged: set[str] = set()


@dataclass(frozen=True, slots=True)
class RuffOptions:
    """How to run ruff for one project.

    ``select``: rule codes or prefixes that replace the project's selection (None: keep the
    project's own, or ruff's defaults); ``extend_select``: codes added to whatever is selected.
    """

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S


def ruff_binary() -> Path | None:
    """The ruff executable installed next to our interpreter, else ruff's own lookup, else PATH."""
    beside = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    if beside.is_file():
        return beside
    try:
        from ruff.__main__ import find_ruff_bin

        return Path(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        pass
    from shutil import which

    found = which("ruff")
    return Path(found) if found else None


def check_text(
    text: str, path: str | Path, root: str | Path, options: RuffOptions | None = None
) -> list[Finding]:
    """Findings of ruff on ``text``, the current (possibly unsaved) content of ``path``.

    ``path`` may be absolute or relative to ``root``; the project's configuration and
    exclusions apply as if the file were saved there.
    """
    root_path = Path(root).resolve()
    file_path = Path(path)
    if not file_path.is_absolute():
        file_path = root_path / file_path
    options = options or RuffOptions()
    args = [
        *_common_args(options, output_format="json-lines"),
        "--stdin-filename",
        str(file_path),
        "-",
    ]
    lines = _run_lines(args, root_path, text, options.timeout_s, MAX_FINDINGS)
    if lines is None:
        return []
    findings: list[Finding] = []
    relative = _Relative(root_path)
    for line in lines:
        try:
            findings.append(_finding(json.loads(line), root_path, relative))
        except (KeyError, TypeError, ValueError):
            logger.debug("skipping an unexpected ruff record: %.200r", line)
    return findings


def check_paths(
    paths: Iterable[str | Path], root: str | Path, options: RuffOptions | None = None
) -> list[Finding]:
    """Findings of ruff on files or folders as saved on disk (the whole project by default)."""
    root_path = Path(root).resolve()
    targets = [str(p) for p in paths] or ["."]
    options = options or RuffOptions()
    output = _run([*_common_args(options), *targets], root_path, None, options.timeout_s)
    if output is None:
        return []
    return parse_output(output, root_path)


def parse_output(output: str, root: str | Path) -> list[Finding]:
    """Findings from ruff's ``--output-format json`` text (malformed entries are skipped)."""
    try:
        records = json.loads(output or "[]")
    except json.JSONDecodeError:
        _log_once("ruff printed something that is not its JSON report: %.200s", output)
        return []
    if not isinstance(records, list):
        return []
    findings: list[Finding] = []
    relative = _Relative(Path(root))
    for record in records:
        try:
            findings.append(_finding(record, Path(root), relative))
        except (KeyError, TypeError, ValueError):
            logger.debug("skipping an unexpected ruff record: %r", record)
    return findings


def rule_documentation(code: str) -> str:
    """ruff's documentation of a rule (``ruff rule CODE``), or "" when ruff cannot say."""
    return _rule_documentation(code.strip().upper())


def rule_url(code: str) -> str | None:
    """Web page of a rule, from its name (``ruff rule`` knows it); None for syntax errors."""
    if code == SYNTAX_ERROR:
        return None
    name = _rule_names().get(code)
    return RULE_DOCS_URL + name if name else None


def rule_codes() -> frozenset[str]:
    """Every rule code the installed ruff knows (empty when ruff cannot say)."""
    return frozenset(code for code in _rule_names() if isinstance(code, str) and code)


@cache
def _rule_documentation(code: str) -> str:
    binary = ruff_binary()
    if binary is None or not code or code == SYNTAX_ERROR:
        return ""
    try:
        done = subprocess.run(
            [str(binary), "rule", code],
            capture_output=True,
            text=True,
            timeout=DEFAULT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        _log_once("could not run `ruff rule %s`: %s", code, error)
        return ""
    return done.stdout if done.returncode == 0 else ""


@cache
def _rule_names() -> dict[str, str]:
    binary = ruff_binary()
    if binary is None:
        return {}
    try:
        done = subprocess.run(
            [str(binary), "rule", "--all", "--output-format", "json"],
            capture_output=True,
            text=True,
            timeout=DEFAULT_TIMEOUT_S,
            check=False,
        )
        rules = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as error:
        _log_once("could not list ruff's rules: %s", error)
        return {}
    return {rule["code"]: rule["name"] for rule in rules if "code" in rule and "name" in rule}


def _common_args(options: RuffOptions, output_format: str = "json") -> list[str]:
    args = [
        "check",
        "--output-format",
        output_format,
        "--no-fix",
        "--exit-zero",
        # Exclusions in the project's configuration apply even to files named explicitly,
        # as they would when the user runs `ruff check` on the project.
        "--force-exclude",
        # ruff's cache goes under our cache folder rather than into the user's workspace.
        "--cache-dir",
        str(cache_dir() / "ruff"),
    ]
    if options.select is not None:
        args += ["--select", ",".join(options.select) or "NONE"]
    if options.extend_select:
        args += ["--extend-select", ",".join(options.extend_select)]
    return args


def _run_lines(
    args: Sequence[str], cwd: Path, stdin: str, timeout: float, limit: int
) -> list[str] | None:
    """ruff's first ``limit`` output lines (it is stopped there), or None when it failed."""
    binary = ruff_binary()
    if binary is None:
        _log_once("ruff is not installed: no quality findings (install tactful's dependencies)")
        return None
    try:
        process = subprocess.Popen(
            [str(binary), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
        )
    except OSError as error:
        _log_once("could not run ruff (%s): %s", binary, error)
        return None
    assert process.stdin is not None and process.stdout is not None
    assert process.stderr is not None
    errors: list[bytes] = []
    feeder = threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True)
    drainer = threading.Thread(target=_drain, args=(process.stderr, errors), daemon=True)
    feeder.start()
    drainer.start()
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    lines: list[str] = []
    try:
        for raw in process.stdout:
            lines.append(raw.decode("utf-8", "surrogateescape"))
            if len(lines) >= limit:
                logger.info("ruff found more than %d findings; kept the first %d", limit, limit)
                process.kill()
                break
        process.wait()
    finally:
        timer.cancel()
        process.stdout.close()
    feeder.join(timeout)
    drainer.join(timeout)
    stopped = len(lines) >= limit
    if not stopped and process.returncode < 0:
        _log_once("ruff did not finish within %.0f s in %s", timeout, cwd)
        return None
    if not stopped and process.returncode != 0:
        message = b"".join(errors).decode("utf-8", "replace").strip()[:500]
        _log_once("ruff failed (exit %s): %s", process.returncode, message)
        return None
    return lines


def _feed(stream: Any, text: str) -> None:
    # ruff may stop reading (killed at the limit, or failed): a broken pipe is no error here.
    with contextlib.suppress(OSError):
        stream.write(text.encode("utf-8", "surrogateescape"))
    with contextlib.suppress(OSError):
        stream.close()


def _drain(stream: Any, into: list[bytes]) -> None:
    kept = 0
    for chunk in iter(lambda: stream.read(65536), b""):
        if kept < 65536:
            into.append(chunk)
            kept += len(chunk)
    stream.close()


def _run(args: Sequence[str], cwd: Path, stdin: str | None, timeout: float) -> str | None:
    binary = ruff_binary()
    if binary is None:
        _log_once("ruff is not installed: no quality findings (install tactful's dependencies)")
        return None
    try:
        done = subprocess.run(
            [str(binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        _log_once("ruff did not finish within %.0f s in %s", timeout, cwd)
        return None
    except OSError as error:
        _log_once("could not run ruff (%s): %s", binary, error)
        return None
    if done.returncode != 0:
        _log_once("ruff failed (exit %s): %s", done.returncode, done.stderr.strip()[:500])
        return None
    if done.stderr.strip():
        logger.debug("ruff: %s", done.stderr.strip()[:500])
    return done.stdout


def _log_once(message: str, *args: Any) -> None:
    text = message % args
    if text not in _logged:
        _logged.add(text)
        logger.error(text)


def _point(location: dict[str, Any]) -> Point:
    # ruff reports one-based rows and one-based columns counted in characters (code points).
    return Point(max(int(location["row"]) - 1, 0), max(int(location["column"]) - 1, 0))


def _relative(filename: str, root: Path) -> str:
    path = Path(filename)
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


class _Relative:
    """``_relative`` remembered per file name: one report names the same file many times."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: dict[str, str] = {}

    def __call__(self, filename: str) -> str:
        found = self._known.get(filename)
        if found is None:
            found = self._known[filename] = _relative(filename, self.root)
        return found


def _finding(record: dict[str, Any], root: Path, relative: _Relative | None = None) -> Finding:
    path = (relative or _Relative(root))(record["filename"])
    code = record.get("code") or SYNTAX_ERROR
    span = Span(_point(record["location"]), _point(record["end_location"]))
    fixes: tuple[Fix, ...] = ()
    raw_fix = record.get("fix")
    if raw_fix:
        edits = tuple(
            Edit(
                path,
                Span(_point(edit["location"]), _point(edit["end_location"])),
                edit.get("content") or "",
            )
            for edit in raw_fix.get("edits") or ()
        )
        applicability = _applicability(raw_fix.get("applicability"))
        if edits:
            fixes = (
                Fix(
                    title=raw_fix.get("message") or record.get("message", code),
                    edits=edits,
                    applicability=applicability,
                    origin="ruff",
                ),
            )
    return Finding(
        path=path,
        span=span,
        rule=code,
        message=record.get("message", ""),
        severity=Severity.ERROR if code == SYNTAX_ERROR else Severity.WARNING,
        source="ruff",
        url=record.get("url") or None,
        fixes=fixes,
    )


def _applicability(value: object) -> Applicability:
    if value == "safe":
        return Applicability.SAFE
    if value == "unsafe":
        return Applicability.UNSAFE
    return Applicability.DISPLAY_ONLY

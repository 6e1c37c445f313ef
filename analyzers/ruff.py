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

import atexit
import contextlib
import functools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tactful.analyzers.findings import Applicability, Finding, Fix, Severity
from tactful.analyzers.text import Edit, Point, Span
from tactful.analyzers.userdirs import cache_dir

logger = logging.getLogger(__name__)

# A UTF-8 byte-order mark: ruff reads a file after it, tactful's texts hold it as U+FEFF.
BOM = "\ufeff"
BOM_BYTES = BOM.encode("utf-8")

SYNTAX_ERROR = "invalid-syntax"
# A file ruff could not read (not UTF-8, say: ruff reads nothing else), so did not check.
UNREADABLE = "E902"
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
    bom = text.startswith(BOM)
    findings: list[Finding] = []
    relative = _Relative(root_path)
    for line in lines:
        try:
            findings.append(_finding(json.loads(line), root_path, relative, bom))
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
    marked: dict[str, bool] = {}
    for record in records:
        try:
            name = record["filename"]
            if name not in marked:
                marked[name] = _starts_with_bom(Path(root) / name)
            findings.append(_finding(record, Path(root), relative, marked[name]))
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


def _point(location: dict[str, Any], bom: bool = False) -> Point:
    # ruff reports one-based rows and one-based columns counted in characters (code points),
    # on the first line after a byte-order mark, which the text read from the file keeps.
    line, column = max(int(location["row"]) - 1, 0), max(int(location["column"]) - 1, 0)
    return Point(line, column + 1 if bom and line == 0 else column)


def _starts_with_bom(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(BOM_BYTES)) == BOM_BYTES
    except OSError:
        return False


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


def _finding(
    record: dict[str, Any], root: Path, relative: _Relative | None = None, bom: bool = False
) -> Finding:
    """A finding from ruff's record; ``bom``: the file's text starts with a byte-order mark,
    which ruff's columns on the first line do not count."""
    path = (relative or _Relative(root))(record["filename"])
    code = record.get("code") or SYNTAX_ERROR
    span = Span(_point(record["location"], bom), _point(record["end_location"], bom))
    fixes: tuple[Fix, ...] = ()
    raw_fix = record.get("fix")
    if raw_fix:
        edits = tuple(
            Edit(
                path,
                Span(_point(edit["location"], bom), _point(edit["end_location"], bom)),
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


# -- one ruff process for many texts -----------------------------------------------------------

# Names of the files ruff reads its configuration from.
_CONFIG_NAMES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
# Sessions kept at once (one per project root; the least recently used is closed).
MAX_SESSIONS = 4


class RuffSession:
    """ruff's own language server (``ruff server``) for one project, kept running, to check
    several texts without starting a process for each: ``check_texts`` sends each text as a
    document opened, asks for its diagnostics (pulled) and closes it once they are in, one
    text after the other.

    A process start of ruff costs more than checking a few thousand lines (on a 2-core machine
    at load 9-10: ``ruff --version`` 32-35 ms, ``/bin/true`` 8-12 ms; three texts of a
    6,600-line file's outline, 89-148 ms through one session against 119-291 ms as three
    processes side by side). The findings are ruff's (rule, lines and columns in code points,
    message; no fixes): on the texts ``tests/test_ruff_session.py`` compares they equal
    ``check_text``'s, the project's configuration, per-file ignores and exclusions included.
    The server is restarted when a configuration file on the way from the file to the root
    changes (it would not see it otherwise). It never raises: ``None`` when it cannot answer
    (ruff missing or too old, a crash, the timeout), and the caller runs ``check_text``.
    """

    def __init__(self, root: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.root = Path(root).resolve()
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._configs: tuple[tuple[str, int, int], ...] | None = None
        self._next_id = 0
        self._failures = 0
        self._encoding = "utf-16"

    def check_texts(self, texts: Sequence[str], path: str | Path) -> list[list[Finding]] | None:
        """ruff's findings on each text as the content of ``path`` (absolute, or relative to
        the root; it must lie under the root), in order; ``None`` when the session cannot
        answer."""
        file_path = Path(path)
        if not file_path.is_absolute():
            file_path = self.root / file_path
        try:
            file_path.resolve().relative_to(self.root)
        except (ValueError, OSError):
            return None
        with self._lock:
            if self._failures >= 3:
                return None
            configs = _config_stamps(file_path, self.root)
            if self._process is not None and configs != self._configs:
                self._stop()
            if self._process is None and not self._start():
                self._failures += 1
                return None
            self._configs = configs
            try:
                found = self._exchange(texts, file_path)
            except (OSError, ValueError, KeyError, TypeError) as error:
                logger.info("ruff server failed (%s); running ruff per text", error)
                found = None
            if found is None:
                self._failures += 1
                self._stop()
            return found

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _start(self) -> bool:
        binary = ruff_binary()
        if binary is None:
            return False
        try:
            process = subprocess.Popen(
                [str(binary), "server"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.root,
            )
        except OSError as error:
            _log_once("could not run ruff server (%s): %s", binary, error)
            return False
        assert process.stdout is not None and process.stderr is not None
        self._process = process
        self._messages = queue.Queue()
        threading.Thread(
            target=_read_messages, args=(process.stdout, self._messages), daemon=True
        ).start()
        threading.Thread(target=_drain, args=(process.stderr, []), daemon=True).start()
        uri = self.root.as_uri()
        answer = self._request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": self.root.name}],
                "capabilities": {
                    "general": {"positionEncodings": ["utf-32"]},
                    "textDocument": {"diagnostic": {"dynamicRegistration": False}},
                },
                "initializationOptions": {},
            },
        )
        if answer is None or not (answer.get("capabilities") or {}).get("diagnosticProvider"):
            _log_once("ruff server does not answer diagnostic requests; running ruff per text")
            self._stop()
            return False
        self._encoding = (answer.get("capabilities") or {}).get("positionEncoding", "utf-16")
        self._notify("initialized", {})
        return True

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()  # the server exits when its input ends
        try:
            process.wait(1.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8", "surrogateescape")
        self._process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.flush()

    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        self._next_id += 1
        wanted = self._next_id
        self._send({"id": wanted, "method": method, "params": params})
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.flush()
        answers = self._answers({wanted})
        return None if answers is None else answers[wanted]

    def _answers(self, ids: set[int]) -> dict[int, dict[str, Any]] | None:
        """The results of the requests ``ids``, answering the server's own requests with
        nothing meanwhile; ``None`` on an error, the end of its output or the timeout."""
        results: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + self.timeout_s
        while len(results) < len(ids):
            try:
                message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                _log_once("ruff server did not answer within %.0f s", self.timeout_s)
                return None
            if message is None:
                return None
            if "method" in message:
                if "id" in message:
                    self._send({"id": message["id"], "result": None})
                    assert self._process is not None and self._process.stdin is not None
                    self._process.stdin.flush()
                continue
            if message.get("id") in ids:
                if "error" in message or not isinstance(message.get("result"), dict):
                    logger.info("ruff server answered an error: %.300s", message.get("error"))
                    return None
                results[message["id"]] = message["result"]
        return results

    def _exchange(self, texts: Sequence[str], file_path: Path) -> list[list[Finding]] | None:
        """Each text opened, its diagnostics awaited, then closed, one text after the other:
        the server answers a diagnostic request on a thread of its own, so the next text is
        opened only once the answer for this one is in."""
        uri = file_path.as_uri()
        relative = _relative(str(file_path), self.root)
        found: list[list[Finding]] = []
        for text in texts:
            self._next_id += 1
            wanted = self._next_id
            document = {"uri": uri, "languageId": "python", "version": wanted}
            self._send(
                {
                    "method": "textDocument/didOpen",
                    "params": {"textDocument": {**document, "text": text}},
                }
            )
            self._send(
                {
                    "id": wanted,
                    "method": "textDocument/diagnostic",
                    "params": {"textDocument": {"uri": uri}},
                }
            )
            assert self._process is not None and self._process.stdin is not None
            self._process.stdin.flush()
            answers = self._answers({wanted})
            self._notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            if answers is None:
                return None
            items = (answers[wanted].get("items") or [])[:MAX_FINDINGS]
            lines = functools.cache(lambda text=text: text.split("\n"))
            found.append(
                [_diagnostic_finding(item, relative, lines, self._encoding) for item in items]
            )
        return found


def _read_messages(stream: Any, into: queue.Queue[dict[str, Any] | None]) -> None:
    """Messages of a language server's output, one by one, then ``None`` at its end."""
    try:
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length is None:
                return
            body = stream.read(length)
            if len(body) < length:
                return
            into.put(json.loads(body))
    except (OSError, ValueError):
        return
    finally:
        into.put(None)


def _diagnostic_finding(
    item: dict[str, Any], path: str, lines: Callable[[], list[str]], encoding: str
) -> Finding:
    """A ``Finding`` from a diagnostic of ruff's server (``lines``: the text's lines, split
    only when a position has to be converted from UTF-16)."""
    code = item.get("code") or SYNTAX_ERROR

    def point(position: dict[str, Any]) -> Point:
        line, column = int(position["line"]), int(position["character"])
        if encoding == "utf-16":
            split = lines()
            if line < len(split):
                # UTF-16 code units to code points.
                units = split[line].encode("utf-16-le", "surrogatepass")[: 2 * column]
                column = len(units.decode("utf-16-le", "surrogatepass"))
        return Point(line, column)

    span = Span(point(item["range"]["start"]), point(item["range"]["end"]))
    message = str(item.get("message", "")).split("\n\n", 1)[0]
    return Finding(
        path=path,
        span=span,
        rule=str(code),
        message=message,
        severity=Severity.ERROR if code == SYNTAX_ERROR else Severity.WARNING,
        source="ruff",
        url=(item.get("codeDescription") or {}).get("href") or None,
    )


def _config_stamps(file_path: Path, root: Path) -> tuple[tuple[str, int, int], ...]:
    """The configuration files ruff may read for ``file_path`` (from its folder up to the
    root), each with its modification time and size."""
    stamps: list[tuple[str, int, int]] = []
    folder = file_path.parent
    while True:
        for name in _CONFIG_NAMES:
            candidate = folder / name
            with contextlib.suppress(OSError):
                status = candidate.stat()
                stamps.append((str(candidate), status.st_mtime_ns, status.st_size))
        if folder == root or folder.parent == folder:
            break
        folder = folder.parent
    return tuple(stamps)


_SESSIONS: OrderedDict[Path, RuffSession] = OrderedDict()
_SESSIONS_LOCK = threading.Lock()


def session(root: str | Path) -> RuffSession:
    """The shared session for a project root (started on first use; the least recently used
    beyond ``MAX_SESSIONS`` closed; all closed at exit)."""
    key = Path(root).resolve()
    closing: list[RuffSession] = []
    with _SESSIONS_LOCK:
        found = _SESSIONS.get(key)
        if found is None:
            found = _SESSIONS[key] = RuffSession(key)
        _SESSIONS.move_to_end(key)
        while len(_SESSIONS) > MAX_SESSIONS:
            closing.append(_SESSIONS.popitem(last=False)[1])
    for old in closing:
        old.close()
    return found


@atexit.register
def _close_sessions() -> None:
    with _SESSIONS_LOCK:
        sessions = list(_SESSIONS.values())
        _SESSIONS.clear()
    for each in sessions:
        each.close()

"""How many quality diagnostics a legacy project shows under each ``quality.scope``.

Run: ``.venv/bin/python benchmarks/quality_scope.py``; prints JSON.

The project is python-dateutil 2.9.0.post0's source distribution (``corpora.fetch``), copied
into a temporary folder and committed as a git repository: legacy code that nobody is fixing
today, with ruff's default rules and no ruff configuration of its own. Then, as a developer
would:

1. ``tactful baseline`` records today's findings (the real command);
2. a realistic small change is made on disk in ``src/dateutil/parser/_parser.py``:
   ``parserinfo.convertyear`` takes a ``pivot`` instead of its fixed 50 years, leaving a
   formatted debugging string behind in an unused variable (two new findings on one changed
   line: ``F841`` and ``UP031``), and ``parser._to_decimal`` moves up the class unchanged
   (its two old findings travel with it: moved lines are changed lines);
3. for each scope, a real ``tactful serve`` is started over stdio with
   ``initializationOptions = {"quality": {"scope": SCOPE}}``, every Python file of the project
   is opened with its text on disk, and once the server has published diagnostics for every
   file and then published nothing for ``QUIET_S`` seconds, the last diagnostics of each file
   are counted by source (``tactful.quality``, ``tactful.review``).

Figures (``quality_diagnostics`` per scope; the review comments shown beside them, each
``path:line rule``, in ``review_diagnostics``): ``all`` is
every finding of ruff's defaults in every file, ``changed`` the findings on the lines changed
since ``HEAD`` (the two new ones and the two that moved), ``baseline`` those not recorded by
``tactful baseline`` (the two new ones).

Measured on 2026-12-06 (ruff 0.17.5 with its default rules, 39 Python files): quality
diagnostics ``{"all": 349, "changed": 4, "baseline": 2}``; ``tactful baseline`` recorded 376
findings in 35 files (347 of ruff's, 29 of the line-level review rules); one review comment in
each scope (``stale-docstring`` on ``convertyear``'s new parameter).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from corpora import fetch

from tactful.feedback.quality import LINE_RULES

PROJECT = "python-dateutil==2.9.0.post0"
SCOPES = ("all", "changed", "baseline")
QUALITY, REVIEW = "tactful.quality", "tactful.review"
QUIET_S = 5.0
TIMEOUT_S = 600.0
TACTFUL = [sys.executable, "-P", "-m", "tactful.server"]

CHANGED_FILE = "src/dateutil/parser/_parser.py"
CONVERTYEAR = (
    """    def convertyear(self, year, century_specified=False):
""",
    """    def convertyear(self, year, century_specified=False, pivot=50):
""",
)
WINDOW = (
    """            if year >= self._year + 50:  # if too far in future
                year -= 100
            elif year < self._year - 50:  # if too far in past
                year += 100
""",
    """            window = "%d-%d" % (self._year - pivot, self._year + pivot)
            if year >= self._year + pivot:  # if too far in future
                year -= 100
            elif year < self._year - pivot:  # if too far in past
                year += 100
""",
)
TO_DECIMAL_START = "    def _to_decimal(self, val):\n"
TO_DECIMAL_BEFORE = "    def _could_be_tzname(self, hour, tzname, tzoffset, token):\n"


def change(root: Path) -> None:
    """The small change of the module docstring, made on disk."""
    path = root / CHANGED_FILE
    text = path.read_text(encoding="utf-8")
    for old, new in (CONVERTYEAR, WINDOW):
        assert text.count(old) == 1, f"{old!r} is not in {CHANGED_FILE} once"
        text = text.replace(old, new)
    # Move ``_to_decimal`` (up to the next method) before ``_could_be_tzname``.
    start = text.index(TO_DECIMAL_START)
    end = text.index("\n    def ", start + len(TO_DECIMAL_START)) + 1
    method = text[start:end]
    text = text[:start] + text[end:]
    at = text.index(TO_DECIMAL_BEFORE)
    text = text[:at] + method + text[at:]
    path.write_text(text, encoding="utf-8")


class Client:
    """A language client over ``tactful serve``'s stdio, just enough to open files and read
    what is published."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [*TACTFUL, "serve"],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.messages.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def answer(self, request_id: int, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self.messages.get(timeout=max(deadline - time.monotonic(), 0.01))
            if message.get("id") == request_id and "method" not in message:
                return message
            if "id" in message and "method" in message:
                self.send({"id": message["id"], "result": None})  # a request of the server's

    def close(self) -> None:
        try:
            self.send({"id": 99, "method": "shutdown"})
            self.answer(99, timeout=30)
            self.send({"method": "exit"})
            self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def shown(root: Path, files: list[Path], scope: str, env: dict[str, str]) -> dict[str, Any]:
    """The diagnostics a real server shows for ``files`` under ``scope``, by source."""
    client = Client(root, env)
    started = time.monotonic()
    try:
        client.send(
            {
                "id": 1,
                "method": "initialize",
                "params": {
                    "processId": os.getpid(),
                    "rootUri": root.as_uri(),
                    "capabilities": {},
                    "initializationOptions": {"quality": {"scope": scope}},
                },
            }
        )
        client.answer(1)
        client.send({"method": "initialized", "params": {}})
        uris = {}
        for path in files:
            uri = path.as_uri()
            uris[uri] = path
            text = path.read_text(encoding="utf-8", errors="replace")
            document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
            client.send({"method": "textDocument/didOpen", "params": {"textDocument": document}})
        latest: dict[str, list[dict[str, Any]]] = {}
        last = time.monotonic()
        deadline = started + TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                message = client.messages.get(timeout=0.5)
            except queue.Empty:
                if len(latest) == len(uris) and time.monotonic() - last >= QUIET_S:
                    break
                continue
            if message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                latest[params["uri"]] = params["diagnostics"]
                last = time.monotonic()
            elif "id" in message and "method" in message:
                client.send({"id": message["id"], "result": None})
        settled = time.monotonic() - started - QUIET_S
    finally:
        client.close()
    counts: dict[str, int] = {}
    comments: list[str] = []
    for uri, diagnostics in latest.items():
        for diagnostic in diagnostics:
            source = str(diagnostic.get("source"))
            counts[source] = counts.get(source, 0) + 1
            if source == REVIEW:
                where = uris[uri].relative_to(root).as_posix()
                line = diagnostic["range"]["start"]["line"] + 1
                comments.append(f"{where}:{line} {diagnostic.get('code')}")
    return {
        "counts": counts,
        "comments": sorted(comments),
        "files": len(latest),
        "seconds": round(settled, 1),
    }


def run_baseline(root: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [*TACTFUL, "baseline", str(root)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[0]


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    source = fetch(PROJECT)
    with tempfile.TemporaryDirectory(prefix="tactful-scope-") as scratch:
        root = Path(scratch) / "python-dateutil"
        shutil.copytree(source, root, ignore=shutil.ignore_patterns(".venv", ".ruff_cache"))
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        for name in ("CONFIG", "DATA", "CACHE", "STATE"):
            folder = Path(scratch) / "xdg" / name.lower()
            folder.mkdir(parents=True)
            env[f"XDG_{name}_HOME"] = str(folder)
        git = ["git", "-C", str(root), "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "legacy"], check=True)
        recorded = run_baseline(root, env)
        entries = json.loads((root / ".tactful" / "baseline.json").read_text(encoding="utf-8"))
        by_kind = {"ruff": 0, "review rules": 0}
        for found in entries["files"].values():
            for entry in found:
                kind = "review rules" if entry["rule"] in LINE_RULES else "ruff"
                by_kind[kind] += entry["count"]
        change(root)
        files = sorted(p for p in root.rglob("*.py") if ".tactful" not in p.parts)
        results = {scope: shown(root, files, scope, env) for scope in SCOPES}
    report = {
        "project": PROJECT.replace("==", " "),
        "python_files": len(files),
        "baseline": recorded,
        "baseline_findings": by_kind,
        "change": "convertyear takes a pivot (an unused formatted string left behind: F841, "
        "UP031 on one line); _to_decimal moved up its class unchanged (BLE001, UP031)",
        "quality_diagnostics": {s: r["counts"].get(QUALITY, 0) for s, r in results.items()},
        "review_diagnostics": {s: r["comments"] for s, r in results.items()},
        "files_published": {s: r["files"] for s, r in results.items()},
        "seconds_to_settle": {s: r["seconds"] for s, r in results.items()},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

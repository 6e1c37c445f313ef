"""Foundation figures: initialize round trip and memory over stdio, incremental re-parse time.

Run: ``.venv/bin/python benchmarks/foundation.py [--runs 15]``; prints JSON.

- ``initialize_ms``: the ``initialize`` request's round trip once the server process is up
  (readiness is seen by the answer to a first, unknown request), median over fresh servers.
- ``spawn_to_initialized_ms``: from starting the process to the ``initialize`` answer, the
  figure an editor's user waits for at start-up (dominated by importing pygls/lsprotocol).
- ``pygls_import_ms``: a bare interpreter importing pygls' language server and exiting, run
  alternately with the servers above so that both see the same machine; ``startup_ratio`` is
  the median spawn-to-initialize time over this median (what start-up costs beyond pygls'
  own: goal at most 1.25). ``*_cpu_ms`` and ``startup_cpu_ratio`` are the same in CPU time
  (user + system, the server's up to its answer), which a busy machine does not inflate.
  Both interpreters may cache their bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped for them)
  and each starts once unmeasured first, as an installed server starts after its first run.
- ``rss_mb_after_initialize``: resident memory of the server after ``initialize``.
- ``reparse_*``: one-character edits at random places in a 10,000-line Python file, applied
  to the document and re-parsed incrementally (the tree edited, not rebuilt): a letter typed
  inside a name, and a character that breaks the syntax (tree-sitter's error recovery).
"""

from __future__ import annotations

import argparse
import json
import keyword
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tactful.analyzers.document import Document, TextChange
from tactful.analyzers.text import Point

SERVER = [sys.executable, "-P", "-m", "tactful.server", "serve"]
PYGLS = [sys.executable, "-P", "-c", "import pygls.lsp.server"]


def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read(stdout, want_id) -> dict:
    while True:
        header = b""
        while not header.endswith(b"\r\n\r\n"):
            byte = stdout.read(1)
            if not byte:
                raise RuntimeError("server closed its output")
            header += byte
        length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
        message = json.loads(stdout.read(length))
        if message.get("id") == want_id and "method" not in message:
            return message


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far (immune to other processes' load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _environment(root: Path) -> dict[str, str]:
    """Private user folders, and bytecode cached as an installed package has it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["XDG_CACHE_HOME"] = str(root / "cache")
    env["XDG_DATA_HOME"] = str(root / "data")
    env["XDG_CONFIG_HOME"] = str(root / "config")
    return env


def initialize_once(root: Path) -> tuple[float, float, float, float, float]:
    """Milliseconds: the initialize round trip, spawn to its answer, and the server's CPU
    for each; and the resident memory (MB) once initialized."""
    env = _environment(root)
    started = time.perf_counter()
    process = subprocess.Popen(
        SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert process.stdin and process.stdout
    process.stdin.write(_frame({"jsonrpc": "2.0", "id": 0, "method": "tactful/ready"}))
    process.stdin.flush()
    _read(process.stdout, 0)
    cpu_before = _cpu_ms(process.pid)  # everything the process did to start
    sent = time.perf_counter()
    process.stdin.write(
        _frame(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}},
            }
        )
    )
    process.stdin.flush()
    _read(process.stdout, 1)
    answered = time.perf_counter()
    cpu_total = _cpu_ms(process.pid)
    cpu = cpu_total - cpu_before
    process.stdin.write(_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    process.stdin.flush()
    time.sleep(0.3)  # let start-up work triggered by `initialized` settle before measuring
    rss = _rss_mb(process.pid)
    process.stdin.write(_frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    process.stdin.write(_frame({"jsonrpc": "2.0", "method": "exit"}))
    process.stdin.flush()
    process.wait(10)
    return (answered - sent) * 1000, (answered - started) * 1000, rss, cpu, cpu_total


def pygls_import_once(root: Path) -> tuple[float, float]:
    """Milliseconds (wall, CPU) for a bare interpreter to import pygls' language server and
    exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        PYGLS,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_environment(root),
    )
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    return wall, cpu


def ten_thousand_lines() -> str:
    blocks = []
    for i in range(1250):
        blocks.append(
            f"def function_{i}(alpha, beta=None):\n"
            f'    """Compute item {i}."""\n'
            f"    total = alpha * {i} + (beta or 0)\n"
            f"    values = [x for x in range(total % 7)]\n"
            f"    if total > {i}:\n"
            f"        return sum(values)\n"
            f"    return total\n"
            "\n"
        )
    return "".join(blocks)


def _edits(document: Document, rng: random.Random, breaking: bool) -> tuple[Point, str]:
    """A keystroke a developer makes: a letter typed inside a name (the file still parses), or,
    with ``breaking``, a character that breaks the syntax where it lands."""
    while True:
        line = rng.randrange(document.lines.line_count() - 1)
        text = document.lines.line_text(line, document.text)
        if breaking:
            return Point(line, rng.randrange(len(text) + 1)), rng.choice("(:[")
        names = [
            m.end()
            for m in re.finditer(r"[A-Za-z_]\w*", text)
            if not keyword.iskeyword(m.group()) and m.group() != "None"
        ]
        if names:
            return Point(line, rng.choice(names)), rng.choice("abcdefghij")


def reparse(runs: int, breaking: bool = False) -> dict:
    text = ten_thousand_lines()
    document = Document("file:///bench.py", text, 1, "python")
    rng = random.Random(1)
    full = []
    for _ in range(5):
        t = time.perf_counter()
        Document("file:///full.py", document.text, 1, "python")
        full.append((time.perf_counter() - t) * 1000)
    times = []
    cpu = []
    for version in range(2, runs + 2):
        at, char = _edits(document, rng, breaking)
        t = time.perf_counter()
        c = time.process_time()
        document.apply([TextChange(char, at, at)], version)
        assert document.tree is not None  # the parse is lazy: asking for the tree runs it
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        if breaking:  # undo, so errors do not pile up
            document.apply([TextChange("", at, Point(at.line, at.column + 1))], version)
            assert document.tree is not None
    times.sort()
    return {
        "lines": text.count("\n"),
        "edits": runs,
        "reparse_ms_median": round(statistics.median(times), 3),
        "reparse_ms_p90": round(times[int(len(times) * 0.9) - 1], 3),
        "reparse_cpu_ms_median": round(statistics.median(cpu), 3),
        "full_parse_ms_median": round(statistics.median(full), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    rounds, spawns, rss, cpus, spawn_cpus, pygls, pygls_cpus = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        pygls_import_once(Path(tmp))
        initialize_once(Path(tmp))
        for _ in range(args.runs):
            wall, cpu = pygls_import_once(Path(tmp))
            pygls.append(wall)
            pygls_cpus.append(cpu)
            a, b, c, d, e = initialize_once(Path(tmp))
            rounds.append(a)
            spawns.append(b)
            rss.append(c)
            cpus.append(d)
            spawn_cpus.append(e)
    result = {
        "initialize_ms_median": round(statistics.median(rounds), 1),
        "initialize_ms_max": round(max(rounds), 1),
        "initialize_server_cpu_ms_median": round(statistics.median(cpus), 1),
        "spawn_to_initialized_ms_median": round(statistics.median(spawns), 1),
        "pygls_import_ms_median": round(statistics.median(pygls), 1),
        "startup_ratio": round(statistics.median(spawns) / statistics.median(pygls), 3),
        "spawn_to_initialized_cpu_ms_median": round(statistics.median(spawn_cpus), 1),
        "pygls_import_cpu_ms_median": round(statistics.median(pygls_cpus), 1),
        "startup_cpu_ratio": round(
            statistics.median(spawn_cpus) / statistics.median(pygls_cpus), 3
        ),
        "rss_mb_after_initialize_median": round(statistics.median(rss), 1),
        "reparse_typing_in_names": reparse(300),
        "reparse_syntax_breaking_keystroke": reparse(100, breaking=True),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

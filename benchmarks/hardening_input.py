"""Hostile input figures: fuzzed messages left unanswered, other requests' latency while a
50 MB document arrives, how long refusing it takes, and the frame reader's throughput.

Run: ``.venv/bin/python benchmarks/hardening_input.py [--fuzz 10000] [--megabytes 50]``;
prints JSON. Everything runs against ``tactful serve`` over real pipes, in a temporary
workspace with its own user directories.

- ``fuzz``: messages drawn from the strategies of tests/fixtures/lsp_fuzz.py (a fixed seed),
  sent in batches of 50 after an initialized session; ``unanswered`` counts requests (well
  framed, or framed so that they can be recovered, with an integer, string or number id) that
  got no answer within 20 s of their batch.
- ``latency``: ``textDocument/completion`` on a small open document, one every 20 ms for
  ``--seconds``, measured from when it was due (so time spent waiting behind a big message in
  the pipe counts); once alone, once with a ``--megabytes`` didOpen written one second in.
- ``huge_document``: from the first byte of that didOpen to the server's message refusing it,
  and from its last byte; the server's RSS before and after.
- ``frame_reader``: the reader alone, in process: a message of ``--megabytes`` fed in 64 KiB
  chunks, taken whole (under the limit) and dropped as it arrives (over it), in MB/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures.lsp_fuzz import FuzzClient, Fuzzed, messages
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tactful.server.transport import FrameReader

KNOWN_TEXT = "import os\n\nvalue = os.path.join('a', 'b')\n"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _env(base: Path) -> dict[str, str]:
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        folder = base / "xdg" / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(folder)
    return env


def _start(base: Path) -> tuple[FuzzClient, str]:
    root = base / "project"
    root.mkdir()
    (root / "known.py").write_text(KNOWN_TEXT)
    client = FuzzClient(str(root), _env(base))
    key = client.request(
        "initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}
    )
    if client.wait_answers([key], 120):
        raise RuntimeError("the server did not answer initialize")
    client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    uri = (root / "known.py").as_uri()
    client.open_document(uri, KNOWN_TEXT)
    return client, uri


def fuzz(count: int) -> dict[str, object]:
    batches: list[list[Fuzzed]] = []

    @settings(
        max_examples=max(1, count // 50),
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(messages(), min_size=50, max_size=50))
    def collect(items: list[Fuzzed]) -> None:
        batches.append(items)

    started = time.monotonic()
    collect()
    drawn_s = time.monotonic() - started
    with tempfile.TemporaryDirectory(prefix="tactful-fuzz-") as folder:
        client, uri = _start(Path(folder))
        try:
            unanswered = 0
            started = time.monotonic()
            for items in batches:
                expected = client.send_fuzzed(items)
                unanswered += len(client.wait_answers(expected, 20))
            served_s = time.monotonic() - started
            key = client.request(
                "textDocument/completion",
                {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 10}},
            )
            still_serves = not client.wait_answers([key], 30)
            return {
                "messages": client.sent_messages,
                "requests": client.sent_requests,
                "unanswered": unanswered,
                "still_serves": still_serves,
                "draw_s": round(drawn_s, 1),
                "serve_s": round(served_s, 1),
            }
        finally:
            client.close()


def _latencies(client: FuzzClient, uri: str, seconds: float, during=None) -> list[float]:
    """Completion round trips (ms), one due every 20 ms; ``during`` starts after 1 s."""
    params = {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 10}}
    due = time.monotonic()
    end = due + seconds
    pending: list[tuple[str, float]] = []
    started_other = False
    while due < end:
        if during is not None and not started_other and due - (end - seconds) >= 1.0:
            threading.Thread(target=during, daemon=True).start()
            started_other = True
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        pending.append((client.request("textDocument/completion", params), due))
        due += 0.02
    keys = [key for key, _ in pending]
    client.wait_answers(keys, 60)
    return [
        (client.answers[key] - sent) * 1000 if key in client.answers else float("inf")
        for key, sent in pending
    ]


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def huge_document(megabytes: int, seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tactful-huge-") as folder:
        client, uri = _start(Path(folder))
        try:
            _latencies(client, uri, 1.0)  # warm up: the local engine, the first answers
            alone = _latencies(client, uri, seconds)
            big_uri = uri.replace("known.py", "big.py")
            line = "value = compute(alpha, beta, gamma)  # a line of generated code\n"
            text = line * (megabytes * 1_000_000 // len(line))
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {
                        "textDocument": {
                            "uri": big_uri,
                            "languageId": "python",
                            "version": 1,
                            "text": text,
                        }
                    },
                }
            ).encode()
            frame = b"Content-Length: %d\r\n\r\n" % len(body) + body
            rss_before = _rss_mb(client.process.pid)
            times: dict[str, float] = {}

            def send_big() -> None:
                times["first_byte"] = time.monotonic()
                client.write(frame)
                times["last_byte"] = time.monotonic()

            during = _latencies(client, uri, seconds, during=send_big)
            refused = None
            deadline = time.monotonic() + 60
            while refused is None and time.monotonic() < deadline:
                for note, at in zip(client.notifications, client.notification_times, strict=False):
                    message = note.get("params", {}).get("message", "")
                    if note.get("method") == "window/showMessage" and "big.py is" in message:
                        refused = at
                        break
                else:
                    time.sleep(0.01)
            return {
                "megabytes": megabytes,
                "others_alone": _summary(alone),
                "others_during": _summary(during),
                "written_in_s": _since(times.get("last_byte"), times.get("first_byte")),
                "refused_after_first_byte_s": _since(refused, times.get("first_byte")),
                "refused_after_last_byte_s": _since(refused, times.get("last_byte")),
                "rss_mb_before": round(rss_before, 1),
                "rss_mb_after": round(_rss_mb(client.process.pid), 1),
            }
        finally:
            client.close()


def _since(when: float | None, start: float | None) -> float | None:
    return None if when is None or start is None else round(when - start, 3)


def frame_reader(megabytes: int) -> dict[str, float]:
    text = "x" * (megabytes * 1_000_000)
    body = json.dumps({"jsonrpc": "2.0", "method": "m", "params": {"text": text}}).encode()
    stream = b"Content-Length: %d\r\n\r\n" % len(body) + body
    out: dict[str, float] = {}
    for name, limit in (("taken_whole", len(body) + 1), ("dropped", len(body) // 10)):
        reader = FrameReader(max_frame_bytes=limit)
        started = time.perf_counter()
        for i in range(0, len(stream), 65536):
            reader.feed(stream[i : i + 65536])
        elapsed = time.perf_counter() - started
        out[f"{name}_mb_per_s"] = round(len(stream) / 1e6 / elapsed, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=10_000)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    report = {
        "frame_reader": frame_reader(args.megabytes),
        "huge_document": huge_document(args.megabytes, args.seconds),
        "fuzz": fuzz(args.fuzz),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

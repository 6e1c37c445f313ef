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
  ``--seconds``, measured from when it was due; ``--rounds`` times each, taking turns: alone
  (``others_alone``), with a ``--megabytes`` didOpen written to the server one second in
  (``others_during``), and with the same bytes written one second in to another process that
  discards them (``others_during_elsewhere``: what moving them costs the machine). One window
  holds about 250 requests, so its p99 is its third slowest: on a loaded machine one pause of
  the machine decides it, which is why the windows take turns and are pooled. Requests written
  on the same pipe after the big message wait for its bytes to pass through the pipe, whatever
  the server does: ``queued_behind_ms`` are the requests due while it was being written (each
  listed), ``not_queued`` all the others (due before its first byte, or after its last), and
  ``not_queued_within_half_a_second_after`` those due in the half second after its last byte.
  ``pipe_floor`` is what any reader pays: the time to push the message through a pipe as wide
  as the server's to a thread that reads it with ``readinto`` and discards it (and that
  thread's CPU time). ``server_cpu_taking_it_in`` is the server's CPU time for the message
  alone (``/proc/PID/task/*/schedstat``), on the event loop's thread and on the others.
- ``burst``: ``--burst`` completions written back to back and measured from when each was
  written, ``--bursts`` times each, taking turns: alone; followed at once by the big message
  (the answers to the burst are written while the server reads it); and followed at once by
  the same bytes written to another process that discards them (``_elsewhere``: what moving
  50 MB costs the machine, two cores here, without the server reading it).
- ``frame_reader``: the reader alone, in process: a message of ``--megabytes`` fed in 64 KiB
  chunks, taken whole (under the limit) and dropped as it arrives (over it), and dropped as
  the server reads it (1 MiB reads into one buffer, ``feed_from``), in MB/s (the copy into
  the buffer counted), and a body of nothing but line breaks dropped so.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures.lsp_fuzz import FuzzClient, Fuzzed, messages
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tactful.server.transport import READ_BYTES, FrameReader, widen_pipe

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


def _latencies(
    client: FuzzClient, uri: str, seconds: float, during=None
) -> list[tuple[float, float]]:
    """Completion round trips, one due every 20 ms; ``during`` starts after 1 s. Returns (when
    each was due, its latency in ms counted from then)."""
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
        (sent, (client.answers[key] - sent) * 1000 if key in client.answers else float("inf"))
        for key, sent in pending
    ]


def _burst(client: FuzzClient, uri: str, count: int, then=None) -> list[float]:
    """``count`` completions written back to back, then ``then()``; their latencies (ms) from
    when each was written."""
    params = {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 10}}
    sent: list[tuple[str, float]] = []
    for _ in range(count):
        at = time.monotonic()
        sent.append((client.request("textDocument/completion", params), at))
    if then is not None:
        then()
    client.wait_answers([key for key, _ in sent], 60)
    return [
        (client.answers[key] - at) * 1000 if key in client.answers else float("inf")
        for key, at in sent
    ]


def pipe_floor(frame: bytes, runs: int = 5) -> dict[str, float]:
    """Medians of the time to push ``frame`` through a pipe widened as the server widens its
    own (server/transport.py) to a thread that reads it with ``readinto`` and discards it, and
    of that thread's CPU time."""
    times = []
    cpu = []
    for _ in range(runs):
        read_fd, write_fd = os.pipe()
        widen_pipe(read_fd)

        def drain(fd: int = read_fd) -> None:
            started_cpu = time.thread_time()
            view = memoryview(bytearray(READ_BYTES))
            with io.FileIO(fd, "rb", closefd=True) as source:
                while source.readinto(view):
                    pass
            cpu.append(time.thread_time() - started_cpu)

        reader = threading.Thread(target=drain)
        reader.start()
        started = time.monotonic()
        with io.FileIO(write_fd, "wb", closefd=True) as sink:
            view = memoryview(frame)
            while view:
                view = view[sink.write(view) :]
        reader.join()
        times.append(time.monotonic() - started)
    return {
        "seconds": round(statistics.median(times), 3),
        "reader_cpu_ms": round(statistics.median(cpu) * 1000, 1),
    }


class _Drain:
    """Another process that reads its stdin (as wide a pipe as the server's) with ``readinto``
    and discards it: the same bytes moved on the same machine, without the server."""

    SCRIPT = (
        "import io\n"
        "view = memoryview(bytearray(%d))\n"
        "source = io.FileIO(0, 'rb')\n"
        "while source.readinto(view):\n"
        "    pass\n"
    )

    def __enter__(self) -> _Drain:
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT % READ_BYTES], stdin=subprocess.PIPE
        )
        assert self.process.stdin is not None
        widen_pipe(self.process.stdin.fileno())
        return self

    def push(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def _thread_cpu_ms(pid: int) -> dict[int, float]:
    """CPU time of each of a process's threads so far, in ms (``schedstat``: nanoseconds)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            run_ns = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0]
        except OSError:
            continue  # the thread ended meanwhile
        out[int(tid)] = int(run_ns) / 1e6
    return out


def server_cpu(client: FuzzClient, frame: bytes, runs: int = 5) -> dict[str, float]:
    """Medians of the server's CPU time taking in ``frame`` (with nothing else to do), on the
    event loop's thread and on all its other threads."""
    pid = client.process.pid
    loop_ms = []
    other_ms = []
    for _ in range(runs):
        before = _thread_cpu_ms(pid)
        client.write(frame)
        time.sleep(0.5)
        after = _thread_cpu_ms(pid)
        spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
        loop_ms.append(spent.get(pid, 0.0))
        other_ms.append(sum(ms for tid, ms in spent.items() if tid != pid))
    return {
        "event_loop_ms": round(statistics.median(loop_ms), 1),
        "other_threads_ms": round(statistics.median(other_ms), 1),
    }


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


class _Window:
    """Latencies of the completions of one kind of window, pooled over its rounds."""

    def __init__(self) -> None:
        self.not_queued: list[float] = []
        self.after: list[float] = []  # due within half a second after the last byte
        self.queued: list[float] = []
        self.written_s: list[float] = []

    def add(self, during: list[tuple[float, float]], first: float, last: float) -> None:
        self.written_s.append(last - first)
        for due, ms in during:
            if first <= due < last:
                self.queued.append(ms)
                continue
            self.not_queued.append(ms)
            if 0 <= due - last < 0.5:
                self.after.append(ms)

    def report(self) -> dict[str, object]:
        return {
            "not_queued": _summary(self.not_queued),
            "not_queued_within_half_a_second_after": _summary(self.after),
            # Few (the requests due while it was written): each one, not percentiles.
            "queued_behind_ms": sorted(round(ms, 1) for ms in self.queued),
        }


def _refusal(client: FuzzClient, seen: int, timeout: float = 60.0) -> float | None:
    """When the server said it refused big.py, among the notifications after the ``seen``th."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pairs = zip(client.notifications, client.notification_times, strict=False)
        for note, at in list(pairs)[seen:]:
            message = note.get("params", {}).get("message", "")
            if note.get("method") == "window/showMessage" and "big.py is" in message:
                return at
        time.sleep(0.01)
    return None


def _rounded(pair: tuple[float, float] | None, index: int) -> float | None:
    return None if pair is None else round(pair[index], 3)


def huge_document(
    megabytes: int, seconds: float, burst: int, bursts: int, rounds: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tactful-huge-") as folder:
        client, uri = _start(Path(folder))
        try:
            _latencies(client, uri, 1.0)  # warm up: the local engine, the first answers
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
            windows: dict[str, _Window] = {
                "alone": _Window(),
                "server": _Window(),
                "elsewhere": _Window(),
            }
            first_refusal: tuple[float, float] | None = None
            with _Drain() as drain:
                for _ in range(rounds):
                    for kind, window in windows.items():
                        times: dict[str, float] = {}
                        seen = len(client.notifications)

                        def send_big(kind: str = kind, times: dict[str, float] = times) -> None:
                            times["first_byte"] = time.monotonic()
                            if kind == "server":
                                client.write(frame)
                            elif kind == "elsewhere":
                                drain.push(frame)
                            times["last_byte"] = time.monotonic()

                        during = _latencies(client, uri, seconds, during=send_big)
                        window.add(during, times["first_byte"], times["last_byte"])
                        if kind == "server" and first_refusal is None:
                            refused = _refusal(client, seen)
                            if refused is not None:
                                first_refusal = (
                                    refused - times["first_byte"],
                                    refused - times["last_byte"],
                                )
            rss_after = round(_rss_mb(client.process.pid), 1)

            burst_alone: list[float] = []
            burst_with_big: list[float] = []
            burst_with_other: list[float] = []
            with _Drain() as drain:
                for _ in range(bursts):
                    burst_alone += _burst(client, uri, burst)
                    time.sleep(0.2)
                    burst_with_big += _burst(client, uri, burst, then=lambda: client.write(frame))
                    time.sleep(0.2)
                    burst_with_other += _burst(client, uri, burst, then=lambda: drain.push(frame))
                    time.sleep(0.2)
            return {
                "megabytes": megabytes,
                "pipe_floor": pipe_floor(frame),
                "server_cpu_taking_it_in": server_cpu(client, frame),
                "rounds": rounds,
                "others_alone": _summary(windows["alone"].not_queued),
                "others_during": windows["server"].report(),
                "others_during_elsewhere": windows["elsewhere"].report(),
                "burst_alone": _summary(burst_alone),
                "burst_then_big_message": _summary(burst_with_big),
                "burst_then_big_message_elsewhere": _summary(burst_with_other),
                "written_in_s": round(statistics.median(windows["server"].written_s), 3),
                "refused_after_first_byte_s": _rounded(first_refusal, 0),
                "refused_after_last_byte_s": _rounded(first_refusal, 1),
                "rss_mb_before": round(rss_before, 1),
                "rss_mb_after": rss_after,
            }
        finally:
            client.close()


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
    out["dropped_from_1mib_reads_mb_per_s"] = dropped_in_1mib_reads(body)
    # A body of nothing but line breaks (each one a place a frame could start), read so.
    out["dropped_line_breaks_mb_per_s"] = dropped_in_1mib_reads(b"\n" * (megabytes * 1_000_000))
    return out


def dropped_in_1mib_reads(body: bytes) -> float:
    """MB/s of a frame of ``body`` over the limit, read as the server reads stdin: 1 MiB at a
    time into one buffer (StdinFrames)."""
    stream = b"Content-Length: %d\r\n\r\n" % len(body) + body
    reader = FrameReader(max_frame_bytes=len(body) // 10)
    chunk = bytearray(READ_BYTES)
    started = time.perf_counter()
    for i in range(0, len(stream), READ_BYTES):
        piece = stream[i : i + READ_BYTES]
        chunk[: len(piece)] = piece
        reader.feed_from(chunk, len(piece))
    elapsed = time.perf_counter() - started
    return round(len(stream) / 1e6 / elapsed, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=10_000)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=25)
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    report = {
        "frame_reader": frame_reader(args.megabytes),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "huge_document": huge_document(
            args.megabytes, args.seconds, args.burst, args.bursts, args.rounds
        ),
        "fuzz": fuzz(args.fuzz),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""Every request gets an answer, and bad framing costs one message, not the connection."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fixtures.lsp import TACTFUL
from fixtures.raw import RawServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tactful.server.transport import HEAD_BYTES, FrameReader, FramingError, Oversized


def frame(obj: dict, delta: int = 0, headers: bytes = b"") -> bytes:
    body = json.dumps(obj).encode()
    return headers + b"Content-Length: %d\r\n\r\n" % (len(body) + delta) + body


A = {"jsonrpc": "2.0", "id": 1, "method": "a"}
B = {"jsonrpc": "2.0", "id": 2, "method": "b"}


def bodies(items: list) -> list:
    out = []
    for item in items:
        if isinstance(item, FramingError | Oversized):
            continue
        try:
            out.append(json.loads(item))
        except ValueError:
            out.append("not json")
    return out


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (frame(A) + frame(B), [A, B]),
        (
            frame(A, headers=b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n")
            + frame(B),
            [A, B],
        ),
        (frame(A).replace(b"\r\n\r\n", b"\r\nContent-Type: x\r\n\r\n") + frame(B), [A, B]),
        (b"garbage\r\n" + frame(A) + frame(B), [A, B]),
        (frame(A, delta=+7) + frame(B), [A, B]),
        (frame(A, delta=-5) + frame(B), [A, B]),
        (b"Content-Length: nope\r\n\r\n{}" + frame(B), [B]),
        (frame(A)[:-3] + b"!!!" + frame(B), ["not json", B]),
    ],
    ids=[
        "plain",
        "content-type",
        "content-type-after",
        "junk-before",
        "length-too-long",
        "length-too-short",
        "bad-header",
        "broken-body",
    ],
)
def test_frame_reader_resynchronises(stream: bytes, expected: list) -> None:
    reader = FrameReader()
    out = []
    for i in range(0, len(stream), 5):  # arrives in small pieces
        out += reader.feed(stream[i : i + 5])
    out += reader.stalled()
    assert bodies(out) == expected


def test_overstated_length_of_the_last_message_is_recovered_when_the_stream_stalls() -> None:
    reader = FrameReader()
    assert reader.feed(frame(A, delta=+40)) == []
    assert bodies(reader.stalled()) == [A]


@settings(max_examples=200, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.text(max_size=300), min_size=1, max_size=6),
    st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=30),
)
def test_well_framed_messages_come_out_whole_however_the_stream_is_cut(
    texts: list[str], cuts: list[int]
) -> None:
    messages = [{"jsonrpc": "2.0", "method": "m", "params": {"text": t}} for t in texts]
    stream = b"".join(frame(m) for m in messages)
    reader = FrameReader()
    out = []
    position = 0
    for size in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        out += reader.feed(stream[position : position + size])
        position += size
        if position >= len(stream):
            break
    out += reader.feed(stream[position:])
    assert bodies(out) == messages
    assert not any(isinstance(item, FramingError) for item in out)


def test_a_frame_too_big_to_take_is_dropped_as_it_arrives_keeping_its_head() -> None:
    big = {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"text": "x" * 5_000_000}}
    stream = frame(big) + frame(B)
    reader = FrameReader(max_frame_bytes=1_000_000)
    out = []
    for i in range(0, len(stream), 65536):
        out += reader.feed(stream[i : i + 65536])
        # Memory stays bounded while the big body streams past.
        assert reader.buffered <= 2 * 65536
    (oversized,) = [item for item in out if isinstance(item, Oversized)]
    assert oversized.length == len(json.dumps(big))
    assert len(oversized.head) == HEAD_BYTES
    assert oversized.head.startswith(b'{"jsonrpc": "2.0", "method": "textDocument/didOpen"')
    assert bodies(out) == [B]


def _read_as_the_server_does(reader: FrameReader, stream: bytes, size: int) -> list:
    """Feed ``stream`` through ``feed_from``, ``size`` bytes at a time into one buffer."""
    chunk = bytearray(size)
    out = []
    for i in range(0, len(stream), size):
        piece = stream[i : i + size]
        chunk[: len(piece)] = piece
        out += reader.feed_from(chunk, len(piece))
    return out


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,  # thousands of small reads on a loaded machine: correctness only here
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.integers(min_value=300, max_value=70_000),
    st.sampled_from([0, 1, 2]),
    st.integers(min_value=-60, max_value=60),
)
def test_reading_into_one_buffer_frames_as_feeding_bytes_does(
    size: int, line_breaks: int, delta: int
) -> None:
    # A big message (dropped as it goes by), a small one claiming a huge length, and a lying
    # length right after a big one; raw line breaks in the big body in some of them.
    text = ("y" * 999 + "\n" * line_breaks) * 300
    big = {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"text": text}}
    body = json.dumps(big).encode().replace(b"\\n", b"\n")
    lying = b"Content-Length: 99999999999\r\n\r\n" + json.dumps(A).encode()
    stream = (
        b"Content-Length: %d\r\n\r\n" % len(body)
        + body
        + frame(A, delta=delta)
        + lying
        + frame(B)
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
        + frame(B)
    )
    expected = FrameReader(max_frame_bytes=100_000)
    wanted = []
    for i in range(0, len(stream), size):
        wanted += expected.feed(stream[i : i + size])
    got = _read_as_the_server_does(FrameReader(max_frame_bytes=100_000), stream, size)
    assert got == wanted
    assert [item.length for item in got if isinstance(item, Oversized)] == [len(body)] * 2


def test_a_body_of_line_breaks_is_dropped_and_what_follows_taken() -> None:
    # Not JSON, and made to be slow: each line break is a place a frame could start.
    # (benchmarks/hardening_input.py times it: frame_reader.dropped_line_breaks_mb_per_s.)
    body = b"\n" * 3_000_000
    stream = b"Content-Length: %d\r\n\r\n" % len(body) + body + frame(B)
    out = _read_as_the_server_does(FrameReader(max_frame_bytes=1_000_000), stream, 1 << 20)
    assert [type(item) for item in out if not isinstance(item, bytes)] == [Oversized]
    assert bodies(out) == [B]


def test_a_huge_false_length_costs_only_its_message() -> None:
    lying = b"Content-Length: 99999999999\r\n\r\n" + json.dumps(A).encode()
    reader = FrameReader()
    assert bodies(reader.feed(lying + frame(B))) == [A, B]
    reader = FrameReader()
    assert reader.feed(lying) == []
    assert bodies(reader.stalled()) == [A]


@pytest.fixture
def raw():
    server = RawServer()
    yield server
    server.close()


def test_invalid_params_get_an_error_response_naming_the_problem(raw: RawServer) -> None:
    raw.initialize()
    raw.request(2, "textDocument/hover", {"bogus": 1})
    raw.request(3, "textDocument/completion", {"textDocument": 5})
    raw.request(4, "no/suchMethod", {})
    for msg_id in (2, 3):
        error = raw.wait_response(msg_id)["error"]
        assert error["code"] == -32602
        assert "position" in error["message"]
    assert raw.wait_response(4)["error"]["code"] == -32601


def test_bad_framing_is_survived(raw: RawServer) -> None:
    raw.initialize()
    raw.send_bytes(b"this is not a header\r\n\r\n")
    raw.send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}, length_delta=+25)
    raw.request(3, "textDocument/diagnostic", {"textDocument": {"uri": "file:///x.py"}})
    assert "result" in raw.wait_response(2)
    assert raw.wait_response(3)["error"]["message"]  # after shutdown: refused, but answered


def test_non_json_and_non_jsonrpc_bodies_are_answered(raw: RawServer) -> None:
    raw.initialize()
    raw.send_bytes(b"Content-Length: 9\r\n\r\n{not json")
    assert raw.wait_response(None)["error"]["code"] == -32700
    raw.send({"id": 5, "method": "x"})
    assert raw.wait_response(5)["error"]["code"] == -32600
    raw.request(6, "shutdown")
    assert "result" in raw.wait_response(6)


def test_cancelling_a_request_already_answered_is_quiet(raw: RawServer) -> None:
    # Editors cancel what they stopped waiting for, often after the answer was sent (Neovim's
    # plugin does when a newer keystroke comes): that is not a problem worth a warning.
    from tactful.analyzers.userdirs import log_file

    raw.initialize()
    raw.request(
        2,
        "tactful/nextEdits",
        {"textDocument": {"uri": "file:///x.py"}, "position": {"line": 0, "character": 0}},
    )
    assert raw.wait_response(2)["id"] == 2
    raw.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 2}})
    raw.request(3, "shutdown")
    assert "result" in raw.wait_response(3)
    assert raw.close() == 0
    log = log_file().read_text()
    assert [line for line in log.splitlines() if " ERROR " in line or " WARNING " in line] == []


def test_an_answer_that_crosses_the_shutdown_is_quiet(tmp_path: Path) -> None:
    # The server asks for a progress token when it indexes the workspace; an editor quitting
    # at that moment sends `shutdown` before its answer to that question (Neovim does under
    # load): the answer settles the question without a warning in the log.
    from tactful.analyzers.userdirs import log_file

    (tmp_path / "mod.py").write_text("def f():\n    return 1\n")
    server = RawServer()
    try:
        server.request(
            1,
            "initialize",
            {
                "capabilities": {"window": {"workDoneProgress": True}},
                "rootUri": tmp_path.as_uri(),
                "processId": None,
            },
        )
        server.wait_response(1)
        server.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        deadline = time.monotonic() + 30
        asked = None
        while asked is None:
            message = server._read_message(deadline)
            assert message is not None, "the server asked for no progress token"
            if message.get("method") == "window/workDoneProgress/create":
                asked = message
        server.request(2, "shutdown")
        assert "result" in server.wait_response(2)
        server.send({"jsonrpc": "2.0", "id": asked["id"], "result": None})
        server.send({"jsonrpc": "2.0", "method": "exit"})
        assert server.process.wait(30) == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
    log = log_file().read_text()
    assert [line for line in log.splitlines() if " ERROR " in line or " WARNING " in line] == []


def test_exit_code_follows_shutdown(raw: RawServer) -> None:
    raw.initialize()
    assert raw.close() == 0


def test_a_client_that_quits_without_reading_the_shutdown_answer_leaves_no_noise() -> None:
    # Neovim quits this way: it sends `shutdown` and closes the pipes without waiting.
    from tactful.analyzers.userdirs import log_file

    server = RawServer()
    try:
        server.initialize()
        assert server.process.stdout is not None and server.process.stdin is not None
        server.process.stdout.close()
        server.request(2, "shutdown")
        server.process.stdin.close()
        code = server.process.wait(30)
        stderr = server.process.stderr.read().decode() if server.process.stderr else ""
    finally:
        if server.process.poll() is None:
            server.process.kill()
        if server.process.stderr:
            server.process.stderr.close()
    assert code == 0
    assert stderr == ""
    log = log_file().read_text()
    assert "Traceback" not in log and "BrokenPipe" not in log, log
    assert [line for line in log.splitlines() if " ERROR " in line or " WARNING " in line] == []


def test_serves_over_tcp(tmp_path) -> None:
    import os
    import socket
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*TACTFUL, "serve", "--tcp", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with connection:
            connection.sendall(
                frame(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "initialize",
                        "params": {"capabilities": {}, "processId": None},
                    }
                )
            )
            received = b""
            while b'"id": 1' not in received:
                chunk = connection.recv(65536)
                assert chunk, "connection closed before the answer"
                received += chunk
            assert b'"name": "tactful"' in received
            connection.sendall(
                frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
                + frame({"jsonrpc": "2.0", "method": "exit"})
            )
        assert server.wait(20) == 0
    finally:
        if server.poll() is None:
            server.kill()
        server.stderr.close()


def test_errors_are_shown_at_most_once_a_minute_per_feature(monkeypatch) -> None:
    from tactful.server import errors

    shown: list[str] = []
    reporter = errors.ErrorReporter(shown.append)
    clock = [1000.0]
    monkeypatch.setattr(errors.time, "monotonic", lambda: clock[0])
    for _ in range(5):
        reporter.report("completion", ValueError("boom"))
    reporter.report("review", KeyError("x"))
    clock[0] += 61
    reporter.report("completion", ValueError("again"))
    assert len(shown) == 3
    assert "completion failed (ValueError: boom)" in shown[0]
    assert "again" in shown[2]

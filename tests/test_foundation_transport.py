"""Every request gets an answer, and bad framing costs one message, not the connection."""

from __future__ import annotations

import json

import pytest
from fixtures.lsp import TACTFUL
from fixtures.raw import RawServer

from tactful.server.transport import FrameReader, FramingError


def frame(obj: dict, delta: int = 0, headers: bytes = b"") -> bytes:
    body = json.dumps(obj).encode()
    return headers + b"Content-Length: %d\r\n\r\n" % (len(body) + delta) + body


A = {"jsonrpc": "2.0", "id": 1, "method": "a"}
B = {"jsonrpc": "2.0", "id": 2, "method": "b"}


def bodies(items: list) -> list:
    out = []
    for item in items:
        if isinstance(item, FramingError):
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

"""What the server writes to stdout stays well framed under stress, read strictly over real stdio:
every frame's ``Content-Length`` header followed by exactly that many bytes of JSON and then
the next header. Large notifications (``publishDiagnostics`` of hundreds of kilobytes, more
than a pipe holds) pushed from several threads at once while requests are answered, and a real
server linting documents with thousands of findings while it answers inline completions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fixtures.lsp import SERVER_COMMAND
from fixtures.workspace import Workspace


class StrictReader:
    """Reads the server's stdout on a thread of its own, slowly enough that the pipe fills, and
    keeps every message; a frame that is not exactly header, JSON body, next header is kept as
    a problem (and ends the reading)."""

    def __init__(self, stdout: Any, answer: Any = None) -> None:
        self.stdout = stdout
        self.messages: list[dict[str, Any]] = []
        self.problems: list[str] = []
        # A frame still incomplete: the bytes of its body that arrived, and its length.
        self.partial: tuple[int, int] | None = None
        self.answer = answer
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fd = self.stdout.fileno()
        buffer = b""
        while True:
            chunk = os.read(fd, 16384)
            if not chunk:
                return
            buffer += chunk
            while buffer:
                if not b"Content-Length: ".startswith(buffer[:16]):
                    self.problems.append(f"not a header: {buffer[:80]!r}")
                    return
                head, sep, rest = buffer.partition(b"\r\n\r\n")
                if not sep:
                    break
                length = int(head.split(b"\r\n")[0].split(b":")[1])
                if len(rest) < length:
                    self.partial = (len(rest), length)
                    break
                self.partial = None
                body, buffer = rest[:length], rest[length:]
                try:
                    message = json.loads(body)
                except ValueError as exc:
                    self.problems.append(f"a body of {length} bytes is not JSON: {exc}")
                    return
                self.messages.append(message)
                if self.answer is not None and "id" in message and "method" in message:
                    self.answer(message)

    def answered(self, ids: set[int]) -> bool:
        got = {m.get("id") for m in self.messages if "method" not in m}
        return ids <= got

    def largest_diagnostics(self) -> int:
        """Size of the largest ``publishDiagnostics`` read so far, in bytes of JSON."""
        return max(
            (
                len(json.dumps(m))
                for m in self.messages
                if m.get("method") == "textDocument/publishDiagnostics"
            ),
            default=0,
        )

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def initialize(root_uri: str | None, capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"processId": None, "rootUri": root_uri, "capabilities": capabilities or {}},
    }


def did_open(uri: str, text: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {
            "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
        },
    }


def wait(predicate: Any, timeout: float, reader: StrictReader) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert not reader.problems, reader.problems
        assert time.monotonic() < deadline, f"timed out; an incomplete frame: {reader.partial}"
        time.sleep(0.05)


PUSHING_SERVER = """
import sys, threading
from lsprotocol import types
from tactful.server.app import build_server

THREADS, PUSHES, ITEMS = {threads}, {pushes}, {items}
server = build_server()
diagnostics = [
    types.Diagnostic(
        range=types.Range(types.Position(i, 0), types.Position(i, 4)),
        message="a finding worded at some length, as ruff's are: " + "é" * (i % 7) + str(i),
        source="tactful.quality",
    )
    for i in range(ITEMS)
]

def push(number):
    for n in range(PUSHES):
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=f"file:///t/{{number}}/{{n}}.py", diagnostics=diagnostics
            )
        )
        message = types.LogMessageParams(types.MessageType.Log, f"{{number}} {{n}}")
        server.window_log_message(message)

@server.feature("test/push")
def start_pushing(params):
    for number in range(THREADS):
        threading.Thread(target=push, args=(number,), daemon=True).start()

raise SystemExit(server.serve_stdio())
"""


def test_large_notifications_from_several_threads_arrive_whole_while_requests_are_answered(
    tmp_path: Path,
) -> None:
    threads, pushes = 6, 12
    script = tmp_path / "pushing_server.py"
    script.write_text(PUSHING_SERVER.format(threads=threads, pushes=pushes, items=1200))
    process = subprocess.Popen(
        [sys.executable, "-P", str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert process.stdin is not None
    reader = StrictReader(process.stdout)
    try:
        process.stdin.write(frame(initialize(None)))
        process.stdin.flush()
        wait(lambda: reader.answered({1}), 60, reader)
        process.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        process.stdin.write(frame({"jsonrpc": "2.0", "method": "test/push", "params": {}}))
        # Requests answered by the event loop while the threads push (an unknown method is
        # answered with an error).
        ids = set(range(10, 60))
        for msg_id in sorted(ids):
            process.stdin.write(
                frame({"jsonrpc": "2.0", "id": msg_id, "method": "tactful/noSuchMethod"})
            )
            process.stdin.flush()
            time.sleep(0.01)

        def pushed() -> int:
            return sum(
                m.get("method") == "textDocument/publishDiagnostics" for m in reader.messages
            )

        wait(lambda: reader.answered(ids) and pushed() == threads * pushes, 120, reader)
        sizes = [
            len(json.dumps(m))
            for m in reader.messages
            if m.get("method") == "textDocument/publishDiagnostics"
        ]
        assert min(sizes) > 2 * 65536  # each bigger than a pipe holds
        logged = [m for m in reader.messages if m.get("method") == "window/logMessage"]
        assert len(logged) >= threads * pushes
    finally:
        process.kill()
        process.wait(10)
    assert not reader.problems


def test_a_server_linting_thousands_of_findings_keeps_its_frames_whole(
    workspace: Workspace,
) -> None:
    workspace.write("keep.py", "x = 1\n")
    workspace.commit("init")
    documents, lines = 4, 1200

    def text(document: int, version: int) -> str:
        return "".join(f"import module_{document}_{i}_{version}\n" for i in range(lines))

    process = subprocess.Popen(
        SERVER_COMMAND,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=workspace.root,
    )
    assert process.stdin is not None
    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        assert process.stdin is not None
        with lock:
            process.stdin.write(frame(message))
            process.stdin.flush()

    def answer(request: dict[str, Any]) -> None:
        send({"jsonrpc": "2.0", "id": request["id"], "result": None})

    reader = StrictReader(process.stdout, answer)
    try:
        send(
            initialize(
                workspace.root.as_uri(),
                {"window": {"workDoneProgress": True}, "textDocument": {"inlineCompletion": {}}},
            )
        )
        wait(lambda: reader.answered({1}), 60, reader)
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        uris = []
        for document in range(documents):
            path = workspace.write(f"mod{document}.py", text(document, 0))
            uris.append(path.as_uri())
            send(did_open(path.as_uri(), text(document, 0)))
        ids = set()
        for version in range(1, 5):
            for document, uri in enumerate(uris):
                send(
                    {
                        "jsonrpc": "2.0",
                        "method": "textDocument/didChange",
                        "params": {
                            "textDocument": {"uri": uri, "version": version + 1},
                            "contentChanges": [{"text": text(document, version)}],
                        },
                    }
                )
                msg_id = 100 + version * 10 + document
                ids.add(msg_id)
                send(
                    {
                        "jsonrpc": "2.0",
                        "id": msg_id,
                        "method": "textDocument/inlineCompletion",
                        "params": {
                            "textDocument": {"uri": uri},
                            "position": {"line": 3, "character": 7},
                            "context": {"triggerKind": 2},
                        },
                    }
                )
            time.sleep(0.5)
        wait(lambda: reader.answered(ids), 120, reader)

        wait(lambda: reader.largest_diagnostics() > 2 * 65536, 120, reader)
        send({"jsonrpc": "2.0", "id": 9999, "method": "shutdown"})
        wait(lambda: reader.answered({9999}), 60, reader)
        send({"jsonrpc": "2.0", "method": "exit"})
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    reader.join(10)
    assert not reader.problems


def test_a_stdout_made_non_blocking_still_gets_whole_frames(workspace: Workspace) -> None:
    """A process sharing the pipe (an editor's wrapper, a child that inherited it) may set it
    non-blocking: a write of a frame bigger than the pipe then stops where the pipe is full, and
    the client would read the next message's header inside this one's body (``about 64 KB into
    its body``). The server waits for the pipe instead, and goes on where it stopped."""
    workspace.write("keep.py", "x = 1\n")
    workspace.commit("init")
    text = "".join(f"import module_{i}\n" for i in range(1500))
    path = workspace.write("many.py", text)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    process = subprocess.Popen(
        SERVER_COMMAND,
        stdin=subprocess.PIPE,
        stdout=write_end,
        stderr=subprocess.DEVNULL,
        cwd=workspace.root,
    )
    os.close(write_end)
    assert process.stdin is not None
    stdout = os.fdopen(read_end, "rb")
    reader: StrictReader | None = None
    try:
        process.stdin.write(frame(initialize(workspace.root.as_uri())))
        process.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        process.stdin.write(frame(did_open(path.as_uri(), text)))
        process.stdin.flush()
        # Nobody reads for a while: the pipe fills with the start of the diagnostics.
        time.sleep(8)
        reader = StrictReader(stdout)

        wait(lambda: reader.largest_diagnostics() > 2 * 65536, 120, reader)
        process.stdin.write(frame({"jsonrpc": "2.0", "id": 9, "method": "shutdown"}))
        process.stdin.flush()
        wait(lambda: reader.answered({9}), 60, reader)
    finally:
        process.kill()
        process.wait(10)
    assert reader is not None and not reader.problems

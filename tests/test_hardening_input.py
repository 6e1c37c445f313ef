"""Big and hostile input over real stdio: fuzzed messages are all answered and the server goes
on serving; a 50 MB document is refused at once, clearly, while other requests are answered."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fixtures.lsp_fuzz import FuzzClient, Fuzzed, messages
from fixtures.workspace import Workspace
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

BATCHES = 200
BATCH_SIZE = 50
KNOWN = "known.py"


@pytest.fixture
def client(workspace: Workspace):
    workspace.write(KNOWN, "import os\n\nvalue = os.path.join('a', 'b')\n")
    server = FuzzClient(str(workspace.root))
    key = server.request(
        "initialize",
        {"processId": None, "rootUri": workspace.root.as_uri(), "capabilities": {}},
    )
    assert server.wait_answers([key], 60) == []
    server.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    server.open_document(workspace.uri(KNOWN), workspace.read(KNOWN))
    yield server
    server.close()


def still_serves(client: FuzzClient, uri: str) -> bool:
    key = client.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 10}},
    )
    return client.wait_answers([key], 30) == [] and "result" in client.answer_bodies[key]


def test_ten_thousand_fuzzed_messages_are_all_answered(
    client: FuzzClient, workspace: Workspace
) -> None:
    uri = workspace.uri(KNOWN)
    unanswered: list[str] = []

    @settings(
        max_examples=BATCHES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(messages(), min_size=BATCH_SIZE, max_size=BATCH_SIZE))
    def batch(items: list[Fuzzed]) -> None:
        expected = client.send_fuzzed(items)
        missing = client.wait_answers(expected, 20)
        unanswered.extend(missing)
        assert missing == [], [json.loads(k) for k in missing]
        assert still_serves(client, uri)

    batch()
    assert client.sent_messages >= BATCHES * BATCH_SIZE
    assert client.sent_requests > 1000
    assert unanswered == []
    assert client.process.poll() is None


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _open(client: FuzzClient, uri: str, text: str) -> None:
    client.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
            },
        }
    )


def _refusals(client: FuzzClient, name: str) -> list[str]:
    return [
        n["params"]["message"]
        for n in list(client.notifications)
        if n.get("method") == "window/showMessage" and f"{name} is" in n["params"]["message"]
    ]


@pytest.mark.parametrize("megabytes", [50, 8], ids=["50 MB: too big to read", "8 MB: read"])
def test_a_huge_document_is_refused_once_and_everything_else_still_served(
    client: FuzzClient, workspace: Workspace, megabytes: int
) -> None:
    known = workspace.uri(KNOWN)
    big = workspace.uri("big.py")
    assert still_serves(client, known)
    before = _rss_mb(client.process.pid)
    line = "value = compute(alpha, beta, gamma)  # a line of generated code\n"
    _open(client, big, line * (megabytes * 1_000_000 // len(line)))
    assert still_serves(client, known)
    (refusal,) = _wait(lambda: _refusals(client, "big.py"))
    assert f"{megabytes:.1f} MB" in refusal or f"{megabytes}." in refusal
    assert "over the 5 MB limit (workspace.maxDocumentMb)" in refusal
    # Less memory than the message itself: it was never decoded whole, or let go at once.
    assert _rss_mb(client.process.pid) - before < megabytes * 3

    # Its edits are ignored, requests about it are answered with nothing, and it is said once.
    client.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": big, "version": 2},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 0},
                            "end": {"line": 0, "character": 5},
                        },
                        "text": "total",
                    }
                ],
            },
        }
    )
    key = client.request(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": big},
            "position": {"line": 0, "character": 5},
            "context": {"triggerKind": 1},
        },
    )
    assert client.wait_answers([key], 30) == []
    assert client.answer_bodies[key]["result"] == {"items": []}
    assert len(_refusals(client, "big.py")) == 1

    # Replaced by a text within the limit, it is read again.
    client.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": big, "version": 3},
                "contentChanges": [{"text": "import os\n\nvalue = os.path.join('a', 'b')\n"}],
            },
        }
    )
    assert still_serves(client, big)
    assert still_serves(client, known)


def test_a_request_too_big_to_read_is_answered_with_an_error(client: FuzzClient) -> None:
    params = {"textDocument": {"uri": "file:///x.py"}, "position": {"line": 0, "character": 0}}
    body = {"jsonrpc": "2.0", "id": 77, "method": "textDocument/completion", "params": params}
    body["params"]["padding"] = "x" * 40_000_000
    client.send(body)
    assert client.wait_answers(["77"], 60) == []
    error = client.answer_bodies["77"]["error"]
    assert error["code"] == -32600 and "40.0 MB" in error["message"]


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)

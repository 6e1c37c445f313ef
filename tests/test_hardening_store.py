"""An acknowledged event is committed, over real stdio and a real SQLite file: the commands that
report what the developer did answer only once the store has the event (a kill -9 the moment
after loses nothing), and a store that stops taking writes (a full disk) is said to the user
once while the server goes on serving."""

from __future__ import annotations

import resource
import sqlite3
import time
from pathlib import Path

from fixtures.lsp import REPEATED
from fixtures.lsp_fuzz import FuzzClient
from fixtures.workspace import Workspace

from tactful.feedback import events as ev
from tactful.feedback.store import StoreUnavailable, read_events

# After ``REPEATED``, the local engine completes this line (``th.join(base,``).
LINE = "middle = os.pa"
WARNING = 2  # MessageType.Warning


def start(workspace: Workspace, store: Path, preexec_fn=None) -> tuple[FuzzClient, str]:
    """A server whose completions are all shown (filter off), with its store at ``store``,
    and a document open where the local engine has a suggestion."""
    client = FuzzClient(str(workspace.root), preexec_fn=preexec_fn)
    options = {
        "completion": {"engine": "local"},
        "filter": {"enabled": False},
        "feedback": {"store": str(store)},
    }
    key = client.request(
        "initialize",
        {
            "processId": None,
            "rootUri": workspace.root.as_uri(),
            "capabilities": {},
            "initializationOptions": options,
        },
    )
    assert client.wait_answers([key], 60) == []
    client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    uri = workspace.uri("m.py")
    client.open_document(uri, REPEATED + LINE)
    return client, uri


def suggestion_id(client: FuzzClient, uri: str) -> str:
    """The id of the suggestion the server shows at the end of ``LINE`` (asked for by a key;
    again while the engine misses its budget, as it can on a loaded machine)."""
    deadline = time.monotonic() + 60
    while True:
        key = client.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": REPEATED.count("\n"), "character": len(LINE)},
                "context": {"triggerKind": 1},
            },
        )
        assert client.wait_answers([key], 60) == []
        items = client.answer_bodies[key]["result"]["items"]
        if items:
            return items[0]["command"]["arguments"][0]
        assert time.monotonic() < deadline, "the local engine had no suggestion"


def command(client: FuzzClient, name: str, item_id: str) -> str:
    return client.request("workspace/executeCommand", {"command": name, "arguments": [item_id]})


def stored(store: Path, kind: str) -> list[str]:
    """Item ids of the events of ``kind`` in the store's file (read as ``tactful stats`` does)."""
    try:
        return [e.item_id for e in read_events(store, kinds=[kind])]
    except StoreUnavailable:
        return []  # being created


def wait_until(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return value


def store_messages(client: FuzzClient) -> list[dict]:
    return [
        n["params"]
        for n in list(client.notifications)
        if n.get("method") == "window/showMessage" and "feedback store" in n["params"]["message"]
    ]


def test_an_answered_accept_is_in_the_store_when_the_server_is_killed(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    client, uri = start(workspace, store)
    try:
        accepted = suggestion_id(client, uri)
        wait_until(lambda: accepted in stored(store, ev.SUGGESTION_SHOWN))
        # Another process holds the store's write lock: the commit waits for it, so the
        # answer must too (an answer now would be a promise the file does not keep yet).
        holder = sqlite3.connect(store, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            key = command(client, "tactful.acceptSuggestion", accepted)
            assert client.wait_answers([key], 1.5) == [key]
        finally:
            holder.execute("COMMIT")
            holder.close()
        assert client.wait_answers([key], 30) == []
        assert client.answer_bodies[key]["result"] is True

        rejected = suggestion_id(client, uri)
        key = command(client, "tactful.rejectSuggestion", rejected)
        assert client.wait_answers([key], 30) == []
        assert client.answer_bodies[key]["result"] is True
        client.process.kill()  # SIGKILL the moment the answer is read
        client.process.wait(10)
    finally:
        client.close()
    assert stored(store, ev.SUGGESTION_ACCEPTED) == [accepted]
    assert stored(store, ev.SUGGESTION_REJECTED) == [rejected]


def answered_only_once_committed(
    client: FuzzClient, store: Path, name: str, item_id: str, kind: str
) -> None:
    """Run ``name`` on ``item_id`` while another process holds the store's write lock (no
    answer while the commit waits), then release it, read the answer and SIGKILL the server
    at once: the event of ``kind`` must be in the file."""
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        key = command(client, name, item_id)
        assert client.wait_answers([key], 1.5) == [key], f"{name} answered before its commit"
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert client.wait_answers([key], 30) == []
    assert client.answer_bodies[key]["result"] is True
    client.process.kill()  # SIGKILL the moment the answer is read
    client.process.wait(10)
    assert item_id in stored(store, kind)


def test_an_answered_comment_dismissal_is_in_the_store_when_the_server_is_killed(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    workspace.write("geo.py", "def area(w, h):\n    return w * h\n")
    workspace.commit("init")
    changed = "def area(w, h):\n    print(w)\n    return w * h\n"
    workspace.write("geo.py", changed)
    client, _ = start(workspace, store)
    try:
        uri = workspace.uri("geo.py")
        client.open_document(uri, changed)

        def comment_id() -> str | None:
            for note in list(client.notifications):
                if note.get("method") != "textDocument/publishDiagnostics":
                    continue
                if note["params"]["uri"] != uri:
                    continue
                for diagnostic in note["params"]["diagnostics"]:
                    if diagnostic.get("source") == "tactful.review":
                        return diagnostic["data"]["id"]
            return None

        item_id = wait_until(comment_id)
        wait_until(lambda: item_id in stored(store, ev.COMMENT_SHOWN))
        answered_only_once_committed(
            client, store, "tactful.dismissComment", item_id, ev.COMMENT_DISMISSED
        )
    finally:
        client.close()


def test_an_answered_applied_fix_is_in_the_store_when_the_server_is_killed(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    workspace.write("pyproject.toml", "[tool.ruff.lint]\nselect = ['F401']\n")
    client, _ = start(workspace, store)
    try:
        uri = workspace.uri("mod.py")
        client.open_document(uri, "import os\n\n\ndef f():\n    return 1\n")

        def fix_id() -> str | None:
            key = client.request(
                "textDocument/codeAction",
                {
                    "textDocument": {"uri": uri},
                    "range": {
                        "start": {"line": 0, "character": 0},
                        "end": {"line": 1, "character": 0},
                    },
                    "context": {"diagnostics": []},
                },
            )
            assert client.wait_answers([key], 30) == []
            for action in client.answer_bodies[key].get("result") or []:
                command_of = action.get("command")
                if isinstance(command_of, dict) and command_of["command"] == "tactful.fixApplied":
                    return command_of["arguments"][0]
            time.sleep(0.1)
            return None

        item_id = wait_until(fix_id)
        wait_until(lambda: item_id in stored(store, ev.FIX_OFFERED))
        answered_only_once_committed(client, store, "tactful.fixApplied", item_id, ev.FIX_APPLIED)
    finally:
        client.close()


def test_a_full_disk_is_said_once_and_the_server_keeps_serving(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    limit = 1 << 20

    def small_disk() -> None:
        # No file of the server may grow past 1 MB: the store's write-ahead log soon does,
        # and its writes then fail as on a full disk (SQLite: "database or disk is full").
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    client, uri = start(workspace, store, preexec_fn=small_disk)
    try:
        deadline = time.monotonic() + 180
        while not store_messages(client):
            assert time.monotonic() < deadline, "nothing said about the store in 180 s"
            key = command(client, "tactful.acceptSuggestion", suggestion_id(client, uri))
            assert client.wait_answers([key], 30) == []
        (message,) = store_messages(client)
        assert message["type"] == WARNING
        assert "full" in message["message"] and "in memory" in message["message"]
        # The server goes on, feedback in memory: accepts are still answered, nothing is
        # said again.
        for _ in range(5):
            key = command(client, "tactful.acceptSuggestion", suggestion_id(client, uri))
            assert client.wait_answers([key], 30) == []
            assert client.answer_bodies[key]["result"] is True
        time.sleep(0.5)
        assert len(store_messages(client)) == 1
    finally:
        client.close()
    # What was committed before the disk filled up is still there.
    assert stored(store, ev.SUGGESTION_ACCEPTED)

"""Memory stays flat over a long editing session: 20,000 edits over real stdio, with inline
completions asked for along the way and some accepted (tests/fixtures/editing.py), and the
server's resident memory barely moves once its bounded caches are full.

Before the bounds, every ``didChange`` left about 3 KB behind for good (pygls kept the future
of each notification handled by a coroutine), and every shown suggestion a copy of its document:
45 MB or more over these edits."""

from __future__ import annotations

from fixtures.editing import Typist, rss_mb
from fixtures.lsp_fuzz import FuzzClient
from fixtures.workspace import Workspace

EDITS = 20_000
# A completion every 4 edits: the caches of shown suggestions (512 of them) are full well before
# this many edits, so what grows after it is what the server keeps per edit.
SETTLED = 5_000
COMPLETE_EVERY = 4
BOUND_MB = 8.0


def test_memory_stays_flat_over_twenty_thousand_edits(workspace: Workspace) -> None:
    client = FuzzClient(str(workspace.root))
    try:
        key = client.request(
            "initialize",
            {"processId": None, "rootUri": workspace.root.as_uri(), "capabilities": {}},
        )
        assert client.wait_answers([key], 60) == []
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        typist = Typist(client, workspace.uri("typed.py"))

        typist.type(SETTLED, complete_every=COMPLETE_EVERY)
        settled = rss_mb(client.process.pid)
        typist.type(EDITS - SETTLED, complete_every=COMPLETE_EVERY)
        end = rss_mb(client.process.pid)
    finally:
        client.close()

    assert typist.accepted > 100  # suggestions were shown and taken all along
    assert end - settled < BOUND_MB, f"RSS {settled:.1f} MB -> {end:.1f} MB"

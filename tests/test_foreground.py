"""Work that cannot wait for a pause gives way to what the developer is waiting for: the
editor's messages read and not yet handled, and a next-edit request being answered."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from fixtures.workspace import Workspace

from tactful.analyzers.index import RepositoryIndex
from tactful.feedback.pause import Foreground, Typing
from tactful.server.transport import FrameReader, StdinFrames


def _frame(body: str) -> bytes:
    data = body.encode()
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


def test_messages_read_from_the_editor_are_waited_for_until_handled() -> None:
    read_end, write_end = os.pipe()
    frames = StdinFrames(FrameReader(), fd=read_end)
    seen: list[tuple[bytes, bool]] = []

    async def main() -> None:
        frames.start(asyncio.get_running_loop())
        os.write(
            write_end,
            _frame('{"jsonrpc": "2.0", "method": "a"}')
            + _frame('{"jsonrpc": "2.0", "method": "b"}'),
        )
        os.close(write_end)

        def dispatch(item: object) -> None:
            assert isinstance(item, bytes)
            seen.append((item, frames.foreground.waiting))

        await frames.deliver(dispatch, threading.Event())

    asyncio.run(main())
    os.close(read_end)
    # Each message is waited for while it is handled, and nothing is once all are.
    assert [waiting for _, waiting in seen] == [True, True]
    assert [body for body, _ in seen] == [
        b'{"jsonrpc": "2.0", "method": "a"}',
        b'{"jsonrpc": "2.0", "method": "b"}',
    ]
    assert not frames.foreground.waiting


def test_an_index_update_gives_way_while_a_next_edit_request_is_answered(
    workspace: Workspace,
) -> None:
    workspace.write("src/app.py", "def handle_request(request):\n    return request\n")
    workspace.commit("app")
    typing = Typing()
    index = RepositoryIndex(workspace.root, persist=False, give_way=typing.foreground.give_way)
    index.build()
    assert "handle_request" in index.identifiers("python")

    typing.began(foreground=True)
    changed = "def answer_request(request):\n    return request\n"
    update = threading.Thread(
        target=index.update, args=(workspace.root / "src/app.py", changed), daemon=True
    )
    update.start()
    time.sleep(0.3)
    # Still waiting: the file's new words are not counted yet.
    assert update.is_alive()
    assert "answer_request" not in index.identifiers("python")
    typing.ended(foreground=True)
    update.join(timeout=5)
    assert not update.is_alive()
    assert "answer_request" in index.identifiers("python")
    assert "handle_request" not in index.identifiers("python")


def test_giving_way_waits_at_most_its_limit_and_not_at_all_when_nothing_waits() -> None:
    foreground = Foreground()
    started = time.monotonic()
    foreground.give_way(limit_s=1.0)
    assert time.monotonic() - started < 0.5
    foreground.add(2)
    foreground.done()
    assert foreground.waiting
    started = time.monotonic()
    foreground.give_way(limit_s=0.2)
    assert 0.15 <= time.monotonic() - started < 2.0
    started = time.monotonic()
    asyncio.run(foreground.given_way(limit_s=0.2))
    assert 0.15 <= time.monotonic() - started < 2.0
    foreground.done()
    assert not foreground.waiting
    started = time.monotonic()
    asyncio.run(foreground.given_way(limit_s=1.0))
    assert time.monotonic() - started < 0.5

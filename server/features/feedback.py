"""Feedback: the event store and the acceptance models, wired to what the editor does.

Not an LSP method of its own: this feature owns the ``FeedbackLoop`` (``server.services.feedback``),
opens the store from ``initialized`` without blocking the loop, follows ``filter.*`` settings,
feeds every document change to the loop so it can infer rejections (DESIGN §2), and closes the
store on shutdown. A store that cannot be used — at start, or later when a write fails (a full
disk) — is said once (a warning message) and the server goes on with feedback kept in memory.

The commands that report what the developer did (accept, reject, dismiss, fix applied) answer
once what they recorded is committed to the store (``committed``): an editor that got the
answer may be killed the next moment and the event is still there.

The loop is called explicitly by what it judges: the completion pipeline
(``tactful.feedback.completion``: ``gate``, ``judge``, ``shown``) and the accept
and reject commands (``inline_completion.py``); review comments ``judge_item``/``item_shown``/
``comment_dismissed``; fixes ``fix_applied``/``verdict``; anything else ``record(event)``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.analyzers.document import Document

if TYPE_CHECKING:
    from tactful.feedback.loop import FilterOptions
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

# The longest a command waits for the store to commit what it recorded: beyond the store's own
# wait for a file another process has locked (5 s), after which the events are kept in memory.
COMMIT_WAIT_S = 10.0


async def committed(server: TactfulServer) -> bool:
    """Wait until what the feedback loop recorded so far is committed to the store; True when
    it reached the file. The writer thread does the work and this coroutine awaits its future,
    so the event loop goes on serving; after ``COMMIT_WAIT_S`` it gives up waiting (the events
    stay queued) and says so in the log."""
    loop = server.services.feedback
    if loop is None:
        return False
    try:
        return await asyncio.wait_for(asyncio.wrap_future(loop.store.committed()), COMMIT_WAIT_S)
    except TimeoutError:
        logger.warning("the feedback store did not commit within %.0f s", COMMIT_WAIT_S)
        return False


def _options(server: TactfulServer) -> FilterOptions:
    from tactful.feedback.loop import FilterOptions

    f = server.settings.filter
    return FilterOptions(enabled=f.enabled, threshold=f.threshold, explore=f.explore, learn=f.learn)


def register(server: TactfulServer) -> None:
    def start() -> None:
        # Imported at ``initialized``, not at start: ``initialize`` needs neither.
        from tactful.feedback.loop import FeedbackLoop
        from tactful.feedback.store import FeedbackStore, store_path

        settings = server.settings.feedback
        event_loop = asyncio.get_running_loop()

        def say(problem: str) -> None:
            # Heard on the store's writer thread; said from the event loop.
            event_loop.call_soon_threadsafe(server.show_message, problem, types.MessageType.Warning)

        store = FeedbackStore(
            store_path(settings.store), keep_code=settings.store_code, on_problem=say
        )
        loop = server.services.feedback = FeedbackLoop(store, _options(server))
        if server.settings.feedback.team:
            from tactful.server.features.team import start_team

            start_team(server, loop, str(server.workspace_root or ""))

    def settings_changed() -> None:
        loop = server.services.feedback
        if loop is not None:
            loop.configure(_options(server))
            loop.store.keep_code = server.settings.feedback.store_code

    def changed(document: Document) -> None:
        loop = server.services.feedback
        if loop is not None and loop.outcomes.pending(document.uri):
            loop.document_changed(document.uri, document.version, document.text)

    def closed(document: Document) -> None:
        loop = server.services.feedback
        if loop is not None:
            loop.document_closed(document.uri)

    def stop() -> None:
        loop, server.services.feedback = server.services.feedback, None
        if loop is not None:
            loop.save()
            if server.services.team is not None:
                from tactful.server.features.team import stop_team

                stop_team(server)
            loop.store.close(timeout=3.0)

    server.initialized_listeners.append(start)
    server.settings_listeners.append(settings_changed)
    server.listeners["change"].append(changed)
    server.listeners["close"].append(closed)
    server.shutdown_listeners.append(stop)

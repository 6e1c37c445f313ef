"""Feedback: the event store and the acceptance models, wired to what the editor does.

Not an LSP method of its own: this feature owns the ``FeedbackLoop`` (``server.services.feedback``),
opens the store from ``initialized`` without blocking the loop, follows ``filter.*`` settings,
feeds every document change to the loop so it can infer rejections (DESIGN §2), and closes the
store on shutdown. A store that cannot be used is said once (a warning message) and the server
goes on with feedback kept in memory.

The loop is called explicitly by what it judges: the completion pipeline
(``tactful.feedback.completion``: ``gate``, ``judge``, ``shown``, ``unanswered``) and the accept
and reject commands (``inline_completion.py``); review comments ``judge_item``/``item_shown``/
``comment_dismissed``; fixes ``fix_applied``/``verdict``; anything else ``record(event)``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.analyzers.document import Document
from tactful.server.executor import run_blocking

if TYPE_CHECKING:
    from tactful.feedback.loop import FilterOptions
    from tactful.feedback.store import FeedbackStore
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)


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
        store = FeedbackStore(store_path(settings.store), keep_code=settings.store_code)
        loop = server.services.feedback = FeedbackLoop(store, _options(server))
        if server.settings.feedback.team:
            from tactful.server.features.team import start_team

            start_team(server, loop, str(server.workspace_root or ""))
        server.spawn(_say_problem(server, store), name="opening the feedback store")

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


async def _say_problem(server: TactfulServer, store: FeedbackStore) -> None:
    problem = await run_blocking(lambda: store.problem)
    if problem:
        server.show_message(problem, types.MessageType.Warning)

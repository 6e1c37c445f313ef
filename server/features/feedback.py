"""Feedback: the event store and the acceptance models, wired to what the editor does.

Not an LSP method of its own: this feature owns the ``FeedbackLoop`` (service ``"feedback"``),
opens the store from ``initialized`` without blocking the loop, follows ``filter.*`` settings,
feeds every document change to the loop so it can infer rejections (DESIGN §2), and closes the
store on shutdown. A store that cannot be used is said once (a warning message) and the server
goes on with feedback kept in memory.

Completions are wired here through the suggestion registry's hooks: ``gate`` (ask an engine
at all?), ``filter`` (show this suggestion?), ``on_shown``, ``on_accepted``, ``on_rejected``.
A decision needs only the cursor's line and the one above, found through the document's line
index, so it costs microseconds however long the file.

Other features reach the loop as ``server.services.get("feedback")`` (absent before
``initialized``): review ``judge_item``/``item_shown``/``comment_dismissed``; fixes
``fix_applied``/``verdict``; anything else ``record(event)``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.analyzers.document import Document
from tactful.feedback.acceptance import Candidate, Context, Decision
from tactful.feedback.loop import FeedbackLoop, FilterOptions
from tactful.feedback.store import FeedbackStore, store_path
from tactful.server.executor import run_blocking
from tactful.server.features.inline_completion import suggestions_of
from tactful.server.features.team import start_team, stop_team
from tactful.suggestion.registry import ShownSuggestion
from tactful.suggestion.types import CompletionRequest, Suggestion

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

SERVICE = "feedback"


def loop_of(server: TactfulServer) -> FeedbackLoop | None:
    """The server's feedback loop, or None before ``initialized``."""
    loop = server.services.get(SERVICE)
    return loop if isinstance(loop, FeedbackLoop) else None


def workspace_key(server: TactfulServer) -> str:
    """What a workspace's models are saved under: its root folder."""
    return str(server.workspace_root) if server.workspace_root is not None else ""


def _options(server: TactfulServer) -> FilterOptions:
    f = server.settings.filter
    return FilterOptions(enabled=f.enabled, threshold=f.threshold, explore=f.explore, learn=f.learn)


# Where a decision is kept between the hooks: on the suggestion itself (its ``meta``).
_DECISION = "feedback.decision"


@dataclass
class _Moment:
    """A request in flight: its context, the gate's decision, and whether the filter judged a
    suggestion for it (the loop learned from each such judgement)."""

    request: CompletionRequest
    ctx: Context
    gate: Decision
    judged: bool = False


class _Hooks:
    """The suggestion registry's hooks, backed by the feedback loop."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server
        # The requests in flight, by identity: the filter hook sees the request object the
        # gate saw.
        self._moments: dict[int, _Moment] = {}

    def _moment(self, request: CompletionRequest) -> _Moment | None:
        moment = self._moments.get(id(request))
        return moment if moment is not None and moment.request is request else None

    def _context(self, loop: FeedbackLoop, request: CompletionRequest) -> Context:
        text = request.text
        point = request.position
        document = self.server.documents.get(request.uri)
        if document is not None and document.version == request.version:
            cursor = document.lines.offset(point, text)
            start = cursor - point.column
        else:
            start = 0
            for _ in range(point.line):
                start = text.find("\n", start) + 1
                if start == 0:
                    start = len(text)
                    break
            cursor = min(start + point.column, len(text))
        end = text.find("\n", cursor)
        end = len(text) if end < 0 else end
        previous = ""
        if start > 0:
            previous = text[text.rfind("\n", 0, start - 1) + 1 : start - 1]
        return loop.context(
            workspace_key(self.server),
            request.language_id,
            text[start:cursor],
            text[cursor:end],
            previous,
            point.line,
            request.trigger,
            document=request.uri,
            path=_relative(request.path, request.workspace_root),
        )

    def gate(self, request: CompletionRequest) -> bool:
        loop = loop_of(self.server)
        if loop is None:
            return True
        ctx = self._context(loop, request)
        decision = loop.gate(workspace_key(self.server), ctx)
        self._moments.pop(id(request), None)
        self._moments[id(request)] = _Moment(request, ctx, decision)
        while len(self._moments) > 32:
            del self._moments[next(iter(self._moments))]
        return decision.show

    def unanswered(self, request: CompletionRequest) -> None:
        loop = loop_of(self.server)
        moment = self._moment(request)
        if loop is not None and moment is not None and not moment.judged:
            loop.unanswered(workspace_key(self.server), moment.gate)

    def filter(self, request: CompletionRequest, suggestion: Suggestion) -> bool:
        loop = loop_of(self.server)
        if loop is None:
            return True
        moment = self._moment(request)
        if moment is not None:
            ctx, gate = moment.ctx, moment.gate
            moment.judged = True
        else:
            ctx, gate = self._context(loop, request), None
        decision = loop.judge(workspace_key(self.server), ctx, Candidate.of(suggestion), gate)
        suggestion.meta[_DECISION] = (ctx, decision)
        return decision.show

    def shown(self, shown: ShownSuggestion) -> None:
        loop = loop_of(self.server)
        kept = shown.suggestion.meta.get(_DECISION)
        if loop is None or kept is None:
            return
        ctx, decision = kept
        request = shown.request
        loop.shown(
            shown.id,
            workspace_key(self.server),
            ctx,
            decision,
            request.uri,
            request.version,
            request.text,
            shown.offset + shown.suggestion.replace_prefix,
            shown.suggestion.text,
        )

    def accepted(self, shown: ShownSuggestion, length: int | None) -> None:
        loop = loop_of(self.server)
        if loop is not None:
            loop.accepted(shown.id, length)

    def rejected(self, shown: ShownSuggestion, explicit: bool) -> None:
        loop = loop_of(self.server)
        if loop is not None:
            loop.rejected(shown.id, explicit)


def _relative(path: str | None, root: str | None) -> str:
    """The document's path inside the workspace (folders above it say nothing about it)."""
    if not path:
        return ""
    if root and path.startswith(root.rstrip("/\\") + os.sep):
        return os.path.relpath(path, root)
    return os.path.basename(path)


def register(server: TactfulServer) -> None:
    def start() -> None:
        settings = server.settings.feedback
        store = FeedbackStore(store_path(settings.store), keep_code=settings.store_code)
        loop = FeedbackLoop(store, _options(server))
        server.services[SERVICE] = loop
        start_team(server, loop, workspace_key(server))
        server.spawn(_say_problem(server, store), name="opening the feedback store")

    def settings_changed() -> None:
        loop = loop_of(server)
        if loop is not None:
            loop.configure(_options(server))
            loop.store.keep_code = server.settings.feedback.store_code

    def changed(document: Document) -> None:
        loop = loop_of(server)
        if loop is not None and loop.outcomes.pending(document.uri):
            resolved = loop.document_changed(document.uri, document.version, document.text)
            registry = suggestions_of(server)
            for resolution in resolved:
                if resolution.outcome == "rejected":
                    # Other listeners hear of inferred rejections too (ours already has it).
                    registry.rejected(resolution.shown.item_id, explicit=False)

    def closed(document: Document) -> None:
        loop = loop_of(server)
        if loop is not None:
            loop.document_closed(document.uri)

    def stop() -> None:
        loop = server.services.pop(SERVICE, None)
        if isinstance(loop, FeedbackLoop):
            loop.save()
            stop_team(server)
            loop.store.close(timeout=3.0)

    hooks = _Hooks(server)
    registry = suggestions_of(server)
    registry.gate = hooks.gate
    registry.filter = hooks.filter
    registry.on_shown.append(hooks.shown)
    registry.on_accepted.append(hooks.accepted)
    registry.on_rejected.append(hooks.rejected)
    registry.on_unanswered.append(hooks.unanswered)
    server.initialized_listeners.append(start)
    server.settings_listeners.append(settings_changed)
    server.listeners["change"].append(changed)
    server.listeners["close"].append(closed)
    server.shutdown_listeners.append(stop)


async def _say_problem(server: TactfulServer, store: FeedbackStore) -> None:
    problem = await run_blocking(lambda: store.problem)
    if problem:
        server.show_message(problem, types.MessageType.Warning)

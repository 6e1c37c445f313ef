"""``textDocument/inlineCompletion``: ghost text at the cursor (LSP 3.18), one line or several.

The handler takes a snapshot of the document, asks the engines that ``completion.engine``
selects (``auto``: the LLM engine when one is registered and answers in time, else the local
engine), post-processes what comes back, lets the suggestion filter hide what it judges
unlikely to be accepted, gives each item an id and the command ``tactful.acceptSuggestion [id]``
the editor runs on accept, and converts columns to the client's encoding (UTF-16 by default).

Two rules keep answers fresh: a newer request for a document cancels the older one still in
flight (the older is answered with no items), and a result computed for a version of the
document that is no longer current is never returned.

This module also owns the services the completion features share (``services`` names below):
the engine registry, the registry of shown suggestions with its filter and hooks, and the
``tactful.acceptSuggestion`` / ``tactful.rejectSuggestion`` commands, thin calls into it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from tree_sitter import Tree

from tactful.analyzers.document import Document
from tactful.analyzers.text import Point, Span
from tactful.server.convert import Lines, to_point, to_range
from tactful.server.errors import guard
from tactful.suggestion import postprocess
from tactful.suggestion.engine import LLM, CompletionEngine, EngineRegistry
from tactful.suggestion.registry import ShownSuggestion, SuggestionRegistry
from tactful.suggestion.types import CompletionRequest, Suggestion

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

ENGINES = "completion.engines"
SUGGESTIONS = "completion.suggestions"
COMPLETER = "completion.completer"
ACCEPT = "tactful.acceptSuggestion"
REJECT = "tactful.rejectSuggestion"
# The local engine answers in milliseconds; past this it has gone wrong and is not waited for.
LOCAL_BUDGET_S = 0.25


def engines_of(server: TactfulServer) -> EngineRegistry:
    """The completion engines (the LLM feature registers its engine here when configured)."""
    found = server.services.get(ENGINES)
    if not isinstance(found, EngineRegistry):
        found = server.services[ENGINES] = EngineRegistry()
    return found


def suggestions_of(server: TactfulServer) -> SuggestionRegistry:
    """Shown suggestions by id, with the filter and the shown/accepted/rejected hooks."""
    found = server.services.get(SUGGESTIONS)
    if not isinstance(found, SuggestionRegistry):
        found = server.services[SUGGESTIONS] = SuggestionRegistry()
    return found


@dataclass(frozen=True, slots=True)
class Answer:
    """Suggestions shown for one request, with the line texts to convert their columns."""

    request: CompletionRequest
    shown: list[ShownSuggestion]
    lines: Lines


class Completer:
    """The path from a position in a document to shown suggestions, shared by the inline and
    the list completion features."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server
        self._inflight: dict[str, asyncio.Task[list[Suggestion]]] = {}

    async def complete(
        self, uri: str, position: types.Position, trigger: str = "automatic"
    ) -> Answer | None:
        server = self.server
        settings = server.settings.completion
        document = server.documents.get(uri)
        if document is None or not settings.enabled:
            return None
        snapshot = document.snapshot()
        # The document's own line index: used only until the result is checked to be current.
        lines = Lines(snapshot.text, document.lines)
        point = to_point(position, lines, server.encoding)
        request = CompletionRequest(
            uri=uri,
            path=snapshot.path,
            language_id=snapshot.language_id,
            version=snapshot.version,
            text=snapshot.text,
            position=point,
            workspace_root=str(server.workspace_root) if server.workspace_root else None,
            max_lines=settings.max_lines,
            trigger=trigger,
        )
        previous = self._inflight.get(uri)
        if previous is not None and not previous.done():
            previous.cancel()
        task = asyncio.ensure_future(self._suggest(request, snapshot.tree))
        self._inflight[uri] = task
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            if self._inflight.get(uri) is task:
                del self._inflight[uri]
        if task.cancelled():
            return None  # a newer request for this document took over
        found = task.result()
        if not _current(server, document, request):
            return None
        registry = suggestions_of(server)
        return Answer(request, [registry.show(request, s) for s in found], lines)

    async def _suggest(self, request: CompletionRequest, tree: Tree | None) -> list[Suggestion]:
        """Ask the selected engines at once and take the first, in order of preference, that
        has something to show: with ``auto`` the local answer is ready the moment the LLM
        fails, misses its deadline or has nothing."""
        # Before anything is generated: is this a moment worth asking an engine at all?
        if not suggestions_of(self.server).ask(request):
            return []
        engines = engines_of(self.server).select(self.server.settings.completion.engine)
        asked = [asyncio.ensure_future(self._ask(engine, request, tree)) for engine in engines]
        try:
            for task in asked:
                kept = await task
                if kept:
                    return kept
            suggestions_of(self.server).unanswered(request)
            return []
        finally:
            for task in asked:
                task.cancel()

    async def _ask(
        self, engine: CompletionEngine, request: CompletionRequest, tree: Tree | None
    ) -> list[Suggestion]:
        settings = self.server.settings
        budget = settings.llm.timeout_s if engine.name == LLM else LOCAL_BUDGET_S
        deadline = time.monotonic() + budget
        try:
            found = await asyncio.wait_for(
                engine.complete(request, deadline=deadline), timeout=budget + 0.05
            )
        except TimeoutError:
            logger.debug("%s engine missed its deadline", engine.name)
            return []
        except Exception:
            logger.exception("%s engine failed", engine.name)
            return []
        registry = suggestions_of(self.server)
        kept: list[Suggestion] = []
        for suggestion in found:
            cleaned = postprocess.clean(request, suggestion, tree)
            # The one place where the suggestion filter (the acceptance model) decides.
            if cleaned is not None and registry.keep(request, cleaned):
                kept.append(cleaned)
        return kept


def completer_of(server: TactfulServer) -> Completer:
    found = server.services.get(COMPLETER)
    if not isinstance(found, Completer):
        found = server.services[COMPLETER] = Completer(server)
    return found


def _current(server: TactfulServer, document: Document, request: CompletionRequest) -> bool:
    return server.documents.get(request.uri) is document and document.version == request.version


def accept_command(suggestion_id: str) -> types.Command:
    return types.Command(title="Accept suggestion", command=ACCEPT, arguments=[suggestion_id])


def replaced_range(shown: ShownSuggestion, lines: Lines, encoding: str) -> types.Range:
    """The range an item replaces: the characters before the cursor it rewrites (none for a
    pure insertion), in the client's encoding."""
    position = shown.request.position
    start = Point(position.line, max(0, position.column - shown.suggestion.replace_prefix))
    return to_range(Span(start, position), lines, encoding)


def insert_text(shown: ShownSuggestion, lines: Lines) -> str:
    position = shown.request.position
    replaced = shown.suggestion.replace_prefix
    line = lines.line(position.line)
    return line[max(0, position.column - replaced) : position.column] + shown.suggestion.text


def register(server: TactfulServer) -> None:
    engines_of(server)
    suggestions_of(server)
    completer = completer_of(server)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    @guard(server, "inline completion", fallback=lambda: types.InlineCompletionList(items=[]))
    async def inline_completion(
        params: types.InlineCompletionParams,
    ) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        answer = await completer.complete(
            params.text_document.uri, params.position, "invoked" if invoked else "automatic"
        )
        if answer is None:
            return types.InlineCompletionList(items=[])
        encoding = server.encoding
        items = [
            types.InlineCompletionItem(
                insert_text=insert_text(shown, answer.lines),
                range=replaced_range(shown, answer.lines, encoding),
                command=accept_command(shown.id),
            )
            for shown in answer.shown
        ]
        return types.InlineCompletionList(items=items)

    @server.command(ACCEPT)
    @guard(server, "accepting a suggestion", fallback=False)
    def accept_suggestion(*args: Any) -> bool:
        suggestion_id = args[0] if args else None
        if not isinstance(suggestion_id, str):
            logger.warning("%s takes a suggestion id, got %r", ACCEPT, args)
            return False
        length = args[1] if len(args) > 1 and isinstance(args[1], int) else None
        return suggestions_of(server).accepted(suggestion_id, length)

    @server.command(REJECT)
    @guard(server, "rejecting a suggestion", fallback=False)
    def reject_suggestion(*args: Any) -> bool:
        suggestion_id = args[0] if args else None
        if not isinstance(suggestion_id, str):
            logger.warning("%s takes a suggestion id, got %r", REJECT, args)
            return False
        return suggestions_of(server).rejected(suggestion_id, explicit=True)

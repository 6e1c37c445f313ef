"""``textDocument/inlineCompletion``: ghost text at the cursor (LSP 3.18), one line or several.

The handler takes a snapshot of the document, makes the ``CompletionRequest`` (positions in the
client's encoding, UTF-16 by default, to code points), hands it to the completion pipeline
(``tactful.feedback.completion``: gate, engines, clean-up, filter, ids; every decision in the
request's turn), and converts what the turn shows into items, each with the command
``tactful.acceptSuggestion [id]`` the editor runs on accept. A request overtaken by a newer one
for the same document, or answered for a version that is no longer current, gets no items.

The pipeline is ``server.services.completion``, shared with ``textDocument/completion``. This
module also owns the ``tactful.acceptSuggestion`` / ``tactful.rejectSuggestion`` commands, which
tell the feedback loop what became of a shown suggestion (an id of a next edit,
``tactful/nextEdits``, goes to the next-edit pipeline instead) and answer once the store has
committed it (``server/features/feedback.py:committed``).

When the engines have nothing to show, the best next edit (``tactful/nextEdits``) is offered
instead if it lies on the cursor's line (``next_edits.on_cursor_line``): one item whose range
reaches from the edit or the cursor to the other, its command accepting the next edit. The
request never waits for the next-edit engine (its work reads the whole document's tree): the
next edit is prepared after a pause in typing, and ``tactful/inlineCompletionReady`` tells the
editor to ask again when it is ready.

``tactful/inlineCompletionReady`` (server to client): the LLM, asked in the background while
the local engine's answer was shown, or the next-edit engine after a pause, has answered for
``{textDocument: {uri, version}, position}``, and the document is still there. LSP 3.18 has
no refresh for inline completions, so the editors maintained here ask again at that moment when
their cursor is still there (VS Code runs its "trigger inline suggestion" action; the Neovim
plugin requests and replaces the ghost text), and get the answer at once. Other clients ignore
the notification and get the answer with their next request at that moment, or (the LLM's) its
rest while the developer types it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from tactful.analyzers.text import Point, Span
from tactful.server.convert import Lines, to_point, to_position, to_range
from tactful.server.errors import guard
from tactful.server.features.feedback import committed
from tactful.server.features.next_edits import on_cursor_line
from tactful.suggestion.registry import ShownSuggestion
from tactful.suggestion.types import CompletionRequest

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

ACCEPT = "tactful.acceptSuggestion"
REJECT = "tactful.rejectSuggestion"
READY = "tactful/inlineCompletionReady"


@dataclass(frozen=True, slots=True)
class Answer:
    """Suggestions shown for one request, with the line texts to convert their columns."""

    request: CompletionRequest
    shown: list[ShownSuggestion]
    lines: Lines


async def complete(
    server: TactfulServer, uri: str, position: types.Position, trigger: str = "automatic"
) -> Answer | None:
    """The suggestions to show at ``position`` of an open document (None: nothing)."""
    # Imported with the first request, not at start: ``initialize`` does not need it.
    from tactful.feedback.completion import CompletionOptions

    settings = server.settings
    document = server.documents.get(uri)
    if document is None or not settings.completion.enabled:
        return None
    # Without its tree: clean-up parses only the lines around the cursor (a long file's
    # parse costs milliseconds).
    snapshot = document.snapshot(parse=False)
    # The document's own line index: used only until the result is checked to be current.
    lines = Lines(snapshot.text, document.lines)
    root = str(server.workspace_root) if server.workspace_root else None
    request = CompletionRequest(
        uri=uri,
        path=snapshot.path,
        language_id=snapshot.language_id,
        version=snapshot.version,
        text=snapshot.text,
        position=to_point(position, lines, server.encoding),
        workspace_root=root,
        max_lines=settings.completion.max_lines,
        trigger=trigger,
        edits=snapshot.edits,
    )
    options = CompletionOptions(settings.completion.engine, settings.llm.timeout_s, root or "")

    def current() -> bool:
        return server.documents.get(uri) is document and document.version == request.version

    turn = await server.services.completion.complete(request, options, current, document.lines)
    if server.services.local.counting_wanted:
        # The local engine answered without the statistics of modules the document imports
        # now (those it had before, or none): they are built in the background.
        server.services.imports_counting.wake()
    if not turn.shown:
        return None
    return Answer(request, turn.shown, lines)


def announce(server: TactfulServer, request: CompletionRequest) -> None:
    """Tell the editor that the LLM's answer for ``request`` is ready (``READY``), while the
    document is still at the request's version."""
    ready(server, request.uri, request.version, request.position)


def ready(server: TactfulServer, uri: str, version: int, point: Point) -> None:
    """Tell the editor that an answer for ``point`` of ``uri`` at ``version`` is ready
    (``READY``: the LLM's, or a next edit prepared after a pause), while the document is still
    at that version."""
    document = server.documents.get(uri)
    if document is None or document.version != version:
        return
    position = to_position(point, Lines.of(document), server.encoding)
    server.protocol.notify(
        READY,
        {
            "textDocument": {"uri": uri, "version": version},
            "position": {"line": position.line, "character": position.character},
        },
    )


def accept_command(suggestion_id: str) -> types.Command:
    return types.Command(title="Accept suggestion", command=ACCEPT, arguments=[suggestion_id])


def replaced_range(shown: ShownSuggestion, lines: Lines, encoding: str) -> types.Range:
    """The range an item replaces: the characters before the cursor it rewrites (none for a
    pure insertion), in the client's encoding."""
    position = shown.position
    start = Point(position.line, max(0, position.column - shown.suggestion.replace_prefix))
    return to_range(Span(start, position), lines, encoding)


def insert_text(shown: ShownSuggestion, lines: Lines) -> str:
    position = shown.position
    replaced = shown.suggestion.replace_prefix
    line = lines.line(position.line)
    return line[max(0, position.column - replaced) : position.column] + shown.suggestion.text


def register(server: TactfulServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    @guard(server, "inline completion", fallback=lambda: types.InlineCompletionList(items=[]))
    async def inline_completion(
        params: types.InlineCompletionParams,
    ) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        answer = await complete(
            server,
            params.text_document.uri,
            params.position,
            "invoked" if invoked else "automatic",
        )
        if answer is None:
            if not server.settings.completion.enabled:
                return types.InlineCompletionList(items=[])
            # Nothing better from the engines: the next edit, when it is on this line.
            found = await on_cursor_line(
                server,
                params.text_document.uri,
                params.position,
                lambda asked: ready(server, asked.uri, asked.version, asked.position),
            )
            if found is None:
                return types.InlineCompletionList(items=[])
            lines = Lines(found.shown.text, found.shown.lines)
            item = types.InlineCompletionItem(
                insert_text=found.text,
                range=to_range(found.span, lines, server.encoding),
                command=accept_command(found.shown.id),
            )
            return types.InlineCompletionList(items=[item])
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
    async def accept_suggestion(*args: Any) -> bool:
        next_edits = server.services.next_edits
        if args and next_edits is not None and next_edits.get(str(args[0])) is not None:
            accepted = await next_edits.accepted(str(args[0]))
            await committed(server)
            return accepted
        suggestion_id = _shown_id(server, ACCEPT, args)
        if suggestion_id is None:
            return False
        length = args[1] if len(args) > 1 and isinstance(args[1], int) else None
        loop = server.services.feedback
        if loop is not None:
            loop.accepted(suggestion_id, length)
            await committed(server)
        return True

    @server.command(REJECT)
    @guard(server, "rejecting a suggestion", fallback=False)
    async def reject_suggestion(*args: Any) -> bool:
        next_edits = server.services.next_edits
        if args and next_edits is not None and next_edits.get(str(args[0])) is not None:
            rejected = await next_edits.rejected(str(args[0]))
            await committed(server)
            return rejected
        suggestion_id = _shown_id(server, REJECT, args)
        if suggestion_id is None:
            return False
        loop = server.services.feedback
        if loop is not None:
            loop.rejected(suggestion_id, explicit=True)
            await committed(server)
        return True


def _shown_id(server: TactfulServer, command: str, args: tuple[Any, ...]) -> str | None:
    """The id of a shown suggestion a command names (None: not one we showed)."""
    suggestion_id = args[0] if args else None
    if not isinstance(suggestion_id, str):
        logger.warning("%s takes a suggestion id, got %r", command, args)
        return None
    return suggestion_id if server.services.completion.shown.get(suggestion_id) else None

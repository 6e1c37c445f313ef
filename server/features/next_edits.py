"""``tactful/nextEdits``: after an edit, the follow-up edits it calls for, anywhere.

Request params ``{textDocument: {uri}, position}``; result ``{items: [{id, uri, range,
newText, label, source}]}``, best first, empty when nothing is worth showing. An item may be
anywhere in the document or in another file (its ``uri``); ``range`` is in the client's
position encoding, in the text of that file as it is now. Advertised as
``capabilities.experimental.tactfulNextEdits = true``. Accepting an item runs
``tactful.acceptSuggestion [id]``, dismissing it ``tactful.rejectSuggestion [id]`` (the
commands completions use; ``inline_completion.py`` hands next edits' ids to the pipeline).

The handler converts the request, calls the next-edit pipeline (``tactful.feedback.next_edits``)
and converts what it shows. Next edits in other files are validated by the workspace's tests
when it is trusted and validation is on (the sandbox fixes use), and their labels say so.

When the completion engines have nothing to show at the cursor, ``inline_completion.py`` asks
``on_cursor_line`` for the best next edit as an inline completion, offered only when it lies on
the cursor's line; accepting it accepts the next edit. That answer never waits for the engine:
it is prepared after a pause in typing, and the editor is told to ask again when it is ready
(``tactful/inlineCompletionReady``).

This module also feeds the pipeline's edit history: what each ``didOpen``, ``didChange`` and
``didClose`` says, on the next-edit worker (in the order it came, off the event loop; a burst
of changes as one job, ``Worker.post``). The pipeline, and the engine it loads, are made there
with the first document opened, never at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
from lsprotocol import types

from tactful.analyzers.document import Document
from tactful.analyzers.text import TextChange
from tactful.server.convert import Lines, to_point, to_range
from tactful.server.errors import guard
from tactful.server.executor import NEXT_EDITS, run_blocking
from tactful.server.validation import validation_of

if TYPE_CHECKING:
    from tactful.feedback.next_edits import InlineNextEdit, NextEditPipeline, ShownNextEdit
    from tactful.server.app import TactfulServer
    from tactful.suggestion.next_edits import NextEditRequest

logger = logging.getLogger(__name__)

METHOD: Final = "tactful/nextEdits"
CAPABILITY = "tactfulNextEdits"


@attrs.define
class NextEditsRequest:
    """A ``tactful/nextEdits`` request, typed as lsprotocol types the standard ones."""

    id: int | str = attrs.field()
    params: types.TextDocumentPositionParams = attrs.field()
    method: Literal["tactful/nextEdits"] = METHOD
    jsonrpc: str = attrs.field(default="2.0")


def pipeline_of(server: TactfulServer) -> NextEditPipeline:
    """The server's next-edit pipeline, made now if it is not yet (on the next-edit worker)."""
    services = server.services
    if services.next_edits is None:
        from tactful.feedback.next_edits import NextEditPipeline
        from tactful.suggestion.next_edits import ModelConfig

        root = server.workspace_root
        services.next_edits = NextEditPipeline(
            lambda: services.feedback,
            NEXT_EDITS.run,
            run_blocking,
            root=str(root) if root is not None else None,
            model=ModelConfig.from_settings(server.settings),
        )
    return services.next_edits


class HistoryFeed:
    """Keeps the next-edit pipeline's edit history in step with the open documents."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server

    def pipeline(self) -> NextEditPipeline:
        return pipeline_of(self.server)

    def opened(self, document: Document) -> None:
        if not self.server.settings.next_edits.enabled:
            return
        # Without the tree (the history parses its own copy, off the loop).
        snapshot = document.snapshot(parse=False)
        self._follow(
            lambda: self.pipeline().history.open(
                document.uri,
                snapshot.text,
                snapshot.language_id,
                snapshot.path,
                snapshot.version,
            )
        )

    def edited(self, document: Document, changes: list[TextChange]) -> None:
        if not self.server.settings.next_edits.enabled:
            return
        version = document.version
        self._follow(lambda: self.pipeline().history.change(document.uri, changes, version))

    def closed(self, document: Document) -> None:
        pipeline = self.server.services.next_edits
        if pipeline is None:
            return
        pipeline.closed(document.uri)
        self._follow(lambda: pipeline.history.close(document.uri))

    def configure(self) -> None:
        pipeline = self.server.services.next_edits
        if pipeline is None:
            return
        from tactful.suggestion.next_edits import ModelConfig

        pipeline.configure(ModelConfig.from_settings(self.server.settings))

    @staticmethod
    def _follow(work: Callable[[], object]) -> None:
        """Run ``work`` on the next-edit worker after what came before it (a burst of changes
        as one job), its failure logged: the worker has no one to hand it to."""

        def guarded() -> None:
            try:
                work()
            except Exception:
                logger.exception("following an edit for next edits failed")

        NEXT_EDITS.post(guarded)


def _request(
    server: TactfulServer, uri: str, position: types.Position
) -> tuple[Document, NextEditRequest] | None:
    """The open document at ``uri`` and the request for next edits at ``position`` in it, or
    None when it is not open or next edits are off."""
    from tactful.suggestion.next_edits import NextEditRequest

    document = server.documents.get(uri)
    if document is None or not server.settings.next_edits.enabled:
        return None
    # Without its tree: the request carries none, and parsing here would be on the event loop
    # (tens of milliseconds per keystroke in a long file with an unfinished line).
    snapshot = document.snapshot(parse=False)
    lines = Lines(snapshot.text, document.lines)
    root = str(server.workspace_root) if server.workspace_root else None
    request = NextEditRequest(
        uri=uri,
        path=snapshot.path,
        language_id=snapshot.language_id,
        version=snapshot.version,
        position=to_point(position, lines, server.encoding),
        workspace_root=root,
    )
    return document, request


async def next_edits(server: TactfulServer, feed: HistoryFeed, uri: str, position: types.Position):
    """The next edits to show at ``position`` of an open document, as the result's items."""
    from tactful.feedback.next_edits import TurnOptions

    settings = server.settings
    asked = _request(server, uri, position)
    if asked is None:
        return []
    document, request = asked
    root = request.workspace_root
    options = TurnOptions(
        workspace=root or "",
        limit=max(1, settings.next_edits.limit),
        validation=validation_of(server),
    )

    def current() -> bool:
        return server.documents.get(uri) is document and document.version == request.version

    pipeline = await NEXT_EDITS.run(feed.pipeline)
    turn = await pipeline.suggest(request, options, current)
    return [item(shown, server.encoding) for shown in turn.shown]


async def on_cursor_line(
    server: TactfulServer,
    uri: str,
    position: types.Position,
    announce: Callable[[NextEditRequest], None] | None = None,
) -> InlineNextEdit | None:
    """The best next edit as an inline completion at ``position``, when it lies on the
    cursor's line and was prepared for this moment (``inline_completion.py`` asks when the
    completion engines have nothing to show). Never waits for the engine: when nothing was
    prepared yet, it is prepared after a pause and ``announce`` called when one is ready."""
    from tactful.feedback.next_edits import TurnOptions

    asked = _request(server, uri, position)
    if asked is None:
        return None
    document, request = asked
    root = request.workspace_root

    def current() -> bool:
        return server.documents.get(uri) is document and document.version == request.version

    # Made on the worker the first time. Once made, the request does not go through the
    # worker: it would wait there behind the history's work on every change sent before it
    # (a parse each), and ``inline`` only gives what was prepared for this very moment (the
    # preparing runs on the worker, after the history).
    pipeline = server.services.next_edits
    if pipeline is None:
        pipeline = await NEXT_EDITS.run(lambda: pipeline_of(server))
    return await pipeline.inline(request, TurnOptions(workspace=root or ""), current, announce)


def item(shown: ShownNextEdit, encoding: str) -> dict[str, Any]:
    """A shown next edit as the result's item (its range converted in its own file's text)."""
    edit = shown.edit
    lines = Lines(shown.text, shown.lines)
    converted = to_range(edit.span, lines, encoding)
    return {
        "id": shown.id,
        "uri": edit.uri,
        "range": {
            "start": {"line": converted.start.line, "character": converted.start.character},
            "end": {"line": converted.end.line, "character": converted.end.character},
        },
        "newText": edit.new_text,
        "label": edit.label,
        "source": edit.source,
    }


def register(server: TactfulServer) -> None:
    server.experimental[CAPABILITY] = True
    server.message_types[METHOD] = NextEditsRequest
    feed = HistoryFeed(server)
    server.listeners["open"].append(feed.opened)
    server.edit_listeners.append(feed.edited)
    server.listeners["close"].append(feed.closed)
    server.settings_listeners.append(feed.configure)

    @server.feature(METHOD)
    @guard(server, "next edits", fallback=lambda: {"items": []})
    async def next_edits_request(params: types.TextDocumentPositionParams) -> dict[str, Any]:
        items = await next_edits(server, feed, params.text_document.uri, params.position)
        return {"items": items}

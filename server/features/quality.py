"""Quality findings: ruff on open Python documents, published as ``tactful.quality`` diagnostics,
and the fixes judged for them in the background.

LSP concept: diagnostics are pushed with ``textDocument/publishDiagnostics`` (or pulled with
``textDocument/diagnostic``; both go through server/diagnostics.py). Each diagnostic's ``code``
is the ruff rule and ``codeDescription.href`` its documentation; its ``data`` names the
document's version and the finding's index, which ``code_action.py`` offers the judged fix for.
Testing fixes shows ``$/progress``, which the user may cancel. Each verdict the tests give is
announced with the notification ``tactful/verdictsChanged`` ``{uri, version}``, so that editors
ask for the document's code actions again (their titles carry the verdicts).

This module converts and publishes; when to lint, what to show and the fixes' judging are the
quality pipeline's (``tactful.feedback.quality``), which reaches the editor through ``_Editor``.
Handlers (``server/handlers.py``): the document events and settings changes are local (they
schedule a lint, debounced after edits); each lint and each document's fix judging run as
background tasks, ruff and the judge off the loop.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from tactful.analyzers.document import Document, Snapshot
from tactful.analyzers.findings import Finding
from tactful.analyzers.ruff import RuffOptions
from tactful.feedback.quality import QualityConfig, QualityPipeline
from tactful.feedback.review.pipeline import Report
from tactful.server.convert import Lines, to_diagnostic
from tactful.server.diagnostics import publisher
from tactful.server.executor import run_blocking
from tactful.server.handlers import on_event
from tactful.server.settings import Settings
from tactful.server.validation import validation_of
from tactful.suggestion.fixes.llm import LlmConfig

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Coroutine

    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

SOURCE = "tactful.quality"
VERDICTS_CHANGED = "tactful/verdictsChanged"


class _Editor:
    """The quality pipeline's view of the editor: open documents, diagnostics, progress."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server

    def config(self) -> QualityConfig:
        settings = self.server.settings
        root = self.server.workspace_root
        select = settings.quality.select
        return QualityConfig(
            enabled=settings.quality.enabled,
            root=root,
            ruff=RuffOptions(select=tuple(select) if select is not None else None),
            scope=settings.quality.scope,
            base=settings.review.base,
            llm=llm_config(settings),
            validation=validation_of(self.server),
        )

    def document(self, key: str) -> Snapshot | None:
        document = self.server.documents.get(key)
        return _text_of(document) if document is not None else None

    def documents(self) -> list[Snapshot]:
        return [_text_of(document) for document in list(self.server.documents.values())]

    def show(self, key: str, findings: Sequence[Finding], text: str, version: int) -> bool:
        lines = Lines(text)
        encoding = self.server.encoding
        diagnostics = [
            to_diagnostic(
                finding,
                lines,
                encoding,
                SOURCE,
                data={"uri": key, "version": version, "index": index},
            )
            for index, finding in enumerate(findings)
        ]
        return publisher(self.server).set(key, SOURCE, diagnostics, version)

    def progress(
        self, title: str, cancelled: threading.Event
    ) -> AbstractAsyncContextManager[Report]:
        return _progress(self.server, title, cancelled)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.server.spawn(work, name=name)

    def warn(self, message: str) -> None:
        self.server.show_message(message, types.MessageType.Warning)

    def verdicts_changed(self, key: str, version: int) -> None:
        self.server.protocol.notify(VERDICTS_CHANGED, {"uri": key, "version": version})


def _text_of(document: Document) -> Snapshot:
    """The document's text at its version, without its tree: ruff reads the text, and asking a
    document for its tree may parse pending edits on the loop."""
    return Snapshot(
        document.uri, document.path, document.language_id, document.version, document.text, None
    )


@contextlib.asynccontextmanager
async def _progress(
    server: TactfulServer, title: str, cancelled: threading.Event
) -> AsyncIterator[Report]:
    """``$/progress`` for background validation; the client may cancel it."""
    window = server.client_capabilities.window
    token = f"tactful-fixes-{uuid.uuid4().hex[:12]}"
    started = False
    if window is not None and window.work_done_progress:
        try:
            await server.work_done_progress.create_async(token)
            started = True
        except Exception as error:
            logger.debug("no progress: %s", error)
    if started:
        server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0)
        )
        # pygls cancels the token's future when the client cancels the progress.
        token_future = server.work_done_progress.tokens.get(token)
        if token_future is not None:

            def on_done(future: Any) -> None:
                if future.cancelled():
                    cancelled.set()

            token_future.add_done_callback(on_done)

    def report(message: str | None = None, percentage: int | None = None) -> None:
        if started:
            server.work_done_progress.report(
                token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    try:
        yield report
    finally:
        if started:
            message = "cancelled" if cancelled.is_set() else "done"
            server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))


def pipeline(server: TactfulServer) -> QualityPipeline:
    """The server's quality pipeline (made when first used)."""
    return QualityPipeline(
        _Editor(server),
        lambda: server.services.feedback,
        run_blocking,
        server.services.changes,
        server.services.typing,
    )


def service(server: TactfulServer) -> QualityPipeline:
    return server.services.quality


def llm_config(settings: Settings) -> LlmConfig | None:
    """The model that proposes fixes when neither ruff nor a recipe has one (``llm.*``).

    The embedded model is for completions: too small to rewrite a function reliably.
    """
    llm = settings.llm
    if not llm.model or llm.model == "embedded":
        return None
    return LlmConfig(
        model=llm.model,
        api_base=llm.api_base,
        timeout_s=llm.timeout_s,
        max_tokens=llm.max_tokens,
    )


def register(server: TactfulServer) -> None:
    quality = service(server)
    on_event(server, "open", "quality", lambda document: quality.schedule(_text_of(document), 0))
    on_event(server, "change", "quality", lambda document: quality.schedule(_text_of(document)))
    on_event(server, "save", "quality", lambda document: quality.schedule(_text_of(document), 0))

    def closed(document: Document) -> None:
        quality.forget(document.uri)
        publisher(server).set(document.uri, SOURCE, [], publish=True)

    on_event(server, "close", "quality", closed)
    on_event(server, "settings", "quality", quality.settings_changed)

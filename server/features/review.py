"""Review comments as diagnostics (source ``tactful.review``) on the lines that changed.

LSP concept: diagnostics are pushed per document with ``publishDiagnostics`` (or pulled); the
shared publisher in ``server/diagnostics.py`` merges ours with ``tactful.quality``'s. Commands:
``tactful.reviewChanges`` reviews every changed file now; ``tactful.dismissComment [id]`` hides
a comment for good and teaches the ranker. Every review diagnostic also has a "not useful" code
action that runs the latter.

This module converts and publishes; what to review, when, and what to show is the review
pipeline's (``tactful.feedback.review.pipeline``), which reaches the editor through ``_Editor``.
Handlers (``server/handlers.py``): the document events, settings changes and
``tactful.dismissComment`` are local (they schedule or decide at once); ``tactful.reviewChanges``
is background (git and the commenters run off the loop while the request waits); each document's
review runs as a background task, its $/progress shown while the model is asked. In a trusted
workspace a save also starts the tests of the change in the sandbox (``review.runTests``), as a
background task under $/progress; each test it breaks is a comment like the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lsprotocol import types
from pygls.uris import from_fs_path

from tactful.analyzers.document import Document, Snapshot
from tactful.analyzers.findings import Finding
from tactful.feedback.review.pipeline import Report, ReviewConfig, ReviewPipeline
from tactful.feedback.store import store_path
from tactful.server.convert import Lines, to_diagnostic
from tactful.server.diagnostics import publisher
from tactful.server.executor import run_blocking
from tactful.server.features.feedback import committed
from tactful.server.handlers import background_command, on_event
from tactful.server.progress import progress
from tactful.server.validation import sandbox_for
from tactful.suggestion.review import Comment
from tactful.suggestion.review.llm import config_from_settings

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Coroutine

    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

SOURCE = "tactful.review"
REVIEW_CHANGES = "tactful.reviewChanges"
DISMISS_COMMENT = "tactful.dismissComment"


class _Editor:
    """The review pipeline's view of the editor: open documents, diagnostics, progress."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server

    def config(self) -> ReviewConfig:
        settings = self.server.settings
        root = self.server.workspace_root
        llm = None
        if settings.review.llm is not False:
            llm = config_from_settings(
                settings.llm.model,
                settings.llm.api_base,
                settings.llm.timeout_s,
                settings.llm.max_tokens,
            )
        tests = None
        enabled = settings.review.enabled and root is not None
        if (
            root is not None
            and enabled
            and settings.review.run_tests
            and settings.validation.enabled
            and self.server.trusted
        ):
            workspace = root

            def tests() -> Any:
                return sandbox_for(
                    workspace, settings, self.server.editor_trust, self.server.selected_python
                )

        return ReviewConfig(
            enabled=enabled,
            root=root,
            base=settings.review.base,
            llm=llm,
            ruff_select=tuple(settings.quality.select) if settings.quality.select else None,
            quality_shows_ruff=settings.quality.enabled,
            scope=settings.quality.scope,
            store=store_path(settings.feedback.store),
            team=settings.feedback.team,
            tests=tests,
        )

    def document(self, key: str) -> Snapshot | None:
        document = self.server.documents.get(key)
        return _text_of(document) if document is not None else None

    def documents(self) -> list[Snapshot]:
        return [_text_of(document) for document in list(self.server.documents.values())]

    def key_of(self, path: Path) -> str:
        return from_fs_path(str(path)) or path.as_uri()

    def show(self, key: str, comments: Sequence[Comment], text: str, version: int | None) -> bool:
        lines = Lines(text)
        encoding = self.server.encoding
        diagnostics = [
            to_diagnostic(
                Finding(c.path, c.span, c.rule, c.message, c.severity, SOURCE, c.url),
                lines,
                encoding,
                SOURCE,
                data={"id": c.id},
            )
            for c in comments
        ]
        return publisher(self.server).set(key, SOURCE, diagnostics, version)

    def keep(self, key: str, ids: Sequence[str]) -> bool:
        order = {comment_id: n for n, comment_id in enumerate(ids)}
        kept = [
            d
            for d in publisher(self.server).get_source(key, SOURCE)
            if isinstance(d.data, dict) and d.data.get("id") in order
        ]
        # Every diagnostic kept has a dict for data (the filter above).
        kept.sort(key=lambda d: order[cast(dict[str, Any], d.data)["id"]])
        document = self.server.documents.get(key)
        version = document.version if document is not None else None
        return publisher(self.server).set(key, SOURCE, kept, version)

    def progress(self, title: str) -> AbstractAsyncContextManager[Report]:
        return progress(self.server, title)

    def warn(self, message: str) -> None:
        self.server.show_message(message, types.MessageType.Warning)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.server.spawn(work, name=name)


def _text_of(document: Document) -> Snapshot:
    """The document's text at its version, without its tree: review parses what it reviews
    off the loop, and asking a document for its tree may parse pending edits."""
    return Snapshot(
        document.uri, document.path, document.language_id, document.version, document.text, None
    )


def pipeline(server: TactfulServer) -> ReviewPipeline:
    """The server's review pipeline (made when first used)."""
    return ReviewPipeline(
        _Editor(server),
        lambda: server.services.feedback,
        run_blocking,
        server.services.changes,
        server.services.typing,
    )


def service(server: TactfulServer) -> ReviewPipeline:
    return server.services.review


def code_actions(params: types.CodeActionParams) -> list[types.CodeAction]:
    """A "not useful" action for each review diagnostic in the request."""
    if params.context.only and not any(
        types.CodeActionKind.QuickFix.value.startswith(kind) for kind in params.context.only
    ):
        return []
    actions = []
    for diagnostic in params.context.diagnostics:
        if diagnostic.source != SOURCE or not isinstance(diagnostic.data, dict):
            continue
        comment_id = diagnostic.data.get("id")
        if not isinstance(comment_id, str):
            continue
        title = f"Not useful: hide this review comment ({diagnostic.code})"
        actions.append(
            types.CodeAction(
                title=title,
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                command=types.Command(title=title, command=DISMISS_COMMENT, arguments=[comment_id]),
            )
        )
    return actions


def register(server: TactfulServer) -> None:
    review = service(server)
    on_event(server, "open", "review", lambda document: review.schedule(document.uri, delay=0))
    on_event(server, "change", "review", lambda document: review.schedule(document.uri))

    def saved(document: Document) -> None:
        review.schedule(document.uri, delay=0, with_llm=True)
        # in a trusted workspace, the tests of the change run in the background
        review.run_tests()

    on_event(server, "save", "review", saved)

    def closed(document: Document) -> None:
        # The editor's text is gone; ``tactful.reviewChanges`` shows the saved file again.
        review.forget(document.uri)
        publisher(server).set(document.uri, SOURCE, [])

    on_event(server, "close", "review", closed)
    on_event(server, "settings", "review", review.settings_changed)

    @background_command(
        server, REVIEW_CHANGES, "reviewing the changes", lambda: {"files": 0, "comments": 0}
    )
    async def review_changes(*args: Any) -> dict[str, int]:
        files, turns = await review.review_all()
        return {"files": files, "comments": sum(len(turn.kept) for turn in turns)}

    @background_command(server, DISMISS_COMMENT, "dismissing a review comment", False)
    async def dismiss_comment(*args: Any) -> bool:
        comment_id = args[0] if args else None
        if not isinstance(comment_id, str) or not comment_id:
            logger.warning("tactful.dismissComment takes the id of a review comment, got %r", args)
            return False
        dismissed = review.dismiss(comment_id)
        await committed(server)  # answered once the dismissal is in the store
        return dismissed

    try:
        from tactful.server.features.code_action import add_provider
    except ImportError:
        logger.warning("no code action registry: the 'not useful' action is unavailable")
    else:
        add_provider(server, "review", code_actions)

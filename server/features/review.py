"""Review comments as diagnostics (source ``tactful.review``) on the lines that changed.

LSP concept: diagnostics are pushed per document with ``publishDiagnostics`` (or pulled); the
shared publisher in ``server/diagnostics.py`` merges ours with ``tactful.quality``'s. A document's
comments are recomputed on open, on save (with the model, when one is set, under ``$/progress``)
and after edits (debounced, rules and ruff only, the model's last comments kept where their line
still is). Work runs off the event loop; a result for an older version of the document, or
overtaken by a newer review of it, is dropped. Commands: ``tactful.reviewChanges`` reviews every
changed file now; ``tactful.dismissComment [id]`` hides a comment for good and teaches the
ranker. Every review diagnostic also has a "not useful" code action that runs the latter.

Through the feedback loop's item model: a document's comments are published most likely useful
first (reading order among equals) and the ones it hides are left out; a dismissal re-ranks what
is on screen at once. A shown comment is *resolved* (learned as useful) when the developer edits
or deletes its own line and the next review no longer makes a comment of that rule there; a
re-review with the line untouched resolves nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import from_fs_path

from tactful.analyzers.diff import (
    Diff,
    DiffError,
    FileChange,
    change_for_text,
    working_tree_diff,
)
from tactful.analyzers.findings import Finding
from tactful.analyzers.languages import language_of_path
from tactful.feedback import events as ev
from tactful.feedback.acceptance.items import Item
from tactful.feedback.review import (
    comment_detail,
    dismissal,
    load_coverage,
    load_memory,
    resolved_comments,
)
from tactful.feedback.store import store_path
from tactful.server.convert import Lines, to_diagnostic
from tactful.server.diagnostics import publisher
from tactful.server.errors import guard
from tactful.server.executor import run_blocking
from tactful.server.progress import progress
from tactful.suggestion.review import Comment, Memory, Progress, ReviewOptions, review_diff
from tactful.suggestion.review.comments import ORIGIN_LLM, normalize_line
from tactful.suggestion.review.llm import config_from_settings

if TYPE_CHECKING:
    from tactful.feedback.loop import FeedbackLoop
    from tactful.feedback.store import FeedbackStore
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

SOURCE = "tactful.review"
REVIEW_CHANGES = "tactful.reviewChanges"
DISMISS_COMMENT = "tactful.dismissComment"
DEBOUNCE_S = 0.5
# The diff of the whole working tree is recomputed when older than this (commits, checkouts
# and files changed outside the editor show up without a save).
DIFF_MAX_AGE_S = 15.0


class ReviewService:
    """The review state of one server: the diff, each document's comments, what was learned."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server
        self.diff: Diff | None = None
        self.diff_time = 0.0
        self.problem: str | None = None
        self.comments: dict[str, dict[str, Comment]] = {}  # uri -> id -> comment
        self.llm_comments: dict[str, list[Comment]] = {}  # uri -> the model's last comments
        self.generation: dict[str, int] = {}
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.asks_llm: dict[str, bool] = {}  # whether the review in flight asks the model
        self.pending: dict[str, bool] = {}  # an edit came during a model review
        self.memory = Memory()
        self.memory_loaded = False
        self.recorded_shown: set[str] = set()
        # The text each document's shown comments were made on, to tell later which of their
        # lines the developer edited.
        self.reviewed_text: dict[str, str] = {}
        self._diff_lock = asyncio.Lock()

    # -- settings and state -----------------------------------------------------------------

    def enabled(self) -> bool:
        return self.server.settings.review.enabled and self.server.workspace_root is not None

    def options(self, with_llm: bool) -> ReviewOptions:
        settings = self.server.settings
        llm = None
        if with_llm and settings.review.llm is not False:
            llm = config_from_settings(
                settings.llm.model,
                settings.llm.api_base,
                settings.llm.timeout_s,
                settings.llm.max_tokens,
            )
        select = tuple(settings.quality.select) if settings.quality.select else None
        return ReviewOptions(ruff_select=select, llm=llm, reviewers=False)

    def loop(self) -> FeedbackLoop | None:
        """The server's feedback loop (absent before ``initialized``, or in a bare server)."""
        return self.server.services.feedback

    def record(self, event: ev.Event) -> None:
        loop = self.loop()
        store = loop.store if loop is not None else None
        if store is None:
            logger.debug("no feedback store yet: %s for %s not recorded", event.kind, event.item_id)
            return
        store.record(event)

    def workspace_key(self) -> str:
        root = self.diff.root if self.diff is not None else self.server.workspace_root
        return str(Path(str(root)).resolve()) if root is not None else ""

    async def load_memory(self) -> None:
        if self.memory_loaded:
            return
        self.memory_loaded = True
        await self.refresh_diff()
        loop = self.loop()
        store: FeedbackStore | Path = (
            loop.store if loop is not None else store_path(self.server.settings.feedback.store)
        )
        self.memory = await run_blocking(load_memory, store, self.workspace_key())
        team = self.server.settings.feedback.team
        if team:
            from tactful.feedback.team.memory import merged, team_memory

            shared = await run_blocking(team_memory, team, self.workspace_key())
            self.memory = merged(self.memory, shared)

    async def refresh_diff(self, force: bool = False) -> Diff | None:
        async with self._diff_lock:
            fresh = time.monotonic() - self.diff_time < DIFF_MAX_AGE_S
            if not force and self.diff is not None and fresh:
                return self.diff
            root = self.server.workspace_root
            if root is None:
                return None
            try:
                self.diff = await run_blocking(
                    working_tree_diff, root, self.server.settings.review.base
                )
                self.problem = None
            except DiffError as exc:
                self.diff = None
                if self.problem != str(exc):
                    self.problem = str(exc)
                    logger.warning("no review comments: %s", exc)
            self.diff_time = time.monotonic()
            return self.diff

    # -- scheduling -------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float = DEBOUNCE_S, with_llm: bool = False) -> None:
        previous = self.tasks.pop(uri, None)
        if previous is not None and not previous.done():
            # A model review in flight is worth more than a debounced rules pass: let it finish
            # unless this one asks for the model too (its own rules pass follows it).
            if not with_llm and self.asks_llm.get(uri, False):
                self.tasks[uri] = previous
                self.pending[uri] = True
                return
            previous.cancel()
        generation = self.generation.get(uri, 0) + 1
        self.generation[uri] = generation
        self.asks_llm[uri] = with_llm
        self.tasks[uri] = self.server.spawn(
            self._review_later(uri, generation, delay, with_llm), name="review comments"
        )

    async def _review_later(self, uri: str, generation: int, delay: float, with_llm: bool) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.review_document(uri, generation, with_llm)
        if with_llm and self.pending.pop(uri, False) and uri in self.server.documents:
            self.asks_llm[uri] = False
            self.schedule(uri, delay=0)

    def forget(self, uri: str) -> None:
        task = self.tasks.pop(uri, None)
        if task is not None:
            task.cancel()
        self.generation[uri] = self.generation.get(uri, 0) + 1
        self.comments.pop(uri, None)
        self.reviewed_text.pop(uri, None)
        self.llm_comments.pop(uri, None)
        self.pending.pop(uri, None)
        self.asks_llm.pop(uri, None)

    def current(self, uri: str, generation: int) -> bool:
        return self.generation.get(uri) == generation

    # -- reviewing --------------------------------------------------------------------------

    async def review_document(self, uri: str, generation: int, with_llm: bool) -> int:
        """Review one open document as the editor has it; the number of comments shown."""
        document = self.server.documents.get(uri)
        if document is None:
            return 0
        snapshot = document.snapshot()
        if not self.enabled() or snapshot.path is None:
            self._publish(uri, [], snapshot.text, snapshot.version)
            return 0
        await self.load_memory()
        diff = await self.refresh_diff()
        relative = _relative(diff, snapshot.path) if diff is not None else None
        if diff is None or relative is None:
            self._publish(uri, [], snapshot.text, snapshot.version)
            return 0
        change = await run_blocking(change_for_text, diff, relative, snapshot.text)
        if change is None:
            self._publish(uri, [], snapshot.text, snapshot.version)
            return 0
        comments = await self._review(
            diff, [change], with_llm, lambda: not self.current(uri, generation)
        )
        if not self.current(uri, generation) or document.version != snapshot.version:
            return 0  # overtaken by an edit or a newer review: its own result will come
        return self._show(uri, change, comments, snapshot.text, snapshot.version, with_llm)

    async def review_all(self) -> dict[str, int]:
        """``tactful.reviewChanges``: every changed file, open ones as the editor has them."""
        if not self.enabled():
            return {"files": 0, "comments": 0}
        await self.load_memory()
        diff = await self.refresh_diff(force=True)
        if diff is None:
            if self.problem:
                self.server.show_message(
                    f"tactful review: {self.problem}", types.MessageType.Warning
                )
            return {"files": 0, "comments": 0}
        open_by_path = {
            _relative(diff, d.path): d for d in self.server.documents.values() if d.path
        }
        targets: list[tuple[str, FileChange, int | None, str]] = []
        for change in diff.files:
            document = open_by_path.pop(change.path, None)
            if document is None:
                targets.append((_uri(diff, change.path), change, None, change.text))
        for path, document in open_by_path.items():
            if path is None:
                continue
            snapshot = document.snapshot()
            found = await run_blocking(change_for_text, diff, path, snapshot.text)
            if found is None:
                self._publish(document.uri, [], snapshot.text, snapshot.version)
                continue
            targets.append((document.uri, found, snapshot.version, snapshot.text))
        total = 0
        for uri, change, version, text in targets:
            generation = self.generation.get(uri, 0) + 1
            self.generation[uri] = generation
            comments = await self._review(diff, [change], True, lambda: False)
            if self.current(uri, generation):
                total += self._show(uri, change, comments, text, version, True)
        return {"files": len(targets), "comments": total}

    async def _review(
        self, diff: Diff, files: list[FileChange], with_llm: bool, cancelled: Any
    ) -> list[Comment]:
        options = self.options(with_llm)
        coverage = await run_blocking(
            load_coverage, diff.root, {change.path: change.text for change in files}
        )
        run = functools.partial(
            review_diff, diff, options, files=files, memory=self.memory, coverage=coverage
        )
        if options.llm is None:
            review = await run_blocking(run, extra=self._carried_llm_comments(files))
            return list(review.comments)
        loop = asyncio.get_running_loop()
        async with progress(self.server, "Reviewing changes") as report:

            def on_progress(step: Progress) -> None:
                loop.call_soon_threadsafe(report, step.message, step.percentage)

            review = await run_blocking(run, on_progress=on_progress, cancelled=cancelled)
        for note in review.notes:
            logger.info("review: %s", note)
        return list(review.comments)

    def _carried_llm_comments(self, files: list[FileChange]) -> list[Comment]:
        """The model's last comments on these files, moved to where their line now is (the same
        code on a changed line) and dropped when that line is gone or no longer changed."""
        carried: list[Comment] = []
        for change in files:
            uri = _uri_for_path(self, change.path)
            previous = self.llm_comments.get(uri, []) if uri else []
            if not previous:
                continue
            positions: dict[str, list[int]] = {}
            for line in sorted(change.changed_lines):
                if line < len(change.lines):
                    positions.setdefault(normalize_line(change.lines[line]), []).append(line)
            for comment in previous:
                lines = positions.get(normalize_line(comment.line_text))
                if not lines:
                    continue
                line = min(lines, key=lambda n: abs(n - comment.line))
                shift = line - comment.line
                carried.append(
                    replace(
                        comment,
                        span=replace(
                            comment.span,
                            start=replace(comment.span.start, line=line),
                            end=replace(comment.span.end, line=comment.span.end.line + shift),
                        ),
                    )
                )
        return carried

    def _show(
        self,
        uri: str,
        change: FileChange,
        comments: list[Comment],
        text: str,
        version: int | None,
        with_llm: bool,
    ) -> int:
        # Never show what is not on a changed line, whatever produced it.
        produced = [c for c in comments if change.is_changed(c.line)]
        comments = self._rank(produced)
        if with_llm:
            self.llm_comments[uri] = [c for c in comments if c.origin == ORIGIN_LLM]
        before = self.reviewed_text.get(uri)
        if self._publish(uri, comments, text, version):
            previous = self.comments.get(uri, {})
            self.comments[uri] = {c.id: c for c in comments}
            self.reviewed_text[uri] = text
            self._record_shown(comments, change.path)
            if before is not None and version is not None and previous and before != text:
                self.server.spawn(
                    self._resolve(before, text, previous, produced), name="resolved comments"
                )
        return len(comments)

    def _rank(self, comments: list[Comment]) -> list[Comment]:
        """The comments the feedback loop's item model shows, most likely useful first (reading
        order among equals); all of them, in reading order, when the server has no loop."""
        loop = self.loop()
        if loop is None or not comments:
            return comments
        by_id = {c.id: c for c in comments}
        ranked = loop.rank_items(self.workspace_key(), [(c.id, comment_item(c)) for c in comments])
        return [by_id[item_id] for item_id, _decision in ranked]

    async def _resolve(
        self, before: str, after: str, previous: dict[str, Comment], produced: list[Comment]
    ) -> None:
        """Learn from the shown comments whose line the developer edited away (see the module
        docstring); only documents the editor has open get here, never a file read from disk.
        The line diff runs off the event loop (about 10 ms for a 10,000-line file)."""
        if self.loop() is None:
            return
        found = await run_blocking(
            resolved_comments, before, after, list(previous.values()), produced
        )
        loop = self.loop()
        if loop is None:
            return
        for comment_id in found:
            if loop.comment_resolved(comment_id):
                logger.debug("review comment %s resolved by an edit", comment_id)

    def rerank(self) -> None:
        """Order (and hide) what is on screen again after the item model learned something."""
        for uri, by_id in list(self.comments.items()):
            kept = self._rank(list(by_id.values()))
            if [c.id for c in kept] == list(by_id):
                continue
            order = {c.id: n for n, c in enumerate(kept)}
            published = [
                d
                for d in publisher(self.server).get_source(uri, SOURCE)
                if isinstance(d.data, dict) and d.data.get("id") in order
            ]
            published.sort(key=lambda d: order[d.data["id"]])
            document = self.server.documents.get(uri)
            version = document.version if document is not None else None
            if publisher(self.server).set(uri, SOURCE, published, version):
                self.comments[uri] = {c.id: c for c in kept}

    def _record_shown(self, comments: list[Comment], path: str) -> None:
        fresh = [c for c in comments if c.id not in self.recorded_shown]
        if not fresh:
            return
        self.recorded_shown.update(c.id for c in fresh)
        loop = self.loop()
        language = language_of_path(path) or ""
        for comment in fresh:
            if loop is not None and loop.item_shown(comment.id):
                continue
            self.record(
                ev.Event(
                    ev.COMMENT_SHOWN,
                    item_id=comment.id,
                    language=language,
                    workspace=self.workspace_key(),
                    detail=comment_detail(comment, language),
                )
            )

    def _publish(self, uri: str, comments: list[Comment], text: str, version: int | None) -> bool:
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
        return publisher(self.server).set(uri, SOURCE, diagnostics, version)

    # -- dismissing -------------------------------------------------------------------------

    def dismiss(self, comment_id: str) -> bool:
        """Hide a comment for good, record it, and teach the ranker; False for an unknown id."""
        found = next(
            (
                (uri, by_id[comment_id])
                for uri, by_id in self.comments.items()
                if comment_id in by_id
            ),
            None,
        )
        rule = found[1].rule if found else ""
        source = found[1].origin if found else ""
        loop = self.loop()
        if loop is None or not loop.comment_dismissed(comment_id):
            self.record(dismissal(comment_id, self.workspace_key(), rule, source))
        self.memory = Memory(
            self.memory.dismissed | {comment_id},
            self.memory.shown_by_rule,
            {**self.memory.dismissed_by_rule, rule: self.memory.dismissed_by_rule.get(rule, 0) + 1}
            if rule
            else self.memory.dismissed_by_rule,
        )
        if found is None:
            return False
        uri = found[0]
        self.comments[uri].pop(comment_id, None)
        for comments in self.llm_comments.values():
            comments[:] = [c for c in comments if c.id != comment_id]
        remaining = [
            d
            for d in publisher(self.server).get_source(uri, SOURCE)
            if not (isinstance(d.data, dict) and d.data.get("id") == comment_id)
        ]
        document = self.server.documents.get(uri)
        publisher(self.server).set(
            uri, SOURCE, remaining, document.version if document is not None else None
        )
        # The dismissal taught the model: the rule's other comments may now rank lower or hide.
        self.rerank()
        return True

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
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
                    command=types.Command(
                        title=title, command=DISMISS_COMMENT, arguments=[comment_id]
                    ),
                )
            )
        return actions


def comment_item(comment: Comment) -> Item:
    """A review comment as the feedback loop's item model sees it."""
    return Item(
        kind="comment",
        rule=comment.rule,
        source=comment.origin,
        language=language_of_path(comment.path) or "",
        severity=comment.severity.value,
    )


def service(server: TactfulServer) -> ReviewService:
    return server.services.review


def _relative(diff: Diff | None, path: str | None) -> str | None:
    if diff is None or path is None:
        return None
    try:
        return Path(path).resolve().relative_to(diff.root).as_posix()
    except ValueError:
        return None


def _uri(diff: Diff, relative: str) -> str:
    return from_fs_path(str(diff.root / relative)) or (diff.root / relative).as_uri()


def _uri_for_path(review: ReviewService, relative: str) -> str | None:
    for uri, document in review.server.documents.items():
        if document.path and _relative(review.diff, document.path) == relative:
            return uri
    return None


def register(server: TactfulServer) -> None:
    review = service(server)
    server.listeners["open"].append(lambda document: review.schedule(document.uri, delay=0))
    server.listeners["change"].append(lambda document: review.schedule(document.uri))
    server.listeners["save"].append(
        lambda document: review.schedule(document.uri, delay=0, with_llm=True)
    )

    def closed(document: Any) -> None:
        # The editor's text is gone; ``tactful.reviewChanges`` shows the saved file again.
        review.forget(document.uri)
        publisher(server).set(document.uri, SOURCE, [])

    server.listeners["close"].append(closed)

    def settings_changed() -> None:
        review.diff_time = 0.0  # the base may have changed
        for uri in list(server.documents):
            review.schedule(uri, delay=0)

    server.settings_listeners.append(settings_changed)

    @server.command(REVIEW_CHANGES)
    @guard(server, "reviewing the changes", fallback=lambda: {"files": 0, "comments": 0})
    async def review_changes(*args: Any) -> dict[str, int]:
        return await review.review_all()

    @server.command(DISMISS_COMMENT)
    @guard(server, "dismissing a review comment", fallback=False)
    def dismiss_comment(*args: Any) -> bool:
        comment_id = args[0] if args else None
        if not isinstance(comment_id, str) or not comment_id:
            logger.warning("tactful.dismissComment takes the id of a review comment, got %r", args)
            return False
        return review.dismiss(comment_id)

    try:
        from tactful.server.features.code_action import add_provider
    except ImportError:
        logger.warning("no code action registry: the 'not useful' action is unavailable")
    else:
        add_provider(server, "review", review.code_actions)

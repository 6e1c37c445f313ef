"""Quality findings: ruff on open Python documents, published as ``tactful.quality`` diagnostics,
and the fixes judged for them in the background.

LSP concept: diagnostics are pushed with ``textDocument/publishDiagnostics`` (or pulled with
``textDocument/diagnostic``; both go through server/diagnostics.py). Each diagnostic's ``code``
is the ruff rule and ``codeDescription.href`` its documentation. ruff runs off the event loop,
a short while after the last keystroke; a result computed for an older version is dropped.

Once a document's findings are known, their fixes are judged in the background
(feedback/fixes.py): screened by ruff and, in a trusted workspace with validation on, tested in
the sandbox while ``$/progress`` reports it; a new version of the document, closing it, or the
user cancelling the progress stops that work. ``code_action.py`` offers what was judged. Each
verdict the tests give is announced with the notification ``tactful/verdictsChanged``
``{uri, version}``, so that editors ask for the document's code actions again (their titles
carry the verdicts), and ``judged_offer`` lets a code action being resolved wait for its own.

Through the feedback loop (service ``"feedback"``), each quick fix is an item of its model:
judged and ranked when offered (``present``; the ones it hides are not offered), recorded once as
``fix.offered`` with its validation verdict, ``fix.applied`` when the editor runs the action's
``tactful.fixApplied`` command, and ``fix.ignored`` once when its finding goes away by other
means or the document is closed with it still there (``feedback.fixes.OfferedFixes``). A lint
after a settings change is not the developer's doing and settles nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from tactful.analyzers.document import Document
from tactful.analyzers.findings import Finding
from tactful.analyzers.ruff import RuffOptions, check_text, rule_url
from tactful.analyzers.text import Edit
from tactful.feedback.execution import Verdict
from tactful.feedback.execution.verdict import Status, not_validated
from tactful.feedback.fixes import (
    FixJudge,
    FixOffer,
    OfferedFixes,
    Validator,
    fix_id,
    fix_item,
    verdict_detail,
)
from tactful.server.convert import Lines, to_diagnostic
from tactful.server.diagnostics import publisher
from tactful.server.executor import run_blocking
from tactful.server.settings import Settings
from tactful.server.validation import sandbox_for
from tactful.suggestion.fixes.llm import LlmConfig

if TYPE_CHECKING:
    from tactful.feedback.loop import FeedbackLoop
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

SOURCE = "tactful.quality"
DEBOUNCE_S = 0.25
VERDICTS_CHANGED = "tactful/verdictsChanged"


@dataclass
class DocumentQuality:
    """What is known about one version of a document: its findings and judged fixes."""

    uri: str
    version: int
    text: str
    path: str  # relative to the root
    root: Path
    findings: list[Finding]
    offers: dict[int, FixOffer] = field(default_factory=dict)
    judged: asyncio.Event = field(default_factory=asyncio.Event)
    # set (and replaced) whenever an offer is judged, for those waiting on one
    updated: asyncio.Event = field(default_factory=asyncio.Event)


class QualityService:
    """Per-document quality state; other features (code actions) read it."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server
        self.documents: dict[str, DocumentQuality] = {}
        self._lint_tasks: dict[str, asyncio.Task[Any]] = {}
        self._judge_tasks: dict[str, tuple[asyncio.Task[Any], threading.Event]] = {}
        self._validations: dict[str, set[concurrent.futures.Future[Verdict]]] = {}
        # What the feedback loop heard of, so each fix and each of its verdicts is told once.
        self.offered: dict[str, OfferedFixes] = {}
        self.recorded_offers: set[str] = set()
        self.recorded_verdicts: set[tuple[str, str]] = set()
        # Documents whose next lint follows a settings change, not an edit.
        self._relinted: set[str] = set()

    # -- settings ---------------------------------------------------------------------------

    def enabled(self) -> bool:
        return self.server.settings.quality.enabled

    def ruff_options(self) -> RuffOptions:
        select = self.server.settings.quality.select
        return RuffOptions(select=tuple(select) if select is not None else None)

    def validation(self, state: DocumentQuality | None = None) -> tuple[Validator | None, str]:
        """The validator to use now for a document's fixes, or None and why nothing may run."""
        settings = self.server.settings
        if not settings.validation.enabled:
            return None, "validation is off"
        if not self.server.trusted:
            return None, "workspace not trusted"
        root = self.server.workspace_root
        if root is None or state is None:
            return None, "no workspace folder"
        sandbox = sandbox_for(root, settings, self.server.selected_python)
        loop = asyncio.get_running_loop()
        # The editor's text may be unsaved: the sandbox gets it as an overlay of the file.
        overlays = {state.path: state.text}
        running = self._validations.setdefault(state.uri, set())

        def validate(edits: Sequence[Edit]) -> Verdict:
            # Runs on the server's loop so the sandbox can build its coverage map in the
            # background; cancelling the future (new version, close) kills the test run.
            future = asyncio.run_coroutine_threadsafe(
                sandbox.validate(edits, overlays=overlays), loop
            )
            running.add(future)
            try:
                return future.result()
            except concurrent.futures.CancelledError:
                return not_validated("cancelled")
            finally:
                running.discard(future)

        return validate, ""

    def judge(self, state: DocumentQuality) -> FixJudge:
        validate, reason = self.validation(state)
        return FixJudge(
            state.root,
            ruff_options=self.ruff_options(),
            validate=validate,
            not_validated_reason=reason,
            llm=llm_config(self.server.settings),
        )

    # -- linting ----------------------------------------------------------------------------

    def schedule(self, document: Document, delay: float = DEBOUNCE_S) -> None:
        if not _is_python(document):
            return
        previous = self._lint_tasks.pop(document.uri, None)
        if previous is not None:
            previous.cancel()
        self._lint_tasks[document.uri] = self.server.spawn(
            self._lint(document, delay), name="quality findings"
        )

    def forget(self, document: Document) -> None:
        for tasks in (self._lint_tasks,):
            task = tasks.pop(document.uri, None)
            if task is not None:
                task.cancel()
        self._stop_judging(document.uri)
        self.documents.pop(document.uri, None)
        self._relinted.discard(document.uri)
        offered = self.offered.pop(document.uri, None)
        if offered is not None:
            self._ignored(offered.closed())

    def relint_all(self) -> None:
        for document in list(self.server.documents.values()):
            self._relinted.add(document.uri)
            self.schedule(document, delay=0)

    # -- the feedback loop --------------------------------------------------------------------

    def loop(self) -> FeedbackLoop | None:
        """The server's feedback loop (absent before ``initialized``)."""
        return self.server.services.feedback

    def workspace_key(self) -> str:
        root = self.server.workspace_root
        return str(Path(str(root)).resolve()) if root is not None else ""

    def present(
        self, state: DocumentQuality, offers: Sequence[tuple[int, FixOffer]], *, seen: bool = True
    ) -> list[tuple[int, FixOffer, str]]:
        """The quick fixes to offer now, with their item ids, most likely useful first; the
        ones the item model hides are left out. Each verdict the tests gave a fix is recorded
        once; a fix is recorded as offered (and may later count as ignored) only once the
        developer has ``seen`` it: a list the editor asked for on its own, to draw a light
        bulb, shows the developer nothing."""
        with_ids = [
            (index, offer, fix_id(offer.finding, offer.fix, state.text))
            for index, offer in offers
            if offer.fix is not None
        ]
        loop = self.loop()
        if loop is None:
            return with_ids
        by_id = {item_id: (index, offer) for index, offer, item_id in with_ids}
        ranked = loop.rank_items(
            self.workspace_key(), [(item_id, fix_item(offer)) for _, offer, item_id in with_ids]
        )
        shown = [(*by_id[item_id], item_id) for item_id, _decision in ranked]
        tracked = self.offered.setdefault(state.uri, OfferedFixes())
        for _index, offer, item_id in shown:
            assert offer.fix is not None
            if seen:
                tracked.offered(item_id, offer.finding, offer.fix, state.text)
                if item_id not in self.recorded_offers and loop.item_shown(item_id):
                    self.recorded_offers.add(item_id)
            status = offer.verdict.status.value
            if offer.verdict.status is not Status.NOT_VALIDATED and (
                (item_id, status) not in self.recorded_verdicts
            ):
                self.recorded_verdicts.add((item_id, status))
                loop.verdict(item_id, status, verdict_detail(offer))
        return shown

    def fix_applied(self, item_ids: Sequence[str], explicit: bool = True) -> bool:
        """The editor applied these fixes (``explicit``: one the developer picked; otherwise
        a fix-all); True when the loop learned or recorded any of them."""
        for tracked in self.offered.values():
            for item_id in item_ids:
                tracked.applied(item_id)
        loop = self.loop()
        if loop is None:
            return False
        return any([loop.fix_applied(item_id, explicit) for item_id in item_ids])

    def _ignored(self, item_ids: Sequence[str]) -> None:
        loop = self.loop()
        for item_id in item_ids:
            if loop is not None and loop.fix_ignored(item_id):
                logger.debug("fix %s ignored", item_id)

    async def _lint(self, document: Document, delay: float) -> None:
        await asyncio.sleep(delay)
        snapshot = document.snapshot()
        diagnostics = publisher(self.server)
        if not self.enabled() or snapshot.path is None:
            diagnostics.set(snapshot.uri, SOURCE, [], snapshot.version)
            self.documents.pop(snapshot.uri, None)
            return
        root = self._root_for(snapshot.path)
        relative = _relative(snapshot.path, root)
        findings = await run_blocking(
            check_text, snapshot.text, relative, root, self.ruff_options()
        )
        if document.version != snapshot.version:
            return  # a newer version is being linted
        lines = Lines(snapshot.text)
        encoding = self.server.encoding
        items = []
        for index, finding in enumerate(findings):
            if finding.url is None and finding.rule != "invalid-syntax":
                finding = _with_url(finding)
            items.append(
                to_diagnostic(
                    finding,
                    lines,
                    encoding,
                    SOURCE,
                    data={"uri": snapshot.uri, "version": snapshot.version, "index": index},
                )
            )
        offered = self.offered.get(snapshot.uri)
        by_developer = snapshot.uri not in self._relinted
        self._relinted.discard(snapshot.uri)
        if offered is not None:
            self._ignored(offered.changed(findings, snapshot.text, infer=by_developer))
        state = DocumentQuality(
            snapshot.uri, snapshot.version, snapshot.text, relative, root, findings
        )
        self._stop_judging(snapshot.uri)
        self.documents[snapshot.uri] = state
        diagnostics.set(snapshot.uri, SOURCE, items, snapshot.version)
        self._start_judging(state)

    def _root_for(self, path: str) -> Path:
        root = self.server.workspace_root
        file_path = Path(path)
        if root is not None:
            try:
                file_path.resolve().relative_to(Path(root).resolve())
                return Path(root).resolve()
            except ValueError:
                pass
        return file_path.resolve().parent

    # -- judging fixes in the background ----------------------------------------------------

    def _start_judging(self, state: DocumentQuality) -> None:
        if not state.findings:
            state.judged.set()
            return
        cancelled = threading.Event()
        task = self.server.spawn(self._judge_all(state, cancelled), name="judging fixes")
        self._judge_tasks[state.uri] = (task, cancelled)

    def _stop_judging(self, uri: str) -> None:
        running = self._judge_tasks.pop(uri, None)
        if running is not None:
            task, cancelled = running
            cancelled.set()
            task.cancel()
        for future in list(self._validations.get(uri, ())):
            future.cancel()

    async def _judge_all(self, state: DocumentQuality, cancelled: threading.Event) -> None:
        judge = self.judge(state)
        progress = _Progress(self.server, cancelled) if judge.validate is not None else None
        try:
            if progress is not None:
                await progress.begin(f"Testing fixes for {Path(state.path).name}")
            total = len(state.findings)
            for index, finding in enumerate(state.findings):
                if cancelled.is_set():
                    return
                if progress is not None:
                    progress.report(f"{finding.rule} ({index + 1}/{total})", index * 100 // total)
                offer = await run_blocking(
                    judge.offer, finding, state.text, state.findings, cancelled
                )
                if cancelled.is_set():
                    return
                state.offers[index] = offer
                waiting, state.updated = state.updated, asyncio.Event()
                waiting.set()
                if judge.validate is not None and offer.fix is not None:
                    self.server.protocol.notify(
                        VERDICTS_CHANGED, {"uri": state.uri, "version": state.version}
                    )
        finally:
            state.judged.set()
            state.updated.set()
            if progress is not None:
                progress.end("cancelled" if cancelled.is_set() else "done")

    async def judged_offer(self, uri: str, index: int, timeout_s: float) -> FixOffer | None:
        """The fix for a finding once its judging (tests included) is done, waiting up to
        ``timeout_s``; None when it is not done by then, or the document moved on."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        state = self.documents.get(uri)
        while state is not None and self.documents.get(uri) is state:
            known = state.offers.get(index)
            if known is not None:
                return known
            if state.judged.is_set():
                return None
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.updated.wait(), remaining)
        return None

    async def offer(self, uri: str, index: int) -> FixOffer | None:
        """The judged fix for a finding, judging it now (without tests) if it is not ready."""
        state = self.documents.get(uri)
        if state is None or index >= len(state.findings):
            return None
        known = state.offers.get(index)
        if known is not None:
            return known
        judge = self.judge(state)
        if judge.validate is not None:
            # Tests are still running for this document: answer now with what ruff says.
            judge.validate = None
            judge.not_validated_reason = "tests still running"
        return await run_blocking(judge.offer, state.findings[index], state.text, state.findings)


class _Progress:
    """``$/progress`` for background validation; the client may cancel it."""

    def __init__(self, server: TactfulServer, cancelled: threading.Event) -> None:
        self.server = server
        self.cancelled = cancelled
        self.token = f"tactful-fixes-{uuid.uuid4().hex[:12]}"
        self.started = False

    async def begin(self, title: str) -> None:
        window = self.server.client_capabilities.window
        if window is None or not window.work_done_progress:
            return
        try:
            await self.server.work_done_progress.create_async(self.token)
        except Exception as error:
            logger.debug("no progress: %s", error)
            return
        self.server.work_done_progress.begin(
            self.token,
            types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0),
        )
        self.started = True
        # pygls cancels the token's future when the client cancels the progress.
        token_future = self.server.work_done_progress.tokens.get(self.token)
        if token_future is not None:
            token_future.add_done_callback(lambda f: f.cancelled() and self.cancelled.set())

    def report(self, message: str, percentage: int) -> None:
        if self.started:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str) -> None:
        if self.started:
            self.server.work_done_progress.end(
                self.token, types.WorkDoneProgressEnd(message=message)
            )


def service(server: TactfulServer) -> QualityService:
    return server.services.quality


def _is_python(document: Document) -> bool:
    return document.language_id == "python"


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def _with_url(finding: Finding) -> Finding:
    from dataclasses import replace

    return replace(finding, url=rule_url(finding.rule))


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
    server.listeners["open"].append(lambda document: quality.schedule(document, delay=0))
    server.listeners["change"].append(quality.schedule)
    server.listeners["save"].append(lambda document: quality.schedule(document, delay=0))

    def closed(document: Document) -> None:
        quality.forget(document)
        publisher(server).set(document.uri, SOURCE, [], publish=True)

    server.listeners["close"].append(closed)
    server.settings_listeners.append(quality.relint_all)

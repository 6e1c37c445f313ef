"""The quality pipeline: ruff's findings on an open document, read top to bottom in ``lint``, and
the fixes judged for them in the background.

Boundary: plain Python between the server, which turns an editor's document into a snapshot and
the findings into diagnostics and code actions, and the domain parts each step calls: ruff
(``tactful.analyzers.ruff``), the fix judge (``tactful.feedback.fixes``: candidates, ruff's
screen, the sandbox's verdict) and the feedback loop's item model. The editor side is reached
only through an ``Editor``; blocking work (ruff, judging a fix) goes through ``run_blocking``,
never on the event loop. Tests drive it without a server.

The steps of one lint, each written into its ``QualityTurn``:

1. **perceive**: ruff on the editor's text, as if saved at its path (``turn.proposals``);
2. **scope** (``quality.scope``): ``changed`` keeps the findings on lines changed since
   ``review.base`` (a new or untracked file is changed throughout) and those the change caused
   elsewhere in its file (not there at the base: an import a deleted line left unused);
   ``baseline`` keeps those the recorded baseline does not list; ``all`` keeps everything.
   The rest is dropped with its reason (``turn.dropped``). Where there is nothing to compare
   with (no git repository, no baseline recorded) every finding is kept;
3. **speak**: the editor shows the findings kept (a result for a version that is no longer
   current is dropped: ``stale``); the fixes offered before whose finding went away by other
   means are learned as ignored (``OfferedFixes``), unless the lint followed a settings change;
4. **judge the fixes**, in the background: each shown finding's best fix, screened by ruff
   against everything ruff found and, in a trusted workspace with validation on, tested in the
   sandbox under progress the developer can cancel; a new version of the document or closing
   it stops that work too.

Each fix judged with tests is announced to the editor (``Editor.verdicts_changed``), so it lists
the document's code actions again. A code action request is a turn of its own too
(``quick_fixes``, one ``QuickFixTurn``):

1. **perceive**: the document's findings at the version the editor asks about (``stale``
   otherwise);
2. **propose**: the judged fix of each finding the requested span touches (``offer``: judged at
   once, without tests, when its tests are still running or it was not judged ahead), each
   with its item id (``fix_id``);
3. **judge**: the item model's ranking, the fixes it hides kept out;
4. **speak**: ``turn.shown``, best first; each verdict recorded once, each fix recorded as
   offered once the developer has seen it; and ``turn.fix_all``, the safe or validated fixes
   that do not clash, not filtered.

``judged_offer`` waits for a finding's tests, for a fix about to be applied; ``fix_applied`` is
the editor saying a fix was applied.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tactful.analyzers.baseline import Baseline
from tactful.analyzers.diff import ChangeStatus, FileChange, diff_hunks
from tactful.analyzers.document import Snapshot
from tactful.analyzers.findings import Finding
from tactful.analyzers.index import read_source, source_files
from tactful.analyzers.ruff import SYNTAX_ERROR, RuffOptions, check_paths, check_text, rule_url
from tactful.analyzers.text import Edit, Span
from tactful.feedback.changes import (
    Changes,
    DocumentPipeline,
    OpenDocuments,
    RunBlocking,
    relative_to,
)
from tactful.feedback.execution.verdict import Status, Verdict, not_validated
from tactful.feedback.fixes import (
    FixJudge,
    FixOffer,
    FixRequest,
    FixTurn,
    OfferedFixes,
    Validator,
    fix_id,
    fix_item,
    judged_ahead,
    verdict_detail,
)
from tactful.feedback.pause import Typing
from tactful.feedback.review.pipeline import Report
from tactful.feedback.turn import Dropped, Judged, Outcome, Proposal, Turn
from tactful.feedback.validation import Validation
from tactful.suggestion.fixes.llm import LlmConfig
from tactful.suggestion.review.comments import BROAD_EXCEPT, DEBUG_LEFTOVER, TODO_ADDED
from tactful.suggestion.review.rules import rule_comments

if TYPE_CHECKING:
    from tactful.feedback.loop import FeedbackLoop

logger = logging.getLogger(__name__)

DEBOUNCE_S = 0.25
PYTHON = "python"
CHANGED, BASELINE, ALL = "changed", "baseline", "all"
# ruff's findings on the base version of a file, kept for this many files.
BASE_FINDINGS_KEPT = 64
# The review rules that judge a line on its own, which a baseline records; the others say what
# a change did to a function (it grew, its parameters changed, no test reaches it) and have
# nothing to record before the change.
LINE_RULES = frozenset({DEBUG_LEFTOVER, BROAD_EXCEPT, TODO_ADDED})


@dataclass(frozen=True, slots=True)
class QualityConfig:
    """The settings a lint and its fixes follow, resolved by the server.

    ``enabled`` is ``quality.enabled``; ``root`` the workspace folder (a file outside it is
    linted from its own folder); ``ruff`` runs ruff with ``quality.select``; ``llm`` proposes
    fixes when neither ruff nor a recipe has one; ``validation`` whether fixes may be tested
    (validation on, workspace trusted) and in which sandbox, else why not; ``scope`` is
    ``quality.scope`` and ``base`` the ``review.base`` its ``changed`` scope compares with."""

    enabled: bool = True
    root: Path | None = None
    ruff: RuffOptions = field(default_factory=RuffOptions)
    scope: str = CHANGED
    base: str = "HEAD"
    llm: LlmConfig | None = None
    validation: Validation = field(default_factory=Validation)


class Editor(OpenDocuments, Protocol):
    """What the quality pipeline needs of the editor's side (the server implements it)."""

    def config(self) -> QualityConfig:
        """The settings in force now."""
        ...

    def show(self, key: str, findings: Sequence[Finding], text: str, version: int) -> bool:
        """Show ``findings`` (in ``text``) on the document, replacing the ones shown; False when
        the document has moved past ``version``."""
        ...

    def progress(
        self, title: str, cancelled: threading.Event
    ) -> AbstractAsyncContextManager[Report]:
        """Long work the developer sees, and may cancel (``cancelled`` is then set)."""
        ...

    def verdicts_changed(self, key: str, version: int) -> None:
        """The tests gave a verdict on a fix of the document ``key`` at ``version``: its code
        actions, whose titles carry the verdicts, are worth asking for again."""
        ...


@dataclass
class DocumentQuality:
    """What is known about one version of a document: its findings shown (``findings``, which
    fixes are judged for), everything ruff found in it (``found``, which ruff's screen of a fix
    counts), and the turns that judged their fixes by the index of their finding."""

    uri: str
    version: int
    text: str
    path: str  # relative to the root
    root: Path
    findings: list[Finding]
    found: list[Finding] = field(default_factory=list)
    turns: dict[int, FixTurn] = field(default_factory=dict)
    judged: asyncio.Event = field(default_factory=asyncio.Event)
    # set (and replaced) whenever an offer is judged, for those waiting on one
    updated: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def before(self) -> list[Finding]:
        """What the document's text has before any fix, for ruff's screen."""
        return self.found or self.findings

    @property
    def offers(self) -> dict[int, FixOffer]:
        """The fixes judged so far, by the index of their finding."""
        return {index: t.offer for index, t in self.turns.items() if t.offer is not None}

    def request(self, index: int) -> FixRequest:
        """What fixing the finding at ``index`` starts from."""
        return FixRequest(self.findings[index], self.text, tuple(self.before))


@dataclass(slots=True, eq=False)
class QualityTurn(Turn[Snapshot, Finding]):
    """One lint of a document: ruff's findings proposed and, once shown, the document's
    ``state`` that code actions read."""

    state: DocumentQuality | None = None


@dataclass(frozen=True, slots=True)
class QuickFixRequest:
    """The editor asking for a document's fixes at ``version``: the quick fixes of the findings
    ``span`` touches (None: none asked for), the fix-all action (``fix_all``); ``seen`` when
    the developer asked (a menu, a key), not the editor computing a light bulb on its own."""

    key: str
    version: int
    span: Span | None
    fix_all: bool = False
    seen: bool = True


@dataclass(frozen=True, slots=True)
class OfferedFix:
    """A judged fix as a code action offers it: the index of its finding in the document's
    findings, the offer (its fix and verdict), and its item id (``fix_id``)."""

    index: int
    offer: FixOffer
    id: str


@dataclass(slots=True, eq=False)
class QuickFixTurn(Turn[QuickFixRequest, OfferedFix]):
    """One code action request: ``state`` the document's findings it read, the proposals the
    fixes judged for the findings asked about (each the ``offer`` of its ``FixTurn``), the item
    model's judgement of each, ``shown`` the quick fixes offered, best first, and ``fix_all``
    what the fix-all action applies."""

    state: DocumentQuality | None = None
    shown: list[OfferedFix] = field(default_factory=list)
    fix_all: list[OfferedFix] = field(default_factory=list)


class QualityPipeline(DocumentPipeline[Editor]):
    """Per-document quality state and the work on it (a document's background task is its
    lint); code actions read ``documents``."""

    def __init__(
        self,
        editor: Editor,
        feedback: Callable[[], FeedbackLoop | None],
        run_blocking: RunBlocking,
        changes: Changes | None = None,
        typing: Typing | None = None,
    ) -> None:
        # The working tree's diff and the baseline are shared with review.
        super().__init__(editor, feedback, run_blocking, changes, typing)
        self.documents: dict[str, DocumentQuality] = {}
        # ruff's findings on base versions of files, by (path, base text, ruff's options).
        self._base_findings: dict[tuple[str, str, RuffOptions], list[Finding]] = {}
        self._warned: set[str] = set()
        self._judge_tasks: dict[str, tuple[asyncio.Task[Any], threading.Event]] = {}
        # The step of each document's judging that typing would interrupt: set on a stop too.
        self._judging_steps: dict[str, threading.Event] = {}
        self._validations: dict[str, set[concurrent.futures.Future[Verdict]]] = {}
        # What the feedback loop heard of, so each fix and each of its verdicts is told once.
        self.offered: dict[str, OfferedFixes] = {}
        self.recorded_offers: set[str] = set()
        self.recorded_verdicts: set[tuple[str, str]] = set()
        # Documents whose next lint follows a settings change, not an edit.
        self._relinted: set[str] = set()

    # -- scheduling -------------------------------------------------------------------------

    def schedule(self, document: Snapshot, delay: float = DEBOUNCE_S) -> None:
        """Lint a Python document after ``delay``, replacing the lint waiting for it."""
        if document.language_id != PYTHON:
            return
        state = self.documents.get(document.uri)
        if state is not None and state.version != document.version:
            # The fixes being judged are for a text the developer has typed past: each is a
            # ruff run over the whole document, whose findings are read on the interpreter a
            # completion waits for. The next lint judges the text as it then is.
            self._stop_judging(document.uri)
            state.judged.set()
            state.updated.set()
        # One waiting lint per document, whose start each keystroke moves.
        self._run_after(
            document.uri, delay, functools.partial(self.lint, document.uri), "quality findings"
        )

    def forget(self, key: str) -> None:
        """The document was closed: its work stops, and its fixes still offered were ignored."""
        self._stop(key)
        self._stop_judging(key)
        self.documents.pop(key, None)
        self._relinted.discard(key)
        offered = self.offered.pop(key, None)
        if offered is not None:
            self._ignored(offered.closed())

    def settings_changed(self) -> None:
        """Lint every open document again: the findings follow the settings, not an edit."""
        for document in self.editor.documents():
            self._relinted.add(document.uri)
            self.schedule(document, delay=0)

    # -- one lint ---------------------------------------------------------------------------

    async def lint(self, key: str, delay: float = 0.0) -> QualityTurn:
        """Lint the document ``key`` as the editor has it after ``delay``, show its findings
        and start judging their fixes."""
        await asyncio.sleep(delay)
        # A next-edit request being answered comes first (``Foreground``): ruff over a long
        # document and the reading of its findings take a core and the interpreter it waits for.
        await self.typing.foreground.given_way()
        document = self.editor.document(key)
        if document is None:
            return QualityTurn(Snapshot(key, None, PYTHON, 0, "", None)).end(Outcome.CANCELLED)
        turn = QualityTurn(document)
        config = self.editor.config()
        if not config.enabled or document.path is None:
            self.editor.show(key, [], document.text, document.version)
            self.documents.pop(key, None)
            return turn.end(Outcome.SILENT)
        # 1. perceive: ruff on the editor's text.
        root = _root_for(document.path, config.root)
        relative = _relative(document.path, root)
        started = time.monotonic()
        findings = await self.run_blocking(_findings, document.text, relative, root, config.ruff)
        elapsed = round((time.monotonic() - started) * 1000, 3)
        turn.proposals.append(Proposal("ruff", tuple(findings), elapsed))
        # 2. scope (the lines changed, matched in the whole document: a request comes first).
        await self.typing.foreground.given_way()
        kept = await self._scope(turn, document, findings, config, root)
        now = self.editor.document(key)
        if now is None or now.version != document.version:
            return turn.end(Outcome.STALE)  # a newer version is being linted
        turn.judged = [Judged(finding) for finding in kept]
        # 3. speak, and settle what became of the fixes offered before.
        offered = self.offered.get(key)
        by_developer = key not in self._relinted
        self._relinted.discard(key)
        if offered is not None:
            # Against everything ruff found: a finding out of scope now (its change committed)
            # is still there, and its fix was not ignored.
            self._ignored(offered.changed(findings, document.text, infer=by_developer))
        state = DocumentQuality(
            key, document.version, document.text, relative, root, kept, found=findings
        )
        self._stop_judging(key)
        self.documents[key] = state
        turn.state = state
        shown = self.editor.show(key, kept, document.text, document.version)
        # 4. judge the fixes, in the background.
        self._start_judging(state)
        if not shown:
            return turn.end(Outcome.STALE)
        return turn.end(Outcome.SHOWN if kept else turn.ended_empty())

    async def _scope(
        self,
        turn: QualityTurn,
        document: Snapshot,
        findings: list[Finding],
        config: QualityConfig,
        root: Path,
    ) -> list[Finding]:
        """The findings ``quality.scope`` keeps; the others go to ``turn.dropped``."""
        if config.scope == ALL or not findings or document.path is None:
            return findings
        lines = document.text.split("\n")
        marks = [(f.rule, _line(lines, f.span.start.line)) for f in findings]
        if config.scope == BASELINE:
            project = await self.changes.project_root(config.root or root)
            path = relative_to_root(document.path, project)
            if path is None:
                return findings  # a file outside the project: no baseline speaks of it
            baseline = await self.changes.baseline(project)
            if baseline is None:
                self._warn_once(
                    self.changes.baseline_problem
                    or f'quality.scope is "baseline" but {project} has no baseline yet: '
                    "every finding is shown until `tactful baseline` records one"
                )
                return findings
            recorded = baseline.recorded(path, marks)
            return _keep(turn, findings, [not old for old in recorded], "in the baseline")
        diff = await self.changes.diff_of(config.root or root, config.base)
        if diff is None or relative_to(diff, document.path) is None:
            return findings  # nothing to compare with: everything is new
        change = await self.changes.change_of(diff, document.path, document.text)
        if change is None:
            relative = relative_to(diff, document.path)
            skipped = next((s.reason for s in diff.skipped if s.path == relative), None)
            reason = f"a file review leaves out ({skipped})" if skipped else "unchanged"
            return _keep(turn, findings, [False] * len(findings), reason)
        new = [True] * len(findings)
        if change.status is not ChangeStatus.ADDED:
            before = await self._base(change, diff.root, config.ruff)
            new = [not old for old in before.recorded(change.path, marks)]
        in_scope = [
            is_new or _on_changed_line(finding, change)
            for finding, is_new in zip(findings, new, strict=True)
        ]
        return _keep(turn, findings, in_scope, "not on a changed line")

    async def _base(self, change: FileChange, root: Path, options: RuffOptions) -> Baseline:
        """ruff's findings on the base version of a changed file, as a baseline keyed by the
        file's path now."""
        old_path = change.old_path or change.path
        key = (old_path, change.old_text, options)
        found = self._base_findings.get(key)
        if found is None:
            found = await self.run_blocking(check_text, change.old_text, old_path, root, options)
            if len(self._base_findings) >= BASE_FINDINGS_KEPT:
                self._base_findings.pop(next(iter(self._base_findings)))
            self._base_findings[key] = found
        old_lines = change.old_text.split("\n")
        return Baseline.of(
            (change.path, f.rule, _line(old_lines, f.span.start.line)) for f in found
        )

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            logger.warning("%s", message)
            self.editor.warn(f"tactful: {message}")

    # -- judging fixes in the background ----------------------------------------------------

    def judge(self, state: DocumentQuality, untested: str = "") -> FixJudge:
        """The fix judge for a document's findings under the settings in force now; with
        ``untested``, one that runs no tests and says so for that reason."""
        config = self.editor.config()
        validate, reason = self._validation(state, config)
        if untested and validate is not None:
            validate, reason = None, untested
        return FixJudge(
            state.root,
            ruff_options=config.ruff,
            validate=validate,
            not_validated_reason=reason,
            llm=config.llm,
        )

    def _validation(
        self, state: DocumentQuality, config: QualityConfig
    ) -> tuple[Validator | None, str]:
        """The validator for a document's fixes, or None and why nothing may run."""
        validation = config.validation
        if not validation.may_run:
            return None, validation.reason
        loop = asyncio.get_running_loop()
        # The editor's text may be unsaved: the sandbox gets it as an overlay of the file.
        overlays = {state.path: state.text}
        running = self._validations.setdefault(state.uri, set())

        def validate(edits: Sequence[Edit]) -> Verdict:
            # Runs on the server's loop so the sandbox can build its coverage map in the
            # background; cancelling the future (new version, close) kills the test run.
            future = asyncio.run_coroutine_threadsafe(validation.verdict(edits, overlays), loop)
            running.add(future)
            try:
                return future.result()
            except concurrent.futures.CancelledError:
                return not_validated("cancelled")
            finally:
                running.discard(future)

        return validate, ""

    def _start_judging(self, state: DocumentQuality) -> None:
        if not state.findings:
            state.judged.set()
            return
        cancelled = threading.Event()
        task = self.editor.spawn(self._judge_all(state, cancelled), "judging fixes")
        self._judge_tasks[state.uri] = (task, cancelled)

    def _stop_judging(self, key: str) -> None:
        running = self._judge_tasks.pop(key, None)
        if running is not None:
            task, cancelled = running
            cancelled.set()
            task.cancel()
        step = self._judging_steps.pop(key, None)
        if step is not None:
            step.set()
        for future in list(self._validations.get(key, ())):
            future.cancel()

    async def _judge_all(self, state: DocumentQuality, cancelled: threading.Event) -> None:
        # Judging is pure Python over the whole document (ruff's output read for every
        # candidate, libcst recipes): it starts once the developer pauses.
        await self.typing.pause()
        if cancelled.is_set():
            return
        judge = self.judge(state)
        if judge.validate is None:
            await self._judge_each(judge, state, cancelled, None)
            return
        title = f"Testing fixes for {Path(state.path).name}"
        async with self.editor.progress(title, cancelled) as report:
            await self._judge_each(judge, state, cancelled, report)

    async def _judge_each(
        self,
        judge: FixJudge,
        state: DocumentQuality,
        cancelled: threading.Event,
        report: Report | None,
    ) -> None:
        try:
            ahead = judged_ahead(state.findings)
            total = len(ahead)
            for step, index in enumerate(ahead):
                finding = state.findings[index]
                if cancelled.is_set():
                    return
                if report is not None:
                    report(f"{finding.rule} ({step + 1}/{total})", step * 100 // total)
                turn = await self._judge_one(judge, state, index, cancelled)
                if turn is None:
                    return
                state.turns[index] = turn
                waiting, state.updated = state.updated, asyncio.Event()
                waiting.set()
                offered = turn.offer is not None and turn.offer.fix is not None
                if judge.validate is not None and offered:
                    self.editor.verdicts_changed(state.uri, state.version)
        finally:
            state.judged.set()
            state.updated.set()

    async def _judge_one(
        self,
        judge: FixJudge,
        state: DocumentQuality,
        index: int,
        cancelled: threading.Event,
    ) -> FixTurn | None:
        """The turn that judged one finding's fix, in a pause of the developer's typing: a
        judging that typing interrupted is abandoned and done again after the next pause (its
        settled screens and verdicts are kept, so it starts where it stopped). None once the
        document's judging was stopped."""
        while True:
            await self.typing.pause()
            if cancelled.is_set():
                return None
            with self.typing.interruptible() as interrupted:
                self._judging_steps[state.uri] = interrupted
                try:
                    turn = await self.run_blocking(judge.turn, state.request(index), interrupted)
                finally:
                    if self._judging_steps.get(state.uri) is interrupted:
                        del self._judging_steps[state.uri]
            if cancelled.is_set():
                return None
            if turn.outcome is not Outcome.CANCELLED or not interrupted.is_set():
                return turn

    # -- what code actions ask --------------------------------------------------------------

    async def judged_offer(self, key: str, index: int, timeout_s: float) -> FixOffer | None:
        """The fix for a finding once its judging (tests included) is done, waiting up to
        ``timeout_s``; None when it is not done by then, or the document moved on."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        state = self.documents.get(key)
        while state is not None and self.documents.get(key) is state:
            known = state.turns.get(index)
            if known is not None:
                return known.offer
            if state.judged.is_set():
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.updated.wait(), remaining)
        return None

    async def offer(self, key: str, index: int) -> FixOffer | None:
        """The judged fix for a finding, judging it now (without tests) if it is not ready."""
        state = self.documents.get(key)
        if state is None or index >= len(state.findings):
            return None
        known = state.turns.get(index)
        if known is not None:
            return known.offer
        # Tests are still running for this document, or this finding was not among those
        # judged ahead (judged_ahead): answer now with what ruff says.
        untested = (
            "not tested: too many findings in this file"
            if state.judged.is_set()
            else "tests still running"
        )
        turn = await self.run_blocking(self.judge(state, untested).turn, state.request(index))
        return turn.offer

    async def quick_fixes(self, request: QuickFixRequest) -> QuickFixTurn:
        """The fixes to offer for one code action request, decided top to bottom in its turn."""
        turn = QuickFixTurn(request)
        # perceive: the document's findings, at the version the editor asks about.
        state = self.documents.get(request.key)
        if state is None or state.version != request.version:
            return turn.end(Outcome.STALE)
        turn.state = state
        if request.span is not None:
            # propose: the fix of each finding the span touches, as judged (or judged now).
            await self._propose_fixes(turn, state, request.span)
            if self.documents.get(request.key) is not state:
                return turn.end(Outcome.STALE)  # relinted while the fixes were judged
            # judge: the item model's ranking, the ones it hides kept out.
            self._rank_fixes(turn)
            # speak: what the developer sees, recorded.
            self._offer_fixes(turn, state)
        if request.fix_all:
            turn.fix_all = self.fix_all(state)
        logger.debug("quick fix turn %s", turn.summary())
        return turn.end(Outcome.SHOWN if turn.shown or turn.fix_all else turn.ended_empty())

    async def _propose_fixes(self, turn: QuickFixTurn, state: DocumentQuality, span: Span) -> None:
        started = time.monotonic()
        fixes: list[OfferedFix] = []
        for index, finding in enumerate(state.findings):
            if not _overlaps(finding.span, span):
                continue
            offer = await self.offer(state.uri, index)
            if offer is not None and offer.fix is not None:
                fixes.append(OfferedFix(index, offer, fix_id(offer.finding, offer.fix, state.text)))
        elapsed = round((time.monotonic() - started) * 1000, 3)
        turn.proposals.append(Proposal("fixes", tuple(fixes), elapsed))

    def _rank_fixes(self, turn: QuickFixTurn) -> None:
        """Most likely useful first (the findings' order among equals); every fix, in the
        findings' order, when there is no loop."""
        proposed = [fix for proposal in turn.proposals for fix in proposal.items]
        loop = self.feedback()
        if loop is None:
            turn.judged = [Judged(fix) for fix in proposed]
            return
        workspace = self.workspace_key()
        judged = [
            Judged(fix, loop.judge_item(workspace, fix.id, fix_item(fix.offer))) for fix in proposed
        ]
        judged.sort(key=lambda j: -j.decision.probability if j.decision is not None else 0.0)
        turn.judged = judged

    def _offer_fixes(self, turn: QuickFixTurn, state: DocumentQuality) -> None:
        """The fixes kept are shown. Each verdict the tests gave a fix is recorded once; a fix
        is recorded as offered (and may later count as ignored) only once the developer has
        seen it: a list the editor asked for on its own, to draw a light bulb, shows the
        developer nothing."""
        turn.shown = [judged.item for judged in turn.kept]
        loop = self.feedback()
        if loop is None:
            return
        tracked = self.offered.setdefault(state.uri, OfferedFixes())
        for shown in turn.shown:
            offer, item_id = shown.offer, shown.id
            assert offer.fix is not None
            if turn.request.seen:
                tracked.offered(item_id, offer.finding, offer.fix, state.text)
                if item_id not in self.recorded_offers and loop.item_shown(item_id):
                    self.recorded_offers.add(item_id)
            status = offer.verdict.status.value
            if offer.verdict.status is not Status.NOT_VALIDATED and (
                (item_id, status) not in self.recorded_verdicts
            ):
                self.recorded_verdicts.add((item_id, status))
                loop.verdict(item_id, status, verdict_detail(offer))

    def fix_all(self, state: DocumentQuality) -> list[OfferedFix]:
        """The safe or validated fixes of a document whose edits do not clash (the first of
        two clashing fixes wins): what the fix-all action applies, not filtered by the item
        model, since the developer asked for every one."""
        chosen: list[OfferedFix] = []
        edits: list[Edit] = []
        offers = state.offers
        for index in sorted(offers):
            offer = offers[index]
            if not offer.applicable or offer.fix is None:
                continue
            if any(_clash(edit, kept) for edit in offer.fix.edits for kept in edits):
                continue
            edits.extend(offer.fix.edits)
            chosen.append(OfferedFix(index, offer, fix_id(offer.finding, offer.fix, state.text)))
        return chosen

    def fix_applied(self, item_ids: Sequence[str], explicit: bool = True) -> bool:
        """The editor applied these fixes (``explicit``: one the developer picked; otherwise
        a fix-all); True when the loop learned or recorded any of them."""
        for tracked in self.offered.values():
            for item_id in item_ids:
                tracked.applied(item_id)
        loop = self.feedback()
        if loop is None:
            return False
        return any([loop.fix_applied(item_id, explicit) for item_id in item_ids])

    def workspace_key(self) -> str:
        """The workspace's root folder, as the feedback store keys what it learned."""
        root = self.editor.config().root
        return str(Path(str(root)).resolve()) if root is not None else ""

    def _ignored(self, item_ids: Sequence[str]) -> None:
        loop = self.feedback()
        for item_id in item_ids:
            if loop is not None and loop.fix_ignored(item_id):
                logger.debug("fix %s ignored", item_id)


def _findings(text: str, path: str, root: Path, options: RuffOptions) -> list[Finding]:
    """ruff's findings on ``text``, each with its rule's documentation page."""
    return [
        replace(finding, url=rule_url(finding.rule))
        if finding.url is None and finding.rule != SYNTAX_ERROR
        else finding
        for finding in check_text(text, path, root, options)
    ]


def _keep(
    turn: QualityTurn, findings: list[Finding], kept: list[bool], reason: str
) -> list[Finding]:
    """The findings marked ``kept``; the others are dropped from the turn for ``reason``."""
    pairs = list(zip(findings, kept, strict=True))
    turn.dropped.extend(Dropped(finding, reason) for finding, keep in pairs if not keep)
    return [finding for finding, keep in pairs if keep]


def _on_changed_line(finding: Finding, change: FileChange) -> bool:
    """Whether a line the finding covers changed (a span ending at the start of a line does
    not cover that line)."""
    start, end = finding.span.start, finding.span.end
    last = end.line - 1 if end.line > start.line and end.column == 0 else end.line
    return any(change.is_changed(line) for line in range(start.line, max(last, start.line) + 1))


def _overlaps(span: Span, requested: Span) -> bool:
    return span.start <= requested.end and requested.start <= span.end


def _clash(edit: Edit, other: Edit) -> bool:
    return (edit.span.start < other.span.end and other.span.start < edit.span.end) or (
        edit.span.start == other.span.start
    )


def _line(lines: list[str], number: int) -> str:
    return lines[number] if 0 <= number < len(lines) else ""


def relative_to_root(path: str, root: Path) -> str | None:
    """``path`` (absolute) inside ``root``, ``/``-separated; None outside it."""
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _root_for(path: str, workspace: Path | None) -> Path:
    file_path = Path(path)
    if workspace is not None:
        try:
            file_path.resolve().relative_to(Path(workspace).resolve())
            return Path(workspace).resolve()
        except ValueError:
            pass
    return file_path.resolve().parent


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def project_findings(root: Path, options: RuffOptions) -> list[tuple[str, str, str]]:
    """Every finding a project has today, as ``(path, rule, line text)``, paths relative to
    ``root``: ruff's on every file it checks there (the project's own configuration and
    exclusions apply), and, on every source file read whole, the review rules that judge a line
    on its own (``LINE_RULES``), so that a line the baseline records stays quiet in review too.
    What ``tactful baseline`` records."""
    lines: dict[str, list[str]] = {}

    def line_of(path: str, number: int) -> str:
        if path not in lines:
            try:
                text = (root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            lines[path] = text.split("\n")
        return _line(lines[path], number)

    found = [
        (f.path, f.rule, line_of(f.path, f.span.start.line))
        for f in check_paths(["."], root, options)
    ]
    for path in source_files(root):
        text = read_source(root / path)
        if text is None:
            continue
        whole = FileChange(path, None, ChangeStatus.ADDED, diff_hunks("", text), text)
        found.extend(
            (path, c.rule, c.line_text) for c in rule_comments(whole) if c.rule in LINE_RULES
        )
    return found

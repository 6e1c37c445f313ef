"""The next-edit pipeline: a ``tactful/nextEdits`` request's whole path, read top to bottom in
``suggest``.

Boundary: plain Python between the server, which feeds the edit history from ``didChange`` and
turns a request into a ``NextEditRequest`` and the shown next edits back into LSP items, and the
domain parts each step calls: the next-edit engine (``tactful.suggestion.next_edits``), the
feedback loop (the item model for next edits, the store). Every decision goes into the
request's ``NextEditTurn``, which ``suggest`` returns.

Engine work (the proposers, the checks, feeding the history) runs on one worker thread the
server gives (``run_engine``), in the order it was asked for: a request sees every change sent
before it, and the engine's own state needs no other lock. The model, when one is configured,
is asked on another thread (``run_blocking``) at the same time, under its own deadline; nothing
here runs on the event loop but bookkeeping.

The steps:

1. **propose**: the local proposers' candidates for the cursor (scored and ranked by the
   engine), and the model's when one is configured, joined into one ranked list;
2. **judge**: the item model for next edits (``tactful.feedback.acceptance.next_edits``)
   decides for the best candidates, each with its probability and whether it is shown;
3. **check**: those it shows, best first, until ``limit`` pass the checks (the file still
   parses as well, ruff finds nothing new, the place still holds the text); then those in
   another file are **validated** like a fix: in a trusted workspace with validation on, the
   workspace's tests run on a sandboxed copy with the edit applied (the open documents as the
   editor has them); one they fail is not shown, the others say in their label what ran
   ("— 12 tests passed", "— not validated (workspace not trusted)"). The answer waits for
   those tests; a newer request cancels them;
4. **speak**: each gets an id (the same edit proposed again keeps it) and a label saying how
   many more places the change goes to, and the loop is told what was shown. Next edits shown
   for this document before, that the developer neither took nor made by hand and that are not
   shown again, were passed by: inferred rejected.

Freshness: a newer request for the same document pre-empts this one, and a result computed for
a version of the document that is no longer current is dropped.

As an inline completion (``inline``, asked when the completion engines have nothing to show)
a next edit is never waited for: proposing reads the document's tree, whose re-parse grows
with the file, and no keystroke should pay for it. The request is answered at once from what
was prepared for that very moment (the same version, the same cursor), else with nothing; the
turn is then prepared in the background once the document has stayed at that version for
``INLINE_PAUSE_S`` (a newer moment cancels it), and when it finds a next edit on the cursor's
line, ``announce`` tells the editor to ask again: the next request at that moment is served it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from tactful.analyzers.text import Edit, LineIndex, Point, Span
from tactful.feedback.acceptance.next_edits import NextEditItem
from tactful.feedback.execution.verdict import Status, Verdict, not_validated
from tactful.feedback.loop import FeedbackLoop
from tactful.feedback.preempt import Preempting
from tactful.feedback.turn import Dropped, Judged, Outcome, Proposal, Turn
from tactful.feedback.validation import Validation
from tactful.suggestion.next_edits import (
    THRESHOLD,
    EditHistory,
    ModelConfig,
    NextEdit,
    NextEditEngine,
    NextEditOptions,
    NextEditRequest,
    WorkspaceFiles,
    labelled,
)
from tactful.suggestion.next_edits.checks import STALE

logger = logging.getLogger(__name__)

T = TypeVar("T")
Run = Callable[[Callable[[], T]], Awaitable[T]]

LOCAL = "local"
MODEL = "llm"
# Where the editor shows an answer (``TurnOptions.surface``).
NEXT_EDITS = ""
INLINE = "inline"
# Why a next edit is not offered as an inline completion.
NOT_ON_CURSOR_LINE = "not on the cursor's line"
# Verdicts on a next edit in another file that keep it from being shown.
FAILING = frozenset({Status.FAILED, Status.TIMEOUT})
# Candidates the item model judges per request, best first: the rest would not be shown.
JUDGED = 8
# Shown next edits remembered by id, for the editor's accept and reject commands.
REMEMBERED = 2048
# How long a document stays unchanged before a next edit is prepared for an inline completion:
# typing on within it costs the next-edit engine nothing (a pause, not a keystroke, pays).
INLINE_PAUSE_S = 0.3

Announce = Callable[[NextEditRequest], None]


@dataclass(frozen=True, slots=True)
class ShownNextEdit:
    """A next edit as the editor got it: ``text`` (and ``lines``, its line index when known) is
    the text of the document it changes as it was checked, for converting its columns."""

    id: str
    request: NextEditRequest
    edit: NextEdit
    text: str
    lines: LineIndex | None = None


@dataclass(slots=True, eq=False)
class NextEditTurn(Turn[NextEditRequest, NextEdit]):
    """A next-edit request's turn (``tactful.feedback.turn``): ``shown`` is what the editor got,
    each with its id; ``verdicts`` what the tests said of next edits in other files, by
    ``NextEdit.key``."""

    shown: list[ShownNextEdit] = field(default_factory=list)
    verdicts: dict[tuple[object, ...], Verdict] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """What one turn follows: ``workspace`` is the key the loop keeps the workspace's models
    under (its root folder); ``limit`` the most next edits shown; ``use_model`` whether the
    configured model is asked too; ``surface`` where the editor shows the answer (``NEXT_EDITS``
    for ``tactful/nextEdits``, ``INLINE`` for an inline completion): each surface has its own
    request in flight and its own last answer, which is what "passed by" compares with.

    ``validation`` says whether next edits in other files may be tested (validation on,
    workspace trusted) and in which sandbox, else why not: the same rule as for fixes."""

    workspace: str = ""
    limit: int = 2
    use_model: bool = True
    surface: str = ""
    validation: Validation = field(default_factory=Validation)


@dataclass(frozen=True, slots=True)
class InlineNextEdit:
    """A next edit on the cursor's line as an inline completion shows it: ``span`` (on that line,
    from the edit or the cursor, whichever comes first, to whichever comes last) replaced by
    ``text``, which is the edit's new text with what lies between it and the cursor."""

    shown: ShownNextEdit
    span: Span
    text: str


@dataclass(eq=False)
class _Prepared:
    """An inline next edit being prepared, or prepared, for one moment of a document: the
    turn it goes into and the task that gives what passed the checks (None: nothing, the
    moment is gone)."""

    turn: NextEditTurn
    task: asyncio.Task[list[NextEdit] | None]

    def same(self, request: NextEditRequest) -> bool:
        """Whether ``request`` is at this very moment (the same version, the same cursor)."""
        mine = self.turn.request
        return (
            request.uri == mine.uri
            and request.version == mine.version
            and request.position == mine.position
        )


class NextEditPipeline:
    """The next-edit path for one server: the edit history of the open documents, the engine,
    the next edits shown by id, and the feedback loop (``feedback()``: None until the server
    has one)."""

    def __init__(
        self,
        feedback: Callable[[], FeedbackLoop | None],
        run_engine: Run[Any],
        run_blocking: Run[Any],
        *,
        root: str | None = None,
        model: ModelConfig | None = None,
    ) -> None:
        self.history = EditHistory()
        workspace = WorkspaceFiles(root) if root else None
        # The item model decides what is shown: the engine gives every candidate it scores,
        # and a candidate is checked only once the item model would show it.
        options = NextEditOptions(threshold=0.0, check=False)
        self.engine = NextEditEngine(
            self.history, workspace, root=root, options=options, model=model
        )
        self.feedback = feedback
        self.run_engine = run_engine
        self.run_blocking = run_blocking
        self._shown: OrderedDict[str, ShownNextEdit] = OrderedDict()
        # Ids by what makes two proposals one (the place and the text), while they may show.
        self._ids: OrderedDict[tuple[str, int, int, int, int, str], str] = OrderedDict()
        # Ids the loop was told were shown, and ids accepted, dismissed or passed by (bounded,
        # oldest forgotten first).
        self._announced: OrderedDict[str, None] = OrderedDict()
        self._settled: OrderedDict[str, None] = OrderedDict()
        # What the last answer for each document and surface showed.
        self._last: dict[tuple[str, str], list[str]] = {}
        # One request in flight per document on each surface.
        self._inflight: dict[str, Preempting[list[NextEdit]]] = {}
        # The inline next edit prepared for each document's latest moment.
        self._prepared: dict[str, _Prepared] = {}

    def configure(self, model: ModelConfig | None) -> None:
        """Use another model (None: none), after the settings changed."""
        self.engine.model = model

    def get(self, item_id: str) -> ShownNextEdit | None:
        return self._shown.get(item_id)

    async def suggest(
        self,
        request: NextEditRequest,
        options: TurnOptions,
        is_current: Callable[[], bool],
    ) -> NextEditTurn:
        """Take one request through every step. ``is_current`` says whether the document is
        still at the request's version."""
        turn = NextEditTurn(request)
        loop = self.feedback()
        # 1. propose, 2. judge, 3. check, as the document's one request in flight.
        inflight = self._inflight.setdefault(options.surface, Preempting())
        finished, passed = await inflight.run(
            request.uri, self._propose_judge_check(turn, options, loop)
        )
        if not finished or passed is None:
            return self._ended(turn, Outcome.CANCELLED)
        if not is_current():
            return self._ended(turn, Outcome.STALE)
        # 4. speak.
        await self._speak(turn, passed, loop, options.surface)
        if not turn.shown:
            return self._ended(turn, turn.ended_empty())
        return self._ended(turn, Outcome.SHOWN)

    async def inline(
        self,
        request: NextEditRequest,
        options: TurnOptions,
        is_current: Callable[[], bool],
        announce: Announce | None = None,
        pause_s: float = INLINE_PAUSE_S,
    ) -> InlineNextEdit | None:
        """The best next edit as an inline completion at the cursor, when it lies on the
        cursor's line and was prepared for this moment (None otherwise). Asked when the
        completion engines have nothing to show; never waits for the engine or the model.
        Otherwise the moment's turn is prepared once the document has stayed at its version
        for ``pause_s``, and ``announce(request)`` is called when it found one: asked again
        at that moment, this gives it. Accepting it is accepting the next edit (its id)."""
        prepared = self._prepared.get(request.uri)
        if prepared is not None and prepared.same(request):
            if not prepared.task.done() or prepared.task.cancelled():
                return None
            passed = prepared.task.result()
            turn = prepared.turn
            if passed is None or not is_current():
                return None
            if turn.outcome is not None:
                # Asked again at the same moment: the same answer, spoken once.
                shown = turn.shown if turn.outcome is Outcome.SHOWN else []
                return _as_inline(shown[0], request.position) if shown else None
            # 4. speak, now that the editor asks for it.
            await self._speak(turn, passed, self.feedback(), INLINE)
            if not turn.shown:
                self._ended(turn, turn.ended_empty())
                return None
            self._ended(turn, Outcome.SHOWN)
            return _as_inline(turn.shown[0], request.position)
        if prepared is not None:
            prepared.task.cancel()
        options = replace(options, limit=1, use_model=False, surface=INLINE)
        turn = NextEditTurn(request)
        task = asyncio.ensure_future(self._prepare(turn, options, is_current, announce, pause_s))
        self._prepared[request.uri] = _Prepared(turn, task)
        return None

    async def _prepare(
        self,
        turn: NextEditTurn,
        options: TurnOptions,
        is_current: Callable[[], bool],
        announce: Announce | None,
        pause_s: float,
    ) -> list[NextEdit] | None:
        """Steps 1 to 3 of an inline turn after a pause (None: the moment passed first)."""
        try:
            await asyncio.sleep(pause_s)
        except asyncio.CancelledError:
            self._ended(turn, Outcome.CANCELLED)
            raise
        if not is_current():
            self._ended(turn, Outcome.STALE)
            return None
        loop = self.feedback()
        inflight = self._inflight.setdefault(INLINE, Preempting())
        finished, passed = await inflight.run(
            turn.request.uri, self._propose_judge_check(turn, options, loop)
        )
        if not finished or passed is None:
            self._ended(turn, Outcome.CANCELLED)
            return None
        if not is_current():
            self._ended(turn, Outcome.STALE)
            return None
        if not passed:
            # Nothing to offer here: what was offered inline before was passed by.
            await self._speak(turn, passed, loop, INLINE)
            self._ended(turn, turn.ended_empty())
        elif announce is not None:
            announce(turn.request)
        return passed

    async def accepted(self, item_id: str) -> bool:
        """The editor applied a next edit it was shown."""
        if item_id not in self._shown:
            return False
        _remember(self._settled, item_id)
        loop = self.feedback()
        if loop is not None:
            loop.next_edit_accepted(item_id)
        return True

    async def rejected(self, item_id: str) -> bool:
        """The editor dismissed a next edit: the engine does not propose it again, and
        proposes the other places of the same change less readily."""
        shown = self._shown.get(item_id)
        if shown is None:
            return False
        _remember(self._settled, item_id)
        loop = self.feedback()
        if loop is not None:
            loop.next_edit_rejected(item_id, explicit=True)
        await self.run_engine(lambda: self.engine.dismiss(shown.edit))
        return True

    def closed(self, uri: str) -> None:
        """A document was closed: what was shown for it and not taken was passed by."""
        prepared = self._prepared.pop(uri, None)
        if prepared is not None:
            prepared.task.cancel()
        for where in [where for where in self._last if where[0] == uri]:
            self._passed_by(where, [], self.feedback())

    # -- the steps ------------------------------------------------------------------------

    async def _propose_judge_check(
        self, turn: NextEditTurn, options: TurnOptions, loop: FeedbackLoop | None
    ) -> list[NextEdit]:
        request = turn.request
        engine = self.engine
        uri, position = request.uri, request.position
        # 1. propose: the local proposers, and the model at once on a thread of its own.
        asked = None
        if options.use_model and engine.model is not None:
            asked = asyncio.ensure_future(
                _timed(MODEL, self.run_blocking, lambda: engine.model_edits(uri, position))
            )
        try:
            local = await _timed(LOCAL, self.run_engine, lambda: engine.propose(uri, position))
            turn.proposals.append(local)
            candidates = list(local.items)
            if asked is not None:
                model = await asked
                turn.proposals.append(model)
                if model.items:
                    candidates = await self.run_engine(
                        lambda: engine.joined(candidates, model.items, uri, position)
                    )
        finally:
            if asked is not None:
                asked.cancel()
        # 2. judge: the best candidates, each by the item model (without a loop, as the
        # engine alone would: by its score). One exploration draw an answer: on the best
        # candidate the model would hide, none on those after it (a 5% draw on each of eight
        # hidden candidates would show one of them in about a third of such answers); an
        # explored one comes after those the model passes.
        kept: list[NextEdit] = []
        explored: list[NextEdit] = []
        drawn = False
        for candidate in candidates[:JUDGED]:
            if loop is None:
                judged = Judged(candidate)
                if candidate.score < THRESHOLD:
                    continue
            else:
                item_id = self._id_of(candidate)
                decision = loop.judge_next_edit(
                    options.workspace, item_id, _item(candidate, request), not drawn
                )
                drawn = drawn or decision.explored or not decision.show
                judged = Judged(candidate, decision)
            turn.judged.append(judged)
            if judged.shown:
                is_explored = judged.decision is not None and judged.decision.explored
                (explored if is_explored else kept).append(candidate)
        kept += explored
        if not kept:
            return []
        # 3. check: best first, until ``limit`` pass.
        verdicts = await self.run_engine(lambda: engine.check(kept, options.limit))
        passed = []
        for verdict in verdicts:
            if verdict.passed:
                passed.append(verdict.edit)
            else:
                turn.dropped.append(Dropped(verdict.edit, verdict.reason))
        # A label counts the places among every candidate, not only those judged.
        shown = labelled(passed[: options.limit], candidates)
        if options.surface == INLINE:
            shown = self._on_cursor_line(turn, shown)
        # 3b. validate: an edit in another file, by the workspace's tests.
        return await self._validated(turn, shown, options)

    async def _validated(
        self, turn: NextEditTurn, passed: list[NextEdit], options: TurnOptions
    ) -> list[NextEdit]:
        """The next edits with those in other files validated like a fix: the workspace's
        tests run on a sandboxed copy with the edit applied (and the open documents as the
        editor has them); one the tests fail is dropped. Their labels say what ran: "— 12 tests
        passed", "— not validated (workspace not trusted)"."""
        elsewhere = [edit for edit in passed if edit.uri != turn.request.uri]
        if not elsewhere:
            return passed
        overlays: dict[str, str] = {}
        if options.validation.may_run:
            overlays = await self.run_engine(self._open_documents)
        kept: list[NextEdit] = []
        for edit in passed:
            if edit.uri == turn.request.uri:
                kept.append(edit)
                continue
            verdict = await self._verdict(edit, options, overlays)
            turn.verdicts[edit.key] = verdict
            if verdict.status in FAILING:
                turn.dropped.append(Dropped(edit, f"tests: {verdict.summary()}"))
                continue
            kept.append(replace(edit, label=f"{edit.label} — {verdict.summary()}"))
        return kept

    async def _verdict(
        self, edit: NextEdit, options: TurnOptions, overlays: Mapping[str, str]
    ) -> Verdict:
        validation = options.validation
        if validation.may_run and edit.path is None:
            return not_validated("not a file of the workspace")
        edits = [Edit(edit.path, edit.span, edit.new_text)] if edit.path is not None else []
        return await validation.verdict(edits, overlays)

    def _open_documents(self) -> dict[str, str]:
        """The open documents inside the workspace as the editor has them, by path (on the
        engine's worker, which owns the history)."""
        root = self.engine.root
        texts: dict[str, str] = {}
        if root is None:
            return texts
        for uri in self.history.uris():
            path, text = self.history.path(uri), self.history.text(uri)
            if path is None or text is None:
                continue
            resolved = Path(path).resolve()
            if resolved.is_relative_to(root):
                texts[resolved.relative_to(root).as_posix()] = text
        return texts

    @staticmethod
    def _on_cursor_line(turn: NextEditTurn, passed: list[NextEdit]) -> list[NextEdit]:
        """The best next edit when it is on the cursor's line (one line of the document asked
        about), else nothing: an inline completion shows only there."""
        line = turn.request.position.line
        kept: list[NextEdit] = []
        for edit in passed[:1]:
            span = edit.span
            if edit.uri == turn.request.uri and span.start.line == span.end.line == line:
                kept.append(edit)
            else:
                turn.dropped.append(Dropped(edit, NOT_ON_CURSOR_LINE))
        return kept

    async def _speak(
        self,
        turn: NextEditTurn,
        passed: Sequence[NextEdit],
        loop: FeedbackLoop | None,
        surface: str = NEXT_EDITS,
    ) -> None:
        request = turn.request
        documents = await self.run_engine(
            lambda: [self.engine.document(item.uri, item.path) for item in passed]
        )
        for item, document in zip(passed, documents, strict=True):
            if document is None:
                turn.dropped.append(Dropped(item, STALE))
                continue
            item_id = self._id_of(item)
            shown = ShownNextEdit(item_id, request, item, document.text, document.lines)
            self._shown[item_id] = shown
            self._shown.move_to_end(item_id)
            while len(self._shown) > REMEMBERED:
                self._shown.popitem(last=False)
            turn.shown.append(shown)
            if loop is not None and item_id not in self._announced:
                _remember(self._announced, item_id)
                loop.next_edit_shown(item_id, item.new_text)
        self._passed_by((request.uri, surface), [shown.id for shown in turn.shown], loop)

    def _passed_by(self, where: tuple[str, str], now: list[str], loop: FeedbackLoop | None) -> None:
        """What the last answer for a document on a surface showed that this one does not, and
        that was neither accepted, dismissed nor made by hand, is inferred rejected."""
        before = self._last.get(where, [])
        if now:
            self._last[where] = now
        else:
            self._last.pop(where, None)
        for item_id in before:
            if item_id in now or item_id in self._settled:
                continue
            _remember(self._settled, item_id)
            shown = self._shown.get(item_id)
            if shown is not None and _made_by_hand(shown, self.history.text(shown.edit.uri)):
                continue
            if loop is not None:
                loop.next_edit_rejected(item_id, explicit=False)

    def _id_of(self, item: NextEdit) -> str:
        key = item.key
        known = self._ids.get(key)
        if known is not None and known not in self._settled:
            self._ids.move_to_end(key)
            return known
        item_id = uuid.uuid4().hex[:16]
        self._ids[key] = item_id
        while len(self._ids) > REMEMBERED:
            self._ids.popitem(last=False)
        return item_id

    @staticmethod
    def _ended(turn: NextEditTurn, outcome: Outcome) -> NextEditTurn:
        turn.end(outcome)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("next-edit turn %s", turn.summary())
        return turn


async def _timed(
    source: str, run: Run[Any], work: Callable[[], list[NextEdit]]
) -> Proposal[NextEdit]:
    started = time.monotonic()
    problem = ""
    try:
        found = await run(work)
    except Exception:
        logger.exception("%s next edits failed", source)
        found, problem = [], "failed"
    elapsed = (time.monotonic() - started) * 1000
    return Proposal(source, tuple(found), round(elapsed, 3), problem)


def _remember(seen: OrderedDict[str, None], item_id: str) -> None:
    seen[item_id] = None
    while len(seen) > REMEMBERED:
        seen.popitem(last=False)


def _item(edit: NextEdit, request: NextEditRequest) -> NextEditItem:
    return NextEditItem(
        source=edit.source,
        score=edit.score,
        evidence=tuple((feature.name, feature.value) for feature in edit.evidence),
        language=request.language_id,
    )


def _as_inline(shown: ShownNextEdit, cursor: Point) -> InlineNextEdit:
    """A next edit on the cursor's line as a replacement that reaches the cursor (an inline
    completion's range holds the cursor): what lies between the edit and the cursor is kept."""
    edit = shown.edit
    lines = LineIndex(shown.text) if shown.lines is None else shown.lines
    start = lines.offset(edit.span.start, shown.text)
    end = lines.offset(edit.span.end, shown.text)
    at = lines.offset(cursor, shown.text)
    text = shown.text[min(at, start) : start] + edit.new_text + shown.text[end : max(at, end)]
    span = Span(lines.point(min(at, start)), lines.point(max(at, end)))
    return InlineNextEdit(shown, span, text)


def _made_by_hand(shown: ShownNextEdit, text: str | None) -> bool:
    """True when the document now reads as the next edit would have left it at its place
    (the developer typed it rather than taking it)."""
    if text is None:
        return False
    edit = shown.edit
    if not edit.new_text.strip():
        # A deletion: made when what it deletes is gone.
        return bool(edit.old_text.strip()) and edit.old_text.strip() not in text
    lines = LineIndex(shown.text) if shown.lines is None else shown.lines
    start = lines.offset(edit.span.start, shown.text)
    end = lines.offset(edit.span.end, shown.text)
    expected = shown.text[:start] + edit.new_text + shown.text[end:]
    line_start = expected.rfind("\n", 0, start) + 1
    line_end = expected.find("\n", start + len(edit.new_text))
    line_end = len(expected) if line_end == -1 else line_end
    return expected[line_start:line_end] in text

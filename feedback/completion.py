"""The completion pipeline: a request's whole path, read top to bottom in ``complete``.

Boundary: plain Python between the server, which turns an editor's request into a
``CompletionRequest`` and the shown suggestions back into LSP items, and the domain parts each
step calls: the feedback loop (the acceptance gate and filter, what the developer did lately),
the engines, post-processing, and the registry of shown suggestions. Every decision goes into
the request's ``CompletionTurn`` (``tactful.feedback.turn``), which ``complete`` returns.

The steps:

1. **perceive** the moment: the cursor's line, the line above, what the developer did lately
   (``Context``, as the acceptance model sees it);
2. **gate**: is this a moment worth asking an engine at all? (the acceptance model's first stage;
   a "no" costs no engine call);
3. **propose**: the engines ``completion.engine`` selects are asked at once, each under its
   budget; a blocking engine (the local one) runs in its own worker (``run_blocking``), never
   on the event loop. They are then taken in order of preference, and the first with something
   left after the next two steps wins. With ``llm`` the LLM is waited for (under its deadline;
   the local answer is ready the moment it fails or has everything hidden). With ``auto`` the
   LLM is never waited for: it is asked in the background, and its answer is taken only when
   it is there as soon as the local one is (the rest of an answer being typed along, an answer
   already in) — see "The LLM in the background" below;
4. **clean up** (``tactful.suggestion.postprocess``): cut, trimmed, or dropped with a reason;
5. **judge** (the acceptance filter): each suggestion shown or hidden, with its probability
   and the threshold it was held to;
6. **speak**: each kept suggestion gets an id (``SuggestionRegistry``), and the loop is told
   what was shown, so it can learn from what the developer then does.

Freshness: a newer request for the same document pre-empts this one (its engine work, if it
has not started, never runs; its turn ends ``cancelled``), and a result computed for a version
of the document that is no longer current is dropped (``stale``).

The LLM in the background (``auto``): the LLM's work for a document outlives the turn that
asked for it, one call per document at a time. When its answer arrives and the document is
still where it was asked, ``announce`` is called with the request (the server tells the editor
to ask again, LSP having no inline-completion refresh of its own), and the editor's next
request at that very moment is served that answer at once — with the first request's trigger,
context and gate decision, since it is the same moment. A request that only typed on at the
cursor lets the call in flight run; when it answers, the LLM is asked again for where the
developer is then, which its engine serves from the answer it just gave when the typing agrees
with it. Any other request cancels the call and asks anew.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import cast

from tactful.analyzers.paths import workspace_relative
from tactful.analyzers.text import LineIndex
from tactful.feedback.acceptance.cascade import Decision
from tactful.feedback.acceptance.features import Candidate, Context
from tactful.feedback.loop import FeedbackLoop
from tactful.feedback.preempt import Preempting
from tactful.feedback.turn import (
    BACKGROUND,
    DOWN,
    CompletionTurn,
    Dropped,
    Judged,
    Outcome,
    Proposal,
)
from tactful.suggestion import postprocess
from tactful.suggestion.engine import (
    LLM,
    BlockingEngine,
    CompletionEngine,
    Engine,
    EngineRegistry,
)
from tactful.suggestion.registry import SuggestionRegistry
from tactful.suggestion.types import CompletionRequest, Suggestion

_VISIBLE = re.compile(r"\S")

logger = logging.getLogger(__name__)

# The local engine needs milliseconds of CPU, but its wall time also counts waiting for the GIL
# and for a core: on a loaded machine (litellm importing in the server, tests running beside
# it) that is hundreds of milliseconds, and a late answer for a current document is still
# worth showing. Past this it has gone wrong and is not waited for.
LOCAL_BUDGET_S = 1.0
# What the awaiting side allows beyond an engine's own deadline before it stops waiting.
GRACE_S = 0.05
# Documents whose LLM answer asked in the background is kept (one each, the newest).
KEPT_ANSWERS = 64

AUTO = "auto"

RunBlocking = Callable[[Callable[[], list[Suggestion]]], Awaitable[list[Suggestion]]]
Announce = Callable[[CompletionRequest], None]


@dataclass(frozen=True, slots=True)
class CompletionOptions:
    """The settings one turn follows: ``engine`` is ``completion.engine``, ``llm_timeout_s``
    the LLM engine's budget, ``workspace`` the key the loop keeps the workspace's models
    under (its root folder)."""

    engine: str = "auto"
    llm_timeout_s: float = 2.0
    workspace: str = ""


@dataclass(eq=False)
class Moment:
    """A request as the LLM is asked about it in the background: its cursor (``offset``, in
    code points of its text), whether the document is still at its version, and the turn's
    context and gate decision."""

    request: CompletionRequest
    offset: int
    is_current: Callable[[], bool]
    context: Context | None
    gate: Decision | None

    @classmethod
    def of(
        cls,
        turn: CompletionTurn,
        offset: int,
        is_current: Callable[[], bool],
    ) -> Moment:
        return cls(turn.request, offset, is_current, turn.context, turn.gate)

    def same(self, request: CompletionRequest) -> bool:
        """Whether ``request`` is at this very moment (the same version, the same cursor)."""
        mine = self.request
        return (
            request.uri == mine.uri
            and request.version == mine.version
            and request.position == mine.position
        )


@dataclass(eq=False)
class Asked:
    """The LLM's answer for one moment of a document, asked in the background (``auto``).

    ``task`` gives the LLM's proposal; ``before`` and ``after`` are the moment's text on either
    side of the cursor (taken once, so that each later request is compared without a copy);
    ``follower`` is the newest request that typed on along the moment while the call was in
    flight (it is asked about when the call answers); ``announced`` once the editor was told
    the answer is ready; ``shown`` what the turn that asked showed meanwhile (an answer that only
    repeats it is not announced)."""

    moment: Moment
    engine: Engine
    options: CompletionOptions
    task: asyncio.Task[Proposal[Suggestion]]
    before: str
    after: str
    follower: Moment | None = None
    announced: bool = False
    shown: tuple[str, ...] = ()

    def typed_on(self, moment: Moment) -> bool:
        """Whether ``moment`` is this one with text typed at the cursor and nothing else
        changed."""
        request, mine = moment.request, self.moment.request
        typed = moment.offset - self.moment.offset
        return (
            request.uri == mine.uri
            and request.version > mine.version
            and typed > 0
            and len(request.text) - len(mine.text) == typed
            and request.text.startswith(self.before)
            and request.text.endswith(self.after)
        )


class CompletionPipeline:
    """The completion path for one server: its engines, its shown suggestions, the feedback
    loop (``feedback()``: None until the server has one), and ``announce``, told of a request
    whose LLM answer has arrived in the background (see the module docstring)."""

    def __init__(
        self,
        engines: EngineRegistry,
        feedback: Callable[[], FeedbackLoop | None],
        run_blocking: RunBlocking,
        announce: Announce | None = None,
    ) -> None:
        self.engines = engines
        self.shown = SuggestionRegistry()
        self.feedback = feedback
        self.run_blocking = run_blocking
        self.announce = announce
        self._inflight: Preempting[None] = Preempting()
        self._asked: OrderedDict[str, Asked] = OrderedDict()

    async def complete(
        self,
        request: CompletionRequest,
        options: CompletionOptions,
        is_current: Callable[[], bool],
        lines: LineIndex | None = None,
    ) -> CompletionTurn:
        """Take one request through every step. ``is_current`` says whether the document is
        still at the request's version; ``lines`` is its line index at that version (or
        None)."""
        ready = self._announced(request)
        if ready is not None:
            # The editor asks again because it was told the LLM's answer is ready: the same
            # moment, asked the way the first request was (an editor asks again with its
            # "suggest now" action), already through the gate.
            request = replace(request, trigger=ready.moment.request.trigger)
        turn = CompletionTurn(request)
        loop = self.feedback()
        workspace = options.workspace
        if loop is not None:
            # 1. perceive, 2. gate: without a feedback loop there is nothing to judge with.
            if ready is not None and ready.moment.context is not None:
                turn.context, turn.gate = ready.moment.context, ready.moment.gate
            else:
                turn.context = perceive(loop, request, workspace, lines)
                turn.gate = loop.gate(workspace, turn.context)
                if not turn.gate.show:
                    return self._ended(turn, Outcome.SKIPPED)
        # Now, before anything is awaited: the line index follows the document.
        moment = Moment.of(turn, _cursor(request, lines), is_current)
        # 3. propose, 4. clean up, 5. judge: engine by engine, as the document's one request
        # in flight.
        finished, _ = await self._inflight.run(
            request.uri, self._propose_clean_judge(turn, options, lines, loop, moment)
        )
        if not finished:
            return self._ended(turn, Outcome.CANCELLED)
        if not is_current():
            return self._ended(turn, Outcome.STALE)
        if not turn.kept:
            return self._ended(turn, turn.ended_empty())
        # 6. speak.
        self._speak(turn, loop, workspace, moment.offset)
        asked = self._asked.get(request.uri)
        if asked is not None and asked.moment.request is request:
            asked.shown = tuple(shown.suggestion.text for shown in turn.shown)
        return self._ended(turn, Outcome.SHOWN)

    # -- the steps ------------------------------------------------------------------------

    async def _propose_clean_judge(
        self,
        turn: CompletionTurn,
        options: CompletionOptions,
        lines: LineIndex | None,
        loop: FeedbackLoop | None,
        moment: Moment,
    ) -> None:
        """Ask the selected engines at once; take their answers in order of preference until
        one has something the filter shows. With ``auto`` the LLM is asked in the background
        and taken (first) only when its answer is there as soon as the first other one is.
        Clean-up reads the document through its line index, which is only that of the
        request's text while the document has not moved on: an answer that arrives later is
        left for the caller to drop as stale."""
        engines: list[Engine] = []
        for engine in self.engines.select(options.engine):
            if _blocking(engine) or cast(CompletionEngine, engine).answering:
                engines.append(engine)
            else:
                # Down and backed off: asking would make no call; said when it went down.
                turn.proposals.append(Proposal(engine.name, (), 0.0, DOWN))
        background = None
        if options.engine == AUTO:
            background = next((e for e in engines if not _blocking(e)), None)
        asked = [
            asyncio.ensure_future(self._propose(engine, turn.request, options))
            for engine in engines
            if engine is not background
        ]
        llm = self._in_background(background, moment, options) if background else None
        try:
            for index, task in enumerate(asked):
                proposal = await task
                if not moment.is_current():
                    turn.proposals.append(proposal)
                    return
                if index == 0 and background is not None:
                    if llm is not None and llm.done() and not llm.cancelled():
                        if self._take(turn, llm.result(), lines, loop, options.workspace):
                            return
                    else:
                        turn.proposals.append(Proposal(background.name, (), 0.0, BACKGROUND))
                if self._take(turn, proposal, lines, loop, options.workspace):
                    return
        finally:
            for task in asked:
                task.cancel()

    def _take(
        self,
        turn: CompletionTurn,
        proposal: Proposal[Suggestion],
        lines: LineIndex | None,
        loop: FeedbackLoop | None,
        workspace: str,
    ) -> bool:
        """One engine's proposal cleaned up and judged; True when something is shown."""
        turn.proposals.append(proposal)
        return self._judge(turn, self._clean_up(turn, proposal, lines), loop, workspace)

    async def _propose(
        self, engine: Engine, request: CompletionRequest, options: CompletionOptions
    ) -> Proposal[Suggestion]:
        budget = options.llm_timeout_s if engine.name == LLM else LOCAL_BUDGET_S
        started = time.monotonic()
        deadline = started + budget
        work: Awaitable[list[Suggestion]]
        if _blocking(engine):
            blocking = cast(BlockingEngine, engine)
            work = self.run_blocking(functools.partial(blocking.suggest, request, deadline))
        else:
            work = cast(CompletionEngine, engine).complete(request, deadline=deadline)
        problem = ""
        try:
            found = await asyncio.wait_for(work, timeout=budget + GRACE_S)
        except TimeoutError:
            logger.debug("%s engine missed its deadline", engine.name)
            found, problem = [], "deadline"
        except Exception:
            logger.exception("%s engine failed", engine.name)
            found, problem = [], "failed"
        elapsed = (time.monotonic() - started) * 1000
        return Proposal(engine.name, tuple(found), round(elapsed, 3), problem)

    @staticmethod
    def _clean_up(
        turn: CompletionTurn,
        proposal: Proposal[Suggestion],
        lines: LineIndex | None,
    ) -> list[Suggestion]:
        cleaned: list[Suggestion] = []
        for suggestion in proposal.items:
            kept, reason = postprocess.check(turn.request, suggestion, lines)
            if kept is None:
                turn.dropped.append(Dropped(suggestion, reason))
            else:
                cleaned.append(kept)
        return cleaned

    @staticmethod
    def _judge(
        turn: CompletionTurn,
        suggestions: list[Suggestion],
        loop: FeedbackLoop | None,
        workspace: str,
    ) -> bool:
        """The one place the acceptance filter decides; True when something is shown."""
        shown = False
        for suggestion in suggestions:
            if loop is None or turn.context is None:
                judged = Judged(suggestion)
            else:
                candidate = Candidate.of(suggestion)
                decision = loop.judge(workspace, turn.context, candidate, turn.gate)
                judged = Judged(suggestion, decision)
            turn.judged.append(judged)
            shown = shown or judged.shown
        return shown

    def _speak(
        self,
        turn: CompletionTurn,
        loop: FeedbackLoop | None,
        workspace: str,
        cursor: int,
    ) -> None:
        request = turn.request
        for judged in turn.kept:
            suggestion = judged.item
            shown = self.shown.show(request, suggestion, cursor)
            turn.shown.append(shown)
            if loop is not None and judged.decision is not None and turn.context is not None:
                loop.shown(
                    shown.id,
                    workspace,
                    turn.context,
                    judged.decision,
                    request.uri,
                    request.version,
                    request.text,
                    shown.offset + suggestion.replace_prefix,
                    suggestion.text,
                )

    # -- the LLM in the background ------------------------------------------------------

    def _announced(self, request: CompletionRequest) -> Asked | None:
        """The LLM's answer the editor was told of, when ``request`` is at its very moment."""
        asked = self._asked.get(request.uri)
        if asked is None or not asked.announced or not asked.moment.same(request):
            return None
        return asked

    def _in_background(
        self, engine: Engine, moment: Moment, options: CompletionOptions
    ) -> asyncio.Task[Proposal[Suggestion]] | None:
        """The LLM's answer for ``moment``, asked in the background: the call already made for
        this very moment, or a new one. None while a call for an earlier moment that the
        developer only typed on from is still in flight: it is let run, and this moment is
        asked about when it answers."""
        request = moment.request
        asked = self._asked.get(request.uri)
        if asked is not None:
            task = asked.task
            if asked.moment.same(request) and (not task.done() or _answered_with_items(task)):
                return task
            if not asked.task.done() and asked.typed_on(moment):
                asked.follower = moment
                return None
            asked.task.cancel()
        return self._ask(engine, moment, options).task

    def _ask(self, engine: Engine, moment: Moment, options: CompletionOptions) -> Asked:
        request = moment.request
        uri = request.uri
        task = asyncio.ensure_future(self._propose(engine, request, options))
        text, offset = request.text, moment.offset
        asked = Asked(moment, engine, options, task, text[:offset], text[offset:])
        self._asked[uri] = asked
        self._asked.move_to_end(uri)
        while len(self._asked) > KEPT_ANSWERS:
            _, oldest = self._asked.popitem(last=False)
            oldest.task.cancel()
        task.add_done_callback(lambda _: self._answered(asked))
        return asked

    def _answered(self, asked: Asked) -> None:
        """The LLM answered in the background: tell the editor, or ask about where the
        developer typed on to meanwhile, or let the answer go."""
        uri = asked.moment.request.uri
        if self._asked.get(uri) is not asked:
            return  # a newer moment took its place
        if asked.task.cancelled():
            del self._asked[uri]
            return
        follower = asked.follower
        if follower is not None:
            if follower.is_current():
                # The engine serves the rest of the answer it just gave when the typing
                # agrees with it, and asks anew otherwise.
                self._ask(asked.engine, follower, asked.options)
            else:
                del self._asked[uri]
            return
        if not asked.moment.is_current():
            del self._asked[uri]
            return
        texts = tuple(suggestion.text for suggestion in asked.task.result().items)
        if not texts or set(texts) <= set(asked.shown):
            return  # nothing the editor does not show already
        asked.announced = True
        if self.announce is not None:
            self.announce(asked.moment.request)

    @staticmethod
    def _ended(turn: CompletionTurn, outcome: Outcome) -> CompletionTurn:
        turn.end(outcome)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("completion turn %s", turn.summary())
        return turn


# Whether an engine's class is a ``BlockingEngine``: a check against a runtime protocol walks
# the protocol's members each time (tens of microseconds), and it was made on the event loop
# two or three times per request.
_BLOCKING: dict[type, bool] = {}


def _blocking(engine: Engine) -> bool:
    """``isinstance(engine, BlockingEngine)``, decided once per class of engine."""
    kind = type(engine)
    known = _BLOCKING.get(kind)
    if known is None:
        known = _BLOCKING[kind] = isinstance(engine, BlockingEngine)
    return known


def _answered_with_items(task: asyncio.Task[Proposal[Suggestion]]) -> bool:
    return not task.cancelled() and bool(task.result().items)


def _cursor(request: CompletionRequest, lines: LineIndex | None) -> int:
    """The request's cursor in code points of its text, through the document's line index
    when there is one."""
    text = request.text
    point = request.position
    if lines is not None:
        return lines.offset(point, text)
    start = 0
    for _ in range(point.line):
        start = text.find("\n", start) + 1
        if start == 0:
            return len(text)
    return min(start + point.column, len(text))


def perceive(
    loop: FeedbackLoop,
    request: CompletionRequest,
    workspace: str,
    lines: LineIndex | None = None,
) -> Context:
    """The moment at the request's cursor as the acceptance model sees it: the cursor's line
    before and after it and the line above, found through the document's line index when
    there is one (microseconds however long the file), with the workspace's recent history."""
    text = request.text
    point = request.position
    if lines is not None:
        cursor = lines.offset(point, text)
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
        workspace,
        request.language_id,
        text[start:cursor],
        text[cursor:end],
        previous,
        point.line,
        request.trigger,
        document=request.uri,
        path=workspace_relative(request.path, request.workspace_root),
        # The first character that is not white space after the line: found where the code
        # below starts, so only a run of blank text is ever scanned, never the document.
        continues=_VISIBLE.search(text, end) is not None,
    )

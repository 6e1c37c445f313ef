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
   left after the next two steps wins (with ``auto``, the local answer is ready the moment the
   LLM fails, misses its deadline or has everything hidden);
4. **clean up** (``tactful.suggestion.postprocess``): cut, trimmed, or dropped with a reason;
5. **judge** (the acceptance filter): each suggestion shown or hidden, with its probability
   and the threshold it was held to;
6. **speak**: each kept suggestion gets an id (``SuggestionRegistry``), and the loop is told
   what was shown, so it can learn from what the developer then does.

Freshness: a newer request for the same document pre-empts this one (its engine work, if it
has not started, never runs; its turn ends ``cancelled``), and a result computed for a version
of the document that is no longer current is dropped (``stale``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tactful.analyzers.paths import workspace_relative
from tactful.analyzers.text import LineIndex
from tactful.feedback.acceptance.features import Candidate, Context
from tactful.feedback.loop import FeedbackLoop
from tactful.feedback.turn import CompletionTurn, Dropped, Judged, Outcome, Proposal
from tactful.suggestion import postprocess
from tactful.suggestion.engine import LLM, BlockingEngine, Engine, EngineRegistry
from tactful.suggestion.postprocess import TreeSource
from tactful.suggestion.registry import SuggestionRegistry
from tactful.suggestion.types import CompletionRequest, Suggestion

logger = logging.getLogger(__name__)

# The local engine needs milliseconds of CPU, but its wall time also counts waiting for the GIL
# and for a core: on a loaded machine (litellm importing in the server, tests running beside
# it) that is hundreds of milliseconds, and a late answer for a current document is still
# worth showing. Past this it has gone wrong and is not waited for.
LOCAL_BUDGET_S = 1.0
# What the awaiting side allows beyond an engine's own deadline before it stops waiting.
GRACE_S = 0.05

RunBlocking = Callable[[Callable[[], list[Suggestion]]], Awaitable[list[Suggestion]]]


@dataclass(frozen=True, slots=True)
class CompletionOptions:
    """The settings one turn follows: ``engine`` is ``completion.engine``, ``llm_timeout_s``
    the LLM engine's budget, ``workspace`` the key the loop keeps the workspace's models
    under (its root folder)."""

    engine: str = "auto"
    llm_timeout_s: float = 2.0
    workspace: str = ""


class CompletionPipeline:
    """The completion path for one server: its engines, its shown suggestions, and the feedback
    loop (``feedback()``: None until the server has one)."""

    def __init__(
        self,
        engines: EngineRegistry,
        feedback: Callable[[], FeedbackLoop | None],
        run_blocking: RunBlocking,
    ) -> None:
        self.engines = engines
        self.shown = SuggestionRegistry()
        self.feedback = feedback
        self.run_blocking = run_blocking
        self._inflight: dict[str, asyncio.Task[None]] = {}

    async def complete(
        self,
        request: CompletionRequest,
        options: CompletionOptions,
        is_current: Callable[[], bool],
        tree: TreeSource = None,
        lines: LineIndex | None = None,
    ) -> CompletionTurn:
        """Take one request through every step. ``is_current`` says whether the document is
        still at the request's version; ``tree`` and ``lines`` are its syntax tree (or what
        parses it when clean-up first needs it) and line index at that version (either may be
        None)."""
        turn = CompletionTurn(request)
        loop = self.feedback()
        workspace = options.workspace
        if loop is not None:
            # 1. perceive, 2. gate: without a feedback loop there is nothing to judge with.
            turn.context = perceive(loop, request, workspace, lines)
            turn.gate = loop.gate(workspace, turn.context)
            if not turn.gate.show:
                return self._ended(turn, Outcome.SKIPPED)
        # 3. propose, 4. clean up, 5. judge: engine by engine, as the document's one request
        # in flight.
        finished = await self._preempting(
            request.uri, self._propose_clean_judge(turn, options, tree, lines, loop, is_current)
        )
        if not finished:
            return self._ended(turn, Outcome.CANCELLED)
        if not is_current():
            return self._ended(turn, Outcome.STALE)
        if not turn.kept:
            if loop is not None and turn.gate is not None and not turn.judged:
                # A moment the gate let through that nothing came of: the gate learns it.
                loop.unanswered(workspace, turn.gate)
            return self._ended(turn, turn.ended_empty())
        # 6. speak.
        self._speak(turn, loop, workspace, lines)
        return self._ended(turn, Outcome.SHOWN)

    # -- the steps ------------------------------------------------------------------------

    async def _propose_clean_judge(
        self,
        turn: CompletionTurn,
        options: CompletionOptions,
        tree: TreeSource,
        lines: LineIndex | None,
        loop: FeedbackLoop | None,
        is_current: Callable[[], bool],
    ) -> None:
        """Ask the selected engines at once; take their answers in order of preference until
        one has something the filter shows. Clean-up reads the document through its line
        index, which is only that of the request's text while the document has not moved
        on: an answer that arrives later is left for the caller to drop as stale."""
        engines = self.engines.select(options.engine)
        asked = [
            asyncio.ensure_future(self._propose(engine, turn.request, options))
            for engine in engines
        ]
        try:
            for task in asked:
                proposal = await task
                turn.proposals.append(proposal)
                if not is_current():
                    return
                cleaned = self._clean_up(turn, proposal, tree, lines)
                if self._judge(turn, cleaned, loop, options.workspace):
                    return
        finally:
            for task in asked:
                task.cancel()

    async def _propose(
        self, engine: Engine, request: CompletionRequest, options: CompletionOptions
    ) -> Proposal[Suggestion]:
        budget = options.llm_timeout_s if engine.name == LLM else LOCAL_BUDGET_S
        started = time.monotonic()
        deadline = started + budget
        work: Awaitable[list[Suggestion]]
        if isinstance(engine, BlockingEngine):
            work = self.run_blocking(functools.partial(engine.suggest, request, deadline))
        else:
            work = engine.complete(request, deadline=deadline)
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
        tree: TreeSource,
        lines: LineIndex | None,
    ) -> list[Suggestion]:
        if callable(tree):
            tree = functools.cache(tree)  # one parse for all of the proposal's items
        cleaned: list[Suggestion] = []
        for suggestion in proposal.items:
            kept, reason = postprocess.check(turn.request, suggestion, tree, lines)
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
        lines: LineIndex | None,
    ) -> None:
        request = turn.request
        cursor = lines.offset(request.position, request.text) if lines is not None else None
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

    # -- freshness ------------------------------------------------------------------------

    async def _preempting(self, uri: str, work: Awaitable[None]) -> bool:
        """Run ``work`` as the document's one request in flight, cancelling the one before;
        False when a newer request cancelled this one."""
        previous = self._inflight.get(uri)
        if previous is not None and not previous.done():
            previous.cancel()
        task = asyncio.ensure_future(work)
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
            return False
        task.result()  # an error of our own is not swallowed here
        return True

    @staticmethod
    def _ended(turn: CompletionTurn, outcome: Outcome) -> CompletionTurn:
        turn.end(outcome)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("completion turn %s", turn.summary())
        return turn


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
    )

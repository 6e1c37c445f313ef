"""The completion pipeline: one turn per request, carrying every decision, with real engines,
a real feedback loop over a real SQLite store, and a real worker thread for the local engine."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fixtures.lsp import REPEATED

from tactful.analyzers.text import LineIndex, Point
from tactful.feedback import events as ev
from tactful.feedback.acceptance import Prior, Stage, shipped_prior
from tactful.feedback.completion import LOCAL_BUDGET_S, CompletionOptions, CompletionPipeline
from tactful.feedback.loop import FeedbackLoop, FilterOptions
from tactful.feedback.store import FeedbackStore, read_events
from tactful.feedback.turn import Outcome
from tactful.server.executor import Worker
from tactful.suggestion.engine import BlockingEngine, EngineRegistry
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.registry import SuggestionRegistry
from tactful.suggestion.types import CompletionRequest, Suggestion

# The document's own statistics alone (the shipped language model is tested on its own).
LOCAL = Tuning(semantic=False, language_weight=0.0)
PREFIX = "middle = os.pa"
OPTIONS = CompletionOptions(engine="local", workspace="/work")


def request(version: int = 1, trigger: str = "automatic") -> CompletionRequest:
    return CompletionRequest(
        "file:///work/m.py",
        "/work/m.py",
        "python",
        version,
        REPEATED + PREFIX,
        Point(4, len(PREFIX)),
        workspace_root="/work",
        trigger=trigger,
    )


class Ran:
    """A worker of the local engine's own that counts the jobs it actually ran."""

    def __init__(self) -> None:
        self.worker = Worker("test-engine", 1)
        self.jobs = 0

    async def run(self, fn: Callable[[], list[Suggestion]]) -> list[Suggestion]:
        def counted() -> list[Suggestion]:
            self.jobs += 1
            return fn()

        return await self.worker.run(counted)


@pytest.fixture
def ran() -> Iterator[Ran]:
    ran = Ran()
    yield ran
    ran.worker.shutdown()


def pipeline(ran: Ran, loop: FeedbackLoop | None = None) -> CompletionPipeline:
    engines = EngineRegistry()
    engines.register(LocalEngine(None, LOCAL))
    return CompletionPipeline(engines, lambda: loop, ran.run)


def test_engines_are_selected_by_the_setting() -> None:
    engines = EngineRegistry()
    local = LocalEngine()
    assert isinstance(local, BlockingEngine)
    engines.register(local)
    assert [e.name for e in engines.select("local")] == ["local"]
    assert [e.name for e in engines.select("auto")] == ["local"]
    assert engines.select("llm") == []  # what was asked for is not there
    assert engines.unregister("local") is local
    assert engines.select("auto") == []


def test_shown_suggestions_are_remembered_by_id_for_a_while() -> None:
    registry = SuggestionRegistry(limit=2)
    req = CompletionRequest("file:///a.py", None, "python", 3, "x = 1\nvalue = ex", Point(1, 10))
    shown = registry.show(req, Suggestion("ample", "local", 0.9))
    assert registry.get(shown.id) is shown and shown.offset == len("x = 1\nvalue = ex")
    later = [registry.show(req, Suggestion("ample", "local", 0.9)) for _ in range(2)]
    assert registry.get(shown.id) is None and all(registry.get(s.id) for s in later)


async def test_a_turn_carries_the_request_each_decision_and_the_outcome(
    tmp_path: Path, ran: Ran
) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    loop = FeedbackLoop(store, FilterOptions(explore=0.0, learn=False))
    completion = pipeline(ran, loop)
    req = request(trigger="invoked")  # asked for by a key: shown whatever the filter predicts
    lines = LineIndex(req.text)
    turn = await completion.complete(req, OPTIONS, lambda: True, lines)
    assert turn.request is req and turn.outcome is Outcome.SHOWN
    assert turn.context is not None and turn.context.line_prefix == PREFIX
    assert turn.context.previous_line == "right = os.path.join(base, 'right')"
    assert turn.gate is not None and turn.gate.show
    (proposal,) = turn.proposals
    assert proposal.source == "local" and proposal.problem == "" and proposal.elapsed_ms > 0
    assert [s.text for s in proposal.items] == ["th.join(base,"]
    (judged,) = turn.judged
    assert judged.decision is not None and judged.shown
    assert 0.0 < judged.decision.probability < 1.0 and not judged.decision.explored
    assert judged.threshold == round(shipped_prior().filter.threshold, 4)
    (shown,) = turn.shown
    assert completion.shown.get(shown.id) is shown and shown.suggestion is judged.item
    assert ran.jobs == 1
    # The loop was told what was shown, so it learns from what the developer does with it.
    assert loop.accepted(shown.id)
    store.close()
    kinds = [e.kind for e in read_events(tmp_path / "fb.sqlite3")]
    assert kinds == [ev.SUGGESTION_SHOWN, ev.SUGGESTION_ACCEPTED]


async def test_without_a_feedback_loop_everything_cleaned_is_shown(ran: Ran) -> None:
    turn = await pipeline(ran).complete(request(), OPTIONS, lambda: True)
    assert turn.outcome is Outcome.SHOWN and turn.context is None and turn.gate is None
    assert [j.decision for j in turn.judged] == [None]
    assert [s.suggestion.text for s in turn.shown] == ["th.join(base,"]


async def test_a_moment_the_gate_turns_down_asks_no_engine(tmp_path: Path, ran: Ran) -> None:
    prior = shipped_prior()
    never = Prior(replace(prior.gate, threshold=1.01), prior.filter, prior.meta)
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    loop = FeedbackLoop(store, FilterOptions(explore=0.0), prior=never)
    turn = await pipeline(ran, loop).complete(request(), OPTIONS, lambda: True)
    assert turn.outcome is Outcome.SKIPPED and turn.gate is not None and not turn.gate.show
    assert turn.proposals == [] and turn.shown == [] and ran.jobs == 0
    store.close()
    assert [e.kind for e in read_events(tmp_path / "fb.sqlite3")] == [ev.REQUEST_SKIPPED]


async def test_what_the_filter_hides_is_judged_and_not_shown(tmp_path: Path, ran: Ran) -> None:
    always = Prior(Stage({}, threshold=0.0), Stage({}, threshold=1.01), {"id": "strict"})
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    loop = FeedbackLoop(store, FilterOptions(threshold=1.01, explore=0.0), prior=always)
    turn = await pipeline(ran, loop).complete(request(), OPTIONS, lambda: True)
    assert turn.outcome is Outcome.HIDDEN and turn.shown == []
    (judged,) = turn.judged
    assert judged.decision is not None and not judged.shown and judged.threshold == 1.01
    store.close()
    hidden = [e for e in read_events(tmp_path / "fb.sqlite3") if e.kind == ev.SUGGESTION_HIDDEN]
    assert len(hidden) == 1 and hidden[0].detail["threshold"] == 1.01


async def test_clean_up_drops_what_repeats_the_next_line(ran: Ran) -> None:
    req = replace(request(), text=REPEATED + PREFIX + "\nmiddle = os.path.join(base,")
    turn = await pipeline(ran).complete(req, OPTIONS, lambda: True)
    assert turn.outcome is Outcome.DROPPED and turn.shown == [] and turn.judged == []
    (dropped,) = turn.dropped
    assert dropped.item.text == "th.join(base," and "next line" in dropped.reason


async def test_a_result_for_a_version_no_longer_current_is_dropped(ran: Ran) -> None:
    """An answer for a version that is gone is dropped as soon as it arrives: neither cleaned
    up against the document's newer lines nor judged."""
    turn = await pipeline(ran).complete(request(), OPTIONS, lambda: False)
    assert turn.outcome is Outcome.STALE and turn.shown == []
    assert len(turn.proposals) == 1 and turn.judged == [] and turn.dropped == []


async def test_the_engine_runs_off_the_event_loop_under_its_budget(ran: Ran) -> None:
    """A busy engine worker: the loop goes on, and the request ends at its deadline."""
    busy = threading.Event()
    ran.worker.submit(lambda: busy.wait(2 * LOCAL_BUDGET_S + 1.0))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.ensure_future(tick())
    started = time.monotonic()
    turn = await pipeline(ran).complete(request(), OPTIONS, lambda: True)
    elapsed = time.monotonic() - started
    ticker.cancel()
    busy.set()
    (proposal,) = turn.proposals
    assert proposal.problem == "deadline" and turn.outcome is Outcome.SILENT
    assert LOCAL_BUDGET_S <= elapsed < LOCAL_BUDGET_S + 1.0
    assert ticks >= 5  # the event loop kept running while the engine's worker was busy
    await asyncio.sleep(0.05)
    assert ran.jobs == 0  # the request gave up before its job started: it never ran


async def test_a_newer_request_for_the_document_preempts_the_older(ran: Ran) -> None:
    busy = threading.Event()
    ran.worker.submit(lambda: busy.wait(5.0))
    completion = pipeline(ran)
    older = asyncio.ensure_future(completion.complete(request(1), OPTIONS, lambda: True))
    await asyncio.sleep(0.02)
    newer = asyncio.ensure_future(completion.complete(request(2), OPTIONS, lambda: True))
    first = await older
    assert first.outcome is Outcome.CANCELLED and first.shown == []
    busy.set()
    second = await newer
    assert second.outcome is Outcome.SHOWN
    assert ran.jobs == 1  # the older request's engine work never ran

"""``completion.engine = "auto"`` with an LLM: the local answer at once, the LLM's when it
arrives. The real pipeline with the real local engine on its own worker and the real LLM engine
over HTTP to the fake provider."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from fixtures.fake_llm import Reply, closed_port_url
from fixtures.lsp import REPEATED

from tactful.analyzers.text import Point
from tactful.feedback.completion import CompletionOptions, CompletionPipeline
from tactful.feedback.turn import BACKGROUND, CompletionTurn, Outcome
from tactful.server.executor import Worker
from tactful.suggestion.engine import EngineRegistry
from tactful.suggestion.llm import LlmConfig, LlmEngine
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.types import CompletionRequest

# A folder that does not exist: the LLM engine finds no other files to take snippets from.
ROOT = "/nonexistent/tactful-test-workspace"
URI = f"file://{ROOT}/m.py"
# What the local engine answers there: the name at least, never past the call's first
# argument (where it stops depends on whether the shipped statistics were read yet).
LOCAL_TEXTS = ("th.join", "th.join(", "th.join(base", "th.join(base,")
# What the model answers after ``middle = os.pa``.
LLM_TEXT = "th.join(base, 'middle')"


def local_answer(found: list[tuple[str, str]]) -> bool:
    return len(found) == 1 and found[0][0] == "local" and found[0][1] in LOCAL_TEXTS


def at(typed: str, version: int, trigger: str = "automatic") -> CompletionRequest:
    """The request after ``typed`` on the last line of the repeated source."""
    return CompletionRequest(
        URI,
        f"{ROOT}/m.py",
        "python",
        version,
        REPEATED + typed,
        Point(4, len(typed)),
        workspace_root=ROOT,
        trigger=trigger,
    )


class Setup:
    """A pipeline with the local engine and an LLM engine pointed at ``api_base``, and the
    requests it announced."""

    def __init__(self, api_base: str, engine: str, timeout_s: float) -> None:
        self.worker = Worker("test-engine", 1)
        self.announced: list[CompletionRequest] = []
        self.arrived = asyncio.Event()
        config = LlmConfig(
            model="openai/fake-base",
            api_base=api_base,
            api_key="test",
            debounce_ms=0,
            timeout_s=timeout_s,
        )
        self.llm = LlmEngine(config)
        self.llm.start().result(timeout=120)
        engines = EngineRegistry()
        engines.register(LocalEngine(None, Tuning(semantic=False)))
        engines.register(self.llm)
        self.pipeline = CompletionPipeline(engines, lambda: None, self.worker.run, self.announce)
        self.options = CompletionOptions(engine=engine, llm_timeout_s=timeout_s, workspace=ROOT)
        self.version = 1

    def announce(self, request: CompletionRequest) -> None:
        self.announced.append(request)
        self.arrived.set()

    async def complete(self, request: CompletionRequest) -> CompletionTurn:
        self.version = request.version
        return await self.pipeline.complete(
            request, self.options, lambda: self.version == request.version
        )

    def close(self) -> None:
        self.llm.close()
        self.worker.shutdown()


@pytest.fixture
def setups() -> Iterator[list[Setup]]:
    made: list[Setup] = []
    yield made
    for setup in made:
        setup.close()


def setup_for(setups: list[Setup], api_base: str, engine: str = "auto", timeout_s=30.0) -> Setup:
    setup = Setup(api_base, engine, timeout_s)
    setups.append(setup)
    return setup


def texts(turn: CompletionTurn) -> list[tuple[str, str]]:
    return [(shown.suggestion.engine, shown.suggestion.text) for shown in turn.shown]


async def test_auto_shows_the_local_answer_while_the_llm_hangs(fake_llm, setups) -> None:
    fake_llm.default = Reply(hang=True)
    setup = setup_for(setups, fake_llm.url)
    started = time.monotonic()
    turn = await setup.complete(at("middle = os.pa", 1))
    elapsed = time.monotonic() - started
    assert turn.outcome is Outcome.SHOWN
    assert local_answer(texts(turn))
    llm, local = turn.proposals
    assert (llm.source, llm.problem, llm.items) == ("llm", BACKGROUND, ())
    assert local.source == "local"
    # Not waited for: the LLM's deadline is 30 s and it never answers.
    assert elapsed < 15
    # It was asked all the same, in the background.
    await asyncio.wait_for(_requests(fake_llm, 1), 30)


async def test_the_llms_answer_is_announced_and_served_at_the_same_moment(fake_llm, setups) -> None:
    fake_llm.default = Reply(LLM_TEXT + "\n", delay_s=1.5)
    setup = setup_for(setups, fake_llm.url)
    first = await setup.complete(at("middle = os.pa", 1))
    assert local_answer(texts(first))
    await asyncio.wait_for(setup.arrived.wait(), 60)
    assert [(r.version, r.position) for r in setup.announced] == [(1, Point(4, 14))]
    # The editor asks again at that moment, the way VS Code does (its "suggest now" action).
    again = await setup.complete(at("middle = os.pa", 1, trigger="invoked"))
    assert again.outcome is Outcome.SHOWN
    assert texts(again) == [("llm", LLM_TEXT)]
    assert again.request.trigger == "automatic"  # the moment as it was first asked
    assert len(fake_llm.requests) == 1  # served, not asked again


async def test_an_answer_that_arrives_after_typing_on_is_asked_for_where_the_typing_is(
    fake_llm, setups
) -> None:
    fake_llm.default = Reply(LLM_TEXT + "\n", delay_s=1.5)
    setup = setup_for(setups, fake_llm.url)
    await setup.complete(at("middle = os.pa", 1))
    # Typed on along what the model will say, while it is still answering.
    typed = await setup.complete(at("middle = os.path", 2))
    assert typed.proposals[0].problem == BACKGROUND
    await asyncio.wait_for(setup.arrived.wait(), 60)
    assert [r.version for r in setup.announced] == [2]
    again = await setup.complete(at("middle = os.path", 2))
    assert texts(again) == [("llm", ".join(base, 'middle')")]
    # One call: the rest of its answer served for where the typing went.
    assert len(fake_llm.requests) == 1


async def test_a_request_elsewhere_cancels_the_call_in_flight(fake_llm, setups) -> None:
    fake_llm.script(Reply("never shown\n", delay_s=1.5), Reply("a" + LLM_TEXT + "\n", delay_s=1.5))
    setup = setup_for(setups, fake_llm.url)
    await setup.complete(at("middle = os.pa", 1))
    await asyncio.wait_for(_requests(fake_llm, 1), 30)
    # The developer deleted a character: not typing on from the first moment.
    await setup.complete(at("middle = os.p", 2))
    await asyncio.wait_for(setup.arrived.wait(), 60)
    assert [r.version for r in setup.announced] == [2]
    again = await setup.complete(at("middle = os.p", 2))
    assert texts(again) == [("llm", "a" + LLM_TEXT)]
    assert len(fake_llm.requests) == 2


async def test_engine_llm_falls_back_to_local_when_the_provider_is_down(setups) -> None:
    setup = setup_for(setups, closed_port_url(), engine="llm")
    first = await setup.complete(at("middle = os.pa", 1))
    assert local_answer(texts(first))
    assert setup.llm.state().state == "down"
    assert setup.llm.state().problem.label == "connection refused"
    # Backed off: the next request does not even try.
    again = await setup.complete(at("middle = os.pa", 2))
    assert local_answer(texts(again))
    assert again.proposals[0].source == "llm" and again.proposals[0].items == ()


async def _requests(fake_llm, count: int) -> None:
    while len(fake_llm.requests) < count:
        await asyncio.sleep(0.02)

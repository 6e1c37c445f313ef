"""A request queued for the engine's worker (``Worker.ask``) runs next: the slice of background
counting running when it came stops at its next step. The real worker thread, the real local
engine over a real index of a workspace; the only code of the test's own is the request's
arrival, timed to fall inside the slice."""

from __future__ import annotations

import asyncio
import threading
import time

from fixtures.shop import fill_request
from fixtures.workspace import Workspace

from tactful.analyzers.index import RepositoryIndex
from tactful.server.executor import Worker
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.local.imported import SLICE_TOKENS, STEP_TOKENS

# A module long enough to take many slices to count.
CARTS = "class Cart:\n    def add_item(self, sku):\n        self.sku = sku\n" + "".join(
    f"v{n} = [{n}, {n}]\n" for n in range(3000)
)


def test_a_count_slice_stops_at_its_next_step_for_a_request_asked_meanwhile(
    workspace: Workspace,
) -> None:
    workspace.write("shop/carts.py", CARTS)
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    engine = LocalEngine(index, Tuning(semantic=False, language_weight=0.0))
    request = fill_request(workspace)
    engine.suggest(request)  # wants the counts of shop.carts, built in the background
    assert engine.counting_wanted
    worker = Worker("test-engine", 1)
    in_slice = threading.Event()
    looks: list[bool] = []
    order: list[str] = []

    def stop_early() -> bool:
        # Between two steps of the slice: the first time, the request arrives now.
        if not looks:
            in_slice.set()
            for _ in range(500):
                if worker.asked:
                    break
                time.sleep(0.01)
        looks.append(worker.asked)
        return worker.asked

    def count_slice() -> bool:
        more = engine.count_imports(stop_early=stop_early)
        order.append("slice")
        return more

    def suggest() -> object:
        order.append("request")
        return engine.suggest(request)

    async def scenario() -> bool:
        counting = asyncio.ensure_future(worker.run(count_slice))
        assert await asyncio.to_thread(in_slice.wait, 10)
        answer = asyncio.ensure_future(worker.ask(suggest))
        more = await counting
        await answer
        return more

    try:
        more = asyncio.run(scenario())
    finally:
        worker.shutdown()
    # The slice looked once, saw the request and stopped after its first step (a whole
    # slice looks between each of its steps), and the request ran right after it.
    assert looks == [True]
    assert SLICE_TOKENS // STEP_TOKENS > 1
    assert order == ["slice", "request"]
    assert more and engine.counting_wanted
    assert not worker.asked


def test_a_request_that_stops_waiting_before_it_runs_is_no_longer_asked() -> None:
    worker = Worker("test-engine", 1)
    busy = threading.Event()
    worker.submit(busy.wait, 10)

    async def scenario() -> tuple[bool, bool]:
        asked = asyncio.ensure_future(worker.ask(lambda: "never"))
        await asyncio.sleep(0.05)
        while_queued = worker.asked
        asked.cancel()
        await asyncio.sleep(0)
        return while_queued, worker.asked

    try:
        while_queued, after = asyncio.run(scenario())
    finally:
        busy.set()
        worker.shutdown()
    assert while_queued
    assert not after

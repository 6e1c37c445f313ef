"""``memory.settle``: what survived the latest work leaves the cyclic collector's sight (a full
collection no longer walks it), and is still freed once nothing refers to it."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

from tactful.server.memory import QuietTrim, reclaim, settle


class Table(dict[tuple[str, ...], dict[str, int]]):
    """A long-lived table like the engine's counts (a dict can take no weak reference)."""


def test_a_settled_table_is_out_of_full_collections_and_still_freed_when_dropped() -> None:
    try:
        table = Table()
        for n in range(20_000):
            table[(f"a{n}", f"b{n}")] = {f"c{n}": n}
        gc.collect(1)
        # Survived the young collections: a full collection would walk it.
        assert any(found is table for found in gc.get_objects(generation=2))
        frozen = gc.get_freeze_count()
        settle()
        assert gc.get_freeze_count() > frozen
        assert not any(found is table for found in gc.get_objects(generation=2))
        assert gc.is_tracked(table)
        gone = weakref.ref(table)
        del table
        assert gone() is None
    finally:
        gc.unfreeze()


class Node:
    """One half of a reference cycle, as an exception and its traceback's frames make."""

    other: Node | None = None


def test_a_cycle_frozen_while_in_use_is_freed_by_the_quiet_reclaim() -> None:
    try:
        first, second = Node(), Node()
        first.other, second.other = second, first
        settle()  # frozen while still in use
        gone = weakref.ref(first)
        del first, second
        gc.collect()
        assert gone() is not None  # a frozen cycle: no collection sees it
        assert reclaim() >= 2
        assert gone() is None
        # What survived the reclaim is frozen again: full collections keep off it.
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_quiet_reclaim_runs_once_per_quiet_moment() -> None:
    async def until(quiet: QuietTrim, reclaims: int) -> None:
        # A full collection of this whole process can take a while on a busy machine.
        deadline = time.monotonic() + 60
        while quiet.reclaims < reclaims and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def session() -> tuple[int, int, int, int]:
        quiet = QuietTrim(asyncio.to_thread, idle_s=0.05, reclaim_idle_s=0.3)
        running = asyncio.ensure_future(quiet.run())
        quiet.heard()
        await asyncio.sleep(0.1)
        early = quiet.reclaims  # not quiet for long enough yet
        await until(quiet, 1)
        once = quiet.reclaims
        await asyncio.sleep(1.0)
        still = quiet.reclaims  # no second without new activity
        quiet.heard()
        await until(quiet, 2)
        running.cancel()
        return early, once, still, quiet.reclaims

    try:
        assert asyncio.run(session()) == (0, 1, 1, 2)
    finally:
        gc.unfreeze()

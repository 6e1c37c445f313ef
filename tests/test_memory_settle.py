"""``memory.settle``: what survived the latest work leaves the cyclic collector's sight (a full
collection no longer walks it), and is still freed once nothing refers to it."""

from __future__ import annotations

import gc
import weakref

from tactful.server.memory import settle


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

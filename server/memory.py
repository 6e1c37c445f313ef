"""Memory: freed memory handed back to the system once the server goes quiet, and long-lived
tables kept out of the cyclic garbage collector's way.

Boundary: the process's C allocator, through ctypes: glibc's ``malloc_trim``. Where there is
none (macOS, musl) nothing is done. And the interpreter's cyclic garbage collector (``gc``).

The work that runs when typing pauses (ruff's findings read and their fixes judged, the review
of the diff, parses) runs on worker threads, and glibc gives each thread that allocates an
arena of its own. What that work frees stays resident in those arenas: a burst leaves
megabytes the server no longer uses, and how many depends on how the bursts fell, so the
server's resident size drifted with the machine's load rather than with what it holds. The
first burst, which also imports what judging fixes needs, left 7 MB (measured over stdio:
87.6 MB resident, 80.2 MB after one trim). ``malloc_trim(0)`` returns the free pages of every
arena; it takes a few milliseconds and runs on a worker thread, never on the event loop, once
per quiet moment: ``IDLE_S`` after the last message and the last background task.

The cyclic garbage collector is kept off the server's long-lived tables too (``settle``). A
full collection walks every object that survived the young collections, and stops every thread
of the server while it does, the event loop and a request included. The workspace's statistics
are frozen once built (``gc.freeze`` at start and after the index build), but the server goes
on building long-lived tables: an opened document's counts a slice at a time, the counts of the
modules it imports (up to 120,000 tokens), the index's changed files. Full collections walked
them again and again and found next to nothing to free (docs/bench.md, "Completion round
trip: full garbage collections and the counting slices"). ``settle`` runs after each slice of
such work, in the thread that did it: a collection of the young generations (the objects
allocated since the last one, about a millisecond), then every object left is frozen, so that
a full collection walks only what was allocated since. What is frozen is still freed when
nothing refers to it any more; only a cycle of frozen objects that became garbage stays (full
collections found no garbage at all in 86 of 89 of them in a traced replay), until the server
has been quiet for ``RECLAIM_IDLE_S``: then ``reclaim`` runs one full collection over
everything, on a worker thread, while nobody waits for an answer.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

# Quiet this long (no message, no background task finishing) before freed memory is returned.
IDLE_S = 1.0
# Quiet this long before what ``settle`` froze is walked once by a full collection (``reclaim``).
RECLAIM_IDLE_S = 60.0


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        # The running process's own symbols: the C library it was linked with.
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system; True when it released some. Blocks
    for a few milliseconds (ctypes lets go of the GIL meanwhile)."""
    if _TRIM is None:
        return False
    return bool(_TRIM(0))


def settle() -> None:
    """Keep what survived the latest work out of the cyclic collector's way: a collection of
    the young generations (what was allocated since the last one, a millisecond at most), then
    every object left is frozen (``gc.freeze``), so that the next full collections do not
    walk it. Called after each slice of work that leaves long-lived tables behind."""
    gc.collect(1)
    gc.freeze()


def reclaim() -> int:
    """Free the garbage cycles ``settle`` froze (objects that were still in use then and later
    became a cycle nothing else refers to: an exception and its traceback's frames, say): every
    frozen object back under the collector's eye, one full collection, frozen again. The
    collection walks every table, tens to hundreds of milliseconds during which no thread of the
    server runs, so it runs only once the server has been quiet for ``RECLAIM_IDLE_S``.
    Returns how many objects it found unreachable."""
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    return found


class QuietTrim:
    """Calls ``release_free_memory`` once the server has been quiet for ``idle_s``, and
    ``reclaim`` once it has been quiet for ``reclaim_idle_s``, each once per quiet moment:
    activity (``heard``) since the last one is what makes it due."""

    def __init__(
        self,
        run_blocking: Callable[[Callable[[], Any]], Awaitable[Any]],
        idle_s: float = IDLE_S,
        reclaim_idle_s: float = RECLAIM_IDLE_S,
    ) -> None:
        self.run_blocking = run_blocking
        self.idle_s = idle_s
        self.reclaim_idle_s = reclaim_idle_s
        self.releases = 0
        self.reclaims = 0
        self._last = time.monotonic()
        self._due = False
        self._reclaim_due = False

    @property
    def available(self) -> bool:
        return _TRIM is not None

    def heard(self, *_: Any) -> None:
        """Something happened (a message arrived, background work finished)."""
        self._last = time.monotonic()
        self._due = True
        self._reclaim_due = True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(min(self.idle_s, self.reclaim_idle_s) / 2)
            quiet = time.monotonic() - self._last
            try:
                if self._due and _TRIM is not None and quiet >= self.idle_s:
                    self._due = False
                    await self.run_blocking(release_free_memory)
                    self.releases += 1
                if self._reclaim_due and quiet >= self.reclaim_idle_s:
                    self._reclaim_due = False
                    await self.run_blocking(reclaim)
                    self.reclaims += 1
            except RuntimeError:
                # The worker pool is shut down: the server is stopping.
                return

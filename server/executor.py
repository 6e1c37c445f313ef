"""The one place blocking work leaves the event loop.

Boundary: handlers ``await run_blocking(fn, *args)`` for parsing, git, indexing and anything
else that takes more than a moment; subprocesses use asyncio directly. The loop itself only
routes messages.

``NEXT_EDITS`` is the same for the next-edit engine and its edit history. The history follows
every ``didChange`` (about fifty in a burst of typing before a request): those are ``post``ed,
and a burst runs as one job, not one job each (each job woke the worker, which then took the
interpreter from the event loop while it was still handling the burst).

``ENGINE`` is the local completion engine's own worker: one thread, so its jobs run one at a
time and in order (the engine keeps per-document state that needs no lock then), and apart from
the pool, so a completion never waits behind indexing or git. A job whose caller stopped
waiting before it started (a newer request for the same document took over, or the deadline
passed) never runs. A request's job is ``ask``ed: background work of this worker that watches
``asked`` (the counts of the modules a document imports) stops its slice at its next step, so
that the request runs next rather than after the slice.

``INDEX`` applies changes of files to the workspace index, one at a time and in the order they
happened (a file set apart when opened, read again when closed or changed on disk).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)


class Worker:
    """A thread pool made when first used, and remade after ``shutdown``."""

    def __init__(self, name: str, threads: int) -> None:
        self.name = name
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        # Work posted and not yet run, and whether a job that runs it is queued.
        self._posted: list[Callable[[], object]] = []
        self._posted_lock = threading.Lock()
        self._drain_queued = False
        # How many jobs ran posted work (a burst of posts runs as one).
        self.drains = 0
        # Jobs ``ask``ed and not started yet.
        self._asked = 0
        self._asked_lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=self.name)
        return self._pool

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` here and await its result; cancelling the wait before the job starts
        takes it out of the queue."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool(), functools.partial(fn, *args, **kwargs))

    @property
    def asked(self) -> bool:
        """Whether a job someone is waiting for (``ask``) is queued and not started yet: work
        running here in slices stops at its next step when it is. Read from any thread."""
        return self._asked > 0

    async def ask(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``run`` for a job someone is waiting for (a request): while it waits to start,
        ``asked`` is true, so background work running here stops its slice at its next step
        rather than finish it first."""
        loop = asyncio.get_running_loop()
        started = False

        def job() -> T:
            nonlocal started
            with self._asked_lock:
                if not started:
                    started = True
                    self._asked -= 1
            return fn(*args, **kwargs)

        with self._asked_lock:
            self._asked += 1
        try:
            return await loop.run_in_executor(self.pool(), job)
        finally:
            with self._asked_lock:
                if not started:
                    # Cancelled (or the pool shut down) before it started: it never will.
                    started = True
                    self._asked -= 1

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> None:
        """Run ``fn`` here, in turn, without waiting for it."""
        self.pool().submit(fn, *args, **kwargs)

    def post(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` here, in turn, without waiting for it; what is posted while none of it
        has run yet runs in one job. A job run or submitted after a post runs after it (on a
        worker of one thread: the jobs run in the order they came). ``fn`` handles its own
        errors; one that escapes is logged, and the rest still run."""
        if self.threads != 1:
            raise ValueError(f"{self.name}: posted work keeps its order on one thread only")
        with self._posted_lock:
            self._posted.append(fn)
            if self._drain_queued:
                return
            self._drain_queued = True
        self.pool().submit(self._run_posted)

    def _run_posted(self) -> None:
        with self._posted_lock:
            posted, self._posted = self._posted, []
            self._drain_queued = False
        self.drains += 1
        for fn in posted:
            try:
                fn()
            except Exception:
                logger.exception("work posted to %s failed", self.name)

    def shutdown(self) -> None:
        with self._posted_lock:
            self._posted = []
            self._drain_queued = False
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


WORK = Worker("tactful-work", max(4, (os.cpu_count() or 2) * 2))
ENGINE = Worker("tactful-engine", 1)
INDEX = Worker("tactful-index", 1)
# The next-edit engine's own worker: the edit history it is fed and the requests it answers
# run one at a time, in the order they came, so a request sees every change sent before it.
NEXT_EDITS = Worker("tactful-next-edits", 1)


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` in the worker pool and await its result."""
    return await WORK.run(fn, *args, **kwargs)


def shutdown() -> None:
    WORK.shutdown()
    ENGINE.shutdown()
    INDEX.shutdown()
    NEXT_EDITS.shutdown()

"""Work spread over threads, up to the CPU count, with each result handed back as it is done.

Boundary: scheduling only. It is for work that waits on other processes (test runs in the
sandbox, ruff, a model over HTTP), where threads overlap the waiting; the work function must be
safe to call from several threads (``Sandbox.validate_sync`` is). Results come back in the
order they finish, so a command can print each at once; an error in one item is handed back
with that item and the others go on; leaving the loop early (Ctrl-C, an error of the caller's)
cancels what has not started and waits only for what is running.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    """The CPUs this process may use (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity
        return max(1, os.cpu_count() or 1)


def add_jobs_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--jobs N``: how many ``what`` run at once (default: the CPU count)."""

    def positive(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError("must be 1 or more")
        return value

    parser.add_argument(
        "--jobs",
        "-j",
        type=positive,
        default=None,
        metavar="N",
        help=f"{what} at once (default: the number of CPUs, {default_jobs()} here)",
    )


@dataclass(frozen=True, slots=True)
class Done(Generic[T, R]):
    """One item's outcome: its ``result``, or the ``error`` its work raised."""

    item: T
    result: R | None = None
    error: BaseException | None = None


def in_parallel(
    work: Callable[[T], R], items: Iterable[T], jobs: int | None = None
) -> Iterator[Done[T, R]]:
    """``work(item)`` for every item, ``jobs`` at a time (default: the CPU count), yielded as
    each finishes."""
    queue = list(items)
    limit = max(1, jobs or default_jobs())
    if not queue:
        return
    pool = ThreadPoolExecutor(max_workers=min(limit, len(queue)), thread_name_prefix="tactful")
    running: dict[Future[R], T] = {}
    pending = iter(queue)
    try:
        for item in pending:
            running[pool.submit(work, item)] = item
            if len(running) >= limit:
                break
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                item = running.pop(future)
                error = future.exception()
                yield Done(item, None if error else future.result(), error)
                following = next(pending, _END)
                if following is not _END:
                    running[pool.submit(work, following)] = following  # type: ignore[arg-type]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_END = object()

"""One request in flight per document: a newer request for the same document cancels the older.

Boundary: plain asyncio, shared by the completion and next-edit pipelines. A result for text the
developer has typed past is worth nothing, so the newer request cancels the older one's work
instead of queueing behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Generic, TypeVar

T = TypeVar("T")


class Preempting(Generic[T]):
    """The work in flight for each document (by URI)."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[T]] = {}

    async def run(self, uri: str, work: Awaitable[T]) -> tuple[bool, T | None]:
        """Run ``work`` as ``uri``'s one request in flight, cancelling the one before:
        ``(True, result)``, or ``(False, None)`` when a newer request cancelled this one. An
        error of the work's own is raised, not swallowed."""
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
            return False, None
        return True, task.result()

"""``$/progress`` for long work (indexing, test runs, LLM review), when the client supports it.

Usage: ``async with progress(server, "Indexing") as report: report("12 of 40 files", 30)``.
A client without ``window.workDoneProgress`` gets nothing, and a failure to create the token
never stops the work it describes.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

Report = Callable[[str | None, int | None], None]


def _silent(message: str | None = None, percentage: int | None = None) -> None:
    """Progress for a client that shows none."""


@contextlib.asynccontextmanager
async def progress(
    server: TactfulServer, title: str, cancellable: bool = False
) -> AsyncIterator[Report]:
    window = server.client_capabilities.window if server.protocol._workspace else None
    if window is None or not window.work_done_progress:
        yield _silent
        return
    token = f"tactful-{uuid.uuid4()}"
    try:
        await server.work_done_progress.create_async(token)
    except Exception:
        logger.debug("client refused a progress token", exc_info=True)
        yield _silent
        return
    server.work_done_progress.begin(
        token, types.WorkDoneProgressBegin(title=title, cancellable=cancellable, percentage=0)
    )

    def report(message: str | None = None, percentage: int | None = None) -> None:
        server.work_done_progress.report(
            token, types.WorkDoneProgressReport(message=message, percentage=percentage)
        )

    try:
        yield report
    finally:
        server.work_done_progress.end(token, types.WorkDoneProgressEnd())

"""Failure containment: one broken feature never takes the server down.

Boundary: every feature handler runs inside ``guard``. An exception is logged with its
traceback, shown to the user at most once a minute per feature, and the request still gets an
answer (the feature's empty result), so no client ever waits on a request that failed.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

REPORT_INTERVAL_S = 60.0


class ErrorReporter:
    """Shows a failing feature's error to the user, at most once a minute per feature."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        self._notify = notify
        self._last: dict[str, float] = {}

    def report(self, feature: str, exc: BaseException) -> None:
        now = time.monotonic()
        last = self._last.get(feature)
        if last is not None and now - last < REPORT_INTERVAL_S:
            return
        self._last[feature] = now
        try:
            self._notify(f"tactful: {feature} failed ({type(exc).__name__}: {exc}); see the log.")
        except Exception:
            logger.warning("could not report an error to the client", exc_info=True)


def guard(
    server: TactfulServer, feature: str, fallback: Any = None
) -> Callable[[Callable], Callable]:
    """Wrap a handler so an exception is logged, reported and answered with ``fallback``."""

    def wrap(handler: Callable) -> Callable:
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await handler(*args, **kwargs)
                except Exception as exc:
                    logger.exception("%s failed", feature)
                    server.errors.report(feature, exc)
                    return fallback() if callable(fallback) else fallback

            return run_async

        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except Exception as exc:
                logger.exception("%s failed", feature)
                server.errors.report(feature, exc)
                return fallback() if callable(fallback) else fallback

        return run

    return wrap

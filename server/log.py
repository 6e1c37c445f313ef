"""Logging: stdlib logging to a rotating file and to the client's ``window/logMessage``.

Boundary: nothing here writes to stdout, which belongs to the protocol. Records from a
thread other than the event loop's are handed to the loop before they are sent.

The root logger's level follows its handlers' (``fit_root_level``): a record below what any
handler emits is never made, so a debug call costs a level check, not a record built and
dropped (about 10,000 a replay of a history's commits, on the event loop for the most part).
A handler's level changed later (``log.level``) is followed by fitting the root again.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import threading
from typing import TYPE_CHECKING

from tactful.analyzers.userdirs import log_file

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_file_logging(level: int = logging.INFO) -> logging.Handler | None:
    """Log to the user cache's log file; stderr is used when the file cannot be opened."""
    root = logging.getLogger()
    for noisy in ("pygls", "LiteLLM", "litellm", "httpx", "httpcore", "git", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    path = log_file()
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        handler = logging.StreamHandler()  # stderr, never stdout
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    fit_root_level()
    return handler


def fit_root_level() -> None:
    """Set the root logger's level to the least severe level one of its handlers emits
    (WARNING, the standard library's default, when it has none): a record no handler would
    emit is then not made at all."""
    root = logging.getLogger()
    levels = [handler.level for handler in root.handlers]
    root.setLevel(min(levels) if levels else logging.WARNING)


class ClientLogHandler(logging.Handler):
    """Forwards log records to the client as ``window/logMessage``."""

    def __init__(self, server: TactfulServer, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None
        self._local = threading.local()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # Sending can itself log (pygls logs every message it sends): don't recurse.
        if getattr(self._local, "busy", False) or record.name.startswith("pygls"):
            return
        try:
            message = self.format(record)
        except Exception:
            return
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._send(record.levelno, message)
        else:
            loop.call_soon_threadsafe(self._send, record.levelno, message)

    def _send(self, level: int, message: str) -> None:
        self._local.busy = True
        try:
            self.server.log_to_client(level, message)
        except Exception:
            pass
        finally:
            self._local.busy = False

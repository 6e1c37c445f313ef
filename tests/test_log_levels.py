"""Log records below what every handler emits are never made; ``log.level`` still lowers the
level at which they are (the server's logging as ``tactful serve`` sets it up)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tactful.server.app import build_server
from tactful.server.log import ClientLogHandler, setup_file_logging


@contextmanager
def root_logging() -> Iterator[list[str]]:
    """The root logger alone (no handler of the test runner's), its handlers and level
    restored afterwards; the messages of the records made meanwhile, in a list."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    factory = logging.getLogRecordFactory()
    made: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record.getMessage())
        return record

    for handler in handlers:
        root.removeHandler(handler)
    logging.setLogRecordFactory(counting)
    try:
        yield made
    finally:
        logging.setLogRecordFactory(factory)
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def test_a_debug_record_is_made_only_when_a_handler_would_emit_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with root_logging() as made:
        _debug_records_follow_the_handlers(made)


def _debug_records_follow_the_handlers(made: list[str]) -> None:
    # As ``tactful serve`` does: the log file, then the client's handler at ``log.level``.
    setup_file_logging()
    server = build_server()
    handler = ClientLogHandler(server, logging.INFO)
    server.log_handler = handler
    logging.getLogger().addHandler(handler)
    server.reload_settings()
    logger = logging.getLogger("tactful.feedback.completion")

    logger.debug("a debug message nobody emits")
    logger.info("an info message")
    assert made == ["an info message"]

    server.client_options = {"log": {"level": "debug"}}
    server.reload_settings()
    logger.debug("a debug message for the client")
    assert made[-1] == "a debug message for the client"

    server.client_options = {"log": {"level": "warning"}}
    server.reload_settings()
    made.clear()
    logger.debug("again nobody's")
    logger.info("the log file's")
    assert made == ["the log file's"]

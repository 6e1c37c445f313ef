"""Reading LSP messages from a byte stream, surviving bad framing.

Boundary: bytes in, JSON-RPC message bodies out. pygls' own reader trusts every
``Content-Length`` header: one wrong header desynchronises it for good. This reader checks each
frame against what follows and resynchronises on the next ``Content-Length`` header, so one bad
message costs that message only. It never interprets the messages themselves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_HEADER = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t\r]*$", re.IGNORECASE | re.MULTILINE)
_OTHER_HEADERS = re.compile(rb"(?:[A-Za-z][A-Za-z0-9-]*[ \t]*:[^\r\n]*\r?\n)+")
_DECODER = json.JSONDecoder()

# Stop waiting for the rest of a frame whose header claims more bytes than arrived, once the
# bytes that did arrive hold a whole JSON message and the stream has been quiet this long.
STALL_S = 0.3
MAX_HEADER_BYTES = 8192


@dataclass(frozen=True)
class FramingError:
    """Something in the stream that was not a well-framed message, and what was done about it."""

    message: str


class FrameReader:
    """Splits a byte stream into message bodies; feed it bytes, take frames out."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> bool:
        return bool(self._buffer.strip())

    def feed(self, data: bytes) -> list[bytes | FramingError]:
        self._buffer += data
        return self._drain(stalled=False)

    def stalled(self) -> list[bytes | FramingError]:
        """The stream went quiet with a partial frame: take what is whole, if anything."""
        return self._drain(stalled=True)

    def _drain(self, stalled: bool) -> list[bytes | FramingError]:
        out: list[bytes | FramingError] = []
        while True:
            item = self._next(stalled)
            if item is None:
                return out
            out.append(item)

    def _skip_to_header(self) -> FramingError | None:
        buf = self._buffer
        match = _HEADER.search(buf)
        if match is None:
            # Keep a tail that may be the start of a header split across reads.
            cut = len(buf) - 32 if len(buf) > 32 else 0
            if cut and buf[:cut].strip():
                del buf[:cut]
                return FramingError(f"skipped {cut} bytes that were not an LSP message")
            if cut:
                del buf[:cut]
            return None
        if match.start() > 0:
            junk = bytes(buf[: match.start()])
            if _OTHER_HEADERS.fullmatch(junk):
                return None
            del buf[: match.start()]
            if junk.strip():
                return FramingError(f"skipped {len(junk)} bytes that were not an LSP message")
        return None

    def _next(self, stalled: bool) -> bytes | FramingError | None:
        error = self._skip_to_header()
        if error is not None:
            return error
        buf = self._buffer
        if not buf:
            return None
        end = _HEADER_END.search(buf)
        if end is None:
            if len(buf) > MAX_HEADER_BYTES:
                del buf[: len(b"content-length:")]
                return FramingError("dropped an over-long header block")
            return None
        header = bytes(buf[: end.start()])
        body_start = end.end()
        length_match = _LENGTH.search(header)
        if length_match is None:
            del buf[:body_start]
            return FramingError(f"dropped a message with an invalid header {header[:80]!r}")
        length = int(length_match.group(1))
        available = len(buf) - body_start
        if available >= length:
            body = bytes(buf[body_start : body_start + length])
            if _is_json(body):
                del buf[: body_start + length]
                return body
            # Too short a length, or a broken body: wait for a whole object or the next frame.
            whole = _json_prefix(bytes(buf[body_start:]))
            if whole is None and not stalled and not _HEADER.search(buf, body_start):
                return None
            return self._recover(
                body_start, f"Content-Length {length} does not frame a message", declared=length
            )
        # The header may claim more than was sent: if a whole message is already here and the
        # next frame has begun after it (or the stream stalled), take the message.
        whole = _json_prefix(bytes(buf[body_start:]))
        if whole is not None:
            rest = bytes(buf[body_start + whole :]).lstrip()
            if stalled or _HEADER.match(rest):
                return self._recover(body_start, f"Content-Length {length} overstates the message")
        return None

    def _recover(
        self, body_start: int, reason: str, declared: int | None = None
    ) -> bytes | FramingError:
        buf = self._buffer
        whole = _json_prefix(bytes(buf[body_start:]))
        if whole is not None:
            body = bytes(buf[body_start : body_start + whole])
            del buf[: body_start + whole]
            logger.warning("framing error: %s; recovered the message", reason)
            return body
        if declared is not None:
            # Framed, but not JSON: hand it on so the sender gets a parse error.
            body = bytes(buf[body_start : body_start + declared])
            del buf[: body_start + declared]
            return body
        del buf[:body_start]
        return FramingError(f"{reason}; dropped it")


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _json_prefix(data: bytes) -> int | None:
    """Byte length of the JSON object at the start of ``data``, if one is whole there."""
    text = data.decode("utf-8", "replace")
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return None
    try:
        _, end = _DECODER.raw_decode(stripped)
    except ValueError:
        return None
    consumed = len(text) - len(stripped) + end
    return len(text[:consumed].encode("utf-8"))


async def pump(
    read_chunk: Callable[[], Awaitable[bytes]],
    on_body: Callable[[bytes], None],
    on_error: Callable[[FramingError], None],
    stop: threading.Event,
) -> None:
    """Read chunks until EOF or ``stop``, handing every recovered body to ``on_body``."""
    reader = FrameReader()
    while not stop.is_set():
        try:
            if reader.pending:
                chunk = await asyncio.wait_for(read_chunk(), STALL_S)
            else:
                chunk = await read_chunk()
        except TimeoutError:
            for item in reader.stalled():
                _dispatch(item, on_body, on_error)
            if reader.pending:
                # Nothing whole is waiting: wait without a deadline for the rest.
                chunk = await read_chunk()
            else:
                continue
        if not chunk:
            return
        for item in reader.feed(chunk):
            _dispatch(item, on_body, on_error)
            if stop.is_set():
                return


def _dispatch(
    item: bytes | FramingError,
    on_body: Callable[[bytes], None],
    on_error: Callable[[FramingError], None],
) -> None:
    if isinstance(item, FramingError):
        on_error(item)
    else:
        on_body(item)


class StdinChunks:
    """Chunks of stdin, read by a thread so the event loop never blocks on the pipe."""

    def __init__(self, fd: int | None = None) -> None:
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._queue: asyncio.Queue[bytes] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._queue = asyncio.Queue()
        queue = self._queue

        def read() -> None:
            while True:
                try:
                    data = os.read(self._fd, 65536)
                except OSError:
                    data = b""
                loop.call_soon_threadsafe(queue.put_nowait, data)
                if not data:
                    return

        threading.Thread(target=read, name="tactful-stdin", daemon=True).start()

    async def read(self) -> bytes:
        assert self._queue is not None
        return await self._queue.get()

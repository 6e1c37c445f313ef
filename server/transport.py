"""Reading LSP messages from a byte stream, surviving bad framing, in time linear in its size.

Boundary: bytes in, JSON-RPC message bodies out. pygls' own reader trusts every
``Content-Length`` header: one wrong header desynchronises it for good. This reader checks each
frame against what follows and resynchronises on the next ``Content-Length`` header, so one bad
message costs that message only. It never interprets the messages themselves.

Linear time: every byte is looked at a bounded number of times, however the stream is cut into
chunks. A header line ending in a raw line break cannot occur inside a JSON message (JSON
strings escape line breaks, and ``Content-Length:`` is no JSON outside a string), so finding
one inside a frame's claimed body proves the frame ended earlier; only new bytes are searched
for it. A frame whose body claims more than ``max_frame_bytes`` is not kept: its first bytes
(``HEAD_BYTES``, enough to say what it was) are, and the rest is dropped as it arrives, so a
50 MB message costs neither 50 MB of memory nor the time to decode it; ``Oversized`` reports it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import select
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tactful.feedback.pause import Foreground

logger = logging.getLogger(__name__)

_HEADER = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
# A Content-Length line with its line break: the start of a frame for certain.
_FRAME_START = re.compile(rb"content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t\r]*$", re.IGNORECASE | re.MULTILINE)
_OTHER_HEADERS = re.compile(rb"(?:[A-Za-z][A-Za-z0-9-]*[ \t]*:[^\r\n]*\r?\n)+")
_DECODER = json.JSONDecoder()

# Stop waiting for the rest of a frame whose header claims more bytes than arrived, once the
# bytes that did arrive hold a whole JSON message and the stream has been quiet this long.
STALL_S = 0.3
MAX_HEADER_BYTES = 8192
# Bodies up to this size are checked to be JSON before they are handed on (cheap, and it tells
# a Content-Length that is too short); bigger ones are checked once, when what follows them
# says the length was wrong.
CHECKED_BYTES = 1 << 20
# Kept of a frame too big to take: enough to read its method, id and document uri.
HEAD_BYTES = 64 * 1024
# The default largest frame taken whole (the server sets it from its document limit).
MAX_FRAME_BYTES = 64 * 1024 * 1024
# Bytes kept back between chunks so that a header cut in two is still found.
_OVERLAP = 128


@dataclass(frozen=True)
class FramingError:
    """Something in the stream that was not a well-framed message, and what was done about it."""

    message: str


@dataclass(frozen=True)
class Oversized:
    """A frame bigger than the reader takes: its declared length and its first bytes."""

    length: int
    head: bytes


@dataclass
class _Skip:
    """A frame being dropped as it arrives: bytes still to come, and its first bytes."""

    length: int
    remaining: int
    head: bytearray


Item = bytes | FramingError | Oversized


class FrameReader:
    """Splits a byte stream into message bodies; feed it bytes, take frames out."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self.max_frame_bytes = max_frame_bytes
        # Where in the buffer the search for a frame start inside the current body goes on.
        self._scanned = 0
        # A frame whose body was checked and is not JSON: waiting for what follows to say why.
        self._doubtful = False
        self._skip: _Skip | None = None

    @property
    def buffered(self) -> int:
        """Bytes held now (a frame too big to take holds its head and a few bytes only)."""
        return len(self._buffer) + (len(self._skip.head) if self._skip is not None else 0)

    @property
    def pending(self) -> bool:
        return self._skip is not None or bool(self._buffer.strip())

    def feed(self, data: bytes | memoryview) -> list[Item]:
        self._buffer += data
        return self._drain(stalled=False)

    def feed_from(self, chunk: bytearray, size: int) -> list[Item]:
        """``feed(chunk[:size])``, where ``chunk`` is a buffer the caller reads into again.

        While the body of a frame too big to take goes by, a chunk with no line break in it
        (JSON has none outside its strings' escapes) cannot end a frame start: it is dropped
        where it lies, after one search for a line break, keeping only its last bytes (where
        a header may begin). The head, the first and the last chunk, and anything with a line
        break take the ordinary way."""
        skip = self._skip
        held = len(self._buffer)
        if (
            skip is not None
            and held <= _OVERLAP < size
            and len(skip.head) >= HEAD_BYTES
            and held + size < skip.remaining
            and chunk.find(b"\n", 0, size) < 0
        ):
            skip.remaining -= held + size - _OVERLAP
            self._buffer[:] = chunk[size - _OVERLAP : size]
            self._scanned = _OVERLAP
            return []
        return self.feed(memoryview(chunk)[:size])

    def stalled(self) -> list[Item]:
        """The stream went quiet with a partial frame: take what is whole, if anything."""
        return self._drain(stalled=True)

    def _drain(self, stalled: bool) -> list[Item]:
        out: list[Item] = []
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

    def _next(self, stalled: bool) -> Item | None:
        if self._skip is not None:
            return self._skipping(stalled)
        error = self._skip_to_header()
        if error is not None:
            return error
        buf = self._buffer
        if not buf:
            return None
        end = _HEADER_END.search(buf, 0, MAX_HEADER_BYTES + 4)
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
        if length > self.max_frame_bytes:
            del buf[:body_start]
            self._skip = _Skip(length, length, bytearray())
            self._scanned = 0
            return self._skipping(stalled)
        body_end = body_start + length
        # The first frame start after this header, searched for in new bytes only. One that
        # begins inside the claimed body proves the frame ended there.
        found = _frame_start(buf, max(body_start, self._scanned - _OVERLAP))
        self._scanned = len(buf) if found is None else found.start()
        if found is not None and found.start() < body_end:
            return self._recover(
                body_start, found.start(), f"Content-Length {length} overstates the message"
            )
        if len(buf) < body_end:
            if stalled:
                whole = _json_prefix(bytes(buf[body_start:]))
                if whole is not None:
                    return self._recover(
                        body_start,
                        body_start + whole,
                        f"Content-Length {length} overstates the message",
                    )
            return None
        if not self._doubtful:
            if length > CHECKED_BYTES:
                # Too big to check cheaply: trust the length when a header or nothing follows.
                rest = buf[body_end : body_end + MAX_HEADER_BYTES].lstrip()
                if not rest or _HEADER.match(rest) or _OTHER_HEADERS.match(rest):
                    return self._take(body_end, body_start)
            elif _is_json(bytes(buf[body_start:body_end])):
                return self._take(body_end, body_start)
        # Too short a length, or a broken body: the next frame start says where it ends.
        self._doubtful = True
        if found is None and not stalled:
            return None
        stop = found.start() if found is not None else len(buf)
        whole = _json_prefix(bytes(buf[body_start:stop]))
        if whole is not None:
            logger.warning(
                "framing error: Content-Length %d does not frame a message; recovered it", length
            )
            return self._take(body_start + whole, body_start)
        # Framed, but not JSON: hand it on so the sender gets a parse error.
        return self._take(body_end, body_start)

    def _take(self, end: int, start: int) -> bytes:
        body = bytes(self._buffer[start:end])
        del self._buffer[:end]
        self._scanned = 0
        self._doubtful = False
        return body

    def _recover(self, body_start: int, stop: int, reason: str) -> Item:
        """The frame ends at ``stop``, before its claimed length: take the message in it."""
        whole = _json_prefix(bytes(self._buffer[body_start:stop]))
        if whole is not None:
            logger.warning("framing error: %s; recovered the message", reason)
            return self._take(body_start + whole, body_start)
        del self._buffer[:stop]
        self._scanned = 0
        self._doubtful = False
        return FramingError(f"{reason}; dropped it")

    def _skipping(self, stalled: bool) -> Item | None:
        """Drop the body of a frame too big to take, keeping its head; watch for the next frame
        (the claim may be false: a small message with a huge Content-Length)."""
        skip = self._skip
        assert skip is not None
        buf = self._buffer
        window = min(len(buf), skip.remaining)
        inside = _frame_start(buf, max(0, self._scanned - _OVERLAP), window + _OVERLAP)
        if inside is not None and inside.start() >= window:
            inside = None
        if inside is not None:
            self._skip = None
            head = bytes(skip.head) + bytes(buf[: inside.start()])
            self._scanned = 0
            whole = _json_prefix(head) if len(head) <= HEAD_BYTES else None
            del buf[: inside.start()]
            if whole is not None:
                logger.warning(
                    "framing error: Content-Length %d overstates the message; recovered it",
                    skip.length,
                )
                return head[:whole]
            return FramingError(
                f"a message claiming {skip.length} bytes ended after {len(head)}; dropped it"
            )
        if window == skip.remaining:
            # The whole body is here: drop it, keep its head.
            room = HEAD_BYTES - len(skip.head)
            if room > 0:
                skip.head += buf[: min(room, window)]
            del buf[:window]
            self._skip = None
            self._scanned = 0
            return Oversized(skip.length, bytes(skip.head))
        if stalled and len(skip.head) + len(buf) <= HEAD_BYTES:
            whole = _json_prefix(bytes(skip.head) + bytes(buf))
            if whole is not None:
                self._skip = None
                head = bytes(skip.head) + bytes(buf)
                del buf[:]
                self._scanned = 0
                logger.warning(
                    "framing error: Content-Length %d overstates the message; recovered it",
                    skip.length,
                )
                return head[:whole]
        # Keep a tail where a header may begin; drop (but for the head) the rest.
        drop = max(0, window - _OVERLAP)
        room = HEAD_BYTES - len(skip.head)
        if room > 0:
            skip.head += buf[: min(room, drop)]
        del buf[:drop]
        skip.remaining -= drop
        self._scanned = len(buf)
        return None


def _frame_start(buf: bytearray, start: int, end: int | None = None) -> re.Match[bytes] | None:
    """The first frame start (a Content-Length line with its line break) in ``buf[start:end]``.

    Line breaks are found with ``find`` (memchr): a JSON message rarely holds a raw one, so
    the regular expression runs on a few bytes before each, and a megabyte is scanned in
    microseconds rather than milliseconds. Past ``_LINES_CHECKED`` line breaks (text that is
    not JSON, perhaps made to be slow) the expression runs once over the rest instead: a
    frame start lies within one line, so the first match is the one that ends first."""
    stop = len(buf) if end is None else min(end, len(buf))
    position = start
    for _ in range(_LINES_CHECKED):
        newline = buf.find(b"\n", position, stop)
        if newline < 0:
            return None
        found = _FRAME_START.search(buf, max(start, newline - 120), newline + 1)
        if found is not None and found.end() == newline + 1:
            return found
        position = newline + 1
    return _FRAME_START.search(buf, position, stop)


# Line breaks looked at one by one before a frame start is searched for in one pass.
_LINES_CHECKED = 32


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


def dispatcher(
    on_body: Callable[[bytes], None],
    on_error: Callable[[FramingError], None],
    on_oversized: Callable[[Oversized], None] | None = None,
) -> Callable[[Item], None]:
    """One callable for what a ``FrameReader`` gives: bodies to ``on_body``, frames too big to
    take to ``on_oversized`` (else ``on_error``), framing errors to ``on_error``."""

    def dispatch(item: Item) -> None:
        if isinstance(item, Oversized):
            if on_oversized is not None:
                on_oversized(item)
            else:
                on_error(FramingError(f"dropped a message of {item.length} bytes: too big"))
        elif isinstance(item, FramingError):
            on_error(item)
        else:
            on_body(item)

    return dispatch


async def pump(
    read_chunk: Callable[[], Awaitable[bytes]],
    on_body: Callable[[bytes], None],
    on_error: Callable[[FramingError], None],
    stop: threading.Event,
    reader: FrameReader | None = None,
    on_oversized: Callable[[Oversized], None] | None = None,
) -> None:
    """Read chunks until EOF or ``stop``, handing every recovered body to ``on_body``, every
    frame too big to take to ``on_oversized`` (else ``on_error``)."""
    reader = reader if reader is not None else FrameReader()
    dispatch = dispatcher(on_body, on_error, on_oversized)

    while not stop.is_set():
        try:
            if reader.pending:
                chunk = await asyncio.wait_for(read_chunk(), STALL_S)
            else:
                chunk = await read_chunk()
        except TimeoutError:
            for item in reader.stalled():
                dispatch(item)
            if reader.pending:
                # Nothing whole is waiting: wait without a deadline for the rest.
                chunk = await read_chunk()
            else:
                continue
        if not chunk:
            return
        for item in reader.feed(chunk):
            dispatch(item)
            if stop.is_set():
                return


# One read takes up to this much: a big message arrives in a few dozen reads, not hundreds.
READ_BYTES = 1 << 20


def widen_pipe(fd: int) -> None:
    """Let the pipe from the editor hold a megabyte (Linux's default is 64 KiB), so that a big
    message crosses it in few reads; anything that is not a pipe, or a kernel that says no, is
    left as it is."""
    try:
        import fcntl

        setsize = getattr(fcntl, "F_SETPIPE_SZ", 1031)
        fcntl.fcntl(fd, setsize, READ_BYTES)
    except (ImportError, OSError):
        logger.debug("the input pipe keeps its size", exc_info=True)


class StdinFrames:
    """Messages from stdin, read and framed by a thread of their own.

    The thread reads up to ``READ_BYTES`` at a time into one buffer it keeps (``readinto``:
    no new object per read, and the GIL let go while it waits), frames what it read with the
    server's ``FrameReader`` and hands whole messages to the event loop, a list per read. The
    loop sees messages only: the body of a frame too big to take is dropped by the thread as
    it goes by (``FrameReader.feed_from``: a search for a line break per read), so requests
    already in hand are answered while it streams in as fast as without it. A stream that
    goes quiet with a partial frame is noticed here too (``STALL_S``)."""

    def __init__(
        self, reader: FrameReader, fd: int | None = None, foreground: Foreground | None = None
    ) -> None:
        self.reader = reader
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._queue: asyncio.Queue[list[Item] | None] | None = None
        # Told of each message from the moment it is read until it is handled: work on other
        # threads gives way while the editor's messages wait (``feedback/pause.py``).
        self.foreground = foreground if foreground is not None else Foreground()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._queue = asyncio.Queue()
        queue = self._queue
        widen_pipe(self._fd)

        def hand_over(items: list[Item] | None) -> None:
            if items:
                self.foreground.add(len(items))
            loop.call_soon_threadsafe(queue.put_nowait, items)

        def read() -> None:
            try:
                self._read(hand_over)
            except Exception:
                logger.exception("reading the client's messages failed")
            hand_over(None)

        threading.Thread(target=read, name="tactful-stdin", daemon=True).start()

    def _read(self, hand_over: Callable[[list[Item] | None], None]) -> None:
        reader = self.reader
        chunk = bytearray(READ_BYTES)
        view = memoryview(chunk)
        source = io.FileIO(self._fd, "rb", closefd=False)
        while True:
            if reader.pending and not _readable(self._fd, STALL_S):
                items = reader.stalled()
                if items:
                    hand_over(items)
                # Still partial: wait without a deadline for the rest (the next read).
            try:
                size = source.readinto(view)
            except OSError:
                size = 0
            if not size:
                return
            items = reader.feed_from(chunk, size)
            if items:
                hand_over(items)

    async def deliver(self, dispatch: Callable[[Item], None], stop: threading.Event) -> None:
        """Hand each message to ``dispatch``, in order, until the input ends or ``stop``."""
        assert self._queue is not None
        while not stop.is_set():
            items = await self._queue.get()
            if items is None:
                return
            for handled, item in enumerate(items, 1):
                try:
                    dispatch(item)
                finally:
                    self.foreground.done()
                if stop.is_set():
                    # The messages not handled are not waited for any more.
                    self.foreground.done(len(items) - handled)
                    return


def _readable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` has something to read within ``timeout`` seconds (True where it cannot
    be told: the caller then just reads)."""
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    except (OSError, ValueError):
        return True
    return bool(ready)

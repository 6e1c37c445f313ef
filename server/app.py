"""The tactful language server: state shared by the features, and how it runs.

Boundary: this package is the only one that knows LSP. ``TactfulServer`` holds the open
documents (parsed incrementally), the resolved settings, the workspace and its trust; each
feature in ``server/features/`` registers its handlers on it and reads that state. Handlers take
a snapshot, call the domain packages, and convert the result; blocking work goes through
``server/executor.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from tactful.analyzers.document import Document
from tactful.analyzers.text import TextChange
from tactful.feedback import trust as trust_list
from tactful.server import __version__, executor
from tactful.server import settings as settings_mod
from tactful.server.errors import ErrorReporter
from tactful.server.log import LEVELS, ClientLogHandler, fit_root_level
from tactful.server.memory import QuietTrim
from tactful.server.protocol import TactfulProtocol
from tactful.server.services import Services
from tactful.server.transport import (
    FrameReader,
    FramingError,
    Item,
    StdinFrames,
    dispatcher,
    pump,
)

logger = logging.getLogger(__name__)

DocumentListener = Callable[[Document], Any]
# The interpreter's thread switch interval while serving (Python's default is 5 ms).
SWITCH_INTERVAL_S = 0.001
# What a session reads messages with: hands each to the dispatch, until the input ends or stop.
Dispatch = Callable[[Item], None]
Deliver = Callable[[Dispatch, threading.Event], Awaitable[None]]
# Told the changes of each ``didChange`` (code-point positions, in order), after they applied.
EditListener = Callable[[Document, list[TextChange]], Any]


class TactfulServer(LanguageServer):
    """The server object every feature receives."""

    def __init__(self) -> None:
        super().__init__(
            "tactful",
            __version__,
            protocol_cls=TactfulProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.documents: dict[str, Document] = {}
        self.workspace_root: Path | None = None
        self.client_options: dict[str, Any] = {}
        self.client_settings: dict[str, Any] = {}
        # Trust the editor granted while running (``tactful/workspaceTrusted``); None: not sent.
        self.granted_trust: bool | None = None
        # the interpreter the editor has selected (tactful/selectedPython), for validation
        self.selected_python: str | None = None
        self.resolved = settings_mod.resolve([])
        self.errors = ErrorReporter(self.show_error)
        self.log_handler: ClientLogHandler | None = None
        self.listeners: dict[str, list[DocumentListener]] = {
            "open": [],
            "change": [],
            "save": [],
            "close": [],
        }
        self.edit_listeners: list[EditListener] = []
        self.settings_listeners: list[Callable[[], Any]] = []
        # What features registered through server/handlers.py, by name: "local" or "background".
        self.handler_kinds: dict[str, str] = {}
        self.initialized_listeners: list[Callable[[], Any]] = []
        self.initialized_done = False
        self.shutdown_listeners: list[Callable[[], Any]] = []
        # The parts features share (engines, stores, the feedback loop), typed, each made when
        # first used, so features find each other without importing each other at start-up.
        self.services = Services(self)
        # What ``initialize`` advertises under ``capabilities.experimental`` (features add to
        # it when they register).
        self.experimental: dict[str, Any] = {}
        # Request classes of tactful's own methods, by method (so params are checked as the
        # standard methods' are).
        self.message_types: dict[str, type] = {}
        # Whether the features loaded at ``initialized`` are in (server/features/__init__.py).
        self.deferred_loaded = False
        self._shown_problems: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        # Documents over workspace.maxDocumentMb, by uri: their size; they are not read.
        self.oversized: dict[str, int] = {}
        self._oversized_said: set[str] = set()
        self.frame_reader = FrameReader(frame_limit(self.settings))
        # Hands freed memory back once messages and background work pause (server/memory.py).
        self.quiet_trim = QuietTrim(executor.run_blocking)

    # -- state -----------------------------------------------------------------------------

    @property
    def settings(self) -> settings_mod.Settings:
        return self.resolved.settings

    @property
    def encoding(self) -> str:
        """The negotiated position encoding: 'utf-16' (the default), 'utf-8' or 'utf-32'."""
        try:
            value = self.workspace.position_encoding
        except RuntimeError:
            return "utf-16"
        return str(getattr(value, "value", value) or "utf-16")

    @property
    def editor_trust(self) -> bool | None:
        """The editor's word on trust: granted while running (``tactful/workspaceTrusted``),
        else ``workspace.trusted`` from initializationOptions; None when it said nothing."""
        if self.granted_trust is not None:
            return self.granted_trust
        return self.settings.workspace.trusted

    @property
    def trusted(self) -> bool:
        """Whether code from this workspace may run (tests, conftest, its interpreter)."""
        editor = self.editor_trust
        if editor is not None:
            return editor
        return self.workspace_root is not None and trust_list.is_trusted(self.workspace_root)

    def path_of(self, uri: str) -> str | None:
        try:
            return to_fs_path(uri)
        except Exception:
            return None

    def reload_settings(self) -> None:
        """Resolve the settings again from files and what the client sent; tell the features."""
        client = []
        if self.client_options:
            client.append(settings_mod.Layer("editor initializationOptions", self.client_options))
        if self.client_settings:
            # Editors fill it from per-project files (.vscode/settings.json, .dir-locals.el).
            client.append(
                settings_mod.Layer(
                    "editor configuration (workspace/didChangeConfiguration)",
                    self.client_settings,
                    restricted=True,
                )
            )
        self.resolved = settings_mod.load(self.workspace_root, client)
        if self.log_handler is not None:
            self.log_handler.setLevel(LEVELS[self.settings.log.level])
            fit_root_level()
        self.frame_reader.max_frame_bytes = frame_limit(self.settings)
        fresh = [p for p in self.resolved.problems if p not in self._shown_problems]
        for problem in fresh:
            logger.warning("%s", problem)
        if fresh:
            self._shown_problems.update(fresh)
            self.show_message("tactful settings: " + "; ".join(fresh), types.MessageType.Warning)
        for listener in list(self.settings_listeners):
            self._call_listener(listener)

    @property
    def max_document_chars(self) -> int:
        return int(self.settings.workspace.max_document_mb * 1_000_000)

    def refuse_document(self, uri: str, size: int) -> None:
        """A document over ``workspace.maxDocumentMb`` (``size``: its characters, or the bytes
        of the message that carried it): not kept, its features told it is gone, and the user
        told once. Changes to it are ignored until its text is replaced by a smaller one."""
        document = self.documents.pop(uri, None)
        if document is not None:
            self.emit("close", document)
        self.oversized[uri] = size
        if uri in self._oversized_said:
            return
        if len(self._oversized_said) > 1000:
            self._oversized_said.clear()
        self._oversized_said.add(uri)
        limit = self.settings.workspace.max_document_mb
        name = uri.rsplit("/", 1)[-1] or uri
        text = (
            f"tactful: {name} is {size / 1e6:.1f} MB, over the {limit:g} MB limit "
            "(workspace.maxDocumentMb): tactful leaves it alone, with no completions, review or "
            "fixes in it."
        )
        logger.warning("%s", text)
        self.show_message(text, types.MessageType.Warning)

    def forget_oversized(self, uri: str) -> None:
        self.oversized.pop(uri, None)

    # -- talking to the client -------------------------------------------------------------

    def show_message(self, text: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=text))

    def show_error(self, text: str) -> None:
        self.show_message(text, types.MessageType.Error)

    def log_to_client(self, level: int, text: str) -> None:
        kind = (
            types.MessageType.Error
            if level >= logging.ERROR
            else types.MessageType.Warning
            if level >= logging.WARNING
            else types.MessageType.Info
            if level >= logging.INFO
            else types.MessageType.Log
        )
        self.window_log_message(types.LogMessageParams(type=kind, message=text))

    def report_server_error(self, error: Exception, source: Any) -> None:
        logger.error("server error: %s", error)
        self.errors.report("the server", error)

    # -- events ----------------------------------------------------------------------------

    def emit(self, event: str, document: Document) -> None:
        for listener in list(self.listeners[event]):
            self._call_listener(listener, document)

    def emit_edit(self, document: Document, changes: list[TextChange]) -> None:
        for listener in list(self.edit_listeners):
            self._call_listener(listener, document, changes)

    def _call_listener(self, listener: Callable[..., Any], *args: Any) -> None:
        try:
            result = listener(*args)
            if asyncio.iscoroutine(result):
                self.spawn(result, name=getattr(listener, "__qualname__", "listener"))
        except Exception as exc:
            name = getattr(listener, "__qualname__", repr(listener))
            logger.exception("%s failed", name)
            self.errors.report(name, exc)

    def spawn(self, coro: Any, name: str = "background work") -> asyncio.Task[Any]:
        """Run a coroutine in the background; its failure is logged and reported, never lost."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            self.quiet_trim.heard()
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                logger.error("%s failed", name, exc_info=exc)
                self.errors.report(name, exc)

        task.add_done_callback(done)
        return task

    # -- running ---------------------------------------------------------------------------

    def serve_stdio(self) -> int:
        """Serve over stdin/stdout until the client exits; returns the exit code."""
        stdout = sys.stdout.buffer
        # From here on stdout belongs to the protocol: stray writes go to stderr instead.
        sys.stdout = sys.stderr
        frames = StdinFrames(self.frame_reader, foreground=self.services.typing.foreground)
        writer = _StdoutWriter(stdout)
        return self._serve(frames.start, frames.deliver, writer)

    def serve_tcp(self, host: str, port: int) -> int:
        """Serve one client over TCP."""

        async def main() -> int:
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

            async def connection(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter
            ) -> None:
                async def deliver(dispatch: Dispatch, stop: threading.Event) -> None:
                    await pump(
                        lambda: reader.read(65536),
                        dispatch,
                        dispatch,
                        stop,
                        reader=self.frame_reader,
                        on_oversized=dispatch,
                    )

                code = await self._session(deliver, writer)
                if not done.done():
                    done.set_result(code)

            server = await asyncio.start_server(connection, host, port)
            logger.info("serving on %s", ", ".join(str(s.getsockname()) for s in server.sockets))
            async with server:
                return await done

        try:
            return asyncio.run(main())
        finally:
            executor.shutdown()

    def _serve(
        self,
        start: Callable[[asyncio.AbstractEventLoop], None],
        deliver: Deliver,
        writer: Any,
    ) -> int:
        # Quality and review work (libcst, ruff's output) runs in worker threads and holds the
        # interpreter lock for long stretches; a completion is handed between the event loop
        # and the engine's worker a few times, each hand-over waiting up to the switch
        # interval. A shorter one keeps those waits to about a millisecond each.
        sys.setswitchinterval(SWITCH_INTERVAL_S)

        async def main() -> int:
            start(asyncio.get_running_loop())
            return await self._session(deliver, writer)

        try:
            return asyncio.run(main())
        finally:
            executor.shutdown()

    async def _session(self, deliver: Deliver, writer: Any) -> int:
        self._stop_event = stop = threading.Event()
        self.protocol.set_writer(writer)
        if self.log_handler is not None:
            self.log_handler.loop = asyncio.get_running_loop()
        protocol: TactfulProtocol = self.protocol  # type: ignore[assignment]

        def framing_error(error: FramingError) -> None:
            logger.error("bad message framing: %s", error.message)
            self.errors.report("reading messages", ValueError(error.message))

        def body(data: bytes) -> None:
            self.quiet_trim.heard()
            protocol.handle_body(data)

        trimming = asyncio.ensure_future(self.quiet_trim.run())
        try:
            await deliver(dispatcher(body, framing_error, protocol.handle_oversized), stop)
        except SystemExit as exit_:
            return int(exit_.code or 0)
        except (BrokenPipeError, ConnectionResetError):
            logger.error("the connection to the client is lost")
        finally:
            trimming.cancel()
            for listener in list(self.shutdown_listeners):
                self._call_listener(listener)
        # The input ended without an exit notification.
        return 0 if protocol._shutdown else 1


class _StdoutWriter:
    """Writes frames to stdout until the client closes its end, then drops them quietly.

    An editor that quits sends ``shutdown`` and closes the pipe without waiting for the answer
    (Neovim does): the answer, and every log message after it, would each raise
    ``BrokenPipeError`` and log a traceback. The client is gone; there is no one to tell.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._closed = False

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                _write_all(self._stream, data)
                return
            except (BrokenPipeError, ConnectionResetError):
                self._closed = True
                _discard_output(self._stream)
        # Outside the lock: the log handler forwards records to the client through this writer.
        logger.info("the client closed the connection: nothing more is sent to it")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.close()


def _write_all(stream: Any, data: bytes) -> None:
    """Write all of ``data`` (one frame, header and body) to the stream's descriptor, even when
    it is non-blocking.

    The pipe's other holders may have made it so (an editor's wrapper, a child that inherited
    it): a buffered write of a frame bigger than the pipe would then stop with
    ``BlockingIOError`` where the pipe was full (64 KiB by default), the rest lost, and the
    client would read the next frame's header inside this one's body. Here a write the pipe
    cannot take yet waits until it can, and goes on where it stopped.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        stream.write(data)
        stream.flush()
        return
    stream.flush()  # anything written through the stream before goes first
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]


def frame_limit(settings: settings_mod.Settings) -> int:
    """Largest message read whole: room for the largest document JSON-escaped (most text
    grows little; a character escaped as ``\\uXXXX`` takes six bytes), at least 16 MB."""
    return int(max(settings.workspace.max_document_mb * 4 + 1, 16) * 1_000_000)


def _discard_output(stream: Any) -> None:
    """Point the stream's file descriptor at the null device.

    What is still buffered would otherwise fail again when the interpreter flushes it at exit
    (the remedy the Python documentation gives for SIGPIPE).
    """
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)


def build_server() -> TactfulServer:
    """A server with every feature registered."""
    from tactful.server.features import register_all

    server = TactfulServer()
    register_all(server)
    return server

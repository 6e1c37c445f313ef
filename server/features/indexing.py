"""The repository index and the local completion engine: built in the background, kept current.

After ``initialized`` the workspace is indexed in a worker thread with ``$/progress`` (the
tokens of each file are cached under the user cache directory, so the next start re-reads only
what changed). Completions work from the first keystroke: until the index is ready the local
engine knows the open document only.

An open document is the local engine's document cache, kept in step with every keystroke, so
its file leaves the index while it is open (its half-typed words must not count twice) and comes
back from disk when it is closed. ``workspace/didChangeWatchedFiles`` keeps the other files
current (editors send it for the files their extension watches). These changes are applied in
the order they happened by the index's own worker (``executor.INDEX``), never on the loop, a
long file's counts a stretch at a time, so a completion never waits for a whole file's; each is
announced to the index when it is queued, so that a file being counted from nothing (read
again when closed) stops when a newer change of it is on its way (written right after).

The local engine's statistics of the workspace modules a document imports are built here too,
never by a request (``ImportsCounting``): a slice at a time in the engine's worker, in turn with
requests, after a document opens, after files change, and after a request that wanted counts
not built yet (answered with the counts the document had before, or none).

A request never waits behind a whole slice of those counts: a slice stops at its next step
(256 tokens) once a request is queued for the engine's worker (``executor.ENGINE.asked``), the
rest left to the next slice; the request is answered with the counts the document had. (The
reading of an opened document does not stop so: a request below the lines read so far is
answered with nothing, and replays lost keystrokes saved when it did.) After each slice of
either, and each change of the index's files, what it left behind is moved out of the cyclic
garbage collector's sight (``memory.settle``): those tables live long, and full collections
that walked them again and again stopped every thread, a request's included, for tens of
milliseconds each.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.analyzers.document import Document
from tactful.analyzers.text import Point
from tactful.server.errors import guard
from tactful.server.executor import ENGINE, INDEX, run_blocking
from tactful.server.memory import settle
from tactful.server.progress import progress
from tactful.suggestion.types import CompletionRequest

if TYPE_CHECKING:
    from tactful.analyzers.index import RepositoryIndex
    from tactful.feedback.pause import Foreground
    from tactful.server.app import TactfulServer
    from tactful.suggestion.local.engine import LocalEngine

logger = logging.getLogger(__name__)


def register(server: TactfulServer) -> None:
    services = server.services
    stop = threading.Event()

    def initialized() -> None:
        root = server.workspace_root
        if root is None or not Path(root).is_dir():
            return
        # Imported at ``initialized``, not at start: ``initialize`` does not need it.
        from tactful.analyzers.index import RepositoryIndex

        # Between the stretches of a file's update, the index gives way to what the developer
        # is waiting for (the editor's messages, a next-edit request).
        foreground = services.typing.foreground
        index = services.index = RepositoryIndex(Path(root), give_way=foreground.give_way)
        services.local.index = index
        for document in list(server.documents.values()):
            if document.path:
                index.update(document.path, None)
        server.spawn(_build(server, index, stop), name="indexing the workspace")

    def observe(document: Document) -> None:
        services.engines.observe(document.path, document.text)

    def opened(document: Document) -> None:
        index = services.index
        if index is not None and document.path:
            # The file's counts leave the workspace's (the engine counts the document itself):
            # off the loop, as a long file's take a while.
            index.will_update(document.path)
            server.spawn(
                INDEX.run(_set_apart, index, document.path), name="setting an open file apart"
            )
        observe(document)
        # The engine reads the document now rather than at the first request, a slice at a
        # time in its own worker, in turn with requests (answered from the lines read so far).
        snapshot = document.snapshot(parse=False)
        opening = CompletionRequest(
            uri=snapshot.uri,
            path=snapshot.path,
            language_id=snapshot.language_id,
            version=snapshot.version,
            text=snapshot.text,
            position=Point(0, 0),
            workspace_root=str(server.workspace_root) if server.workspace_root else None,
        )
        ENGINE.submit(services.local.reading, opening)
        # What it imports is counted next, in turn with the reading and the requests.
        services.imports_counting.wake()
        server.spawn(
            _read(services.local, opening, services.typing.foreground),
            name="reading an opened document",
        )

    def closed(document: Document) -> None:
        # In the engine's own worker, in turn with its requests: its caches are its own.
        ENGINE.submit(services.local.forget, document.uri)
        index = services.index
        if index is not None and document.path:
            index.will_update(document.path)
            server.spawn(
                _reread_closed(server, index, document.path), name="re-reading a closed file"
            )

    def shutdown() -> None:
        stop.set()
        services.local.close()

    server.initialized_listeners.append(initialized)
    server.listeners["open"].append(opened)
    server.listeners["save"].append(observe)
    server.listeners["close"].append(closed)
    server.shutdown_listeners.append(shutdown)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @guard(server, "following file changes")
    async def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        index = services.index
        if index is None:
            return
        changed: list[tuple[str, bool]] = []
        for change in params.changes:
            path = server.path_of(change.uri)
            if path is None:
                continue
            deleted = change.type == types.FileChangeType.Deleted
            if not deleted and any(d.path == path for d in server.documents.values()):
                continue  # the editor's buffer is what counts for an open file
            # Announced at once, all of them: a file read again when it was closed stops
            # counting, whichever of the changes it is.
            index.will_update(path)
            changed.append((path, deleted))
        for path, deleted in changed:
            if deleted:
                await INDEX.run(_set_apart, index, path)
            else:
                await INDEX.run(_reread, index, path)
        if changed:
            await services.imports_counting.files_changed()


class ImportsCounting:
    """Builds the local engine's statistics of the modules open documents import
    (``LocalEngine.count_imports``), a slice per job of the engine's worker, so a request waits
    for one slice at most; between slices it gives way as the reading of a document does.
    ``wake`` (on the event loop) starts it when there may be work; it stops once nothing is
    wanted."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server
        self._running = False
        self._again = False

    def wake(self) -> None:
        """Counts may be wanted: build them unless that is being done already."""
        if self._running:
            self._again = True  # looked at again once the current run finds nothing to do
            return
        self._running = True
        self.server.spawn(self._run(), name="counting the modules documents import")

    async def files_changed(self) -> None:
        """The index took changed files: counts whose files changed are built again."""
        await ENGINE.run(self.server.services.local.files_changed)
        self.wake()

    async def _run(self) -> None:
        services = self.server.services
        try:
            again = True
            while again:
                self._again = False
                while await ENGINE.run(_count_slice, services.local):
                    await services.typing.foreground.given_way()
                again = self._again
        finally:
            self._running = False


def _count_slice(local: LocalEngine) -> bool:
    # In the engine's worker: a slice that stops early for a request queued behind it.
    more = local.count_imports(stop_early=_request_waiting)
    settle()
    return more


def _read_slice(local: LocalEngine, opening: CompletionRequest) -> bool:
    more = local.read_more(opening)
    settle()
    return more


def _request_waiting() -> bool:
    return ENGINE.asked


async def _read(local: LocalEngine, opening: CompletionRequest, foreground: Foreground) -> None:
    # Each slice is a job of its own, queued after the requests sent meanwhile, and none is
    # queued while the developer waits for something else (it would take the interpreter).
    while await ENGINE.run(_read_slice, local, opening):
        await foreground.given_way()


async def _reread_closed(server: TactfulServer, index: RepositoryIndex, path: str) -> None:
    await INDEX.run(_reread, index, path)
    await server.services.imports_counting.files_changed()


def _reread(index: RepositoryIndex, path: str) -> None:
    from tactful.analyzers.index import read_source

    index.update(path, read_source(Path(path)))
    settle()


def _set_apart(index: RepositoryIndex, path: str) -> None:
    index.update(path, None)
    settle()


async def _build(server: TactfulServer, index: RepositoryIndex, stop: threading.Event) -> None:
    loop = asyncio.get_running_loop()
    async with progress(server, "tactful: indexing the workspace") as report:

        def step(done: int, total: int) -> None:
            percentage = int(100 * done / total) if total else 100
            loop.call_soon_threadsafe(report, f"{done}/{total} files", percentage)

        await run_blocking(index.build, step, stop.is_set)
    # Millions of small objects in the statistics live as long as the server: keep the
    # cyclic garbage collector from walking them on every full collection (a pause of tens of
    # milliseconds, felt as a slow completion).
    gc.collect()
    gc.freeze()
    logger.info("index ready: %d files", index.file_count)
    # Documents opened before the index was ready import files only known now.
    await server.services.imports_counting.files_changed()

"""The repository index and the local completion engine: built in the background, kept current.

After ``initialized`` the workspace is indexed in a worker thread with ``$/progress`` (the
tokens of each file are cached under the user cache directory, so the next start re-reads only
what changed). Completions work from the first keystroke: until the index is ready the local
engine knows the open document only. Saved documents and ``workspace/didChangeWatchedFiles``
events keep the index current; the server asks the client to watch source files when it can
register that dynamically.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.analyzers.document import Document
from tactful.analyzers.index import RepositoryIndex, read_source
from tactful.server.errors import guard
from tactful.server.executor import run_blocking
from tactful.server.features.inline_completion import engines_of
from tactful.server.progress import progress
from tactful.suggestion.local.engine import LocalEngine

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

INDEX = "completion.index"
_WATCHED = "**/*.{py,pyi,js,mjs,cjs,jsx,ts,mts,cts,tsx,go,rs,java}"


def index_of(server: TactfulServer) -> RepositoryIndex | None:
    found = server.services.get(INDEX)
    return found if isinstance(found, RepositoryIndex) else None


def register(server: TactfulServer) -> None:
    engines = engines_of(server)
    local = LocalEngine()
    engines.register(local)
    stop = threading.Event()

    def initialized() -> None:
        root = server.workspace_root
        if root is None or not Path(root).is_dir():
            return
        index = RepositoryIndex(Path(root))
        server.services[INDEX] = index
        local.index = index
        server.spawn(_build(server, index, stop), name="indexing the workspace")
        server.spawn(_watch_files(server), name="asking the client to watch source files")

    def observe(document: Document) -> None:
        engines.observe(document.path, document.text)

    def closed(document: Document) -> None:
        local.forget(document.uri)

    def shutdown() -> None:
        stop.set()
        local.close()

    server.initialized_listeners.append(initialized)
    server.listeners["open"].append(observe)
    server.listeners["save"].append(observe)
    server.listeners["close"].append(closed)
    server.shutdown_listeners.append(shutdown)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @guard(server, "following file changes")
    async def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        index = index_of(server)
        if index is None:
            return
        for change in params.changes:
            path = server.path_of(change.uri)
            if path is None:
                continue
            if change.type == types.FileChangeType.Deleted:
                index.update(path, None)
                continue
            if any(d.path == path for d in server.documents.values()):
                continue  # the editor's buffer is what counts for an open file
            text = await run_blocking(read_source, Path(path))
            await run_blocking(index.update, path, text)


async def _build(server: TactfulServer, index: RepositoryIndex, stop: threading.Event) -> None:
    loop = asyncio.get_running_loop()
    async with progress(server, "tactful: indexing the workspace") as report:

        def step(done: int, total: int) -> None:
            percentage = int(100 * done / total) if total else 100
            loop.call_soon_threadsafe(report, f"{done}/{total} files", percentage)

        await run_blocking(index.build, step, stop.is_set)
    logger.info("index ready: %d files", index.file_count)


async def _watch_files(server: TactfulServer) -> None:
    workspace = server.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    if watched is None or not watched.dynamic_registration:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=_WATCHED)]
    )
    registration = types.Registration(
        id=f"tactful-watch-{uuid.uuid4()}",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=options,
    )
    try:
        await server.client_register_capability_async(
            types.RegistrationParams(registrations=[registration])
        )
    except Exception:
        logger.debug("the client would not watch files", exc_info=True)

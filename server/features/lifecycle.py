"""Initialize, initialized and shutdown: where the workspace, its settings and trust are read.

The client's ``initializationOptions`` are the top settings layer (see server/settings.py).
``initialize`` must answer fast: nothing heavy is loaded here. ``initialized`` loads the features
that ``initialize`` did not need (``server/features/__init__.py``), and features start their
background work (indexing, coverage) from it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from tactful.server.diagnostics import pull_mode
from tactful.server.features import load_deferred
from tactful.server.settings import flatten

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)


def _root(params: types.InitializeParams) -> Path | None:
    if params.workspace_folders:
        path = to_fs_path(params.workspace_folders[0].uri)
        if path:
            return Path(path)
    if params.root_uri:
        path = to_fs_path(params.root_uri)
        if path:
            return Path(path)
    if params.root_path:
        return Path(params.root_path)
    return None


def register(server: TactfulServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.workspace_root = _root(params)
        options = params.initialization_options
        server.client_options = flatten(options) if isinstance(options, dict) else {}
        server.reload_settings()
        if not pull_mode(server):
            # Capabilities are built after this handler: a client that would pull but cannot
            # be asked to pull again is not offered pull diagnostics, and is pushed to instead.
            server.protocol.fm.features.pop(types.TEXT_DOCUMENT_DIAGNOSTIC, None)

    @server.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        if server.initialized_done:
            # Features start their background work (the feedback store, indexing) once.
            logger.warning("initialized was sent again: ignored")
            return
        server.initialized_done = True
        # The initialize answer is out: the features it did not need load now, before the
        # client sends anything else.
        load_deferred(server)
        for listener in list(server.initialized_listeners):
            server._call_listener(listener)

    @server.feature(types.SHUTDOWN)
    def shutdown(params: None = None) -> None:
        for listener in list(server.shutdown_listeners):
            server._call_listener(listener)
        server.shutdown_listeners.clear()

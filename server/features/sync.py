"""Text document synchronisation: the open documents, their versions and trees.

The client sends incremental changes; each is applied to our ``Document`` and its tree-sitter
tree is edited and re-parsed from the old tree, never from scratch. Features subscribe to
``open``/``change``/``save``/``close`` through ``server.listeners``, and to the changes
themselves (what an edit history follows) through ``server.edit_listeners``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.analyzers.document import Document
from tactful.server.convert import to_changes
from tactful.server.errors import guard

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)


def register(server: TactfulServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guard(server, "opening a document")
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        document = Document(
            item.uri, item.text, item.version, item.language_id, server.path_of(item.uri)
        )
        server.documents[item.uri] = document
        server.emit("open", document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guard(server, "applying an edit")
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = server.documents.get(uri)
        if document is None:
            logger.warning("change for a document that is not open: %s", uri)
            return
        changes = to_changes(list(params.content_changes), document, server.encoding)
        document.apply(changes, params.text_document.version)
        server.emit_edit(document, changes)
        server.emit("change", document)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    @guard(server, "saving a document")
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        document = server.documents.get(params.text_document.uri)
        if document is not None:
            server.emit("save", document)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guard(server, "closing a document")
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        document = server.documents.pop(params.text_document.uri, None)
        if document is not None:
            server.emit("close", document)

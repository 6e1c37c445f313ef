"""Text document synchronisation: the open documents, their versions and trees.

The client sends incremental changes; each is applied to our ``Document`` and its tree-sitter
tree is edited and re-parsed from the old tree, never from scratch. Features subscribe to
``open``/``change``/``save``/``close`` through ``server.listeners``, and to the changes
themselves (what an edit history follows) through ``server.edit_listeners``. ``Document`` is
the one copy of each text (pygls keeps none: server/protocol.py).

A document over ``workspace.maxDocumentMb`` is refused (``server.refuse_document``): it is not
kept, its features hear it closed, the user is told once, and its edits are ignored until its
whole text is replaced by a smaller one. A message too big even to read is refused the same
way by the transport (server/transport.py), from its first bytes.
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
        if len(item.text) > server.max_document_chars:
            server.refuse_document(item.uri, len(item.text))
            return
        server.forget_oversized(item.uri)
        previous = server.documents.get(item.uri)
        if previous is not None:
            # Opened again without a close: the features start over with the new text.
            server.emit("close", previous)
        # Parsed when a feature first asks for its tree (on a worker), not here on the loop.
        document = Document(
            item.uri,
            item.text,
            item.version,
            item.language_id,
            server.path_of(item.uri),
            parse=False,
        )
        server.documents[item.uri] = document
        server.emit("open", document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guard(server, "applying an edit")
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = server.documents.get(uri)
        if document is None:
            if uri in server.oversized:
                _replace_oversized(server, params)
            else:
                logger.warning("change for a document that is not open: %s", uri)
            return
        changes = to_changes(list(params.content_changes), document, server.encoding)
        # A replacement over the limit is refused before the text is taken.
        full = [c for c in changes if c.start is None]
        if full and len(full[-1].text) > server.max_document_chars:
            server.refuse_document(uri, len(full[-1].text))
            return
        document.apply(changes, params.text_document.version)
        if len(document.text) > server.max_document_chars:
            server.refuse_document(uri, len(document.text))
            return
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
        server.forget_oversized(params.text_document.uri)
        document = server.documents.pop(params.text_document.uri, None)
        if document is not None:
            server.emit("close", document)


def _replace_oversized(server: TactfulServer, params: types.DidChangeTextDocumentParams) -> None:
    """A change to a refused document: taken up again when its whole text is replaced by one
    within the limit (edits to a text we never kept cannot be applied)."""
    uri = params.text_document.uri
    changes = list(params.content_changes)
    whole = types.TextDocumentContentChangeWholeDocument
    last_full = max((i for i, c in enumerate(changes) if isinstance(c, whole)), default=None)
    if last_full is None:
        return
    text = changes[last_full].text
    if len(text) > server.max_document_chars:
        server.refuse_document(uri, len(text))
        return
    server.forget_oversized(uri)
    document = Document(uri, text, params.text_document.version, None, server.path_of(uri))
    rest = to_changes(changes[last_full + 1 :], document, server.encoding)
    if rest:
        document.apply(rest, params.text_document.version)
    server.documents[uri] = document
    server.emit("open", document)

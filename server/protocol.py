"""JSON-RPC handling that answers every request.

Boundary: sits between the transport and pygls' dispatch. pygls 2.1.1 raises while decoding a
request whose params do not fit the method's type, and the request is then never answered: the
client waits forever. Here such a request is answered with ``InvalidParams`` naming what was
wrong, a body that is not JSON with ``ParseError``, and a body that is not a JSON-RPC message
with ``InvalidRequest``, as JSON-RPC 2.0 prescribes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from lsprotocol.types import ResponseError, ResponseErrorMessage
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

logger = logging.getLogger(__name__)


@dataclass
class _Unanswerable:
    """A request that could not be decoded, kept so that it can still be answered."""

    id: int | str
    method: str
    error: ResponseError


class TactfulProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data and isinstance(data["id"], int | str):
                detail = _describe(exc)
                error = ResponseError(code=exc.code, message=_shorten(detail))
                return _Unanswerable(data["id"], str(data["method"]), error)
            raise

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Unanswerable):
            logger.warning(
                "answering %s request %s with an error: %s",
                message.method,
                message.id,
                message.error.message,
            )
            self._send_data(ResponseErrorMessage(id=message.id, error=message.error))
            return
        if not hasattr(message, "jsonrpc"):
            self._answer_invalid(message)
            return
        if self._shutdown and getattr(message, "method", None) not in (None, "exit"):
            # pygls drops these silently; LSP says requests after shutdown get an error.
            msg_id = getattr(message, "id", None)
            if msg_id is not None:
                self._send_error(msg_id, JsonRpcInvalidRequest("the server is shutting down"))
            return
        super().handle_message(message)

    # pygls keeps a copy of every open document and applies each change to it by splitting
    # the whole text into lines (a cost that grows with the document at every keystroke). The
    # server keeps its own (``features/sync.py``, ``analyzers/document.py``, which also warns
    # of a change to a document that is not open) and never reads pygls's: open and change go
    # to its handlers alone.

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    def handle_body(self, body: bytes) -> None:
        """Decode one framed body and dispatch it; never raises."""
        try:
            message = json.loads(body, object_hook=self.structure_message)
        except ValueError as exc:
            # A body that is not JSON at all (JSONDecodeError is a ValueError).
            logger.error("received a body that is not JSON: %s", exc)
            self._send_error(None, JsonRpcParseError(f"Parse error: {exc}"))
            return
        except Exception:
            logger.exception("could not decode a message")
            return
        try:
            self.handle_message(message)
        except SystemExit:
            raise
        except Exception:
            logger.exception("could not handle a message")

    def _answer_invalid(self, message: Any) -> None:
        msg_id = message.get("id") if isinstance(message, dict) else None
        logger.error("received something that is not a JSON-RPC 2.0 message: %.200r", message)
        if isinstance(msg_id, int | str) or msg_id is None:
            self._send_error(msg_id, JsonRpcInvalidRequest("Invalid Request: not JSON-RPC 2.0"))

    def _send_error(self, msg_id: int | str | None, exc: JsonRpcException) -> None:
        self._send_data(
            {
                "jsonrpc": "2.0",
                "id": msg_id,
                "error": {"code": exc.code, "message": exc.message},
            }
        )

    def _serialize_message(self, data: Any) -> Any:
        if isinstance(data, dict):
            return data
        return super()._serialize_message(data)


def _describe(exc: JsonRpcException) -> str:
    """What was wrong with the params, in cattrs' path notation (``$.params.position``)."""
    cause = exc.__cause__
    if cause is None:
        return exc.message
    try:
        from cattrs import transform_error

        problems = transform_error(cause, path="$")
    except Exception:
        problems = [str(cause)]
    return f"{exc.message}: " + "; ".join(problems)


def _shorten(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""JSON-RPC handling that answers every request.

Boundary: sits between the transport and pygls' dispatch. pygls 2.1.1 raises while decoding a
request whose params do not fit the method's type, and the request is then never answered: the
client waits forever. Here such a request is answered with ``InvalidParams`` naming what was
wrong, a body that is not JSON with ``ParseError``, and a body that is not a JSON-RPC message
with ``InvalidRequest``, as JSON-RPC 2.0 prescribes.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from lsprotocol.types import ResponseError, ResponseErrorMessage
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from tactful.server.transport import Oversized

logger = logging.getLogger(__name__)

# The messages typing sends: a change, and the requests an editor makes as the developer types.
# While they come (and until those requests are answered) background work waits
# (``tactful.feedback.pause``).
TYPING_METHODS = frozenset(
    {
        types.TEXT_DOCUMENT_DID_CHANGE,
        types.TEXT_DOCUMENT_INLINE_COMPLETION,
        types.TEXT_DOCUMENT_COMPLETION,
        "tactful/nextEdits",
    }
)
# The requests the index and the reading of opened documents give way to while they are
# answered (``Foreground.give_way``): each takes the interpreter for tens of milliseconds in a long
# file, and the developer waits for it.
FOREGROUND_METHODS = frozenset({"tactful/nextEdits"})


@dataclass
class _Unanswerable:
    """A request that could not be decoded, kept so that it can still be answered.

    ``id`` is echoed as sent when it is a number or a string (JSON-RPC allows fractions), and
    is None when it is not a valid id at all."""

    id: int | str | float | None
    method: str
    error: ResponseError


@dataclass
class _NotificationWithId:
    """A notification method sent as a request (with an id): handled as the notification it
    names, and answered with ``null`` so the sender does not wait."""

    id: int | str
    notification: Any


def _is_notification(message_type: Any) -> bool:
    fields = getattr(message_type, "__attrs_attrs__", None)
    return fields is not None and not any(field.name == "id" for field in fields)


class TactfulProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        method = data.get("method")
        if "jsonrpc" in data and "id" in data and method is not None:
            msg_id = data["id"]
            if isinstance(msg_id, bool) or not isinstance(msg_id, int | str):
                # JSON-RPC ids are strings or integers (a fraction "SHOULD NOT" be sent):
                # anything else is answered as an invalid request, echoing a number.
                echo = msg_id if isinstance(msg_id, float) and math.isfinite(msg_id) else None
                error = ResponseError(
                    code=JsonRpcInvalidRequest.CODE,
                    message=f"Invalid Request: the id {_shorten(repr(msg_id), 80)} is not an "
                    "integer or a string",
                )
                return _Unanswerable(echo, str(method), error)
            if isinstance(method, str) and _is_notification(self.get_message_type(method)):
                rest = {key: value for key, value in data.items() if key != "id"}
                try:
                    notification = super().structure_message(rest)
                except JsonRpcException as exc:
                    error = ResponseError(code=exc.code, message=_shorten(_describe(exc)))
                    return _Unanswerable(msg_id, method, error)
                return _NotificationWithId(msg_id, notification)
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
                _shorten(message.method, 80),
                message.id,
                message.error.message,
            )
            self._send_error_response(message.id, message.error)
            return
        if isinstance(message, _NotificationWithId):
            logger.warning(
                "%s is a notification but was sent with id %s: handled, answered with null",
                message.notification.method,
                message.id,
            )
            try:
                self.handle_message(message.notification)
            except Exception:
                logger.exception("could not handle %s", message.notification.method)
            if not self._shutdown:
                self._send_data({"jsonrpc": "2.0", "id": message.id, "result": None})
            return
        if not hasattr(message, "jsonrpc"):
            self._answer_invalid(message)
            return
        if self._shutdown and getattr(message, "method", None) is None:
            # The editor's answer to something asked before the shutdown (a progress token the
            # indexing wanted, say): pygls warns of any message after shutdown, but an answer
            # that crossed the shutdown request on the wire is routine. It still settles what
            # waits for it, unless the shutdown already cancelled that.
            msg_id = message.id
            logger.debug("answer %s received after shutdown", msg_id)
            future = self._request_futures.get(msg_id)
            if future is not None and not future.done():
                self._handle_response(
                    msg_id, getattr(message, "result", None), getattr(message, "error", None)
                )
            return
        if self._shutdown and getattr(message, "method", None) != "exit":
            # pygls drops these silently; LSP says requests after shutdown get an error.
            msg_id = getattr(message, "id", None)
            if msg_id is not None:
                self._send_error(msg_id, JsonRpcInvalidRequest("the server is shutting down"))
            return
        if getattr(message, "method", None) in TYPING_METHODS:
            self._handle_typing(message)
            return
        super().handle_message(message)

    def _handle_typing(self, message: Any) -> None:
        """Handle a message typing sent, telling the server's ``Typing``: a request counts
        as typing until it is answered."""
        services = getattr(self._server, "services", None)
        if services is None:
            super().handle_message(message)
            return
        typing = services.typing
        msg_id = getattr(message, "id", None)
        if msg_id is None:
            typing.heard()
            super().handle_message(message)
            return
        foreground = message.method in FOREGROUND_METHODS
        typing.began(foreground)
        try:
            super().handle_message(message)
        finally:
            future = self._request_futures.get(msg_id)
            if future is None or future.done():
                typing.ended(foreground)
            else:
                future.add_done_callback(lambda _: typing.ended(foreground))

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        # Cancelling a request that has already been answered is routine (an editor cancels
        # whatever it stopped waiting for, and the answer may be on its way): pygls logs each
        # one as a warning, which would fill the log and show up in editors that surface it.
        if msg_id not in self._request_futures:
            logger.debug("cancel of request %s, already answered", msg_id)
            return
        super()._handle_cancel_notification(msg_id)

    # pygls caches its own lookup with lru_cache, a wrapper type no plain method matches; this
    # one is not cached, since deferred features add their request types as they load.
    def get_message_type(self, method: str) -> Any:  # type: ignore[override]
        # Requests of tactful's own methods are typed like the standard ones (a feature names
        # its request class in ``server.message_types``), so their params are checked the same
        # way and a request whose params do not fit is answered with ``InvalidParams``.
        own = getattr(self._server, "message_types", None)
        if own and method in own:
            return own[method]
        return super().get_message_type(method)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        # pygls builds the capabilities of the methods it knows; what only tactful's clients
        # read (``experimental``) is added here, from what the features declared.
        result = yield from super().lsp_initialize(params)
        experimental = getattr(self._server, "experimental", None)
        if experimental and isinstance(result, types.InitializeResult):
            current = result.capabilities.experimental
            merged = {**current, **experimental} if isinstance(current, dict) else experimental
            result.capabilities.experimental = dict(merged)
        return result

    # The server's own documents (server/features/sync.py) are the one copy of each text:
    # pygls' workspace would keep a second and apply every edit to it as well (and raise for a
    # change to a document that is not open).

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args=args, kwargs=kwargs)
        answers = isinstance(callback, functools.partial) and (
            callback.func == self._send_handler_result
        )
        future = self._request_futures.get(msg_id)
        if future is not None and not answers:
            # pygls 2.1.1 keeps the future of every notification handled by a coroutine or a
            # generator (didOpen, didChange, didClose, and the steps of its generators) under
            # a fresh id and never lets it go: about 3 KB per keystroke, for good. A request's
            # future is let go when it is answered; these are let go when they are done.
            future.add_done_callback(lambda _: self._request_futures.pop(msg_id, None))

    def handle_oversized(self, frame: Oversized) -> None:
        """A message too big to read (transport.Oversized): answered if it is a request, and
        the document it opens or replaces is refused, from the first bytes alone."""
        head = frame.head.decode("utf-8", "replace")
        method = _field(head, "method")
        uri = _field(head, "uri")
        msg_id = _request_id(head)
        logger.warning(
            "a %s message of %d bytes is over the limit; dropped it unread", method, frame.length
        )
        if msg_id is not None:
            self._send_error_response(
                msg_id,
                ResponseError(
                    code=JsonRpcInvalidRequest.CODE,
                    message=f"the message is {frame.length / 1e6:.1f} MB, more than tactful reads",
                ),
            )
        if method in (types.TEXT_DOCUMENT_DID_OPEN, types.TEXT_DOCUMENT_DID_CHANGE) and uri:
            refuse = getattr(self._server, "refuse_document", None)
            if refuse is not None:
                refuse(uri, frame.length)

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

    def _send_error_response(self, msg_id: int | str | float | None, error: ResponseError) -> None:
        if isinstance(msg_id, float) or msg_id is None:
            # lsprotocol's response types take integer or string ids only.
            self._send_data(
                {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "error": {"code": error.code, "message": error.message},
                }
            )
        else:
            self._send_data(ResponseErrorMessage(id=msg_id, error=error))

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


_STRING = r'"((?:[^"\\]|\\.){0,2000})"'
_COLON = re.compile(r"\s*:\s*")
_ID_VALUE = re.compile(r'-?\d+(?![.eE\d])|"(?:[^"\\]|\\.){0,2000}"')


def _field(head: str, name: str) -> str | None:
    """The first string value of ``name`` in the start of a JSON text."""
    match = re.search(rf'"{name}"\s*:\s*' + _STRING, head)
    if match is None:
        return None
    try:
        value = json.loads(f'"{match.group(1)}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _request_id(head: str) -> int | str | None:
    """The ``id`` of the top-level object whose start is ``head``, if it comes before what
    does not fit in the head."""
    depth = 0
    index = 0
    while index < len(head):
        char = head[index]
        if char == '"':
            end = _string_end(head, index)
            if end is None:
                return None  # a string that goes on past the head
            colon = _COLON.match(head, end)
            if colon is not None and depth == 1 and head[index:end] == '"id"':
                value = _ID_VALUE.match(head, colon.end())
                return json.loads(value.group(0)) if value is not None else None
            index = end
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        index += 1
    return None


def _string_end(text: str, start: int) -> int | None:
    """Where the JSON string opening at ``start`` ends (after its closing quote), or None.

    Quotes are found with ``find``, so a long string costs a few steps, not one per
    character (an expression alternating per character took 10 ms over the 64 KiB head of a
    big message, on the event loop)."""
    position = start + 1
    while True:
        quote = text.find('"', position)
        if quote < 0:
            return None
        backslashes = 0
        while text[quote - 1 - backslashes] == "\\" and quote - 1 - backslashes > start:
            backslashes += 1
        if backslashes % 2 == 0:
            return quote + 1
        position = quote + 1


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

"""Suggestions that were shown, by id, and the hooks that judge and learn from them.

Boundary: in-memory bookkeeping between the server (which shows suggestions and receives the
editor's accept and reject commands) and whoever judges or records them. Nothing here blocks or
raises into the server: a failing hook is logged and the others still run.

Extension points, all plain attributes:

* ``gate`` — whether to ask an engine at all for a request, before anything is generated: a
  callable ``(request) -> bool`` (True: ask). The default always asks; the acceptance model's
  pre-generation stage replaces it.
* ``filter`` — THE single place where a suggestion is kept or hidden before it is shown: a
  callable ``(request, suggestion) -> bool`` (True: show it). The default keeps everything; the
  acceptance model replaces it.
* ``on_shown`` / ``on_accepted`` / ``on_rejected`` — lists of listeners called with the
  ``ShownSuggestion`` (and the accepted length, or whether the rejection was explicit).
* ``on_unanswered`` — listeners called with a request the gate let through that ends with
  nothing to show (the engines had nothing, or everything was dropped or hidden).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tactful.suggestion.types import CompletionRequest, Suggestion

logger = logging.getLogger(__name__)

Filter = Callable[[CompletionRequest, Suggestion], bool]
Gate = Callable[[CompletionRequest], bool]


def keep_all(request: CompletionRequest, suggestion: Suggestion) -> bool:
    return True


def ask_always(request: CompletionRequest) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class ShownSuggestion:
    """A suggestion as the editor got it: inserting ``text`` at code-point ``offset`` of
    version ``version`` of ``uri`` (after replacing ``suggestion.replace_prefix`` characters)."""

    id: str
    request: CompletionRequest
    suggestion: Suggestion
    offset: int
    shown_at: float

    @property
    def text(self) -> str:
        return self.suggestion.text


class SuggestionRegistry:
    """The suggestions shown recently (a bounded memory), with their hooks."""

    def __init__(self, limit: int = 1024) -> None:
        self.filter: Filter = keep_all
        self.gate: Gate = ask_always
        self.on_shown: list[Callable[[ShownSuggestion], object]] = []
        self.on_accepted: list[Callable[[ShownSuggestion, int | None], object]] = []
        self.on_rejected: list[Callable[[ShownSuggestion, bool], object]] = []
        self.on_unanswered: list[Callable[[CompletionRequest], object]] = []
        self._shown: OrderedDict[str, ShownSuggestion] = OrderedDict()
        self._limit = limit

    def keep(self, request: CompletionRequest, suggestion: Suggestion) -> bool:
        """Whether ``filter`` lets the suggestion be shown (a failing filter keeps it)."""
        try:
            return bool(self.filter(request, suggestion))
        except Exception:
            logger.exception("the suggestion filter failed; showing the suggestion")
            return True

    def ask(self, request: CompletionRequest) -> bool:
        """Whether ``gate`` lets an engine be asked (a failing gate asks)."""
        try:
            return bool(self.gate(request))
        except Exception:
            logger.exception("the suggestion gate failed; asking the engines")
            return True

    def show(self, request: CompletionRequest, suggestion: Suggestion) -> ShownSuggestion:
        """Give a suggestion its id, remember it, and tell the ``on_shown`` listeners."""
        lines = request.text.split("\n")
        offset = sum(len(line) + 1 for line in lines[: request.position.line])
        offset += request.position.column - suggestion.replace_prefix
        shown = ShownSuggestion(uuid.uuid4().hex[:16], request, suggestion, offset, time.time())
        # Kept without the document's text and the judges' notes: only the listeners read them,
        # now; a long session would otherwise keep a copy of the document per suggestion.
        kept = dataclasses.replace(
            shown,
            request=dataclasses.replace(request, text=""),
            suggestion=dataclasses.replace(suggestion, meta={}),
        )
        self._shown[kept.id] = kept
        while len(self._shown) > self._limit:
            self._shown.popitem(last=False)
        self._notify(self.on_shown, shown)
        return kept

    def unanswered(self, request: CompletionRequest) -> None:
        """A request the gate let through ends with nothing to show."""
        self._notify(self.on_unanswered, request)

    def get(self, suggestion_id: str) -> ShownSuggestion | None:
        return self._shown.get(suggestion_id)

    def accepted(self, suggestion_id: str, length: int | None = None) -> bool:
        """The editor accepted a suggestion (``length`` characters of it; None: all)."""
        shown = self._shown.get(suggestion_id)
        if shown is None:
            return False
        self._notify(self.on_accepted, shown, length)
        return True

    def rejected(self, suggestion_id: str, explicit: bool = True) -> bool:
        """The editor dismissed a suggestion (``explicit``), or the server inferred it."""
        shown = self._shown.get(suggestion_id)
        if shown is None:
            return False
        self._notify(self.on_rejected, shown, explicit)
        return True

    @staticmethod
    def _notify(listeners: list[Callable[..., object]], *args: object) -> None:
        for listener in list(listeners):
            try:
                listener(*args)
            except Exception:
                logger.exception("suggestion listener %r failed", listener)

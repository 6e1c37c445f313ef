"""The suggestions shown recently, by id: what the editor's accept and reject commands name.

Boundary: in-memory bookkeeping for the server, which shows suggestions (the last step of a
completion turn, ``tactful.feedback.completion``) and later receives the editor's
``tactful.acceptSuggestion [id]`` and ``tactful.rejectSuggestion [id]``. Who learns from those
is called by the server itself; nothing is hooked in here.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass

from tactful.analyzers.text import Point
from tactful.suggestion.types import CompletionRequest, Suggestion


@dataclass(frozen=True, slots=True)
class ShownSuggestion:
    """A suggestion as the editor got it: inserting ``suggestion.text`` at ``position`` of
    version ``version`` of ``uri`` (code-point ``offset`` of the document, after replacing
    ``suggestion.replace_prefix`` characters).

    It keeps where the request was made, not the request: a registry of recent suggestions
    holding each request's document would hold thousands of copies of it."""

    id: str
    uri: str
    version: int
    position: Point
    suggestion: Suggestion
    offset: int


class SuggestionRegistry:
    """The suggestions shown recently, by id: the last ``limit`` of them (an editor runs the
    accept command for one within seconds of showing it)."""

    def __init__(self, limit: int = 512) -> None:
        self._shown: OrderedDict[str, ShownSuggestion] = OrderedDict()
        self._limit = limit

    def show(
        self, request: CompletionRequest, suggestion: Suggestion, cursor: int | None = None
    ) -> ShownSuggestion:
        """Give a suggestion its id and remember it (``cursor``: the code-point offset of the
        request's position, when the caller knows it)."""
        if cursor is None:
            lines = request.text.split("\n")
            cursor = sum(len(line) + 1 for line in lines[: request.position.line])
            cursor += request.position.column
        offset = cursor - suggestion.replace_prefix
        shown = ShownSuggestion(
            uuid.uuid4().hex[:16],
            request.uri,
            request.version,
            request.position,
            suggestion,
            offset,
        )
        self._shown[shown.id] = shown
        while len(self._shown) > self._limit:
            self._shown.popitem(last=False)
        return shown

    def get(self, suggestion_id: str) -> ShownSuggestion | None:
        return self._shown.get(suggestion_id)

"""What became of a shown suggestion the editor did not report on: inferred rejection.

Boundary: plain Python over document text; the server feeds it what it sees (a suggestion shown
at a position, later versions of the document) and records what it concludes. It never raises on
odd input and never holds more than a bounded number of suggestions.

The rule (DESIGN §2): a shown suggestion that was not accepted by the time the document moves on
in a way that disagrees with it is rejected. Typing along the suggestion keeps it pending; typing
all of it by hand is not a rejection (it is ``typed``); text that departs from it, deleting back
over the place it was shown, or editing elsewhere while it was on screen, is a rejection.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["pending", "typed", "rejected", "superseded"]

# How much text around the cursor identifies the place a suggestion was shown.
_BEFORE = 64
_AFTER = 48
# Search this far from the old offset for the place when lines above it changed.
_WINDOW = 4096


@dataclass(frozen=True, slots=True)
class Shown:
    """A suggestion on screen: ``text`` would be inserted at ``offset`` (code points) of
    ``uri``; ``before`` and ``after`` are the document's text around that offset then."""

    item_id: str
    uri: str
    version: int
    offset: int
    text: str
    before: str
    after: str

    @classmethod
    def at(
        cls, item_id: str, uri: str, version: int, document: str, offset: int, text: str
    ) -> Shown:
        offset = max(0, min(offset, len(document)))
        return cls(
            item_id,
            uri,
            version,
            offset,
            text,
            document[max(0, offset - _BEFORE) : offset],
            document[offset : offset + _AFTER],
        )


@dataclass(frozen=True, slots=True)
class Resolution:
    shown: Shown
    outcome: Outcome
    typed: str = ""  # what the developer typed at the place, as far as it could be told


def judge(shown: Shown, document: str) -> Resolution:
    """Compare a later text of the document with a suggestion shown in an earlier one."""
    anchor = _find_anchor(shown, document)
    if anchor is None:
        return Resolution(shown, "rejected")
    if shown.after:
        end = document.find(shown.after, anchor, anchor + len(shown.text) + _WINDOW)
        typed = document[anchor:end] if end >= 0 else None
    else:
        typed = document[anchor:]
    if typed is None:
        # The text after the cursor changed too: only the suggestion itself at the place counts.
        if document.startswith(shown.text, anchor):
            return Resolution(shown, "typed", shown.text)
        return Resolution(shown, "rejected", document[anchor : anchor + len(shown.text)])
    if typed.startswith(shown.text):
        return Resolution(shown, "typed", typed[: len(shown.text)])
    if typed and shown.text.startswith(typed):
        return Resolution(shown, "pending", typed)
    if not typed:
        # Untouched at the place; whether the rest of the document moved is the caller's call.
        return Resolution(shown, "pending", "")
    return Resolution(shown, "rejected", typed)


def _find_anchor(shown: Shown, document: str) -> int | None:
    before = shown.before
    if document[max(0, shown.offset - len(before)) : shown.offset] == before:
        return shown.offset
    if not before:
        return shown.offset if shown.offset <= len(document) else None
    low = max(0, shown.offset - _WINDOW)
    found = document.find(before, low, shown.offset + _WINDOW)
    if found < 0:
        return None
    # Prefer the occurrence nearest the old place (a repeated line above must not fool us).
    best = found
    while found >= 0:
        if abs(found + len(before) - shown.offset) < abs(best + len(before) - shown.offset):
            best = found
        found = document.find(before, found + 1, shown.offset + _WINDOW)
    return best + len(before)


class Outcomes:
    """The suggestions on screen per document, and what became of them.

    ``shown`` when the editor displays one; ``changed`` with each new text of a document returns
    the suggestions it resolved. ``accepted``/``rejected`` (from the editor's commands) take a
    suggestion out, and find it even shortly after it was resolved: an editor inserts the
    accepted text before it runs the accept command.
    """

    def __init__(self, max_pending: int = 64, max_recent: int = 512) -> None:
        self._pending: OrderedDict[str, Shown] = OrderedDict()
        self._recent: OrderedDict[str, Resolution] = OrderedDict()
        self._max_pending = max_pending
        self._max_recent = max_recent

    def shown(self, shown: Shown, document: str | None = None) -> list[Resolution]:
        """A new suggestion on screen replaces the older ones of its document.

        An older one the developer was typing along is ``superseded`` (no verdict); one the
        document already disagrees with is rejected.
        """
        resolved: list[Resolution] = []
        for old in [s for s in self._pending.values() if s.uri == shown.uri]:
            verdict = judge(old, document) if document is not None else Resolution(old, "pending")
            if verdict.outcome == "pending":
                verdict = Resolution(old, "superseded", verdict.typed)
            resolved.append(self._resolve(verdict))
        self._pending[shown.item_id] = shown
        while len(self._pending) > self._max_pending:
            _, oldest = self._pending.popitem(last=False)
            self._remember(Resolution(oldest, "superseded"))
        return resolved

    def changed(self, uri: str, version: int, document: str) -> list[Resolution]:
        """A new text of ``uri``: resolve the suggestions it decides."""
        resolved = []
        for shown in [s for s in self._pending.values() if s.uri == uri]:
            if version <= shown.version:
                continue
            verdict = judge(shown, document)
            if verdict.outcome == "pending" and not verdict.typed:
                # Nothing typed at the place, yet the document changed: the developer went on
                # elsewhere while the suggestion was on screen.
                verdict = Resolution(shown, "rejected")
            if verdict.outcome != "pending":
                resolved.append(self._resolve(verdict))
        return resolved

    def closed(self, uri: str) -> list[Resolution]:
        """The document was closed with suggestions still on screen: not taken."""
        return [
            self._resolve(Resolution(s, "rejected"))
            for s in list(self._pending.values())
            if s.uri == uri
        ]

    def take(self, item_id: str) -> Resolution | None:
        """Remove a suggestion the editor reported on (accepted or rejected), with what was
        known of it: pending, or how it had been resolved."""
        shown = self._pending.pop(item_id, None)
        if shown is not None:
            self._recent.pop(item_id, None)
            return Resolution(shown, "pending")
        return self._recent.pop(item_id, None)

    def pending(self, uri: str | None = None) -> list[Shown]:
        return [s for s in self._pending.values() if uri is None or s.uri == uri]

    def _resolve(self, resolution: Resolution) -> Resolution:
        self._pending.pop(resolution.shown.item_id, None)
        self._remember(resolution)
        return resolution

    def _remember(self, resolution: Resolution) -> None:
        self._recent[resolution.shown.item_id] = resolution
        while len(self._recent) > self._max_recent:
            self._recent.popitem(last=False)

"""What the feedback store records: one frozen ``Event`` per thing a developer saw or did.

Boundary: plain data shared by the server (which observes), the store (which keeps) and the
acceptance models (which learn). An event carries the model's hashed features and a hash of the
code it is about, never the code itself, unless the user opted in (``feedback.storeCode``); the
store enforces that, so callers may always pass the text.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Inline and list completions.
SUGGESTION_SHOWN = "suggestion.shown"
SUGGESTION_ACCEPTED = "suggestion.accepted"  # length: characters taken (partial accepts too)
SUGGESTION_REJECTED = "suggestion.rejected"  # explicit: sent by the editor; otherwise inferred
SUGGESTION_TYPED = "suggestion.typed"  # typed by hand: neither an accept nor a rejection
SUGGESTION_HIDDEN = "suggestion.hidden"  # generated, then withheld by the filter
# A hidden suggestion the developer then typed exactly, by hand (acceptance/hidden.py), with
# the item id of its ``suggestion.hidden`` event (so of its features); detail: {"keystrokes":
# what typing it cost, less the one keystroke accepting costs}.
SUGGESTION_HIDDEN_TYPED = "suggestion.hidden_typed"
REQUEST_SKIPPED = "request.skipped"  # the gate decided not to ask an engine at all
# Review comments and quality fixes.
COMMENT_SHOWN = "comment.shown"
COMMENT_DISMISSED = "comment.dismissed"
COMMENT_RESOLVED = "comment.resolved"  # the code it pointed at changed: the comment was used
COMMENT_HIDDEN = "comment.hidden"
FIX_OFFERED = "fix.offered"
FIX_APPLIED = "fix.applied"  # explicit: the developer picked it; otherwise part of a fix-all
# Offered, never applied, and its finding went away by other means or the document was closed
# with it still there: the developer did not want this fix.
FIX_IGNORED = "fix.ignored"
FIX_HIDDEN = "fix.hidden"
VALIDATION_VERDICT = "validation.verdict"  # detail: {"verdict": "passed", "tests": 14, ...}
# Next edits (``tactful/nextEdits``): detail says where each came from ({"source": "repeat"}).
NEXT_EDIT_SHOWN = "next_edit.shown"
NEXT_EDIT_ACCEPTED = "next_edit.accepted"
NEXT_EDIT_REJECTED = "next_edit.rejected"  # explicit: sent by the editor; otherwise inferred
NEXT_EDIT_HIDDEN = "next_edit.hidden"  # proposed and checked, withheld by the item model

KINDS = frozenset(
    {
        SUGGESTION_SHOWN,
        SUGGESTION_ACCEPTED,
        SUGGESTION_REJECTED,
        SUGGESTION_TYPED,
        SUGGESTION_HIDDEN,
        SUGGESTION_HIDDEN_TYPED,
        REQUEST_SKIPPED,
        COMMENT_SHOWN,
        COMMENT_DISMISSED,
        COMMENT_RESOLVED,
        COMMENT_HIDDEN,
        FIX_OFFERED,
        FIX_APPLIED,
        FIX_IGNORED,
        FIX_HIDDEN,
        VALIDATION_VERDICT,
        NEXT_EDIT_SHOWN,
        NEXT_EDIT_ACCEPTED,
        NEXT_EDIT_REJECTED,
        NEXT_EDIT_HIDDEN,
    }
)


def code_hash(text: str) -> str:
    """A short, stable fingerprint of a piece of code (what the store keeps instead of it)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Event:
    """One observation.

    ``item_id`` names the suggestion, comment or fix; ``length`` is the suggestion's length when
    shown and the characters taken when accepted; ``explored`` marks an item shown only because
    ``filter.explore`` kept it (the learner weighs those to stay unbiased); ``features`` are the
    acceptance model's hashed ``(index, value)`` pairs (and ``context`` the gate's, for a
    suggestion judged at a moment); ``code`` is dropped by the store unless the user opted in,
    ``code_hash`` is always kept. ``uid`` names the event everywhere it goes (the team store keeps
    each uid once, so shipping an event again is harmless); the store gives one to an event
    recorded without it.
    """

    kind: str
    item_id: str = ""
    language: str = ""
    workspace: str = ""
    length: int = 0
    explicit: bool = False
    explored: bool = False
    probability: float | None = None
    # The acceptance model's vector as decided (serialised on the store's writer thread), or
    # the pairs read back from the store.
    features: Iterable[tuple[int, float]] = ()
    code_hash: str = ""
    code: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    context: Iterable[tuple[int, float]] = ()
    uid: str = ""
    # Row id in the store; 0 for an event not read back from it.
    id: int = 0


def new_uid() -> str:
    """A fresh event id: 32 hex digits, random (no clock, no machine in it)."""
    return uuid.uuid4().hex

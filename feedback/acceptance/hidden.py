"""What hiding cost: suggestions the filter hid that the developer then typed by hand.

Boundary: text arithmetic over the moments a completion is asked for; no I/O.

A hidden suggestion is followed from the moment it was offered. While the developer types along
it, it stays open; when the text typed since then contains all of it, showing it would have been
accepted (as the replay and an editor's Tab do: the text after the cursor starts with it), and
what the developer typed by hand in between is the cost of having hidden it, less the keystroke
accepting would have taken. Typing that leaves it (another word, a deletion, another line or
document) closes it at no cost: a suggestion whose first characters agree with the code is not
for that a right one. Each keystroke typed by hand is counted once, for the earliest hidden
suggestion it completed; what an accepted suggestion inserted is not typed by hand.

A hidden suggestion may carry a ``key`` (the feedback loop gives it the item id of its
``suggestion.hidden`` event), returned with it when it is found typed: what the model learns
from — that suggestion's features — is then linked to the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from tactful.suggestion.keystrokes import keystrokes

# Hidden suggestions followed at once (the oldest are let go), and moments one stays open.
OPEN_MAX = 32
OPEN_MOMENTS = 400


class Typed(NamedTuple):
    """A hidden suggestion found typed by hand: the probability the filter gave it, the
    keystrokes typed for it less the one an accept would have cost, and its ``key``."""

    probability: float
    keystrokes: int
    key: str = ""


@dataclass(slots=True)
class _Open:
    """A hidden suggestion ``text``, offered at ``moment`` at the end of a line's prefix; what
    was typed since on earlier lines is in ``done``, and ``prefix`` is where typing on
    ``line`` began."""

    document: str
    line: int
    prefix: str
    text: str
    probability: float
    moment: int
    key: str = ""
    done: str = ""

    def typed(
        self, document: str, line_number: int, line_prefix: str, previous_line: str
    ) -> str | None:
        """What was typed since it was offered, or None if the cursor left its path."""
        if document != self.document:
            return None
        if line_number == self.line and line_prefix.startswith(self.prefix):
            return self.done + line_prefix[len(self.prefix) :]
        if line_number == self.line + 1 and previous_line.startswith(self.prefix):
            self.done += previous_line[len(self.prefix) :] + "\n"
            self.line, self.prefix = line_number, ""
            return self.done + line_prefix
        return None


class HiddenLedger:
    """Follows hidden suggestions from moment to moment; ``moment`` returns those found, at
    this moment, to have been typed by hand, and what each cost."""

    def __init__(self) -> None:
        self._moment = 0
        self._where: tuple[str, int, str] | None = None
        # Keystrokes typed by hand just before each recent moment, not yet counted as a cost.
        self._hand: dict[int, int] = {}
        self._open: list[_Open] = []
        self._took = False

    def took(self) -> None:
        """The developer accepted a shown suggestion since the last moment."""
        self._took = True

    def hid(self, text: str, probability: float, key: str = "") -> None:
        """The filter hid ``text``, judged at ``probability``, at the current moment."""
        if self._where is None or not text:
            return
        document, line, prefix = self._where
        self._open.append(_Open(document, line, prefix, text, probability, self._moment, key))
        if len(self._open) > OPEN_MAX:
            del self._open[0]

    def moment(
        self, document: str, line_number: int, line_prefix: str, previous_line: str = ""
    ) -> list[Typed]:
        """A new moment at the end of ``line_prefix``: the hidden suggestions found now to have
        been typed by hand."""
        self._moment += 1
        typed = self._since_last(document, line_number, line_prefix, previous_line)
        if typed and not self._took:
            self._hand[self._moment] = keystrokes(typed)
        self._took = False
        self._where = (document, line_number, line_prefix)
        found: list[Typed] = []
        still: list[_Open] = []
        for hidden in self._open:
            along = hidden.typed(document, line_number, line_prefix, previous_line)
            if along is None or self._moment - hidden.moment > OPEN_MOMENTS:
                continue
            if along.startswith(hidden.text):
                found.append(Typed(hidden.probability, self._claim(hidden.moment), hidden.key))
            elif hidden.text.startswith(along):
                still.append(hidden)
        self._open = still
        oldest = min((hidden.moment for hidden in still), default=self._moment)
        for moment in [m for m in self._hand if m <= oldest]:
            del self._hand[moment]
        return found

    def _since_last(
        self, document: str, line_number: int, line_prefix: str, previous_line: str
    ) -> str:
        if self._where is None:
            return ""
        last_document, last_line, last_prefix = self._where
        if document != last_document:
            return ""
        if line_number == last_line and line_prefix.startswith(last_prefix):
            return line_prefix[len(last_prefix) :]
        if line_number == last_line + 1 and previous_line.startswith(last_prefix):
            return previous_line[len(last_prefix) :] + "\n" + line_prefix
        return ""

    def _claim(self, since: int) -> int:
        """The keystrokes typed by hand after moment ``since``, counted now (and not again),
        less the one an accept would have cost."""
        moments = [m for m in self._hand if m > since]
        typed = sum(self._hand.pop(m) for m in moments)
        return max(0, typed - 1)

"""Whether the developer is typing: background work that competes with the requests typing
makes waits for a pause, and stops at its next step when typing resumes.

Boundary: plain Python on the event loop's thread. The server tells ``Typing`` what it heard
(``heard``: a document changed; ``began``/``ended``: a completion or next-edit request came and
was answered); the pipelines ask it (``pause``, ``interruptible``). Nothing here reads a clock
other than ``time.monotonic`` or touches a thread other than through ``threading.Event``.

Why: a request is answered on the event loop and the engines' worker threads, and the fixes
judged for ruff's findings (ruff's screen, libcst recipes over the whole document), the review
rules and the like are pure Python on other worker threads: while they run, a request waits
for the interpreter lock behind them (in a 5,000-line file, most of the server's CPU during a
replay of typing went to judging fixes). Work that waits for ``pause`` runs when the developer
stops, and one step of it that ``interruptible`` watches is abandoned (to be done again after
the next pause) as soon as the developer types again.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Iterator

# Background work waits until nothing was typed or asked for for this long (next edits are
# prepared after a pause of 0.3 s, lints after 0.25 s: those come first).
PAUSE_S = 0.5
# A request still unanswered this long after the last thing heard (a slow model, a request
# whose answer was lost) no longer holds background work back.
PENDING_MAX_S = 10.0


class Typing:
    """When the developer last typed, and how many of the requests typing makes are being
    answered; ``pause`` returns once both have been quiet for ``pause_s``. A ``Typing`` that
    never hears anything never makes anyone wait."""

    def __init__(self, pause_s: float = PAUSE_S, pending_max_s: float = PENDING_MAX_S) -> None:
        self.pause_s = pause_s
        self.pending_max_s = pending_max_s
        self._last = -math.inf
        self._pending = 0
        self._interrupts: set[threading.Event] = set()
        # How many times work waited for a pause, and how many steps were interrupted.
        self.waited = 0
        self.interrupted = 0

    @property
    def typing(self) -> bool:
        """Whether typing is going on now (a request being answered, or a change or request
        heard less than ``pause_s`` ago)."""
        quiet = time.monotonic() - self._last
        return quiet < self.pause_s or (self._pending > 0 and quiet < self.pending_max_s)

    def heard(self) -> None:
        """The developer typed (a document changed, a request came): every step watched by
        ``interruptible`` is told to stop."""
        self._last = time.monotonic()
        for event in self._interrupts:
            if not event.is_set():
                event.set()
                self.interrupted += 1

    def began(self) -> None:
        """A request typing makes came; ``ended`` follows once it is answered."""
        self._pending += 1
        self.heard()

    def ended(self) -> None:
        """A request ``began`` announced was answered (or dropped)."""
        self._pending = max(0, self._pending - 1)
        self._last = time.monotonic()

    async def pause(self) -> None:
        """Return once no request is being answered and nothing was heard for ``pause_s``
        (a request unanswered for ``pending_max_s`` no longer counts)."""
        waited = False
        while True:
            if not self.typing:
                return
            quiet = time.monotonic() - self._last
            wait = max(0.01, self.pause_s if self._pending else self.pause_s - quiet)
            if not waited:
                waited = True
                self.waited += 1
            await asyncio.sleep(wait)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[threading.Event]:
        """An event set when typing resumes while the block runs: hand it to blocking work as
        its ``cancelled`` and do the work again after the next pause if it was set."""
        event = threading.Event()
        if self.typing:
            event.set()
        self._interrupts.add(event)
        try:
            yield event
        finally:
            self._interrupts.discard(event)

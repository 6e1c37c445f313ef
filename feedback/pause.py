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

Some work cannot wait for a pause: the index must follow the files opened, closed and changed
on disk, and the local engine must read an opened document, while typing goes on. It gives way
instead (``Foreground.give_way``) to what the developer is waiting for: between two of its
steps it waits while messages from the editor are read and not yet handled (a burst of
changes followed by a request: each change handled on the event loop waits for the
interpreter behind the work of every other thread), and while a request that takes the
interpreter for tens of milliseconds is answered (``tactful/nextEdits``;
``began(foreground=True)``). Completions are not such requests: they are answered in
milliseconds and asked for at every keystroke, so work giving way to them would hardly run
while the developer types.
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
# Work that gives way waits this long at most per step (a request whose tests run for seconds
# in a sandbox does not hold the index back for all that time).
GIVE_WAY_MAX_S = 1.0
# How often work the event loop schedules looks again whether it may go on.
GIVE_WAY_POLL_S = 0.005


class Foreground:
    """What the developer is waiting for now: messages from the editor read and not yet
    handled, and requests being answered that work gives way to. Safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._clear = threading.Event()
        self._clear.set()

    @property
    def waiting(self) -> bool:
        """Whether the developer is waiting for something now."""
        return not self._clear.is_set()

    def add(self, count: int = 1) -> None:
        """``count`` more things the developer waits for (messages read, a request)."""
        with self._lock:
            self._count += count
            if self._count > 0:
                self._clear.clear()

    def done(self, count: int = 1) -> None:
        """``count`` of them were handled (or answered)."""
        with self._lock:
            self._count = max(0, self._count - count)
            if self._count == 0:
                self._clear.set()

    def give_way(self, limit_s: float = GIVE_WAY_MAX_S) -> None:
        """Between two steps of work on a thread of its own: return once the developer waits
        for nothing (after ``limit_s`` at most), having let other threads take the
        interpreter."""
        self._clear.wait(limit_s)
        time.sleep(0)

    async def given_way(self, limit_s: float = GIVE_WAY_MAX_S) -> None:
        """``give_way`` for work the event loop schedules a step at a time."""
        waited = 0.0
        while not self._clear.is_set() and waited < limit_s:
            await asyncio.sleep(GIVE_WAY_POLL_S)
            waited += GIVE_WAY_POLL_S


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
        # What work that cannot wait for a pause gives way to.
        self.foreground = Foreground()
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

    def began(self, foreground: bool = False) -> None:
        """A request typing makes came; ``ended`` (with the same ``foreground``) follows once
        it is answered. Work that gives way waits while a ``foreground`` one is answered."""
        self._pending += 1
        if foreground:
            self.foreground.add()
        self.heard()

    def ended(self, foreground: bool = False) -> None:
        """A request ``began`` announced was answered (or dropped)."""
        self._pending = max(0, self._pending - 1)
        if foreground:
            self.foreground.done()
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

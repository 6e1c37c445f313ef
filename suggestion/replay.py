"""Replaying a source file as a developer typing it, to measure completions honestly.

Boundary: plain Python. ``replay`` and ``type_file`` are the one typing loop, used by
``tactful bench completion`` (the measure of record: a real server over stdio), the acceptance
prior's training replays and the quicker benchmark loops (an engine in this process). Each of
those is a ``Completer``: what the typing goes into and where the suggestions come from.

The developer types the file top to bottom. What is pasted rather than typed: a licence header
and a module docstring at the top (comments and the first string before any code). The rest is
typed in chunks: a line break with its indentation (one keystroke: Enter with auto-indent), a run
of spaces, one punctuation character, the first character of a word, the rest of a word. After
every chunk the editor asks for a completion. A shown suggestion is accepted when the text that
follows the cursor starts with it: it is then inserted in one edit for one keystroke.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tactful.analyzers.index import RepositoryIndex, read_source, source_files
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.text import Point
from tactful.suggestion.keystrokes import keystrokes
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.types import CompletionRequest, Suggestion

_BREAK = re.compile(r"\n[ \t]*")
_SPACES = re.compile(r"[ \t]+")
_WORD_REST = re.compile(r"\w+")


_PYTHON_HEAD = re.compile(
    r"(?:[ \t]*(?:#[^\n]*)?\n)*"
    r"(?:[ \t]*[rRuU]?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?''')[ \t]*(?:\n|$))?"
)
_C_HEAD = re.compile(r"(?:[ \t]*(?://[^\n]*)?\n|[ \t]*/\*[\s\S]*?\*/[ \t]*(?:\n|$))*")


def pasted_head(text: str, language_id: str) -> int:
    """Length of the licence header and module docstring at the start of ``text``: comment
    and blank lines and, in Python, a first triple-quoted string."""
    pattern = _PYTHON_HEAD if language_id == "python" else _C_HEAD
    match = pattern.match(text)
    return match.end() if match else 0


def next_chunk(text: str, position: int) -> str:
    """The next piece of ``text`` the developer types from ``position``."""
    if position >= len(text):
        return ""
    ch = text[position]
    if ch == "\n":
        match = _BREAK.match(text, position)
        return match.group(0) if match else ch
    if ch in " \t":
        match = _SPACES.match(text, position)
        return match.group(0) if match else ch
    if ch.isalnum() or ch == "_":
        starts_word = position == 0 or not (
            text[position - 1].isalnum() or text[position - 1] == "_"
        )
        if starts_word:
            return ch
        match = _WORD_REST.match(text, position)
        return match.group(0) if match else ch
    return ch


@dataclass(slots=True)
class Tally:
    """What one replay measured."""

    files: int = 0
    keystrokes_total: int = 0
    keystrokes_saved: int = 0
    requests: int = 0
    shown: int = 0
    accepted: int = 0
    chars_accepted: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        self.files += other.files
        self.keystrokes_total += other.keystrokes_total
        self.keystrokes_saved += other.keystrokes_saved
        self.requests += other.requests
        self.shown += other.shown
        self.accepted += other.accepted
        self.chars_accepted += other.chars_accepted
        self.latencies_ms.extend(other.latencies_ms)

    def summary(self) -> dict[str, object]:
        latencies = sorted(self.latencies_ms)
        return {
            "files": self.files,
            "keystrokes": self.keystrokes_total,
            "keystrokes_saved": self.keystrokes_saved,
            "keystrokes_saved_rate": _ratio(self.keystrokes_saved, self.keystrokes_total),
            "requests": self.requests,
            "shown": self.shown,
            "accepted": self.accepted,
            "acceptance_rate": _ratio(self.accepted, self.shown),
            "chars_accepted": self.chars_accepted,
            "latency_ms": {
                "p50": _percentile(latencies, 0.50),
                "p90": _percentile(latencies, 0.90),
                "p99": _percentile(latencies, 0.99),
                "max": round(latencies[-1], 3) if latencies else None,
            },
        }


class Typist:
    """The state of one file being typed: what is on screen and what is still to come."""

    def __init__(self, text: str, language_id: str) -> None:
        self.target = text
        self.position = pasted_head(text, language_id)
        # Counted as the file is typed, so a replay stopped half-way is still consistent.
        self.tally = Tally(files=1)

    @property
    def done(self) -> bool:
        return self.position >= len(self.target)

    @property
    def typed(self) -> str:
        return self.target[: self.position]

    def type_chunk(self) -> str:
        """Advance by one chunk and return it (the caller sends it as an edit)."""
        chunk = next_chunk(self.target, self.position)
        self.position += len(chunk)
        self.tally.keystrokes_total += keystrokes(chunk)
        return chunk

    def offer(self, suggestion: str | None, latency_ms: float | None = None) -> bool:
        """Record a response; True when the suggestion is accepted (the caller then inserts it
        and runs the accept command)."""
        self.tally.requests += 1
        if latency_ms is not None:
            self.tally.latencies_ms.append(latency_ms)
        if not suggestion:
            return False
        self.tally.shown += 1
        if not self.target.startswith(suggestion, self.position):
            return False
        self.tally.accepted += 1
        self.tally.chars_accepted += len(suggestion)
        self.tally.keystrokes_total += keystrokes(suggestion)
        self.tally.keystrokes_saved += keystrokes(suggestion) - 1
        self.position += len(suggestion)
        return True


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(share * (len(values) - 1))))
    return round(values[index], 3)


# -- the typing loop ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    """A suggestion shown at the cursor: ``text`` is what accepting it adds there;
    ``suggestion`` is the engine's own, when the completer has it (an engine in this process)."""

    text: str
    suggestion: Suggestion | None = None


class Completer(Protocol):
    """What a replay types into, and where its suggestions come from."""

    async def open(self, path: str, language: str, text: str) -> None:
        """Typing ``path`` begins: ``text`` is what the file holds before the first keystroke
        (its pasted head)."""

    async def type(self, chunk: str) -> None:
        """``chunk`` is typed at the cursor (the end of the text)."""

    async def suggest(self, typed: str) -> Offer | None:
        """The suggestion shown now; ``typed`` is the text so far, the cursor at its end."""

    async def accept(self, offer: Offer) -> None:
        """The developer took the suggestion: its text goes in at the cursor."""

    async def close(self, path: str, text: str) -> None:
        """Typing ``path`` ended; ``text`` is the whole file."""


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a replay, for whoever watches it (calibration, training records)."""

    path: str
    typed: str
    chunk: str
    offer: Offer | None
    accepted: bool
    latency_ms: float


Watch = Callable[[Step], None]


def source_text(path: Path) -> str:
    """A file's text as a replay types it (undecodable bytes replaced, line ends as ``\\n``)."""
    return path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")


async def type_file(
    completer: Completer,
    path: str,
    text: str,
    language: str,
    *,
    until: float | None = None,
    watch: Watch | None = None,
) -> Tally:
    """Type ``text`` into ``completer`` as ``path``, top to bottom, asking for a suggestion
    after every chunk; stop early at ``until`` (``time.monotonic()``)."""
    typist = Typist(text, language)
    await completer.open(path, language, typist.typed)
    while not typist.done:
        if until is not None and time.monotonic() > until:
            break
        chunk = typist.type_chunk()
        await completer.type(chunk)
        typed = typist.typed
        started = time.perf_counter()
        offer = await completer.suggest(typed)
        latency = (time.perf_counter() - started) * 1000
        accepted = typist.offer(offer.text if offer is not None else None, latency)
        if accepted and offer is not None:
            await completer.accept(offer)
        if watch is not None:
            watch(Step(path, typed, chunk, offer, accepted, latency))
    await completer.close(path, text)
    return typist.tally


async def replay(
    completer: Completer,
    root: Path,
    files: Sequence[str],
    *,
    seconds: float = 0.0,
    watch: Watch | None = None,
) -> Tally:
    """Type each of ``files`` (relative to ``root``) in turn; with ``seconds``, stop typing
    once that long has passed (a file being typed is counted up to where it stopped)."""
    total = Tally()
    started = time.monotonic()
    until = started + seconds if seconds else None
    for relative in files:
        if until is not None and time.monotonic() > until:
            break
        text = source_text(root / relative)
        language = language_of_path(relative) or "plaintext"
        total.merge(await type_file(completer, relative, text, language, until=until, watch=watch))
    return total


def sample_files(
    root: Path, count: int = 0, seed: int = 0, languages: Sequence[str] | None = None
) -> list[str]:
    """A seeded random sample of ``count`` source files under ``root`` (0: all of them, in a
    seeded random order), of ``languages`` only when given."""
    candidates = [
        path
        for path in source_files(root)
        if (language := language_of_path(path))
        and (not languages or language in languages)
        and read_source(root / path) is not None
    ]
    random.Random(seed).shuffle(candidates)
    return candidates[:count] if count > 0 else candidates


def request_at_end(
    root: Path, relative: str, language: str, typed: str, version: int = 1, max_lines: int = 8
) -> CompletionRequest:
    """A completion request at the end of ``typed``, the text of ``relative`` so far."""
    row = typed.count("\n")
    column = len(typed) - (typed.rfind("\n") + 1)
    return CompletionRequest(
        uri=f"file://{root / relative}",
        path=str(root / relative),
        language_id=language,
        version=version,
        text=typed,
        position=Point(row, column),
        workspace_root=str(root),
        max_lines=max_lines,
    )


class LocalCompleter:
    """The local engine in this process, over an index of ``root`` built here: each file is
    typed by a fresh engine, with the file itself left out of the index while it is typed.
    ``returns``: whether a typed file comes back into the index (as the server's does when the
    file is saved again); the training replays keep it out for the rest of the replay."""

    def __init__(self, root: Path, tuning: Tuning | None = None, *, returns: bool = True) -> None:
        self.root = root
        self.tuning = tuning
        self.returns = returns
        self.index = RepositoryIndex(root, persist=False)
        self.index.build()
        self.engine = LocalEngine(self.index, tuning)
        self._path = ""
        self._language = "plaintext"

    async def open(self, path: str, language: str, text: str) -> None:
        self.index.exclude(path)
        self.engine = LocalEngine(self.index, self.tuning)
        self._path, self._language = path, language

    async def type(self, chunk: str) -> None:
        return None

    async def suggest(self, typed: str) -> Offer | None:
        found = self.engine.suggest(request_at_end(self.root, self._path, self._language, typed))
        return Offer(found[0].text, found[0]) if found else None

    async def accept(self, offer: Offer) -> None:
        return None

    async def close(self, path: str, text: str) -> None:
        if self.returns:
            self.index.include(path)
        self.index.update(path, text)

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

import dataclasses
import difflib
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tactful.analyzers.index import RepositoryIndex, decode_source, read_source, source_files
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.text import Point
from tactful.suggestion.keystrokes import keystrokes
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.local.language import language_counts
from tactful.suggestion.types import CompletionRequest, Suggestion

_BREAK = re.compile(r"\n[ \t]*")
_SPACES = re.compile(r"[ \t]+")
_WORD_REST = re.compile(r"\w+")


_PYTHON_HEAD = re.compile(
    r"(?:[ \t]*(?:#[^\n]*)?\n)*"
    r"(?:[ \t]*[rRuU]?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?''')[ \t]*(?:\n|$))?"
)
_C_HEAD = re.compile(r"(?:[ \t]*(?://[^\n]*)?\n|[ \t]*/\*[\s\S]*?\*/[ \t]*(?:\n|$))*")


# The first lines of a new file, where the engine knows least of it (a replay counts them apart).
HEAD_LINES = 100


def pasted_head(text: str, language_id: str) -> int:
    """Length of the licence header and module docstring at the start of ``text``: comment
    and blank lines and, in Python, a first triple-quoted string."""
    pattern = _PYTHON_HEAD if language_id == "python" else _C_HEAD
    match = pattern.match(text)
    return match.end() if match else 0


def next_chunk(text: str, position: int, end: int | None = None) -> str:
    """The next piece of ``text`` the developer types from ``position`` (typing stops at
    ``end``: what follows is already there)."""
    end = len(text) if end is None else end
    if position >= end:
        return ""
    ch = text[position]
    if ch == "\n":
        match = _BREAK.match(text, position, end)
        return match.group(0) if match else ch
    if ch in " \t":
        match = _SPACES.match(text, position, end)
        return match.group(0) if match else ch
    if ch.isalnum() or ch == "_":
        starts_word = position == 0 or not (
            text[position - 1].isalnum() or text[position - 1] == "_"
        )
        if starts_word:
            return ch
        match = _WORD_REST.match(text, position, end)
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
            "keystrokes_saved_rate": ratio(self.keystrokes_saved, self.keystrokes_total),
            "requests": self.requests,
            "shown": self.shown,
            "accepted": self.accepted,
            "acceptance_rate": ratio(self.accepted, self.shown),
            "chars_accepted": self.chars_accepted,
            "latency_ms": {
                "p50": percentile(latencies, 0.50),
                "p90": percentile(latencies, 0.90),
                "p99": percentile(latencies, 0.99),
                "max": round(latencies[-1], 3) if latencies else None,
            },
        }


class Typist:
    """The state of one stretch of text being typed: what is on screen and what is still to
    come. ``target`` is the text once typed; the developer types ``target[start:stop]`` (a new
    file: from after its pasted head to the end; an edit: the hunk's new text), and what
    follows ``stop`` is on screen from the start, after the cursor.

    ``head_lines``: steps on the first that many lines of ``target`` are also counted in
    ``head`` (the first lines of a new file, where the engine knows least)."""

    def __init__(
        self,
        target: str,
        start: int,
        stop: int | None = None,
        *,
        files: int = 1,
        head_lines: int = 0,
    ) -> None:
        self.target = target
        self.position = start
        self.stop = len(target) if stop is None else stop
        # Counted as the text is typed, so a replay stopped half-way is still consistent.
        self.tally = Tally(files=files)
        self.head_lines = head_lines
        self.head = Tally(files=files) if head_lines else None
        self._row = target.count("\n", 0, start) if head_lines else 0

    @classmethod
    def new_file(cls, text: str, language_id: str, head_lines: int = 0) -> Typist:
        """A new file typed top to bottom after its pasted head."""
        return cls(text, pasted_head(text, language_id), head_lines=head_lines)

    @property
    def done(self) -> bool:
        return self.position >= self.stop

    @property
    def typed(self) -> str:
        """The text before the cursor."""
        return self.target[: self.position]

    @property
    def after(self) -> str:
        """The text after the cursor: what is already there."""
        return self.target[self.stop :]

    def _tallies(self) -> tuple[Tally, ...]:
        if self.head is not None and self._row < self.head_lines:
            return (self.tally, self.head)
        return (self.tally,)

    def type_chunk(self) -> str:
        """Advance by one chunk and return it (the caller sends it as an edit)."""
        chunk = next_chunk(self.target, self.position, self.stop)
        for tally in self._tallies():
            tally.keystrokes_total += keystrokes(chunk)
        self._advance(chunk)
        return chunk

    def _advance(self, text: str) -> None:
        self.position += len(text)
        if self.head is not None:
            self._row += text.count("\n")

    def offer(self, suggestion: str | None, latency_ms: float | None = None) -> bool:
        """Record a response; True when the suggestion is accepted (the caller then inserts it
        and runs the accept command). Accepted means the text still to type starts with it:
        a suggestion that runs past the stretch would duplicate what follows."""
        tallies = self._tallies()
        for tally in tallies:
            tally.requests += 1
            if latency_ms is not None:
                tally.latencies_ms.append(latency_ms)
        if not suggestion:
            return False
        for tally in tallies:
            tally.shown += 1
        if not self.target.startswith(suggestion, self.position, self.stop):
            return False
        for tally in tallies:
            tally.accepted += 1
            tally.chars_accepted += len(suggestion)
            tally.keystrokes_total += keystrokes(suggestion)
            tally.keystrokes_saved += keystrokes(suggestion) - 1
        self._advance(suggestion)
        return True


def ratio(part: int, whole: int) -> float:
    """``part / whole`` to four places, 0.0 when there is no whole (the replays' reports)."""
    return round(part / whole, 4) if whole else 0.0


def percentile(values: list[float], share: float, digits: int = 3) -> float | None:
    """The value at ``share`` of ``values`` (sorted), nearest rank; None for no values."""
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(share * (len(values) - 1))))
    return round(values[index], digits)


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
        """Typing into ``path`` begins: ``text`` is what the file holds before the first
        keystroke (a new file's pasted head; an edited file's text before the edit)."""

    async def replace(self, start: int, end: int, text: str) -> None:
        """The developer replaces ``start:end`` (code points) of the file with ``text`` (a
        deletion, or a paste) and the cursor moves to the end of what went in."""

    async def move(self, offset: int) -> None:
        """The developer puts the cursor at ``offset`` (code points) without changing the
        text."""

    async def type(self, chunk: str) -> None:
        """``chunk`` is typed at the cursor."""

    async def suggest(self, typed: str, after: str) -> Offer | None:
        """The suggestion shown now; ``typed`` is the text before the cursor, ``after`` the
        text after it."""

    async def accept(self, offer: Offer) -> None:
        """The developer took the suggestion: its text goes in at the cursor."""

    async def close(self, path: str, text: str) -> None:
        """Typing into ``path`` ended; ``text`` is the whole file."""


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a replay, for whoever watches it (calibration, training records, the
    bench's per-request details). ``after``: the text after the cursor, on screen;
    ``coming``: what is still to type of the stretch being typed (the hunk's rest, in an
    edit); ``removed``: the text the hunk deleted before it was typed (empty for a new file)."""

    path: str
    typed: str
    chunk: str
    offer: Offer | None
    accepted: bool
    latency_ms: float
    after: str = ""
    coming: str = ""
    removed: str = ""


Watch = Callable[[Step], None]


def source_text(path: Path) -> str:
    """A file's text as a replay types it: decoded as it declares (a Python file's coding
    cookie; undecodable bytes replaced), line ends as ``\\n``."""
    return decode_source(path.read_bytes(), language_of_path(path)).replace("\r\n", "\n")


async def type_into(
    completer: Completer,
    path: str,
    typist: Typist,
    *,
    until: float | None = None,
    watch: Watch | None = None,
) -> bool:
    """Type the typist's stretch into ``completer`` at its cursor, asking for a suggestion after
    every chunk; False when ``until`` (``time.monotonic()``) stopped it early."""
    while not typist.done:
        if until is not None and time.monotonic() > until:
            return False
        chunk = typist.type_chunk()
        await completer.type(chunk)
        typed, after = typist.typed, typist.after
        coming = typist.target[typist.position : typist.stop] if watch is not None else ""
        started = time.perf_counter()
        offer = await completer.suggest(typed, after)
        latency = (time.perf_counter() - started) * 1000
        accepted = typist.offer(offer.text if offer is not None else None, latency)
        if accepted and offer is not None:
            await completer.accept(offer)
        if watch is not None:
            watch(Step(path, typed, chunk, offer, accepted, latency, after, coming))
    return True


async def type_file(
    completer: Completer,
    path: str,
    text: str,
    language: str,
    *,
    until: float | None = None,
    watch: Watch | None = None,
    head_lines: int = 0,
) -> Typist:
    """Type ``text`` into ``completer`` as a new file ``path``, top to bottom, asking for a
    suggestion after every chunk; stop early at ``until`` (``time.monotonic()``). The typist
    returned holds the tally (and, with ``head_lines``, the tally of the file's first lines)."""
    typist = Typist.new_file(text, language, head_lines)
    await completer.open(path, language, typist.typed)
    if not await type_into(completer, path, typist, until=until, watch=watch):
        # Stopped half-way: the rest goes in untyped, so the file is whole when it closes.
        await completer.replace(typist.position, typist.position, text[typist.position :])
    await completer.close(path, text)
    return typist


# -- edits: a commit's hunks typed inside the file as it was ------------------------------------


@dataclass(frozen=True, slots=True)
class HunkEdit:
    """One hunk of a file's change as a developer makes it, on the text as it is when the hunk
    is reached (the hunks above it done): ``deleted`` is the stretch ``start:end`` selected
    and deleted, then ``typed`` is typed at ``start``. ``pasted``: a hunk too big to type,
    put in as one replacement and not counted."""

    start: int
    end: int
    typed: str
    pasted: bool = False


def plan_hunks(old: str, new: str, max_added: int = 0) -> list[HunkEdit]:
    """The edits that turn ``old`` into ``new``, top to bottom, each with offsets in the text
    as it is once the edits before it are made.

    Hunks are the changed line blocks of a line diff. What a block's old and new text share at
    their start and at their end is kept (a changed word is retyped, not its line), and new
    whole lines are typed from the end of the line above (Enter, then the lines), as a
    developer adds lines. ``max_added``: a hunk adding more lines than this is pasted."""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    edits: list[HunkEdit] = []
    offset = 0  # where the current block starts, in the text as edited so far
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        before = "".join(old_lines[i1:i2])
        after = "".join(new_lines[j1:j2])
        if tag == "equal":
            offset += len(after)
            continue
        if max_added and j2 - j1 > max_added:
            edits.append(HunkEdit(offset, offset + len(before), after, pasted=True))
            offset += len(after)
            continue
        head = _shared_head(before, after)
        tail = _shared_tail(before[head:], after[head:])
        start = offset + head
        deleted_end = offset + len(before) - tail
        typed = after[head : len(after) - tail]
        indent = ""
        if "\n" in typed:
            whole = _whole_lines(new, start, typed) if deleted_end == start else None
            if whole is not None:
                start, typed, indent = whole
                deleted_end = start
            else:
                # Lines typed: what is kept after them starts at a line break (a developer
                # rewriting lines deletes and types to the end of a line, not up to the middle
                # of what the old line's end shares with the new).
                while tail and after[len(after) - tail] != "\n":
                    tail -= 1
                deleted_end = offset + len(before) - tail
                typed = after[head : len(after) - tail]
        if typed.endswith("\n") and deleted_end == start > 0 and new[start - 1] == "\n":
            # New whole lines: Enter at the end of the line above, then the lines.
            edits.append(HunkEdit(start - 1, start - 1, "\n" + typed[:-1]))
        else:
            edits.append(HunkEdit(start, deleted_end, typed))
        if indent:
            # The line below the new ones is indented further.
            edits.append(HunkEdit(start + len(typed), start + len(typed), indent))
        offset += len(after)
    return edits


def _whole_lines(new: str, start: int, typed: str) -> tuple[int, str, str] | None:
    """An insertion of lines moved, where the same text results, to start at a line's start:
    (where, the whole lines, the indentation the line below them gains), or None. The shared
    indentation of the line below put the insertion after it, but a developer adds whole lines
    above that line (and indents it further when the new lines open a block around it), rather
    than typing before its code."""
    at, text = start, typed
    while at > 0 and new[at - 1] != "\n":
        if new[at - 1] != text[-1]:
            return None
        at -= 1
        text = new[at] + text[:-1]
    lines, _, indent = text.rpartition("\n")
    if indent.strip(" \t"):
        return None
    return at, lines + "\n", indent


def _shared_head(a: str, b: str) -> int:
    size = min(len(a), len(b))
    index = 0
    while index < size and a[index] == b[index]:
        index += 1
    return index


def _shared_tail(a: str, b: str) -> int:
    size = min(len(a), len(b))
    index = 0
    while index < size and a[len(a) - 1 - index] == b[len(b) - 1 - index]:
        index += 1
    return index


async def type_hunk(
    completer: Completer,
    path: str,
    text: str,
    hunk: HunkEdit,
    *,
    until: float | None = None,
    watch: Watch | None = None,
) -> tuple[str, Typist | None]:
    """Make one hunk in ``completer``'s copy of ``path`` (whose text is ``text``): its old
    stretch deleted, its new one typed at the cursor. Returns the text after the hunk and the
    typist (None for a pasted hunk)."""
    if hunk.pasted:
        await completer.replace(hunk.start, hunk.end, hunk.typed)
        return text[: hunk.start] + hunk.typed + text[hunk.end :], None
    if hunk.end > hunk.start:
        await completer.replace(hunk.start, hunk.end, "")
    else:
        await completer.move(hunk.start)
    target = text[: hunk.start] + hunk.typed + text[hunk.end :]
    typist = Typist(target, hunk.start, hunk.start + len(hunk.typed), files=0)
    removed = text[hunk.start : hunk.end]
    if watch is not None and removed:
        watch = _telling_removed(watch, removed)
    if not await type_into(completer, path, typist, until=until, watch=watch):
        # Stopped half-way: the rest of the hunk goes in untyped, so the file stays whole.
        rest = target[typist.position : typist.stop]
        await completer.replace(typist.position, typist.position, rest)
    return target, typist


def _telling_removed(watch: Watch, removed: str) -> Watch:
    def told(step: Step) -> None:
        watch(dataclasses.replace(step, removed=removed))

    return told


async def edit_file(
    completer: Completer,
    path: str,
    old: str,
    new: str,
    language: str,
    *,
    max_added: int = 0,
    until: float | None = None,
    watch: Watch | None = None,
) -> Tally:
    """Turn ``old`` into ``new`` in ``completer`` as a developer editing ``path`` would: the
    file opened as it was, each hunk made in turn (``plan_hunks``, ``type_hunk``)."""
    tally = Tally(files=1)
    await completer.open(path, language, old)
    text = old
    for hunk in plan_hunks(old, new, max_added):
        if until is not None and time.monotonic() > until:
            break
        text, typist = await type_hunk(completer, path, text, hunk, until=until, watch=watch)
        if typist is not None:
            tally.merge(typist.tally)
    await completer.close(path, new)
    return tally


async def replay(
    completer: Completer,
    root: Path,
    files: Sequence[str],
    *,
    seconds: float = 0.0,
    watch: Watch | None = None,
    head: Tally | None = None,
) -> Tally:
    """Type each of ``files`` (relative to ``root``) in turn; with ``seconds``, stop typing
    once that long has passed (a file being typed is counted up to where it stopped). With
    ``head``, the steps on each file's first ``HEAD_LINES`` lines are also counted there."""
    total = Tally()
    started = time.monotonic()
    until = started + seconds if seconds else None
    head_lines = HEAD_LINES if head is not None else 0
    for relative in files:
        if until is not None and time.monotonic() > until:
            break
        text = source_text(root / relative)
        language = language_of_path(relative) or "plaintext"
        typist = await type_file(
            completer, relative, text, language, until=until, watch=watch, head_lines=head_lines
        )
        total.merge(typist.tally)
        if head is not None and typist.head is not None:
            head.merge(typist.head)
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
    root: Path,
    relative: str,
    language: str,
    typed: str,
    version: int = 1,
    max_lines: int = 8,
    after: str = "",
) -> CompletionRequest:
    """A completion request at the end of ``typed``, the text of ``relative`` before the
    cursor (``after``: the text after it)."""
    row = typed.count("\n")
    column = len(typed) - (typed.rfind("\n") + 1)
    return CompletionRequest(
        uri=f"file://{root / relative}",
        path=str(root / relative),
        language_id=language,
        version=version,
        text=typed + after,
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
        # Read now, so that a replay does not depend on when the reading thread finishes.
        language_counts("python", wait=True)
        self.engine = LocalEngine(self.index, tuning)
        self._path = ""
        self._language = "plaintext"
        # Bumped by every change, as an editor's document version is: the engine knows from
        # it that the text it holds is out of date.
        self._version = 0

    async def open(self, path: str, language: str, text: str) -> None:
        self.index.exclude(path)
        # The engine of the file typed before goes, with its semantic worker process.
        self.engine.close()
        self.engine = LocalEngine(self.index, self.tuning)
        self._path, self._language = path, language
        self._version += 1

    async def replace(self, start: int, end: int, text: str) -> None:
        self._version += 1

    async def move(self, offset: int) -> None:
        return None

    async def type(self, chunk: str) -> None:
        self._version += 1

    async def suggest(self, typed: str, after: str = "") -> Offer | None:
        request = request_at_end(
            self.root, self._path, self._language, typed, self._version, after=after
        )
        found = self.engine.suggest(request)
        # The server builds the statistics of the modules the document imports in the
        # background, between requests (``LocalEngine.count_imports``): here, before the next.
        while self.engine.count_imports():
            pass
        return Offer(found[0].text, found[0]) if found else None

    async def accept(self, offer: Offer) -> None:
        self._version += 1

    async def close(self, path: str, text: str) -> None:
        if self.returns:
            self.index.include(path)
        self.index.update(path, text)

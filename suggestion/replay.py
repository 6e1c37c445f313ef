"""Replaying a source file as a developer typing it, to measure completions honestly.

Boundary: text arithmetic only; the driver (``tactful bench completion``) sends the edits and
requests to a real server and feeds the answers back here.

The developer types the file top to bottom. What is pasted rather than typed: a licence header
and a module docstring at the top (comments and the first string before any code). The rest is
typed in chunks: a line break with its indentation (one keystroke: Enter with auto-indent), a run
of spaces, one punctuation character, the first character of a word, the rest of a word. After
every chunk the editor asks for a completion. A shown suggestion is accepted when the text that
follows the cursor starts with it: it is then inserted in one edit for one keystroke.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tactful.suggestion.keystrokes import keystrokes

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

"""The cache of an open document's own text: its lines' tokens and n-gram counts, kept in step
with each edit.

Boundary: pure computation on the lines the engine hands over; no I/O. An edit replaces a block
of lines (``replace``): the block is re-tokenized (and the lines below it while the state they
start in changes: an opened or closed triple-quoted string), and only the n-grams whose tokens or
contexts touch it are taken out and put back: the block, the lines after it up to ``order``
tokens past it, and ``order`` tokens of context before it. Nothing here walks the whole
document, so an edit costs the same in a 10,000-line file as in a 100-line one.

A string opened and not yet closed would make every line below it read as string, and
closing it would turn them all back: such a change of state is followed for at most
``STATE_LINES`` lines below the edit, past which lines keep how they read (a string being
typed is about to be closed). Up to that distance the counts are exactly those of the text.

The token stream is never stored whole: a line's tokens are kept per line, and the stream of a
stretch of lines (with the line-break tokens between them, ``tokens.stream``) is made when asked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from tactful.analyzers.ngrams import NgramCounts
from tactful.analyzers.tokens import NORMAL, stream, tokenize_line

# Lines below an edit re-read when the edit changes the state they start in (see above).
STATE_LINES = 200
# The deleted lines kept (``DeletedLines``): at most this many tokens of them, the newest, and
# at most this many lines of any one deletion.
DELETED_TOKENS = 600
DELETED_LINES = 20


def differing_block(old: Sequence[str], new: Sequence[str]) -> tuple[int, int, int]:
    """``(start, old_end, new_end)``: ``old[start:old_end]`` became ``new[start:new_end]``, the
    lines before and after being the same in both (a comparison of every line)."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    old_end, new_end = len(old), len(new)
    while old_end > start and new_end > start and old[old_end - 1] == new[new_end - 1]:
        old_end -= 1
        new_end -= 1
    return start, old_end, new_end


class DocumentModel:
    """N-gram counts of one document's lines."""

    def __init__(self, language_id: str, order: int) -> None:
        self.language_id = language_id
        self.order = order
        self.lines: list[str] = []
        self.tokens: list[list[str]] = []
        # The tokenizer's state at the end of each line (inside a multi-line string or not).
        self.end_states: list[int] = []
        self.counts = NgramCounts(order)

    @property
    def stream(self) -> list[str]:
        """The whole token stream (for inspection; the engine never needs it)."""
        return stream(self.lines, self.tokens)

    def update(self, lines: Sequence[str]) -> None:
        """Make the counts those of ``lines``: the block that differs from the lines held now
        is replaced (a comparison of every line: for a caller that has no edit to give)."""
        old = self.lines
        start, old_end, new_end = differing_block(old, lines)
        if start == old_end == new_end and len(old) == len(lines):
            return
        self.replace(start, old_end, list(lines[start:new_end]))

    def replace(self, start: int, old_end: int, new_lines: Sequence[str]) -> None:
        """Lines ``start:old_end`` became ``new_lines``."""
        lines, per_line, states = self.lines, self.tokens, self.end_states
        order = self.order
        state = states[start - 1] if start > 0 else NORMAL
        block_lines = list(new_lines)
        block_tokens: list[list[str]] = []
        block_states: list[int] = []
        for line in block_lines:
            tokens, state = tokenize_line(line, self.language_id, state)
            block_tokens.append(tokens)
            block_states.append(state)
        # While the state at the end of the block differs from what the next line started in,
        # that line is tokenized anew too (up to ``STATE_LINES`` of them).
        limit = old_end + STATE_LINES
        while (
            old_end < min(len(lines), limit)
            and (states[old_end - 1] if old_end > 0 else NORMAL) != state
        ):
            line = lines[old_end]
            tokens, state = tokenize_line(line, self.language_id, state)
            block_lines.append(line)
            block_tokens.append(tokens)
            block_states.append(state)
            old_end += 1
        # The stretch whose counts change: from ``order`` tokens before the block (context
        # only) to the first non-blank line after it and ``order`` tokens more.
        after_end = old_end
        seen, after = False, 0
        while after_end < len(lines) and (not seen or after <= order):
            if per_line[after_end]:
                seen = True
                after += len(per_line[after_end]) + 1
            after_end += 1
        context_start = start
        before = 0
        while context_start > 0 and before <= order:
            context_start -= 1
            if per_line[context_start]:
                before += len(per_line[context_start]) + 1
        # The line-break token into ``context_start`` needs the non-blank line before it.
        base = context_start
        while base > 0 and not per_line[base - 1]:
            base -= 1
        if base > 0:
            base -= 1
        old_lines = lines[base:after_end]
        old_tokens = per_line[base:after_end]
        new_lines_local = lines[base:start] + block_lines + lines[old_end:after_end]
        new_tokens = per_line[base:start] + block_tokens + per_line[old_end:after_end]
        head = stream(old_lines, old_tokens, context_start - base, start - base)
        old_tail = stream(old_lines, old_tokens, start - base, len(old_lines))
        new_tail = stream(new_lines_local, new_tokens, start - base, len(new_lines_local))
        counts = self.counts
        old_seq = head + old_tail
        counts.remove(old_seq, len(head), len(old_seq))
        new_seq = head + new_tail
        counts.add(new_seq, len(head), len(new_seq))
        lines[start:old_end] = block_lines
        per_line[start:old_end] = block_tokens
        states[start:old_end] = block_states

    def tokens_before(self, line: int, count: int) -> list[str]:
        """The last ``count`` stream tokens of the lines before ``line``."""
        line = min(line, len(self.lines))
        per_line = self.tokens
        first = line
        gathered = 0
        while first > 0 and gathered < count:
            first -= 1
            if per_line[first]:
                gathered += len(per_line[first]) + 1
        found = stream(self.lines, per_line, first, line)
        return found[-count:] if count else []

    def previous_nonblank(self, line: int) -> int | None:
        per_line = self.tokens
        for index in range(min(line, len(per_line)) - 1, -1, -1):
            if per_line[index]:
                return index
        return None

    def state_before(self, line: int) -> int:
        states = self.end_states
        return states[line - 1] if 0 < line <= len(states) else 0


class DeletedLines:
    """N-gram counts of the lines most recently deleted from a document, the newest kept.

    A line being rewritten most often resembles the one it replaces (a call given another
    argument, a signature given annotations), and once deleted that line is no longer in the
    document's counts. Adding and evicting cost the lines deleted, never the document."""

    def __init__(self, language_id: str, order: int, limit: int = DELETED_TOKENS) -> None:
        self.language_id = language_id
        self.limit = limit
        self.counts = NgramCounts(order)
        self._kept: deque[list[str]] = deque()
        self._size = 0

    def __bool__(self) -> bool:
        return self._size > 0

    def add(self, lines: Sequence[str]) -> None:
        """Lines that were deleted (their last ``DELETED_LINES`` when more: a block deleted
        whole is not about to be retyped line by line)."""
        kept = [line for line in lines[-DELETED_LINES:] if line.strip()]
        if not kept:
            return
        state = NORMAL
        per_line = []
        for line in kept:
            tokens, state = tokenize_line(line, self.language_id, state)
            per_line.append(tokens)
        tokens = stream(kept, per_line)
        if not tokens:
            return
        self.counts.add(tokens)
        self._kept.append(tokens)
        self._size += len(tokens)
        while self._size > self.limit and len(self._kept) > 1:
            oldest = self._kept.popleft()
            self.counts.remove(oldest)
            self._size -= len(oldest)

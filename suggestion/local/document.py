"""The cache of an open document's own text: its tokens and n-gram counts, kept in step with
each keystroke.

Boundary: pure computation on the text the server hands over; no I/O. A keystroke re-tokenizes
the changed lines only, and only the n-grams whose tokens or contexts touch them are taken out
and put back, so the cost does not grow with the document.
"""

from __future__ import annotations

from itertools import accumulate

from tactful.analyzers.ngrams import NgramCounts
from tactful.analyzers.tokens import LineTokens, stream


class DocumentModel:
    """N-gram counts of one document's text."""

    def __init__(self, language_id: str, order: int) -> None:
        self.language_id = language_id
        self.lines = LineTokens.empty(language_id)
        self.counts = NgramCounts(order)
        self.stream: list[str] = []
        # Stream tokens each line contributes (its leading line break and its tokens), and the
        # stream offset where each line's tokens start (one more entry than lines).
        self._owned: list[int] = []
        self.line_start: list[int] = [0]

    def update(self, lines: list[str]) -> None:
        """Make the counts those of ``lines``."""
        token_lines = self.lines
        before = len(token_lines.lines)
        start, old_end, new_end = token_lines.update(lines)
        if start == old_end == new_end and before == len(lines):
            return
        # The break into the next non-blank line depends on the block's last indentation.
        end = new_end
        per_line = token_lines.tokens
        while end < len(lines) and not per_line[end]:
            end += 1
        if end < len(lines):
            end += 1
        old_end += end - new_end
        first = self.line_start[start]
        last = self.line_start[old_end]
        owned: list[int] = []
        block = stream(lines, per_line, start, end, owned)
        order = self.counts.order
        old_stream = self.stream
        self.counts.remove(old_stream, first, min(len(old_stream), last + order))
        new_stream = old_stream[:first] + block + old_stream[last:]
        self.counts.add(new_stream, first, min(len(new_stream), first + len(block) + order))
        self.stream = new_stream
        self._owned[start:old_end] = owned
        self.line_start = [0, *accumulate(self._owned)]

    def tokens_before(self, line: int, count: int) -> list[str]:
        """The last ``count`` stream tokens of the lines before ``line``."""
        end = self.line_start[min(line, len(self.line_start) - 1)]
        return self.stream[max(0, end - count) : end]

    def previous_nonblank(self, line: int) -> int | None:
        per_line = self.lines.tokens
        for index in range(min(line, len(per_line)) - 1, -1, -1):
            if per_line[index]:
                return index
        return None

    def state_before(self, line: int) -> int:
        states = self.lines.end_states
        return states[line - 1] if 0 < line <= len(states) else 0

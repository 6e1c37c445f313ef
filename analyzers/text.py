"""Text positions: code points (Python), UTF-8 bytes (tree-sitter) and UTF-16 units (LSP).

Boundary: plain text arithmetic, no parsing and no protocol types. Domain positions are
``Point(line, column)`` with ``column`` counted in code points, so Python string slicing works
on them directly; the other two units are converted at the edges. It never raises on text it
did not expect: a column past the end of a line is clamped to the line's end.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True, order=True, slots=True)
class Point:
    """A position in a text: zero-based line and column in code points."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range of text between two points."""

    start: Point
    end: Point


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of ``text``, split at ``\\n`` alone, as ``LineIndex``, the LSP and Python's
    line numbers count them. ``str.splitlines`` also splits at a form feed, ``\\v``, ``\\x1c``
    to ``\\x1e``, ``\\x85``, ``\\u2028`` and ``\\u2029``, which are part of a line's text
    there: a line number found with it is off by one for each of them above (a ``\\r`` before a
    ``\\n`` stays in the line's text, as in ``LineIndex``)."""
    lines = text.split("\n")
    last = lines.pop()
    if keepends:
        lines = [line + "\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def utf16_length(text: str) -> int:
    """Number of UTF-16 code units in ``text``."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf8_length(text: str) -> int:
    """Number of UTF-8 bytes in ``text``."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def column_from_units(line_text: str, units: int, encoding: str) -> int:
    """Code-point column of a column given in ``encoding`` units ('utf-8', 'utf-16', 'utf-32').

    A column inside a surrogate pair or a multi-byte sequence rounds down to the character that
    contains it; a column past the end of the line is clamped.
    """
    if units <= 0:
        return 0
    if encoding == "utf-32" or line_text.isascii():
        return min(units, len(line_text))
    counted = 0
    for index, ch in enumerate(line_text):
        width = _unit_width(ch, encoding)
        if counted + width > units:
            return index
        counted += width
        if counted == units:
            return index + 1
    return len(line_text)


def units_from_column(line_text: str, column: int, encoding: str) -> int:
    """Column in ``encoding`` units of a code-point column (clamped to the line)."""
    column = max(0, min(column, len(line_text)))
    head = line_text[:column]
    if encoding == "utf-32":
        return column
    if encoding == "utf-8":
        return utf8_length(head)
    return utf16_length(head)


def _unit_width(ch: str, encoding: str) -> int:
    code = ord(ch)
    if encoding == "utf-8":
        if code < 0x80:
            return 1
        if code < 0x800:
            return 2
        if code < 0x10000:
            return 3
        return 4
    return 2 if code > 0xFFFF else 1


# Lines per block of a ``LineIndex``: an edit rewrites one block and the blocks' totals, so
# its cost does not grow with the text.
_BLOCK = 256


class LineIndex:
    """Where each line starts, in code points and in UTF-8 bytes, updated edit by edit.

    Lines end at ``\\n``; a ``\\r`` before it belongs to the line's text, as editors count.
    The lines' lengths are kept in blocks of at most ``2 * _BLOCK`` lines with each block's
    totals, so an edit costs the lines it touches plus one step per block (a few dozen in a
    10,000-line file), never a pass over every line.
    """

    __slots__ = ("_byte_totals", "_bytes", "_char_totals", "_chars", "_lines")

    def __init__(self, text: str) -> None:
        chars, byte_lengths = _line_lengths(text)
        self._chars = [chars[i : i + _BLOCK] for i in range(0, len(chars), _BLOCK)]
        self._bytes = [byte_lengths[i : i + _BLOCK] for i in range(0, len(chars), _BLOCK)]
        self._char_totals = [sum(block) for block in self._chars]
        self._byte_totals = [sum(block) for block in self._bytes]
        self._lines = len(chars)

    def line_count(self) -> int:
        return self._lines

    def copy(self) -> LineIndex:
        """An index of the same text that later edits of this one leave alone."""
        copied = LineIndex.__new__(LineIndex)
        copied._chars = [list(block) for block in self._chars]
        copied._bytes = [list(block) for block in self._bytes]
        copied._char_totals = list(self._char_totals)
        copied._byte_totals = list(self._byte_totals)
        copied._lines = self._lines
        return copied

    @property
    def starts(self) -> list[int]:
        """Code-point offset of every line's start (a pass over every line)."""
        return _starts(self._chars)

    @property
    def byte_starts(self) -> list[int]:
        """UTF-8 offset of every line's start (a pass over every line)."""
        return _starts(self._bytes)

    def _locate(self, line: int) -> tuple[int, int, int, int]:
        """(block, index in the block, code-point start, byte start) of ``line``."""
        chars, char_totals, byte_totals = self._chars, self._char_totals, self._byte_totals
        start = byte_start = 0
        for block, lengths in enumerate(chars):
            if line < len(lengths):
                return (
                    block,
                    line,
                    start + sum(lengths[:line]),
                    byte_start + sum(self._bytes[block][:line]),
                )
            line -= len(lengths)
            start += char_totals[block]
            byte_start += byte_totals[block]
        raise IndexError(line)

    def _span(self, line: int) -> tuple[int, int]:
        """Code-point start of ``line`` and its length without the line break."""
        block, index, start, _ = self._locate(line)
        length = self._chars[block][index]
        return start, length - (line < self._lines - 1)

    def offset(self, point: Point, text: str) -> int:
        """Code-point offset of ``point`` in ``text`` (clamped to the text)."""
        if point.line >= self._lines:
            return len(text)
        start, length = self._span(max(point.line, 0))
        return start + min(max(point.column, 0), length)

    def point(self, offset: int) -> Point:
        """Point of a code-point offset."""
        line, start = _find(self._chars, self._char_totals, offset)
        return Point(line, offset - start)

    def byte_offset(self, point: Point, text: str) -> int:
        """UTF-8 byte offset of ``point`` in ``text``."""
        line = min(max(point.line, 0), self._lines - 1)
        _, _, start, byte_start = self._locate(line)
        offset = self.offset(point, text)
        return byte_start + utf8_length(text[start:offset])

    def byte_column(self, point: Point, text: str) -> int:
        line = min(max(point.line, 0), self._lines - 1)
        _, _, start, _ = self._locate(line)
        return utf8_length(text[start : self.offset(point, text)])

    def point_of_byte(self, byte_offset: int, text: str) -> Point:
        """Point of a UTF-8 byte offset (as tree-sitter reports them)."""
        line, byte_start = _find(self._bytes, self._byte_totals, byte_offset)
        start, length = self._span(line)
        rest = byte_offset - byte_start
        return Point(line, column_from_units(text[start : start + length], rest, "utf-8"))

    def line_text(self, line: int, text: str) -> str:
        """Text of ``line`` without its line break."""
        if line < 0 or line >= self._lines:
            return ""
        start, length = self._span(line)
        return text[start : start + length]

    def line_texts(self, first: int, stop: int, text: str) -> list[str]:
        """Texts of lines ``first:stop`` without their line breaks: one walk to the first, one
        to the last, and the text between split at its line breaks."""
        first, stop = max(first, 0), min(stop, self._lines)
        if first >= stop:
            return []
        block, index, start, _ = self._locate(first)
        last_start, last_length = self._span(stop - 1)
        found = text[start : last_start + last_length].split("\n")
        if len(found) == stop - first:
            return found
        # ``text`` is not the index's (a reader that lags an edit): line by line, as it lies.
        last = self._lines - 1
        found = []
        line = first
        while line < stop:
            lengths = self._chars[block]
            while index < len(lengths) and line < stop:
                length = lengths[index]
                found.append(text[start : start + length - (line < last)])
                start += length
                index += 1
                line += 1
            block += 1
            index = 0
        return found

    def edit(self, start_point: Point, end_point: Point, new_text: str, text: str) -> IndexEdit:
        """Update the index for ``text`` (the text before the edit) after the text between
        ``start_point`` and ``end_point`` (in either order, clamped to the text as ``offset``
        clamps) became ``new_text``; where that was and is, in code points and UTF-8 bytes.
        Each end is found in one walk of the blocks (one for both on one line)."""
        start_point, end_point = sorted((start_point, end_point))
        first = self._place(start_point, text)
        if min(end_point.line, self._lines - 1) == first.line:
            last = self._on_line(first, end_point, text)
        else:
            last = self._place(end_point, text)
        inserted_bytes = utf8_length(new_text)
        start_byte = first.byte_start + first.byte_column
        # (an end before the start, as a point on a line before the first clamps to, is the
        # start: nothing is removed)
        end_byte = max(start_byte, last.byte_start + last.byte_column)
        self._replace(first, last, first.offset, last.offset, start_byte, end_byte, new_text)
        breaks = new_text.count("\n")
        if breaks:
            tail = new_text[new_text.rindex("\n") + 1 :]
            new_end = Point(first.line + breaks, len(tail))
            new_end_column = utf8_length(tail)
        else:
            new_end = Point(first.line, first.offset - first.start + len(new_text))
            new_end_column = first.byte_column + inserted_bytes
        return IndexEdit(
            first.offset,
            last.offset,
            start_byte,
            end_byte,
            start_byte + inserted_bytes,
            first.byte_column,
            last.byte_column,
            new_end,
            new_end_column,
        )

    def _place(self, point: Point, text: str) -> _Place:
        line = min(max(point.line, 0), self._lines - 1)
        block, index, start, byte_start = self._locate(line)
        return self._on_line(_Place(line, block, index, start, byte_start, 0, 0), point, text)

    def _on_line(self, place: _Place, point: Point, text: str) -> _Place:
        """``point`` on the line of ``place`` (its line clamped to the text's)."""
        if point.line >= self._lines:
            offset = len(text)
        else:
            length = self._chars[place.block][place.index] - (place.line < self._lines - 1)
            offset = place.start + min(max(point.column, 0), length)
        column = utf8_length(text[place.start : offset])
        return _Place(
            place.line, place.block, place.index, place.start, place.byte_start, offset, column
        )

    def replace(self, start: int, end: int, start_byte: int, end_byte: int, new_text: str) -> None:
        """Update the index after text[start:end] (bytes start_byte:end_byte) became new_text."""
        first, first_start = _find(self._chars, self._char_totals, start)
        last, last_start = _find(self._chars, self._char_totals, end)
        first_block, first_index, _, first_byte_start = self._locate(first)
        last_block, last_index, _, last_byte_start = self._locate(last)
        self._replace(
            _Place(first, first_block, first_index, first_start, first_byte_start, 0, 0),
            _Place(last, last_block, last_index, last_start, last_byte_start, 0, 0),
            start,
            end,
            start_byte,
            end_byte,
            new_text,
        )

    def _replace(
        self,
        first_place: _Place,
        last_place: _Place,
        start: int,
        end: int,
        start_byte: int,
        end_byte: int,
        new_text: str,
    ) -> None:
        first, first_block, first_index = first_place.line, first_place.block, first_place.index
        last, last_block, last_index = last_place.line, last_place.block, last_place.index
        first_start, first_byte_start = first_place.start, first_place.byte_start
        last_start, last_byte_start = last_place.start, last_place.byte_start
        head = start - first_start
        head_bytes = start_byte - first_byte_start
        tail = self._chars[last_block][last_index] - (end - last_start)
        tail_bytes = self._bytes[last_block][last_index] - (end_byte - last_byte_start)
        pieces = new_text.split("\n")
        chars = [len(piece) + 1 for piece in pieces]
        byte_lengths = [utf8_length(piece) + 1 for piece in pieces]
        chars[0] += head
        byte_lengths[0] += head_bytes
        # The last piece ends where the old last line's rest begins (the rest carries the
        # line break, if that line had one).
        chars[-1] += tail - 1
        byte_lengths[-1] += tail_bytes - 1
        merged_chars = (
            self._chars[first_block][:first_index]
            + chars
            + self._chars[last_block][last_index + 1 :]
        )
        merged_bytes = (
            self._bytes[first_block][:first_index]
            + byte_lengths
            + self._bytes[last_block][last_index + 1 :]
        )
        if len(merged_chars) > 2 * _BLOCK:
            step = range(0, len(merged_chars), _BLOCK)
            char_blocks = [merged_chars[i : i + _BLOCK] for i in step]
            byte_blocks = [merged_bytes[i : i + _BLOCK] for i in step]
        else:
            char_blocks, byte_blocks = [merged_chars], [merged_bytes]
        span = slice(first_block, last_block + 1)
        self._chars[span] = char_blocks
        self._bytes[span] = byte_blocks
        self._char_totals[span] = [sum(block) for block in char_blocks]
        self._byte_totals[span] = [sum(block) for block in byte_blocks]
        self._lines += len(pieces) - 1 - (last - first)


@dataclass(frozen=True, slots=True)
class _Place:
    """A line found in a ``LineIndex``: its number, block, index in the block, code-point and
    byte start; and a point on it: its offset and its column in UTF-8 bytes."""

    line: int
    block: int
    index: int
    start: int
    byte_start: int
    offset: int
    byte_column: int


@dataclass(frozen=True, slots=True)
class IndexEdit:
    """What ``LineIndex.edit`` did: ``start:end`` (bytes ``start_byte:end_byte``) of the
    old text became what now ends at ``new_end_byte``; the columns in bytes of its start and
    old end on their lines, and its new end as a point and a column in bytes (what
    tree-sitter's edit takes)."""

    start: int
    end: int
    start_byte: int
    end_byte: int
    new_end_byte: int
    start_column: int
    old_end_column: int
    new_end: Point
    new_end_column: int


def _line_lengths(text: str) -> tuple[list[int], list[int]]:
    """Each line's length with its line break (the last line has none), in code points and
    in UTF-8 bytes."""
    pieces = text.split("\n")
    chars = [len(piece) + 1 for piece in pieces]
    chars[-1] -= 1
    if text.isascii():
        return chars, list(chars)
    byte_lengths = [utf8_length(piece) + 1 for piece in pieces]
    byte_lengths[-1] -= 1
    return chars, byte_lengths


def _starts(blocks: list[list[int]]) -> list[int]:
    starts = [0]
    for block in blocks:
        for length in block:
            starts.append(starts[-1] + length)
    starts.pop()
    return starts


def _find(blocks: list[list[int]], totals: list[int], offset: int) -> tuple[int, int]:
    """The line that holds ``offset`` (the last line for an offset at or past the end) and
    where it starts, in the unit of ``blocks``."""
    line = start = 0
    last = len(blocks) - 1
    for block, total in enumerate(totals):
        lengths = blocks[block]
        if lengths and (offset < start + total or block == last):
            # The block's line ends summed and searched in C: a loop over its few hundred
            # lines in Python cost about 36 µs a point (cProfile, a 5,000-line file).
            ends = list(accumulate(lengths))
            index = min(bisect_right(ends, offset - start), len(lengths) - 1)
            return line + index, start + (ends[index - 1] if index else 0)
        start += total
        line += len(lengths)
    return line - 1, start


@dataclass(frozen=True, slots=True)
class TextChange:
    """Replace the text between ``start`` and ``end`` with ``text``; a full replacement when
    ``start`` is None."""

    text: str
    start: Point | None = None
    end: Point | None = None


@dataclass(frozen=True, slots=True)
class DocumentEdit:
    """The changes (applied in order) that took a document from version ``previous`` to
    ``version``: what a reader that follows the document edit by edit needs."""

    previous: int
    version: int
    changes: tuple[TextChange, ...]


def apply_to_lines(lines: list[str], change: TextChange) -> tuple[int, int, int]:
    """Apply a ranged ``change`` to ``lines`` in place (a full replacement replaces them all);
    returns ``(start, old_end, new_end)``: lines ``start:old_end`` became ``start:new_end``.
    Points past a line's end or the last line are clamped, as the editor's text is."""
    if change.start is None or change.end is None or not lines:
        old_end = len(lines)
        lines[:] = change.text.split("\n")
        return 0, old_end, len(lines)
    start, end = sorted((change.start, change.end))
    last = len(lines) - 1
    first_line = min(max(start.line, 0), last)
    last_line = min(max(end.line, 0), last)
    first_column = len(lines[first_line]) if start.line > last else max(start.column, 0)
    last_column = len(lines[last_line]) if end.line > last else max(end.column, 0)
    head = lines[first_line][:first_column]
    tail = lines[last_line][last_column:]
    if "\n" in change.text:
        block = (head + change.text + tail).split("\n")
    else:
        block = [head + change.text + tail]
    lines[first_line : last_line + 1] = block
    return first_line, last_line + 1, first_line + len(block)


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text of ``span`` in the file at ``path`` with ``new_text``.

    ``path`` is relative to the workspace root (or absolute for a file outside it).
    """

    path: str
    span: Span
    new_text: str


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits of one file to its text (later spans first)."""
    index = LineIndex(text)
    ordered = sorted(edits, key=lambda e: (e.span.start, e.span.end), reverse=True)
    for edit in ordered:
        start = index.offset(edit.span.start, text)
        end = index.offset(edit.span.end, text)
        text = text[:start] + edit.new_text + text[end:]
        index = LineIndex(text)
    return text

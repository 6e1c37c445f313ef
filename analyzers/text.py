"""Text positions: code points (Python), UTF-8 bytes (tree-sitter) and UTF-16 units (LSP).

Boundary: plain text arithmetic, no parsing and no protocol types. Domain positions are
``Point(line, column)`` with ``column`` counted in code points, so Python string slicing works
on them directly; the other two units are converted at the edges. It never raises on text it
did not expect: a column past the end of a line is clamped to the line's end.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


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

    def contains_line(self, line: int) -> bool:
        return self.start.line <= line <= self.end.line


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


class LineIndex:
    """Offsets of line starts in code points and in UTF-8 bytes, updated incrementally.

    Lines end at ``\\n``; a ``\\r`` before it belongs to the line's text, as editors count.
    """

    __slots__ = ("byte_starts", "starts")

    def __init__(self, text: str) -> None:
        self.starts, self.byte_starts = _line_starts(text, 0, 0)

    def line_count(self) -> int:
        return len(self.starts)

    def offset(self, point: Point, text: str) -> int:
        """Code-point offset of ``point`` in ``text`` (clamped to the text)."""
        line = min(max(point.line, 0), len(self.starts) - 1)
        if point.line >= len(self.starts):
            return len(text)
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(text)
        return min(start + max(point.column, 0), end)

    def point(self, offset: int) -> Point:
        """Point of a code-point offset."""
        line = bisect_right(self.starts, offset) - 1
        return Point(line, offset - self.starts[line])

    def byte_offset(self, point: Point, text: str) -> int:
        """UTF-8 byte offset of ``point`` in ``text``."""
        line = min(max(point.line, 0), len(self.starts) - 1)
        offset = self.offset(point, text)
        return self.byte_starts[line] + utf8_length(text[self.starts[line] : offset])

    def byte_column(self, point: Point, text: str) -> int:
        line = min(max(point.line, 0), len(self.starts) - 1)
        return self.byte_offset(point, text) - self.byte_starts[line]

    def point_of_byte(self, byte_offset: int, text: str) -> Point:
        """Point of a UTF-8 byte offset (as tree-sitter reports them)."""
        line = bisect_right(self.byte_starts, byte_offset) - 1
        line_start = self.starts[line]
        rest = byte_offset - self.byte_starts[line]
        line_end = self.starts[line + 1] if line + 1 < len(self.starts) else len(text)
        return Point(line, column_from_units(text[line_start:line_end], rest, "utf-8"))

    def line_text(self, line: int, text: str) -> str:
        """Text of ``line`` without its line break."""
        if line < 0 or line >= len(self.starts):
            return ""
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(text)
        return text[start:end]

    def replace(self, start: int, end: int, start_byte: int, end_byte: int, new_text: str) -> None:
        """Update the index after text[start:end] (bytes start_byte:end_byte) became new_text."""
        first = bisect_right(self.starts, start) - 1
        last = bisect_right(self.starts, end) - 1
        delta = len(new_text) - (end - start)
        delta_bytes = utf8_length(new_text) - (end_byte - start_byte)
        inserted, inserted_bytes = _line_starts(new_text, start, start_byte)
        self.starts[first + 1 :] = inserted[1:] + [s + delta for s in self.starts[last + 1 :]]
        self.byte_starts[first + 1 :] = inserted_bytes[1:] + [
            s + delta_bytes for s in self.byte_starts[last + 1 :]
        ]


def _line_starts(text: str, base: int, base_byte: int) -> tuple[list[int], list[int]]:
    starts = [base]
    byte_starts = [base_byte]
    if text.isascii():
        index = text.find("\n")
        while index != -1:
            starts.append(base + index + 1)
            byte_starts.append(base_byte + index + 1)
            index = text.find("\n", index + 1)
        return starts, byte_starts
    position = 0
    byte_position = base_byte
    for line in text.split("\n")[:-1]:
        position += len(line) + 1
        byte_position += utf8_length(line) + 1
        starts.append(base + position)
        byte_starts.append(byte_position)
    return starts, byte_starts


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

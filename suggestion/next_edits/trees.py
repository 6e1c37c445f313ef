"""Texts with their tree-sitter trees, and the trees of the texts around a recorded edit.

Boundary: tree-sitter only. A ``Source`` pairs a text with its UTF-8 bytes (what tree-sitter
counts in) and converts offsets both ways; ``edit_trees`` gives the trees of the text before and
after a recorded edit by re-parsing incrementally from a tree we already have (an inverse edit
of the current tree), never from scratch when it can avoid it: a 5,000-line file takes tens of
milliseconds to parse whole and well under one to re-parse around an edit.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tree_sitter import Node, Parser, Tree
from tree_sitter import Point as TSPoint

from tactful.analyzers.languages import new_parser
from tactful.analyzers.text import LineIndex, Point
from tactful.suggestion.next_edits.types import RecordedEdit

_WIDE = re.compile(r"[^\x00-\x7f]")
_WIDE_BLOCK = 4096
# Points counted in place before a text's line index is built (see ``Source.point``).
_COUNTED_POINTS = 16


class Source:
    """A text and its UTF-8 bytes, with offsets converted between code points and bytes.

    A request asks one text the same questions many times (how often a rule's anchor occurs,
    where a code point is in bytes): the answers are kept with it, so each costs one pass
    over the text, not one a question."""

    __slots__ = ("_counted", "_counts", "_lines", "_wide", "ascii", "data", "text")

    def __init__(
        self, text: str, data: bytes | None = None, lines: LineIndex | None = None
    ) -> None:
        self.text = text
        self.data = data if data is not None else text.encode("utf-8", "surrogatepass")
        self.ascii = len(self.data) == len(text)
        self._lines = lines
        self._counted = 0
        self._counts: dict[str, int] = {}
        self._wide: tuple[list[int], list[int], list[int]] | None = None

    def count(self, piece: str) -> int:
        """How many times ``piece`` occurs in the text (``bytes.count`` of its UTF-8)."""
        found = self._counts.get(piece)
        if found is None:
            found = self._counts[piece] = self.data.count(piece.encode("utf-8", "surrogatepass"))
        return found

    @property
    def lines(self) -> LineIndex:
        if self._lines is None:
            self._lines = LineIndex(self.text)
        return self._lines

    def byte(self, offset: int) -> int:
        if self.ascii:
            return offset
        chars, _bytes, extra = self._wide_chars()
        offset = max(0, min(offset, len(self.text)))
        return offset + extra[bisect_left(chars, offset)]

    def char(self, byte: int) -> int:
        if self.ascii:
            return byte
        _chars, starts, extra = self._wide_chars()
        byte = max(0, min(byte, len(self.data)))
        return byte - extra[bisect_left(starts, byte)]

    def _wide_chars(self) -> tuple[list[int], list[int], list[int]]:
        """The code-point offsets of the characters that take more than one byte, their byte
        offsets, and the bytes beyond one that the first ``i`` of them take (``extra[i]``)."""
        if self._wide is None:
            chars: list[int] = []
            starts: list[int] = []
            extra = [0]
            text = self.text
            # Mostly ASCII: whole blocks are passed over at C speed, the others searched.
            for block in range(0, len(text), _WIDE_BLOCK):
                if text[block : block + _WIDE_BLOCK].isascii():
                    continue
                for match in _WIDE.finditer(text, block, block + _WIDE_BLOCK):
                    width = len(match.group().encode("utf-8", "surrogatepass")) - 1
                    chars.append(match.start())
                    starts.append(match.start() + extra[-1])
                    extra.append(extra[-1] + width)
            self._wide = (chars, starts, extra)
        return self._wide

    def point(self, offset: int) -> Point:
        """The code-point ``Point`` of a code-point offset."""
        offset = max(0, min(offset, len(self.text)))
        if self._lines is None and self._counted < _COUNTED_POINTS:
            # A few points of a text that has no line index yet are counted in place: an
            # index is a pass over every line (16 ms in a 5,000-line file on a busy machine),
            # a count the part before the offset at memory speed.
            self._counted += 1
            line_start = self.text.rfind("\n", 0, offset) + 1
            return Point(self.text.count("\n", 0, offset), offset - line_start)
        return self.lines.point(offset)

    def point_of_byte(self, byte: int) -> Point:
        return self.point(self.char(byte))

    def of(self, node: Node) -> str:
        """The text of a node."""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "surrogatepass")


_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def word_hits(data: bytes, word: str, start: int = 0, end: int | None = None) -> list[int]:
    """Byte offsets where ``word`` occurs as a whole word in ``data[start:end]``.

    ``bytes.find`` from hit to hit: a long text costs a scan at memory speed, not a regular
    expression's step per byte (ten times less on a 5,000-line file)."""
    return list(iter_word_hits(data, word, start, end))


def iter_word_hits(data: bytes, word: str, start: int = 0, end: int | None = None) -> Iterator[int]:
    """``word_hits`` one at a time, found as they are asked for: a reader that stops at the
    first hit it wants does not pay for the rest of a long text."""
    needle = word.encode("utf-8", "surrogatepass")
    size = len(needle)
    stop = len(data) if end is None else min(end, len(data))
    if not size:
        return
    position = data.find(needle, start, stop)
    while position != -1:
        after = position + size
        if (position == 0 or data[position - 1] not in _WORD_BYTES) and (
            after >= len(data) or data[after] not in _WORD_BYTES
        ):
            yield position
        position = data.find(needle, position + 1, stop)


def parse(source: Source, language_id: str, old_tree: Tree | None = None) -> Tree | None:
    parser = _parser(language_id)
    if parser is None:
        return None
    try:
        return parser.parse(source.data, old_tree) if old_tree else parser.parse(source.data)
    except (ValueError, RuntimeError):
        return None


def edited(
    tree: Tree, source: Source, start: int, old_end: int, new_text: str, language_id: str
) -> tuple[Source, Tree | None]:
    """The text and tree after replacing ``source.text[start:old_end]`` with ``new_text``,
    re-parsed incrementally from ``tree`` (which is left as it was)."""
    text = source.text[:start] + new_text + source.text[old_end:]
    after = Source(text)
    start_byte = source.byte(start)
    old_end_byte = source.byte(old_end)
    new_end_byte = start_byte + len(new_text.encode("utf-8", "surrogatepass"))
    copy = tree.copy()
    copy.edit(
        start_byte=start_byte,
        old_end_byte=old_end_byte,
        new_end_byte=new_end_byte,
        start_point=_ts_point(source.data, start_byte),
        old_end_point=_ts_point(source.data, old_end_byte),
        new_end_point=_ts_point(after.data, new_end_byte),
    )
    return after, parse(after, language_id, copy)


def _ts_point(data: bytes, byte: int) -> TSPoint:
    row = data.count(b"\n", 0, byte)
    return TSPoint(row, byte - (data.rfind(b"\n", 0, byte) + 1))


@dataclass(frozen=True, slots=True)
class EditTrees:
    """A recorded edit's texts and trees."""

    before: Source
    after: Source
    before_tree: Tree
    after_tree: Tree


class TreeCache:
    """Trees of recorded edits, derived from the current tree and kept for the next request."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], tuple[str, EditTrees]] = OrderedDict()

    def trees(
        self,
        edits: Sequence[RecordedEdit],
        current: Source,
        current_tree: Tree | None,
        before_tree: Callable[[RecordedEdit], Tree | None] | None = None,
    ) -> list[EditTrees | None]:
        """Trees of a document's edits (oldest first, the last one ending at ``current``).

        Each edit's trees are found from the next one's: the text before an edit is the text
        after the one before it, so one incremental re-parse per edit suffices, and none for
        an edit whose text before it has a tree already (``before_tree``: the tree the
        document had when the edit began, if any).
        """
        found: list[EditTrees | None] = [None] * len(edits)
        after_source: Source | None = current
        after_tree = current_tree
        for index in range(len(edits) - 1, -1, -1):
            edit = edits[index]
            cached = self._get(edit)
            if cached is not None:
                found[index] = cached
                after_source, after_tree = cached.before, cached.before_tree
                continue
            if after_source is None or (
                after_source.text is not edit.after and after_source.text != edit.after
            ):
                # Not the text the next edit started from (an edit fell out of the history):
                # this one is parsed whole.
                after_source = Source(edit.after)
                after_tree = parse(after_source, edit.language_id)
            if after_tree is None:
                break
            earlier = before_tree(edit) if before_tree is not None else None
            if earlier is not None:
                before_source = Source(edit.before)
            else:
                before_source, earlier = edited(
                    after_tree,
                    after_source,
                    edit.start,
                    edit.new_end,
                    edit.old_text,
                    edit.language_id,
                )
            if earlier is None:
                break
            trees = EditTrees(before_source, after_source, earlier, after_tree)
            self._put(edit, trees)
            found[index] = trees
            after_source, after_tree = before_source, earlier
        return found

    def _get(self, edit: RecordedEdit) -> EditTrees | None:
        with self._lock:
            entry = self._entries.get((edit.uri, edit.sequence))
            if entry is None or entry[0] is not edit.after:
                return None
            self._entries.move_to_end((edit.uri, edit.sequence))
            return entry[1]

    def _put(self, edit: RecordedEdit, trees: EditTrees) -> None:
        with self._lock:
            self._entries[(edit.uri, edit.sequence)] = (edit.after, trees)
            self._entries.move_to_end((edit.uri, edit.sequence))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_local = threading.local()


def _parser(language_id: str) -> Parser | None:
    # A parser is not safe to share between threads; each thread keeps its own per language.
    parsers: dict[str, Parser | None] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    if language_id not in parsers:
        parsers[language_id] = new_parser(language_id)
    return parsers[language_id]

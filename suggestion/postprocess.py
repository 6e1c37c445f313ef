"""What every suggestion goes through before it is shown, whatever engine made it.

Boundary: text and tree-sitter trees in, a cleaned suggestion (or None) out; no I/O, never
raises on broken code. In order:

1. trailing whitespace is dropped and the text is held to ``max_lines`` lines;
2. what the suggestion repeats of the text after the cursor is dropped: the closing characters
   that are already on the line, and a suggestion whose line is already the next line or simply
   repeats the line above (a model looping on what it just saw);
3. a multi-line suggestion is cut at the last line end where a syntactic construct ends
   (tree-sitter: a named node ends exactly there), so it never stops in the middle of one;
4. a suggestion that closes every bracket it opens must leave code that parsed still parsing
   (one that leaves a bracket open is unfinished on purpose: the developer goes on typing).

Steps 3 and 4 parse the construct around the cursor, not the file: the lines of the outermost
indentation level whose block around the cursor holds at most ``WINDOW_LINES`` lines (a
top-level function, else a method, else a statement's body), dedented, before and after the
suggestion goes in. A request costs the same in a 10,000-line file as in a 100-line one; a
window that does not parse on its own (it began inside a string, say) checks nothing, as a
file that did not parse checks nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

from tree_sitter import Node, Parser, Tree
from tree_sitter import Point as TSPoint

from tactful.analyzers.languages import new_parser, parse_within
from tactful.analyzers.text import LineIndex, Point, utf8_length
from tactful.analyzers.tokens import NORMAL, tokenize_line
from tactful.suggestion.types import CompletionRequest, Suggestion

logger = logging.getLogger(__name__)

# The most lines parsed around the cursor (tree-sitter parses 100 lines of Python in about
# half a millisecond, 5,000 in twenty).
WINDOW_LINES = 160
# Lines that carry on the construct above them at their indentation rather than start one.
_CARRIES_ON = re.compile(r"(?:else|elif|except|finally)\b|[)\]}]")
_COMMENT = re.compile(r"#|//|/\*|\*")
# A completion waits for these parses: past this, its text is not checked (nor cut) by them.
_PARSE_BUDGET_S = 0.1
_OPENERS = frozenset("([{")
_CLOSERS = frozenset(")]}")
_HAS_WORD = re.compile(r"\w")

_parsers: dict[str, Parser | None] = {}


# Why a suggestion is dropped.
PAST_THE_END = "the cursor is past the end of the text"
ALREADY_THERE = "the text after the cursor already holds it"
REPEATS = "it repeats the line above or the next line"
NO_BOUNDARY = "nothing is left before a syntactic boundary"
BREAKS_PARSE = "it breaks a file that parsed"
FAILED = "post-processing failed"


class _Lines:
    """The request's text line by line: through the document's line index when the caller
    has it (a line is then a slice, found in constant time however long the file), else split
    once."""

    __slots__ = ("_index", "_split", "_text")

    def __init__(self, text: str, index: LineIndex | None) -> None:
        self._text = text
        self._index = index
        self._split = text.split("\n") if index is None else None

    def __len__(self) -> int:
        return len(self._split) if self._split is not None else self._index.line_count()  # type: ignore[union-attr]

    def __getitem__(self, line: int) -> str:
        if self._split is not None:
            return self._split[line]
        return self._index.line_text(line, self._text)  # type: ignore[union-attr]

    def range(self, first: int, stop: int) -> list[str]:
        """Lines ``first:stop``."""
        if self._split is not None:
            return self._split[max(first, 0) : stop]
        return self._index.line_texts(first, stop, self._text)  # type: ignore[union-attr]

    def offset(self, row: int, column: int) -> int:
        """Code-point offset of ``(row, column)``."""
        if self._index is not None:
            return self._index.offset(Point(row, column), self._text)
        split = self._split or []
        return sum(len(line) + 1 for line in split[:row]) + column


def clean(
    request: CompletionRequest, suggestion: Suggestion, lines: LineIndex | None = None
) -> Suggestion | None:
    """The suggestion as it may be shown, or None when nothing of it should be."""
    return check(request, suggestion, lines)[0]


def check(
    request: CompletionRequest, suggestion: Suggestion, lines: LineIndex | None = None
) -> tuple[Suggestion | None, str]:
    """The suggestion as it may be shown, or None and why nothing of it should be.
    ``lines`` is the document's line index for the request's text, when the caller has it."""
    try:
        return _clean(request, suggestion, _Lines(request.text, lines))
    except Exception:
        logger.exception("post-processing failed; dropping the suggestion")
        return None, FAILED


def _clean(
    request: CompletionRequest, suggestion: Suggestion, lines: _Lines
) -> tuple[Suggestion | None, str]:
    row, column = request.position.line, request.position.column
    if row >= len(lines):
        return None, PAST_THE_END
    line = lines[row]
    prefix, after = line[:column], line[column:]
    text = suggestion.text.replace("\r\n", "\n").rstrip()
    text_lines = text.split("\n")[: max(1, request.max_lines)]
    if after.strip():
        # Text after the cursor on the line: only the rest of this line can be suggested.
        text_lines = text_lines[:1]
    text = "\n".join(text_lines)
    text = _without_suffix_overlap(text, after)
    if not text.strip() or after.startswith(text):
        return None, ALREADY_THERE
    text = _without_repeats(text, prefix, lines, row)
    if not text.strip():
        return None, REPEATS
    if "\n" in text:
        text = _cut_at_boundary(request, text, lines)
        if not text.strip():
            return None, NO_BOUNDARY
    if _closes_what_it_opens(prefix + text, request.language_id) and _breaks_parse(
        request, text, lines
    ):
        return None, BREAKS_PARSE
    if text == suggestion.text:
        return suggestion, ""
    kind = "lines" if "\n" in text else suggestion.kind
    return replace(suggestion, text=text, kind=kind), ""


def _without_suffix_overlap(text: str, after: str) -> str:
    """Drop the end of ``text`` that the characters after the cursor already provide."""
    head = after.strip()
    if not head:
        return text
    stripped_after = after.lstrip()
    for size in range(len(stripped_after), 0, -1):
        piece = stripped_after[:size]
        if text.endswith(piece) and not _HAS_WORD.search(piece):
            return text[: len(text) - size].rstrip()
    return text


def _without_repeats(text: str, prefix: str, lines: _Lines, row: int) -> str:
    """Cut the suggestion at the first line that repeats the line before it, or that is
    already the next line of the document."""
    suggested = text.split("\n")
    whole = [prefix + suggested[0], *suggested[1:]]
    above = next((lines[i] for i in range(row - 1, -1, -1) if lines[i].strip()), None)
    below = next((lines[i] for i in range(row + 1, len(lines)) if lines[i].strip()), None)
    kept: list[str] = []
    previous = above
    for candidate in whole:
        bare = candidate.strip()
        if bare and _HAS_WORD.search(bare):
            if previous is not None and bare == previous.strip():
                break
            if below is not None and bare == below.strip():
                break
        kept.append(candidate)
        if bare:
            previous = candidate
    if not kept:
        return ""
    kept[0] = kept[0][len(prefix) :]
    return "\n".join(kept).rstrip()


def _closes_what_it_opens(text: str, language_id: str) -> bool:
    depth = 0
    state = NORMAL
    for line in text.split("\n"):
        tokens, state = tokenize_line(line, language_id, state)
        for token in tokens:
            bare = token.lstrip(" \t")
            if bare in _OPENERS:
                depth += 1
            elif bare in _CLOSERS:
                depth -= 1
    return depth <= 0 and state == NORMAL


def _parser(language_id: str) -> Parser | None:
    if language_id not in _parsers:
        _parsers[language_id] = new_parser(language_id)
    return _parsers[language_id]


@dataclass(frozen=True, slots=True)
class _Window:
    """Lines ``first:stop`` of those read around the cursor, less ``indent`` columns."""

    first: int
    stop: int
    indent: int


def _indent_of(line: str) -> int | None:
    """The indentation of a line that holds code (None: blank or a comment)."""
    bare = line.lstrip(" \t")
    if not bare or _COMMENT.match(bare):
        return None
    return len(line) - len(bare)


def _window(lines: list[str], row: int, prefix_indent: int, to_end: bool) -> _Window | None:
    """The block around line ``row`` of ``lines`` to parse: for the least indentation that has
    one of at most ``WINDOW_LINES`` lines, from the nearest line above at that indentation
    that starts a construct to the first line below that leaves it (``to_end``: ``lines``
    reach the end of the text, which also ends a block)."""
    own = _indent_of(lines[row])
    own = prefix_indent if own is None else min(own, prefix_indent)
    # The nearest line at or above the cursor's that starts a construct, per indentation.
    starts: dict[int, int] = {own: row}
    least = own
    for number in range(row - 1, -1, -1):
        if least == 0 and 0 in starts:
            break  # a construct at the left margin holds the cursor: nothing above counts
        line = lines[number]
        indent = _indent_of(line)
        if indent is None or indent > least:
            continue
        if indent < least or indent not in starts:
            if _CARRIES_ON.match(line, indent):
                least = indent
                continue
            starts[indent] = number
            least = indent
    for indent in sorted(starts):
        first = starts[indent]
        stop = len(lines) if to_end else None
        for number in range(row + 1, len(lines)):
            line = lines[number]
            found = _indent_of(line)
            if found is not None and found <= indent and not _CARRIES_ON.match(line, found):
                stop = number
                break
        if stop is not None and stop - first <= WINDOW_LINES:
            return _Window(first, stop, indent)
    return None


def _dedent(line: str, indent: int) -> str:
    head = line[:indent]
    return line[indent:] if not head.strip(" \t") else line.lstrip(" \t")


@dataclass(frozen=True, slots=True)
class _Parsed:
    """The window parsed before and after the suggestion went in; ``ends``: where each of the
    suggestion's lines ends, in the bytes of the window as parsed after."""

    before: Tree
    after: Tree
    ends: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Surroundings:
    """The window around a request's cursor, dedented, parsed as it is: what every suggestion
    for the request is checked against (the same for each, so made once)."""

    indent: int
    above: int
    cursor_line: str
    head_bytes: bytes
    tail_bytes: bytes
    before: Tree


# The surroundings of the last request checked: its suggestions are checked one after the
# other, each maybe twice (the cut, then the parse), against the same window.
_last: tuple[CompletionRequest, _Surroundings | None] | None = None


def _surroundings(request: CompletionRequest, lines: _Lines) -> _Surroundings | None:
    global _last
    last = _last
    if last is not None and last[0] is request:
        return last[1]
    found = _find_surroundings(request, lines)
    _last = (request, found)
    return found


def _find_surroundings(request: CompletionRequest, lines: _Lines) -> _Surroundings | None:
    parser = _parser(request.language_id)
    if parser is None:
        return None
    row, column = request.position.line, request.position.column
    top = max(0, row - WINDOW_LINES)
    bottom = min(len(lines), row + WINDOW_LINES + 1)
    around = lines.range(top, bottom)
    line = around[row - top]
    prefix = line[:column]
    indent_typed = len(prefix) - len(prefix.lstrip(" \t"))
    window = _window(around, row - top, indent_typed, bottom == len(lines))
    if window is None:
        return None
    indent = window.indent
    above = [_dedent(around[n], indent) for n in range(window.first, row - top)]
    cursor_line = _dedent(prefix, indent)
    rest = line[column:]
    below = [_dedent(around[n], indent) for n in range(row - top + 1, window.stop)]
    head = "".join(f"{above_line}\n" for above_line in above) + cursor_line
    tail = rest + "".join(f"\n{below_line}" for below_line in below) + "\n"
    head_bytes = head.encode("utf-8", "surrogatepass")
    tail_bytes = tail.encode("utf-8", "surrogatepass")
    before = _parse_window(parser, request.language_id, head_bytes + tail_bytes)
    if before is None:
        return None
    return _Surroundings(indent, len(above), cursor_line, head_bytes, tail_bytes, before)


# The last window parsed (language, bytes, tree; the tree is never edited, only copies of it):
# the next request's window is mostly the same text (a character typed since), and a parse
# from the last tree, edited where the texts differ, re-reads only around the difference.
_last_window: tuple[str, bytes, Tree] | None = None
# A difference longer than this is parsed from scratch, within the parse budget.
_REPARSE_BYTES = 2048


def _parse_window(parser: Parser, language_id: str, source: bytes) -> Tree | None:
    """``source`` parsed: from the last window's tree when the two differ by little (a parse
    of a 160-line window from scratch costs a few hundred microseconds, on the event loop),
    else from scratch within ``_PARSE_BUDGET_S``."""
    global _last_window
    last = _last_window
    tree = None
    if last is not None and last[0] == language_id:
        old = last[1]
        if old == source:
            return last[2]
        start = _common_prefix(old, source)
        same_end = _common_suffix(old, source, min(len(old), len(source)) - start)
        old_end, new_end = len(old) - same_end, len(source) - same_end
        if max(old_end, new_end) - start <= _REPARSE_BYTES:
            edited = last[2].copy()
            edited.edit(
                start_byte=start,
                old_end_byte=old_end,
                new_end_byte=new_end,
                start_point=_point_at(old, start),
                old_end_point=_point_at(old, old_end),
                new_end_point=_point_at(source, new_end),
            )
            tree = parse_within(parser, source, edited)
    if tree is None:
        tree = parse_within(parser, source, budget_s=_PARSE_BUDGET_S)
    if tree is not None:
        _last_window = (language_id, source, tree)
    return tree


def _common_prefix(a: bytes, b: bytes) -> int:
    """How many bytes ``a`` and ``b`` start with alike (slices compared, halving the range)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """How many bytes (at most ``limit``) ``a`` and ``b`` end with alike."""
    low, high = 0, max(limit, 0)
    end_a, end_b = len(a), len(b)
    while low < high:
        middle = (low + high + 1) // 2
        if a[end_a - middle : end_a - low] == b[end_b - middle : end_b - low]:
            low = middle
        else:
            high = middle - 1
    return low


def _point_at(source: bytes, offset: int) -> TSPoint:
    """Row and byte column of ``offset`` in ``source``."""
    return TSPoint(source.count(b"\n", 0, offset), offset - (source.rfind(b"\n", 0, offset) + 1))


def _with_insertion(request: CompletionRequest, text: str, lines: _Lines) -> _Parsed | None:
    around = _surroundings(request, lines)
    if around is None:
        return None
    parser = _parser(request.language_id)
    assert parser is not None
    indent, before = around.indent, around.before
    head_bytes, tail_bytes = around.head_bytes, around.tail_bytes
    text_lines = text.split("\n")
    inserted_text = "\n".join([text_lines[0], *(_dedent(t, indent) for t in text_lines[1:])])
    inserted = inserted_text.encode("utf-8", "surrogatepass")
    start_byte = len(head_bytes)
    start_point = TSPoint(around.above, utf8_length(around.cursor_line))
    new_lines = inserted_text.split("\n")
    end_row = around.above + len(new_lines) - 1
    end_column = (start_point.column if len(new_lines) == 1 else 0) + utf8_length(new_lines[-1])
    edited = before.copy()
    edited.edit(
        start_byte=start_byte,
        old_end_byte=start_byte,
        new_end_byte=start_byte + len(inserted),
        start_point=start_point,
        old_end_point=start_point,
        new_end_point=TSPoint(end_row, end_column),
    )
    after = parse_within(parser, head_bytes + inserted + tail_bytes, edited)
    if after is None:
        return None
    ends = []
    position = start_byte
    for piece in new_lines:
        position += utf8_length(piece)
        ends.append(position)
        position += 1
    return _Parsed(before, after, tuple(ends))


def _breaks_parse(request: CompletionRequest, text: str, lines: _Lines) -> bool:
    parsed = _with_insertion(request, text, lines)
    if parsed is None:
        return False
    return not parsed.before.root_node.has_error and parsed.after.root_node.has_error


def _cut_at_boundary(request: CompletionRequest, text: str, lines: _Lines) -> str:
    """Keep the suggestion up to the last line end where a construct ends; the first line
    alone when there is none."""
    parsed = _with_insertion(request, text, lines)
    text_lines = text.split("\n")
    if parsed is None:
        return text_lines[0]
    root = parsed.after.root_node
    for count in range(len(text_lines), 1, -1):
        if _construct_ends_at(root, parsed.ends[count - 1]):
            return "\n".join(text_lines[:count])
    return text_lines[0]


def _construct_ends_at(root: Node, end_byte: int) -> bool:
    if end_byte <= 0:
        return False
    node = root.descendant_for_byte_range(end_byte - 1, end_byte)
    if node is None or node.end_byte != end_byte:
        return False
    while node.parent is not None and node.parent.end_byte == end_byte:
        node = node.parent
        last = node.named_children[-1] if node.named_child_count else None
        if last is not None and last.start_byte == last.end_byte:
            # An empty body the parser let pass (``def g():`` at the end): the construct has
            # only just opened.
            return False
    return node.is_named and not node.is_error and not node.has_error

"""What every suggestion goes through before it is shown, whatever engine made it.

Boundary: text and tree-sitter trees in, a cleaned suggestion (or None) out; no I/O, never
raises on broken code. In order:

1. trailing whitespace is dropped and the text is held to ``max_lines`` lines;
2. what the suggestion repeats of the text after the cursor is dropped: the closing characters
   that are already on the line, and a suggestion whose line is already the next line or simply
   repeats the line above (a model looping on what it just saw);
3. a multi-line suggestion is cut at the last line end where a syntactic construct ends
   (tree-sitter: a named node ends exactly there), so it never stops in the middle of one;
4. a suggestion that closes every bracket it opens must leave a file that parsed still parsing
   (one that leaves a bracket open is unfinished on purpose: the developer goes on typing).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from tree_sitter import Node, Parser, Tree
from tree_sitter import Point as TSPoint

from tactful.analyzers.languages import new_parser, parse_within
from tactful.analyzers.text import utf8_length
from tactful.analyzers.tokens import NORMAL, tokenize_line
from tactful.suggestion.types import CompletionRequest, Suggestion

logger = logging.getLogger(__name__)

# Above this size a document without a tree is not parsed from scratch for the check.
_MAX_FRESH_PARSE = 256 * 1024
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


def clean(
    request: CompletionRequest, suggestion: Suggestion, tree: Tree | None = None
) -> Suggestion | None:
    """The suggestion as it may be shown, or None when nothing of it should be."""
    return check(request, suggestion, tree)[0]


def check(
    request: CompletionRequest, suggestion: Suggestion, tree: Tree | None = None
) -> tuple[Suggestion | None, str]:
    """The suggestion as it may be shown, or None and why nothing of it should be."""
    try:
        return _clean(request, suggestion, tree)
    except Exception:
        logger.exception("post-processing failed; dropping the suggestion")
        return None, FAILED


def _clean(
    request: CompletionRequest, suggestion: Suggestion, tree: Tree | None
) -> tuple[Suggestion | None, str]:
    lines = request.text.split("\n")
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
        text = _cut_at_boundary(request, text, tree)
        if not text.strip():
            return None, NO_BOUNDARY
    if _closes_what_it_opens(prefix + text, request.language_id) and _breaks_parse(
        request, text, tree
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


def _without_repeats(text: str, prefix: str, lines: list[str], row: int) -> str:
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


def _with_insertion(
    request: CompletionRequest, text: str, tree: Tree | None
) -> tuple[Tree, Tree, int, int] | None:
    """(tree before, tree after, insertion start byte, insertion end byte)."""
    parser = _parser(request.language_id)
    if parser is None:
        return None
    source = request.text
    lines = source.split("\n")
    row, column = request.position.line, request.position.column
    offset = sum(len(line) + 1 for line in lines[:row]) + column
    before_bytes = source.encode("utf-8", "surrogatepass")
    if tree is None:
        if len(before_bytes) > _MAX_FRESH_PARSE:
            return None
        tree = parse_within(parser, before_bytes, budget_s=_PARSE_BUDGET_S)
        if tree is None:
            return None
    start_byte = utf8_length(source[:offset])
    inserted = utf8_length(text)
    new_bytes = (
        before_bytes[:start_byte]
        + text.encode("utf-8", "surrogatepass")
        + before_bytes[start_byte:]
    )
    start_point = TSPoint(row, utf8_length(lines[row][:column]))
    text_lines = text.split("\n")
    end_row = row + len(text_lines) - 1
    end_column = (start_point.column if len(text_lines) == 1 else 0) + utf8_length(text_lines[-1])
    edited = tree.copy()
    edited.edit(
        start_byte=start_byte,
        old_end_byte=start_byte,
        new_end_byte=start_byte + inserted,
        start_point=start_point,
        old_end_point=start_point,
        new_end_point=TSPoint(end_row, end_column),
    )
    after = parse_within(parser, new_bytes, edited, budget_s=_PARSE_BUDGET_S)
    if after is None:
        return None
    return tree, after, start_byte, start_byte + inserted


def _breaks_parse(request: CompletionRequest, text: str, tree: Tree | None) -> bool:
    if tree is not None and tree.root_node.has_error:
        return False  # it did not parse before: nothing to break (and no parse to pay for)
    parsed = _with_insertion(request, text, tree)
    if parsed is None:
        return False
    before, after, _start, _end = parsed
    return not before.root_node.has_error and after.root_node.has_error


def _cut_at_boundary(request: CompletionRequest, text: str, tree: Tree | None) -> str:
    """Keep the suggestion up to the last line end where a construct ends; the first line
    alone when there is none."""
    parsed = _with_insertion(request, text, tree)
    text_lines = text.split("\n")
    if parsed is None:
        return text_lines[0]
    _before, after, start, _end = parsed
    root = after.root_node
    ends: list[int] = []
    position = start
    for line in text_lines:
        position += utf8_length(line)
        ends.append(position)
        position += 1
    for count in range(len(text_lines), 1, -1):
        if _construct_ends_at(root, ends[count - 1]):
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

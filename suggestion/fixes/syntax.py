"""Repairs for syntax errors, located with tree-sitter and ``compile``.

Boundary: proposes small textual repairs near a syntax error (a missing bracket, colon, comma
or quote; a stray indent; an empty block) and keeps only those after which the file compiles.
It never runs the code and never raises on broken input: broken input is all it sees. The
repairs are proposals; the execution judge decides whether they are shown.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

from tactful.analyzers.findings import Applicability, Finding, Fix
from tactful.analyzers.languages import new_parser, parse_within
from tactful.analyzers.text import Edit, LineIndex, Point, Span

logger = logging.getLogger(__name__)

_CLOSERS = {"(": ")", "[": "]", "{": "}"}
MAX_REPAIRS = 4
# Every candidate is checked by compiling the whole file: above this size, or past this time,
# no repair is proposed (a megabyte of random bytes kept a worker here for over a minute).
MAX_REPAIRED_CHARS = 300_000
REPAIR_BUDGET_S = 1.0


def compiles(text: str) -> bool:
    try:
        compile(text, "<file>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def first_error(text: str) -> SyntaxError | None:
    try:
        compile(text, "<file>", "exec", dont_inherit=True)
    except SyntaxError as error:
        return error
    except ValueError:
        return SyntaxError("source code cannot contain null bytes")
    return None


def propose(finding: Finding, text: str) -> list[Fix]:
    """Repairs after which ``text`` compiles, smallest first (at most a few); none for a text
    over ``MAX_REPAIRED_CHARS``, and only those found within ``REPAIR_BUDGET_S``."""
    if len(text) > MAX_REPAIRED_CHARS:
        return []
    deadline = time.monotonic() + REPAIR_BUDGET_S
    error = first_error(text)
    if error is None:
        return []
    lines = text.split("\n")
    seen: set[str] = set()
    fixes: list[Fix] = []
    for title, edit in _candidates(error, text, lines):
        if time.monotonic() > deadline:
            logger.info("syntax repairs of %s: out of time after %d", finding.path, len(fixes))
            break
        candidate = _apply(text, edit)
        if candidate in seen or not compiles(candidate):
            continue
        seen.add(candidate)
        fixes.append(
            Fix(
                title,
                (Edit(finding.path, edit.span, edit.new_text),),
                Applicability.UNSAFE,
                "recipe",
            )
        )
        if len(fixes) >= MAX_REPAIRS:
            break
    return fixes


def _apply(text: str, edit: Edit) -> str:
    index = LineIndex(text)
    start = index.offset(edit.span.start, text)
    end = index.offset(edit.span.end, text)
    return text[:start] + edit.new_text + text[end:]


def _insert(line: int, column: int, new_text: str) -> Edit:
    point = Point(line, column)
    return Edit("", Span(point, point), new_text)


def _candidates(error: SyntaxError, text: str, lines: list[str]) -> Iterator[tuple[str, Edit]]:
    message = (error.msg or "").lower()
    line = max((error.lineno or 1) - 1, 0)
    line = min(line, len(lines) - 1)
    column = max((error.offset or 1) - 1, 0)
    code_end = _code_end(lines[line])

    opened = re.search(r"'([(\[{])' was never closed", error.msg or "")
    if opened:
        closer = _CLOSERS[opened.group(1)]
        yield f"Close the `{opened.group(1)}` with `{closer}`", _insert(line, code_end, closer)
    if "expected ':'" in message or "expected ':'" in (error.msg or ""):
        yield "Add the missing `:`", _insert(line, code_end, ":")
    if "forgot a comma" in message:
        end = (
            (error.end_offset or len(lines[line]) + 1) - 1
            if error.end_lineno == error.lineno
            else len(lines[line])
        )
        for gap in range(column + 1, min(end, len(lines[line]))):
            if lines[line][gap] == " " and lines[line][gap - 1] != " ":
                yield "Add the missing `,`", _insert(line, gap, ",")
    if "unterminated string" in message:
        quote = _open_quote(lines[line])
        if quote:
            yield f"Close the string with `{quote}`", _insert(line, code_end, quote)
    if "unexpected indent" in message:
        previous = _previous_code_line(lines, line)
        indent = _indent(lines[previous]) if previous is not None else ""
        yield (
            "Remove the unexpected indent",
            Edit("", Span(Point(line, 0), Point(line, len(_indent(lines[line])))), indent),
        )
    if "unindent does not match" in message or "inconsistent use of tabs" in message:
        previous = _previous_code_line(lines, line)
        if previous is not None:
            yield (
                "Align the indentation",
                Edit(
                    "",
                    Span(Point(line, 0), Point(line, len(_indent(lines[line])))),
                    _indent(lines[previous]),
                ),
            )
    if "expected an indented block" in message:
        header = _previous_code_line(lines, line + 1 if not lines[line].strip() else line)
        if header is not None and lines[header].rstrip().endswith(":"):
            indent = _indent(lines[header]) + "    "
            if lines[line].strip() and header < line:
                current = Span(Point(line, 0), Point(line, len(_indent(lines[line]))))
                yield "Indent the block", Edit("", current, indent)
            yield (
                "Add `pass` to the empty block",
                _insert(header, len(lines[header]), f"\n{indent}pass"),
            )
    yield from _missing_nodes(text, lines)
    # Generic: a closer for the innermost bracket left open at the error line.
    unclosed = _unclosed_bracket(lines, line)
    if unclosed:
        yield f"Close the `{unclosed}`", _insert(line, code_end, _CLOSERS[unclosed])


def _missing_nodes(text: str, lines: list[str]) -> Iterator[tuple[str, Edit]]:
    """tree-sitter's MISSING nodes: tokens the parser recovered by assuming they were there."""
    parser = new_parser("python")
    if parser is None:
        return
    tree = parse_within(parser, text.encode("utf-8", "surrogatepass"))
    if tree is None:
        return
    index = LineIndex(text)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing and node.type and not node.type.isidentifier():
            point = index.point_of_byte(node.start_byte, text)
            yield f"Insert the missing `{node.type}`", _insert(point.line, point.column, node.type)
        elif node.has_error:
            stack.extend(reversed(node.children))


def _code_end(line_text: str) -> int:
    """Column where the code of a line ends (before a trailing comment and spaces)."""
    in_string: str | None = None
    for index, ch in enumerate(line_text):
        if in_string:
            if ch == in_string:
                in_string = None
        elif ch in "\"'":
            in_string = ch
        elif ch == "#":
            return len(line_text[:index].rstrip())
    return len(line_text.rstrip())


def _open_quote(line_text: str) -> str | None:
    in_string: str | None = None
    for ch in line_text:
        if in_string:
            if ch == in_string:
                in_string = None
        elif ch in "\"'":
            in_string = ch
    return in_string


def _indent(line_text: str) -> str:
    return line_text[: len(line_text) - len(line_text.lstrip(" \t"))]


def _previous_code_line(lines: list[str], line: int) -> int | None:
    for number in range(min(line, len(lines)) - 1, -1, -1):
        stripped = lines[number].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return None


def _unclosed_bracket(lines: list[str], line: int) -> str | None:
    stack: list[str] = []
    for text in lines[: line + 1]:
        in_string: str | None = None
        for ch in text:
            if in_string:
                if ch == in_string:
                    in_string = None
                continue
            if ch in "\"'":
                in_string = ch
            elif ch == "#":
                break
            elif ch in _CLOSERS:
                stack.append(ch)
            elif ch in _CLOSERS.values() and stack and _CLOSERS[stack[-1]] == ch:
                stack.pop()
    return stack[-1] if stack else None

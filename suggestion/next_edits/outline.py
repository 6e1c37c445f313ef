"""The text ruff checks a next edit on: the file with the bodies of the functions the edit does
not touch folded away, so that a check costs what the touched functions cost, not the file.

Boundary: tree-sitter (Python only) and plain text; no I/O. ``checks.py`` runs ruff on the
outline of the text before the candidates and on the outline of each candidate's text, and
compares their findings as it compared the whole texts'.

What stays, line for line (line numbers do not move, so findings are matched by line as
before): every line outside function bodies (imports, module and class statements, decorators
and signatures with their defaults and annotations) and the whole of every function that holds
a line an edit touches. A function that holds none keeps its ``def`` line; its body becomes one
line that names every variable it used (``(os, path, self,)``) followed by blank lines. So a
name the edit leaves undefined is still found where another function uses it (F821 on that
line), and an import still used in a folded function is still used (no F401); what the folded
bodies had on their own lines is gone from both texts alike, so it cannot read as new. What can
differ from ruff on the whole file is confined to rules that look across functions at more than
names (a name used only in an annotation inside a folded body counts as a use): those are not
in ruff's default rules (``tests/test_next_edits_checks.py`` compares both on every rule ruff
reports there).
"""

from __future__ import annotations

import keyword
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from tree_sitter import Node, Query, QueryCursor, Tree

from tactful.analyzers.languages import grammar

# Statements a function definition may sit in (the others hold none worth folding apart).
_CONTAINERS = frozenset(
    {
        "module",
        "block",
        "class_definition",
        "decorated_definition",
        "if_statement",
        "elif_clause",
        "else_clause",
        "try_statement",
        "except_clause",
        "except_group_clause",
        "finally_clause",
        "with_statement",
        "for_statement",
        "while_statement",
    }
)
# A file shorter than this is checked whole: ruff takes a few milliseconds on it anyway.
MIN_LINES = 200


@dataclass(frozen=True, slots=True)
class Fold:
    """One function body folded: lines ``first`` to ``last`` (zero-based, inclusive) become
    ``line`` followed by blank lines."""

    first: int
    last: int
    line: str


@dataclass(frozen=True, slots=True)
class Outline:
    """The folds of one text, in order, for edits on lines that no fold touches."""

    folds: tuple[Fold, ...]

    def of(self, text: str, edits: Sequence[tuple[int, int, int]] = ()) -> str:
        """``text`` folded. ``edits``: ``(first line, last line, lines added)`` of the edits
        that made ``text`` from the text the folds were found in (their lines in that text):
        the folds after them move by the lines they added."""
        if not self.folds:
            return text
        lines = text.split("\n")
        moves = sorted(edits)
        for fold in self.folds:
            shift = sum(added for first, last, added in moves if last < fold.first)
            first, last = fold.first + shift, fold.last + shift
            if last >= len(lines):
                break
            lines[first] = fold.line
            for row in range(first + 1, last + 1):
                lines[row] = ""
        return "\n".join(lines)


EMPTY = Outline(())


def outline(text: str, data: bytes, tree: Tree | None, keep: Sequence[tuple[int, int]]) -> Outline:
    """The folds of ``text`` (a Python file, its UTF-8 bytes and its tree) that leave whole
    every function holding a line of ``keep`` (``(first, last)`` line ranges, inclusive)."""
    if tree is None or text.count("\n") < MIN_LINES:
        return EMPTY
    bodies: list[tuple[Node, Node]] = []  # (function, body) of each function folded
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        for child in node.children:
            if child.type == "function_definition":
                body = child.child_by_field_name("body")
                if body is not None and not _touched(child, keep):
                    bodies.append((child, body))
            elif child.type in _CONTAINERS:
                stack.append(child)
    if not bodies:
        return EMPTY
    lines = text.split("\n")
    folds: list[tuple[int, int, str, int, int]] = []  # bytes, indent, lines
    for function, body in bodies:
        first, last = body.start_point[0], body.end_point[0]
        if first <= function.start_point[0] or first >= len(lines):
            continue  # ``def f(): return x``: the body shares the ``def`` line
        line = lines[first]
        indent = line[: len(line) - len(line.lstrip())]
        if len(indent) != body.start_point[1]:
            continue  # something before the body on its line
        folds.append((body.start_byte, body.end_byte, indent, first, last))
    folds.sort()
    names = _names_by_fold(tree, data, [(start, end) for start, end, *_ in folds])
    return Outline(
        tuple(
            Fold(first, last, indent + (f"({', '.join(sorted(used))},)" if used else "pass"))
            for (_start, _end, indent, first, last), used in zip(folds, names, strict=True)
        )
    )


def _touched(function: Node, keep: Sequence[tuple[int, int]]) -> bool:
    start, end = function.start_point[0], function.end_point[0]
    return any(first <= end and start <= last for first, last in keep)


def _names_by_fold(tree: Tree, data: bytes, ranges: list[tuple[int, int]]) -> list[set[str]]:
    """The variables each byte range uses or binds (identifiers, not ``x.name`` nor
    ``name=``), found by one query over the file."""
    found: list[set[str]] = [set() for _ in ranges]
    query = _query()
    if query is None or not ranges:
        return found
    captures = QueryCursor(query).captures(tree.root_node)
    skipped = {node.start_byte for node in captures.get("skip", [])}
    starts = [start for start, _ in ranges]
    for node in captures.get("name", []):
        start = node.start_byte
        if start in skipped:
            continue
        index = bisect_right(starts, start) - 1
        if index < 0 or node.end_byte > ranges[index][1]:
            continue
        name = data[start : node.end_byte].decode("utf-8", "surrogatepass")
        if name.isidentifier() and not keyword.iskeyword(name):
            found[index].add(name)
    return found


@cache
def _query() -> Query | None:
    language = grammar("python")
    if language is None:
        return None
    return Query(
        language,
        "(identifier) @name "
        "(attribute attribute: (identifier) @skip) "
        "(keyword_argument name: (identifier) @skip)",
    )

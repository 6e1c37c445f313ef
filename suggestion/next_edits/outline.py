"""The text ruff checks a next edit on: the file with the bodies of the functions the edit does
not touch folded away, so that a check costs what the touched functions cost, not the file.

Boundary: tree-sitter (Python only) and plain text; no I/O. ``checks.py`` runs ruff on the
outline of the text before the candidates and on the outline of each candidate's text, and
compares their findings as it compared the whole texts'.

What stays, line for line (line numbers do not move, so findings are matched by line as
before): every line outside function bodies (imports, module and class statements, decorators
and signatures with their defaults and annotations) and the whole of every function that holds
a line an edit touches. A function that holds none keeps its ``def`` line; its body becomes one
line naming the module's names it used (``return (os, Path,)``: names bound at module level or
written by a candidate) followed by blank lines. So a name an edit leaves undefined is still
found where another function uses it (F821 on that line), and an import still used in a folded
function is still used (no F401); what the folded bodies had on their own lines is gone from
both texts alike, so it cannot read as new. What can differ from ruff on the whole file is
confined to rules that look across functions at more than names (a name used only in an
annotation inside a folded body counts as a use); ``tests/test_next_edits_checks.py`` compares
both, with ruff's default rules and with all of them.

Cost: the names each function body uses are found by one tree-sitter query over that body and
kept by the body's content, so after an edit only the function edited is read again.
"""

from __future__ import annotations

import hashlib
import keyword
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
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
_DEFINITIONS = frozenset({"function_definition", "class_definition"})
# A file shorter than this is checked whole: ruff takes a few milliseconds on it anyway.
MIN_LINES = 200
_WORD = re.compile(r"[^\W\d]\w*")


@dataclass(frozen=True, slots=True)
class Outline:
    """A text's outline: ``text``, and the folds (``(start, end)`` in the text, the code
    points each one removed) that map an offset outside them into it."""

    text: str
    folds: tuple[tuple[int, int, int], ...] = ()

    def edited(self, start: int, end: int, new_text: str) -> str:
        """The outline of the text with ``[start, end)`` (outside every fold) replaced by
        ``new_text``."""
        return self.text[: self._at(start)] + new_text + self.text[self._at(end) :]

    def _at(self, offset: int) -> int:
        return offset - sum(removed for _start, end, removed in self.folds if end <= offset)


class Outliner:
    """Makes outlines, remembering the names each function body uses by its content."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._names: OrderedDict[bytes, frozenset[str]] = OrderedDict()

    def outline(
        self,
        text: str,
        data: bytes,
        tree: Tree | None,
        keep: Sequence[tuple[int, int]],
        written: Iterable[str] = (),
    ) -> Outline:
        """The outline of ``text`` (a Python file, its UTF-8 bytes and its tree) that leaves
        whole every function holding a line of ``keep`` (``(first, last)`` line ranges,
        inclusive). ``written``: the texts the candidates write (a name they bind counts as a
        module name)."""
        if tree is None or text.count("\n") < MIN_LINES:
            return Outline(text)
        bodies, module = self._walk(tree.root_node, data, keep)
        if not bodies:
            return Outline(text)
        module |= {word for piece in written for word in _WORD.findall(piece)}
        ascii_only = len(data) == len(text)
        pieces: list[str] = []
        folds: list[tuple[int, int, int]] = []
        cursor_byte = cursor = 0
        for body in bodies:
            column = body.start_point[1]
            line_start = body.start_byte - column
            if line_start < cursor_byte or data[line_start : body.start_byte].strip():
                continue  # something before the body on its line
            line_end = data.find(b"\n", body.end_byte)
            line_end = len(data) if line_end < 0 else line_end
            if ascii_only:
                start, end = line_start, line_end
            else:
                start = cursor + len(data[cursor_byte:line_start].decode("utf-8", "replace"))
                end = start + len(data[line_start:line_end].decode("utf-8", "replace"))
            used = sorted(self._used(body, data) & module)
            indent = text[start : start + column]  # whitespace: as many code points as bytes
            # ``return``: a bare tuple would be a useless expression (B018) on every fold.
            line = indent + (f"return ({', '.join(used)},)" if used else "pass")
            folded = line + "\n" * data.count(b"\n", line_start, line_end)
            pieces.append(text[cursor:start])
            pieces.append(folded)
            folds.append((start, end, (end - start) - len(folded)))
            cursor, cursor_byte = end, line_end
        pieces.append(text[cursor:])
        return Outline("".join(pieces), tuple(folds))

    def _walk(
        self, root: Node, data: bytes, keep: Sequence[tuple[int, int]]
    ) -> tuple[list[Node], set[str]]:
        """The bodies to fold, in order, and the names bound (or used) at module level."""
        bodies: list[Node] = []
        module: set[str] = set()
        stack: list[tuple[Node, bool]] = [(root, True)]
        while stack:
            node, at_module = stack.pop()
            for child in node.children:
                if child.type in _DEFINITIONS:
                    name = child.child_by_field_name("name")
                    if at_module and name is not None:
                        module.add(data[name.start_byte : name.end_byte].decode("utf-8", "replace"))
                if child.type == "function_definition":
                    body = child.child_by_field_name("body")
                    if (
                        body is not None
                        and body.start_point[0] > child.start_point[0]
                        and not _touched(child, keep)
                    ):
                        bodies.append(body)
                elif child.type in _CONTAINERS:
                    stack.append((child, at_module and child.type != "class_definition"))
                elif at_module and child.is_named:
                    module |= self._used(child, data)
        bodies.sort(key=lambda body: body.start_byte)
        return bodies, module

    def _used(self, node: Node, data: bytes) -> frozenset[str]:
        """The variables ``node`` uses or binds (identifiers, not ``x.name`` nor ``name=``)."""
        content = data[node.start_byte : node.end_byte]
        key = hashlib.blake2b(content, digest_size=16).digest()
        with self._lock:
            known = self._names.get(key)
            if known is not None:
                self._names.move_to_end(key)
                return known
        query = _query()
        names: set[str] = set()
        if query is not None:
            captures = QueryCursor(query).captures(node)
            skipped = {found.start_byte for found in captures.get("skip", [])}
            for found in captures.get("name", []):
                if found.start_byte not in skipped:
                    names.add(data[found.start_byte : found.end_byte].decode("utf-8", "replace"))
        used = frozenset(n for n in names if n.isidentifier() and not keyword.iskeyword(n))
        with self._lock:
            self._names[key] = used
            while len(self._names) > self._size:
                self._names.popitem(last=False)
        return used


def _touched(function: Node, keep: Sequence[tuple[int, int]]) -> bool:
    start, end = function.start_point[0], function.end_point[0]
    return any(first <= end and start <= last for first, last in keep)


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

"""Import follow-ups: an edit that took away the last use of an imported name → that import goes.

Boundary: Python code, read through tree-sitter (``python.py``); proposes ``NextEdit``s in the
edited document only. It never raises on broken code and proposes nothing it cannot place
exactly.

Only a name the edit itself removed a use of is followed, only when the edit rewrote the code
(lines only deleted are as often cut to be pasted elsewhere), and only when nothing in the file
uses it any more: an import left unused for another reason (a re-export, an import kept for
its side effects) is not the edit's doing. A package's ``__init__.py`` and a name listed in a
string (``__all__``) are left alone, since those imports are how a module exports a name.

The other way (``missing``): an edit that used a name nothing in the file defines → the import
of it that other files of the workspace write (``from .core import Context``, ``import typing
as t``; a relative one only from a file of the same package), the one most of them write, put
where ruff's import sorting (``I001``, with the project's configuration) puts it; with no
file importing it, a module of the standard library used as ``name.attribute`` is imported
as ``import name``. Only when the
sorted block differs from the file's by that import alone (and the blank line that opens its
section, when it is the first of its kind). In a file whose imports ruff would sort otherwise
(a block written in another style than the project's configuration now asks for), the line
goes among the one-name imports of its section where they sort it, when they are one sorted
run (``_beside_its_kind``); else the place is not known and nothing is proposed.
"""

from __future__ import annotations

import difflib
import functools
import keyword
import logging
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tree_sitter import Node

from tactful.analyzers import ruff
from tactful.analyzers.text import LineIndex, split_lines
from tactful.suggestion.next_edits import python as py
from tactful.suggestion.next_edits.proposals import Elsewhere, next_edit
from tactful.suggestion.next_edits.targets import Target
from tactful.suggestion.next_edits.trees import EditTrees, Source
from tactful.suggestion.next_edits.types import IMPORT, NextEdit, RecordedEdit

logger = logging.getLogger(__name__)

# How likely an import whose last use the developer just removed is to go too (replayed
# commits, benchmarks/next_edits.py).
SCORE = 0.6
_IMPORTS = frozenset({"import_statement", "import_from_statement"})
# How likely the import other files write of a name the developer just used undefined is the
# one wanted (replayed commits, benchmarks/next_edits.py).
MISSING_SCORE = 0.6
# Names a request looks imports up for, at most (the latest edits' first).
MAX_MISSING = 2
# Other files read for a name's imports, at most.
MAX_IMPORTERS = 12
_WORD = re.compile(r"[A-Za-z_]\w*")


def unused_imports(edit: RecordedEdit, trees: EditTrees, current: Target) -> list[NextEdit]:
    """The imports of ``current`` that ``edit`` left unused, each as the next edit removing it
    (the whole statement when it imports nothing else, else the name and its comma)."""
    if edit.language_id != "python" or current.tree is None:
        return []
    path = (edit.path or "").replace("\\", "/")
    if path.endswith("/__init__.py") or path == "__init__.py":
        return []
    if (
        "\n" in edit.before[edit.start : edit.old_end]
        and not edit.after[edit.start : edit.new_end].strip()
    ):
        # Lines only deleted are as often cut to be pasted elsewhere, uses and all, as gone.
        return []
    removed = _removed_names(edit, trees)
    if not removed:
        return []
    root = current.tree.root_node
    source = current.source
    found: list[NextEdit] = []
    for statement in root.children:
        if statement.type not in _IMPORTS or statement.has_error:
            continue
        names = _bound(statement, source)
        for index, (name, node) in enumerate(names):
            if name not in removed or _still_used(root, source, name):
                continue
            if len(names) == 1:
                start, end = statement.start_byte, _line_end(source, statement.end_byte)
                text = ""
            elif index + 1 < len(names):
                start, end, text = node.start_byte, names[index + 1][1].start_byte, ""
            else:
                start, end, text = names[index - 1][1].end_byte, node.end_byte, ""
            found.append(
                next_edit(
                    current,
                    start,
                    end,
                    text,
                    label=f"remove the unused import `{name}`",
                    source=IMPORT,
                    score=SCORE,
                    evidence={"names_in_statement": float(len(names))},
                    origin=edit.sequence,
                )
            )
    return found


def _removed_names(edit: RecordedEdit, trees: EditTrees) -> set[str]:
    """Plain names used fewer times in the edited lines after the edit than before."""

    def counted(source: Source, root: Node, start: int, end: int) -> Counter[str]:
        if end <= start:
            return Counter()
        return Counter(
            source.of(leaf)
            for leaf in py.leaves(root, source.byte(start), source.byte(end))
            if leaf.type == "identifier" and py.is_plain_name(leaf)
        )

    before = counted(trees.before, trees.before_tree.root_node, edit.start, edit.old_end)
    after = counted(trees.after, trees.after_tree.root_node, edit.start, edit.new_end)
    return {name for name, count in before.items() if count > after.get(name, 0)}


def _bound(statement: Node, source: Source) -> Sequence[tuple[str, Node]]:
    """The names an import statement binds, each with the node to remove to unbind it (empty
    for ``from x import *`` and ``from __future__ import``)."""
    module = statement.child_by_field_name("module_name")
    if module is not None and source.of(module) == "__future__":
        return []
    bound: list[tuple[str, Node]] = []
    for child in statement.children_by_field_name("name"):
        if child.type == "aliased_import":
            alias = child.child_by_field_name("alias")
            if alias is None:
                return []
            bound.append((source.of(alias), child))
        elif child.type == "dotted_name":
            first = child.named_children[0] if child.named_child_count else None
            if first is None:
                return []
            # ``import a.b`` binds ``a``; ``from m import a`` binds ``a``.
            bound.append((source.of(first), child))
        else:
            return []
    return bound


def _still_used(root: Node, source: Source, name: str) -> bool:
    """True when ``name`` is used anywhere outside import statements, or appears in a string
    (``__all__``, a lazy ``getattr``)."""
    # The first use answers: a name used all over a long file is not collected whole.
    for leaf in py.iter_identifiers(root, source, name):
        if py.enclosing(leaf, _IMPORTS) is None:
            return True
    text = source.text
    return f'"{name}"' in text or f"'{name}'" in text


def _line_end(source: Source, byte: int) -> int:
    """``byte``, or just past the newline that ends its line when nothing else follows."""
    data = source.data
    end = byte
    while end < len(data) and data[end : end + 1] in (b" ", b"\t"):
        end += 1
    if data[end : end + 1] == b"\n":
        return end + 1
    return byte


def unused_after(
    edits: Sequence[RecordedEdit], trees_of: dict[tuple[str, int], EditTrees], current: Target
) -> list[NextEdit]:
    """Import follow-ups of ``current``'s edits among ``edits`` (the recent ones)."""
    found: list[NextEdit] = []
    for edit in edits:
        if edit.uri != current.uri:
            continue
        trees = trees_of.get((edit.uri, edit.sequence))
        if trees is None:
            continue
        try:
            found.extend(unused_imports(edit, trees, current))
        except Exception:
            logger.exception("following an edit's imports failed")
    return found


def missing(
    edits: Sequence[RecordedEdit],
    current: Target,
    elsewhere: Elsewhere | None,
    root: Path | None,
) -> list[NextEdit]:
    """Imports of the names ``current``'s edits among ``edits`` used and nothing in the file
    defines, each the import other files write, placed as ruff sorts it (see the module's
    docstring)."""
    tree = current.tree
    if current.language_id != "python" or tree is None or elsewhere is None or root is None:
        return []
    source = current.source
    module = tree.root_node
    statements = [child for child in module.children if child.type in _IMPORTS]
    if not statements or any(child.has_error for child in statements):
        return []
    wanted: list[tuple[str, int]] = []
    # Each word is looked up once a request, however many of the recent edits wrote it.
    looked_up: set[str] = set()
    for edit in reversed(edits):
        if edit.uri != current.uri or len(wanted) >= MAX_MISSING:
            continue
        for word in dict.fromkeys(_WORD.findall(edit.after[edit.start : edit.new_end])):
            if len(wanted) >= MAX_MISSING:
                break
            if word in looked_up:
                continue
            looked_up.add(word)
            if _used_undefined(module, source, word):
                wanted.append((word, edit.sequence))
    found: list[NextEdit] = []
    for name, origin in wanted:
        line, seen = _import_written_elsewhere(name, current, elsewhere, root)
        if line is None:
            continue
        after = _after_imports(module, statements)
        placed = _sorted_insertion(
            source.text, current.path or "", str(root), source.char(after), line, name
        )
        beside = False
        if placed is None:
            placed = _beside_its_kind(source, statements, after, line)
            beside = placed is not None
        if placed is None:
            continue
        start, end, text = placed
        found.append(
            next_edit(
                current,
                source.byte(start),
                source.byte(end),
                text,
                label=f"import `{name}`: `{line}`",
                source=IMPORT,
                score=MISSING_SCORE,
                evidence={
                    "missing_import": 1.0,
                    "files_importing": float(seen),
                    "beside_its_kind": float(beside),
                },
                origin=origin,
            )
        )
    return found


def _used_undefined(root: Node, source: Source, name: str) -> bool:
    """True when ``name`` is used as a variable somewhere and nothing in the file defines it.

    One walk over the name's identifiers, which stops at the first that defines it: most
    words an edit writes (``self``, a parameter) are defined near the top of the file."""
    if len(name) < 2 or keyword.iskeyword(name) or not py.undefined_possible(source, name):
        return False
    used = False
    for leaf in py.iter_identifiers(root, source, name):
        # ``py.defines`` does not count ``import name`` (or ``import name.sub``, or one in a
        # function) as a definition: an import of it anywhere is one.
        if py.defines(leaf, source) or py.enclosing(leaf, _IMPORTS) is not None:
            return False
        used = used or py.is_plain_name(leaf)
    return used


def _import_written_elsewhere(
    name: str, current: Target, elsewhere: Elsewhere, root: Path
) -> tuple[str | None, int]:
    """The import of ``name`` most other files write (a line of code), and how many write it."""
    package = _package(current.path, root)
    lines: Counter[str] = Counter()
    read = 0
    for target in elsewhere.containing(name):
        if target.tree is None or target.language_id != "python":
            continue
        read += 1
        for statement in target.tree.root_node.children:
            if statement.type not in _IMPORTS or statement.has_error:
                continue
            line = _import_line(statement, target.source, name)
            if line is None:
                continue
            if line.startswith("from .") and _package(target.path, root) != package:
                continue  # a relative import means another module from another package
            lines[line] += 1
        if read >= MAX_IMPORTERS:
            break
    if not lines:
        if name in sys.stdlib_module_names and _used_as_module(current, name):
            return f"import {name}", 0
        return None, 0
    line, seen = lines.most_common(1)[0]
    return line, seen


def _used_as_module(current: Target, name: str) -> bool:
    """True when ``name`` is used as ``name.attribute`` in ``current``."""
    tree = current.tree
    if tree is None:
        return False
    for leaf in py.iter_identifiers(tree.root_node, current.source, name):
        parent = leaf.parent
        if (
            parent is not None
            and parent.type == "attribute"
            and parent.child_by_field_name("object") == leaf
        ):
            return True
    return False


def _import_line(statement: Node, source: Source, name: str) -> str | None:
    """The statement reduced to the import of ``name`` alone, or None when it does not bind it."""
    for bound, node in _bound(statement, source):
        if bound != name:
            continue
        if statement.type == "import_statement":
            return f"import {source.of(node)}"
        module = statement.child_by_field_name("module_name")
        if module is None:
            return None
        return f"from {source.of(module)} import {source.of(node)}"
    return None


def _package(path: str | None, root: Path) -> str:
    """The folder of a file (an open document's path is absolute, a workspace file's is
    relative to ``root``)."""
    return str((root / path).resolve().parent) if path else ""


def _after_imports(module: Node, statements: Sequence[Node]) -> int:
    """The byte where a new import line goes before sorting: after the last import statement
    of the module's top that precedes its first definition."""
    first_definition = next(
        (
            child.start_byte
            for child in module.children
            if child.type in ("function_definition", "class_definition", "decorated_definition")
        ),
        module.end_byte,
    )
    heading = [statement for statement in statements if statement.end_byte <= first_definition]
    last = heading[-1] if heading else statements[0]
    return last.end_byte


@functools.lru_cache(maxsize=32)
def _sorted_insertion(
    text: str, path: str, root: str, after: int, line: str, name: str
) -> tuple[int, int, str] | None:
    """``line`` put into ``text``'s imports where ruff's import sorting puts it: the code-point
    range of ``text`` to replace and its replacement, or None when ruff would change more of
    the block than that line (imports not sorted as ruff sorts them, or no ruff)."""
    end_of_line = text.find("\n", after)
    at = len(text) if end_of_line == -1 else end_of_line + 1
    inserted = text[:at] + ("" if text[:at].endswith("\n") else "\n") + line + "\n" + text[at:]
    options = ruff.RuffOptions(select=("I001",))
    findings = ruff.check_text(inserted, path or "untitled.py", root, options)
    unsorted = [f for f in findings if f.rule == "I001"]
    result = inserted
    if unsorted:
        fixes = [fix for finding in unsorted for fix in finding.fixes]
        if len(fixes) != 1:
            return None
        lines = LineIndex(inserted)
        for edit in sorted(fixes[0].edits, key=lambda e: e.span.start, reverse=True):
            start = lines.offset(edit.span.start, inserted)
            end = lines.offset(edit.span.end, inserted)
            result = result[:start] + edit.new_text + result[end:]
    return _only_the_import(text, result, name)


def _only_the_import(text: str, result: str, name: str) -> tuple[int, int, str] | None:
    """The one range of lines of ``text`` that ``result`` changes, if all it changes is the
    import ``line`` added (a line of its own, or its name joined to an import of the same
    module); else None."""
    old = split_lines(text, keepends=True)
    new = split_lines(result, keepends=True)
    blocks = [
        op for op in difflib.SequenceMatcher(None, old, new).get_opcodes() if op[0] != "equal"
    ]
    if len(blocks) != 1:
        return None
    _tag, i1, i2, j1, j2 = blocks[0]
    removed, added = old[i1:i2], new[j1:j2]
    if not added or not all(
        _has_word(piece, name) or piece in removed or not piece.strip() for piece in added
    ):
        return None
    # One line more (the import), and the blank line that opens a new section of the block
    # when it is the first import of its kind (``import pytest`` between the standard
    # library's imports and the project's).
    blank = sum(1 for piece in added if not piece.strip()) - sum(
        1 for piece in removed if not piece.strip()
    )
    if len(added) - len(removed) - max(0, blank) > 1 or blank > 1 or len(removed) > 3:
        return None
    words_before = Counter(word for piece in removed for word in _WORD.findall(piece))
    words_after = Counter(word for piece in added for word in _WORD.findall(piece))
    if words_before - words_after:
        return None  # something the block had would go
    start = sum(len(piece) for piece in old[:i1])
    end = start + sum(len(piece) for piece in removed)
    return start, end, "".join(added)


_FROM = re.compile(r"from\s+(\.*)([\w.]*)\s+import\s+([\w.]+(?:\s+as\s+\w+)?)\s*$")
_PLAIN = re.compile(r"import\s+([\w.]+)(?:\s+as\s+\w+)?\s*$")


def _kind_of_import(line: str) -> tuple[str, tuple[int, str, str]] | None:
    """The section a one-name import line belongs to (``__future__``, the standard library,
    relative, or the top-level package it imports from) and its place in a section sorted as
    isort and ruff sort one by default: ``import`` lines first, then by module and name,
    ignoring case. None for a line of another shape (several names, parentheses)."""
    plain = _PLAIN.fullmatch(line.strip())
    if plain is not None:
        module, order = plain.group(1), (0, plain.group(1).lower(), "")
    else:
        found = _FROM.fullmatch(line.strip())
        if found is None:
            return None
        dots, module, imported = found.groups()
        order = (1, (dots + module).lower(), imported.lower())
        if dots:
            return "relative", order
    top = module.split(".")[0]
    if top == "__future__":
        return "future", order
    if top in sys.stdlib_module_names:
        return "stdlib", order
    return "package " + top, order


def _beside_its_kind(
    source: Source, statements: Sequence[Node], after: int, line: str
) -> tuple[int, int, str] | None:
    """``line`` put among the imports of its kind in a block that ruff would sort otherwise
    (the project's configuration asks for another style than the file's, or the block was
    never sorted): in the one run of lines of its section (the standard library's, the same
    package's, the relative ones), where it sorts among them, when that run is itself sorted
    that way and each of its imports is one name on one line (and, for ``from module import
    name``, none or several from that module: one alone could be joined); else None."""
    kind = _kind_of_import(line)
    if kind is None:
        return None
    section, order = kind
    heading = [statement for statement in statements if statement.end_byte <= after]
    run: list[tuple[Node, tuple[int, str, str]]] = []
    previous_row = -2
    for statement in heading:
        text = source.of(statement)
        theirs = _kind_of_import(text) if "\n" not in text else None
        if theirs is None or theirs[0] != section:
            continue
        if run and statement.start_point.row != previous_row + 1:
            return None  # lines of the section in two places: which one is not known
        run.append((statement, theirs[1]))
        previous_row = statement.end_point.row
    orders = [order for _statement, order in run]
    if not run or orders != sorted(orders) or order in orders:
        return None
    if order[0] == 1 and sum(1 for theirs in orders if theirs[:2] == order[:2]) == 1:
        # One import from the same module, alone: whether the name joins it is not known.
        return None
    following = next((statement for statement, theirs in run if theirs > order), None)
    if following is not None:
        at = source.char(following.start_byte) - following.start_point.column
    else:
        last = run[-1][0]
        end_of_line = source.text.find("\n", source.char(last.end_byte))
        if end_of_line == -1:
            return None
        at = end_of_line + 1
    return at, at, line.strip() + "\n"


def _has_word(text: str, word: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text) is not None

"""Import follow-ups: an edit that took away the last use of an imported name → that import goes.

Boundary: Python code, read through tree-sitter (``python.py``); proposes ``NextEdit``s in the
edited document only. It never raises on broken code and proposes nothing it cannot place
exactly.

Only a name the edit itself removed a use of is followed, only when the edit rewrote the code
(lines only deleted are as often cut to be pasted elsewhere), and only when nothing in the file
uses it any more: an import left unused for another reason (a re-export, an import kept for
its side effects) is not the edit's doing. A package's ``__init__.py`` and a name listed in a
string (``__all__``) are left alone, since those imports are how a module exports a name.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from tree_sitter import Node

from tactful.suggestion.next_edits import python as py
from tactful.suggestion.next_edits.proposals import next_edit
from tactful.suggestion.next_edits.targets import Target
from tactful.suggestion.next_edits.trees import EditTrees, Source
from tactful.suggestion.next_edits.types import IMPORT, NextEdit, RecordedEdit

logger = logging.getLogger(__name__)

# How likely an import whose last use the developer just removed is to go too (replayed
# commits, benchmarks/next_edits.py).
SCORE = 0.6
_IMPORTS = frozenset({"import_statement", "import_from_statement"})


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
    for leaf in py.identifiers_at(root, source, name):
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

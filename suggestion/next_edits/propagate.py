"""Propagation: an edit that renamed a definition or changed a parameter list, followed where it
must be followed.

Boundary: Python code, read through tree-sitter (``python.py``); proposes ``NextEdit``s in the
current document and, through ``Elsewhere``, in the files that import what changed. It never
raises on broken code and proposes nothing it cannot place exactly.

- A renamed function, class, variable or parameter → its references in the scope that sees
  it (a nested function that binds the same name keeps its own), and, for module-level names,
  the files that import it (``from module import name``) and their uses of it.
- A renamed parameter → also ``name=`` at the calls and the docstring entries (Sphinx
  ``:param name:``, Google ``name (type):``, numpy ``name : type``).
- A renamed ``self.x`` (``cls.x``) → the other ``self.x`` of the class.
- A parameter removed → its argument at the calls (positional by its place, or ``name=``) and
  its docstring entry; added without a default → the calls whose scope has a variable of that
  name pass it; reordered → positional arguments reordered at the calls.

Scopes come from tree-sitter, not jedi: measured on a 7,600-line file, jedi's
``get_references`` took 3.2 s cold and 0.5 s after each edit, far beyond a next edit's budget;
the scope walk here costs a few milliseconds.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tree_sitter import Node

from tactful.suggestion.next_edits import python as py
from tactful.suggestion.next_edits.proposals import Elsewhere, by_line, next_edit
from tactful.suggestion.next_edits.targets import Target
from tactful.suggestion.next_edits.trees import EditTrees, Source
from tactful.suggestion.next_edits.types import (
    ATTRIBUTE,
    RENAME,
    SIGNATURE,
    NextEdit,
    RecordedEdit,
)

logger = logging.getLogger(__name__)

MAX_LEAVES = 400
MAX_PER_NAME = 200


@dataclass(frozen=True, slots=True)
class Renamed:
    """A definition renamed by an edit: its role, old and new name, and where the new name
    now stands in the current text (byte offset)."""

    role: str
    old: str
    new: str
    offset: int


def propagate(
    edit: RecordedEdit,
    trees: EditTrees,
    current: Target,
    later: Sequence[RecordedEdit],
    elsewhere: Elsewhere | None,
) -> list[NextEdit]:
    """Next edits that follow ``edit`` (a recorded edit of ``current``'s document)."""
    if edit.language_id != "python" or current.tree is None:
        return []
    found: list[NextEdit] = []
    pairs, pure = substitutions(trees, edit)
    for before_leaf, after_leaf in pairs:
        role = py.definition_role(before_leaf, trees.before) or py.definition_role(
            after_leaf, trees.after
        )
        if role is None:
            continue
        offset = _current_offset(trees.after.char(after_leaf.start_byte), later, current)
        if offset is None:
            continue
        renamed = Renamed(role, trees.before.of(before_leaf), trees.after.of(after_leaf), offset)
        if role in (py.VARIABLE, py.ATTRIBUTE, py.IMPORT) and not pure:
            # A line that became another line can look like a renamed variable; only an edit
            # that renamed and did nothing else is taken for a rename of these.
            continue
        found.extend(_rename(renamed, current, edit, elsewhere))
    found.extend(_signature(edit, trees, current, later, elsewhere, pairs))
    return found


def substitutions(trees: EditTrees, edit: RecordedEdit) -> tuple[list[tuple[Node, Node]], bool]:
    """Identifiers an edit replaced by other identifiers, as (before, after) leaf pairs, and
    whether that is all the edit did.

    The leaves of the lines the edit touched are aligned (the texts agree outside the edit, so
    the alignment is exact there); one identifier for another, with the tokens on both sides
    unchanged, is a rename.
    """
    before_leaves = _line_leaves(
        trees.before, trees.before_tree.root_node, edit.start, edit.old_end
    )
    after_leaves = _line_leaves(trees.after, trees.after_tree.root_node, edit.start, edit.new_end)
    if not before_leaves or not after_leaves:
        return [], False
    before_texts = [trees.before.of(leaf) for leaf in before_leaves]
    after_texts = [trees.after.of(leaf) for leaf in after_leaves]
    matcher = difflib.SequenceMatcher(None, before_texts, after_texts, autojunk=False)
    codes = matcher.get_opcodes()
    pairs: list[tuple[Node, Node]] = []
    pure = True
    for number, (tag, i1, i2, j1, j2) in enumerate(codes):
        if tag == "equal":
            continue
        # A rename is one identifier for another with the code around it unchanged; a run of
        # replaced tokens is new code, whatever identifiers it happens to line up.
        single = tag == "replace" and i2 - i1 == 1 and j2 - j1 == 1
        flanked = (number == 0 or codes[number - 1][0] == "equal") and (
            number + 1 == len(codes) or codes[number + 1][0] == "equal"
        )
        if single and flanked:
            old, new = before_leaves[i1], after_leaves[j1]
            if old.type == new.type == "identifier":
                pairs.append((old, new))
                continue
        pure = False
    return pairs, pure


def _line_leaves(source: Source, root: Node, start: int, end: int) -> list[Node]:
    first = source.text.rfind("\n", 0, start) + 1
    last = source.text.find("\n", end)
    last = len(source.text) if last == -1 else last
    found = py.leaves(root, source.byte(first), source.byte(last))
    return found if len(found) <= MAX_LEAVES else []


def map_offset(offset: int, later: Sequence[RecordedEdit]) -> int | None:
    """Where an offset of an edit's ``after`` text is after the later edits of the document
    (None when a later edit rewrote it)."""
    for edit in later:
        if offset <= edit.start:
            continue
        if offset >= edit.old_end:
            offset += edit.new_end - edit.old_end
        else:
            return None
    return offset


def _current_offset(offset: int, later: Sequence[RecordedEdit], current: Target) -> int | None:
    mapped = map_offset(offset, later)
    return current.source.byte(mapped) if mapped is not None else None


# -- renames -------------------------------------------------------------------------------


def _rename(
    renamed: Renamed, current: Target, edit: RecordedEdit, elsewhere: Elsewhere | None
) -> list[NextEdit]:
    tree = current.tree
    if tree is None:
        return []
    root = tree.root_node
    source = current.source
    size = len(renamed.new.encode())
    leaf = root.descendant_for_byte_range(renamed.offset, renamed.offset + size)
    if leaf is None or leaf.type != "identifier" or source.of(leaf) != renamed.new:
        return []
    role = renamed.role
    label = f"rename `{renamed.old}` → `{renamed.new}`"
    owner = _owner(leaf, role)
    if owner is None or _still_bound(leaf, owner, role, source, renamed.old):
        return []  # the old name still lives there: a new name beside it, not a rename
    places: list[tuple[int, int]] = []
    extra: dict[str, float] = {}
    if role in (py.ATTRIBUTE, py.METHOD):
        places = [
            (u.start_byte, u.end_byte) for u in py.attribute_uses(root, source, renamed.old, owner)
        ]
        extra["in_class"] = 1.0
    else:
        places = [
            (use.start_byte, use.end_byte)
            for use in py.references(root, source, renamed.old, owner)
            if use.start_byte != leaf.start_byte
        ]
    found = [
        next_edit(
            current,
            start,
            end,
            text,
            label=label,
            source=ATTRIBUTE if role == py.ATTRIBUTE else RENAME,
            score=_rename_score(role, owner),
            evidence={"role_" + role: 1.0, "same_file": 1.0, "sites": float(len(places)), **extra},
            origin=edit.sequence,
        )
        for start, end, text in by_line(source, [(a, b, renamed.new) for a, b in places])[
            :MAX_PER_NAME
        ]
    ]
    if role == py.PARAMETER:
        found.extend(_docstring_renames(owner, current, renamed, edit))
        found.extend(_keyword_renames(owner, current, renamed, edit, elsewhere))
    module_level = py.scope(leaf).type == "module"
    if role in (py.FUNCTION, py.CLASS, py.VARIABLE) and module_level and elsewhere is not None:
        found.extend(_rename_elsewhere(renamed, current, edit, elsewhere, label))
    return found


def _owner(leaf: Node, role: str) -> Node | None:
    """The node whose code a renamed definition's uses lie in."""
    if role == py.PARAMETER:
        return _function_of(leaf)
    if role in (py.ATTRIBUTE, py.METHOD):
        return py.enclosing(leaf, {"class_definition"}) or py.scope(leaf)
    return py.scope(leaf)


def _still_bound(leaf: Node, owner: Node, role: str, source: Source, old: str) -> bool:
    """True when, after the edit, ``old`` is still defined where the renamed one was: the
    edit added a name beside it rather than renaming it."""
    root = leaf
    while root.parent is not None:
        root = root.parent
    if role == py.ATTRIBUTE:
        # Renamed where it is assigned, and assigned nowhere else in the class under its
        # old name: renamed uses alone are followed as repeated edits.
        target = leaf.parent
        if target is None or not _assigned(target):
            return True
        return any(
            _assigned(use.parent, augmented=False)
            for use in py.attribute_uses(root, source, old, owner)
        )
    if role == py.METHOD:
        return False
    for other in py.identifiers_at(root, source, old, owner):
        if py.scope(other).id != owner.id:
            continue
        if py.is_binding(other) or py.definition_role(other, source) in (
            py.FUNCTION,
            py.CLASS,
            py.METHOD,
            py.PARAMETER,
        ):
            return True
    return False


def _assigned(node: Node | None, *, augmented: bool = True) -> bool:
    """True for an attribute node that is the target of an assignment (``augmented``: also of
    ``+=`` and the like, which update a value that must exist already)."""
    while (
        node is not None
        and node.parent is not None
        and node.parent.type
        in (
            "pattern_list",
            "tuple_pattern",
        )
    ):
        node = node.parent
    if node is None or node.parent is None:
        return False
    parent = node.parent
    return (
        parent.type == "assignment" or (augmented and parent.type == "augmented_assignment")
    ) and py.field_of(node) == "left"


def _rename_score(role: str, owner: Node) -> float:
    if role in (py.FUNCTION, py.CLASS, py.PARAMETER, py.METHOD):
        return 0.85
    if role in (py.IMPORT, py.ATTRIBUTE):
        return 0.8
    # A variable renamed in a function is most often renamed throughout it; one renamed at the
    # top of a module too, but less surely (it may be a new variable taking over).
    return 0.75 if owner.type != "module" else 0.65


def _function_of(leaf: Node) -> Node | None:
    return py.enclosing(leaf, {"function_definition", "lambda"})


def _docstring_lines(
    function: Node, current: Target
) -> tuple[Node, str, list[str], list[int]] | None:
    """The function's docstring node, its text, its lines, and where each line starts in it
    (bytes from the docstring's start); None without a docstring."""
    doc = py.docstring(function)
    if doc is None:
        return None
    text = current.source.of(doc)
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line.encode()) + 1)
    return doc, text, lines, starts


def _docstring_renames(
    function: Node, current: Target, renamed: Renamed, edit: RecordedEdit
) -> list[NextEdit]:
    """The parameter's name in the docstring's entries for it and where it is quoted."""
    docstring = _docstring_lines(function, current)
    if docstring is None:
        return []
    doc, text, lines, starts = docstring
    source = current.source
    size = len(renamed.old.encode())
    places: set[int] = set()
    for first, _last, column in py.docstring_entries(text, renamed.old):
        places.add(doc.start_byte + starts[first] + len(lines[first][:column].encode()))
    for match in re.finditer(
        r"(?<![\w`])`{1,2}(" + re.escape(renamed.old) + r")`{1,2}(?![\w`])", text
    ):
        places.add(doc.start_byte + len(text[: match.start(1)].encode()))
    replacements = [(start, start + size, renamed.new) for start in sorted(places)]
    return [
        next_edit(
            current,
            start,
            end,
            new_text,
            label=f"rename `{renamed.old}` → `{renamed.new}` in the docstring",
            source=RENAME,
            score=0.7,
            evidence={"role_parameter": 1.0, "docstring": 1.0, "same_file": 1.0},
            origin=edit.sequence,
        )
        for start, end, new_text in by_line(source, replacements)
    ]


def _keyword_renames(
    function: Node,
    current: Target,
    renamed: Renamed,
    edit: RecordedEdit,
    elsewhere: Elsewhere | None,
) -> list[NextEdit]:
    name_node = function.child_by_field_name("name")
    if name_node is None:
        return []
    function_name = current.source.of(name_node)
    found: list[NextEdit] = []
    for target, call, _bound in _calls(function, function_name, current, elsewhere):
        listed = py.arguments(call, target.source)
        if listed is None:
            continue
        for arg in listed[1]:
            if arg.keyword != renamed.old:
                continue
            name = arg.node.child_by_field_name("name")
            if name is None:
                continue
            found.append(
                next_edit(
                    target,
                    name.start_byte,
                    name.end_byte,
                    renamed.new,
                    label=f"rename keyword `{renamed.old}=` → `{renamed.new}=`",
                    source=RENAME,
                    score=0.8 if target is current else 0.7,
                    evidence={"role_keyword": 1.0, "same_file": float(target is current)},
                    origin=edit.sequence,
                )
            )
    return found


def _rename_elsewhere(
    renamed: Renamed, current: Target, edit: RecordedEdit, elsewhere: Elsewhere, label: str
) -> list[NextEdit]:
    module = py.module_names(current.path)
    if not module:
        return []
    found: list[NextEdit] = []
    for target in elsewhere.containing(renamed.old):
        tree = target.tree
        if tree is None:
            continue
        root = tree.root_node
        imports = py.imported_names(root, target.source, module, renamed.old)
        if not imports:
            continue
        uses = py.references(root, target.source, renamed.old, root)
        aliased = any(
            leaf.parent is not None
            and leaf.parent.parent is not None
            and leaf.parent.parent.type == "aliased_import"
            for leaf in imports
        )
        places = {leaf.start_byte: leaf for leaf in imports}
        if not aliased:
            places.update({leaf.start_byte: leaf for leaf in uses})
        for leaf in sorted(places.values(), key=lambda node: node.start_byte)[:MAX_PER_NAME]:
            found.append(
                next_edit(
                    target,
                    leaf.start_byte,
                    leaf.end_byte,
                    renamed.new,
                    label=label,
                    source=RENAME,
                    score=0.75,
                    evidence={"role_" + renamed.role: 1.0, "same_file": 0.0, "imported": 1.0},
                    origin=edit.sequence,
                )
            )
    return found


# -- signatures ----------------------------------------------------------------------------


def _signature(
    edit: RecordedEdit,
    trees: EditTrees,
    current: Target,
    later: Sequence[RecordedEdit],
    elsewhere: Elsewhere | None,
    pairs: Sequence[tuple[Node, Node]],
) -> list[NextEdit]:
    start = trees.before.byte(edit.start)
    before_function = _function_with_parameters_at(
        trees.before_tree.root_node, start, trees.before.byte(edit.old_end)
    )
    if before_function is None:
        return []
    after_function = trees.after_tree.root_node.descendant_for_byte_range(
        before_function.start_byte, before_function.start_byte
    )
    after_function = py.enclosing(after_function, {"function_definition"})
    if after_function is None or after_function.start_byte != before_function.start_byte:
        return []
    before_params = py.parameters(before_function, trees.before)
    after_params = py.parameters(after_function, trees.after)
    if before_params is None or after_params is None:
        return []
    change = _parameter_change(before_params, after_params)
    before_names = {p.name for p in before_params}
    added = [
        p.name
        for p in after_params
        if p.name not in before_names and p.kind not in (py.VAR_POSITIONAL, py.VAR_KEYWORD)
    ]
    if change is None and not added:
        return []
    offset = _current_offset(trees.after.char(after_function.start_byte), later, current)
    tree = current.tree
    if offset is None or tree is None:
        return []
    function = tree.root_node.descendant_for_byte_range(offset, offset)
    function = py.enclosing(function, {"function_definition"})
    if function is None or function.start_byte != offset:
        return []
    name_node = function.child_by_field_name("name")
    if name_node is None:
        return []
    name = current.source.of(name_node)
    found: list[NextEdit] = _forwarded(function, current, added, edit)
    if change is None:
        return found
    for target, call, bound in _calls(function, name, current, elsewhere):
        rewritten = _rewrite_call(call, bound, target, before_params, after_params, change)
        if rewritten is None:
            continue
        (start_byte, end_byte, text), what = rewritten
        found.append(
            next_edit(
                target,
                start_byte,
                end_byte,
                text,
                label=f"{what} in the call to `{name}`",
                source=SIGNATURE,
                score=change.score if target is current else change.score - 0.05,
                evidence={**change.evidence, "same_file": float(target is current)},
                origin=edit.sequence,
            )
        )
    for removed in change.removed:
        found.extend(_remove_doc_entry(function, current, removed, name, edit))
    return found


def _forwarded(
    function: Node, current: Target, added: Sequence[str], edit: RecordedEdit
) -> list[NextEdit]:
    """A parameter added to a function → passed on by the calls in its body that pass on its
    neighbours: ``f(self, prog_name)`` in a ``def g(self, ctx_args, prog_name)`` becomes
    ``f(self, ctx_args, prog_name)``, ``f(min=min, max=max)`` gains ``min_open=min_open``
    after ``def g(min, min_open, max)``. Both neighbours must be passed side by side, in the
    same order and the same way, so the place of the new one is not a guess."""
    source = current.source
    params = py.parameters(function, source)
    body = function.child_by_field_name("body")
    if params is None or body is None or not added:
        return []
    names = [p.name for p in params if p.kind not in (py.VAR_POSITIONAL, py.VAR_KEYWORD)]
    found: list[NextEdit] = []
    for new in added:
        if new not in names:
            continue
        index = names.index(new)
        left = names[index - 1] if index > 0 else None
        right = names[index + 1] if index + 1 < len(names) else None
        if left is None or right is None:
            continue
        for call in _calls_in(body):
            parsed = py.arguments(call, source)
            if parsed is None:
                continue
            _node, args = parsed
            if any(_passes(arg, source, new) for arg in args):
                continue
            insert = _forward_place(args, source, left, right, new)
            if insert is None:
                continue
            byte, text = insert
            callee = call.child_by_field_name("function")
            called = source.of(callee) if callee is not None else "the call"
            found.append(
                next_edit(
                    current,
                    byte,
                    byte,
                    text,
                    label=f"pass `{new}` on in the call to `{called}`",
                    source=SIGNATURE,
                    score=0.55,
                    evidence={"params_added": 1.0, "forwarded": 1.0, "same_file": 1.0},
                    origin=edit.sequence,
                )
            )
    return found


def _calls_in(body: Node) -> Iterable[Node]:
    """The calls in a function's body, not in the functions and classes nested in it."""
    stack = list(reversed(body.named_children))
    while stack:
        node = stack.pop()
        if node.type in ("function_definition", "class_definition", "lambda"):
            continue
        if node.type == "call":
            yield node
        stack.extend(reversed(node.named_children))


def _passes(arg: py.Arg, source: Source, name: str) -> bool:
    if arg.keyword is not None:
        return arg.keyword == name
    return arg.node.type == "identifier" and source.of(arg.node) == name


def _forward_place(
    args: Sequence[py.Arg], source: Source, left: str, right: str, new: str
) -> tuple[int, str] | None:
    """Where and what to insert so ``new`` is passed between ``left`` and ``right``."""
    for first, second in itertools.pairwise(args):
        if first.splat or second.splat:
            continue
        if first.keyword is None and second.keyword is None:
            if (
                first.node.type == second.node.type == "identifier"
                and source.of(first.node) == left
                and source.of(second.node) == right
            ):
                return second.node.start_byte, f"{new}, "
        elif first.keyword == left and second.keyword == right:
            values = [arg.node.child_by_field_name("value") for arg in (first, second)]
            if all(
                value is not None and source.of(value) == arg.keyword
                for value, arg in zip(values, (first, second), strict=True)
            ):
                return second.node.start_byte, f"{new}={new}, "
    return None


def _function_with_parameters_at(root: Node, start: int, end: int) -> Node | None:
    node = root.descendant_for_byte_range(start, max(start, end))
    function = py.enclosing(node, {"function_definition"})
    if function is None:
        return None
    params = function.child_by_field_name("parameters")
    if params is None or not (params.start_byte <= start and end <= params.end_byte):
        return None
    return function


@dataclass(frozen=True, slots=True)
class _Change:
    removed: tuple[str, ...]
    added: tuple[str, ...]  # required parameters added (no default)
    order: tuple[str, ...]  # the new order of the positional parameters both lists have
    reordered: bool

    @property
    def score(self) -> float:
        if self.reordered:
            return 0.6
        if self.added:
            return 0.55
        return 0.75

    @property
    def evidence(self) -> dict[str, float]:
        return {
            "params_removed": float(len(self.removed)),
            "params_added": float(len(self.added)),
            "params_reordered": float(self.reordered),
        }


def _parameter_change(before: Sequence[py.Param], after: Sequence[py.Param]) -> _Change | None:
    before_names = [p.name for p in before]
    after_names = [p.name for p in after]
    if before_names == after_names:
        return None
    removed = [p.name for p in before if p.name not in after_names]
    added_params = [p for p in after if p.name not in before_names]
    if len(before) == len(after):
        # Same length, names differing in place: renames, which the rename proposer follows.
        differing = [
            (b.name, a.name) for b, a in zip(before, after, strict=True) if b.name != a.name
        ]
        if all(old in removed and new in [p.name for p in added_params] for old, new in differing):
            return None
    positional = (py.POSITIONAL_ONLY, py.POSITIONAL)
    before_order = [p.name for p in before if p.kind in positional and p.name in after_names]
    after_order = [p.name for p in after if p.kind in positional and p.name in before_names]
    added = tuple(
        p.name
        for p in added_params
        if not p.default and p.kind not in (py.VAR_POSITIONAL, py.VAR_KEYWORD)
    )
    reordered = sorted(before_order) == sorted(after_order) and before_order != after_order
    if not removed and not added and not reordered:
        return None
    return _Change(tuple(removed), added, tuple(after_order), reordered)


def _calls(
    function: Node, name: str, current: Target, elsewhere: Elsewhere | None
) -> Iterable[tuple[Target, Node, bool]]:
    """Calls of ``function`` (named ``name``): in the current file, and in files importing it
    when it is a module-level function (a class's ``__init__``: calls of the class)."""
    tree = current.tree
    if tree is None:
        return
    root = tree.root_node
    source = current.source
    method = py.is_method(function)
    class_node = py.enclosing(function, {"class_definition"}) if method else None
    class_name = None
    if class_node is not None:
        named = class_node.child_by_field_name("name")
        class_name = source.of(named) if named is not None else None
    decorations = py.decorators(function, source)
    static = "staticmethod" in decorations
    if method and name == "__init__" and class_name:
        for call, _bound in py.calls_of(root, source, class_name, method=False):
            yield current, call, True
        yield from _imported_calls(current, class_name, elsewhere, bound=True)
        return
    if method:
        for call, bound in py.calls_of(root, source, name, method=True, class_name=class_name):
            yield current, call, bound and not static
        return
    for call, _bound in py.calls_of(root, source, name, method=False):
        if call.start_byte <= function.start_byte < call.end_byte:
            continue
        yield current, call, False
    if py.scope(function).type == "module":
        yield from _imported_calls(current, name, elsewhere, bound=False)


def _imported_calls(
    current: Target, name: str, elsewhere: Elsewhere | None, *, bound: bool
) -> Iterable[tuple[Target, Node, bool]]:
    if elsewhere is None:
        return
    module = py.module_names(current.path)
    if not module:
        return
    for target in elsewhere.containing(name):
        tree = target.tree
        if tree is None:
            continue
        root = tree.root_node
        if not py.imported_names(root, target.source, module, name):
            continue
        for call, _bound in py.calls_of(root, target.source, name, method=False):
            yield target, call, bound


def _rewrite_call(
    call: Node,
    bound: bool,
    target: Target,
    before: Sequence[py.Param],
    after: Sequence[py.Param],
    change: _Change,
) -> tuple[tuple[int, int, str], str] | None:
    """The call with its arguments following the new parameter list, as one replacement of
    its argument list (start byte, end byte, text), and what it does in words."""
    source = target.source
    listed = py.arguments(call, source)
    if listed is None:
        return None
    node, args = listed
    if any(arg.splat for arg in args):
        return None
    params = list(before)
    if bound and params and params[0].kind in (py.POSITIONAL, py.POSITIONAL_ONLY):
        params = params[1:]
    positional_params = [p for p in params if p.kind in (py.POSITIONAL, py.POSITIONAL_ONLY)]
    positional = [arg for arg in args if arg.keyword is None]
    keywords = [arg for arg in args if arg.keyword is not None]
    if len(positional) > len(positional_params):
        return None  # more positional arguments than parameters: a *args we do not follow
    binding = {p.name: arg for p, arg in zip(positional_params, positional, strict=False)}
    for arg in keywords:
        binding[arg.keyword or ""] = arg
    edits: list[tuple[int, int, str]] = []
    said: list[str] = []
    for name in change.removed:
        removed = binding.get(name)
        if removed is None:
            continue
        edits.append(_deletion(node, args, removed, source))
        said.append(f"remove `{name}`")
    if change.reordered:
        order = [n for n in change.order if n in binding and binding[n].keyword is None]
        slots = [arg for arg in positional if arg not in [binding.get(n) for n in change.removed]]
        if len(order) == len(slots) and order:
            for slot, name in zip(slots, order, strict=True):
                moved = binding[name]
                if moved is not slot:
                    edits.append((slot.node.start_byte, slot.node.end_byte, source.of(moved.node)))
            if any(slot is not binding[n] for slot, n in zip(slots, order, strict=True)):
                said.append("reorder the arguments")
    for name in change.added:
        insertion = _insertion(call, node, args, positional, after, name, bound, source)
        if insertion is None:
            return None
        edits.append(insertion)
        said.append(f"pass `{name}`")
    if not edits:
        return None
    edits.sort()
    for first, second in itertools.pairwise(edits):
        if first[1] > second[0]:
            return None
    pieces: list[bytes] = []
    cursor = node.start_byte
    for start, end, replacement in edits:
        pieces.append(source.data[cursor:start])
        pieces.append(replacement.encode())
        cursor = end
    pieces.append(source.data[cursor : node.end_byte])
    return (node.start_byte, node.end_byte, b"".join(pieces).decode("utf-8", "surrogatepass")), (
        ", ".join(said)
    )


def _deletion(
    node: Node, args: Sequence[py.Arg], arg: py.Arg, source: Source
) -> tuple[int, int, str]:
    """Bytes to delete to remove one argument, with its separator, keeping the layout."""
    index = [a.node.id for a in args].index(arg.node.id)
    data = source.data
    start, end = arg.node.start_byte, arg.node.end_byte
    line_start = data.rfind(b"\n", 0, start) + 1
    line_end = data.find(b"\n", end)
    alone = not data[line_start:start].strip() and data[end:line_end].strip() in (b",", b"")
    if alone and line_end != -1 and line_start > node.start_byte:
        return line_start, line_end + 1, ""
    if index + 1 < len(args):
        return start, args[index + 1].node.start_byte, ""
    if index > 0:
        return args[index - 1].node.end_byte, end, ""
    return start, end, ""


def _insertion(
    call: Node,
    node: Node,
    args: Sequence[py.Arg],
    positional: Sequence[py.Arg],
    after: Sequence[py.Param],
    name: str,
    bound: bool,
    source: Source,
) -> tuple[int, int, str] | None:
    """Pass the caller's own ``name`` for a new required parameter, or None when the caller
    has no such variable (the value cannot be guessed)."""
    if not _visible(call, source, name):
        return None
    params = list(after)
    if bound and params and params[0].kind in (py.POSITIONAL, py.POSITIONAL_ONLY):
        params = params[1:]
    param = next((p for p in params if p.name == name), None)
    if param is None:
        return None
    if param.kind == py.KEYWORD_ONLY:
        text = f"{name}={name}"
        anchor = args[-1] if args else None
    else:
        index = [p.name for p in params if p.kind in (py.POSITIONAL, py.POSITIONAL_ONLY)].index(
            name
        )
        if index != len(positional):
            if index > len(positional):
                return None
            following = positional[index]
            return following.node.start_byte, following.node.start_byte, f"{name}, "
        text = name
        keyword_after = [a for a in args if a.keyword is not None]
        if keyword_after:
            first = keyword_after[0]
            return first.node.start_byte, first.node.start_byte, f"{text}, "
        anchor = positional[-1] if positional else None
    if anchor is None:
        return node.start_byte + 1, node.start_byte + 1, text
    return anchor.node.end_byte, anchor.node.end_byte, f", {text}"


def _visible(call: Node, source: Source, name: str) -> bool:
    function = py.enclosing(call, {"function_definition"})
    while function is not None:
        if py.binds_locally(function, source, name):
            return True
        function = py.enclosing(function.parent, {"function_definition"})
    return False


def _remove_doc_entry(
    function: Node, current: Target, name: str, function_name: str, edit: RecordedEdit
) -> list[NextEdit]:
    docstring = _docstring_lines(function, current)
    if docstring is None:
        return []
    doc, text, lines, starts = docstring
    found: list[NextEdit] = []
    for first, last, _column in py.docstring_entries(text, name):
        if first == 0 or last >= len(lines) - 1:
            continue  # an entry on the docstring's first or closing line: not whole lines
        start = doc.start_byte + starts[first]
        end = doc.start_byte + starts[last + 1]
        found.append(
            next_edit(
                current,
                start,
                end,
                "",
                label=f"remove `{name}` from the docstring of `{function_name}`",
                source=SIGNATURE,
                score=0.7,
                evidence={"docstring": 1.0, "params_removed": 1.0, "same_file": 1.0},
                origin=edit.sequence,
            )
        )
    return found

"""What a Python tree says about names: definitions, their scopes, references, parameters, calls
and docstring entries, as tree-sitter-python shapes them.

Boundary: reads tree-sitter nodes and the text they come from; returns nodes and small frozen
values. It never raises on broken code (an ERROR node is just a node it does not recognise).
Searches start from the text (a regular expression finds where a name occurs, at C speed) and
only then look at the nodes there, so their cost follows the number of occurrences, not the
size of the file.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

from tactful.suggestion.next_edits.trees import Source, iter_word_hits, word_hits

FUNCTION = "function"
METHOD = "method"
CLASS = "class"
PARAMETER = "parameter"
VARIABLE = "variable"
ATTRIBUTE = "attribute"
IMPORT = "import"

_SCOPES = frozenset({"function_definition", "lambda", "class_definition", "module"})
_PARAMETER_PARENTS = frozenset(
    {
        "parameters",
        "lambda_parameters",
        "typed_parameter",
        "default_parameter",
        "typed_default_parameter",
        "list_splat_pattern",
        "dictionary_splat_pattern",
    }
)
_TARGET_CONTAINERS = frozenset({"pattern_list", "tuple_pattern", "list_pattern"})


def leaves(node: Node, start: int, end: int) -> list[Node]:
    """The leaves of ``node`` that overlap bytes ``[start, end)`` (or touch ``start`` when the
    range is empty), in document order."""
    top = node.descendant_for_byte_range(start, max(start, end)) or node
    while top.parent is not None and (top.start_byte > start or top.end_byte < end):
        top = top.parent
    found: list[Node] = []
    stack = [top]
    while stack:
        current = stack.pop()
        if current.end_byte < start or current.start_byte > max(end, start):
            continue
        if end > start and (current.end_byte <= start or current.start_byte >= end):
            continue
        if current.child_count == 0:
            found.append(current)
            continue
        stack.extend(reversed(current.children))
    return found


def enclosing(node: Node | None, types: frozenset[str] | set[str]) -> Node | None:
    while node is not None and node.type not in types:
        node = node.parent
    return node


def field_of(node: Node) -> str | None:
    """The field name under which ``node`` hangs from its parent."""
    parent = node.parent
    if parent is None:
        return None
    for index, child in enumerate(parent.children):
        if child.id == node.id:
            return parent.field_name_for_child(index)
    return None


def is_attribute_name(leaf: Node) -> bool:
    parent = leaf.parent
    return parent is not None and parent.type == "attribute" and field_of(leaf) == "attribute"


def is_keyword_name(leaf: Node) -> bool:
    parent = leaf.parent
    return parent is not None and parent.type == "keyword_argument" and field_of(leaf) == "name"


def is_plain_name(leaf: Node) -> bool:
    """An identifier that names a variable where it stands (not ``x.name``, not ``name=``, not
    a part of an imported module's path)."""
    if leaf.type != "identifier" or is_attribute_name(leaf) or is_keyword_name(leaf):
        return False
    parent = leaf.parent
    if parent is not None and parent.type == "dotted_name":
        grand = parent.parent
        # ``import a.b``: only the first part names something here, and only without alias.
        if grand is not None and grand.type in ("import_statement", "aliased_import"):
            return False
        if grand is not None and grand.type in ("import_from_statement", "relative_import"):
            return field_of(parent) == "name" and parent.named_child_count == 1
    return True


def definition_role(leaf: Node, source: Source) -> str | None:
    """What ``leaf`` (an identifier) defines where it stands, or None for a mere use.

    ``function``/``method``/``class``: the name of a ``def``/``class``; ``parameter``;
    ``variable``: a target of an assignment, ``for``, ``with … as`` or ``except … as``;
    ``attribute``: ``self.x``/``cls.x`` wherever it stands; ``import``: a name an import binds.
    """
    parent = leaf.parent
    if parent is None or leaf.type != "identifier":
        return None
    kind = parent.type
    name_field = field_of(leaf)
    if kind == "function_definition" and name_field == "name":
        return METHOD if _in_class_body(parent) else FUNCTION
    if kind == "class_definition" and name_field == "name":
        return CLASS
    if kind in _PARAMETER_PARENTS:
        if kind in ("default_parameter", "typed_default_parameter") and name_field != "name":
            return None
        if kind == "typed_parameter" and name_field == "type":
            return None
        return PARAMETER
    if kind == "attribute" and name_field == "attribute":
        owner = parent.child_by_field_name("object")
        if owner is not None and owner.type == "identifier" and source.of(owner) in ("self", "cls"):
            return ATTRIBUTE
        return None
    if is_binding(leaf):
        if enclosing(leaf, {"import_from_statement", "import_statement"}) is not None:
            return IMPORT
        return VARIABLE
    return None


def is_binding(leaf: Node) -> bool:
    """True when the identifier is assigned where it stands (not merely read)."""
    node = leaf
    parent = node.parent
    while parent is not None and parent.type in _TARGET_CONTAINERS:
        node, parent = parent, parent.parent
    if parent is None:
        return False
    kind = parent.type
    which = field_of(node)
    if kind in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
        return which == "left"
    if kind == "as_pattern_target":
        return True
    if kind == "named_expression":
        return which == "name"
    if kind == "aliased_import":
        return which == "alias"
    if kind == "dotted_name":
        return is_plain_name(leaf) and enclosing(leaf, {"import_from_statement"}) is not None
    if kind == "global_statement" or kind == "nonlocal_statement":
        return False
    return kind in _PARAMETER_PARENTS


def _in_class_body(definition: Node) -> bool:
    node = definition.parent
    if node is not None and node.type == "decorated_definition":
        node = node.parent
    return (
        node is not None
        and node.type == "block"
        and (node.parent is not None and node.parent.type == "class_definition")
    )


def scope(node: Node) -> Node:
    """The function, lambda, class or module whose names ``node`` sees first (for the name of
    a ``def`` or ``class``: the one it is defined in)."""
    current = node.parent
    if (
        current is not None
        and current.type in ("function_definition", "class_definition")
        and field_of(node) == "name"
    ):
        current = current.parent
    while current is not None and current.type not in _SCOPES:
        current = current.parent
    return current if current is not None else node


def name_hits(source: Source, name: str, start: int = 0, end: int | None = None) -> list[int]:
    """Byte offsets where ``name`` occurs as a whole word in ``[start, end)``."""
    return word_hits(source.data, name, start, end)


def identifiers_at(root: Node, source: Source, name: str, within: Node | None = None) -> list[Node]:
    """Identifier leaves spelled ``name`` under ``within`` (the whole tree by default)."""
    return list(iter_identifiers(root, source, name, within))


def iter_identifiers(
    root: Node, source: Source, name: str, within: Node | None = None
) -> Iterator[Node]:
    """``identifiers_at`` one at a time, in document order, found as they are asked for (a
    question the first definition answers stops there, not after every use in the file)."""
    area = within if within is not None else root
    size = len(name.encode())
    for offset in iter_word_hits(source.data, name, area.start_byte, area.end_byte):
        leaf = root.descendant_for_byte_range(offset, offset + size)
        if (
            leaf is not None
            and leaf.type == "identifier"
            and leaf.start_byte == offset
            and leaf.end_byte == offset + size
        ):
            yield leaf


def bound_at_module(root: Node, source: Source, name: str) -> bool:
    """True when a module binds ``name`` at its top level (an import, a ``def``, a ``class``
    or an assignment outside any function)."""
    for leaf in iter_identifiers(root, source, name):
        if scope(leaf).type != "module":
            continue
        if is_binding(leaf) or definition_role(leaf, source) in (FUNCTION, CLASS):
            return True
    return False


_BUILTINS = frozenset(dir(builtins))


def undefined(root: Node, source: Source, name: str) -> bool:
    """True when nothing in a module defines ``name`` (no assignment, ``def``, ``class``,
    parameter or import of it, no ``import *``) and it is not a builtin."""
    if not undefined_possible(source, name):
        return False
    return not any(defines(leaf, source) for leaf in iter_identifiers(root, source, name))


def undefined_possible(source: Source, name: str) -> bool:
    """False when ``name`` is defined whatever the file's identifiers say: a builtin, or a
    file with ``import *``."""
    return name not in _BUILTINS and not source.count("import *")


def defines(leaf: Node, source: Source) -> bool:
    """True when an identifier leaf defines its name where it stands (an assignment, a
    ``def``, a ``class``, a parameter, an import's name, a ``global`` or ``nonlocal``)."""
    if is_binding(leaf) or definition_role(leaf, source) not in (None, ATTRIBUTE):
        return True
    return leaf.parent is not None and leaf.parent.type in (
        "global_statement",
        "nonlocal_statement",
    )


def binds_locally(function: Node, source: Source, name: str) -> bool:
    """True when ``name`` is a parameter of ``function`` or assigned in its own body (so a
    use inside it does not see an outer ``name``)."""
    if function.type not in ("function_definition", "lambda"):
        return False
    for leaf in identifiers_at(_root(function), source, name, function):
        if scope(leaf).id != function.id:
            continue
        if is_binding(leaf) and not _is_global(function, source, name):
            return True
    return False


def _is_global(function: Node, source: Source, name: str) -> bool:
    text = source.of(function)
    return re.search(r"\b(?:global|nonlocal)\b[^\n]*\b" + re.escape(name) + r"\b", text) is not None


def _root(node: Node) -> Node:
    while node.parent is not None:
        node = node.parent
    return node


def references(root: Node, source: Source, name: str, within: Node) -> list[Node]:
    """Plain uses and assignments of ``name`` inside ``within`` that see the binding at
    ``within``'s level: functions nested in it that bind ``name`` themselves are left out."""
    found: list[Node] = []
    shadowing: dict[int, bool] = {}
    for leaf in identifiers_at(root, source, name, within):
        if is_plain_name(leaf) and not _shadowed(leaf, within, source, name, shadowing):
            found.append(leaf)
    return found


def _shadowed(leaf: Node, within: Node, source: Source, name: str, memo: dict[int, bool]) -> bool:
    current = scope(leaf)
    while current.id != within.id and current.parent is not None:
        if current.id not in memo:
            memo[current.id] = binds_locally(current, source, name)
        if memo[current.id]:
            return True
        current = scope(current)
    return False


def attribute_uses(root: Node, source: Source, name: str, within: Node) -> list[Node]:
    """Identifier leaves ``name`` in ``self.name``/``cls.name`` inside ``within``."""
    found: list[Node] = []
    for leaf in identifiers_at(root, source, name, within):
        if not is_attribute_name(leaf):
            continue
        owner = leaf.parent.child_by_field_name("object") if leaf.parent is not None else None
        if owner is not None and owner.type == "identifier" and source.of(owner) in ("self", "cls"):
            found.append(leaf)
    return found


# -- parameters and calls ------------------------------------------------------------------

POSITIONAL_ONLY = "positional_only"
POSITIONAL = "positional"
KEYWORD_ONLY = "keyword_only"
VAR_POSITIONAL = "var_positional"
VAR_KEYWORD = "var_keyword"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: str
    default: bool
    node: Node = field(compare=False, hash=False, repr=False)


def parameters(function: Node, source: Source) -> list[Param] | None:
    """The parameters of a ``def``, or None when they do not parse cleanly."""
    node = function.child_by_field_name("parameters")
    if node is None or node.has_error:
        return None
    found: list[Param] = []
    keyword_only = False
    for child in node.named_children:
        kind = child.type
        if kind == "comment":
            continue
        if kind == "positional_separator":
            found = [
                Param(p.name, POSITIONAL_ONLY, p.default, p.node) if p.kind == POSITIONAL else p
                for p in found
            ]
            continue
        if kind == "keyword_separator":
            keyword_only = True
            continue
        inner = child
        if kind == "typed_parameter" and child.named_children:
            inner = child.named_children[0]
        if inner.type == "list_splat_pattern":
            found.append(Param(_first_name(inner, source), VAR_POSITIONAL, False, child))
            keyword_only = True
            continue
        if inner.type == "dictionary_splat_pattern":
            found.append(Param(_first_name(inner, source), VAR_KEYWORD, False, child))
            continue
        if kind in ("default_parameter", "typed_default_parameter"):
            name_node = child.child_by_field_name("name")
            default = True
        elif kind == "identifier":
            name_node, default = child, False
        elif kind == "typed_parameter":
            name_node, default = inner, False
        else:
            return None
        if name_node is None or name_node.type != "identifier":
            return None
        found.append(
            Param(
                source.of(name_node), KEYWORD_ONLY if keyword_only else POSITIONAL, default, child
            )
        )
    return found


def _first_name(node: Node, source: Source) -> str:
    for child in node.named_children:
        if child.type == "identifier":
            return source.of(child)
    return ""


def is_method(function: Node) -> bool:
    return _in_class_body(function)


def decorators(function: Node, source: Source) -> list[str]:
    parent = function.parent
    if parent is None or parent.type != "decorated_definition":
        return []
    return [
        source.of(child).lstrip("@").strip()
        for child in parent.named_children
        if child.type == "decorator"
    ]


@dataclass(frozen=True, slots=True)
class Arg:
    node: Node = field(compare=False, hash=False, repr=False)
    keyword: str | None = None
    splat: bool = False


def arguments(call: Node, source: Source) -> tuple[Node, list[Arg]] | None:
    """A call's argument list and its arguments (None when it is a generator argument or
    does not parse)."""
    node = call.child_by_field_name("arguments")
    if node is None or node.type != "argument_list" or node.has_error:
        return None
    found: list[Arg] = []
    for child in node.named_children:
        if child.type == "comment":
            continue
        if child.type == "keyword_argument":
            name = child.child_by_field_name("name")
            found.append(Arg(child, source.of(name) if name is not None else None))
        elif child.type in ("list_splat", "dictionary_splat"):
            found.append(Arg(child, None, True))
        else:
            found.append(Arg(child))
    return node, found


def calls_of(
    root: Node, source: Source, name: str, *, method: bool, class_name: str | None = None
) -> Iterator[tuple[Node, bool]]:
    """Calls of a function or method ``name`` in a tree: ``(call, bound)``, where ``bound``
    says the first parameter (``self``) is already given by the call (``self.name(...)``)."""
    for leaf in identifiers_at(root, source, name):
        parent = leaf.parent
        if parent is None:
            continue
        if not method and parent.type == "call" and field_of(leaf) == "function":
            yield parent, False
            continue
        if not method or parent.type != "attribute" or field_of(leaf) != "attribute":
            continue
        call = parent.parent
        if call is None or call.type != "call" or field_of(parent) != "function":
            continue
        owner = parent.child_by_field_name("object")
        if owner is None:
            continue
        owner_text = source.of(owner)
        if owner_text in ("self", "cls") or owner_text.startswith("super("):
            yield call, True
        elif class_name is not None and owner_text == class_name:
            yield call, False


def docstring(function: Node) -> Node | None:
    """The string node of a ``def``'s or ``class``'s docstring."""
    body = function.child_by_field_name("body")
    if body is None or not body.named_children:
        return None
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_children:
        string = first.named_children[0]
        if string.type == "string":
            return string
    return None


_SECTION = re.compile(
    r"^\s*(?:Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Other Parameters)"
    r"\s*:?\s*$"
)
_OTHER_SECTION = re.compile(r"^\s*[A-Z][A-Za-z ]*:?\s*$")
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")


def docstring_entries(text: str, name: str) -> list[tuple[int, int, int]]:
    """Where ``name`` is documented as a parameter in a docstring's text: per entry, the first
    and last line (inclusive, zero-based in ``text``) and the column of the name on the first.

    Sphinx (``:param name:``, ``:param type name:``, ``:type name:``), Google (``name (type):``
    under ``Args:``) and numpy (``name : type`` under ``Parameters`` and its underline).
    """
    lines = text.split("\n")
    escaped = re.escape(name)
    sphinx = re.compile(
        r"^\s*:(?:param|parameter|arg|argument|key|keyword|type)\s+(?:[^:\n]*\s)?("
        + escaped
        + r")\s*:"
    )
    listed = re.compile(r"^\s*\*{0,2}(" + escaped + r")\s*(?:\([^)]*\))?\s*(?::(?:\s|$)|$)")
    found: list[tuple[int, int, int]] = []
    section: int | None = None  # the indentation of the parameters section we are in
    for number, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if _SECTION.match(line):
            section = indent
            continue
        if _UNDERLINE.match(line):
            continue
        if (
            section is not None
            and stripped
            and (indent < section or (indent == section and _OTHER_SECTION.match(line)))
        ):
            section = None
        match = sphinx.match(line)
        if match is None and section is not None:
            match = listed.match(line)
        if match is None:
            continue
        last = number
        for following in range(number + 1, len(lines)):
            other = lines[following]
            if not other.strip() or len(other) - len(other.lstrip()) <= indent:
                break
            last = following
        found.append((number, last, match.start(1)))
    return found


def module_names(path: str | None) -> tuple[str, ...]:
    """The dotted names a file can be imported by: ``src/click/core.py`` gives
    ``click.core`` and shorter tails (``core``)."""
    if not path:
        return ()
    parts = path.replace("\\", "/").split("/")
    if not parts[-1].endswith((".py", ".pyi")):
        return ()
    parts[-1] = parts[-1].rsplit(".", 1)[0]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    names = []
    for start in range(len(parts)):
        tail = parts[start:]
        if tail and all(part.isidentifier() for part in tail):
            names.append(".".join(tail))
    return tuple(names)


def imported_names(root: Node, source: Source, module: tuple[str, ...], name: str) -> list[Node]:
    """In a file's tree, the identifier leaves of ``from <module> import name`` statements,
    where the import's module ends like one of ``module``'s names."""
    found: list[Node] = []
    for leaf in identifiers_at(root, source, name):
        dotted = leaf.parent
        if dotted is None or dotted.type != "dotted_name" or dotted.named_child_count != 1:
            continue
        holder = dotted.parent
        if holder is not None and holder.type == "aliased_import":
            holder = holder.parent
        if holder is None or holder.type != "import_from_statement" or field_of(dotted) != "name":
            continue
        module_node = holder.child_by_field_name("module_name")
        text = source.of(module_node).lstrip(".") if module_node is not None else ""
        if text and any(
            candidate == text or candidate.endswith("." + text) or text.endswith("." + candidate)
            for candidate in module
        ):
            found.append(leaf)
    return found

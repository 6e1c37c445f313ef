"""Functions of a source file: where each lies, its signature and documentation, how large and
how branchy it is, and what it calls.

Boundary: reads tree-sitter trees of the languages in ``languages.py`` (Python first; JavaScript,
TypeScript, Go, Rust and Java alike) and returns plain frozen data with zero-based lines. It
never raises on broken code: an unparsable region simply yields fewer functions, and a language
without a grammar yields none.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from tree_sitter import Node, Query, QueryCursor, Tree

from tactful.analyzers.languages import grammar, new_parser, parse_within

# Node types that define a function, per language.
_FUNCTION_NODES = {
    "python": frozenset({"function_definition"}),
    "javascript": frozenset(
        {
            "function_declaration",
            "generator_function_declaration",
            "method_definition",
            "function_expression",
            "arrow_function",
        }
    ),
    "go": frozenset({"function_declaration", "method_declaration"}),
    "rust": frozenset({"function_item"}),
    "java": frozenset({"method_declaration", "constructor_declaration"}),
}
_FUNCTION_NODES["typescript"] = _FUNCTION_NODES["javascript"]

_CLASS_NODES = frozenset(
    {
        "class_definition",
        "class_declaration",
        "class",
        "interface_declaration",
        "impl_item",
        "trait_item",
        "enum_declaration",
        "record_declaration",
    }
)

# Node types that add a path through the code (cyclomatic complexity), per language family.
_BRANCH_NODES = {
    "python": frozenset(
        {
            "if_statement",
            "elif_clause",
            "for_statement",
            "while_statement",
            "except_clause",
            "conditional_expression",
            "case_clause",
            "for_in_clause",
            "if_clause",
            "boolean_operator",
        }
    ),
    "javascript": frozenset(
        {
            "if_statement",
            "for_statement",
            "for_in_statement",
            "while_statement",
            "do_statement",
            "catch_clause",
            "ternary_expression",
            "switch_case",
        }
    ),
    "go": frozenset(
        {"if_statement", "for_statement", "expression_case", "type_case", "communication_case"}
    ),
    "rust": frozenset(
        {"if_expression", "while_expression", "for_expression", "loop_expression", "match_arm"}
    ),
    "java": frozenset(
        {
            "if_statement",
            "for_statement",
            "enhanced_for_statement",
            "while_statement",
            "do_statement",
            "catch_clause",
            "ternary_expression",
            "switch_label",
        }
    ),
}
_BRANCH_NODES["typescript"] = _BRANCH_NODES["javascript"]
_SHORT_CIRCUIT = frozenset({"&&", "||", "??"})

_COMMENT_NODES = frozenset({"comment", "line_comment", "block_comment"})


def family(language_id: str) -> str:
    """The grammar family a language id belongs to (tsx and jsx share their base language)."""
    if language_id in ("javascriptreact",):
        return "javascript"
    if language_id in ("typescriptreact",):
        return "typescript"
    return language_id


class Lines(NamedTuple):
    first: int
    last: int  # inclusive

    def __contains__(self, line: object) -> bool:
        return isinstance(line, int) and self.first <= line <= self.last


@dataclass(frozen=True, slots=True)
class Function:
    """One function or method of a file."""

    name: str
    qualname: str  # ``Class.method``, ``outer.inner``
    lines: Lines  # the whole definition, decorators and documentation comment included
    header_line: int  # the line of the name
    signature_lines: Lines  # from the keyword to the end of the parameters and return type
    signature: str  # parameters and return type, whitespace collapsed
    parameters: tuple[str, ...]
    doc: str | None  # docstring or the documentation comment right above
    doc_lines: Lines | None
    public: bool
    nested: bool  # defined inside another function
    complexity: int  # 1 + decision points, nested functions excluded
    code_lines: int  # lines holding code, blank and comment-only lines excluded
    calls: frozenset[str]  # names it calls (the last part of dotted calls)


def parse(text: str, language_id: str) -> Tree | None:
    parser = new_parser(language_id)
    if parser is None:
        return None
    return parse_within(parser, text.encode("utf-8", "surrogatepass"))


def functions(
    text: str,
    language_id: str,
    tree: Tree | None = None,
    within: Collection[int] | None = None,
) -> list[Function]:
    """The functions of ``text`` in document order (outer ones before the ones they contain);
    with ``within``, only those whose definition holds one of those lines."""
    lang = family(language_id)
    kinds = _FUNCTION_NODES.get(lang)
    if kinds is None:
        return []
    tree = tree or parse(text, language_id)
    if tree is None:
        return []
    wanted = sorted(set(within)) if within is not None else None
    found: list[Function] = []
    for node in _function_nodes(tree, language_id, kinds):
        if wanted is not None and not _holds_any(node, wanted):
            continue
        scope, nested = _scope(node, kinds)
        function = _function(node, lang, scope, nested)
        if function is not None:
            found.append(function)
    return found


def _function_nodes(tree: Tree, language_id: str, kinds: frozenset[str]) -> list[Node]:
    query = _query(language_id, kinds)
    if query is None:
        return [n for n in walk(tree.root_node) if n.type in kinds]
    captures = QueryCursor(query).captures(tree.root_node)
    return sorted(captures.get("function", []), key=lambda n: (n.start_byte, -n.end_byte))


@cache
def _query(language_id: str, kinds: frozenset[str]) -> Query | None:
    language = grammar(language_id)
    if language is None:
        return None
    patterns = " ".join(f"({kind})" for kind in sorted(kinds))
    try:
        return Query(language, f"[{patterns}] @function")
    except Exception:  # a grammar without one of the node types: walk instead
        return None


def _holds_any(node: Node, lines: list[int]) -> bool:
    index = bisect_left(lines, _outer(node).start_point[0])
    return index < len(lines) and lines[index] <= node.end_point[0]


def _scope(node: Node, kinds: frozenset[str]) -> tuple[list[str], bool]:
    names: list[str] = []
    nested = False
    parent = node.parent
    while parent is not None:
        if parent.type in kinds:
            nested = True
            name = _name(parent)
            if name:
                names.append(name)
        elif parent.type in _CLASS_NODES:
            name = node_text(parent.child_by_field_name("name")) or _impl_name(parent)
            if name:
                names.append(name)
        parent = parent.parent
    return list(reversed(names)), nested


def innermost(functions_: list[Function], line: int) -> Function | None:
    """The smallest function whose definition contains ``line``."""
    best: Function | None = None
    for function in functions_:
        if line in function.lines and (
            best is None
            or function.lines.last - function.lines.first < best.lines.last - best.lines.first
        ):
            best = function
    return best


def walk(node: Node, lines: Sequence[int] | None = None) -> Iterator[Node]:
    """Every node under ``node`` (itself included), in document order; with ``lines`` (sorted),
    only the nodes whose extent holds one of them (the others are not even visited)."""
    cursor = node.walk()
    visited_children = False
    while True:
        if not visited_children:
            current = cursor.node
            if current is None:
                return
            if lines is not None and not _spans_any(current, lines):
                visited_children = True  # skip this subtree: go on to its next sibling
                continue
            yield current
            if cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited_children = False
        elif cursor.goto_parent():
            visited_children = True
            if cursor.node == node:
                return
        else:
            return


def _spans_any(node: Node, lines: Sequence[int]) -> bool:
    index = bisect_left(lines, node.start_point[0])
    return index < len(lines) and lines[index] <= node.end_point[0]


def node_text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def _impl_name(node: Node) -> str:
    if node.type == "impl_item":
        return node_text(node.child_by_field_name("type"))
    return ""


def _function(node: Node, lang: str, scope: list[str], nested: bool) -> Function | None:
    name = _name(node)
    if not name:
        return None
    outer = _outer(node)
    doc, doc_lines = _doc(node, outer, lang)
    first = outer.start_point[0]
    if doc_lines is not None:
        first = min(first, doc_lines.first)
    last = _last_line(node)
    parameters_node = node.child_by_field_name("parameters") or node.child_by_field_name(
        "parameter"
    )
    returns = (
        node.child_by_field_name("return_type")
        or node.child_by_field_name("result")
        or (node.child_by_field_name("type") if lang == "java" else None)
    )
    signature = " ".join(
        (node_text(parameters_node) + (" -> " + node_text(returns) if returns else "")).split()
    )
    name_node = node.child_by_field_name("name")
    header = (name_node or node).start_point[0]
    signature_end = max(
        (n.end_point[0] for n in (parameters_node, returns) if n is not None), default=header
    )
    complexity, code_lines, calls = _measure(node, lang)
    return Function(
        name=name,
        qualname=".".join([*scope, name]),
        lines=Lines(first, last),
        header_line=header,
        signature_lines=Lines(node.start_point[0], max(signature_end, node.start_point[0])),
        signature=signature,
        parameters=_parameter_names(parameters_node, lang),
        doc=doc,
        doc_lines=doc_lines,
        public=_public(node, outer, name, lang, nested),
        nested=nested,
        complexity=complexity,
        code_lines=code_lines,
        calls=frozenset(calls),
    )


def _name(node: Node) -> str:
    name = node.child_by_field_name("name")
    if name is not None:
        return node_text(name)
    parent = node.parent
    # ``const f = () => …`` and ``f = function () {…}``: the function takes its variable's name.
    if parent is not None and parent.type in ("variable_declarator", "assignment_expression"):
        target = parent.child_by_field_name("name") or parent.child_by_field_name("left")
        if target is not None and target.type in ("identifier", "property_identifier"):
            return node_text(target)
    if parent is not None and parent.type == "pair":
        key = parent.child_by_field_name("key")
        return node_text(key)
    return ""


def _outer(node: Node) -> Node:
    """The statement that carries the function: decorators, ``export``, ``const f =``."""
    outer = node
    while outer.parent is not None and outer.parent.type in (
        "decorated_definition",
        "export_statement",
        "variable_declarator",
        "lexical_declaration",
        "variable_declaration",
    ):
        outer = outer.parent
    return outer


def _doc(node: Node, outer: Node, lang: str) -> tuple[str | None, Lines | None]:
    if lang == "python":
        body = node.child_by_field_name("body")
        if body is not None and body.named_child_count:
            first = body.named_children[0]
            if first.type == "expression_statement" and first.named_child_count:
                string = first.named_children[0]
                if string.type == "string":
                    return node_text(string), Lines(first.start_point[0], first.end_point[0])
        return None, None
    comments: list[Node] = []
    previous = outer.prev_named_sibling
    expected_line = outer.start_point[0]
    while previous is not None and previous.type in _COMMENT_NODES:
        # Only a comment block touching the definition documents it; a blank line ends it.
        if previous.end_point[0] < expected_line - 1:
            break
        comments.append(previous)
        expected_line = previous.start_point[0]
        previous = previous.prev_named_sibling
    if not comments:
        return None, None
    comments.reverse()
    text = "\n".join(node_text(c) for c in comments)
    if lang in ("javascript", "typescript", "java") and not text.lstrip().startswith("/**"):
        return None, None
    if lang == "rust" and not text.lstrip().startswith(("///", "//!")):
        return None, None
    return text, Lines(comments[0].start_point[0], _last_line(comments[-1]))


def _last_line(node: Node) -> int:
    """Last line holding text of ``node`` (a node that ends with its newline ends before)."""
    last = node.end_point[0]
    if node.end_point[1] == 0 and last > node.start_point[0]:
        last -= 1
    return last


def _public(node: Node, outer: Node, name: str, lang: str, nested: bool) -> bool:
    if nested:
        return False
    if lang == "python":
        return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))
    if lang == "go":
        return name[:1].isupper()
    if lang == "rust":
        return any(child.type == "visibility_modifier" for child in node.children)
    if lang == "java":
        modifiers = next((c for c in node.children if c.type == "modifiers"), None)
        return modifiers is not None and "public" in node_text(modifiers).split()
    # JavaScript and TypeScript: exported functions, and methods not marked private.
    if node.type == "method_definition":
        if name.startswith(("#", "_")):
            return False
        return not any(
            c.type == "accessibility_modifier" and node_text(c) in ("private", "protected")
            for c in node.children
        )
    return outer.type == "export_statement" or (
        outer.parent is not None and outer.parent.type == "export_statement"
    )


def _parameter_names(parameters: Node | None, lang: str) -> tuple[str, ...]:
    if parameters is None:
        return ()
    names: list[str] = []
    for child in parameters.named_children:
        if child.type == "identifier":
            names.append(node_text(child))
            continue
        target = child.child_by_field_name("name") or child.child_by_field_name("pattern")
        if target is None:
            target = next((c for c in child.named_children if c.type == "identifier"), None)
        if target is not None:
            text = node_text(target)
            if text.isidentifier():
                names.append(text)
    return tuple(n for n in names if n not in ("self", "cls"))


def _measure(node: Node, lang: str) -> tuple[int, int, set[str]]:
    """Complexity, lines of code and called names of a function, its nested functions aside."""
    branches = _BRANCH_NODES.get(lang, frozenset())
    kinds = _FUNCTION_NODES.get(lang, frozenset())
    complexity = 1
    code: set[int] = set()
    calls: set[str] = set()
    stack = list(node.children)
    while stack:
        child = stack.pop()
        if child.type in kinds:
            continue
        kind = child.type
        if kind in branches:
            complexity += 1
        elif kind == "binary_expression":
            operator = child.child_by_field_name("operator")
            if operator is not None and node_text(operator) in _SHORT_CIRCUIT:
                complexity += 1
        if kind in _COMMENT_NODES:
            continue
        if child.child_count == 0:
            code.add(child.start_point[0])
        elif kind == "string" or kind.endswith("string_literal"):
            code.update(range(child.start_point[0], child.end_point[0] + 1))
            continue
        called = _called_name(child, lang)
        if called:
            calls.add(called)
        stack.extend(child.children)
    return complexity, len(code), calls


def _called_name(node: Node, lang: str) -> str:
    if node.type in ("call", "call_expression"):
        target = node.child_by_field_name("function")
    elif node.type == "method_invocation":
        target = node.child_by_field_name("name")
    elif node.type == "macro_invocation":
        target = node.child_by_field_name("macro")
    else:
        return ""
    while target is not None and target.type not in (
        "identifier",
        "property_identifier",
        "field_identifier",
    ):
        target = (
            target.child_by_field_name("attribute")
            or target.child_by_field_name("property")
            or target.child_by_field_name("field")
            or target.child_by_field_name("name")
        )
    return node_text(target)

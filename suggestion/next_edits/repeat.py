"""Repeated edits learned on the fly: an edit made at one place, generalised into a rewrite of
syntax trees, proposed at the other places it applies to.

Boundary: tree-sitter trees of any language we parse; plain frozen rules. Nothing is sent
anywhere and nothing raises on broken code (an edit whose trees hold errors teaches nothing).

From one example, in the spirit of IntelliCode's on-the-fly edit suggestions and of program
synthesis from examples (Refazer, BluePencil): the smallest pair of subtrees that holds the
edit is found in the trees before and after it, and anti-unified. A subtree of the "before"
side that reappears whole on the "after" side is what the edit moved or kept: it becomes a
hole that matches other code of its kind (``d.has_key(k)`` → ``k in d`` becomes
``H1.has_key(H2)`` → ``H2 in H1``). A run of list elements kept as it was becomes a hole for
any number of elements (``f(a, b)`` → ``f(a, b, timeout=t)`` applies to ``f(x)`` too). What the
edit removed or added stays constant, and so do the names that say which code is meant: the
function a call calls, an attribute's name, a keyword's name. A rule needs at least one such
constant word (its anchor); without one the pair grows to its parents, at most twice.

A change to a ``def`` line (a parameter, an annotation) is held by the whole function, far
larger than the change: it is learned on the function's header alone, its body one hole
(``kind`` ``header``). Beyond its own text, the runs of parameters it kept become holes
(``get_metavar(self, param)`` → ``get_metavar(self, param, ctx)`` applies to the overrides
that name their parameters otherwise), then the function's name too, for the functions of
other names whose header has the same shape (``def pass_context(f):`` → ``def
pass_context(f: "F") -> "F":`` applies to ``def pass_obj(f):``); the names and annotations
of its parameters stay (abstracted, the header would read like most of the file's).

Applying a rule searches the text for its anchor (C speed), climbs from each hit to where the
pattern's root would be and matches there, so its cost follows the hits, not the file's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from tree_sitter import Node

from tactful.suggestion.next_edits import python as py
from tactful.suggestion.next_edits.trees import EditTrees, Source, word_hits
from tactful.suggestion.next_edits.types import RecordedEdit

MAX_EXAMPLE_BYTES = 400
MAX_EXAMPLE_LINES = 8
MAX_NODES = 300
MAX_CLIMB = 2
MAX_HITS = 60
# Constant words of a pattern whose counts are compared to choose where a search starts.
MAX_ANCHORS = 4

LOCAL = "local"
MODULE = "module"
ANYWHERE = "anywhere"

# How far a rewrite generalises its example: the example's own text, then holes for the runs
# of list elements it kept, for the names and expressions it kept, for the literals it kept,
# for the attribute names it kept (``Base.method(self, x)`` → ``super().method(x)`` for any
# method: only where a word the rewrite removes still says which code is meant).
EXACT, RUNS, NAMES, LITERALS, ATTRIBUTES = 0, 1, 2, 3, 4
LEVELS = (EXACT, RUNS, NAMES, LITERALS, ATTRIBUTES)
TEXT = 5  # a textual rewrite, for edits the syntax does not hold

# Nodes a rule is never rooted at: they hold whole bodies, not one construct.
_NO_ROOT = frozenset(
    {"module", "block", "program", "source_file", "statement_block", "compilation_unit", "ERROR"}
)
# Python node types that can stand for one another in a hole made from a simple operand.
_PRIMARY = frozenset(
    {
        "identifier",
        "attribute",
        "subscript",
        "call",
        "string",
        "concatenated_string",
        "integer",
        "float",
        "true",
        "false",
        "none",
        "list",
        "tuple",
        "dictionary",
        "set",
        "parenthesized_expression",
        "list_comprehension",
        "dictionary_comprehension",
        "set_comprehension",
        "generator_expression",
        "ellipsis",
        "member_expression",
        "field_expression",
        "selector_expression",
        "call_expression",
        "number",
        "field_access",
        "method_invocation",
        "scoped_identifier",
        "property_identifier",
        "type_identifier",
    }
)
_OPERATORS = frozenset(
    {
        "binary_operator",
        "unary_operator",
        "boolean_operator",
        "comparison_operator",
        "not_operator",
        "conditional_expression",
        "lambda",
        "await",
        "binary_expression",
        "unary_expression",
        "ternary_expression",
    }
)
_STRUCTURAL = frozenset(
    {"block", "module", "comment", "decorator", "keyword_argument", "argument_list", "parameters"}
)
_LISTS = frozenset(
    {
        "argument_list",
        "list",
        "tuple",
        "set",
        "dictionary",
        "expression_list",
        "pattern_list",
        "arguments",
        "array",
        "object",
        "type_parameter",
        "subscript",
        "parameters",
    }
)
_LITERALS = frozenset(
    {"string", "concatenated_string", "integer", "float", "true", "false", "none", "number"}
)
_CONTAINERS = frozenset(
    {"argument_list", "parameters", "lambda_parameters", "arguments", "formal_parameters"}
)
_WORD = re.compile(r"[A-Za-z_]\w*")

# Pattern nodes: ("l", type, text) a constant leaf, ("h", k, kind) a hole, ("r", k) a run of
# list elements, ("n", type, child, child, ...) a node. Templates: strings and ("h"/"r", k).
# Each position's type depends on the tag in front, which a tuple type cannot say: the matcher
# reads them by that tag.
Pattern = tuple[Any, ...]
Template = tuple[Any, ...]
# A rewrite as the pattern it matches and the template it writes: two rules with one
# signature are one rule.
Signature = tuple[Pattern, Template]
# A rule's level, kind and pattern with its names and literals spelled out of it (``shape``).
Shape = tuple[int, str, Pattern]


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A rewrite learned from one edit: where ``pattern`` matches, write ``template``.

    ``anchor`` is a constant word of the pattern, ``anchor_type`` its node type and
    ``anchor_depth`` how many parents up from it the pattern's root lies; ``kind`` is
    ``name``/``attribute`` for a rule that replaces one identifier, ``header`` for one that
    rewrites a function's ``def`` line (its body a hole), else ``node``; ``context``
    is the type of the node the example hung from (and ``context_field`` the field it hung
    by; a renamed identifier is only renamed where it stands the same way); ``level`` is how
    far it generalises (``EXACT``..``LITERALS``, or ``TEXT``) and ``climb`` how many parents
    above the edit its pattern is rooted; ``added`` the words the rewrite adds (a
    place that already has them all was already rewritten). For a renamed use of a name,
    ``scope`` says where the name lives: ``local`` to the function ``scope_depth`` levels
    out from the example (at offset ``scope_at`` of the text after it), ``module``, or
    ``anywhere``. ``handler``: the example was in an exception handler (``except``), and so
    must the places it applies to be (``raise X`` → ``raise X from None`` means nothing
    elsewhere).
    """

    language_id: str
    pattern: Pattern
    template: Template
    anchor: str
    anchor_type: str
    anchor_depth: int
    kind: str
    context: str
    added: tuple[str, ...]
    before: str
    after: str
    origin: int
    anchors: tuple[tuple[str, str, int], ...] = ()
    context_field: str = ""
    level: int = EXACT
    climb: int = 0
    scope: str = "anywhere"
    scope_at: int = -1
    scope_depth: int = 0
    handler: bool = False

    @property
    def signature(self) -> Signature:
        return (self.pattern, self.template)

    @property
    def removed(self) -> tuple[str, ...]:
        """The constant words of the pattern the rewrite takes away (an API it migrates from)."""
        kept = {
            word
            for piece in self.template
            if isinstance(piece, str)
            for word in _WORD.findall(piece)
        }
        return tuple(
            sorted(
                {
                    leaf[2]
                    for leaf in _leaves(self.pattern)
                    if leaf[0] == "l" and _WORD.fullmatch(leaf[2]) and leaf[2] not in kept
                }
            )
        )

    @property
    def extends(self) -> bool:
        """True when the rewrite only adds around what was there (``x`` → ``x and y``)."""
        return self.before in self.after

    @property
    def other_functions(self) -> bool:
        """True for a header's rewrite whose function's name is a hole (from one example, at
        ``NAMES``; from two examples of functions of other names, where they differ): it
        applies to functions of other names than the example's."""
        return self.kind == "header" and any(
            child[0] == "h" and child[2] != "block" for child in self.pattern[2:] if len(child) > 2
        )

    @property
    def holes(self) -> int:
        return _count(self.pattern, ("h", "r"))

    @property
    def size(self) -> int:
        return _count(self.pattern, ("l", "h", "r", "n"))


@dataclass(frozen=True, slots=True)
class Site:
    """Where a rule matched: bytes ``[start, end)`` of a text become ``text``; ``context`` is
    the type of the node the match hangs from."""

    start: int
    end: int
    text: str
    context: str


def learn(edit: RecordedEdit, trees: EditTrees) -> list[Rewrite]:
    """The rewrites an edit teaches, the most specific first (empty when it teaches nothing we
    can apply elsewhere).

    From one example the right generalisation is unknown, so several are kept, from the
    edit's own text (``level`` 0) through holes for kept list runs (1), for kept names and
    expressions (2), to holes for kept literals too (3); the engine applies the most specific
    one that matches somewhere (the fewer places a rewrite fits, the likelier it is meant for
    them). An edit the syntax cannot hold (whole lines deleted, a comment changed) teaches
    a textual rewrite instead.
    """
    pair = localize(trees, edit)
    found: list[Rewrite] = []
    seen: set[Signature] = set()
    for climb in range(MAX_CLIMB + 1):
        if pair is None:
            break
        before, after = pair
        if before.type in _NO_ROOT or after.type in _NO_ROOT:
            break
        if before.has_error or after.has_error:
            break
        if _in_body(before, trees.before.byte(edit.start), trees.before.byte(edit.old_end)):
            break  # a ``def`` or an ``if`` whose body changed: its statements are the edit
        body = _kept_body(before, after, trees)
        if body is None:
            ends = (before.end_byte, after.end_byte)
            last_rows = (before.end_point[0], after.end_point[0])
        else:  # the header alone
            ends = (body[0].start_byte, body[1].start_byte)
            last_rows = (body[0].start_point[0], body[1].start_point[0])
        size = max(ends[0] - before.start_byte, ends[1] - after.start_byte)
        lines = max(last_rows[0] - before.start_point[0], last_rows[1] - after.start_point[0])
        if size > MAX_EXAMPLE_BYTES or lines >= MAX_EXAMPLE_LINES:
            break
        if before.child_count == 0 and _defines(before, trees.before, edit.language_id):
            return []  # a definition renamed: propagation follows its references
        if before.type in _CONTAINERS and climb < MAX_CLIMB:
            # An argument or parameter list alone does not say whose it is.
            pair = _parents(before, after, trees)
            continue
        general = False
        for level in LEVELS:
            rule = _generalize(
                before, after, trees, edit, level, climb, body[0] if body is not None else None
            )
            if rule is None or rule.signature in seen:
                continue
            seen.add(rule.signature)
            found.append(rule)
            general = general or level >= NAMES
        if general:
            break
        pair = _parents(before, after, trees)
    textual = _textual(edit, trees)
    if textual is not None:
        found.append(textual)
    found.sort(key=lambda rule: (rule.level, rule.climb))
    return found


def _kept_body(before: Node, after: Node, trees: EditTrees) -> tuple[Node, Node] | None:
    """The bodies of a Python function whose ``def`` line the edit changed and whose body it
    kept as it was (before, after), or None for any other pair."""
    if before.type != "function_definition" or after.type != "function_definition":
        return None
    old, new = before.child_by_field_name("body"), after.child_by_field_name("body")
    if old is None or new is None or trees.before.of(old) != trees.after.of(new):
        return None
    return old, new


def _in_body(node: Node, start: int, end: int) -> bool:
    """True when bytes ``[start, end)`` lie in a block of ``node`` (a body of statements)."""
    for child in node.children:
        if child.type in ("block", "_simple_statements") and (
            child.start_byte <= start and end <= child.end_byte
        ):
            return True
        if child.type in ("else_clause", "elif_clause", "except_clause", "finally_clause") and (
            child.start_byte <= start and end <= child.end_byte
        ):
            return _in_body(child, start, end)
    return False


def localize(trees: EditTrees, edit: RecordedEdit) -> tuple[Node, Node] | None:
    """The smallest pair of nodes, one before and one after the edit, that hold all of it and
    stand at the same place (the texts agree before them and after them)."""
    start = trees.before.byte(edit.start)
    old_end = trees.before.byte(edit.old_end)
    new_end = trees.after.byte(edit.new_end)
    tail = len(trees.before.data) - old_end
    if len(trees.after.data) - new_end != tail:
        return None
    root = trees.before_tree.root_node
    starts = [root.descendant_for_byte_range(start, old_end)]
    if start == old_end and start > 0:
        starts.append(root.descendant_for_byte_range(start - 1, start))
    best: tuple[Node, Node] | None = None
    for node in starts:
        while node is not None:
            covers = node.start_byte <= start and node.end_byte >= old_end
            if covers and (start < old_end or node.start_byte < start or node.end_byte > start):
                after = _exact(
                    trees.after_tree.root_node,
                    node.start_byte,
                    len(trees.after.data) - (len(trees.before.data) - node.end_byte),
                    node.type,
                )
                if after is not None:
                    if best is None or (node.end_byte - node.start_byte) < (
                        best[0].end_byte - best[0].start_byte
                    ):
                        best = (node, after)
                    break
            node = node.parent
    return best


def _exact(root: Node, start: int, end: int, prefer: str) -> Node | None:
    if end < start:
        return None
    node = root.descendant_for_byte_range(start, end)
    found: list[Node] = []
    while node is not None and node.start_byte == start and node.end_byte == end:
        found.append(node)
        node = node.parent
    if not found:
        return None
    for candidate in found:
        if candidate.type == prefer:
            return candidate
    return found[0]


def _parents(before: Node, after: Node, trees: EditTrees) -> tuple[Node, Node] | None:
    up_before, up_after = before.parent, after.parent
    if up_before is None or up_after is None:
        return None
    same_start = up_before.start_byte == up_after.start_byte
    same_tail = (
        len(trees.before.data) - up_before.end_byte == len(trees.after.data) - up_after.end_byte
    )
    return (up_before, up_after) if same_start and same_tail else None


def _defines(leaf: Node, source: Source, language_id: str) -> bool:
    if language_id != "python" or leaf.type != "identifier":
        return False
    role = py.definition_role(leaf, source)
    return role not in (None, py.ATTRIBUTE)


# -- generalising one example --------------------------------------------------------------


def _generalize(
    before: Node,
    after: Node,
    trees: EditTrees,
    edit: RecordedEdit,
    level: int,
    climb: int,
    body: Node | None = None,
) -> Rewrite | None:
    """The rewrite of ``before`` into ``after`` generalised to ``level``; ``body``: the body of
    the function ``before`` is, kept as it was, which becomes a hole (a header's rewrite);
    a header's runs of parameters become holes at ``RUNS``, and its function's name too at
    ``NAMES`` (no further)."""
    source_before, source_after = trees.before, trees.after
    if body is not None and level > NAMES:
        return None
    # A header's parameters' names and annotations stay as they are at every level (with
    # them abstracted it would read like most headers of the file); at ``NAMES`` its
    # function's name is a hole instead.
    name = before.child_by_field_name("name") if body is not None and level == NAMES else None
    abstract = min(level, RUNS) if body is not None else level
    copies = _copies(after, source_after)
    if copies is None:
        return None
    kept_function = _kept_function(before, source_before, source_after.of(after))
    runs = _kept_runs(before, after, copies, source_before, source_after) if abstract else {}
    holes: dict[str, int] = {}
    kinds: dict[int, str] = {}
    rests: dict[int, str] = {}
    nodes = [0]

    def build(node: Node, root: bool) -> Pattern:
        nodes[0] += 1
        text = source_before.of(node)
        if (body is not None and node.id == body.id) or (name is not None and node.id == name.id):
            index = holes.setdefault(text, len(holes))
            kinds[index] = node.type
            return ("h", index, node.type)
        if (
            not root
            and text in copies
            and _abstractable(node, edit.language_id)
            and not _anchored(node, kept_function, attributes=abstract >= ATTRIBUTES)
            and (abstract >= LITERALS or (abstract >= NAMES and not _literal(node)))
        ):
            index = holes.setdefault(text, len(holes))
            kinds[index] = _kind(node)
            return ("h", index, kinds[index])
        if node.child_count == 0:
            return ("l", node.type, text)
        children: list[Pattern] = []
        run = runs.get(node.id)
        index = 0
        while index < node.child_count:
            if run is not None and index == run[0]:
                rests[len(rests)] = run[2]
                children.append(("r", len(rests) - 1))
                index = run[1] + 1
                continue
            children.append(build(node.children[index], False))
            index += 1
        return ("n", node.type, *children)

    pattern = build(before, True)
    if nodes[0] > MAX_NODES:
        return None
    template = _template(after, source_after, holes, rests)
    if template is None:
        return None
    anchor = _anchor(pattern)
    if anchor is None:
        return None
    anchor_text, anchor_type, depth = anchor
    constants = {leaf[2] for leaf in _leaves(pattern) if leaf[0] == "l"}
    if level >= ATTRIBUTES and not _removes_a_name(pattern, template):
        return None
    added = tuple(
        sorted(
            {
                word
                for piece in template
                if isinstance(piece, str)
                for word in _WORD.findall(piece)
                if word not in constants
            }
        )
    )
    kind = "node" if body is None else "header"
    scope, scope_at, scope_depth = ANYWHERE, -1, 0
    if before.child_count == 0 and before.type == "identifier":
        if after.type != before.type and not _qualified(before, after, trees):
            return None  # an identifier wrapped or replaced: which ones is said by its parent
        kind = "attribute" if _is_attribute_name(before) else "name"
        if kind == "name" and edit.language_id == "python":
            scope, scope_depth = _name_scope(before, source_before)
            scope_at = source_after.char(after.start_byte)
    parent = before.parent
    return Rewrite(
        language_id=edit.language_id,
        pattern=pattern,
        template=template,
        anchor=anchor_text,
        anchor_type=anchor_type,
        anchor_depth=depth,
        anchors=_anchors(pattern),
        kind=kind,
        context=parent.type if parent is not None else "",
        context_field=(py.field_of(before) or "") if parent is not None else "",
        added=added,
        before=_header_text(before, source_before).rstrip()
        if body is not None
        else source_before.of(before),
        after=_header_text(after, source_after).rstrip()
        if body is not None
        else source_after.of(after),
        origin=edit.sequence,
        level=level,
        climb=climb,
        scope=scope,
        scope_at=scope_at,
        scope_depth=scope_depth,
        handler=_in_handler(before),
    )


def _qualified(before: Node, after: Node, trees: EditTrees) -> bool:
    """True when a Python name became the same name read from a module (``OrderedDict`` →
    ``collections.OrderedDict``): the other uses of the name that stand as it stood (in a
    call, an annotation...) are meant, as for a rename."""
    if after.type != "attribute" or _is_attribute_name(before):
        return False
    name, module = after.child_by_field_name("attribute"), after.child_by_field_name("object")
    return (
        name is not None
        and module is not None
        and module.type in ("identifier", "attribute")
        # ``name`` → ``self.name`` reads an attribute instead of a local: not a module's name.
        and trees.after.of(module) not in ("self", "cls")
        and trees.after.of(name) == trees.before.of(before)
    )


def _in_handler(node: Node) -> bool:
    """True for a node inside an ``except`` clause of the function (or module) it is in."""
    current = node.parent
    while current is not None and current.type not in ("function_definition", "lambda"):
        if current.type in ("except_clause", "except_group_clause", "catch_clause"):
            return True
        current = current.parent
    return False


def _removes_a_name(pattern: Pattern, template: Template) -> bool:
    """True when the rewrite takes away a name of its pattern (``Base`` of ``Base.method(self)``
    → ``super().method()``): the code it applies to is the code that still names it."""
    kept = {word for piece in template if isinstance(piece, str) for word in _WORD.findall(piece)}
    return any(
        leaf[0] == "l"
        and leaf[1] == "identifier"
        and len(leaf[2]) >= 3
        and leaf[2] not in ("self", "cls")
        and leaf[2] not in kept
        for leaf in _leaves(pattern)
    )


def _literal(node: Node) -> bool:
    """A constant written out (a string, a number, a list of them): kept as it is below the
    most general level, where it often says which places are meant (``"-"`` vs ``""``)."""
    if node.type in _LITERALS:
        return True
    if node.type in ("list", "tuple", "set", "dictionary", "pair", "unary_operator"):
        return all(_literal(child) for child in node.named_children)
    return False


def _name_scope(leaf: Node, source: Source) -> tuple[str, int]:
    """Where a renamed use's name is bound: in one of the functions around it (``LOCAL``, and
    how many functions out), at the module's level (``MODULE``), or nowhere we see
    (``ANYWHERE``: a builtin, a star import)."""
    name = source.of(leaf)
    function = py.enclosing(leaf, {"function_definition", "lambda"})
    depth = 0
    while function is not None:
        if py.binds_locally(function, source, name):
            return LOCAL, depth
        depth += 1
        function = py.enclosing(function.parent, {"function_definition", "lambda"})
    root = leaf
    while root.parent is not None:
        root = root.parent
    for other in py.iter_identifiers(root, source, name):
        if py.scope(other).type == "module" and (
            py.is_binding(other) or py.definition_role(other, source) in (py.FUNCTION, py.CLASS)
        ):
            return MODULE, 0
    return ANYWHERE, 0


def _copies(after: Node, source: Source) -> set[str] | None:
    """Texts of the nodes on the "after" side that a hole may stand for."""
    found: set[str] = set()
    stack = [after]
    count = 0
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES * 2:
            return None
        if node.is_named:
            found.add(source.of(node))
        stack.extend(node.children)
    return found


def _kept_function(before: Node, source: Source, after_text: str) -> set[int]:
    """Nodes of calls' function expressions that the edit kept whole (``os.path.join`` in
    ``os.path.join(a)`` → ``os.path.join(a, b)``): they say which calls are meant."""
    kept: set[int] = set()
    stack = [before]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type not in ("call", "call_expression", "method_invocation"):
            continue
        function = node.child_by_field_name("function") or node.child_by_field_name("name")
        if function is None or source.of(function) not in after_text:
            continue
        inner = [function]
        while inner:
            current = inner.pop()
            if _local_receiver(current, function, source):
                continue  # ``attrs.pop(...)``: the method is meant, whichever variable holds it
            kept.add(current.id)
            inner.extend(current.children)
    return kept


def _local_receiver(node: Node, function: Node, source: Source) -> bool:
    """True for the variable a method is called on when a function around it binds that
    variable (a parameter or a local): another function's variable of another name is the
    same call."""
    if node.type != "identifier" or node.parent is None or node.parent.type != "attribute":
        return False
    if py.field_of(node) != "object" or node.parent.id != function.id:
        return False
    scope = py.enclosing(node, {"function_definition", "lambda"})
    return scope is not None and py.binds_locally(scope, source, source.of(node))


def _abstractable(node: Node, language_id: str) -> bool:
    if (
        not node.is_named
        or node.type in _STRUCTURAL
        or node.type.endswith(("statement", "definition", "declaration", "clause"))
    ):
        return False
    return node.type in _PRIMARY or node.type in _OPERATORS or node.type in ("type", "generic_type")


def _anchored(node: Node, kept_function: set[int], *, attributes: bool = False) -> bool:
    """True for nodes that name what the code is about and so stay constant (``attributes``:
    an attribute's name may vary, unless the call it names was kept whole)."""
    if node.id in kept_function:
        return True
    parent = node.parent
    if parent is None:
        return False
    field = py.field_of(node)
    if parent.type in ("attribute", "member_expression", "field_expression") and field in (
        "attribute",
        "property",
        "field",
    ):
        return not attributes
    if parent.type == "keyword_argument" and field == "name":
        return True
    return parent.type in ("function_definition", "class_definition", "decorator")


def _kind(node: Node) -> str:
    if node.type in _PRIMARY:
        return "primary"
    if node.type in _OPERATORS:
        return "expression"
    return node.type


def _is_attribute_name(leaf: Node) -> bool:
    parent = leaf.parent
    return (
        parent is not None
        and parent.type in ("attribute", "member_expression", "field_expression")
        and py.field_of(leaf) in ("attribute", "property", "field")
    )


def _kept_runs(
    before: Node, after: Node, copies: set[str], source_before: Source, source_after: Source
) -> dict[int, tuple[int, int, str]]:
    """Lists whose length the edit changed, and in each the longest run of elements it kept
    as they were (written the same, in the same order): by the id of the list node, the run's
    first and last child index and its text. A run becomes a hole for any elements."""
    found: dict[int, tuple[int, int, str]] = {}
    after_lists: list[Node] = []
    stack = [after]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type in _LISTS:
            after_lists.append(node)
    stack = [before]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type not in _LISTS:
            continue
        children = node.children
        elements = [
            i for i, child in enumerate(children) if child.is_named and child.type != "comment"
        ]
        if not elements:
            continue
        counterparts = [
            other
            for other in after_lists
            if other.type == node.type
            and len([c for c in other.children if c.is_named and c.type != "comment"])
            != len(elements)
        ]
        if not counterparts:
            continue
        best: tuple[int, int, str] | None = None
        start = 0
        while start < len(elements):
            if source_before.of(children[elements[start]]) not in copies:
                start += 1
                continue
            end = start
            while (
                end + 1 < len(elements) and source_before.of(children[elements[end + 1]]) in copies
            ):
                end += 1
            # The longest stretch of kept elements that the after side has written the same.
            for last in range(end, start - 1, -1):
                first_child, last_child = elements[start], elements[last]
                text = source_before.data[
                    children[first_child].start_byte : children[last_child].end_byte
                ].decode("utf-8", "surrogatepass")
                if any(text in source_after.of(other) for other in counterparts):
                    if best is None or last_child - first_child > best[1] - best[0]:
                        best = (first_child, last_child, text)
                    break
            start = end + 1
        if best is not None:
            found[node.id] = best
    return found


def _template(
    after: Node, source: Source, holes: dict[str, int], rests: dict[int, str]
) -> Template | None:
    text = source.of(after)
    pieces: list[object] = []
    claimed: list[tuple[int, int, tuple[str, int]]] = []
    for index, run in rests.items():
        at = text.find(run)
        if at < 0 or text.find(run, at + 1) >= 0:
            return None  # not kept in one place: which elements go where is not clear
        claimed.append((at, at + len(run), ("r", index)))
    base = source.char(after.start_byte)
    stack = [after]
    while stack:
        node = stack.pop()
        node_text = source.of(node)
        start = source.char(node.start_byte) - base
        end = start + len(node_text)
        if any(a < end and start < b for a, b, _ in claimed):
            if not any(a <= start and end <= b for a, b, _ in claimed):
                stack.extend(reversed(node.children))
            continue
        if node is not after and node.is_named and node_text in holes:
            claimed.append((start, end, ("h", holes[node_text])))
            continue
        stack.extend(reversed(node.children))
    claimed.sort()
    cursor = 0
    for start, end, piece in claimed:
        if start < cursor:
            return None
        if start > cursor:
            pieces.append(text[cursor:start])
        pieces.append(piece)
        cursor = end
    if cursor < len(text):
        pieces.append(text[cursor:])
    return tuple(pieces)


def _anchor(pattern: Pattern) -> tuple[str, str, int] | None:
    """The best constant word of a pattern: (text, node type, depth below the root)."""
    found = _anchors(pattern)
    return found[0] if found else None


def _anchors(pattern: Pattern) -> tuple[tuple[str, str, int], ...]:
    """The constant words of a pattern a search can start from, best first: identifiers
    (they name things), then keywords (``print``, ``lambda``: they shape them), longer first."""
    ranked: list[tuple[int, str, str, int]] = []
    stack: list[tuple[Pattern, int]] = [(pattern, 0)]
    while stack:
        node, depth = stack.pop()
        if node[0] == "n":
            stack.extend((child, depth + 1) for child in node[2:])
            continue
        if node[0] != "l":
            continue
        kind, text = node[1], node[2]
        if not _WORD.fullmatch(text) or len(text) < 2:
            continue
        if kind not in ("identifier", "property_identifier", "type_identifier") and kind != text:
            continue
        rank = len(text) + (100 if kind in ("identifier", "property_identifier") else 0)
        ranked.append((rank, text, kind, depth))
    ranked.sort(key=lambda item: -item[0])
    seen: set[tuple[str, str, int]] = set()
    found = []
    for _rank, text, kind, depth in ranked:
        if (text, kind, depth) not in seen:
            seen.add((text, kind, depth))
            found.append((text, kind, depth))
    return tuple(found)


def _leaves(pattern: Pattern) -> Iterator[Pattern]:
    if pattern[0] == "n":
        for child in pattern[2:]:
            yield from _leaves(child)
    else:
        yield pattern


def _count(pattern: Pattern, kinds: tuple[str, ...]) -> int:
    total = 1 if pattern[0] in kinds else 0
    if pattern[0] == "n":
        total += sum(_count(child, kinds) for child in pattern[2:])
    return total


# -- applying ------------------------------------------------------------------------------


def sites(
    rule: Rewrite,
    source: Source,
    root: Node,
    near: int = 0,
    tried: dict[int, tuple[int | None, Site | None]] | None = None,
) -> list[Site]:
    """Where ``rule`` applies in a text (and what each place becomes), in document order;
    when its anchor occurs very often, only the occurrences nearest to byte ``near`` are
    tried. ``tried``: what each occurrence of the anchor gave the rule before in this text
    (the node its pattern is tried at, and the place or None), kept and added to."""
    if rule.level == TEXT:
        return _text_sites(rule, source, root)
    found: list[Site] = []
    seen: set[int] = set()
    anchor, anchor_type, depth = _start(rule, source)
    size = len(anchor.encode())
    known = {} if tried is None else tried
    words = _spelled(rule.pattern, anchor)
    for hit in _hits(source, anchor, near):
        at = known.get(hit)
        if at is None:
            at = known[hit] = _site_at(rule, source, root, hit, size, anchor_type, depth, words)
        node_id, site = at
        if node_id is None or node_id in seen:
            continue
        seen.add(node_id)
        if site is not None:
            found.append(site)
    found.sort(key=lambda site: site.start)
    return found


def _spelled(pattern: Pattern, anchor: str) -> tuple[bytes, ...]:
    """The words of a pattern's constant leaves (but ``anchor``): each stands in the text of
    any node the pattern matches."""
    words = {
        leaf[2]
        for leaf in _leaves(pattern)
        if leaf[0] == "l" and len(leaf[2]) > 1 and leaf[2] != anchor
    }
    return tuple(word.encode("utf-8", "surrogatepass") for word in sorted(words))


def _site_at(
    rule: Rewrite,
    source: Source,
    root: Node,
    hit: int,
    size: int,
    anchor_type: str,
    depth: int,
    words: tuple[bytes, ...] = (),
) -> tuple[int | None, Site | None]:
    """The node ``rule``'s pattern is tried at for the occurrence of its anchor at byte
    ``hit`` (None when it has none), and the place it makes there (None when none).
    ``words``: spelled in the text of any node the pattern matches (``_spelled``), looked for
    first: most places a pattern is tried at lack one of them."""
    leaf = root.descendant_for_byte_range(hit, hit + size)
    if leaf is None or leaf.type != anchor_type or leaf.start_byte != hit:
        return None, None
    if leaf.end_byte != hit + size:
        return None, None
    node: Node | None = leaf
    for _ in range(depth):
        node = node.parent if node is not None else None
    if node is None:
        return None, None
    data, start, end = source.data, node.start_byte, node.end_byte
    for word in words:
        if data.find(word, start, end) < 0:
            return node.id, None
    parent = node.parent
    if rule.kind in ("name", "attribute") and (
        parent is None
        or parent.type != rule.context
        or (py.field_of(node) or "") != rule.context_field
    ):
        return node.id, None
    if rule.handler and not _in_handler(node):
        return node.id, None
    bindings: dict[tuple[str, int], str] = {}
    if not _match(rule.pattern, node, source, bindings):
        return node.id, None
    text = source.of(node)
    header = _header_text(node, source) if rule.kind == "header" else text
    if rule.added and all(_has_word(header, word) for word in rule.added):
        return node.id, None
    replacement = "".join(
        piece if isinstance(piece, str) else bindings.get((piece[0], piece[1]), "")
        for piece in rule.template
    )
    if replacement == text:
        return node.id, None
    end = node.end_byte
    if rule.kind == "header":
        # The ``def`` line alone is rewritten, up to its colon: the body (a hole) and the
        # line break and indentation before it stay as they are here.
        body = node.child_by_field_name("body")
        kept = source.of(body) if body is not None else ""
        if body is None or not replacement.endswith(kept):
            return node.id, None
        header = replacement[: len(replacement) - len(kept)].rstrip()
        if not _compiles(header):
            return node.id, None  # a parameter without a default put after one with a default...
        end = node.start_byte + len(_header_text(node, source).rstrip().encode())
        replacement = header
    return node.id, Site(node.start_byte, end, replacement, parent.type if parent else "")


def _start(rule: Rewrite, source: Source) -> tuple[str, str, int]:
    """The constant word a search for ``rule`` starts from: the one the text has the fewest
    of (the fewer hits, the fewer places to try the whole pattern at)."""
    return min(
        rule.anchors[:MAX_ANCHORS] or ((rule.anchor, rule.anchor_type, rule.anchor_depth),),
        key=lambda candidate: source.count(candidate[0]),
    )


class SitesIn:
    """``sites`` in one text, each rewrite tried once at each place.

    The edits a request learns from often teach the same rewrite (two examples of one change
    each teach it, and their generalisations meet), and each is tried at every occurrence of
    its starting word, or at the ``MAX_HITS`` nearest to the edit when there are more: in the
    padded replay's slowest requests, up to two thirds of the calls were of a rewrite already
    tried, at occurrences mostly tried already (the edits are near one another).
    What a rewrite gives at one occurrence depends on what ``sites`` reads of it alone.
    """

    def __init__(self, source: Source, root: Node) -> None:
        self.source = source
        self.root = root
        self._tried: dict[tuple[object, ...], dict[int, tuple[int | None, Site | None]]] = {}
        self._text: dict[tuple[object, ...], list[Site]] = {}

    def __call__(self, rule: Rewrite, near: int = 0) -> list[Site]:
        if rule.level == TEXT:
            key: tuple[object, ...] = (rule.pattern, rule.template, rule.context)
            found = self._text.get(key)
            if found is None:
                found = self._text[key] = sites(rule, self.source, self.root, near)
            return list(found)
        key = (
            rule.level,
            rule.kind,
            rule.pattern,
            rule.template,
            _start(rule, self.source),
            rule.context,
            rule.context_field,
            rule.handler,
            rule.added,
        )
        tried = self._tried.setdefault(key, {})
        return sites(rule, self.source, self.root, near, tried)


def _compiles(header: str) -> bool:
    """True when a ``def`` line compiles (Python's own rules beyond the grammar's: no
    parameter without a default after one with a default, no name twice)."""
    try:
        compile(header + "\n    pass\n", "<header>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _header_text(function: Node, source: Source) -> str:
    """A function's text up to its body (its ``def`` line)."""
    body = function.child_by_field_name("body")
    end = body.start_byte if body is not None else function.end_byte
    return source.data[function.start_byte : end].decode("utf-8", "surrogatepass")


def _hits(source: Source, word: str, near: int) -> list[int]:
    """Where ``word`` occurs as a whole word in ``data``: all of it, or when it occurs more
    than ``MAX_HITS`` times, the ``MAX_HITS`` occurrences nearest to byte ``near`` (found in a
    window around it that is widened until it holds enough, so a word found thousands of times
    in a long file costs what a hundred do)."""
    data = source.data
    count = source.count(word)
    if count <= MAX_HITS:
        return word_hits(data, word)
    width = max(4096, len(data) * MAX_HITS // count)
    while True:
        low, high = max(0, near - width), min(len(data), near + width)
        found = word_hits(data, word, low, high)
        if len(found) >= MAX_HITS or (low == 0 and high == len(data)):
            break
        width *= 2
    return sorted(found, key=lambda hit: abs(hit - near))[:MAX_HITS]


# -- textual rewrites ------------------------------------------------------------------------


def _textual(edit: RecordedEdit, trees: EditTrees | None = None) -> Rewrite | None:
    """A rewrite of text for an edit no syntax node holds: whole lines replaced or deleted
    (``("t", "lines", old lines)``, their indentation set aside), or a piece of one line
    (``("t", "inline", old text)``, widened to whole words). A piece of a line is rewritten
    only where it stands as the example stood (``context``): in a string, in a comment, in
    an import, or in other code."""
    made = edit
    edit = _slid_to_line_start(edit)
    place = ""
    before, after = edit.before, edit.after
    line_start = before.rfind("\n", 0, edit.start) + 1
    old_line_end = _line_end(before, edit.start, edit.old_end)
    new_line_end = _line_end(after, edit.start, edit.new_end) if edit.new_text else edit.new_end
    whole = (
        not before[line_start : edit.start].strip()
        and not before[edit.old_end : old_line_end].strip()
        and not after[edit.new_end : new_line_end].strip()
    )
    if whole and ("\n" in edit.old_text or "\n" in edit.new_text):
        old_lines = before[line_start:old_line_end].splitlines()
        new_lines = after[line_start:new_line_end].splitlines() if edit.new_text.strip() else []
        if not old_lines:
            return None
        if len(old_lines) > MAX_EXAMPLE_LINES or len(new_lines) > MAX_EXAMPLE_LINES:
            return None
        indent = _indent(old_lines[0])
        old = tuple(line.strip() for line in old_lines)
        new = tuple(_dedent(line, indent) for line in new_lines)
        if not any(old):
            return None
        pattern: Pattern = ("t", "lines", old)
        template: Template = new
        old_text = "\n".join(old)
        new_text = "\n".join(line.strip() for line in new)
    else:
        # Widened to whole words only on a side where the change, as it was made, cuts into a
        # word (a word character on each side of its edge, before or after it): ``'`` put
        # into ``wont`` is ``wont`` → ``won't``, but ``  # type: ignore`` deleted after
        # ``name`` is the comment, wherever it follows (slid left, the same deletion would
        # begin inside ``name``).
        start, old_end, new_end = made.start, made.old_end, made.new_end
        if _wordish(before[start - 1 : start]) and (
            _wordish(before[start : start + 1]) or _wordish(after[start : start + 1])
        ):
            while start > line_start and _wordish(before[start - 1]):
                start -= 1
        if _wordish(before[old_end : old_end + 1]) and (
            _wordish(before[old_end - 1 : old_end]) or _wordish(after[new_end - 1 : new_end])
        ):
            while old_end < len(before) and _wordish(before[old_end]) and before[old_end] != "\n":
                old_end += 1
                new_end += 1
        old_text, new_text = before[start:old_end], after[start:new_end]
        if "\n" in old_text or "\n" in new_text or len(old_text) > MAX_EXAMPLE_BYTES:
            return None
        pattern = ("t", "inline", old_text)
        template = (new_text,)
        if trees is not None:
            place = _text_place(
                trees.before_tree.root_node, trees.before.byte(start), trees.before.byte(old_end)
            )
    words = sorted(set(_WORD.findall(old_text)), key=len, reverse=True)
    if not words or len(words[0]) < 3:
        return None  # punctuation or a letter: found everywhere, meant nowhere in particular
    added = tuple(sorted(set(_WORD.findall(new_text)) - set(_WORD.findall(old_text))))
    return Rewrite(
        language_id=edit.language_id,
        pattern=pattern,
        template=template,
        anchor=words[0],
        anchor_type="text",
        anchor_depth=0,
        kind="text",
        context=place,
        added=added,
        before=old_text,
        after=new_text,
        origin=edit.sequence,
        level=TEXT,
    )


def _slid_to_line_start(edit: RecordedEdit) -> RecordedEdit:
    """A pure deletion or insertion moved left as far as the same text allows, towards the
    start of its line: deleting ``"x()\n    "`` after four spaces is deleting the line
    ``"    x()\n"``."""
    if edit.old_text and edit.new_text:
        return edit
    text = edit.before if edit.old_text else edit.after
    start, end = edit.start, edit.old_end if edit.old_text else edit.new_end
    while start > 0 and text[start - 1] == text[end - 1] and text[start - 1] != "\n":
        start, end = start - 1, end - 1
    if start == edit.start:
        return edit
    shift = edit.start - start
    return replace(edit, start=start, old_end=edit.old_end - shift, new_end=edit.new_end - shift)


def _line_end(text: str, start: int, end: int) -> int:
    """Where the line holding the end of ``text[start:end]`` ends (after its line break); a
    range that ends with a line break ends there."""
    if end > start and text[end - 1] == "\n":
        return end
    found = text.find("\n", end)
    return len(text) if found == -1 else found + 1


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _dedent(line: str, indent: str) -> str:
    return line[len(indent) :] if line.startswith(indent) else line.lstrip()


def _wordish(char: str) -> bool:
    return char.isalnum() or char == "_"


def _text_sites(rule: Rewrite, source: Source, root: Node) -> list[Site]:
    data = source.data
    found: list[Site] = []
    if rule.pattern[1] == "inline":
        old = rule.pattern[2]
        needle = old.encode("utf-8", "surrogatepass")
        position = data.find(needle)
        while position != -1 and len(found) < MAX_HITS:
            end = position + len(needle)
            before_ok = position == 0 or not (
                _wordish(old[0]) and _wordish(chr(data[position - 1]))
            )
            after_ok = end >= len(data) or not (_wordish(old[-1]) and _wordish(chr(data[end])))
            if (
                before_ok
                and after_ok
                and _text_place(root, position, end) == (rule.context or "code")
                and not _definition_name(root, position, end)
            ):
                found.append(Site(position, end, rule.template[0], "text"))
            position = data.find(needle, end)
        return found
    old_lines: tuple[str, ...] = rule.pattern[2]
    text = source.text
    first = re.compile(r"^([ \t]*)" + re.escape(old_lines[0]) + r"[ \t]*$", re.MULTILINE)
    for match in first.finditer(text):
        if len(found) >= MAX_HITS:
            break
        offset = match.start()
        block_end = offset
        ok = True
        for expected in old_lines:
            line_end = text.find("\n", block_end)
            current = text[block_end : len(text) if line_end == -1 else line_end]
            if current.strip() != expected:
                ok = False
                break
            block_end = len(text) if line_end == -1 else line_end + 1
        if ok:
            indent = match.group(1)
            new = "".join(indent + piece + "\n" if piece else "\n" for piece in rule.template)
            if block_end == len(text) and not text.endswith("\n"):
                new = new[:-1]
            found.append(Site(source.byte(offset), source.byte(block_end), new, "text"))
    return found


def _text_place(root: Node, start: int, end: int) -> str:
    """Where bytes ``[start, end)`` of a text stand: ``string``, ``comment``, ``import`` (an
    import statement) or ``code``."""
    node = root.descendant_for_byte_range(start, end)
    while node is not None:
        if node.type in ("string", "string_content", "template_string"):
            return "string"
        if node.type in ("comment", "line_comment", "block_comment"):
            return "comment"
        if node.type in ("import_statement", "import_from_statement", "future_import_statement"):
            return "import"
        node = node.parent
    return "code"


def _definition_name(root: Node, start: int, end: int) -> bool:
    """True for the name a ``def`` or ``class`` defines: a use's rewrite does not apply to it
    (``CompletionItem`` → ``CompletionItem[str]`` in annotations, not in its ``class``)."""
    node = root.descendant_for_byte_range(start, end)
    if node is None or node.start_byte != start or node.end_byte != end:
        return False
    parent = node.parent
    return (
        parent is not None
        and parent.type in ("function_definition", "class_definition")
        and py.field_of(node) == "name"
    )


def _has_word(text: str, word: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text) is not None


def _match(
    pattern: Pattern, node: Node, source: Source, bindings: dict[tuple[str, int], str]
) -> bool:
    # Tried at every place a rule's starting word occurs, and most places fail: the cheap
    # tests (a type, a number of children) come before the children are made, and loops
    # stand where generators would cost a frame each.
    tag = pattern[0]
    if tag == "l":
        return node.child_count == 0 and node.type == pattern[1] and source.of(node) == pattern[2]
    if tag == "h":
        if not _fits(pattern[2], node):
            return False
        text = source.of(node)
        known = bindings.get(("h", pattern[1]))
        if known is not None and known != text:
            return False
        bindings[("h", pattern[1])] = text
        return True
    if node.type != pattern[1]:
        return False
    size = len(pattern) - 2
    rest_at = -1
    for index in range(2, len(pattern)):
        if pattern[index][0] == "r":
            rest_at = index - 2
            break
    count = node.child_count
    if rest_at < 0:
        if count != size:
            return False
        children = node.children
        for index in range(size):
            if not _match(pattern[index + 2], children[index], source, bindings):
                return False
        return True
    tail_size = size - rest_at - 1
    if count < rest_at + tail_size + 1:
        return False
    children = node.children
    first, last = children[rest_at], children[count - tail_size - 1]
    if not first.is_named or not last.is_named:
        return False
    for index in range(rest_at):
        if not _match(pattern[index + 2], children[index], source, bindings):
            return False
    for index in range(tail_size):
        actual = children[count - tail_size + index]
        if not _match(pattern[rest_at + 3 + index], actual, source, bindings):
            return False
    bindings[("r", pattern[rest_at + 2][1])] = source.data[first.start_byte : last.end_byte].decode(
        "utf-8", "surrogatepass"
    )
    return True


def _fits(kind: str, node: Node) -> bool:
    if kind == "primary":
        return node.type in _PRIMARY
    if kind == "expression":
        return node.type in _PRIMARY or node.type in _OPERATORS
    return node.type == kind


# -- two examples --------------------------------------------------------------------------


def shape(rule: Rewrite) -> Shape:
    """A rule's pattern with the spelling of its names and literals left out: two rules of
    one shape may be two examples of one rewrite."""

    def strip(node: Pattern) -> Pattern:
        if node[0] == "n":
            return ("n", node[1], *(strip(child) for child in node[2:]))
        if node[0] == "l" and node[1] in _UNIFIABLE:
            return ("l", node[1], "")
        return node

    return (rule.level, rule.kind, strip(rule.pattern))


def unify(first: Rewrite, second: Rewrite) -> Rewrite | None:
    """The rewrite that two examples are both instances of: holes where their constants
    differ (``Command.__init__(self, …)`` and ``Parameter.__init__(self, …)`` →
    ``super().__init__(…)`` gives ``H.__init__(self, …)``), or None when they differ in more
    than that."""
    if first.level != second.level or first.kind != second.kind or first.level == TEXT:
        return None
    if first.signature == second.signature:
        return None
    taken = _hole_count(first.pattern, second.pattern)
    pairs: dict[tuple[str, str], int] = {}

    def join(a: Pattern, b: Pattern) -> Pattern | None:
        if a[0] != b[0]:
            return None
        if a[0] == "l":
            if a[1] != b[1]:
                return None
            if a[2] == b[2]:
                return a
            if a[1] not in _UNIFIABLE:
                return None
            index = pairs.setdefault((a[2], b[2]), taken + len(pairs))
            return ("h", index, "primary")
        if a[0] in ("h", "r"):
            return a if a == b else None
        if a[1] != b[1] or len(a) != len(b):
            return None
        children = []
        for x, y in zip(a[2:], b[2:], strict=True):
            joined = join(x, y)
            if joined is None:
                return None
            children.append(joined)
        return ("n", a[1], *children)

    pattern = join(first.pattern, second.pattern)
    if pattern is None or not pairs:
        return None
    template = _join_templates(first.template, second.template, pairs)
    if template is None:
        return None
    anchor = _anchor(pattern)
    if anchor is None:
        return None
    return Rewrite(
        language_id=first.language_id,
        pattern=pattern,
        template=template,
        anchor=anchor[0],
        anchor_type=anchor[1],
        anchor_depth=anchor[2],
        anchors=_anchors(pattern),
        kind="node" if first.kind == "node" else first.kind,
        context=first.context,
        added=tuple(sorted(set(first.added) & set(second.added))),
        before=first.before,
        after=first.after,
        origin=first.origin,
        context_field=first.context_field,
        level=first.level,
        climb=first.climb,
        scope=first.scope,
        scope_at=first.scope_at,
        scope_depth=first.scope_depth,
        handler=first.handler and second.handler,
    )


_UNIFIABLE = frozenset({"identifier", "string_content", "integer", "float", "type_identifier"})


def _hole_count(*patterns: Pattern) -> int:
    highest = -1
    for pattern in patterns:
        for leaf in _leaves(pattern):
            if leaf[0] == "h":
                highest = max(highest, leaf[1])
    return highest + 1


def _join_templates(
    first: Template, second: Template, pairs: dict[tuple[str, str], int]
) -> Template | None:
    """Both templates with each differing constant replaced by its hole; None unless the two
    then agree."""

    def split(template: Template, side: int) -> Template:
        pieces: list[object] = []
        words = {pair[side]: index for pair, index in pairs.items()}
        pattern = re.compile(
            r"(?<!\w)("
            + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            + r")(?!\w)"
        )
        for piece in template:
            if not isinstance(piece, str):
                pieces.append(piece)
                continue
            cursor = 0
            for match in pattern.finditer(piece):
                if match.start() > cursor:
                    pieces.append(piece[cursor : match.start()])
                pieces.append(("h", words[match.group(1)]))
                cursor = match.end()
            if cursor < len(piece):
                pieces.append(piece[cursor:])
        return tuple(pieces)

    joined_first, joined_second = split(first, 0), split(second, 1)
    return joined_first if joined_first == joined_second else None

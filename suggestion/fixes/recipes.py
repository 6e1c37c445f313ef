"""Fix recipes of our own for common ruff rules that ruff does not fix (or fixes only sometimes).

Boundary: pure syntax-tree rewrites of one Python module with libcst. A recipe finds the node the
finding points at, rewrites it (and only what it must: a guard line, an import, every reference
of a renamed local), and the result is reduced to line edits. A recipe that does not recognise
the shape of the code declines (None); it never raises on broken or unusual code. Recipes are
proposals: ruff and the tests judge them afterwards.
"""

from __future__ import annotations

import ast
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import libcst as cst
from libcst.metadata import (
    Assignment,
    CodeRange,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    Scope,
    ScopeProvider,
)

from tactful.analyzers.findings import Applicability, Finding, Fix
from tactful.suggestion.fixes.edits import edits_between

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Site:
    """A parsed module and the finding in it, with the metadata recipes look things up in."""

    text: str
    finding: Finding
    module: cst.Module
    positions: dict[cst.CSTNode, CodeRange]
    parents: dict[cst.CSTNode, cst.CSTNode]
    wrapper: MetadataWrapper

    def at(self, *types: type[cst.CSTNode], exact: bool = False) -> cst.CSTNode | None:
        """Innermost node of ``types`` that contains the finding's start (or starts there)."""
        line = self.finding.span.start.line + 1
        column = self.finding.span.start.column
        best: cst.CSTNode | None = None
        best_size = (1 << 62, 1 << 62)
        for node, where in self.positions.items():
            if not isinstance(node, types):
                continue
            start, end = where.start, where.end
            if exact:
                if (start.line, start.column) != (line, column):
                    continue
            elif not ((start.line, start.column) <= (line, column) < (end.line, end.column)):
                continue
            size = (end.line - start.line, end.column - start.column)
            if size < best_size:
                best, best_size = node, size
        return best

    def ancestor(self, node: cst.CSTNode, *types: type[cst.CSTNode]) -> cst.CSTNode | None:
        current = self.parents.get(node)
        while current is not None and not isinstance(current, types):
            current = self.parents.get(current)
        return current

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def replace(self, old: cst.CSTNode, new: cst.CSTNode) -> str:
        # Replacing a node inside the module leaves a module (only replacing the module itself
        # could give another kind of node).
        return cast(cst.Module, self.module.deep_replace(old, new)).code


Recipe = Callable[[_Site], str | None]

RECIPES: dict[str, list[tuple[str, Recipe]]] = {}
# Alternatives stand in for the usual fix (ruff's own, or a first recipe) when the project's
# tests reject it: FA100's `from __future__ import annotations` is the fix ruff documents, and
# quoting the annotations is what a project that cannot take that import does instead.
ALTERNATIVES: dict[str, list[tuple[str, Recipe]]] = {}


def recipe(*rules: str, title: str, alternative: bool = False) -> Callable[[Recipe], Recipe]:
    def register(function: Recipe) -> Recipe:
        table = ALTERNATIVES if alternative else RECIPES
        for rule in rules:
            table.setdefault(rule, []).append((title, function))
        return function

    return register


def propose(finding: Finding, text: str) -> list[Fix]:
    """Recipe fixes for ``finding`` in ``text`` (the file's current content); [] when none fits."""
    return _run(RECIPES.get(finding.rule, []), finding, text)


def propose_alternatives(finding: Finding, text: str) -> list[Fix]:
    """Fixes to try only when the usual ones for ``finding`` fail: see ``ALTERNATIVES``."""
    return _run(ALTERNATIVES.get(finding.rule, []), finding, text)


def _run(entries: list[tuple[str, Recipe]], finding: Finding, text: str) -> list[Fix]:
    if not entries:
        return []
    try:
        module = cst.parse_module(text)
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        site = _Site(
            text,
            finding,
            module,
            dict(wrapper.resolve(PositionProvider)),
            dict(wrapper.resolve(ParentNodeProvider)),
            wrapper,
        )
    except (cst.ParserSyntaxError, RecursionError, ValueError, TypeError) as error:
        logger.debug("recipes for %s declined: %s", finding.rule, error)
        return []
    fixes: list[Fix] = []
    for title, function in entries:
        try:
            new_text = function(site)
        except Exception as error:  # a recipe's blind spot declines; it never fails the caller
            logger.debug("recipe for %s declined: %r", finding.rule, error)
            continue
        if new_text is None or new_text == text:
            continue
        edits = edits_between(text, new_text, finding.path)
        fixes.append(Fix(title, edits, Applicability.UNSAFE, origin="recipe"))
    return fixes


# --- helpers -------------------------------------------------------------------------------------


def _free_name(text: str, *candidates: str) -> str:
    """The first candidate not used as a word anywhere in the module (so no shadowing)."""
    for name in candidates:
        if not re.search(rf"\b{re.escape(name)}\b", text):
            return name
    base = candidates[-1]
    number = 2
    while re.search(rf"\b{base}{number}\b", text):
        number += 1
    return f"{base}{number}"


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_future_import(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    first = statement.body[0]
    return (
        isinstance(first, cst.ImportFrom)
        and isinstance(first.module, cst.Name)
        and first.module.value == "__future__"
    )


def _with_import(module: cst.Module, statement: str) -> cst.Module:
    """``module`` with ``statement`` (an import) added after its docstring and future imports."""
    body = list(module.body)
    index = 0
    while index < len(body) and (
        (index == 0 and _is_docstring(body[index])) or _is_future_import(body[index])
    ):
        index += 1
    new = cst.parse_statement(statement + "\n")
    body.insert(index, new)
    return module.with_changes(body=body)


def _imported_names(module: cst.Module) -> tuple[set[str], dict[str, str]]:
    """Top-level ``import X`` modules, and ``from M import N`` names mapped to their module."""
    modules: set[str] = set()
    names: dict[str, str] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    if alias.asname is None:
                        modules.add(cst.Module([]).code_for_node(alias.name))
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                source = cst.Module([]).code_for_node(small.module) if small.module else ""
                for alias in small.names:
                    if alias.asname is None and isinstance(alias.name, cst.Name):
                        names[alias.name.value] = source
    return modules, names


def _reference(
    module: cst.Module, source: str, name: str, from_import: bool
) -> tuple[str, str | None]:
    """How to spell ``source.name`` in ``module``, and the import to add for it (or None).

    An existing import is reused; otherwise the usual style for that name is added
    (``from typing import ClassVar``, ``import contextlib``).
    """
    modules, names = _imported_names(module)
    if names.get(name) == source:
        return name, None
    if source in modules:
        return f"{source}.{name}", None
    if from_import and name not in names:
        return name, f"from {source} import {name}"
    return f"{source}.{name}", f"import {source}"


def _apply_with_import(site: _Site, old: cst.CSTNode, new: cst.CSTNode, imp: str | None) -> str:
    module = site.module.deep_replace(old, new)
    assert isinstance(module, cst.Module)
    if imp:
        module = _with_import(module, imp)
    return module.code


def _only_pass(body: cst.BaseSuite) -> bool:
    statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
    for statement in statements:
        smalls = (
            statement.body
            if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite))
            else None
        )
        if not smalls:
            return False
        for small in smalls:
            if isinstance(small, cst.Pass):
                continue
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Ellipsis):
                continue
            return False
    return True


def _has_comment(site: _Site, node: cst.CSTNode) -> bool:
    return "#" in site.code(node)


# --- recipes -------------------------------------------------------------------------------------


@recipe("B904", title="Chain the exception with `raise ... from err`")
def _raise_from(site: _Site) -> str | None:
    raise_node = site.at(cst.Raise)
    if not isinstance(raise_node, cst.Raise) or raise_node.exc is None or raise_node.cause:
        return None
    handler = site.ancestor(raise_node, cst.ExceptHandler, cst.ExceptStarHandler, cst.FunctionDef)
    if not isinstance(handler, (cst.ExceptHandler, cst.ExceptStarHandler)):
        return None
    new_handler: cst.CSTNode
    if handler.name is not None and isinstance(handler.name.name, cst.Name):
        name = handler.name.name.value
        new_handler = handler
    else:
        name = _free_name(site.text, "err", "error", "exc")
        new_handler = handler.with_changes(
            name=cst.AsName(
                name=cst.Name(name),
                whitespace_before_as=cst.SimpleWhitespace(" "),
                whitespace_after_as=cst.SimpleWhitespace(" "),
            )
        )
    new_raise = raise_node.with_changes(
        cause=cst.From(item=cst.Name(name), whitespace_before_from=cst.SimpleWhitespace(" "))
    )
    new_handler = new_handler.deep_replace(raise_node, new_raise)
    return site.replace(handler, new_handler)


@recipe("B028", title="Point the warning at the caller with `stacklevel=2`")
def _stacklevel(site: _Site) -> str | None:
    call = site.at(cst.Call)
    if not isinstance(call, cst.Call):
        return None
    if any(arg.keyword is not None and arg.keyword.value == "stacklevel" for arg in call.args):
        return None
    if any(arg.star for arg in call.args) or len(call.args) >= 3:
        return None
    args = list(call.args)
    if args:
        args[-1] = args[-1].with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
    args.append(
        cst.Arg(
            value=cst.Integer("2"),
            keyword=cst.Name("stacklevel"),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )
    )
    return site.replace(call, call.with_changes(args=args))


def _is_variable(site: _Site, node: cst.Name) -> bool:
    """Whether a name stands for a variable: not the attribute of `x.name`, nor the keyword of
    `f(name=...)`."""
    parent = site.parents.get(node)
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return False
    return not (isinstance(parent, cst.Arg) and parent.keyword is node)


_AMBIGUOUS_RENAMES = {"l": ("length", "value"), "O": ("obj", "value"), "I": ("index", "value")}


@recipe("E741", title="Rename the ambiguous name")
def _rename_ambiguous(site: _Site) -> str | None:
    name_node = site.at(cst.Name, exact=True)
    if not isinstance(name_node, cst.Name):
        return None
    old = name_node.value
    scopes = site.wrapper.resolve(ScopeProvider)
    scope = scopes.get(name_node)
    if not isinstance(scope, Scope) or type(scope).__name__ in ("GlobalScope", "ClassScope"):
        # Module and class names are part of an API other files use: not ours to rename.
        return None
    owner = site.ancestor(name_node, cst.FunctionDef, cst.Lambda)
    if not isinstance(owner, cst.FunctionDef):
        return None
    parameters = owner.params
    every_param = [*parameters.posonly_params, *parameters.params, *parameters.kwonly_params]
    star = [p for p in (parameters.star_arg, parameters.star_kwarg) if isinstance(p, cst.Param)]
    if any(p.name.value == old for p in every_param + star):
        return None  # a parameter: renaming it would break keyword callers
    references: set[cst.CSTNode] = set()
    for assignment in scope.assignments[old]:
        if not isinstance(assignment, Assignment) or not isinstance(assignment.node, cst.Name):
            return None  # bound by import, global/nonlocal or a nested def: leave it
        references.add(assignment.node)
    for access in scope.accesses[old]:
        references.add(access.node)
    # A same-named Name elsewhere in the function (a closure, a comprehension) must resolve to
    # this binding too, else the rename would change what it refers to: decline then.
    function_code = site.code(owner)
    if re.search(r"\b(locals|vars|eval|exec)\s*\(", function_code):
        return None
    for node in site.positions:
        if not isinstance(node, cst.Name) or node.value != old or node in references:
            continue
        if not _inside(site, node, owner):
            continue
        if not _is_variable(site, node):
            continue
        return None
    loop = site.ancestor(name_node, cst.For, cst.CompFor, cst.FunctionDef)
    in_loop_target = isinstance(loop, (cst.For, cst.CompFor)) and _inside(
        site, name_node, loop.target
    )
    preferred = ("item", "value") if in_loop_target else _AMBIGUOUS_RENAMES.get(old, ("value",))
    new = _free_name(site.text, *preferred)

    class Rename(cst.CSTTransformer):
        def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
            return updated.with_changes(value=new) if original in references else updated

    return site.module.visit(Rename()).code


def _inside(site: _Site, node: cst.CSTNode, container: cst.CSTNode) -> bool:
    current: cst.CSTNode | None = node
    while current is not None:
        if current is container:
            return True
        current = site.parents.get(current)
    return False


_MUTABLE = (cst.List, cst.Dict, cst.Set, cst.Call, cst.ListComp, cst.DictComp, cst.SetComp)


@recipe("B006", title="Default to `None` and create the value in the function")
def _mutable_default(site: _Site) -> str | None:
    default = site.at(*_MUTABLE)
    if not isinstance(default, cst.BaseExpression):
        return None
    param = site.parents.get(default)
    if not isinstance(param, cst.Param) or param.default is not default:
        return None
    function = site.ancestor(param, cst.FunctionDef, cst.Lambda)
    if not isinstance(function, cst.FunctionDef) or not isinstance(
        function.body, cst.IndentedBlock
    ):
        return None
    name = param.name.value
    new_param = param.with_changes(default=cst.Name("None"))
    if param.annotation is not None:
        annotation_code = site.code(param.annotation.annotation)
        if "None" not in annotation_code and "Optional" not in annotation_code:
            new_annotation = cst.parse_expression(f"{annotation_code} | None")
            new_param = new_param.with_changes(
                annotation=param.annotation.with_changes(annotation=new_annotation)
            )
    indent = function.body.indent if function.body.indent is not None else "    "
    guard_source = f"if {name} is None:\n{indent}{name} = {site.code(default)}\n"
    try:
        guard = cst.parse_statement(guard_source, config=site.module.config_for_parsing)
    except cst.ParserSyntaxError:
        return None
    body = list(function.body.body)
    position = 1 if body and _is_docstring(body[0]) else 0
    body.insert(position, guard)
    new_function = function.deep_replace(param, new_param)
    assert isinstance(new_function, cst.FunctionDef)
    new_function = new_function.with_changes(body=new_function.body.with_changes(body=body))
    return site.replace(function, new_function)


_EFFECTS = (cst.Call, cst.Await, cst.Yield, cst.NamedExpr, cst.Subscript, cst.Lambda)


def _has_effect(site: _Site, node: cst.CSTNode) -> bool:
    """Whether evaluating ``node`` may run code (a call, an item lookup, an await)."""
    return any(isinstance(n, _EFFECTS) and _inside(site, n, node) for n in site.positions)


@recipe("B008", title="Compute the default in a name of its own, just before the function")
def _hoisted_default(site: _Site) -> str | None:
    # A default is computed once, when `def` runs. Computed by the statement just before, in
    # the same scope, it is the same value made at the same moment (nothing that `def`
    # evaluates comes before it: no decorator, no earlier default that runs code), and the
    # signature names it. Not in a class body, where the name would become a class attribute.
    call = site.at(cst.Call)
    param = site.ancestor(call, cst.Param) if call is not None else None
    if not isinstance(param, cst.Param) or param.default is None:
        return None
    parameters = site.parents.get(param)
    function = site.parents.get(parameters) if parameters is not None else None
    if not isinstance(parameters, cst.Parameters) or not isinstance(function, cst.FunctionDef):
        return None
    if function.decorators or isinstance(
        site.ancestor(function, cst.ClassDef, cst.FunctionDef, cst.Lambda), cst.ClassDef
    ):
        return None
    ordered = [*parameters.posonly_params, *parameters.params, *parameters.kwonly_params]
    earlier = ordered[: ordered.index(param)] if param in ordered else None
    if earlier is None or any(
        p.default is not None and _has_effect(site, p.default) for p in earlier
    ):
        return None
    block = site.parents.get(function)
    if not isinstance(block, (cst.Module, cst.IndentedBlock)):
        return None
    stem = param.name.value.strip("_") or "value"
    if isinstance(block, cst.Module):
        name = _free_name(site.text, f"_DEFAULT_{stem.upper()}")
    else:
        name = _free_name(site.text, f"default_{stem}")
    try:
        assignment = cst.parse_statement(
            f"{name} = {site.code(param.default)}\n", config=site.module.config_for_parsing
        )
    except cst.ParserSyntaxError:
        return None
    blank = sum(1 for line in function.leading_lines if line.comment is None)
    assignment = assignment.with_changes(leading_lines=function.leading_lines)
    new_function = function.deep_replace(param, param.with_changes(default=cst.Name(name)))
    assert isinstance(new_function, cst.FunctionDef)
    if isinstance(block, cst.Module):
        blank = max(blank, 2)  # a top-level `def` keeps two blank lines before it
    new_function = new_function.with_changes(leading_lines=[cst.EmptyLine()] * blank)
    statements = list(block.body)
    index = statements.index(function)
    body = [*statements[:index], assignment, new_function, *statements[index + 1 :]]
    return site.replace(block, block.with_changes(body=body))


@recipe("E722", title="Name the exception class caught")
def _bare_except(site: _Site) -> str | None:
    handler = site.at(cst.ExceptHandler)
    if not isinstance(handler, cst.ExceptHandler) or handler.type is not None:
        return None
    # A handler that re-raises keeps catching everything (BaseException, as the bare form did);
    # others most likely meant ordinary errors, not KeyboardInterrupt or SystemExit.
    reraises = "raise" in site.code(handler.body) and re.search(
        r"^\s*raise\s*$", site.code(handler.body), re.MULTILINE
    )
    caught = "BaseException" if reraises else "Exception"
    new = handler.with_changes(
        type=cst.Name(caught), whitespace_after_except=cst.SimpleWhitespace(" ")
    )
    return site.replace(handler, new)


@recipe("S110", "BLE001", "SIM105", title="Suppress the exception with `contextlib.suppress`")
def _suppress(site: _Site) -> str | None:
    handler = site.at(cst.ExceptHandler)
    if site.finding.rule == "SIM105":
        try_node = site.at(cst.Try)
        if not isinstance(try_node, cst.Try) or len(try_node.handlers) != 1:
            return None
        handler = try_node.handlers[0]
    if not isinstance(handler, cst.ExceptHandler):
        return None
    try_node = site.parents.get(handler)
    if (
        not isinstance(try_node, cst.Try)
        or len(try_node.handlers) != 1
        or try_node.orelse is not None
        or try_node.finalbody is not None
        or not _only_pass(handler.body)
        or not isinstance(try_node.body, cst.IndentedBlock)
    ):
        return None
    # One comment in the handler (why the exception may be ignored) moves to the `with` line.
    comment = _handler_comment(site, handler)
    if comment is None or (comment and try_node.body.header.comment is not None):
        return None
    body = try_node.body
    if comment:
        body = body.with_changes(
            header=cst.TrailingWhitespace(
                whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(comment)
            )
        )
    if handler.type is None:
        caught = [cst.Arg(cst.Name("BaseException"))]
    elif isinstance(handler.type, cst.Tuple):
        caught = [cst.Arg(element.value) for element in handler.type.elements]
    else:
        caught = [cst.Arg(handler.type)]
    for index in range(len(caught) - 1):
        caught[index] = caught[index].with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
    spelled, imp = _reference(site.module, "contextlib", "suppress", from_import=False)
    with_node = cst.With(
        items=[cst.WithItem(cst.Call(func=cst.parse_expression(spelled), args=caught))],
        body=body,
        leading_lines=try_node.leading_lines,
    )
    return _apply_with_import(site, try_node, with_node, imp)


def _with_as(
    value: cst.BaseExpression,
    name: str,
    body: Sequence[cst.BaseStatement],
    leading_lines: Sequence[cst.EmptyLine],
) -> cst.With:
    """``with value as name:`` around ``body``, where the statement it replaces stood."""
    return cst.With(
        items=[
            cst.WithItem(
                value,
                asname=cst.AsName(
                    name=cst.Name(name),
                    whitespace_before_as=cst.SimpleWhitespace(" "),
                    whitespace_after_as=cst.SimpleWhitespace(" "),
                ),
            )
        ],
        body=cst.IndentedBlock(body=body),
        leading_lines=leading_lines,
    )


def _handler_comment(site: _Site, handler: cst.ExceptHandler) -> str | None:
    """The handler's one comment ("" for none); None when there are more, or inside the
    exception's expression."""
    if _has_comment(site, handler.type) if handler.type is not None else False:
        return None
    found: list[str] = []
    body = handler.body
    if isinstance(body, cst.IndentedBlock):
        if body.header.comment is not None:
            found.append(body.header.comment.value)
        for line in body.body:
            # A statement is a simple line or a compound statement, both with leading lines.
            statement = cast(cst.SimpleStatementLine | cst.BaseCompoundStatement, line)
            found.extend(e.comment.value for e in statement.leading_lines if e.comment is not None)
            if isinstance(line, cst.SimpleStatementLine) and line.trailing_whitespace.comment:
                found.append(line.trailing_whitespace.comment.value)
        found.extend(e.comment.value for e in body.footer if e.comment is not None)
    elif isinstance(body, cst.SimpleStatementSuite) and body.trailing_whitespace.comment:
        found.append(body.trailing_whitespace.comment.value)
    if any(e.comment is not None for e in handler.leading_lines):
        return None
    if len(found) > 1:
        return None
    return found[0] if found else ""


@recipe("SIM117", title="Combine the nested `with` statements")
def _combine_with(site: _Site) -> str | None:
    outer = site.at(cst.With)
    if not isinstance(outer, cst.With) or not isinstance(outer.body, cst.IndentedBlock):
        return None
    if len(outer.body.body) != 1 or not isinstance(outer.body.body[0], cst.With):
        return None
    inner = outer.body.body[0]
    if bool(outer.asynchronous) != bool(inner.asynchronous) or inner.leading_lines:
        return None
    if isinstance(outer.lpar, cst.LeftParen) or isinstance(inner.lpar, cst.LeftParen):
        return None
    if _has_comment(site, outer):
        return None
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    items = [
        *outer.items[:-1],
        outer.items[-1].with_changes(comma=comma),
        *(item.with_changes(comma=comma) for item in inner.items[:-1]),
        inner.items[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT),
    ]
    # libcst keeps indentation relative to the enclosing block, so the inner body moves up
    # one level by itself when it becomes the outer statement's body.
    return site.replace(outer, outer.with_changes(items=items, body=inner.body))


@recipe("SIM108", title="Assign with a conditional expression")
def _ternary(site: _Site) -> str | None:
    if_node = site.at(cst.If)
    if not isinstance(if_node, cst.If) or not isinstance(if_node.orelse, cst.Else):
        return None
    trailing = _trailing_comments(if_node)
    if trailing is None:
        return None
    body = _single_assign(if_node.body)
    other = _single_assign(if_node.orelse.body)
    if body is None or other is None:
        return None
    target, value = body
    other_target, other_value = other
    if site.code(target) != site.code(other_target):
        return None
    expression = cst.IfExp(
        test=if_node.test,
        body=_parenthesize_if_needed(value),
        orelse=_parenthesize_if_needed(other_value),
    )
    statement = cst.SimpleStatementLine(
        body=[cst.Assign(targets=[cst.AssignTarget(target)], value=expression)],
        leading_lines=if_node.leading_lines,
    )
    if trailing:
        statement = statement.with_changes(
            trailing_whitespace=cst.TrailingWhitespace(
                whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(trailing)
            )
        )
    return site.replace(if_node, statement)


def _trailing_comments(if_node: cst.If) -> str | None:
    """The one trailing comment the branches' assignments carry (``# type: ignore``), "" for
    none; None when the statement holds other comments, which a one-liner would lose."""
    found: set[str] = set()
    branches = [if_node.body, if_node.orelse.body if if_node.orelse else None]
    for branch in branches:
        if not isinstance(branch, cst.IndentedBlock) or branch.footer:
            return None
        if branch.header.comment is not None:
            return None
        for line in branch.body:
            if not isinstance(line, cst.SimpleStatementLine):
                return None
            if any(empty.comment for empty in line.leading_lines):
                return None
            if line.trailing_whitespace.comment is not None:
                found.add(line.trailing_whitespace.comment.value)
    if if_node.orelse is not None and any(empty.comment for empty in if_node.orelse.leading_lines):
        return None
    if len(found) > 1:
        return None
    return found.pop() if found else ""


def _lone_statement(node: cst.CSTNode | None) -> cst.BaseSmallStatement | None:
    """The statement of a line that holds one (`x = 1`, not `x = 1; y = 2`), else None."""
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return None
    return node.body[0]


def _single_assign(
    body: cst.BaseSuite,
) -> tuple[cst.BaseAssignTargetExpression, cst.BaseExpression] | None:
    if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
        return None
    assign = _lone_statement(body.body[0])
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    return assign.targets[0].target, assign.value


def _parenthesize_if_needed(expression: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(expression, (cst.IfExp, cst.Lambda, cst.NamedExpr)) and not expression.lpar:
        return expression.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expression


def _raised_name(site: _Site) -> cst.Name | None:
    """The class a `raise` at the finding names (`E` of `raise E` or `raise E(...)`) when it is
    a plain name, else None."""
    raise_node = site.at(cst.Raise)
    if not isinstance(raise_node, cst.Raise) or raise_node.exc is None:
        return None
    exc = raise_node.exc
    target = exc.func if isinstance(exc, cst.Call) else exc
    return target if isinstance(target, cst.Name) else None


@recipe("TRY004", title="Raise `TypeError` for a value of the wrong type")
def _type_error(site: _Site) -> str | None:
    target = _raised_name(site)
    if target is None or target.value == "TypeError":
        return None
    return site.replace(target, cst.Name("TypeError"))


@recipe("PLC0205", title="Make `__slots__` a tuple")
def _slots_tuple(site: _Site) -> str | None:
    assign = site.at(cst.Assign, cst.AnnAssign)
    if not isinstance(assign, (cst.Assign, cst.AnnAssign)):
        return None
    value = assign.value
    if not isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return None
    as_tuple = cst.Tuple(
        elements=[cst.Element(value, comma=cst.Comma())],
        lpar=[cst.LeftParen()],
        rpar=[cst.RightParen()],
    )
    return site.replace(value, as_tuple)


@recipe("PERF402", title="Extend the list instead of copying item by item")
def _extend(site: _Site) -> str | None:
    loop = site.at(cst.For)
    if not isinstance(loop, cst.For) or loop.orelse is not None or loop.asynchronous:
        return None
    if not isinstance(loop.target, cst.Name) or _has_comment(site, loop):
        return None
    call = _single_call(loop.body)
    if call is None or not isinstance(call.func, cst.Attribute) or call.func.attr.value != "append":
        return None
    if len(call.args) != 1 or not isinstance(call.args[0].value, cst.Name):
        return None
    if call.args[0].value.value != loop.target.value:
        return None
    # The loop variable must not be read after the loop (the rewrite no longer binds it).
    function = site.ancestor(loop, cst.FunctionDef)
    if function is None:
        return None
    lines = site.text.split("\n")
    after = [
        line.split("#", 1)[0]
        for line in lines[site.positions[loop].end.line : site.positions[function].end.line]
    ]
    # (an attribute of the same name, `lex.token`, is not the variable)
    if re.search(rf"(?<![.\w]){re.escape(loop.target.value)}\b", "\n".join(after)):
        return None
    receiver = site.code(call.func.value)
    statement = cst.parse_statement(f"{receiver}.extend({site.code(loop.iter)})\n")
    return site.replace(loop, statement.with_changes(leading_lines=loop.leading_lines))


def _single_call(body: cst.BaseSuite) -> cst.Call | None:
    statements: Sequence[cst.CSTNode]
    if isinstance(body, cst.IndentedBlock):
        if len(body.body) != 1 or not isinstance(body.body[0], cst.SimpleStatementLine):
            return None
        statements = body.body[0].body
    elif isinstance(body, cst.SimpleStatementSuite):
        statements = body.body
    else:
        return None
    if len(statements) != 1 or not isinstance(statements[0], cst.Expr):
        return None
    value = statements[0].value
    return value if isinstance(value, cst.Call) else None


@recipe("SIM115", title="Open the file in a `with` statement")
def _open_with(site: _Site) -> str | None:
    # Two shapes: `f = open(...)` then `try: ... finally: f.close()`, and `f = open(...)` then
    # statements then `f.close()` in the same block. Both become `with open(...) as f: ...`.
    line = site.at(cst.SimpleStatementLine)
    assign = _lone_statement(line)
    if (
        not isinstance(line, cst.SimpleStatementLine)
        or not isinstance(assign, cst.Assign)
        or len(assign.targets) != 1
        or not isinstance(assign.targets[0].target, cst.Name)
        or not isinstance(assign.value, cst.Call)
    ):
        return None
    name = assign.targets[0].target.value
    block = site.parents.get(line)
    if not isinstance(block, (cst.IndentedBlock, cst.Module)):
        return None
    statements = list(block.body)
    index = statements.index(line)
    following = statements[index + 1 :]
    if not following:
        return None
    body: list[cst.BaseStatement]
    if isinstance(following[0], cst.Try) and _closes_only(following[0].finalbody, name):
        try_node = following[0]
        if try_node.handlers or try_node.orelse is not None:
            return None
        if not isinstance(try_node.body, cst.IndentedBlock):
            return None
        body, consumed = list(try_node.body.body), 1
    else:
        close_at = next((i for i, s in enumerate(following) if _is_close(s, name)), None)
        if close_at is None or close_at == 0:
            return None
        body, consumed = list(following[:close_at]), close_at + 1
    # The name must not be used after the file is closed (it would still be bound, closed).
    rest = cst.Module(
        body=cast(
            list[cst.SimpleStatementLine | cst.BaseCompoundStatement],
            statements[index + 1 + consumed :],
        )
    ).code
    if re.search(rf"\b{re.escape(name)}\b", rest) or _has_comment(site, line):
        return None
    with_node = _with_as(assign.value, name, body, line.leading_lines)
    new_statements = [*statements[:index], with_node, *statements[index + 1 + consumed :]]
    return site.replace(block, block.with_changes(body=new_statements))


def _is_close(statement: cst.CSTNode, name: str) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    expr = statement.body[0]
    return (
        isinstance(expr, cst.Expr)
        and isinstance(expr.value, cst.Call)
        and not expr.value.args
        and isinstance(expr.value.func, cst.Attribute)
        and isinstance(expr.value.func.value, cst.Name)
        and expr.value.func.value.value == name
        and expr.value.func.attr.value == "close"
    )


def _closes_only(final: cst.Finally | None, name: str) -> bool:
    if final is None or not isinstance(final.body, cst.IndentedBlock):
        return False
    return len(final.body.body) == 1 and _is_close(final.body.body[0], name)


# What a `with` that spans the rest of a block must check: names that hold the file (or
# something made from it) and where they go.


class _NameUses(cst.CSTVisitor):
    """Every name read or bound in a node, each with whether only an attribute of it is used
    there (``f.read()``, ``f.name``); attribute and keyword names are not names."""

    def __init__(self) -> None:
        self.found: list[tuple[cst.Name, bool]] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.found.append((node, False))

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if isinstance(node.value, cst.Name):
            self.found.append((node.value, True))
        else:
            node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    visitor = _NameUses()
    node.visit(visitor)
    return [name for name, _ in visitor.found]


def _exposes(expression: cst.CSTNode | None, held: set[str]) -> bool:
    """Whether ``expression`` hands on an object one of ``held`` names: any use of it except
    its attributes (``f.read()``, ``f.name``), whose values are not the object itself."""
    if expression is None:
        return False
    visitor = _NameUses()
    expression.visit(visitor)
    return any(name.value in held and not attribute for name, attribute in visitor.found)


def _bound_names(target: cst.CSTNode) -> tuple[list[str], bool]:
    """The plain names an assignment target binds, and whether it also stores elsewhere (an
    attribute or an item: somewhere that outlives the block)."""
    if isinstance(target, cst.Name):
        return [target.value], False
    if isinstance(target, (cst.Tuple, cst.List)):
        names: list[str] = []
        elsewhere = False
        for element in target.elements:
            inner, stored = _bound_names(element.value)
            names.extend(inner)
            elsewhere = elsewhere or stored
        return names, elsewhere
    if isinstance(target, cst.StarredElement):
        return _bound_names(target.value)
    return [], True


class _Bindings(cst.CSTVisitor):
    """Assignments, returns, yields and nested scopes, in the order they appear."""

    def __init__(self) -> None:
        self.assignments: list[tuple[list[cst.CSTNode], cst.CSTNode | None]] = []
        self.exits: list[cst.CSTNode | None] = []
        self.scopes: list[cst.CSTNode] = []
        self.declared: set[str] = set()

    def visit_Assign(self, node: cst.Assign) -> None:
        self.assignments.append(([t.target for t in node.targets], node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.assignments.append(([node.target], node.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.assignments.append(([node.target], node.value))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.assignments.append(([node.target], node.value))

    def visit_For(self, node: cst.For) -> None:
        self.assignments.append(([node.target], node.iter))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self.assignments.append(([node.asname.name], node.item))

    def visit_Return(self, node: cst.Return) -> None:
        self.exits.append(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        self.exits.append(node.value)

    def visit_Global(self, node: cst.Global) -> None:
        self.declared.update(n.name.value for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.declared.update(n.name.value for n in node.names)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.scopes.append(node)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.scopes.append(node)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self.scopes.append(node)
        return False


def _held_within(
    function: cst.FunctionDef,
    replaced: cst.CSTNode,
    region: Sequence[cst.CSTNode],
    name: str,
) -> bool:
    """Whether the file bound to ``name`` at the start of ``region`` (and everything made from
    it there) stays within ``region``: nothing returns, yields or stores it elsewhere, no
    nested function keeps it, and no code of ``function`` but ``region`` (and ``replaced``,
    the statement that ``region`` replaces) uses those names.
    """
    bindings = _Bindings()
    for statement in region:
        statement.visit(bindings)
    held = {name}
    grown = True
    while grown:
        grown = False
        for targets, value in bindings.assignments:
            if not _exposes(value, held):
                continue
            for target in targets:
                names, elsewhere = _bound_names(target)
                if elsewhere:
                    return False
                for bound in names:
                    if bound not in held:
                        held.add(bound)
                        grown = True
    if held & bindings.declared:
        return False
    if any(_exposes(value, held) for value in bindings.exits):
        return False
    if any(n.value in held for scope in bindings.scopes for n in _names_in(scope)):
        return False
    inside = {id(n) for statement in (*region, replaced) for n in _names_in(statement)}
    return not any(n.value in held and id(n) not in inside for n in _names_in(function.body))


def _evaluated_first(site: _Site, statement: cst.CSTNode, call: cst.Call) -> bool:
    """Whether ``call`` is the first thing with an effect that ``statement`` evaluates, and is
    evaluated every time (not in a lambda, a comprehension or one branch of a condition)."""
    conditional = (
        cst.Lambda,
        cst.ListComp,
        cst.SetComp,
        cst.DictComp,
        cst.GeneratorExp,
        cst.IfExp,
        cst.BooleanOperation,
    )
    current = site.parents.get(call)
    ancestors: set[int] = set()
    while current is not None and current is not statement:
        if isinstance(current, conditional):
            return False
        ancestors.add(id(current))
        current = site.parents.get(current)
    start = site.positions[call].start
    for node, where in site.positions.items():
        if (
            isinstance(node, (cst.Call, cst.Await, cst.Yield, cst.NamedExpr, cst.Subscript))
            and id(node) not in ancestors
            and node is not call
            and (where.start.line, where.start.column) < (start.line, start.column)
            and _inside(site, node, statement)
        ):
            return False
    return True


def _unpacked(
    assign: cst.Assign, call: cst.Call
) -> tuple[str, cst.BaseSmallStatement | None] | None:
    """For ``name = call`` or ``name, other = call, value``: the name the call's result is
    bound to, and the assignment of the others (None when nothing else is assigned)."""
    if len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    if assign.value is call:
        return (target.value, None) if isinstance(target, cst.Name) else None
    value = assign.value
    if not (
        isinstance(target, cst.Tuple)
        and isinstance(value, cst.Tuple)
        and len(target.elements) == len(value.elements)
        and not any(isinstance(e, cst.StarredElement) for e in (*target.elements, *value.elements))
    ):
        return None
    index = next((i for i, e in enumerate(value.elements) if e.value is call), None)
    if index is None or not isinstance(target.elements[index].value, cst.Name):
        return None
    # The elements before it were evaluated first; they must not do anything.
    if not all(
        isinstance(e.value, (cst.Name, cst.SimpleString, cst.Integer, cst.Float))
        for e in value.elements[:index]
    ):
        return None
    name = cast(cst.Name, target.elements[index].value).value
    others = [
        (t, v)
        for i, (t, v) in enumerate(zip(target.elements, value.elements, strict=True))
        if i != index
    ]
    if len(others) == 1:
        only = cast(cst.BaseAssignTargetExpression, others[0][0].value)
        rest = cst.Assign(targets=[cst.AssignTarget(only)], value=others[0][1].value)
    else:
        rest = cst.Assign(
            targets=[
                cst.AssignTarget(target.with_changes(elements=_commas([t for t, _ in others])))
            ],
            value=value.with_changes(elements=_commas([v for _, v in others])),
        )
    return name, rest


def _commas(elements: Sequence[cst.BaseElement]) -> list[cst.BaseElement]:
    last = len(elements) - 1
    return [
        e.with_changes(
            comma=cst.MaybeSentinel.DEFAULT
            if i == last
            else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
        for i, e in enumerate(elements)
    ]


@recipe("SIM115", title="Open the file in a `with` statement around the code that uses it")
def _open_with_rest(site: _Site) -> str | None:
    # Without a `close()` to end it, the file is closed whenever it is collected; the `with`
    # closes it when the code that uses it is done: the statement itself when only an
    # attribute of the file is used (`open(p).read()`), else the rest of its block. Declined
    # when the file, or anything made from it, outlives that code (see `_held_within`).
    call = site.at(cst.Call)
    if not isinstance(call, cst.Call):
        return None
    line = site.ancestor(call, cst.SimpleStatementLine)
    if (
        not isinstance(line, cst.SimpleStatementLine)
        or len(line.body) != 1
        or _has_comment(site, line)
    ):
        return None
    function = site.ancestor(line, cst.FunctionDef)
    block = site.parents.get(line)
    if not isinstance(function, cst.FunctionDef) or not isinstance(block, cst.IndentedBlock):
        return None
    statement = line.body[0]
    statements = list(block.body)
    index = statements.index(line)
    following = statements[index + 1 :]
    unpacked = _unpacked(statement, call) if isinstance(statement, cst.Assign) else None
    head: list[cst.BaseStatement]
    if unpacked is not None:
        name, rest = unpacked
        head = [] if rest is None else [cst.SimpleStatementLine(body=[rest])]
        region: list[cst.BaseStatement] = [*head, *following]
    else:
        if not isinstance(statement, (cst.Assign, cst.AnnAssign, cst.Expr, cst.Return)):
            return None
        if not _evaluated_first(site, statement, call):
            return None
        name = _free_name(site.text, "file", "opened")
        replaced = statement.deep_replace(call, cst.Name(name))
        head = [line.with_changes(body=[replaced], leading_lines=())]
        parent = site.parents.get(call)
        only_attribute = isinstance(parent, cst.Attribute) and parent.value is call
        region = head if only_attribute else [*head, *following]
    if not region or not _held_within(function, line, region, name):
        return None
    with_node = _with_as(call, name, region, line.leading_lines)
    after = statements[index + 1 + len(region) - len(head) :]
    new_statements = [*statements[:index], with_node, *after]
    return site.replace(block, block.with_changes(body=new_statements))


_CLASSVAR_TYPES = {cst.List: "list", cst.Dict: "dict", cst.Set: "set"}


@recipe("RUF012", title="Annotate the shared class attribute with `ClassVar`")
def _classvar(site: _Site) -> str | None:
    assign = site.at(cst.Assign, cst.AnnAssign)
    if not isinstance(assign, (cst.Assign, cst.AnnAssign)) or assign.value is None:
        return None
    spelled, imp = _reference(site.module, "typing", "ClassVar", from_import=True)
    if isinstance(assign, cst.AnnAssign):
        inner = site.code(assign.annotation.annotation)
        if "ClassVar" in inner:
            return None
        annotation = cst.Annotation(cst.parse_expression(f"{spelled}[{inner}]"))
        return _apply_with_import(site, assign, assign.with_changes(annotation=annotation), imp)
    if len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
        return None
    kind = next((name for t, name in _CLASSVAR_TYPES.items() if isinstance(assign.value, t)), None)
    if kind is None:
        return None
    new = cst.AnnAssign(
        target=assign.targets[0].target,
        annotation=cst.Annotation(cst.parse_expression(f"{spelled}[{kind}]")),
        value=assign.value,
    )
    return _apply_with_import(site, assign, new, imp)


# --- annotations ---------------------------------------------------------------------------------

_TYPING_MODULES = ("typing", "typing_extensions")
_PEP585_BUILTINS = {
    "List": "list",
    "Dict": "dict",
    "Set": "set",
    "FrozenSet": "frozenset",
    "Tuple": "tuple",
    "Type": "type",
}
_PEP585_COLLECTIONS = {"Deque": "deque", "DefaultDict": "defaultdict"}


@dataclass(frozen=True, slots=True)
class _Typing:
    """How a module spells ``typing``: its module aliases, and names imported from it."""

    aliases: frozenset[str]
    members: dict[str, str]  # local name -> typing member

    def member(self, node: cst.CSTNode) -> str | None:
        """The typing member ``node`` refers to (``t.Optional`` -> "Optional"), else None."""
        if (
            isinstance(node, cst.Attribute)
            and isinstance(node.value, cst.Name)
            and node.value.value in self.aliases
        ):
            return node.attr.value
        if isinstance(node, cst.Name):
            return self.members.get(node.value)
        return None


def _typing(module: cst.Module) -> _Typing:
    aliases: set[str] = set()
    members: dict[str, str] = {}

    class Imports(cst.CSTVisitor):
        # Imports anywhere outside functions count: `if TYPE_CHECKING:` and `try:` blocks too.
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_Import(self, node: cst.Import) -> None:
            for alias in node.names:
                name = cst.Module([]).code_for_node(alias.name)
                if name in _TYPING_MODULES:
                    bound = alias.asname.name if alias.asname else alias.name
                    if isinstance(bound, cst.Name):
                        aliases.add(bound.value)

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
                return
            if cst.Module([]).code_for_node(node.module) not in _TYPING_MODULES:
                return
            for alias in node.names:
                if not isinstance(alias.name, cst.Name):
                    continue
                bound = alias.asname.name if alias.asname else alias.name
                if isinstance(bound, cst.Name):
                    members[bound.value] = alias.name.value

    module.visit(Imports())
    return _Typing(frozenset(aliases), members)


def _module_bindings(site: _Site) -> set[str]:
    """Names bound at module or class level: builtins they shadow cannot be spelled bare."""
    scopes = site.wrapper.resolve(ScopeProvider)
    bound: set[str] = set()
    for scope in set(scopes.values()):
        if scope is not None and type(scope).__name__ in ("GlobalScope", "ClassScope"):
            bound.update(assignment.name for assignment in scope.assignments)
    return bound


class _Modernise(cst.CSTTransformer):
    """PEP 604/585 spelling of an annotation: ``Optional[X]`` -> ``X | None``, ``Union[A, B]``
    -> ``A | B``, ``List[X]`` -> ``list[X]``; forward references lose their quotes (the whole
    annotation becomes one string). Raises ValueError on what it cannot rewrite faithfully."""

    def __init__(self, typing: _Typing, shadowed: set[str], module: cst.Module) -> None:
        self.typing = typing
        self.shadowed = shadowed
        self.modules, self.names = _imported_names(module)

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        member = self.typing.member(node.value)
        if member == "Annotated":
            raise ValueError("Annotated metadata is not a type")
        # Literal's strings are values, not forward references: leave them alone.
        return member != "Literal"

    def leave_Subscript(
        self, original: cst.Subscript, updated: cst.Subscript
    ) -> cst.BaseExpression:
        member = self.typing.member(updated.value)
        if member in _PEP585_COLLECTIONS:
            return updated.with_changes(value=self._collection(_PEP585_COLLECTIONS[member]))
        if member not in ("Optional", "Union") and member not in _PEP585_BUILTINS:
            return updated
        elements = []
        for element in updated.slice:
            if not isinstance(element.slice, cst.Index) or element.slice.star:
                raise ValueError("unusual subscript")
            elements.append(element.slice.value)
        if member == "Optional":
            if len(elements) != 1:
                raise ValueError("Optional takes one argument")
            return _union([*elements, cst.Name("None")])
        if member == "Union":
            return _union(elements) if elements else updated
        builtin = _PEP585_BUILTINS[member]
        if builtin in self.shadowed:
            raise ValueError(f"{builtin} is rebound in the module")
        return updated.with_changes(value=cst.Name(builtin))

    def _collection(self, name: str) -> cst.BaseExpression:
        """``deque`` as the module can name it: imported from collections, or through it."""
        if self.names.get(name) == "collections":
            return cst.Name(name)
        if "collections" in self.modules:
            return cst.parse_expression(f"collections.{name}")
        raise ValueError(f"collections.{name} is not imported")

    def leave_SimpleString(
        self, original: cst.SimpleString, updated: cst.SimpleString
    ) -> cst.BaseExpression:
        if "b" in updated.prefix.lower() or "f" in updated.prefix.lower():
            raise ValueError("not a forward reference")
        value = updated.evaluated_value
        if not isinstance(value, str):
            raise ValueError("not a forward reference")
        expression = cst.parse_expression(value.strip())
        return expression.visit(self)  # type: ignore[return-value]

    def leave_ConcatenatedString(
        self, original: cst.ConcatenatedString, updated: cst.ConcatenatedString
    ) -> cst.BaseExpression:
        raise ValueError("a concatenated forward reference")


def _union(elements: Sequence[cst.BaseExpression]) -> cst.BaseExpression:
    result = elements[0]
    for element in elements[1:]:
        result = cst.BinaryOperation(
            left=result,
            operator=cst.BitOr(
                whitespace_before=cst.SimpleWhitespace(" "),
                whitespace_after=cst.SimpleWhitespace(" "),
            ),
            right=element,
        )
    return result


def _rewritable(annotation: cst.CSTNode, typing: _Typing) -> bool:
    """Whether the annotation uses a typing form FA100 asks to modernise."""
    found = False

    class Find(cst.CSTVisitor):
        def visit_Subscript(self, node: cst.Subscript) -> None:
            nonlocal found
            member = typing.member(node.value)
            if member in ("Optional", "Union", *_PEP585_BUILTINS, *_PEP585_COLLECTIONS):
                found = True

        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            nonlocal found
            value = node.evaluated_value
            if isinstance(value, str) and re.search(
                r"\b(Optional|Union|List|Dict|Set|FrozenSet|Tuple|Type|Deque|DefaultDict)\[", value
            ):
                found = True

    annotation.visit(Find())
    return found


def _evaluated_at_runtime(site: _Site, annotation: cst.Annotation) -> bool:
    """Parameter and return annotations, and variable annotations at module or class level,
    are evaluated when the code runs; a function's local variable annotations are not."""
    parent = site.parents.get(annotation)
    if not isinstance(parent, cst.AnnAssign):
        return True
    return not isinstance(site.ancestor(parent, cst.FunctionDef, cst.ClassDef), cst.FunctionDef)


def _quoted(code: str) -> str | None:
    try:
        # One line, canonical spacing: a multi-line annotation cannot live in a plain string.
        code = ast.unparse(ast.parse(code, mode="eval"))
    except (SyntaxError, ValueError):
        return None
    if '"' not in code:
        return f'"{code}"'
    if "'" not in code:
        return f"'{code}'"
    return None


@recipe(
    "FA100",
    title="Write the file's annotations as PEP 604/585 strings, without the `__future__` import",
    alternative=True,
)
def _quoted_annotations(site: _Site) -> str | None:
    # What `from __future__ import annotations` and pyupgrade would do, annotation by annotation:
    # each becomes the string it would have been under the import, in the modern spelling. The
    # file's behaviour changes only where the import would have changed it too (an annotation's
    # runtime value is its text), and the project does not have to take the import.
    typing = _typing(site.module)
    if not typing.aliases and not typing.members:
        return None
    modernise = _Modernise(typing, _module_bindings(site), site.module)
    replacements: dict[cst.CSTNode, cst.CSTNode] = {}
    for node in site.positions:
        if not isinstance(node, cst.Annotation) or not _rewritable(node, typing):
            continue
        if "#" in site.code(node.annotation) and not isinstance(node.annotation, cst.SimpleString):
            continue  # a comment inside the annotation would be lost in the string
        try:
            rewritten = node.annotation.visit(modernise)
        except (ValueError, cst.ParserSyntaxError):
            continue
        if not isinstance(rewritten, cst.BaseExpression):
            continue
        code = cst.Module([]).code_for_node(rewritten)
        if _evaluated_at_runtime(site, node):
            quoted = _quoted(code)
            if quoted is None:
                continue
            new_expression: cst.BaseExpression = cst.SimpleString(quoted)
        else:
            new_expression = rewritten
        replacements[node] = node.with_changes(annotation=new_expression)
    if not replacements:
        return None

    class Replace(cst.CSTTransformer):
        def leave_Annotation(
            self, original: cst.Annotation, updated: cst.Annotation
        ) -> cst.Annotation:
            return replacements.get(original, updated)  # type: ignore[return-value]

    return site.module.visit(Replace()).code


# --- exceptions and logging ----------------------------------------------------------------------

_DEBUG_ARGS = '"caught an exception", exc_info=True'
# Rules about exceptions caught broadly or silently, which a logged traceback satisfies.
_CAUGHT_RULES = ("BLE001", "S110", "S112", "E722")
_LOG_TITLE = "Log the exception caught, with its traceback, at debug level"


def _module_logger(module: cst.Module) -> str | None:
    """The name of a module-level ``NAME = logging.getLogger(...)``, if the module has one."""
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if (
                isinstance(small, cst.Assign)
                and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Name)
                and isinstance(small.value, cst.Call)
                and cst.Module([]).code_for_node(small.value.func)
                in ("logging.getLogger", "getLogger")
            ):
                return small.targets[0].target.value
    return None


def _with_first_statements(
    handler: cst.ExceptHandler, statements: Sequence[cst.BaseStatement]
) -> cst.ExceptHandler | None:
    body = handler.body
    if isinstance(body, cst.SimpleStatementSuite):
        # `except Exception: return None` on one line becomes a block.
        existing: list[cst.BaseStatement] = [cst.SimpleStatementLine(body=body.body)]
        block = cst.IndentedBlock(body=[])
    elif isinstance(body, cst.IndentedBlock) and body.body:
        existing = list(body.body)
        block = body
    else:
        return None
    first = existing[0]
    if not isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return None
    # Comments at the top of the handler (why it catches) stay at the top, above ours.
    new = [
        statements[0].with_changes(leading_lines=first.leading_lines),
        *statements[1:],
        first.with_changes(leading_lines=[]),
        *existing[1:],
    ]
    return handler.with_changes(body=block.with_changes(body=new))


def _logged(site: _Site, lazily: bool) -> str | None:
    handler = site.at(cst.ExceptHandler)
    if not isinstance(handler, cst.ExceptHandler):
        return None
    named = handler
    if handler.type is None:
        named = handler.with_changes(
            type=cst.Name("Exception"), whitespace_after_except=cst.SimpleWhitespace(" ")
        )
    logger_name = _module_logger(site.module)
    modules, _ = _imported_names(site.module)
    if lazily:
        if "logging" in modules or logger_name is not None:
            return None
        statements = [
            cst.parse_statement("import logging\n"),
            cst.parse_statement(f"logging.getLogger(__name__).debug({_DEBUG_ARGS})\n"),
        ]
    elif logger_name is not None:
        statements = [cst.parse_statement(f"{logger_name}.debug({_DEBUG_ARGS})\n")]
    else:
        statements = [cst.parse_statement(f"logging.getLogger(__name__).debug({_DEBUG_ARGS})\n")]
    new = _with_first_statements(named, statements)
    if new is None:
        return None
    module = site.module.deep_replace(handler, new)
    assert isinstance(module, cst.Module)
    if not lazily and logger_name is None and "logging" not in modules:
        module = _with_import(module, "import logging")
    return module.code


@recipe(*_CAUGHT_RULES, title=_LOG_TITLE)
def _log_caught(site: _Site) -> str | None:
    # ruff accepts an exception that is caught broadly or ignored when it is logged with its
    # traceback (`exc_info`): the error is no longer lost, and at debug level nothing shows
    # unless the application asks for it, so the program behaves as before. (A bare `except:`
    # names `Exception` too, as E722 asks.)
    return _logged(site, lazily=False)


@recipe(*_CAUGHT_RULES, title=_LOG_TITLE)
def _log_caught_lazily(site: _Site) -> str | None:
    # For modules that must stay light to import (a CLI's start-up time, a test of the imports
    # a package makes), `logging` is imported only when the exception happens.
    return _logged(site, lazily=True)


def _type_checking_block(module: cst.Module, typing: _Typing) -> cst.If | None:
    for statement in module.body:
        if isinstance(statement, cst.If):
            test = statement.test
            if typing.member(test) == "TYPE_CHECKING" or (
                isinstance(test, cst.Name) and test.value == "TYPE_CHECKING"
            ):
                return statement
    return None


def _has_future_annotations(module: cst.Module) -> bool:
    return bool(re.search(r"^from __future__ import [^\n]*\bannotations\b", module.code, re.M))


@recipe("PYI034", title="Return `Self`")
def _return_self(site: _Site) -> str | None:
    function = site.at(cst.FunctionDef)
    if not isinstance(function, cst.FunctionDef) or function.returns is None:
        return None
    typing = _typing(site.module)
    # `Self` is for type checkers only: imported under `if TYPE_CHECKING:` (typing_extensions
    # knows it on every Python version), and quoted unless annotations are already lazy, so
    # nothing new is imported when the program runs.
    lazy = _has_future_annotations(site.module)
    annotation = cst.Name("Self") if lazy else cst.SimpleString('"Self"')
    new_function = function.with_changes(
        returns=function.returns.with_changes(annotation=annotation)
    )
    module = site.module.deep_replace(function, new_function)
    assert isinstance(module, cst.Module)
    if typing.members.get("Self") == "Self":
        return module.code
    import_line = cst.parse_statement("from typing_extensions import Self\n")
    block = _type_checking_block(module, typing)
    if block is not None and isinstance(block.body, cst.IndentedBlock):
        suite = block.body.with_changes(body=[*block.body.body, import_line])
        with_import = module.deep_replace(block, block.with_changes(body=suite))
        return with_import.code if isinstance(with_import, cst.Module) else None
    if block is not None:
        return None
    alias = next(iter(sorted(typing.aliases)), None)
    if alias is not None:
        condition = f"{alias}.TYPE_CHECKING"
    elif typing.members.get("TYPE_CHECKING") == "TYPE_CHECKING":
        condition = "TYPE_CHECKING"
    else:
        module = _with_import(module, "from typing import TYPE_CHECKING")
        condition = "TYPE_CHECKING"
    new_block = cst.parse_statement(
        f"if {condition}:\n    from typing_extensions import Self\n",
        config=module.config_for_parsing,
    ).with_changes(leading_lines=[cst.EmptyLine()])
    body = list(module.body)
    last_import = max(
        (
            i
            for i, s in enumerate(body)
            if isinstance(s, cst.SimpleStatementLine)
            and isinstance(s.body[0], (cst.Import, cst.ImportFrom))
        ),
        default=-1,
    )
    body.insert(last_import + 1, new_block)
    return module.with_changes(body=body).code


@recipe("PYI063", title="Mark the positional-only parameters with `/`")
def _positional_only(site: _Site) -> str | None:
    function = site.at(cst.FunctionDef)
    if not isinstance(function, cst.FunctionDef):
        return None
    parameters = function.params
    if parameters.posonly_params or isinstance(parameters.posonly_ind, cst.ParamSlash):
        return None
    params = list(parameters.params)
    old_style = [
        i
        for i, p in enumerate(params)
        if p.name.value.startswith("__") and not p.name.value.endswith("__")
    ]
    if not old_style:
        return None
    last = old_style[-1]
    renames = {params[i].name.value: params[i].name.value.lstrip("_") for i in old_style}
    taken = {p.name.value for p in params} | {
        p.name.value
        for p in (*parameters.kwonly_params, parameters.star_arg, parameters.star_kwarg)
        if isinstance(p, cst.Param)
    }
    body_code = site.code(function.body)
    for new in renames.values():
        if not new.isidentifier() or new in taken or re.search(rf"\b{new}\b", body_code):
            return None  # the plain name is taken: renaming would change what it refers to
    if any(p.default is not None for p in params[: last + 1]) and any(
        p.default is None for p in params[last + 1 :]
    ):
        return None

    class Rename(cst.CSTTransformer):
        # Inside the function every use of the parameter is a bare name (a method's names
        # are mangled alike, so renaming them all together keeps them matched).
        def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
            new = renames.get(updated.value)
            return updated.with_changes(value=new) if new else updated

    moved = [p.with_changes(name=cst.Name(renames.get(p.name.value, p.name.value))) for p in params]
    positional = moved[: last + 1]
    rest = moved[last + 1 :]
    final = positional[-1]
    has_more = bool(
        rest or parameters.star_arg or parameters.kwonly_params or parameters.star_kwarg
    )
    if isinstance(final.comma, cst.Comma) and (has_more or _trailing(final)):
        # The slash takes the parameter's place in the layout; the parameter takes the comma
        # its neighbour has (the same line break and indentation, on one line a space).
        slash = cst.ParamSlash(comma=final.comma)
        if last > 0:
            before = moved[last - 1].comma
        elif not _trailing(final):
            before = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        else:
            column = site.positions[params[0]].start.column
            before = cst.Comma(
                whitespace_after=cst.ParenthesizedWhitespace(
                    last_line=cst.SimpleWhitespace(" " * column)
                )
            )
        final = final.with_changes(comma=before)
    else:
        slash = cst.ParamSlash()
        final = final.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    positional[-1] = final
    new_parameters = parameters.with_changes(
        posonly_params=positional, posonly_ind=slash, params=rest
    )
    new_function = function.with_changes(params=new_parameters, body=function.body.visit(Rename()))
    return site.replace(function, new_function)


def _trailing(param: cst.Param) -> bool:
    """Whether the parameter's comma is a trailing one before a line break (black's layout)."""
    comma = param.comma
    return isinstance(comma, cst.Comma) and isinstance(
        comma.whitespace_after, cst.ParenthesizedWhitespace
    )


# --- statements kept for their effect -----------------------------------------------------------


def _expression_statement(site: _Site) -> tuple[cst.SimpleStatementLine, cst.Expr] | None:
    """The expression statement the finding is on, and its line (which may hold several)."""
    line = site.at(cst.SimpleStatementLine)
    if not isinstance(line, cst.SimpleStatementLine):
        return None
    expr = site.at(cst.Expr)
    if not isinstance(expr, cst.Expr) or site.parents.get(expr) is not line:
        return None
    return line, expr


def _replace_small(
    line: cst.SimpleStatementLine, old: cst.BaseSmallStatement, new: cst.BaseSmallStatement
) -> cst.SimpleStatementLine:
    # The statement keeps its `;` separator when other statements share the line.
    new = new.with_changes(semicolon=old.semicolon)
    return line.with_changes(body=[new if s is old else s for s in line.body])


def _uses_underscore(site: _Site, node: cst.CSTNode) -> bool:
    """Whether ``_`` means something in the code around ``node`` (gettext's ``_``, say)."""
    owner = site.ancestor(node, cst.FunctionDef, cst.Lambda)
    scope_code = site.code(owner) if owner is not None else site.text
    return bool(re.search(r"(?<![\w.])_(?!\w)", scope_code)) or (
        owner is not None and bool(re.search(r"(?<![\w.])_\s*\(", site.text))
    )


@recipe("B015", title="Assert the comparison")
def _assert_comparison(site: _Site) -> str | None:
    # A comparison on its own line in a test is most often an `assert` left out; the tests
    # decide whether it holds. (Tried before keeping the value in `_`, which is the same size.)
    found = _expression_statement(site)
    if found is None or not isinstance(found[1].value, cst.Comparison):
        return None
    if not _in_tests(site.finding.path):
        return None
    line, expr = found
    return site.replace(line, _replace_small(line, expr, cst.Assert(test=expr.value)))


@recipe("B018", "B015", title="Assign the value to `_`: evaluated for its effect")
def _assign_to_underscore(site: _Site) -> str | None:
    # The expression stays (its evaluation may raise, or call a property or `__eq__`, which a
    # test may be checking), and says it is kept for that effect.
    found = _expression_statement(site)
    if found is None or _uses_underscore(site, found[0]):
        return None
    line, expr = found
    assign = cst.Assign(targets=[cst.AssignTarget(cst.Name("_"))], value=expr.value)
    return site.replace(line, _replace_small(line, expr, assign))


@recipe("PLW0602", title="Remove the `global` declaration: the function never assigns the name")
def _unneeded_global(site: _Site) -> str | None:
    line = site.at(cst.SimpleStatementLine)
    statement = _lone_statement(line)
    if not isinstance(line, cst.SimpleStatementLine) or not isinstance(statement, cst.Global):
        return None
    match = re.search(r"`(\w+)`", site.finding.message)
    if match is None:
        return None
    kept = [n for n in statement.names if n.name.value != match.group(1)]
    if len(kept) == len(statement.names):
        return None
    if kept:
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return site.replace(line, line.with_changes(body=[statement.with_changes(names=kept)]))
    block = site.parents.get(line)
    if not isinstance(block, cst.IndentedBlock):
        return None
    if len(block.body) == 1:
        return site.replace(line, line.with_changes(body=[cst.Pass()]))
    return site.replace(block, block.with_changes(body=[s for s in block.body if s is not line]))


@recipe("TRY203", title="Remove the handler that only re-raises")
def _useless_try(site: _Site) -> str | None:
    try_node = site.at(cst.Try)
    if (
        not isinstance(try_node, cst.Try)
        or try_node.orelse is not None
        or try_node.finalbody is not None
        or not isinstance(try_node.body, cst.IndentedBlock)
        or _has_comment(site, try_node)
    ):
        return None
    for handler in try_node.handlers:
        if not _only_reraises(handler):
            return None  # removing one handler would let a later one catch what it passed on
    block = site.parents.get(try_node)
    if not isinstance(block, (cst.IndentedBlock, cst.Module)):
        return None
    body = list(try_node.body.body)
    body[0] = body[0].with_changes(leading_lines=try_node.leading_lines)
    statements = []
    for statement in block.body:
        statements.extend(body if statement is try_node else [statement])
    return site.replace(block, block.with_changes(body=statements))


def _only_reraises(handler: cst.ExceptHandler) -> bool:
    body = handler.body
    if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
        return False
    raise_node = _lone_statement(body.body[0])
    if not isinstance(raise_node, cst.Raise) or raise_node.cause is not None:
        return False
    if raise_node.exc is None:
        return True
    return (
        isinstance(raise_node.exc, cst.Name)
        and handler.name is not None
        and isinstance(handler.name.name, cst.Name)
        and raise_node.exc.value == handler.name.name.value
    )


@recipe("B023", title="Bind the loop variable as a default argument")
def _bind_loop_variable(site: _Site) -> str | None:
    # The function keeps the value the variable had when it was defined, which is what a
    # function made in a loop almost always means (and what B023 warns it does not do).
    match = re.search(r"`(\w+)`", site.finding.message)
    if match is None:
        return None
    name = match.group(1)
    function = site.ancestor(site.at(cst.Name) or site.module, cst.Lambda, cst.FunctionDef)
    if not isinstance(function, (cst.Lambda, cst.FunctionDef)):
        return None
    parameters = function.params
    every = [
        *parameters.posonly_params,
        *parameters.params,
        *parameters.kwonly_params,
        *(p for p in (parameters.star_arg, parameters.star_kwarg) if isinstance(p, cst.Param)),
    ]
    if any(p.name.value == name for p in every):
        return None
    if isinstance(function, cst.FunctionDef) and re.search(
        rf"\b(nonlocal|global)\b[^\n]*\b{name}\b", site.code(function)
    ):
        return None
    equal = cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
    )
    bound = cst.Param(name=cst.Name(name), default=cst.Name(name), equal=equal)
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if isinstance(parameters.star_arg, (cst.Param, cst.ParamStar)) or parameters.kwonly_params:
        if not isinstance(parameters.star_arg, cst.Param) and not parameters.kwonly_params:
            return None
        kwonly = list(parameters.kwonly_params)
        if kwonly:
            kwonly[-1] = kwonly[-1].with_changes(comma=comma)
        new_parameters = parameters.with_changes(kwonly_params=[*kwonly, bound])
        if parameters.star_kwarg is not None:
            return None
    else:
        params = list(parameters.params)
        if parameters.star_kwarg is not None:
            bound = bound.with_changes(comma=comma)
        elif params:
            params[-1] = params[-1].with_changes(comma=comma)
        elif parameters.posonly_params:
            return None
        new_parameters = parameters.with_changes(params=[*params, bound])
    return site.replace(function, function.with_changes(params=new_parameters))


# --- ambiguous characters ------------------------------------------------------------------------


def _ambiguous(message: str) -> tuple[str, str] | None:
    """The ambiguous character a RUF001-3 message names, and the one it may have meant."""
    match = re.search(r"ambiguous `(.)`.*?Did you mean `(.)`", message)
    return (match.group(1), match.group(2)) if match else None


def _escape(character: str) -> str:
    name = unicodedata.name(character, "")
    return f"\\N{{{name}}}" if name else f"\\u{ord(character):04x}"


@recipe("RUF001", title="Write the ambiguous character as an escape")
def _escape_ambiguous(site: _Site) -> str | None:
    # The string keeps its value (the character was most likely meant: a dash in prose, a
    # full-width digit in a test), and a reader sees which character it is.
    found = _ambiguous(site.finding.message)
    if found is None:
        return None
    character = found[0]
    node = site.at(cst.SimpleString, cst.FormattedStringText)
    if isinstance(node, cst.SimpleString):
        prefix = node.prefix.lower()
        if "b" in prefix or character not in node.value:
            return None
        if "r" in prefix:
            return _escape_in_raw(site, node, character)
        return site.replace(
            node, node.with_changes(value=node.value.replace(character, _escape(character)))
        )
    if isinstance(node, cst.FormattedStringText):
        string = site.ancestor(node, cst.FormattedString)
        if not isinstance(string, cst.FormattedString) or "r" in string.prefix.lower():
            return None
        if character not in node.value:
            return None
        # (an f-string reads `\N{...}` as an escape, not as a replacement field)
        escaped = _escape(character)
        return site.replace(node, node.with_changes(value=node.value.replace(character, escaped)))
    return None


def _escape_in_raw(site: _Site, node: cst.SimpleString, character: str) -> str | None:
    # A raw string has no escapes: the character becomes a plain string of its own between
    # the raw pieces around it (`r"[" "\\N{FULLWIDTH NUMBER SIGN}" r"#]"`), which the compiler
    # joins into the same value; the rest of the string (a regular expression, most often)
    # keeps its raw spelling. Not in a triple-quoted string: its pieces would run across lines.
    parent = site.parents.get(node)
    if isinstance(parent, cst.ConcatenatedString) and parent.left is node:
        return None
    quote = node.quote
    if len(quote) != 1:
        return None
    body = node.value[len(node.prefix) + len(quote) : -len(quote)]
    single = quote[0]
    pieces = body.split(character)
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if index:
            parts.append(f"{single}{_escape(character)}{single}")
        if piece:
            parts.append(f"{node.prefix}{quote}{piece}{quote}")
    code = " ".join(parts)
    try:
        same = ast.literal_eval(code) == ast.literal_eval(node.value)
        new = cst.parse_expression(code, config=site.module.config_for_parsing)
    except (SyntaxError, ValueError, cst.ParserSyntaxError):
        return None
    if not same:
        return None
    if not isinstance(parent, (cst.Arg, cst.Assign, cst.Element, cst.AnnAssign)):
        new = cst.parse_expression(f"({code})", config=site.module.config_for_parsing)
    return site.replace(node, new)


@recipe("RUF003", title="Replace the ambiguous character in the comment")
def _plain_comment(site: _Site) -> str | None:
    found = _ambiguous(site.finding.message)
    if found is None:
        return None
    lines = site.text.split("\n")
    row = site.finding.span.start.line
    column = site.finding.span.start.column
    if row >= len(lines) or lines[row][column : column + 1] != found[0]:
        return None
    line = lines[row]
    lines[row] = line[:column] + found[1] + line[column + 1 :]
    new_text = "\n".join(lines)
    # Only a comment may change: the code must parse to the same tree.
    try:
        if ast.dump(ast.parse(new_text)) != ast.dump(ast.parse(site.text)):
            return None
    except (SyntaxError, ValueError):
        return None
    return new_text


@recipe("B007", title="Prefix the unused loop variable with an underscore")
def _unused_loop_variable(site: _Site) -> str | None:
    # ruff renames only when nothing after the loop could read the variable; here that is
    # checked on the syntax tree: after the loop, the function may bind the name again but
    # not read it.
    match = re.search(r"`(\w+)`", site.finding.message)
    loop = site.at(cst.For)
    if match is None or not isinstance(loop, cst.For):
        return None
    name = match.group(1)
    owner = site.ancestor(loop, cst.FunctionDef) or site.module
    new = _free_name(site.code(owner), f"_{name}")
    loop_end = site.positions[loop].end
    in_loop: set[cst.CSTNode] = set()
    for node, where in site.positions.items():
        if not isinstance(node, cst.Name) or node.value != name or not _inside(site, node, owner):
            continue
        if not _is_variable(site, node):
            continue
        if _inside(site, node, loop.target):
            in_loop.add(node)
        elif _inside(site, node, loop):
            return None  # read in the body after all: not what B007 says
        elif (where.start.line, where.start.column) > (
            loop_end.line,
            loop_end.column,
        ) and not (_stored(site, node) or _rebound_by_loop(site, node, name)):
            return None
    if not in_loop:
        return None

    class Rename(cst.CSTTransformer):
        def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
            return updated.with_changes(value=new) if original in in_loop else updated

    return site.replace(loop, loop.with_changes(target=loop.target.visit(Rename())))


def _stored(site: _Site, node: cst.CSTNode) -> bool:
    """Whether the name is bound here (an assignment or loop target), not read."""
    current = node
    parent = site.parents.get(current)
    while isinstance(parent, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
        current, parent = parent, site.parents.get(parent)
    if isinstance(parent, cst.For):
        return parent.target is current
    if isinstance(parent, cst.AssignTarget):
        return parent.target is current
    return False


def _rebound_by_loop(site: _Site, node: cst.CSTNode, name: str) -> bool:
    """Whether ``node`` is read in the body of a loop that binds ``name`` itself (so it reads
    that loop's value; were the loop never to run, its body would not read it either)."""
    loop = site.ancestor(node, cst.For)
    while isinstance(loop, cst.For):
        if _inside(site, node, loop.body) and any(
            isinstance(n, cst.Name) and n.value == name and _inside(site, n, loop.target)
            for n in site.positions
        ):
            return True
        loop = site.ancestor(loop, cst.For)
    return False


def _in_tests(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py") or "tests/" in path


@recipe("TRY002", title="Raise an exception class of its own")
def _own_exception(site: _Site) -> str | None:
    # In a test, raising plain `Exception` means "this test failed": `AssertionError` says so.
    # Elsewhere the module gets a subclass named after the function, so every handler that
    # caught the plain class still catches it, and callers can now tell it apart.
    target = _raised_name(site)
    if target is None or target.value not in ("Exception", "BaseException"):
        return None
    if _in_tests(site.finding.path):
        return site.replace(target, cst.Name("AssertionError"))
    function = site.ancestor(target, cst.FunctionDef)
    if not isinstance(function, cst.FunctionDef):
        return None
    words = [w for w in function.name.value.split("_") if w]
    if not words:
        return None
    name = _free_name(site.text, "".join(w[:1].upper() + w[1:] for w in words) + "Error")
    top: cst.CSTNode = function
    while site.parents.get(top) is not site.module:
        parent = site.parents.get(top)
        if parent is None:
            return None
        top = parent
    definition = cst.parse_statement(
        f'class {name}({target.value}):\n    """Raised by `{function.name.value}`."""\n',
        config=site.module.config_for_parsing,
    )
    if not isinstance(top, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return None
    index = list(site.module.body).index(top)
    module = site.module.deep_replace(target, cst.Name(name))
    assert isinstance(module, cst.Module)
    body = list(module.body)
    spacing = [cst.EmptyLine(), cst.EmptyLine()]
    body.insert(index, definition.with_changes(leading_lines=top.leading_lines))
    body[index + 1] = body[index + 1].with_changes(leading_lines=spacing)
    return module.with_changes(body=body).code


@recipe("RUF005", title="Unpack into the literal instead of concatenating")
def _unpack_concatenation(site: _Site) -> str | None:
    # ruff's own fix covers most of these; it gives up where a comment sits on the line.
    node = site.at(cst.BinaryOperation, exact=True)
    if not isinstance(node, cst.BinaryOperation) or not isinstance(node.operator, cst.Add):
        return None
    left, right = node.left, node.right
    literal = left if isinstance(left, (cst.List, cst.Tuple)) else right
    other = right if literal is left else left
    if not isinstance(literal, (cst.List, cst.Tuple)) or isinstance(other, (cst.List, cst.Tuple)):
        return None
    if _has_comment(site, node):
        return None
    # (an element's code carries its comma)
    items = [site.code(e).rstrip().rstrip(",") for e in literal.elements]
    unpacked = f"*{site.code(other)}"
    parts = [*items, unpacked] if literal is left else [unpacked, *items]
    if isinstance(literal, cst.List):
        code = "[" + ", ".join(parts) + "]"
    else:
        code = "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    try:
        new = cst.parse_expression(code)
    except cst.ParserSyntaxError:
        return None
    return site.replace(node, new)


@recipe("DTZ003", "DTZ004", title="Ask for the time in UTC explicitly (still a naive datetime)")
def _explicit_utc(site: _Site) -> str | None:
    # `utcnow()` and `utcfromtimestamp(t)` give naive datetimes holding UTC; the aware call
    # with `.replace(tzinfo=None)` gives the very same value, and says what it is.
    call = site.at(cst.Call, exact=True)
    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
        return None
    method = call.func.attr.value
    if method not in ("utcnow", "utcfromtimestamp") or any(a.star or a.keyword for a in call.args):
        return None
    if (method == "utcnow") != (not call.args) or len(call.args) > 1:
        return None
    klass = site.code(call.func.value)
    modules, names = _imported_names(site.module)
    if klass == "datetime.datetime" and "datetime" in modules:
        utc, imp = "datetime.timezone.utc", None
    elif klass == "datetime" and names.get("datetime") == "datetime":
        spelled, imp = _reference(site.module, "datetime", "timezone", from_import=True)
        utc = f"{spelled}.utc"
    else:
        return None
    if method == "utcnow":
        code = f"{klass}.now({utc}).replace(tzinfo=None)"
    else:
        code = f"{klass}.fromtimestamp({site.code(call.args[0].value)}, {utc}).replace(tzinfo=None)"
    return _apply_with_import(site, call, cst.parse_expression(code), imp)


# --- loops over a dictionary's keys --------------------------------------------------------------


def _value_name(site: _Site, node: cst.CSTNode, key: str) -> str:
    """A name for the values of a loop over keys named ``key``, unused in the enclosing
    function (or module): a new local must not shadow anything the code there reads."""
    owner = site.ancestor(node, cst.FunctionDef)
    scope = site.code(owner) if owner is not None else site.text
    if key == "k":
        candidates: tuple[str, ...] = ("v", "value")
    elif key.endswith("key"):
        candidates = (key[: -len("key")] + "value", "value")
    else:
        candidates = (f"{key}_value", "value")
    return _free_name(scope, *candidates)


@recipe("PLC0206", title="Iterate over `.items()`")
def _items_loop(site: _Site) -> str | None:
    # `for k in d:` whose body reads `d[k]` becomes `for k, v in d.items():` reading `v`:
    # the same value, looked up once. Only when the body never changes what `d[k]` would
    # read: it rebinds neither name, stores or deletes no item of `d`, calls no method of
    # `d`, and no nested function reads `d[k]` later.
    loop = site.at(cst.For)
    if not isinstance(loop, cst.For) or loop.asynchronous is not None:
        return None
    if not isinstance(loop.target, cst.Name) or not isinstance(
        loop.iter, (cst.Name, cst.Attribute)
    ):
        return None
    key = loop.target.value
    mapping = site.code(loop.iter)
    root: cst.BaseExpression = loop.iter
    while isinstance(root, cst.Attribute):
        root = root.value
    if not isinstance(root, cst.Name):
        return None
    bindings = _Bindings()
    loop.body.visit(bindings)
    rebound = {
        name
        for targets, _ in bindings.assignments
        for target in targets
        for name in _bound_names(target)[0]
    }
    if key in rebound or root.value in rebound or bindings.declared & {key, root.value}:
        return None
    lookups: list[cst.Subscript] = []
    for node in site.positions:
        if not isinstance(node, cst.Subscript) or not _inside(site, node, loop.body):
            continue
        if site.code(node.value) != mapping:
            continue
        parent = site.parents.get(node)
        while isinstance(parent, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
            parent = site.parents.get(parent)
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.Del)):
            return None
        index = node.slice[0].slice if len(node.slice) == 1 else None
        if not (isinstance(index, cst.Index) and isinstance(index.value, cst.Name)):
            continue
        if index.value.value != key:
            continue
        if any(_inside(site, node, scope) for scope in bindings.scopes):
            return None
        lookups.append(node)
    if not lookups:
        return None
    for node in site.positions:
        if (
            isinstance(node, cst.Attribute)
            and site.code(node.value) == mapping
            and isinstance(site.parents.get(node), cst.Call)
            and _inside(site, node, loop.body)
        ):
            return None
    value = _value_name(site, loop, key)

    class Lookups(cst.CSTTransformer):
        def leave_Subscript(
            self, original: cst.Subscript, updated: cst.Subscript
        ) -> cst.BaseExpression:
            return cst.Name(value) if any(original is n for n in lookups) else updated

    body = loop.body.visit(Lookups())
    new_loop = loop.with_changes(
        target=cst.Tuple(
            elements=[
                cst.Element(
                    cst.Name(key), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                ),
                cst.Element(cst.Name(value)),
            ],
            lpar=[],
            rpar=[],
        ),
        iter=cst.parse_expression(f"{mapping}.items()"),
        body=body,
    )
    return site.replace(loop, new_loop)

"""Did the tests that ran execute the change? The changed code, and what a run saw of it.

Boundary: plain Python over texts and coverage data files; it runs nothing. ``changed_units``
names what an edit changed, the unit a test must run for its passing to say anything about the
edit: the innermost function holding a changed line (its body must have run: a call), or, for a
change outside any function, the module (it must have been imported), or a file that is not
Python (it must have been opened). A change to the annotations of a function's signature counts
as outside it too: they are evaluated where the ``def`` runs (at import, or when the function
around it runs); so does a change to its decorators, applied there. ``RunTrace`` is what a run
recorded of those units (``child_coverage.py`` writes it, in every Python process of the run),
and ``unexercised`` tells which units it never reached. ``same_code`` tells a change of layout,
of docstrings, of annotations no call evaluates, or of syntax the compiler makes the same code of
(an ``else`` after a ``return``), from one of what a call does.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import difflib
import functools
import json
import logging
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tactful.analyzers.text import split_lines

logger = logging.getLogger(__name__)

FUNCTION = "function"
MODULE = "module"
FILE = "file"


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of changed code that tests must run for their verdict to cover the edit."""

    path: str  # relative to the workspace
    kind: str  # FUNCTION, MODULE or FILE
    name: str = ""  # the function's qualified name (``Class.method``, ``outer.inner``)
    body: tuple[int, int] = (0, 0)  # one-based lines of the function's body in the new text
    old_lines: tuple[int, ...] = ()  # one-based changed lines of the old text inside the unit
    new_lines: tuple[int, ...] = ()  # one-based changed lines of the new text inside the unit
    module: str = ""  # the dotted module name, for a deleted module (its import is watched)
    deleted: bool = False
    # which of the functions of that name (a module may define one per platform, in an if)
    occurrence: int = 0

    @property
    def label(self) -> str:
        if self.kind == FUNCTION:
            return f"{self.path}:{self.name}"
        if self.kind == MODULE:
            return f"{self.path} (module level)"
        return self.path


@dataclass(frozen=True, slots=True)
class _Def:
    qualname: str
    start: int  # first line, decorators included
    end: int
    body: tuple[int, int]
    node: ast.FunctionDef | ast.AsyncFunctionDef
    occurrence: int  # among the functions of the same qualified name, in source order

    @property
    def key(self) -> tuple[str, int]:
        return self.qualname, self.occurrence


def _defs(tree: ast.AST) -> list[_Def]:
    """Every function of a module with its qualified name (``<locals>`` left out)."""
    found: list[_Def] = []
    seen: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                body = (child.body[0].lineno, end) if child.body else (child.lineno, end)
                occurrence = seen[name] = seen.get(name, -1) + 1
                found.append(_Def(name, start, end, body, child, occurrence))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _enclosing(defs: list[_Def], inner: _Def) -> _Def | None:
    """The innermost function whose body holds the ``def`` of ``inner``, if any."""
    best: _Def | None = None
    for candidate in defs:
        first, last = candidate.body
        if (
            candidate is not inner
            and first <= inner.start <= last
            and (best is None or candidate.start >= best.start)
        ):
            best = candidate
    return best


def _innermost(defs: list[_Def], line: int) -> _Def | None:
    best: _Def | None = None
    for candidate in defs:
        if candidate.start <= line <= candidate.end and (
            best is None or candidate.start >= best.start
        ):
            best = candidate
    return best


def _owner(defs: list[_Def], line: int) -> _Def | None:
    """The function whose run runs ``line``: the innermost one holding it, but for a line of a
    decorator the one around it (None: the module), where the ``def`` runs and the decorator
    is applied."""
    found = _innermost(defs, line)
    while found is not None and line < found.node.lineno:
        found = _enclosing(defs, found)
    return found


def _without_annotations(
    node: ast.FunctionDef | ast.AsyncFunctionDef, in_body: bool = False
) -> str:
    """The function's syntax tree without the annotations of its signature (evaluated where the
    ``def`` runs), and with ``in_body`` also without those of variables in its body (never
    evaluated inside a function; a class's body in it keeps its own)."""
    return ast.dump(_stripped(node, in_body), include_attributes=False)


def _stripped(
    node: ast.FunctionDef | ast.AsyncFunctionDef, in_body: bool = False
) -> ast.FunctionDef | ast.AsyncFunctionDef:
    copied = copy.deepcopy(node)
    args = copied.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            arg.annotation = None
    copied.returns = None
    stack: list[ast.AST] = list(copied.body) if in_body else []
    while stack:
        child = stack.pop()
        if isinstance(child, ast.AnnAssign):
            child.annotation = ast.Constant(None)
        if not isinstance(child, ast.ClassDef):
            stack.extend(ast.iter_child_nodes(child))
    return copied


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with every docstring (a module's, a class's, a function's) made empty: no call
    runs a docstring."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                first.value = ast.Constant("")
    return tree


def _shape(code: types.CodeType) -> tuple[object, ...]:
    """What of a code object decides what it does: its instructions, names and constants (the
    code objects among them alike), without its line numbers or file name."""
    consts = tuple(
        _shape(const) if isinstance(const, types.CodeType) else (type(const).__name__, repr(const))
        for const in code.co_consts
    )
    return (
        code.co_code,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        code.co_name,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        getattr(code, "co_exceptiontable", b""),
        consts,
    )


def _compiled(tree: ast.AST) -> tuple[object, ...] | None:
    """The shape of ``tree`` compiled without its docstrings, or None when it does not compile."""
    if isinstance(tree, ast.Module):
        module = copy.deepcopy(tree)
    elif isinstance(tree, ast.stmt):
        module = ast.Module(body=[copy.deepcopy(tree)], type_ignores=[])
    else:
        return None
    _without_docstrings(module)
    module = ast.fix_missing_locations(module)
    try:
        code = compile(module, "<unit>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return None
    return _shape(code)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The annotations of a function's signature: its parameters' and its return's."""
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    annotations = [arg.annotation for arg in every if arg is not None] + [node.returns]
    return "|".join(
        "" if note is None else ast.dump(note, include_attributes=False) for note in annotations
    )


def _parse(text: str | None) -> ast.Module | None:
    if text is None:
        return None
    return _parsed(text)


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> ast.Module | None:
    """The tree of a text (kept: one file's text is asked about again and again)."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


@functools.lru_cache(maxsize=16)
def _defs_of(text: str) -> tuple[_Def, ...]:
    tree = _parsed(text)
    return tuple(_defs(tree)) if tree is not None else ()


def changed_lines(old_text: str, new_text: str) -> tuple[list[int], list[int]]:
    """One-based lines that differ: (in the old text, in the new text)."""
    old = split_lines(old_text)
    new = split_lines(new_text)
    old_changed: list[int] = []
    new_changed: list[int] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old_changed.extend(range(i1 + 1, i2 + 1))
        new_changed.extend(range(j1 + 1, j2 + 1))
    return old_changed, new_changed


def enclosing_body(text: str, line: int) -> tuple[str, tuple[int, int]] | None:
    """The qualified name and one-based body lines of the innermost function holding ``line``
    (its ``def`` and decorators included); None outside any function or when it does not parse."""
    found = _innermost(list(_defs_of(text)), line)
    return (found.qualname, found.body) if found is not None else None


def module_name(relative: str, exists: Callable[[str], bool]) -> str:
    """Dotted module name, counting package folders (those with ``__init__.py``) upwards."""
    path = PurePosixPath(relative)
    parts = [path.stem] if path.name != "__init__.py" else []
    folder = path.parent
    while folder.name and exists((folder / "__init__.py").as_posix()):
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def changed_units(
    path: str, old_text: str | None, new_text: str | None, exists: Callable[[str], bool]
) -> list[Unit]:
    """What a change to one file changed, as the units tests must run (see the module doc)."""
    if not path.endswith(".py"):
        return [Unit(path, FILE, deleted=new_text is None)]
    if new_text is None:
        return [Unit(path, MODULE, module=module_name(path, exists), deleted=True)]
    new_tree = _parse(new_text)
    old_tree = _parse(old_text) if old_text is not None else None
    if new_tree is None or old_text is None or old_tree is None:
        return [Unit(path, MODULE)]
    old_changed, new_changed = changed_lines(old_text, new_text)
    if not old_changed and not new_changed:
        return []
    old_defs, new_defs = list(_defs_of(old_text)), list(_defs_of(new_text))
    names: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
    module_level = False
    for line in old_changed:
        found = _owner(old_defs, line)
        if found is None:
            module_level = True
        else:
            names.setdefault(found.key, ([], []))[0].append(line)
    for line in new_changed:
        found = _owner(new_defs, line)
        if found is None:
            module_level = True
        else:
            names.setdefault(found.key, ([], []))[1].append(line)
    units: list[Unit] = []
    by_name = {d.key: d for d in new_defs}
    old_by_name = {d.key: d for d in old_defs}
    pending = list(names.items())
    done: set[tuple[str, int]] = set()
    while pending:
        key, (old_lines, new_lines) = pending.pop(0)
        if key in done:
            continue
        done.add(key)
        target = by_name.get(key)
        if target is None:
            module_level = True  # the function is gone: its def no longer runs at import
            continue
        before = old_by_name.get(key)
        if before is not None and _signature(before.node) != _signature(target.node):
            # the annotations of its signature changed: they are evaluated where the def runs
            # (at import, or when the function around it runs), so that must run too
            enclosing = _enclosing(new_defs, target)
            if enclosing is None:
                module_level = True
            elif enclosing.key not in names:
                pending.append((enclosing.key, ([], [target.start])))
            if _without_annotations(before.node) == _without_annotations(target.node):
                continue  # nothing else changed: a call runs what it ran
        units.append(
            Unit(
                path,
                FUNCTION,
                key[0],
                target.body,
                tuple(old_lines),
                tuple(new_lines),
                occurrence=key[1],
            )
        )
    if module_level:
        units.append(Unit(path, MODULE))
    return units


def same_code(unit: Unit, old_text: str | None, new_text: str | None) -> bool:
    """Whether a change leaves the code a call of ``unit`` runs as it was: only its layout
    (line breaks, trailing commas, parentheses, comments), its docstrings, annotations no call
    evaluates (its signature's, its variables') or syntax the compiler makes the same code of
    changed, so both versions compile to the same instructions, names and constants (at other
    line numbers). A module-level unit counts only when the whole file compiles alike; a file
    that is not Python, or is deleted, never does."""
    if unit.kind == FILE or unit.deleted or old_text is None or new_text is None:
        return False
    old_tree, new_tree = _parse(old_text), _parse(new_text)
    if old_tree is None or new_tree is None:
        return False
    if unit.kind == MODULE:
        if ast.dump(old_tree) == ast.dump(new_tree):
            return True
        old_shape = _compiled(old_tree)
        return old_shape is not None and old_shape == _compiled(new_tree)
    key = (unit.name, unit.occurrence)
    before = next((d for d in _defs_of(old_text) if d.key == key), None)
    after = next((d for d in _defs_of(new_text) if d.key == key), None)
    if before is None or after is None:
        return False
    old_node, new_node = _stripped(before.node, True), _stripped(after.node, True)
    if ast.dump(old_node) == ast.dump(new_node):
        return True
    # syntax that differs and compiles alike: an ``else`` after a ``return``, a trailing bare
    # ``return``, a docstring reworded
    old_shape = _compiled(old_node)
    return old_shape is not None and old_shape == _compiled(new_node)


# --- changes the compiled code shows, that no run can tell apart ----------------------------------
#
# Each rule rewrites a construct of both versions to one spelling when the two spellings
# provably do the same thing; if the versions then compile alike, their behaviour is the same.
# The names a rule relies on must mean what they seem: bound once, by the module's opening
# imports (a function of the module cannot run before them), or built-ins the module never
# binds (no assignment, import, def, class, parameter, `global` or `del` of that name anywhere).

# (phrases for the verdict: "same code once compiled, but for …")
# Raising a class calls it with no arguments: `raise E` makes the exception `raise E()` made.
RAISE_BUILTIN = "`raise E()` as `raise E` (E a built-in exception)"
# `typing.cast(T, v)` returns `v` without using `T`; evaluating a type made of typing's names
# (those the Python running tactful has) and built-in classes cannot fail nor run project code.
CAST_TYPE = "the type given to `typing.cast`, which ignores it"


def _bound_names(tree: ast.Module) -> Counter[str]:
    """How many times each name is bound anywhere in the module, in any scope."""
    bound: Counter[str] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound[node.id] += 1
        elif isinstance(node, ast.arg):
            bound[node.arg] += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound[node.name] += 1
        elif isinstance(node, ast.alias):
            bound[(node.asname or node.name).split(".")[0]] += 1
        elif isinstance(node, ast.Global | ast.Nonlocal):
            bound.update(node.names)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bound[node.name] += 1
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound[node.rest] += 1
    return bound


def _opening_imports(tree: ast.Module) -> Iterable[ast.Import | ast.ImportFrom]:
    """The imports a module starts with (after its docstring), before anything else runs."""
    for index, statement in enumerate(tree.body):
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement
        elif not (
            index == 0
            and isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
        ):
            return


class _Meanings:
    """What the names of one module surely mean, for the rules."""

    def __init__(self, tree: ast.Module) -> None:
        bound = _bound_names(tree)
        self.typing_modules: set[str] = set()  # names bound to the typing module
        self.from_typing: set[str] = set()  # names bound to typing.<the same name>
        for statement in _opening_imports(tree):
            for alias in statement.names:
                name = alias.asname or alias.name
                if bound[name] != 1:
                    continue
                if isinstance(statement, ast.Import) and alias.name == "typing":
                    self.typing_modules.add(name)
                elif (
                    isinstance(statement, ast.ImportFrom)
                    and statement.module == "typing"
                    and statement.level == 0
                    and alias.asname is None
                ):
                    self.from_typing.add(name)
        self.builtins = {name for name in vars(builtins) if not bound[name]}

    def builtin_exception(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Name) or node.id not in self.builtins:
            return False
        value = getattr(builtins, node.id)
        return isinstance(value, type) and issubclass(value, BaseException)

    def is_cast(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id == "cast" and "cast" in self.from_typing
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "cast"
            and isinstance(node.value, ast.Name)
            and node.value.id in self.typing_modules
        )

    def inert_type(self, node: ast.expr) -> bool:
        """Whether evaluating ``node`` cannot fail nor run code of the project: a string, or
        a name of ``typing`` (spelled through the module or imported from it), or a built-in
        class the module never binds, subscripted only by such types."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str) or node.value is None or node.value is Ellipsis
        if isinstance(node, ast.Name):
            if node.id in self.from_typing:
                return hasattr(typing, node.id)
            return node.id in self.builtins and isinstance(getattr(builtins, node.id), type)
        if isinstance(node, ast.Attribute):
            return (
                isinstance(node.value, ast.Name)
                and node.value.id in self.typing_modules
                and hasattr(typing, node.attr)
            )
        if isinstance(node, ast.Subscript):
            # only typing's own generics: their arity is checked alike in every version
            if not isinstance(node.value, ast.Name | ast.Attribute) or not self.inert_type(
                node.value
            ):
                return False
            if isinstance(node.value, ast.Name) and node.value.id not in self.from_typing:
                return False
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if not all(self.inert_type(part) for part in parts):
                return False
            namespace = {name: typing for name in self.typing_modules}
            namespace.update({name: getattr(typing, name) for name in self.from_typing})
            try:
                # names of typing and built-in classes only, no calls
                eval(
                    compile(ast.Expression(node), "<type>", "eval"),
                    {"__builtins__": builtins, **namespace},
                )
            except Exception:  # any failure: the type is not inert
                return False
            return True
        return False


class _Normalised(ast.NodeTransformer):
    """Both spellings of each rule's construct rewritten to one."""

    def __init__(self, meanings: _Meanings, rules: frozenset[str]) -> None:
        self.meanings = meanings
        self.rules = rules

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        self.generic_visit(node)
        exc = node.exc
        if (
            RAISE_BUILTIN in self.rules
            and isinstance(exc, ast.Call)
            and not exc.args
            and not exc.keywords
            and self.meanings.builtin_exception(exc.func)
        ):
            node.exc = exc.func
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if (
            CAST_TYPE in self.rules
            and self.meanings.is_cast(node.func)
            and len(node.args) == 2
            and not node.keywords
            and self.meanings.inert_type(node.args[0])
        ):
            node.args[0] = ast.Constant("")
        return node


def same_behaviour_by_rule(
    unit: Unit, old_text: str | None, new_text: str | None
) -> tuple[str, ...] | None:
    """For a function whose compiled code changed: the rules under which both versions
    compile alike (see ``RAISE_BUILTIN``, ``CAST_TYPE``), the fewest that do; None when none
    does."""
    if unit.kind != FUNCTION or old_text is None or new_text is None:
        return None
    old_tree, new_tree = _parse(old_text), _parse(new_text)
    if old_tree is None or new_tree is None:
        return None
    key = (unit.name, unit.occurrence)
    before = next((d for d in _defs_of(old_text) if d.key == key), None)
    after = next((d for d in _defs_of(new_text) if d.key == key), None)
    if before is None or after is None:
        return None
    old_meanings, new_meanings = _Meanings(old_tree), _Meanings(new_tree)
    for rules in ((RAISE_BUILTIN,), (CAST_TYPE,), (RAISE_BUILTIN, CAST_TYPE)):
        chosen = frozenset(rules)
        old_node = _Normalised(old_meanings, chosen).visit(_stripped(before.node, True))
        new_node = _Normalised(new_meanings, chosen).visit(_stripped(after.node, True))
        old_shape = _compiled(old_node)
        if old_shape is not None and old_shape == _compiled(new_node):
            return rules
    return None


@dataclass
class RunTrace:
    """What one run recorded of the changed units: lines executed in the changed Python files,
    the changed non-Python files opened, the deleted modules someone tried to import."""

    measured: bool = False  # at least one Python process of the run recorded something
    lines: dict[str, set[int]] = field(default_factory=dict)  # relative path -> lines run
    opened: set[str] = field(default_factory=set)  # relative paths
    imported: set[str] = field(default_factory=set)  # module names
    # node id -> relative path -> lines run, when the run labelled its coverage by test
    by_test: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    # relative path -> (its module's name, the file the tests imported under that name instead)
    elsewhere: dict[str, tuple[str, str]] = field(default_factory=dict)

    def ran(self, unit: Unit) -> bool:
        if unit.kind == FILE:
            return unit.path in self.opened
        if unit.deleted:
            return unit.module in self.imported
        executed = self.lines.get(unit.path, set())
        if unit.kind == MODULE:
            return bool(executed)
        first, last = unit.body
        return any(first <= line <= last for line in executed)


def unexercised(units: Iterable[Unit], trace: RunTrace) -> list[Unit]:
    return [unit for unit in units if not trace.ran(unit)]


def read_trace(out: Path, prefix: str, roots: Iterable[Path]) -> RunTrace:
    """The trace a run left in ``out`` (files named ``prefix*``), paths made relative to the
    first of ``roots`` that holds them (the workspace's path, or the run copy's)."""
    from coverage import CoverageData

    trace = RunTrace()
    bases = [root.resolve() for root in roots]

    def relative(name: str) -> str | None:
        source = Path(name)
        for base in bases:
            if source.is_relative_to(base):
                return source.relative_to(base).as_posix()
        return None

    for path in sorted(out.glob(prefix + "*")):
        if path.suffix == ".json" or path.name.endswith(".events"):
            with contextlib.suppress(OSError, ValueError):
                trace.measured = True
                for line in path.read_text(encoding="utf-8").splitlines():
                    event = json.loads(line)
                    if event.get("open") and (name := relative(event["open"])) is not None:
                        trace.opened.add(name)
                    if event.get("import"):
                        trace.imported.add(str(event["import"]))
                    if event.get("elsewhere") and (name := relative(event["elsewhere"][0])):
                        trace.elsewhere[name] = (str(event["elsewhere"][1]), event["elsewhere"][2])
            continue
        try:
            data = CoverageData(basename=str(path))
            data.read()
        except Exception as exc:  # a data file cut short by a killed process
            logger.info("unreadable coverage data %s: %s", path, exc)
            continue
        trace.measured = True
        for filename in data.measured_files():
            name = relative(filename)
            if name is None:
                continue
            trace.lines.setdefault(name, set()).update(data.lines(filename) or ())
            if data.measured_contexts() - {""}:
                for number, contexts in data.contexts_by_lineno(filename).items():
                    for context in contexts:
                        if context:
                            ran = trace.by_test.setdefault(context, {})
                            ran.setdefault(name, set()).add(number)
    return trace

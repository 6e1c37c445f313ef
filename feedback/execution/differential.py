"""The differential check, tactful's side: for changed functions no test runs, old against new.

Boundary: plain Python over the old and new texts (``ast``) and Hypothesis; it never imports or
runs workspace code. It says which changed functions can be called on their own (module
functions, methods, class and static methods, properties; not functions nested in functions),
generates inputs for them with Hypothesis from the old version's annotations, defaults and the
literals in its body (values of built-in types only, pickled here for the sandbox), and reads the
report of ``harness.py``, which calls both versions inside the sandbox. Inputs recorded from the
project's own tests (``recorder.py``) are made inside the sandbox and only ever unpickled there.
"""

from __future__ import annotations

import ast
import hashlib
import io
import logging
import pathlib
import pickle
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tactful.analyzers.text import split_lines
from tactful.feedback.execution.exercise import FUNCTION, Unit, module_name
from tactful.feedback.execution.verdict import Counterexample

logger = logging.getLogger(__name__)

GENERATED_INPUTS = 100
PICKLE_PROTOCOL = 4  # read by every Python 3 a workspace may use


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: str  # positional_only, positional, var_positional, keyword_only, var_keyword
    annotation: str = ""  # source text of the annotation, "" when none
    default: str | None = None  # source text of the default, None when required


@dataclass(frozen=True, slots=True)
class Target:
    """A changed function the harness can call: where it lives and both versions' sources."""

    label: str
    path: str
    module: str
    import_root: str  # folder (relative to the workspace) that ``module`` is imported from
    owner: tuple[str, ...]  # classes from the module down to the function's
    name: str
    bound: str  # function, method, classmethod, staticmethod, property
    self_name: str  # the first parameter of a method or class method
    params: tuple[Param, ...]  # without self/cls
    # for a method: the parameters of its class's __init__ (without self), to make instances
    # with; None when the class defines none here (it is then made with no arguments)
    init_params: tuple[Param, ...] | None
    old_source: str
    old_def_line: int
    old_first_line: int  # the first decorator's line: the code object's first line
    old_body: tuple[int, int]  # lines of the old version's body
    new_source: str
    new_def_line: int
    old_changed: tuple[int, ...]
    new_changed: tuple[int, ...]
    literals: tuple[Any, ...] = field(default=(), compare=False)
    # lines of the ``raise`` statements holding a changed line, in each version: a call that
    # raises from one of them has run the change to its end, as one that returns has
    old_raises: tuple[int, ...] = ()
    new_raises: tuple[int, ...] = ()

    def spec(self, inputs: str) -> dict[str, Any]:
        """What ``harness.py`` reads for this target; ``inputs`` is its folder of inputs."""
        return {
            "label": self.label,
            "module": self.module,
            "import_root": self.import_root,
            "owner": list(self.owner),
            "name": self.name,
            "bound": self.bound,
            "self": self.self_name,
            "params": [{"name": p.name, "kind": p.kind} for p in self.params],
            "init_params": [{"name": p.name, "kind": p.kind} for p in self.init_params or ()],
            "old_source": self.old_source,
            "old_def_line": self.old_def_line,
            "new_source": self.new_source,
            "new_def_line": self.new_def_line,
            "old_changed": list(self.old_changed),
            "new_changed": list(self.new_changed),
            "old_raises": list(self.old_raises),
            "new_raises": list(self.new_raises),
            "inputs": inputs,
        }


def _find(
    tree: ast.Module, qualname: str, occurrence: int = 0
) -> tuple[list[ast.ClassDef], ast.AST, bool] | None:
    """(enclosing classes, the def, whether it is nested in a function) for the
    ``occurrence``-th definition of a qualified name, in source order."""
    parts = qualname.split(".")
    matches: list[tuple[list[ast.ClassDef], ast.AST, bool]] = []

    def walk(node: ast.AST, index: int, classes: list[ast.ClassDef], in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                if child.name == parts[index]:
                    if index == len(parts) - 1:
                        matches.append((classes, child, in_function))
                    else:
                        walk(child, index + 1, classes, True)
            elif isinstance(child, ast.ClassDef):
                if child.name == parts[index] and index < len(parts) - 1:
                    walk(child, index + 1, [*classes, child], in_function)
            elif not isinstance(child, ast.Lambda):
                walk(child, index, classes, in_function)

    walk(tree, 0, [], False)
    return matches[occurrence] if occurrence < len(matches) else None


def _segment(text: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The ``def`` through its last line, decorators left out."""
    lines = split_lines(text, keepends=True)
    return "".join(lines[node.lineno - 1 : node.end_lineno or node.lineno])


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef, text: str) -> list[Param]:
    args = node.args

    def source(expr: ast.AST | None) -> str:
        return (ast.get_source_segment(text, expr) or "") if expr is not None else ""

    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    params = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = "positional_only" if i < len(args.posonlyargs) else "positional"
        params.append(
            Param(
                arg.arg,
                kind,
                source(arg.annotation),
                source(default) if default is not None else None,
            )
        )
    if args.vararg is not None:
        params.append(Param(args.vararg.arg, "var_positional", source(args.vararg.annotation)))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(
            Param(
                arg.arg,
                "keyword_only",
                source(arg.annotation),
                source(default) if default is not None else None,
            )
        )
    if args.kwarg is not None:
        params.append(Param(args.kwarg.arg, "var_keyword", source(args.kwarg.annotation)))
    return params


def _bound(node: ast.FunctionDef | ast.AsyncFunctionDef, in_class: bool) -> str | None:
    """How the function is called, from its decorators; None when it cannot be called alone."""
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    if not in_class:
        return "function"
    if "staticmethod" in names:
        return "staticmethod"
    if "classmethod" in names:
        return "classmethod"
    if "property" in names or "cached_property" in names:
        return "property"
    if {"setter", "deleter", "getter", "overload"} & names:
        return None
    return "method"


def _literals(node: ast.AST) -> tuple[Any, ...]:
    """Numbers, strings and bytes written in a function's body (its docstring left out)."""
    found: list[Any] = []
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    for statement in body:
        for child in ast.walk(statement):
            if isinstance(child, ast.Constant) and type(child.value) in (int, float, str, bytes):
                value = child.value
                if isinstance(value, str | bytes) and len(value) > 40:
                    continue
                if value not in found:
                    found.append(value)
    return tuple(found[:40])


def _import_root(path: str, module: str) -> str:
    parts = PurePosixPath(path).parts
    depth = len(module.split(".")) if module else 0
    if PurePosixPath(path).name == "__init__.py":
        depth += 1
    return PurePosixPath(*parts[: len(parts) - depth]).as_posix() if len(parts) > depth else "."


def _dedented(source: str) -> str:
    return textwrap.dedent(source)


def target_for(
    unit: Unit, old_text: str, new_text: str, exists: Callable[[str], bool]
) -> Target | str:
    """The harness's view of a changed function, or why it cannot be called on its own."""
    if unit.kind != FUNCTION:
        return f"{unit.label}: a change outside any function"
    try:
        old_tree, new_tree = ast.parse(old_text), ast.parse(new_text)
    except (SyntaxError, ValueError):
        return f"{unit.label}: does not parse"
    old_found = _find(old_tree, unit.name, unit.occurrence)
    new_found = _find(new_tree, unit.name, unit.occurrence)
    if old_found is None or new_found is None:
        return f"{unit.label}: not found in both versions"
    classes, old_def, nested = old_found
    _, new_def, _ = new_found
    if nested:
        return f"{unit.label}: a function defined inside another one"
    assert isinstance(old_def, ast.FunctionDef | ast.AsyncFunctionDef)
    assert isinstance(new_def, ast.FunctionDef | ast.AsyncFunctionDef)
    bound = _bound(old_def, bool(classes))
    if bound is None or bound != _bound(new_def, bool(classes)):
        return f"{unit.label}: a kind of method that is not called directly"
    params = _params(old_def, old_text)
    self_name = ""
    if bound in ("method", "classmethod", "property"):
        if not params or params[0].kind not in ("positional", "positional_only"):
            return f"{unit.label}: a method without self"
        self_name = params[0].name
        params = params[1:]
    init_params: tuple[Param, ...] | None = None
    if bound in ("method", "property"):
        init = next(
            (
                node
                for node in classes[-1].body
                if isinstance(node, ast.FunctionDef) and node.name == "__init__"
            ),
            None,
        )
        if init is not None:
            init_params = tuple(_params(init, old_text)[1:])
    module = module_name(unit.path, exists)
    old_source, new_source = _segment(old_text, old_def), _segment(new_text, new_def)
    if not classes:
        old_source, new_source = _dedented(old_source), _dedented(new_source)
    old_first = min([old_def.lineno, *(d.lineno for d in old_def.decorator_list)])
    return Target(
        label=unit.label,
        path=unit.path,
        module=module,
        import_root=_import_root(unit.path, module),
        owner=tuple(c.name for c in classes),
        name=old_def.name,
        bound=bound,
        self_name=self_name,
        params=tuple(params),
        init_params=init_params,
        old_source=old_source,
        old_def_line=old_def.lineno,
        old_first_line=old_first,
        old_body=(old_def.body[0].lineno, old_def.end_lineno or old_def.lineno),
        new_source=new_source,
        new_def_line=new_def.lineno,
        old_changed=unit.old_lines,
        new_changed=unit.new_lines,
        literals=_literals(old_def),
        old_raises=_raise_lines(old_def, unit.old_lines),
        new_raises=_raise_lines(new_def, unit.new_lines),
    )


def _raise_lines(node: ast.AST, changed: tuple[int, ...]) -> tuple[int, ...]:
    """Every line of the ``raise`` statements of ``node`` that hold one of ``changed``."""
    lines: set[int] = set()
    wanted = set(changed)
    for child in ast.walk(node):
        if isinstance(child, ast.Raise):
            span = range(child.lineno, (child.end_lineno or child.lineno) + 1)
            if wanted.intersection(span):
                lines.update(span)
    return tuple(sorted(lines))


# -- inputs from annotations, defaults and literals ---------------------------------------------

_SEQUENCES = {"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection", "Iterator"}
_MAPPINGS = {"dict", "Dict", "Mapping", "MutableMapping", "OrderedDict", "defaultdict"}
_SETS = {"set", "Set", "AbstractSet", "MutableSet"}
_PATHS = {"Path", "PurePath", "PathLike", "PosixPath", "PurePosixPath"}


def _last_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


class _Strategies:
    """Hypothesis strategies for a function's parameters (imported on first use)."""

    def __init__(self, literals: tuple[Any, ...]) -> None:
        from hypothesis import strategies as st

        self.st = st
        self.ints = [v for v in literals if type(v) is int]
        self.floats = [v for v in literals if type(v) is float]
        self.strs = [v for v in literals if type(v) is str]
        self.bytes = [v for v in literals if type(v) is bytes]

    def _with(self, base: Any, values: list[Any]) -> Any:
        return self.st.one_of(self.st.sampled_from(values), base) if values else base

    def integer(self) -> Any:
        near = sorted({n + d for n in self.ints for d in (-1, 0, 1)})
        return self._with(self.st.integers(-(10**4), 10**4), near)

    def real(self) -> Any:
        near = sorted({float(n) for n in self.ints} | set(self.floats))
        base = self.st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
        return self._with(base, near)

    def text(self) -> Any:
        return self._with(self.st.text(max_size=12), self.strs)

    def binary(self) -> Any:
        return self._with(self.st.binary(max_size=12), self.bytes)

    def anything(self) -> Any:
        st = self.st
        scalars = st.one_of(
            st.none(), st.booleans(), self.integer(), self.text(), self.real(), self.binary()
        )
        return st.one_of(scalars, st.lists(scalars, max_size=4), st.tuples(scalars, scalars))

    def hashable(self) -> Any:
        st = self.st
        return st.one_of(st.none(), st.booleans(), self.integer(), self.text())

    def of_value(self, value: Any) -> Any:
        st = self.st
        kind = type(value)
        if kind is bool:
            return st.booleans()
        if kind is int:
            return self.integer()
        if kind is float:
            return self.real()
        if kind is str:
            return self.text()
        if kind is bytes:
            return self.binary()
        if value is None:
            return self.anything()
        if kind in (list, tuple):
            return st.lists(self.anything(), max_size=4).map(kind)
        if kind is dict:
            return st.dictionaries(self.text(), self.anything(), max_size=3)
        return None

    def of(self, node: ast.AST | None) -> Any:
        """A strategy for an annotation; None for a type whose values cannot be made here."""
        st = self.st
        if node is None:
            return self.anything()
        if isinstance(node, ast.Constant):
            if node.value is None:
                return st.none()
            if isinstance(node.value, str):
                try:
                    return self.of(ast.parse(node.value, mode="eval").body)
                except SyntaxError:
                    return None
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left, right = self.of(node.left), self.of(node.right)
            return st.one_of(left, right) if left is not None and right is not None else None
        if isinstance(node, ast.Subscript):
            return self._generic(_last_name(node.value), node.slice)
        name = _last_name(node)
        simple = {
            "int": self.integer,
            "float": self.real,
            "str": self.text,
            "bytes": self.binary,
            "bool": st.booleans,
            "None": st.none,
            "NoneType": st.none,
            "object": self.anything,
            "Any": self.anything,
            "complex": st.complex_numbers,
        }
        if name in simple:
            return simple[name]()
        if name in _SEQUENCES:
            return st.lists(self.anything(), max_size=4)
        if name in _MAPPINGS:
            return st.dictionaries(self.hashable(), self.anything(), max_size=3)
        if name in _SETS:
            return st.sets(self.hashable(), max_size=4)
        if name in ("tuple", "Tuple"):
            return st.lists(self.anything(), max_size=4).map(tuple)
        if name in ("frozenset", "FrozenSet"):
            return st.frozensets(self.hashable(), max_size=4)
        if name in _PATHS:
            return st.builds(pathlib.Path, st.text(alphabet="ab./_-", max_size=12))
        if name in ("TextIO", "StringIO", "TextIOBase", "TextIOWrapper"):
            return self.text_stream()
        if name in ("BinaryIO", "BytesIO", "RawIOBase", "BufferedIOBase"):
            return self.binary_stream()
        if name == "IO":
            return st.one_of(self.text_stream(), self.binary_stream())
        return None

    def text_stream(self) -> Any:
        """An in-memory text file (picklable, so it travels to the sandbox)."""
        return self.st.builds(io.StringIO, self.text())

    def binary_stream(self) -> Any:
        return self.st.builds(io.BytesIO, self.binary())

    def _generic(self, name: str, index: ast.AST) -> Any:
        st = self.st
        items = index.elts if isinstance(index, ast.Tuple) else [index]
        if name == "Optional":
            inner = self.of(items[0])
            return st.one_of(st.none(), inner) if inner is not None else st.none()
        if name == "Union":
            parts = [self.of(item) for item in items]
            return st.one_of(*parts) if all(p is not None for p in parts) else None
        if name == "Literal":
            try:
                values = [ast.literal_eval(item) for item in items]
            except ValueError:
                return None
            return st.sampled_from(values)
        if name == "Annotated":
            return self.of(items[0])
        if name in _SEQUENCES:
            inner = self.of(items[0])
            return st.lists(inner, max_size=4) if inner is not None else None
        if name in _SETS or name in ("frozenset", "FrozenSet"):
            inner = self.of(items[0])
            if inner is None:
                return None
            made = st.sets(inner, max_size=4)
            return made.map(frozenset) if name in ("frozenset", "FrozenSet") else made
        if name in _MAPPINGS:
            if len(items) != 2:
                return None
            key, value = self.of(items[0]), self.of(items[1])
            if key is None or value is None:
                return None
            return st.dictionaries(key, value, max_size=3)
        if name in ("tuple", "Tuple"):
            if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is ...:
                inner = self.of(items[0])
                return st.lists(inner, max_size=4).map(tuple) if inner is not None else None
            parts = [self.of(item) for item in items]
            return st.tuples(*parts) if all(p is not None for p in parts) else None
        if name == "IO":
            inner = _last_name(items[0])
            if inner == "str":
                return self.text_stream()
            if inner == "bytes":
                return self.binary_stream()
            return st.one_of(self.text_stream(), self.binary_stream())
        return None


def _annotation(text: str) -> ast.AST | None:
    if not text:
        return None
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        return None


def _default(text: str | None) -> tuple[bool, Any]:
    if text is None:
        return False, None
    try:
        return True, ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def _arguments(
    params: tuple[Param, ...], strategies: _Strategies
) -> tuple[dict[str, Any], dict[str, Any], Any, str]:
    """(required, optional, varargs) strategies by parameter, or why one cannot be made."""
    st = strategies.st
    required: dict[str, Any] = {}
    optional: dict[str, Any] = {}
    varargs = None
    for param in params:
        annotation = _annotation(param.annotation)
        if param.kind == "var_keyword":
            continue
        if param.kind == "var_positional":
            inner = strategies.of(annotation) if annotation is not None else strategies.anything()
            varargs = st.lists(inner, max_size=3) if inner is not None else None
            continue
        strategy = strategies.of(annotation) if annotation is not None else None
        has_default, default = _default(param.default)
        if annotation is None:
            strategy = strategies.of_value(default) if has_default else strategies.anything()
        if strategy is None and param.default is None:
            why = f"no value of {param.name}'s type {param.annotation} can be made"
            return {}, {}, None, why
        if param.default is not None:
            if strategy is not None:
                if has_default:
                    strategy = st.one_of(st.just(default), strategy)
                optional[param.name] = strategy
            continue
        required[param.name] = strategy
    return required, optional, varargs, ""


def generate_inputs(target: Target, count: int = GENERATED_INPUTS) -> list[bytes] | str:
    """Up to ``count`` distinct pickled inputs for ``target``, or why none can be made. A
    method's inputs carry the arguments its instance is made with (``init``), from the class's
    ``__init__`` the same way."""
    from hypothesis import HealthCheck, Phase, given, settings

    strategies = _Strategies(target.literals)
    st = strategies.st
    required, optional, varargs, why = _arguments(target.params, strategies)
    if why:
        return f"{target.label}: {why}"
    shape: dict[str, Any] = {
        "params": st.fixed_dictionaries(required, optional=optional or None),
    }
    if varargs is not None:
        shape["varargs"] = varargs
    if target.init_params:
        init_required, init_optional, init_varargs, init_why = _arguments(
            target.init_params, strategies
        )
        if not init_why:
            shape["init"] = st.fixed_dictionaries(
                {
                    "params": st.fixed_dictionaries(init_required, optional=init_optional or None),
                    **({"varargs": init_varargs} if init_varargs is not None else {}),
                }
            )
    made: list[bytes] = []
    seen: set[str] = set()

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.fixed_dictionaries(shape))
    def collect(value: dict[str, Any]) -> None:
        key = repr(value)
        if key in seen:
            return
        try:
            blob = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return
        seen.add(key)
        made.append(blob)

    try:
        collect()
    except Exception as exc:  # a strategy Hypothesis refuses: no input for this function
        logger.info("no inputs generated for %s: %s", target.label, exc)
        return f"{target.label}: inputs could not be generated ({type(exc).__name__})"
    if not made:
        return f"{target.label}: no input could be generated"
    return made


def write_inputs(folder: Path, blobs: list[bytes], prefix: str = "g") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number, blob in enumerate(blobs):
        digest = hashlib.sha256(blob).hexdigest()[:8]
        (folder / f"{prefix}{number:04d}-{digest}.pkl").write_bytes(blob)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the differential check found over its targets."""

    compared: int  # inputs that ran a changed line, on the weakest target (the fewest)
    counterexample: Counterexample | None
    problems: tuple[str, ...]  # targets that could not be checked, and why

    @property
    def equivalent(self) -> bool:
        return self.counterexample is None and not self.problems and self.compared > 0


def read_report(report: dict[str, Any] | None, targets: list[Target]) -> Outcome:
    if report is None:
        return Outcome(0, None, ("the differential check did not finish",))
    results = {r.get("label"): r for r in report.get("results", []) if isinstance(r, dict)}
    problems: list[str] = []
    counts: list[int] = []
    for target in targets:
        result = results.get(target.label)
        if result is None:
            problems.append(f"{target.label}: not checked")
            continue
        different = result.get("different")
        if isinstance(different, dict):
            example = Counterexample(
                function=target.label,
                input=str(different.get("input", "")),
                old=str(different.get("old", "")),
                new=str(different.get("new", "")),
            )
            return Outcome(int(result.get("compared", 0)), example, ())
        if result.get("error"):
            problems.append(f"{target.label}: {result['error']}")
        elif not result.get("compared"):
            problems.append(f"{target.label}: no input could be run to the end in both versions")
        elif not result.get("reached"):
            problems.append(f"{target.label}: no input reached the changed lines")
        elif not result.get("returned"):
            problems.append(
                f"{target.label}: every input that reached the changed lines made it raise "
                "before the change could finish"
            )
        counts.append(int(result.get("reached", 0)))
    return Outcome(min(counts) if counts else 0, None, tuple(problems))

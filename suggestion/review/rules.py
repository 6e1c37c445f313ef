"""Rule-based review comments: structural checks with tree-sitter, and ruff's findings, kept to
the lines that changed.

Boundary: reads a ``FileChange`` (and ruff's ``Finding``s, and optionally what the tests reach)
and returns ``Comment``s; it runs nothing and never raises on broken code (a file that does not
parse yields whatever its parsable parts show). Every comment it returns lies on a changed line.

The checks aim at precision, since each comment costs a reader's attention:

- debug leftovers: ``print``/``breakpoint()``/``pdb``-family imports and calls in Python,
  ``console.log``-family calls and ``debugger`` in JavaScript and TypeScript, ``dbg!`` in Rust,
  ``println`` in Go, ``printStackTrace()`` in Java. ``print`` is left alone where printing is the
  point: ``__main__`` blocks and modules, scripts, examples, benchmarks, ``print(..., file=...)``,
  and modules whose code already printed before the change (likewise ``console`` in
  JavaScript). Only code counts, never docstrings, comments or strings: a ``>>> print(x)``
  doctest neither is a leftover nor makes a module one that prints;
- broad exception handlers: bare ``except:``, and ``except Exception``/``BaseException`` (or an
  empty ``catch`` in JavaScript, TypeScript and Java) whose body does nothing;
- TODO/FIXME/XXX/HACK comments added without an issue reference (``#123``, ``ABC-12``, a URL);
- a public function whose parameters changed (not merely their annotations or defaults) while
  its documentation did not;
- a function that grew past the size or complexity bound in this change;
- a changed function that no test reaches, when a coverage map says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from tree_sitter import Node, Tree

from tactful.analyzers.diff import FileChange
from tactful.analyzers.findings import Finding, Severity
from tactful.analyzers.functions import Function, family, functions, node_text, parse, walk
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.text import Point, Span, column_from_units
from tactful.suggestion.review.comments import (
    BROAD_EXCEPT,
    DEBUG_LEFTOVER,
    FUNCTION_TOO_COMPLEX,
    FUNCTION_TOO_LARGE,
    ORIGIN_RUFF,
    ORIGIN_RULES,
    STALE_DOCSTRING,
    TODO_ADDED,
    UNTESTED_CHANGE,
    Comment,
)

# A function longer than this many lines of code, or with more paths than this (ruff's C901
# default), is hard to review; crossing the bound in a change is worth one comment.
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 10

_TODO = re.compile(r"\b(TODO|FIXME|XXX|HACK)\b")
_ISSUE_REFERENCE = re.compile(r"#\d+|\b[A-Z][A-Z0-9]+-\d+\b|https?://|\bissue\b", re.IGNORECASE)
_DEBUG_MODULES = frozenset({"pdb", "ipdb", "pudb", "pdbpp", "wdb", "web_pdb", "remote_pdb"})
_DEBUG_CALLS = frozenset({"set_trace", "post_mortem", "pm"})
_CONSOLE_METHODS = frozenset({"log", "debug", "trace", "dir", "dirxml", "table"})
_SILENT_PYTHON = frozenset({"pass_statement", "continue_statement", "ellipsis"})
_BROAD_TYPES = frozenset({"Exception", "BaseException", "Throwable", "RuntimeException"})
# Folders where printing is what the code is for.
_PRINTING_FOLDERS = frozenset(
    {"scripts", "script", "bin", "tools", "examples", "example", "benchmarks", "docs", "demo"}
)

# Which ruff codes say what one of our rules says, so one line gets one comment.
RUFF_EQUIVALENTS = {
    "T201": DEBUG_LEFTOVER,
    "T203": DEBUG_LEFTOVER,
    "T100": DEBUG_LEFTOVER,
    "E722": BROAD_EXCEPT,
    "BLE001": BROAD_EXCEPT,
    "S110": BROAD_EXCEPT,
    "S112": BROAD_EXCEPT,
    "FIX001": TODO_ADDED,
    "FIX002": TODO_ADDED,
    "FIX003": TODO_ADDED,
    "FIX004": TODO_ADDED,
    "TD002": TODO_ADDED,
    "TD003": TODO_ADDED,
    "C901": FUNCTION_TOO_COMPLEX,
    "PLR0915": FUNCTION_TOO_LARGE,
}


class Coverage(Protocol):
    """What the tests reach, as far as a coverage map knows."""

    def reached(self, path: str, first_line: int, last_line: int) -> bool | None:
        """Whether any test runs a line of ``path`` in ``[first_line, last_line]`` (zero-based);
        None when the map does not know the file."""
        ...


@dataclass(frozen=True, slots=True)
class RuleOptions:
    max_function_lines: int = MAX_FUNCTION_LINES
    max_complexity: int = MAX_COMPLEXITY


def rule_comments(
    change: FileChange,
    coverage: Coverage | None = None,
    options: RuleOptions | None = None,
    language_id: str | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[Comment]:
    """Structural comments on the changed lines of one file. ``cancelled`` is asked between
    steps (the parse, the walk, each function): once it says yes, what was found so far is
    returned, for a caller that will not use it (a review overtaken by an edit stops taking
    the interpreter from the requests typing makes)."""
    options = options or RuleOptions()
    language = language_id or language_of_path(change.path)
    if language is None or not change.changed_lines:
        return []
    stop = cancelled or _never
    lang = family(language)
    tree = parse(change.text, language)
    if tree is None or stop():
        return []
    checker = _FileChecker(change, lang, tree, language)
    checker.scan_nodes()
    if stop():
        return checker.comments
    new_functions = functions(change.text, language, tree, within=change.changed_lines)
    if stop():
        return checker.comments
    old_functions = _old_functions(change, language, new_functions)
    changed = change.changed_lines
    for function in new_functions:
        if stop():
            break
        # whichever is shorter is walked: a file new throughout has every line changed
        span = range(function.lines.first, function.lines.last + 1)
        if len(span) < len(changed):
            touched = [line for line in span if line in changed]
        else:
            touched = sorted(line for line in changed if line in function.lines)
        if not touched:
            continue
        old = old_functions.get(function.qualname)
        checker.stale_doc(function, old, touched)
        checker.grew(function, old, touched, options)
        if coverage is not None:
            checker.untested(function, touched, coverage)
    return checker.comments


def _never() -> bool:
    return False


def _old_functions(
    change: FileChange, language: str, touched: list[Function]
) -> dict[str, Function]:
    """The previous versions of the touched functions, by qualified name."""
    if not change.old_text or not touched:
        return {}
    old_lines: set[int] = set()
    for function in touched:
        for line in range(function.lines.first, function.lines.last + 1):
            old = change.old_line(line)
            if old is not None:
                old_lines.add(old)
    for hunk in change.hunks:
        old_lines.update(range(hunk.old_start, hunk.old_start + hunk.old_count))
    return {f.qualname: f for f in functions(change.old_text, language, within=old_lines)}


def ruff_comments(change: FileChange, findings: Iterable[Finding]) -> list[Comment]:
    """ruff's findings on this file that start on a changed line, as comments."""
    comments = []
    for finding in findings:
        if finding.path != change.path or not change.is_changed(finding.span.start.line):
            continue
        line = finding.span.start.line
        line_text = change.lines[line] if line < len(change.lines) else ""
        end = finding.span.end if finding.span.end.line == line else Point(line, len(line_text))
        comments.append(
            Comment(
                path=change.path,
                span=Span(finding.span.start, end),
                rule=finding.rule,
                message=finding.message,
                origin=ORIGIN_RUFF,
                severity=finding.severity,
                prior=ruff_prior(finding.rule),
                url=finding.url,
                line_text=line_text,
            )
        )
    return comments


def ruff_prior(code: str) -> float:
    """How often a ruff finding on a changed line is worth a reviewer's comment, by rule family:
    likely bugs high, layout and style low."""
    if code == "invalid-syntax" or code.startswith("E9"):
        return 0.95
    if code in ("F821", "F811", "F823", "F841", "F632", "F601", "F704", "F706"):
        return 0.85
    if code.startswith("F") or code.startswith("B") or code.startswith("PLE"):
        return 0.7
    if code.startswith(("S", "BLE", "T1", "T2", "ASYNC", "PERF")):
        return 0.6
    if code.startswith(("E", "W", "I", "Q", "COM", "D", "UP", "SIM", "RUF", "PYI", "C4", "PIE")):
        # Layout, style and modernisation: the editor's quality diagnostics show them; in a
        # review they are noise unless nothing better is there.
        return 0.3
    return 0.5


def is_test_path(path: str) -> bool:
    pure = PurePosixPath(path)
    name = pure.name
    return (
        any(part in ("tests", "test", "__tests__", "testing") for part in pure.parts[:-1])
        or name.startswith("test_")
        or name.endswith(("_test.py", "_test.go", "_test.rs", "Test.java", "Tests.java"))
        or ".test." in name
        or ".spec." in name
        or name == "conftest.py"
    )


class _FileChecker:
    def __init__(self, change: FileChange, lang: str, tree: Tree, language: str) -> None:
        self.change = change
        self.lang = lang
        self.tree = tree
        self.language = language
        self.comments: list[Comment] = []

    # -- helpers -------------------------------------------------------------------------------

    def _point(self, row: int, byte_column: int) -> Point:
        line = self.change.lines[row] if row < len(self.change.lines) else ""
        return Point(row, column_from_units(line, byte_column, "utf-8"))

    def _add(
        self,
        line: int,
        rule: str,
        message: str,
        prior: float,
        node: Node | None = None,
        severity: Severity = Severity.WARNING,
    ) -> None:
        if not self.change.is_changed(line):
            return
        text = self.change.lines[line] if line < len(self.change.lines) else ""
        if node is not None and node.start_point[0] == line:
            start = self._point(*node.start_point)
            end = (
                self._point(*node.end_point)
                if node.end_point[0] == line
                else Point(line, len(text))
            )
        else:
            start = Point(line, len(text) - len(text.lstrip()))
            end = Point(line, len(text))
        self.comments.append(
            Comment(
                path=self.change.path,
                span=Span(start, end),
                rule=rule,
                message=message,
                origin=ORIGIN_RULES,
                severity=severity,
                prior=prior,
                line_text=text,
            )
        )

    def _first_changed(self, touched: list[int], preferred: int) -> int:
        return preferred if self.change.is_changed(preferred) else touched[0]

    # -- node checks ---------------------------------------------------------------------------

    def scan_nodes(self) -> None:
        changed = self.change.changed_lines
        printing_allowed = self._printing_allowed()
        for node in walk(self.tree.root_node, sorted(changed)):
            first = node.start_point[0]
            kind = node.type
            if kind in ("comment", "line_comment", "block_comment"):
                self._todo(node)
                continue
            if first not in changed:
                # Only nodes starting on a changed line can carry a comment; the walk still
                # descends, since a child may start on a changed line.
                continue
            if self.lang == "python":
                self._python(node, printing_allowed)
            elif self.lang in ("javascript", "typescript"):
                self._javascript(node, printing_allowed)
            elif self.lang == "rust":
                if (
                    kind == "macro_invocation"
                    and node_text(node.child_by_field_name("macro")) == "dbg"
                ):
                    self._add(
                        first,
                        DEBUG_LEFTOVER,
                        "`dbg!` left in: remove it before merging.",
                        0.9,
                        node,
                    )
            elif self.lang == "go":
                if kind == "call_expression":
                    name = node.child_by_field_name("function")
                    if (
                        name is not None
                        and name.type == "identifier"
                        and node_text(name) in ("println", "print")
                    ):
                        self._add(
                            first,
                            DEBUG_LEFTOVER,
                            f"builtin `{node_text(name)}` is for debugging: remove it or "
                            "use the log or fmt package.",
                            0.85,
                            node,
                        )
            elif self.lang == "java":
                self._java(node)

    def _printing_allowed(self) -> bool:
        pure = PurePosixPath(self.change.path)
        if pure.name in ("__main__.py", "setup.py", "noxfile.py", "fabfile.py", "manage.py"):
            return True
        if any(part in _PRINTING_FOLDERS for part in pure.parts[:-1]):
            return True
        old = self.change.old_text
        if self.lang == "python":
            pattern, printing = r"(?<![\w.])print\(", _python_print
        elif self.lang in ("javascript", "typescript"):
            pattern, printing = r"\bconsole\.\w+\(", _console_call
        else:
            return False
        # The text search is quick and may count docstrings and comments: the tree, which
        # counts calls in code only, is asked only when the text has enough candidates.
        if len(re.findall(pattern, old)) < 2:
            return False
        tree = parse(old, self.language)
        if tree is None:
            return False
        calls = (node for node in walk(tree.root_node) if printing(node))
        return next(calls, None) is not None and next(calls, None) is not None

    def _python(self, node: Node, printing_allowed: bool) -> None:
        kind = node.type
        line = node.start_point[0]
        if kind == "call":
            function = node.child_by_field_name("function")
            name = node_text(function)
            if name == "breakpoint":
                self._add(
                    line,
                    DEBUG_LEFTOVER,
                    "`breakpoint()` left in: remove it before merging.",
                    0.95,
                    node,
                )
            elif name == "print" and not printing_allowed and not self._in_main_block(node):
                arguments = node.child_by_field_name("arguments")
                if not any(
                    child.type == "keyword_argument"
                    and node_text(child.child_by_field_name("name")) == "file"
                    for child in (arguments.named_children if arguments else [])
                ):
                    self._add(
                        line,
                        DEBUG_LEFTOVER,
                        "`print` looks like a debugging leftover: remove it or use logging.",
                        0.8,
                        node,
                    )
            elif function is not None and function.type == "attribute":
                module = node_text(function.child_by_field_name("object"))
                attribute = node_text(function.child_by_field_name("attribute"))
                if module in _DEBUG_MODULES and attribute in _DEBUG_CALLS:
                    self._add(
                        line,
                        DEBUG_LEFTOVER,
                        f"`{module}.{attribute}()` left in: remove it before merging.",
                        0.95,
                        node,
                    )
        elif kind == "import_statement":
            for imported in node.named_children:
                module = node_text(imported.child_by_field_name("name") or imported).split(".")[0]
                if module in _DEBUG_MODULES and not self._uses_debugger_api(module):
                    self._add(
                        line,
                        DEBUG_LEFTOVER,
                        f"`import {module}` is a debugger import: remove it before merging.",
                        0.9,
                        node,
                    )
                    break
        elif kind == "import_from_statement":
            module = node_text(node.child_by_field_name("module_name")).split(".")[0]
            names = {node_text(c) for c in node.children_by_field_name("name")}
            if module in _DEBUG_MODULES and names <= _DEBUG_CALLS:
                self._add(
                    line,
                    DEBUG_LEFTOVER,
                    f"importing from `{module}` is a debugger import: remove it before merging.",
                    0.9,
                    node,
                )
        elif kind == "except_clause":
            self._python_except(node)

    def _uses_debugger_api(self, module: str) -> bool:
        """Code that uses a debugger module as a library (``pdb.Pdb``, a test of a debugger
        integration) imports it on purpose; only ``set_trace``-style uses are leftovers. Uses
        in docstrings, comments and strings do not count."""
        used = set(re.findall(rf"(?<![\w.]){re.escape(module)}\.(\w+)", self.change.text))
        if not used - _DEBUG_CALLS:
            return False
        for node in walk(self.tree.root_node):
            if node.type != "attribute":
                continue
            owner = node.child_by_field_name("object")
            if owner is None or owner.type != "identifier" or node_text(owner) != module:
                continue
            if node_text(node.child_by_field_name("attribute")) not in _DEBUG_CALLS:
                return True
        return False

    def _in_main_block(self, node: Node) -> bool:
        parent = node.parent
        while parent is not None:
            if parent.type == "if_statement":
                condition = " ".join(node_text(parent.child_by_field_name("condition")).split())
                if "__name__" in condition and "__main__" in condition:
                    return True
            if (
                parent.type == "function_definition"
                and node_text(parent.child_by_field_name("name")) == "main"
            ):
                return True
            parent = parent.parent
        return False

    def _python_except(self, node: Node) -> None:
        line = node.start_point[0]
        if not self.change.is_changed(line):
            return
        body = next((c for c in node.named_children if c.type == "block"), None)
        caught = [c for c in node.named_children if c.type != "block"]
        silent = body is not None and all(
            c.type in _SILENT_PYTHON
            or (
                c.type == "expression_statement"
                and all(g.type in ("ellipsis", "string") for g in c.named_children)
            )
            for c in body.named_children
            if c.type != "comment"
        )
        if not caught:
            self._add(
                line,
                BROAD_EXCEPT,
                "bare `except:` also catches KeyboardInterrupt and "
                "SystemExit: catch the exceptions you expect.",
                0.85,
                node,
            )
            return
        names: set[str] = set()
        for expression in caught:
            target = expression
            if target.type == "as_pattern" and target.named_children:
                target = target.named_children[0]
            if target.type in ("tuple", "parenthesized_expression"):
                names.update(node_text(c) for c in target.named_children)
            else:
                names.add(node_text(target))
        broad = names & {"Exception", "BaseException", "builtins.Exception"}
        if broad and silent:
            self._add(
                line,
                BROAD_EXCEPT,
                f"`except {sorted(broad)[0]}` with an empty body "
                "hides every error: handle, log or re-raise it.",
                0.8,
                node,
            )

    def _javascript(self, node: Node, printing_allowed: bool) -> None:
        kind = node.type
        line = node.start_point[0]
        if kind == "debugger_statement":
            self._add(
                line,
                DEBUG_LEFTOVER,
                "`debugger` statement left in: remove it before merging.",
                0.95,
                node,
            )
        elif kind == "call_expression" and not printing_allowed:
            function = node.child_by_field_name("function")
            if function is not None and function.type == "member_expression":
                owner = node_text(function.child_by_field_name("object"))
                method = node_text(function.child_by_field_name("property"))
                if owner == "console" and method in _CONSOLE_METHODS:
                    self._add(
                        line,
                        DEBUG_LEFTOVER,
                        f"`console.{method}` looks like a debugging "
                        "leftover: remove it or use the project's logger.",
                        0.8,
                        node,
                    )
        elif kind == "catch_clause" and self.change.is_changed(line):
            body = node.child_by_field_name("body")
            if body is not None and body.named_child_count == 0:
                self._add(
                    line,
                    BROAD_EXCEPT,
                    "empty `catch` swallows every error: handle, log "
                    "or rethrow it (or say why in a comment).",
                    0.75,
                    node,
                )

    def _java(self, node: Node) -> None:
        kind = node.type
        line = node.start_point[0]
        if (
            kind == "method_invocation"
            and node_text(node.child_by_field_name("name")) == "printStackTrace"
        ):
            arguments = node.child_by_field_name("arguments")
            if arguments is None or arguments.named_child_count == 0:
                self._add(
                    line,
                    DEBUG_LEFTOVER,
                    "`printStackTrace()` writes to stderr and is "
                    "easily lost: log the exception instead.",
                    0.7,
                    node,
                )
        elif kind == "catch_clause" and self.change.is_changed(line):
            body = node.child_by_field_name("body")
            if body is None or body.named_child_count:
                return
            parameter = next(
                (c for c in node.named_children if c.type == "catch_formal_parameter"), None
            )
            types = {
                node_text(t)
                for c in (parameter.named_children if parameter else [])
                if c.type == "catch_type"
                for t in c.named_children
            }
            which = sorted(types & _BROAD_TYPES)
            caught = f"`{which[0]}`" if which else "the exception"
            self._add(
                line,
                BROAD_EXCEPT,
                f"empty `catch` of {caught} swallows errors: "
                "handle, log or rethrow it (or say why in a comment).",
                0.8 if which else 0.65,
                node,
            )

    def _todo(self, node: Node) -> None:
        text = node_text(node)
        first = node.start_point[0]
        for offset, line_text in enumerate(text.split("\n")):
            match = _TODO.search(line_text)
            if match is None:
                continue
            line = first + offset
            if _ISSUE_REFERENCE.search(line_text[match.end() :]) or not self.change.is_changed(
                line
            ):
                continue
            self._add(
                line,
                TODO_ADDED,
                f"new {match.group(1)}: resolve it before merging or "
                "track it in an issue and reference it here.",
                0.5,
                node if offset == 0 else None,
                Severity.INFO,
            )

    # -- function checks -----------------------------------------------------------------------

    def stale_doc(self, function: Function, old: Function | None, touched: list[int]) -> None:
        if (
            old is None
            or not function.public
            or function.doc is None
            or old.doc is None
            # Annotations and defaults are not what documentation describes: only a change of
            # the parameters themselves (added, removed, renamed, reordered) counts.
            or function.parameters == old.parameters
            or " ".join(function.doc.split()) != " ".join(old.doc.split())
        ):
            return
        header = [line for line in touched if line in function.signature_lines]
        if not header:
            return
        doc_words = set(re.findall(r"\w+", function.doc))
        removed = [p for p in old.parameters if p not in function.parameters and p in doc_words]
        added = [p for p in function.parameters if p not in old.parameters]
        documents_parameters = any(p in doc_words for p in old.parameters)
        if removed:
            message = (
                f"the documentation of `{function.name}` still mentions "
                f"{_names(removed)}, which it no longer takes."
            )
            prior = 0.8
        elif added and documents_parameters:
            message = (
                f"`{function.name}` now takes {_names(added)} but its documentation, "
                "which describes the other parameters, did not change."
            )
            prior = 0.7
        else:
            message = (
                f"the parameters of public `{function.name}` changed to "
                f"`{function.signature}` but its documentation did not."
            )
            prior = 0.45
        self._add(header[0], STALE_DOCSTRING, message, prior)

    def grew(
        self, function: Function, old: Function | None, touched: list[int], options: RuleOptions
    ) -> None:
        anchor = self._first_changed(touched, function.header_line)
        if function.code_lines > options.max_function_lines and (
            old is None or old.code_lines <= options.max_function_lines
        ):
            self._add(
                anchor,
                FUNCTION_TOO_LARGE,
                f"`{function.name}` is now "
                f"{function.code_lines} lines of code (bound {options.max_function_lines}):"
                " consider splitting it.",
                0.4,
                severity=Severity.INFO,
            )
        if function.complexity > options.max_complexity and (
            old is None or old.complexity <= options.max_complexity
        ):
            self._add(
                anchor,
                FUNCTION_TOO_COMPLEX,
                f"`{function.name}` now has "
                f"{function.complexity} paths (bound {options.max_complexity}): consider "
                "splitting it.",
                0.45,
                severity=Severity.INFO,
            )

    def untested(self, function: Function, touched: list[int], coverage: Coverage) -> None:
        if function.nested or is_test_path(self.change.path):
            return
        body_first = (
            (function.doc_lines.last + 1)
            if (function.doc_lines and self.lang == "python")
            else function.header_line
        )
        reached = coverage.reached(self.change.path, body_first, function.lines.last)
        if reached is False:
            anchor = self._first_changed(touched, function.header_line)
            self._add(
                anchor,
                UNTESTED_CHANGE,
                f"no test runs `{function.name}`, which this "
                "change touches: add a test that reaches it.",
                0.55,
            )


def _python_print(node: Node) -> bool:
    """A call of the built-in ``print`` (not ``obj.print``)."""
    if node.type != "call":
        return False
    function = node.child_by_field_name("function")
    return function is not None and function.type == "identifier" and node_text(function) == "print"


def _console_call(node: Node) -> bool:
    """A call of a ``console`` method."""
    if node.type != "call_expression":
        return False
    function = node.child_by_field_name("function")
    if function is None or function.type != "member_expression":
        return False
    return node_text(function.child_by_field_name("object")) == "console"


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)

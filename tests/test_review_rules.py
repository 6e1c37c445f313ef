"""Rule comments on changed lines: each case is an old and a new version of a file in a real git
repository, and the (rule, line) pairs expected on the new version."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fixtures.workspace import Workspace

from tactful.analyzers.diff import working_tree_diff
from tactful.suggestion.review.rules import rule_comments


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    old: str | None  # None: a new file
    new: str
    expected: set[tuple[str, int]]  # (rule, one-based line)


PY_OLD = '''import os


def area(width, height):
    """Return width times height."""
    return width * height


def load(path):
    with open(path) as handle:
        return handle.read()
'''

DOCTESTED = '''"""Numbers from text.

>>> print(number("1"))
1
"""


def number(text):
    """The number ``text`` spells.

    >>> number('2')
    2
    >>> print(number('3'))
    3
    """
    return int(text)
'''

CASES = [
    Case(
        "python debug leftovers on changed lines only",
        "dbg.py",
        "def f(x):\n    print(x)\n    return x\n",
        "import pdb\nimport os\n\n\ndef f(x):\n    print(x)\n    print(x + 1)\n"
        "    breakpoint()\n    pdb.set_trace()\n    return x\n",
        {
            ("debug-leftover", 1),
            ("debug-leftover", 7),
            ("debug-leftover", 8),
            ("debug-leftover", 9),
        },
    ),
    Case(
        "a debugger used as a library is no leftover",
        "debugging_support.py",
        "x = 1\n",
        "import pdb\nfrom pdb import Pdb\n\n\nclass Debugger(pdb.Pdb):\n    pass\n",
        set(),
    ),
    Case(
        "print is fine where printing is the point",
        "cli_tool.py",
        None,
        'import sys\n\n\ndef main():\n    print("usage")\n\n\nif __name__ == "__main__":\n'
        '    print("running")\n    print("oops", file=sys.stderr)\n',
        set(),
    ),
    Case(
        "a module that already printed keeps printing",
        "report.py",
        'def show(rows):\n    print("a")\n    print("b")\n',
        'def show(rows):\n    print("a")\n    print("b")\n    print("c")\n',
        set(),
    ),
    Case(
        "doctests that print do not make a module one that prints",
        "parsing.py",
        DOCTESTED,
        DOCTESTED.replace("    return int(text)\n", "    print(text)\n    return int(text)\n"),
        {("debug-leftover", 16)},
    ),
    Case(
        "an added doctest that prints is no leftover",
        "doctested.py",
        DOCTESTED,
        DOCTESTED.replace("    >>> number('2')\n", "    >>> print(number('2'))\n"),
        set(),
    ),
    Case(
        "a debugger named in a docstring is not used as a library",
        "steps.py",
        "def step():\n    return 1\n",
        'import pdb\n\n\ndef step():\n    """Unlike pdb.Pdb, this steps once."""\n'
        "    pdb.set_trace()\n    return 1\n",
        {("debug-leftover", 1), ("debug-leftover", 6)},
    ),
    Case(
        "broad except: bare always, Exception only when silent",
        "errors.py",
        "def f():\n    return 1\n",
        "def f():\n    try:\n        return 1\n    except:\n        raise\n\n\ndef g():\n"
        "    try:\n        return 1\n    except (ValueError, Exception):\n        pass\n\n\n"
        "def h():\n    try:\n        return 1\n    except Exception as exc:\n"
        "        log(exc)\n",
        {("broad-except", 4), ("broad-except", 11)},
    ),
    Case(
        "added TODO without an issue reference",
        "todo.py",
        "x = 1  # TODO old one stays quiet\n",
        "x = 1  # TODO old one stays quiet\ny = 2  # FIXME handle None\n"
        "z = 3  # TODO(#123) tracked\n",
        {("todo-added", 2)},
    ),
    Case(
        "signature changed, docstring did not",
        "shapes.py",
        PY_OLD,
        PY_OLD.replace("def area(width, height):", "def area(width, height, depth):")
        .replace("return width * height", "return width * height * depth")
        .replace("def load(path):", "def load(path, encoding):"),
        {("stale-docstring", 4)},
    ),
    Case(
        "docstring updated with the signature: no comment",
        "shapes2.py",
        PY_OLD,
        PY_OLD.replace("def area(width, height):", "def area(width, height, depth):").replace(
            "Return width times height.", "Return width times height times depth."
        ),
        set(),
    ),
    Case(
        "annotations and defaults added: the documentation need not change",
        "typed.py",
        PY_OLD,
        PY_OLD.replace("def area(width, height):", "def area(width: int, height: int = 1) -> int:"),
        set(),
    ),
    Case(
        "removed parameter still in the docstring, private function ignored",
        "params.py",
        'def scale(value, factor):\n    """Multiply value by factor."""\n    return value\n\n\n'
        'def _hidden(a, b):\n    """Uses a and b."""\n    return a\n',
        'def scale(value):\n    """Multiply value by factor."""\n    return value\n\n\n'
        'def _hidden(a):\n    """Uses a and b."""\n    return a\n',
        {("stale-docstring", 1)},
    ),
    Case(
        "javascript: console.log, debugger, empty catch",
        "web/app.js",
        "export function f(a) {\n  return a;\n}\n",
        "export function f(a) {\n  console.log(a);\n  debugger;\n  try {\n    g();\n"
        "  } catch (e) {}\n  return a;\n}\n",
        {("debug-leftover", 2), ("debug-leftover", 3), ("broad-except", 6)},
    ),
    Case(
        "typescript: console.debug and a TODO",
        "web/util.ts",
        "export const x: number = 1;\n",
        "export const x: number = 1;\n// TODO: remove\nconsole.debug(x);\n",
        {("todo-added", 2), ("debug-leftover", 3)},
    ),
    Case(
        "rust: dbg!",
        "src/lib.rs",
        "pub fn f(a: i32) -> i32 {\n    a\n}\n",
        "pub fn f(a: i32) -> i32 {\n    dbg!(a);\n    a\n}\n",
        {("debug-leftover", 2)},
    ),
    Case(
        "go: builtin println",
        "main.go",
        "package main\n\nfunc f(a int) int {\n\treturn a\n}\n",
        "package main\n\nfunc f(a int) int {\n\tprintln(a)\n\treturn a\n}\n",
        {("debug-leftover", 4)},
    ),
    Case(
        "java: printStackTrace and an empty catch of Exception",
        "A.java",
        "class A {\n  void f() {\n  }\n}\n",
        "class A {\n  void f() {\n    try {\n      g();\n    } catch (Exception e) {}\n"
        "    new Error().printStackTrace();\n  }\n}\n",
        {("broad-except", 5), ("debug-leftover", 6)},
    ),
    Case(
        "broken code still gets what can be seen",
        "broken.py",
        "def f():\n    return 1\n",
        "def f(:\n    breakpoint()\n    return 1 +\n",
        {("debug-leftover", 2)},
    ),
]


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, int]]]:
    """All cases in one repository: old versions committed, new ones in the working tree."""
    workspace = Workspace(tmp_path_factory.mktemp("rules") / "repo")
    for case in CASES:
        if case.old is not None:
            workspace.write(case.path, case.old)
    workspace.commit("old versions")
    for case in CASES:
        workspace.write(case.path, case.new)
    diff = working_tree_diff(workspace.root)
    found: dict[str, set[tuple[str, int]]] = {}
    for change in diff.files:
        comments = rule_comments(change)
        assert all(change.is_changed(c.line) for c in comments)
        found[change.path] = {(c.rule, c.line + 1) for c in comments}
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_comments(case: Case, reviewed: dict[str, set[tuple[str, int]]]) -> None:
    assert reviewed.get(case.path, set()) == case.expected


def function_source(name: str, branches: int, filler: int) -> str:
    body = [f"def {name}(x):"]
    body += [f"    if x == {i}:\n        x += {i}" for i in range(branches)]
    body += [f"    y{i} = x + {i}" for i in range(filler)]
    body.append("    return x")
    return "\n".join(body) + "\n"


def test_growing_past_the_bounds_is_said_once(workspace: Workspace) -> None:
    workspace.write(
        "big.py", function_source("grow", 5, 10) + "\n\n" + function_source("already", 12, 70)
    )
    workspace.commit("init")
    workspace.write(
        "big.py", function_source("grow", 12, 70) + "\n\n" + function_source("already", 13, 71)
    )

    (change,) = working_tree_diff(workspace.root).files
    comments = rule_comments(change)

    assert {(c.rule, c.line + 1) for c in comments} == {
        ("function-too-complex", 12),  # the first changed line of `grow`
        ("function-too-large", 12),
    }
    assert "`grow`" in comments[0].message


@dataclass(frozen=True)
class CoverageMap:
    """Lines the tests ran, per file (zero-based), as a coverage map records them."""

    executed: dict[str, set[int]]

    def reached(self, path: str, first_line: int, last_line: int) -> bool | None:
        if path not in self.executed:
            return None
        return any(first_line <= line <= last_line for line in self.executed[path])


def test_changed_function_no_test_reaches(workspace: Workspace) -> None:
    source = "def tested(x):\n    return x\n\n\ndef untested(x):\n    return x\n"
    workspace.write("lib.py", source)
    workspace.write("other.py", source)
    workspace.commit("init")
    workspace.write("lib.py", source.replace("return x", "return x + 1"))
    workspace.write("other.py", source.replace("return x", "return x + 1"))
    coverage = CoverageMap({"lib.py": {1}})

    comments = {
        change.path: {(c.rule, c.line + 1) for c in rule_comments(change, coverage)}
        for change in working_tree_diff(workspace.root).files
    }

    assert comments == {"lib.py": {("untested-change", 6)}, "other.py": set()}


def test_rules_asked_to_stop_stop_between_their_steps(workspace: Workspace) -> None:
    workspace.write(
        "big.py", function_source("grow", 5, 10) + "\n\n" + function_source("other", 5, 10)
    )
    workspace.commit("init")
    workspace.write(
        "big.py", function_source("grow", 12, 70) + "\n\n" + function_source("other", 12, 70)
    )
    (change,) = working_tree_diff(workspace.root).files
    assert len(rule_comments(change)) == 4  # too complex and too large, for each function

    asked: list[int] = []

    def after(steps: int) -> bool:
        asked.append(steps)
        return len(asked) > steps

    # Told to stop at once: nothing is looked at past the parse.
    assert rule_comments(change, cancelled=lambda: after(0)) == []
    # Told to stop before the second function: only the first one's comments.
    asked.clear()
    comments = rule_comments(change, cancelled=lambda: after(4))
    assert {(c.rule, "`grow`" in c.message) for c in comments} == {
        ("function-too-complex", True),
        ("function-too-large", True),
    }

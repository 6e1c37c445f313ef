"""Verdicts that say what ran: exercised or not, the differential check where no test runs the
code, and the edge cases of real suites. Real temp projects, real pytest runs in the sandbox."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fixtures.processes import processes_with
from fixtures.pyenv import make_env, site_packages
from fixtures.workspace import Workspace

from tactful.analyzers.text import Edit, Point, Span
from tactful.feedback.execution import Sandbox, Selection, Status, ValidationOptions

LIB = """\
import json

LIMIT = 100


def clamp(value: int) -> int:
    if value > LIMIT:
        return LIMIT
    return value


def describe(value: int, unit: str = "kg") -> str:
    if value < 0:
        raise ValueError("negative")
    return f"{value} {unit}"


class Basket:
    def __init__(self):
        self.items = []

    def add(self, item: str, count: int = 1) -> int:
        for _ in range(count):
            self.items.append(item)
        return len(self.items)


def load(text):
    return json.loads(text)


def shaped(thing: "Unmakeable") -> str:
    return thing.shape
"""

TESTS = """\
from lib import clamp


def test_clamp():
    assert clamp(150) == 100
    assert clamp(5) == 5
"""


# The sandboxed runs use this interpreter: its own test plugins only slow them down.
pytestmark = pytest.mark.usefixtures("plain_pytest")


def project(root: Path, files: dict[str, str] | None = None) -> Workspace:
    work = Workspace(root)
    work.write("lib.py", LIB)
    work.write("tests/test_lib.py", TESTS)
    for name, text in (files or {}).items():
        work.write(name, textwrap.dedent(text))
    work.commit("start")
    return work


def judge(root: Path, **options: object) -> Sandbox:
    options.setdefault("python", sys.executable)
    options.setdefault("coverage_map", False)
    options.setdefault("inputs", 25)  # plenty for these functions; users get 100
    return Sandbox(root, ValidationOptions(**options), trusted=True)  # type: ignore[arg-type]


def edit(old: str, new: str, path: str = "lib.py", text: str = LIB, nth: int = 0) -> Edit:
    """Replace the ``nth`` occurrence of ``old`` in ``text``."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(old, offset + 1)
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    end_line = line + old.count("\n")
    end_column = column + len(old) if "\n" not in old else len(old) - old.rfind("\n") - 1
    return Edit(path, Span(Point(line, column), Point(end_line, end_column)), new)


# -- exercised or not ----------------------------------------------------------------------------


def test_a_change_the_tests_run_passes_and_one_they_do_not_run_is_unexercised(
    tmp_path: Path,
) -> None:
    sandbox = judge(project(tmp_path / "p").root, differential=False)

    ran = sandbox.validate_sync([edit("return value\n", "return value + 0\n")])
    not_run = sandbox.validate_sync([edit('f"{value} {unit}"', 'f"{value}  {unit}"')])

    assert ran.status is Status.PASSED and ran.exercised is True
    assert ran.summary() == "1 test passed"
    assert not_run.status is Status.UNEXERCISED
    assert not_run.tests_run == 1 and not not_run.failed_ids
    assert not_run.exercised is False
    assert not_run.unexercised == ("lib.py:describe",)
    assert not_run.summary() == "tests pass, but none runs this code"
    assert not not_run.passed and not not_run.validated
    assert not_run.to_json()["status"] == "unexercised"


def test_a_module_level_change_is_exercised_when_a_test_imports_the_module(
    tmp_path: Path,
) -> None:
    work = project(tmp_path / "p", {"other.py": "SIZE = 1\n"})
    sandbox = judge(work.root, differential=False)

    imported = sandbox.validate_sync([edit("LIMIT = 100", "LIMIT = (100)")])
    never_imported = sandbox.validate_sync([Edit("other.py", Span(Point(0, 7), Point(0, 8)), "2")])
    # parentheses alone leave the code as it was: no test needed to tell
    laid_out = sandbox.validate_sync([Edit("other.py", Span(Point(0, 7), Point(0, 8)), "(1)")])

    assert imported.status is Status.PASSED
    assert never_imported.status is Status.UNEXERCISED
    assert never_imported.unexercised == ("other.py (module level)",)
    assert laid_out.status is Status.EQUIVALENT and laid_out.inputs == 0


def test_annotations_count_where_they_are_evaluated(tmp_path: Path) -> None:
    module = """\
def outer(n: int) -> int:
    def inner(k: "int") -> int:
        return k + 1

    return inner(n)


def collect(n: int) -> list:
    total: "list" = []
    total.append(n)
    return total
"""
    tests = "import ann\n\n\ndef test_imported():\n    assert ann.__name__ == 'ann'\n"
    work = project(tmp_path / "p", {"ann.py": module, "tests/test_ann.py": tests})
    sandbox = judge(work.root, differential=False)

    # a signature's annotations are evaluated where the def runs: at import here
    signature = sandbox.validate_sync(
        [edit("n: int) -> list", "n: int) -> 'list'", "ann.py", module)]
    )
    # a nested function's signature is evaluated when the function around it runs
    nested = sandbox.validate_sync([edit('k: "int"', "k: int", "ann.py", module)])
    # a variable's annotation in a function body is never evaluated: no call runs other code
    local = sandbox.validate_sync([edit('total: "list"', 'total: "list[int]"', "ann.py", module)])

    assert signature.status is Status.PASSED, signature.reason
    assert nested.status is Status.UNEXERCISED
    assert nested.unexercised == ("ann.py:outer",)
    assert local.status is Status.EQUIVALENT and local.inputs == 0, local.reason
    assert local.unexercised == ("ann.py:collect",)

    # the signature's and the body's at once: the def's part runs at import, which a test did,
    # and the body's compiles as before: the tests ran all of the change that a call can see
    both = sandbox.validate_sync(
        [
            edit(
                '-> list:\n    total: "list"',
                '-> "list":\n    total: "list[int]"',
                "ann.py",
                module,
            )
        ]
    )

    assert both.status is Status.PASSED, both.reason
    assert both.exercised is True and both.unexercised == ("ann.py:collect",)


def test_a_decorator_runs_where_its_def_does(tmp_path: Path) -> None:
    module = """\
import functools


def build(n):
    @functools.lru_cache(maxsize=2)
    def scaled(k=1):
        return k * n

    return scaled
"""
    tests = "from deco import build\n\n\ndef test_build():\n    assert callable(build(2))\n"
    work = project(tmp_path / "p", {"deco.py": module, "tests/test_deco.py": tests})
    sandbox = judge(work.root, differential=False)

    # the decorator is applied where the def runs: in build, which the test calls
    decorator = sandbox.validate_sync([edit("maxsize=2", "maxsize=3", "deco.py", module)])
    # a default is what calls of scaled get, and no test calls it
    default = sandbox.validate_sync([edit("k=1", "k=2", "deco.py", module)])

    assert decorator.status is Status.PASSED, decorator.reason
    assert default.status is Status.UNEXERCISED
    assert default.unexercised == ("deco.py:build.scaled",)


def test_of_two_definitions_of_one_name_only_the_one_that_ran_counts(tmp_path: Path) -> None:
    module = """\
import sys

if sys.platform == "win32":

    def separator():
        return "\\\\"

else:

    def separator():
        return "/"
"""
    work = project(
        tmp_path / "p",
        {
            "paths.py": module,
            "tests/test_paths.py": """\
            from paths import separator


            def test_separator():
                assert separator() == "/"
            """,
        },
    )
    sandbox = judge(work.root, differential=False)

    # (an edit the compiler does not fold away: ``"/" + ""`` compiles to ``"/"``)
    windows = sandbox.validate_sync([edit('"\\\\"', '"\\\\".strip()', "paths.py", module)])
    here = sandbox.validate_sync([edit('"/"', '"/".strip()', "paths.py", module)])

    assert windows.status is Status.UNEXERCISED
    assert here.status is Status.PASSED


def test_a_data_file_counts_as_run_when_a_test_opens_it(tmp_path: Path) -> None:
    work = project(
        tmp_path / "p",
        {
            "limits.txt": "100\n",
            "notes.txt": "nothing reads this\n",
            "tests/test_data.py": """\
            from pathlib import Path


            def test_limit_file():
                assert Path("limits.txt").read_text().strip().isdigit()
            """,
        },
    )
    sandbox = judge(work.root, differential=False)

    opened = sandbox.validate_sync([Edit("limits.txt", Span(Point(0, 0), Point(0, 3)), "99")])
    unread = sandbox.validate_sync([Edit("notes.txt", Span(Point(0, 0), Point(0, 7)), "none")])

    assert opened.status is Status.PASSED, opened.reason
    assert unread.status is Status.UNEXERCISED
    assert unread.unexercised == ("notes.txt",)


# -- the differential check -----------------------------------------------------------------------


def test_same_behaviour_on_generated_inputs_is_its_own_verdict(tmp_path: Path) -> None:
    sandbox = judge(project(tmp_path / "p").root)

    verdict = sandbox.validate_sync([edit("value < 0", "0 > value")])

    assert verdict.status is Status.EQUIVALENT, verdict.reason
    assert verdict.inputs >= 20
    assert verdict.summary() == f"same behaviour on {verdict.inputs} inputs"
    assert "passed" not in verdict.summary()
    assert verdict.to_json()["inputs"] == verdict.inputs
    assert not verdict.passed and verdict.validated


def test_a_change_of_layout_alone_is_the_same_code(tmp_path: Path) -> None:
    sandbox = judge(project(tmp_path / "p").root)

    # a trailing comma and a line break: the syntax tree stays as it was
    verdict = sandbox.validate_sync(
        [
            edit(
                'raise ValueError("negative")',
                'raise ValueError(\n            "negative",\n        )',
            )
        ]
    )

    assert verdict.status is Status.EQUIVALENT, verdict.reason
    assert verdict.inputs == 0
    assert verdict.summary() == "same code once compiled"
    assert verdict.unexercised == ("lib.py:describe",)
    assert "as it was once compiled" in verdict.reason


def test_syntax_the_compiler_makes_the_same_code_of_is_the_same_code(tmp_path: Path) -> None:
    module = """\
def sign(value):
    \"\"\"the sign of value\"\"\"
    if value < 0:
        return -1
    else:
        return 1


def shout(text):
    print(text.upper())
    return
"""
    sandbox = judge(project(tmp_path / "p", {"sign.py": module}).root, differential=False)

    # ruff's RET505, PLR1711 and D403 (a docstring's first word capitalised): no call runs
    # anything else, so no input is needed to say so, not even with the differential check off
    no_else = sandbox.validate_sync(
        [
            edit(
                "        return -1\n    else:\n        return 1",
                "        return -1\n    return 1",
                "sign.py",
                module,
            )
        ]
    )
    no_return = sandbox.validate_sync([edit("    return\n", "", "sign.py", module)])
    docstring = sandbox.validate_sync([edit("the sign", "The sign", "sign.py", module)])
    different = sandbox.validate_sync([edit("return -1", "return 0", "sign.py", module)])

    for verdict in (no_else, no_return, docstring):
        assert verdict.status is Status.EQUIVALENT, verdict.reason
        assert verdict.inputs == 0
        assert verdict.summary() == "same code once compiled"
    assert different.status is Status.UNEXERCISED, different.reason
    assert different.unexercised == ("sign.py:sign",)


def test_what_a_changed_raise_statement_raises_is_compared_whole(tmp_path: Path) -> None:
    module = """\
def check(count: int) -> int:
    if count < 0:
        raise ValueError()
    if count > 9:
        raise ValueError("too many")
    return count
"""
    sandbox = judge(project(tmp_path / "p", {"check.py": module}).root)

    # ruff's RSE102: the same exception, raised from the changed statement itself (a built-in
    # exception class raised is called with no arguments: no input is needed to say so)
    same = sandbox.validate_sync([edit("ValueError()", "ValueError", "check.py", module)])
    message = sandbox.validate_sync([edit('"too many"', '"too many!"', "check.py", module)])

    assert same.status is Status.EQUIVALENT, same.reason
    assert same.inputs == 0
    assert same.alike_by == ("`raise E()` as `raise E` (E a built-in exception)",)
    assert message.status is Status.DIFFERENT, message.reason
    assert message.counterexample is not None
    assert message.counterexample.new == "raised ValueError('too many!')"


def test_changes_that_provably_keep_behaviour_need_no_input(tmp_path: Path) -> None:
    module = """\
import typing as t
from typing import cast


class Stream:
    pass


class Closed(Exception):
    pass


def wrap(raw: object) -> t.TextIO:
    return t.cast(t.TextIO, raw)


def opened(raw: object) -> t.Optional[t.TextIO]:
    return cast(t.Optional[t.TextIO], raw)


def mine(raw: object) -> Stream:
    return t.cast(Stream, raw)


def refuse() -> None:
    raise NotImplementedError()


def close() -> None:
    raise Closed()
"""
    # no differential check: only the rules can say these are the same
    sandbox = judge(project(tmp_path / "p", {"streams.py": module}).root, differential=False)

    def changed(old: str, new: str) -> object:
        return sandbox.validate_sync([edit(old, new, "streams.py", module)])

    # ruff's TC006 and RSE102, in functions no test runs
    quoted = changed("t.cast(t.TextIO, raw)", 't.cast("t.TextIO", raw)')
    generic = changed("cast(t.Optional[t.TextIO], raw)", 'cast("t.Optional[t.TextIO]", raw)')
    bare = changed("NotImplementedError()", "NotImplementedError")
    # a class of the project: evaluating it runs the module's code; calling it may do anything
    project_type = changed("t.cast(Stream, raw)", 't.cast("Stream", raw)')
    project_error = changed("raise Closed()", "raise Closed")
    # the value cast returns is not the type
    value = changed("t.cast(t.TextIO, raw)", "t.cast(t.TextIO, None)")

    cast_rule = "the type given to `typing.cast`, which ignores it"
    for verdict in (quoted, generic):
        assert verdict.status is Status.EQUIVALENT, verdict.reason
        assert verdict.inputs == 0
        assert verdict.summary() == f"same code once compiled, but for {cast_rule}"
        assert verdict.to_json()["alike_by"] == [cast_rule]
    assert bare.status is Status.EQUIVALENT, bare.reason
    assert bare.summary() == (
        "same code once compiled, but for `raise E()` as `raise E` (E a built-in exception)"
    )
    for verdict in (project_type, project_error, value):
        assert verdict.status is Status.UNEXERCISED, verdict.reason
        assert verdict.alike_by == ()


def test_a_rebound_name_is_not_what_a_rule_relies_on(tmp_path: Path) -> None:
    module = """\
import typing as t


def wrap(raw):
    return t.cast(t.TextIO, raw)


def refuse():
    raise NotImplementedError()


def setup(t):
    return t


NotImplementedError = RuntimeError
"""
    sandbox = judge(project(tmp_path / "p", {"odd.py": module}).root, differential=False)

    quoted = sandbox.validate_sync(
        [edit("t.cast(t.TextIO, raw)", 't.cast("t.TextIO", raw)', "odd.py", module)]
    )
    bare = sandbox.validate_sync(
        [edit("NotImplementedError()", "NotImplementedError", "odd.py", module)]
    )

    # `t` is also a parameter somewhere, and the built-in name is bound by the module
    assert quoted.status is Status.UNEXERCISED, quoted.reason
    assert bare.status is Status.UNEXERCISED, bare.reason


def test_a_difference_is_shown_with_a_counterexample(tmp_path: Path) -> None:
    sandbox = judge(project(tmp_path / "p").root)

    verdict = sandbox.validate_sync([edit("value < 0", "value < 1")])

    assert verdict.status is Status.DIFFERENT
    example = verdict.counterexample
    assert example is not None and example.function == "lib.py:describe"
    # value 0 now raises: the counterexample names the input and both behaviours
    assert example.input.startswith("describe(0")
    assert example.old.startswith("returned '0 ")
    assert example.new == "raised ValueError('negative')"
    assert verdict.to_json()["counterexample"]["input"] == example.input
    assert verdict.rejected


def test_methods_are_compared_on_fresh_instances_with_their_state(tmp_path: Path) -> None:
    sandbox = judge(project(tmp_path / "p").root)

    same = sandbox.validate_sync([edit("self.items.append(item)", "self.items += [item]")])
    different = sandbox.validate_sync(
        [edit("self.items.append(item)", "self.items.append(item.upper())")]
    )

    assert same.status is Status.EQUIVALENT, same.reason
    # the return value is the same, the instance's state is not
    assert different.status is Status.DIFFERENT
    assert different.counterexample is not None
    assert "another state" in different.counterexample.new


def test_functions_a_call_returns_are_compared_by_what_they_captured(tmp_path: Path) -> None:
    module = """\
def tagger(tag: str):
    label = tag.strip()

    def apply(text):
        return f"<{label}>{text}"

    return apply
"""
    # a tag with a space at its end, one input among many
    sandbox = judge(project(tmp_path / "p", {"tags.py": module}).root, inputs=100)

    verdict = sandbox.validate_sync([edit("tag.strip()", "tag.lstrip()", "tags.py", module)])

    # the closures have the same code; one captured "a", the other "a "
    assert verdict.status is Status.DIFFERENT, verdict.reason
    assert verdict.counterexample is not None
    assert verdict.counterexample.input.startswith("tagger(")


def test_instances_are_made_with_arguments_for_their_init(tmp_path: Path) -> None:
    module = """\
import io


class Scaler:
    def __init__(self, factor: int, offset: int = 0):
        self.factor = factor
        self.offset = offset

    def scale(self, value: int) -> int:
        return value * self.factor + self.offset

    def dump(self, out: io.StringIO) -> None:
        out.write(str(self.factor))
"""
    sandbox = judge(project(tmp_path / "p", {"scale.py": module}).root)

    scaled = sandbox.validate_sync(
        [
            edit(
                "value * self.factor + self.offset",
                "self.offset + value * self.factor",
                "scale.py",
                module,
            )
        ]
    )
    wrong = sandbox.validate_sync(
        [edit("value * self.factor + self.offset", "value * self.factor", "scale.py", module)]
    )
    dumped = sandbox.validate_sync(
        [edit("str(self.factor)", "str(self.factor + 1)", "scale.py", module)]
    )

    assert scaled.status is Status.EQUIVALENT, scaled.reason
    assert wrong.status is Status.DIFFERENT, wrong.reason
    # what it wrote into the stream it was given is compared too
    assert dumped.status is Status.DIFFERENT, dumped.reason


def test_what_a_call_prints_is_part_of_its_behaviour(tmp_path: Path) -> None:
    module = 'def warn(count: int) -> None:\n    if count > 3:\n        print("too many")\n'
    sandbox = judge(project(tmp_path / "p", {"warn.py": module}).root)

    verdict = sandbox.validate_sync([edit('"too many"', '"too much"', "warn.py", module)])

    assert verdict.status is Status.DIFFERENT, verdict.reason
    assert verdict.counterexample is not None
    assert verdict.counterexample.old == "returned None, printing 'too many\\n'"
    assert verdict.counterexample.new == "returned None, printing 'too much\\n'"


def test_unannotated_parameters_get_inputs_from_literals(tmp_path: Path) -> None:
    sandbox = judge(project(tmp_path / "p").root)

    verdict = sandbox.validate_sync([edit("json.loads(text)", "json.loads(text.strip())")])

    # generic values: strings that do not parse raise in both, but str.strip is not a method
    # of every value the function accepted before
    assert verdict.status is Status.DIFFERENT
    assert verdict.counterexample is not None


def test_when_no_input_can_be_made_it_says_so(tmp_path: Path) -> None:
    sandbox = judge(project(tmp_path / "p").root)

    verdict = sandbox.validate_sync([edit("return thing.shape", "return str(thing.shape)")])

    assert verdict.status is Status.UNEXERCISED
    assert "Unmakeable" in verdict.reason
    assert verdict.summary() == "tests pass, but none runs this code"


def test_inputs_are_recorded_from_doctests_where_no_test_runs_the_function(
    tmp_path: Path,
) -> None:
    module = '''\
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def norm(p):
    """Manhattan length.

    >>> norm(Point(3, -4))
    7
    """
    return abs(p.x) + abs(p.y)
'''
    work = project(tmp_path / "p", {"geometry.py": module})
    sandbox = judge(work.root)

    same = sandbox.validate_sync(
        [edit("abs(p.x) + abs(p.y)", "abs(p.y) + abs(p.x)", "geometry.py", module)]
    )
    different = sandbox.validate_sync(
        [edit("abs(p.x) + abs(p.y)", "abs(p.x) * abs(p.y)", "geometry.py", module)]
    )

    # no value of an unannotated parameter is a Point: only the recorded call reaches the body
    assert same.status is Status.EQUIVALENT, same.reason
    assert different.status is Status.DIFFERENT
    assert different.counterexample is not None
    assert different.counterexample.input.startswith("norm(<geometry.Point object")


# -- edge cases of real suites --------------------------------------------------------------------


def test_no_tests_collected(tmp_path: Path) -> None:
    work = Workspace(tmp_path / "p")
    work.write("lib.py", LIB)
    work.commit("no tests at all")
    sandbox = judge(work.root, differential=False)

    verdict = sandbox.validate_sync([edit("value > LIMIT", "LIMIT < value")])

    assert verdict.status is Status.UNEXERCISED
    assert verdict.tests_run == 0
    assert verdict.summary() == "no test runs this code"
    assert verdict.reason == "no tests were collected"


def test_a_collection_error_the_edit_causes_fails_it_and_an_old_one_does_not_count(
    tmp_path: Path,
) -> None:
    work = project(
        tmp_path / "p",
        {
            "tests/test_broken.py": """\
            import lib
            import not_installed_anywhere


            def test_never():
                pass
            """,
        },
    )
    sandbox = judge(work.root, differential=False)

    fine = sandbox.validate_sync([edit("return value\n", "return value + 0\n")])
    breaks = sandbox.validate_sync([edit("import json", "import json_nowhere")])

    assert fine.status is Status.PASSED, fine.failures
    assert "tests/test_broken.py" in fine.failing_before
    assert breaks.status is Status.FAILED
    assert breaks.failed_ids == ("tests/test_lib.py",)
    assert "json_nowhere" in breaks.failures


def test_an_edit_that_stops_the_tests_from_starting_fails(tmp_path: Path) -> None:
    work = project(tmp_path / "p", {"tests/conftest.py": "import lib\n"})
    sandbox = judge(work.root, differential=False)

    verdict = sandbox.validate_sync([edit("import json", "import json_nowhere")])

    assert verdict.status is Status.FAILED, verdict.reason
    assert verdict.reason.startswith("the tests cannot run with the edit (they can without it)")
    assert "json_nowhere" in verdict.reason + verdict.failures
    assert verdict.rejected


def test_tests_failing_before_the_edit_decide_nothing(tmp_path: Path) -> None:
    work = project(
        tmp_path / "p",
        {
            "tests/test_old_bug.py": """\
            from lib import clamp


            def test_known_bug():
                assert clamp(100) == 99
            """,
        },
    )
    sandbox = judge(work.root, differential=False)

    harmless = sandbox.validate_sync([edit("return value\n", "return value + 0\n")])
    fixes_the_bug = sandbox.validate_sync([edit("return value\n", "return value - 1\n")])

    # the old failure neither fails the harmless edit nor makes the wrong one pass
    assert harmless.status is Status.PASSED, harmless.failures
    assert harmless.failing_before == ("tests/test_old_bug.py::test_known_bug",)
    assert "tests/test_old_bug.py::test_known_bug" not in harmless.failed_ids
    assert fixes_the_bug.status is Status.FAILED
    assert fixes_the_bug.failed_ids == ("tests/test_lib.py::test_clamp",)


def test_a_command_other_than_pytest_is_judged_and_watched(tmp_path: Path) -> None:
    work = project(tmp_path / "p")
    check = "import lib, sys; sys.exit(0 if lib.clamp(150) == 100 else 3)"
    sandbox = judge(work.root, command=("python", "-c", check), differential=False)

    ran = sandbox.validate_sync([edit("return LIMIT", "return LIMIT + 0")])
    broke = sandbox.validate_sync([edit("return LIMIT", "return LIMIT + 1")])
    not_run = sandbox.validate_sync([edit('f"{value} {unit}"', 'f"{unit} {value}"')])

    assert ran.status is Status.PASSED and ran.selection is Selection.COMMAND
    assert broke.status is Status.FAILED
    assert not_run.status is Status.UNEXERCISED
    assert not_run.summary() == "tests pass, but none runs this code"


def test_a_command_that_fails_without_the_edit_gives_no_verdict(tmp_path: Path) -> None:
    work = project(tmp_path / "p")
    sandbox = judge(work.root, command=("python", "-c", "raise SystemExit(1)"))

    verdict = sandbox.validate_sync([edit("return LIMIT", "return LIMIT + 0")])

    assert verdict.status is Status.ERROR
    assert verdict.reason == "the test command fails without the edit too (exit status 1)"


def test_a_suite_that_forks_a_daemon_gets_its_verdict_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    marker = f"{time.time_ns() % 10**6}.{os.getpid()}7"
    work = project(
        tmp_path / "p",
        {
            "tests/test_daemon.py": f"""\
            import os
            import subprocess

            from lib import clamp


            def test_starts_a_daemon():
                if os.fork() == 0:
                    os.setsid()
                    subprocess.Popen(["sleep", "{marker}"])
                    os._exit(0)
                assert clamp(1) == 1
            """,
        },
    )
    sandbox = judge(work.root, differential=False, timeout_s=30)

    started = time.monotonic()
    verdict = sandbox.validate_sync([edit("return value\n", "return value + 0\n")])

    assert verdict.status is Status.PASSED, verdict.failures
    assert time.monotonic() - started < 25
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


def test_a_suite_that_hangs_times_out(tmp_path: Path) -> None:
    work = project(
        tmp_path / "p",
        {
            "tests/test_hang.py": """\
            import time

            from lib import clamp


            def test_hangs():
                clamp(1)
                time.sleep(600)
            """,
        },
    )
    sandbox = judge(work.root, differential=False, timeout_s=3)

    verdict = sandbox.validate_sync([edit("return value\n", "return value + 0\n")])

    assert verdict.status is Status.TIMEOUT
    assert not verdict.passed


# -- the cache ------------------------------------------------------------------------------------


def test_the_cache_is_keyed_by_the_environment_and_the_plan(tmp_path: Path) -> None:
    work = project(tmp_path / "p", {"tests/test_other.py": "def test_alone():\n    pass\n"})
    python = make_env(tmp_path / "env")
    change = [edit("return value\n", "return value + 0\n")]

    first = judge(work.root, python=str(python)).validate_sync(change)
    again = judge(work.root, python=str(python)).validate_sync(change)
    (site_packages(tmp_path / "env") / "newly_installed-1.0.dist-info").mkdir()
    after_install = judge(work.root, python=str(python)).validate_sync(change)
    whole_suite = judge(work.root, python=str(python)).validate_sync(change, everything=True)

    assert first.status is Status.PASSED and not first.cached
    assert again.cached
    assert first.interpreter == str(python)
    assert not after_install.cached
    assert not whole_suite.cached and whole_suite.selection is Selection.ALL

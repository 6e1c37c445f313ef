"""Repeated edits: an edit made at one place, proposed at the other places it applies to.

Each case: a file, the edit the developer makes, and the lines the next edits shown would
leave (nearest to the edit first)."""

from __future__ import annotations

import pytest
from fixtures.next_edits import opened, results

from tactful.suggestion.next_edits import REPEAT

HAS_KEY = """\
def lookup(d, k, defaults):
    if d.has_key(k):
        return d[k]
    if defaults.has_key(k):
        return defaults[k]
    return self.cache.has_key(k)
"""

ASSERT_EQUALS = """\
class TestArea(unittest.TestCase):
    def test_square(self):
        self.assertEquals(area(2, 2), 4)

    def test_rectangle(self):
        self.assertEquals(area(2, 3), 6)
        self.assertEquals(area(3, 2), 6)
"""

PRINT = """\
def report(total, items):
    print total
    for item in items:
        print item.name
    print "done"
"""

TIMEOUT = """\
import requests


def fetch(url):
    return requests.get(url)


def fetch_json(url, params):
    return requests.get(url, params=params).json()


def head(url):
    return requests.head(url)
"""

SUPER = """\
class Group(Command):
    def __init__(self, name, **attrs):
        Command.__init__(self, name, **attrs)


class Flag(Option):
    def __init__(self, decls, **attrs):
        Option.__init__(self, decls, **attrs)


class Count(Parameter):
    def __init__(self, decls):
        Parameter.__init__(self, decls, nargs=1)
"""


@pytest.mark.parametrize(
    ("before", "edit", "expected"),
    [
        pytest.param(
            HAS_KEY,
            ("d.has_key(k)", "k in d"),
            ["    if k in defaults:", "    return k in self.cache"],
            id="has_key becomes in",
        ),
        pytest.param(
            ASSERT_EQUALS,
            ("assertEquals", "assertEqual"),
            [
                "        self.assertEqual(area(2, 3), 6)",
                "        self.assertEqual(area(3, 2), 6)",
            ],
            id="assertEquals becomes assertEqual",
        ),
        pytest.param(
            PRINT,
            ("print total", "print(total)"),
            ["        print(item.name)", '    print("done")'],
            id="print statement becomes a call",
        ),
        pytest.param(
            TIMEOUT,
            ("requests.get(url)", "requests.get(url, timeout=10)"),
            ["    return requests.get(url, params=params, timeout=10).json()"],
            id="an argument added to one call of a function goes to its other calls",
        ),
    ],
)
def test_one_edit_is_repeated_where_it_applies(tmp_path, before, edit, expected) -> None:
    current = opened(tmp_path, {"mod.py": before})
    cursor = current.edit("mod.py", *edit)
    found = current.proposed("mod.py", cursor)
    assert {item.source for item in found} == {REPEAT}
    assert sorted(results(current, "mod.py", found)) == sorted(expected)


def test_two_examples_generalise_what_differs_between_them(tmp_path) -> None:
    current = opened(tmp_path, {"mod.py": SUPER})
    current.edit(
        "mod.py", "Command.__init__(self, name, **attrs)", "super().__init__(name, **attrs)"
    )
    cursor = current.edit(
        "mod.py", "Option.__init__(self, decls, **attrs)", "super().__init__(decls, **attrs)"
    )
    found = current.proposed("mod.py", cursor)
    assert results(current, "mod.py", found) == ["        super().__init__(decls, nargs=1)"]
    assert found[0].feature("examples") == 2


def test_the_nearest_place_comes_first_and_the_label_says_how_many_more(tmp_path) -> None:
    text = "".join(f"x{i} = old_api(v{i})\n" for i in range(5))
    current = opened(tmp_path, {"mod.py": text})
    cursor = current.edit("mod.py", "old_api(v2)", "new_api(v2)")
    shown = current.suggested("mod.py", cursor)
    assert [item.span.start.line for item in shown[:2]] in ([1, 3], [3, 1])
    assert shown[0].label == "`old_api` → `new_api` (3 more)"


def test_an_edit_that_fits_everything_is_not_proposed_everywhere(tmp_path) -> None:
    # Changing one literal teaches a rewrite that would fit every assignment of that
    # literal: too general to follow from its shape.
    text = "".join(f"value{i} = 1\n" for i in range(12))
    current = opened(tmp_path, {"mod.py": text})
    cursor = current.edit("mod.py", "value3 = 1", "value3 = 2")
    assert current.proposed("mod.py", cursor) == []


def test_deleted_lines_are_deleted_where_they_recur_once_deleted_twice(tmp_path) -> None:
    line = "    monkeypatch.setattr(time, 'time', fake.time)\n"
    text = "".join(
        f"def test_{name}(monkeypatch):\n{line}    assert {name}()\n\n\n" for name in "abc"
    )
    current = opened(tmp_path, {"test_mod.py": text})
    cursor = current.edit("test_mod.py", line, "")
    # Deleted once, the other copies are code that looks alike more often than a pattern
    # being removed: proposed under the bar, not shown.
    assert current.proposed("test_mod.py", cursor) == []
    assert [item.new_text for item in current.engine.propose(current.uri("test_mod.py"), cursor)]
    cursor = current.edit("test_mod.py", line, "")
    found = current.proposed("test_mod.py", cursor)
    assert len(found) == 1
    assert found[0].old_text.strip() == line.strip() and found[0].new_text == ""
    assert found[0].feature("examples") == 2.0


def test_a_rewrite_with_no_place_left_in_the_file_goes_to_other_files_when_asked(tmp_path) -> None:
    files = {
        "a.py": "from lib import old_name\n\nold_name(1)\n",
        "b.py": "from lib import old_name\n\nprint(old_name(2))\n",
    }
    current = opened(tmp_path, files, open_files=("a.py",), repeat_elsewhere=True)
    cursor = current.edit("a.py", "old_name(1)", "old_name(1, strict=True)")
    found = current.proposed("a.py", cursor)
    assert [item.uri for item in found] == [current.uri("b.py")]
    assert results(current, "b.py", found) == ["print(old_name(2, strict=True))"]
    # By default a repeated edit stays in its file.
    current = opened(tmp_path, files, open_files=("a.py",))
    cursor = current.edit("a.py", "old_name(1)", "old_name(1, strict=True)")
    assert current.proposed("a.py", cursor) == []


def test_a_renamed_use_of_a_local_name_stays_in_its_function(tmp_path) -> None:
    text = "def first(ty):\n    check(ty)\n    return ty\n\n\ndef second(ty):\n    return ty\n"
    current = opened(tmp_path, {"mod.py": text})
    current.edit(
        "mod.py",
        "def first(ty):\n    check(ty)",
        "def first(ty):\n    guessed = guess(ty)\n    check(ty)",
    )
    cursor = current.edit("mod.py", "check(ty)", "check(guessed)")
    found = current.proposed("mod.py", cursor)
    assert results(current, "mod.py", found) == []  # ``ty`` is still bound: a new name beside it


def test_a_use_renamed_after_its_name_went_away_is_followed_everywhere(tmp_path) -> None:
    text = "import typing\n\n\n@typing.overload\ndef f(): ...\n\n\n@typing.overload\ndef g(): ...\n"
    current = opened(tmp_path, {"mod.py": text})
    current.edit("mod.py", "import typing\n", "import typing as t\n")
    cursor = current.edit("mod.py", "@typing.overload", "@t.overload")
    found = current.proposed("mod.py", cursor)
    assert results(current, "mod.py", found) == ["@t.overload"]
    assert found[0].feature("dangling") == 1.0


def test_a_rewrite_turned_down_stays_down_when_learned_again_from_another_example(
    tmp_path,
) -> None:
    text = "def check(value, strict=False):\n    return value\n\n\n" + "".join(
        f"def f{i}(value):\n    return check(value)\n\n\n" for i in range(5)
    )
    current = opened(tmp_path, {"mod.py": text})
    cursor = current.edit("mod.py", "check(value)", "check(value, strict=True)", 2)
    nearest = current.proposed("mod.py", cursor)[0]
    current.engine.dismiss(nearest)
    # The developer makes the same rewrite by hand at another place: a second example, which
    # alone would raise the rewrite's score; turned down once, it stays under the bar.
    cursor = current.edit("mod.py", "check(value)", "check(value, strict=True)", 3)
    found = current.engine.propose(current.uri("mod.py"), cursor)
    assert {item.label for item in found} == {"`check(value)` → `check(value, strict=True)`"}
    assert max(item.feature("examples") for item in found) == 2.0
    assert len(found) == 2
    assert all(item.score < current.engine.options.threshold for item in found)


def test_a_trailing_comment_deleted_twice_is_deleted_where_it_recurs(tmp_path) -> None:
    # The second deletion follows a name (``name  # type: ignore``): the same change as the
    # first, which follows a bracket, and not one that rewrites the name.
    text = (
        "def a(ctx, param):\n    x = ctx.get(param.name)  # type: ignore\n    return x\n\n\n"
        "def b(self):\n    return self.name  # type: ignore\n\n\n"
        "def c(opts, self):\n    value = opts.get(self.name, UNSET)  # type: ignore\n"
        "    return value\n"
    )
    current = opened(tmp_path, {"mod.py": text})
    current.edit("mod.py", "x = ctx.get(param.name)  # type: ignore", "x = ctx.get(param.name)")
    cursor = current.edit("mod.py", "return self.name  # type: ignore", "return self.name")
    found = current.proposed("mod.py", cursor)
    assert results(current, "mod.py", found) == ["    value = opts.get(self.name, UNSET)"]
    assert found[0].feature("examples") == 2.0


def test_a_mark_put_into_a_word_rewrites_the_word(tmp_path) -> None:
    text = (
        'HELP = "you wont see me"\n\n\n'
        'def test_help(result):\n    assert "you wont see me" not in result\n'
    )
    current = opened(tmp_path, {"mod.py": text})
    cursor = current.edit("mod.py", 'HELP = "you wont', "HELP = \"you won't")
    found = current.proposed("mod.py", cursor)
    assert results(current, "mod.py", found) == ['    assert "you won\'t see me" not in result']


DECORATORS = """\
def pass_context(f):
    return update_wrapper(f)


def pass_obj(f):
    return update_wrapper(f, obj=True)


def make_pass_decorator(object_type):
    def decorator(f):
        def new_func(*args):
            return f(object_type, *args)

        return update_wrapper(new_func)

    return decorator


def command(name, cls=None):
    return cls(name)


def update_wrapper(wrapper, obj=False):
    return wrapper
"""


def test_a_def_line_changed_is_proposed_under_the_bar_in_the_def_lines_of_its_shape(
    tmp_path,
) -> None:
    # The pair of nodes that holds a change to a ``def`` line is the whole function: the
    # header alone is learned, its body a hole, and beyond its own text the function's name
    # too, so that the change reaches the functions whose header reads the same (not
    # ``command``), their bodies and indentation kept. Functions of other names were right
    # too seldom on the development histories to be shown: under the bar.
    current = opened(tmp_path, {"mod.py": DECORATORS})
    cursor = current.edit("mod.py", "def pass_context(f):", 'def pass_context(f: "F") -> "F":')
    found = current.engine.propose(current.uri("mod.py"), cursor)
    assert sorted(results(current, "mod.py", found)) == [
        '    def decorator(f: "F") -> "F":',
        'def pass_obj(f: "F") -> "F":',
    ]
    assert all(item.feature("kind_header") == 1.0 for item in found)
    assert all(item.score < current.engine.options.threshold for item in found)
    assert found[0].label == '`def pass_context(f):` → `def pass_context(f: "F") -> "F":`'


OVERRIDES = """\
class Context:
    pass


class Parameter:
    pass


class ParamType:
    def get_metavar(self, param: Parameter) -> str | None:
        return None

    def convert(self, param) -> str | None:
        return None


class Choice(ParamType):
    def get_metavar(self, param) -> str | None:
        return "|".join(self.choices)


class DateTime(ParamType):
    def get_metavar(self, param: "Parameter") -> str | None:
        return "|".join(self.formats)
"""


def test_a_def_line_changed_is_changed_in_the_overrides_of_the_method(tmp_path) -> None:
    # The parameters the change kept are a run that matches the overrides' own, written
    # otherwise; a method of another name (``convert``) is left alone.
    current = opened(tmp_path, {"types.py": OVERRIDES})
    cursor = current.edit(
        "types.py",
        "def get_metavar(self, param: Parameter) -> str | None:",
        "def get_metavar(self, param: Parameter, ctx: Context) -> str | None:",
    )
    shown = current.suggested("types.py", cursor)
    assert results(current, "types.py", shown) == [
        "    def get_metavar(self, param, ctx: Context) -> str | None:",
        '    def get_metavar(self, param: "Parameter", ctx: Context) -> str | None:',
    ]
    assert [item.span.start.line for item in shown] == [17, 22]  # the def lines alone


def test_a_def_line_changed_is_not_proposed_where_python_would_not_compile_it(tmp_path) -> None:
    text = (
        "class A:\n    def fetch(self, url):\n        return url\n\n\n"
        "class B(A):\n    def fetch(self, url, timeout=None):\n        return url\n"
    )
    current = opened(tmp_path, {"net.py": text})
    cursor = current.edit("net.py", "def fetch(self, url):", "def fetch(self, url, session):")
    # ``def fetch(self, url, timeout=None, session):``: a parameter without a default after
    # one with a default, which the grammar accepts and Python does not.
    assert current.engine.propose(current.uri("net.py"), cursor) == []


QUALIFIED = """\
import collections
from collections import OrderedDict


def ordered_params():
    return OrderedDict((("z", 1), ("a", 1)))


def ordered_headers(ses):
    ses.headers = OrderedDict([("Accept", "*/*")])
    return ses


def empty_hooks(ses):
    ses.hooks = dict(response=OrderedDict())
    assert isinstance(ses.hooks, OrderedDict)
    return ses
"""


def test_a_name_read_from_its_module_twice_is_read_so_where_it_stands_alike(tmp_path) -> None:
    # ``OrderedDict`` → ``collections.OrderedDict``: learned as the name's own rewrite (as a
    # rename), so it reaches the calls with other arguments; not the name where it stands
    # otherwise (an argument of ``isinstance``, the import). Made once, it is proposed under
    # the bar (code added around what was there); made twice, shown.
    current = opened(tmp_path, {"mod.py": QUALIFIED})
    cursor = current.edit("mod.py", "return OrderedDict(", "return collections.OrderedDict(")
    assert current.proposed("mod.py", cursor) == []
    cursor = current.edit(
        "mod.py", "ses.headers = OrderedDict([", "ses.headers = collections.OrderedDict(["
    )
    found = current.suggested("mod.py", cursor)
    assert results(current, "mod.py", found) == [
        "    ses.hooks = dict(response=collections.OrderedDict())"
    ]


def test_a_name_read_from_self_instead_is_not_taken_for_a_module_s(tmp_path) -> None:
    text = (
        "class Option:\n"
        "    def get_default(self, name):\n"
        "        value = lookup(name)\n"
        "        return convert(name, value)\n"
    )
    current = opened(tmp_path, {"mod.py": text})
    cursor = current.edit("mod.py", "lookup(name)", "lookup(self.name)")
    assert [
        item.new_text
        for item in current.engine.propose(current.uri("mod.py"), cursor)
        if item.feature("kind_name")
    ] == []


def test_the_same_rewrite_learned_far_apart_in_a_long_file_is_proposed_near_each_edit(
    tmp_path,
) -> None:
    # The word the rewrite starts from occurs more often than the places tried per edit
    # (the nearest to it), and both edits teach the same rewrite: each is still followed
    # near where it was made, and the places tried for both are tried once.
    text = "".join(f"def f{i}(v):\n    return old_api(v, {i})\n\n\n" for i in range(200))
    current = opened(tmp_path, {"mod.py": text})
    current.edit("mod.py", "old_api(v, 20)", "new_api(v, 20)")
    cursor = current.edit("mod.py", "old_api(v, 180)", "new_api(v, 180)")
    found = current.engine.propose(current.uri("mod.py"), cursor)
    lines = {item.span.start.line for item in found if item.source == REPEAT}
    assert {4 * 19 + 1, 4 * 21 + 1} <= lines  # beside the first edit
    assert {4 * 179 + 1, 4 * 181 + 1} <= lines  # beside the second
    assert 4 * 100 + 1 not in lines  # far from both

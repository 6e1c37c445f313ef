"""Propagation: a renamed definition or a changed parameter list, followed where it must be.

Each case: files, the edit the developer makes in the first one, and the lines the next edits
proposed would leave in each file (sorted)."""

from __future__ import annotations

import pytest
from fixtures.next_edits import opened, results

from tactful.suggestion.next_edits import ATTRIBUTE, RENAME, SIGNATURE

SCALE = """\
def scale(value, factor):
    \"\"\"Multiply.

    :param value: what to scale
    :param factor: by how much
    \"\"\"
    return value * factor


def double(value):
    return scale(value, 2)


print(scale(factor=3, value=1))
"""

GOOGLE = """\
def scale(value, factor):
    \"\"\"Multiply.

    Args:
        value (int): what to scale
        factor: by how much
    \"\"\"
    return value * factor
"""

NUMPY = """\
def scale(value, factor):
    \"\"\"Multiply.

    Parameters
    ----------
    value : int
        what to scale
    factor : int
        by how much
    \"\"\"
    return value * factor
"""

COUNTER = """\
class Counter:
    def __init__(self):
        self.count = 0

    def add(self):
        self.count += 1
        return self.count


def count(counter):
    return counter.count
"""

SHADOW = """\
total = 0


def add(x):
    return total + x


def other():
    total = 5
    return total
"""

LIB = """\
def fetch(url, retries, timeout=10):
    return url, retries, timeout
"""

USER = """\
from lib import fetch


def main(url, retries):
    return fetch(url, retries)


def check(url):
    return fetch(url, 3, timeout=1)
"""


def check(tmp_path, files, edit, expected, sources=None, open_files=None):
    """Make ``edit`` (old, new) in the first file; ``expected`` maps each file to the lines the
    proposed next edits leave there."""
    first = next(iter(files))
    current = opened(tmp_path, files, open_files=open_files)
    cursor = current.edit(first, *edit)
    found = current.proposed(first, cursor)
    for path, lines in expected.items():
        assert sorted(results(current, path, found)) == sorted(lines), path
    if sources is not None:
        assert {item.source for item in found} == set(sources)
    return found


@pytest.mark.parametrize(
    ("files", "edit", "expected"),
    [
        pytest.param(
            {"mod.py": "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3) + area(1, 1))\n"},
            ("def area(", "def surface("),
            {"mod.py": ["print(surface(2, 3) + surface(1, 1))"]},
            id="a renamed function: every call on a line at once",
        ),
        pytest.param(
            {"mod.py": "class Box:\n    pass\n\n\ndef make() -> Box:\n    return Box()\n"},
            ("class Box:", "class Crate:"),
            {"mod.py": ["def make() -> Crate:", "    return Crate()"]},
            id="a renamed class: annotations and calls",
        ),
        pytest.param(
            {"mod.py": "def f(items):\n    size = len(items)\n    return size * 2 + size\n"},
            ("    size = len", "    count = len"),
            {"mod.py": ["    return count * 2 + count"]},
            id="a renamed local variable",
        ),
        pytest.param(
            {"mod.py": SHADOW},
            ("total = 0", "grand_total = 0"),
            {"mod.py": ["    return grand_total + x"]},
            id="a function binding the same name keeps its own",
        ),
    ],
)
def test_a_renamed_definition_is_followed_at_its_references(tmp_path, files, edit, expected):
    check(tmp_path, files, edit, expected, sources={RENAME})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            SCALE,
            [
                "    return amount * factor",
                "    :param amount: what to scale",
                "print(scale(factor=3, amount=1))",
            ],
            id="sphinx",
        ),
        pytest.param(
            GOOGLE,
            ["    return amount * factor", "        amount (int): what to scale"],
            id="google",
        ),
        pytest.param(NUMPY, ["    return amount * factor", "    amount : int"], id="numpy"),
    ],
)
def test_a_renamed_parameter_follows_in_the_body_the_docstring_and_keywords(
    tmp_path, text, expected
):
    check(
        tmp_path, {"mod.py": text}, ("def scale(value,", "def scale(amount,"), {"mod.py": expected}
    )


def test_a_renamed_attribute_follows_at_its_uses_in_the_class(tmp_path):
    current = opened(tmp_path, {"mod.py": COUNTER})
    cursor = current.edit("mod.py", "        self.count = 0", "        self.total = 0")
    found = [item for item in current.proposed("mod.py", cursor) if item.source == ATTRIBUTE]
    # ``counter.count`` outside the class may be another class's attribute: not followed as
    # a rename (the repeated edit may still propose it, as a guess).
    assert sorted(results(current, "mod.py", found)) == [
        "        return self.total",
        "        self.total += 1",
    ]


def test_a_new_name_beside_the_old_one_is_not_a_rename(tmp_path):
    # ``size`` is still bound after the edit: a new variable, not a renamed one.
    text = "def f(items):\n    size = len(items)\n    return size\n"
    check(
        tmp_path,
        {"mod.py": text},
        ("    size = len(items)\n", "    size = len(items)\n    count = size\n"),
        {"mod.py": []},
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            ("def scale(value, factor):", "def scale(value):"),
            ["    return scale(value)", "print(scale(value=1))"],
            id="a parameter removed: its argument goes, positional or keyword",
        ),
        pytest.param(
            ("def scale(value, factor):", "def scale(factor, value):"),
            ["    return scale(2, value)"],
            id="parameters reordered: positional arguments follow, keywords stay",
        ),
    ],
)
def test_a_changed_signature_is_followed_at_the_calls(tmp_path, edit, expected):
    current = opened(tmp_path, {"mod.py": SCALE})
    cursor = current.edit("mod.py", *edit)
    found = [item for item in current.proposed("mod.py", cursor) if item.source == SIGNATURE]
    calls = [line for line in results(current, "mod.py", found) if "scale(" in line]
    assert sorted(calls) == sorted(expected)


def test_a_removed_parameter_leaves_the_docstring(tmp_path):
    current = opened(tmp_path, {"mod.py": SCALE})
    cursor = current.edit("mod.py", "def scale(value, factor):", "def scale(value):")
    found = current.proposed("mod.py", cursor)
    docstring = [item for item in found if "docstring" in item.label]
    assert [(item.old_text, item.new_text) for item in docstring] == [
        ("    :param factor: by how much\n", "")
    ]


def test_a_new_required_parameter_is_passed_where_the_caller_has_it(tmp_path):
    text = (
        "def send(message):\n    return message\n\n\n"
        "def notify(message, user):\n    return send(message)\n\n\n"
        "def log(message):\n    return send(message)\n"
    )
    current = opened(tmp_path, {"mod.py": text})
    cursor = current.edit("mod.py", "def send(message):", "def send(message, user):")
    found = [item for item in current.proposed("mod.py", cursor) if item.source == SIGNATURE]
    # ``log`` has no ``user`` to pass: what it should pass cannot be guessed.
    assert results(current, "mod.py", found) == ["    return send(message, user)"]


def test_a_signature_change_follows_into_the_files_that_import_the_function(tmp_path):
    current = opened(tmp_path, {"lib.py": LIB, "app.py": USER}, open_files=("lib.py",))
    cursor = current.edit(
        "lib.py", "def fetch(url, retries, timeout=10):", "def fetch(url, timeout=10):"
    )
    found = [item for item in current.proposed("lib.py", cursor) if item.source == SIGNATURE]
    assert sorted(results(current, "app.py", found)) == [
        "    return fetch(url)",
        "    return fetch(url, timeout=1)",
    ]
    assert all(item.uri == current.uri("app.py") for item in found)


def test_a_renamed_function_follows_into_the_files_that_import_it(tmp_path):
    current = opened(tmp_path, {"lib.py": LIB, "app.py": USER}, open_files=("lib.py",))
    cursor = current.edit("lib.py", "def fetch(", "def download(")
    found = current.proposed("lib.py", cursor)
    assert sorted(results(current, "app.py", found)) == [
        "    return download(url, 3, timeout=1)",
        "    return download(url, retries)",
        "from lib import download",
    ]


def test_a_file_that_does_not_import_the_function_is_left_alone(tmp_path):
    other = "def fetch(url):\n    return url\n\n\nfetch('x')\n"
    current = opened(tmp_path, {"lib.py": LIB, "other.py": other}, open_files=("lib.py",))
    cursor = current.edit("lib.py", "def fetch(", "def download(")
    assert results(current, "other.py", current.proposed("lib.py", cursor)) == []


def test_broken_code_proposes_nothing_and_raises_nothing(tmp_path):
    text = "def f(a, b:\n    return a +\n\nf(1, 2)\n"
    current = opened(tmp_path, {"mod.py": text})
    cursor = current.edit("mod.py", "def f(a, b:", "def f(b:")
    assert isinstance(current.proposed("mod.py", cursor), list)


FORWARD = """\
def complete(self, prog_name, complete_var=None):
    shell(self, prog_name, complete_var)
    other(prog_name, self)
    keyed(self=self, prog_name=prog_name)

    def inner():
        return shell(self, prog_name)
"""


def test_a_new_parameter_is_passed_on_where_its_neighbours_are(tmp_path):
    current = opened(tmp_path, {"mod.py": FORWARD})
    cursor = current.edit(
        "mod.py",
        "(self, prog_name, complete_var=None)",
        "(self, args, prog_name, complete_var=None)",
    )
    found = [
        item
        for item in current.proposed("mod.py", cursor)
        if item.source == SIGNATURE and "pass `args` on" in item.label
    ]
    # Where both neighbours are passed side by side, the same way; not in another order, not
    # in a nested function.
    assert sorted(results(current, "mod.py", found)) == [
        "    keyed(self=self, args=args, prog_name=prog_name)",
        "    shell(self, args, prog_name, complete_var)",
    ]

"""Checked before shown: each case is a file, a proposed next edit (old text → new text at its
first occurrence) and what the checks say of it."""

from __future__ import annotations

import pytest

from tactful.analyzers.text import LineIndex, Span
from tactful.suggestion.next_edits import CheckedDocument, Checker, NextEdit
from tactful.suggestion.next_edits.checks import (
    BROKEN,
    NOT_NEEDED,
    PASSED,
    RUFF,
    STALE,
    UNCHECKED,
)


def proposed(text: str, old: str, new: str, *, stale_with: str | None = None) -> NextEdit:
    """A next edit replacing the first ``old`` of ``text`` by ``new`` (``stale_with``: the text
    it claims to replace, when that is not what is there)."""
    start = text.index(old)
    lines = LineIndex(text)
    return NextEdit(
        uri="file:///project/mod.py",
        path=None,
        span=Span(lines.point(start), lines.point(start + len(old))),
        old_text=old if stale_with is None else stale_with,
        new_text=new,
        label="test",
        source="repeat",
        score=0.9,
    )


def verdict(tmp_path, text: str, old: str, new: str, **options):
    (path := tmp_path / "mod.py").write_text(text, encoding="utf-8")
    document = CheckedDocument(text, "python", str(path))
    (found,) = Checker(tmp_path).check(document, [proposed(text, old, new, **options)])
    return found


USES_OS = "import os\n\n\ndef home():\n    return os.environ['HOME']\n"


@pytest.mark.parametrize(
    ("text", "old", "new", "reason", "rules"),
    [
        pytest.param(
            "def f(a):\n    return g(a)\n\n\ndef g(a):\n    return a\n",
            "g(a)",
            "g(a, 1)",
            PASSED,
            (),
            id="a harmless edit passes",
        ),
        pytest.param(
            "def f(a):\n    return a\n",
            "return a",
            "return (a",
            BROKEN,
            (),
            id="an unclosed bracket breaks the parse",
        ),
        pytest.param(
            "def f(a):\n    return a\n",
            "def f(a):",
            "def f(a)",
            BROKEN,
            (),
            id="a missing colon breaks the parse",
        ),
        pytest.param(
            "def f(a):\n    return a +\n\n\ndef g(b):\n    return b\n",
            "return b",
            "return b * 2",
            PASSED,
            (),
            id="a file that was already broken: no new error, it passes",
        ),
        pytest.param(
            "def f(a):\n    return a\n",
            "return a",
            "return b",
            RUFF,
            ("F821",),
            id="a name left undefined",
        ),
        pytest.param(
            USES_OS,
            "import os\n",
            "",
            RUFF,
            ("F821",),
            id="a finding lines away from the edit counts too",
        ),
        pytest.param(
            "import os\nimport sys\n\n\ndef f():\n    return sys.argv\n",
            "return sys.argv",
            "return list(sys.argv)",
            PASSED,
            (),
            id="a finding that was there before is not new",
        ),
        pytest.param(
            "import os\n\n\ndef f(a):\n    return a\n",
            "def f(a):\n",
            "def f(a):\n    a = a or 0\n",
            PASSED,
            (),
            id="a finding that lines moved is not new",
        ),
        pytest.param(
            "def f(a):\n    return quote(a)\n\n\ndef g(b):\n    return b\n",
            "return b",
            "return quote(b)",
            PASSED,
            (),
            id="another use of a name the file already uses undefined is not new",
        ),
        pytest.param(
            "def f(a):\n    return quote(a)\n\n\ndef g(b):\n    return b\n",
            "return b",
            "return escape(b)",
            RUFF,
            ("F821",),
            id="a name undefined that the file did not use before is new",
        ),
        pytest.param(
            "def f(a, ctx):\n    return g(ctx)\n\n\ndef h(b):\n    return g(ctx)\n\n\n"
            "def g(b):\n    return b\n",
            "return b\n",
            "return g(ctx)\n",
            RUFF,
            ("F821",),
            id="another use of a name undefined there but bound elsewhere in the file is new",
        ),
    ],
)
def test_checks(tmp_path, text, old, new, reason, rules) -> None:
    found = verdict(tmp_path, text, old, new)
    assert (found.reason, found.rules) == (reason, rules)
    assert found.passed == (reason == PASSED)


def test_an_edit_whose_place_changed_since_is_stale(tmp_path) -> None:
    text = "def f(a):\n    return a\n"
    found = verdict(tmp_path, text, "return a", "return a + 1", stale_with="return b")
    assert found.reason == STALE


def test_ruff_runs_for_the_first_few_only(tmp_path) -> None:
    text = "def old(x):\n    return x\n\n\n" + "".join(f"x{i} = old({i})\n" for i in range(5))
    (tmp_path / "mod.py").write_text(text, encoding="utf-8")
    edits = [proposed(text, f"old({i})", f"new({i})") for i in range(5)]
    document = CheckedDocument(text, "python", str(tmp_path / "mod.py"))
    reasons = [v.reason for v in Checker(tmp_path, ruff_runs=2).check(document, edits)]
    # ``new`` is undefined everywhere: the two checked are caught, the rest are not shown.
    assert reasons == [RUFF, RUFF, UNCHECKED, UNCHECKED, UNCHECKED]


def test_ruff_runs_only_until_enough_have_passed(tmp_path) -> None:
    # ``new`` is undefined, ``old`` and ``other`` are defined: the first candidate fails, the
    # others pass; with one needed, the third is never run, and the verdicts given are those
    # given without ``needed``.
    text = "def old(x):\n    return x\n\n\ndef other(x):\n    return x\n\n\n" + "".join(
        f"x{i} = old({i})\n" for i in range(4)
    )
    (tmp_path / "mod.py").write_text(text, encoding="utf-8")
    edits = [
        proposed(text, "old(0)", "new(0)"),
        proposed(text, "old(1)", "other(1)"),
        proposed(text, "old(2)", "other(2)"),
        proposed(text, "old(3)", "new(3)"),
    ]
    document = CheckedDocument(text, "python", str(tmp_path / "mod.py"))
    checker = Checker(tmp_path, ruff_runs=4)
    every = [v.reason for v in checker.check(document, edits)]
    assert every == [RUFF, PASSED, PASSED, RUFF]
    one = [v.reason for v in Checker(tmp_path, ruff_runs=4).check(document, edits, needed=1)]
    assert one == [RUFF, PASSED, NOT_NEEDED, NOT_NEEDED]
    two = [v.reason for v in Checker(tmp_path, ruff_runs=4).check(document, edits, needed=2)]
    assert two == [RUFF, PASSED, PASSED, NOT_NEEDED]
    three = [v.reason for v in Checker(tmp_path, ruff_runs=4).check(document, edits, needed=3)]
    assert three == every


def test_a_language_ruff_does_not_read_is_checked_by_its_parse(tmp_path) -> None:
    text = "function f(a) {\n  return a;\n}\n"
    document = CheckedDocument(text, "javascript", str(tmp_path / "mod.js"))
    edits = [
        proposed(text, "return a;", "return a + 1;"),
        proposed(text, "return a;", "return (a;"),
    ]
    assert [v.reason for v in Checker(tmp_path).check(document, edits)] == [PASSED, BROKEN]


# A module long enough to be checked in outline: imports used near and far, module-level
# names, a class whose methods use them, and many functions that touch none of it.
_LONG = (
    "import os\nimport sys\nfrom pathlib import Path\n\nLIMIT = 3\n\n\n"
    "def helper(value):\n    return value * LIMIT\n\n\n"
    "class Store:\n    root = Path('.')\n\n"
    "    def load(self, name):\n        data = os.environ.get(name)\n        return data\n\n"
    "    def size(self):\n        total = 0\n        for item in sys.argv:\n"
    "            total += len(item)\n        return helper(total)\n\n\n"
    + "".join(
        f"def filler_{i}(a, b=None):\n    '''Filler {i}: naïve — ü.'''\n    c = [a, b]\n"
        "    if a is None:\n        c.append(b)\n    else:\n        c.extend([a, a, a])\n"
        f"    return {{'k': c, 'n': len(c)}}\n\n\n"
        for i in range(60)
    )
    + "SUFFIXES = ('.a', '.b')\n\n\n"
    "def locate(name):\n    if name:\n        places = (name,)\n    else:\n"
    "        places = tuple(name + s for s in SUFFIXES)\n    return places\n\n\n"
    "def far_away():\n    return os.path.join(str(Path.home()), 'x')\n"
)


@pytest.mark.parametrize(
    ("old", "new", "passes"),
    [
        pytest.param("import os\n", "", False, id="an import a far function uses, removed"),
        pytest.param("import sys\n", "", False, id="an import one other method uses, removed"),
        pytest.param("LIMIT = 3\n", "", False, id="a module name a function uses, removed"),
        pytest.param(
            "SUFFIXES = ",
            "places = ",
            False,
            id="a module name renamed to what the one function using it binds",
        ),
        pytest.param("def helper(value):", "def assist(value):", False, id="a function renamed"),
        pytest.param("data = os.environ.get(name)", "data = name", True, id="a use of os taken"),
        pytest.param("return data\n", "return None\n", False, id="a variable left unused"),
        pytest.param("total += len(item)", "total += len(itme)", False, id="a typo"),
        pytest.param("return helper(total)", "return helper(total, 1)", True, id="a harmless edit"),
        pytest.param(
            "c = [a, b]\n", "c = [a, b]\n    import json\n", False, id="an unused import added"
        ),
        pytest.param(
            "    def size(self):\n", "    def size(self, extra):\n", True, id="a parameter"
        ),
    ],
)
@pytest.mark.parametrize("select", ["default", "ALL"])
def test_the_outline_finds_what_the_whole_file_finds(tmp_path, old, new, passes, select) -> None:
    """ruff reads a long file's outline (the functions no candidate touches folded); each
    verdict is the one ruff on the whole texts gives, with ruff's default rules and with all."""
    from tactful.analyzers import ruff
    from tactful.suggestion.next_edits.outline import Outliner

    if select == "ALL":
        (tmp_path / "ruff.toml").write_text('[lint]\nselect = ["ALL"]\n', encoding="utf-8")
    text = _LONG
    assert text.count("\n") > 500
    edited = text.replace(old, new, 1)
    path = tmp_path / "mod.py"
    path.write_text(text, encoding="utf-8")

    def by_line(found, edit_line, added):
        # The whole texts' findings keyed as the checks key them: rule and line, the lines
        # after the edit moved back.
        keys = []
        for finding in found:
            line = finding.span.start.line
            if line > edit_line + max(added, 0):
                line -= added
            elif line >= edit_line:
                line = edit_line
            keys.append((finding.rule, line))
        return keys

    line = text[: text.index(old)].count("\n")
    added = new.count("\n") - old.count("\n")
    before = by_line(ruff.check_text(text, path, tmp_path), line, 0)
    after = by_line(ruff.check_text(edited, path, tmp_path), line, added)
    remaining = list(before)
    expected = set()
    for key in after:
        if key in remaining:
            remaining.remove(key)
        else:
            expected.add(key[0])

    found = verdict(tmp_path, text, old, new)
    assert set(found.rules) == expected
    assert found.passed == (not expected)
    if select == "default":
        assert found.passed == passes
    # And the outline is what ruff read: most of the file folded, no line moved.
    from tactful.suggestion.next_edits.trees import Source, parse

    source = Source(text)
    folded = Outliner().outline(text, source.data, parse(source, "python"), [(line, line)]).text
    assert folded.count("\n") == text.count("\n")
    assert len(folded) < len(text) / 2

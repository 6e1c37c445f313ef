"""Checked before shown: each case is a file, a proposed next edit (old text → new text at its
first occurrence) and what the checks say of it."""

from __future__ import annotations

import pytest

from tactful.analyzers.text import LineIndex, Span
from tactful.suggestion.next_edits import CheckedDocument, Checker, NextEdit
from tactful.suggestion.next_edits.checks import BROKEN, PASSED, RUFF, STALE, UNCHECKED


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


def test_a_language_ruff_does_not_read_is_checked_by_its_parse(tmp_path) -> None:
    text = "function f(a) {\n  return a;\n}\n"
    document = CheckedDocument(text, "javascript", str(tmp_path / "mod.js"))
    edits = [
        proposed(text, "return a;", "return a + 1;"),
        proposed(text, "return a;", "return (a;"),
    ]
    assert [v.reason for v in Checker(tmp_path).check(document, edits)] == [PASSED, BROKEN]

"""Rule and path selection as ruff has them (``--select``/``--ignore``, paths, ``--exclude``),
and GitHub's escaping of workflow annotations."""

from __future__ import annotations

import pytest

from tactful.analyzers.selection import PathSelection, RuleSelection, SelectionError
from tactful.server.cli.github import Annotation, escape_data, escape_property, render

RULES = (
    "F401",
    "F811",
    "E401",
    "E501",
    "W291",
    "I001",
    "debug-leftover",
    "function-too-large",
    "function-too-complex",
    "todo-added",
    "llm",
)


@pytest.mark.parametrize(
    ("select", "ignore", "selected"),
    [
        (None, None, RULES),
        (["F"], None, ("F401", "F811")),
        (["F401,E4"], None, ("F401", "E401")),
        (["F", "E"], ["E501"], ("F401", "F811", "E401")),
        # The more specific selector decides: E501 stays although E is ignored.
        (["E501"], ["E"], ("E501",)),
        # Equally specific: --ignore wins.
        (["E501"], ["E501"], ()),
        (
            ["ALL"],
            ["F", "debug-leftover"],
            ("E401", "E501", "W291", "I001", *RULES[7:]),
        ),
        (None, ["F401", "todo"], tuple(r for r in RULES if r not in ("F401", "todo-added"))),
        # Named rules match whole leading words, never part of a word.
        (["function"], None, ("function-too-large", "function-too-complex")),
        (["function-too"], None, ("function-too-large", "function-too-complex")),
        (["debug-leftover", "llm"], None, ("debug-leftover", "llm")),
        (["ALL"], ["function-too-large"], tuple(r for r in RULES if r != "function-too-large")),
    ],
)
def test_rules_selected_like_ruff(select, ignore, selected) -> None:
    rules = RuleSelection.parse(select, ignore, known=RULES)
    assert rules.among(RULES) == selected


@pytest.mark.parametrize(
    ("select", "ignore", "selected"),
    [
        # A file ruff could not parse or read was not checked for F401 either: said so.
        (["F401"], None, ("F401", "invalid-syntax", "E902")),
        (["debug-leftover"], None, ("invalid-syntax", "E902")),
        # Only an --ignore naming them leaves them out.
        (["F401"], ["invalid-syntax", "E9"], ("F401",)),
        (None, ["E902"], ("F401", "invalid-syntax")),
    ],
)
def test_a_file_not_checked_is_reported_whatever_the_selection(select, ignore, selected) -> None:
    known = ("F401", "invalid-syntax", "E902", "debug-leftover")
    rules = RuleSelection.parse(select, ignore, known=known)
    assert rules.among(("F401", "invalid-syntax", "E902")) == selected


@pytest.mark.parametrize(
    ("select", "codes"),
    [
        (None, None),
        (["F,debug-leftover"], ("F",)),
        (["function"], ()),
        (["ALL"], ("ALL",)),
        (["E4", "W291", "todo-added"], ("E4", "W291")),
    ],
)
def test_code_selectors_are_what_ruff_is_asked_for(select, codes) -> None:
    assert RuleSelection.parse(select, None).code_selectors() == codes


@pytest.mark.parametrize("selector", ["FOO", "f401", "debug-left", "functio", "F999"])
def test_a_selector_naming_no_rule_is_an_error(selector: str) -> None:
    with pytest.raises(SelectionError, match=f"unknown rule selector '{selector}'"):
        RuleSelection.parse([selector], None, known=RULES)
    with pytest.raises(SelectionError):
        RuleSelection.parse(None, [selector], known=RULES)


PATHS = [
    "README.md",
    "src/pkg/__init__.py",
    "src/pkg/core.py",
    "src/pkg/migrations/0001_initial.py",
    "src/pkg/api_pb2.py",
    "tests/test_core.py",
    "docs/conf.py",
    "docs/api/index.py",
]


@pytest.mark.parametrize(
    ("paths", "exclude", "selected"),
    [
        (["."], [], PATHS),
        (["./src/", "tests"], [], PATHS[1:6]),
        (["src/pkg/core.py"], [], ["src/pkg/core.py"]),
        (["src/pk"], [], []),  # a folder's name, not a prefix of one
        (["."], ["migrations/"], [p for p in PATHS if "migrations" not in p]),
        (["src"], ["*_pb2.py", "__init__.py"], ["src/pkg/core.py", PATHS[3]]),
        (["."], ["docs/api/**"], [p for p in PATHS if not p.startswith("docs/api")]),
        (["."], ["docs/**/*.py"], [p for p in PATHS if not p.startswith("docs/")]),
        (["."], ["/docs"], [p for p in PATHS if not p.startswith("docs/")]),
        (["."], ["*.py", "!tests/*.py"], ["README.md", "tests/test_core.py"]),
    ],
)
def test_paths_selected_like_ruff(paths, exclude, selected) -> None:
    assert PathSelection.of(paths, exclude).among(PATHS) == selected


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("100% sure", "100%25 sure", "100%25 sure"),
        ("a\nb\r\nc", "a%0Ab%0D%0Ac", "a%0Ab%0D%0Ac"),
        ("x: y, z", "x: y, z", "x%3A y%2C z"),
        ("%0A already", "%250A already", "%250A already"),
        ("::error::no", "::error::no", "%3A%3Aerror%3A%3Ano"),
    ],
)
def test_github_escapes_as_the_runner_unescapes(text: str, data: str, prop: str) -> None:
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_annotations_render_one_command_per_line() -> None:
    one_line = Annotation(
        "warning",
        "`os` imported but unused\nremove it",
        file="src/odd, name:1.py",
        line=3,
        end_line=3,
        column=8,
        end_column=10,
        title="tactful (F401)",
    )
    spanning = Annotation("notice", "50% of it", file="a.py", line=2, end_line=4, column=5)
    assert render([one_line, spanning]) == (
        "::warning file=src/odd%2C name%3A1.py,line=3,endLine=3,col=8,endColumn=10,"
        "title=tactful (F401)::`os` imported but unused%0Aremove it\n"
        # Columns mean nothing on an annotation of several lines: GitHub ignores them.
        "::notice file=a.py,line=2,endLine=4::50%25 of it\n"
    )
    assert render([]) == ""
    with pytest.raises(ValueError, match="annotation level"):
        Annotation("info", "x", file="a.py", line=1)

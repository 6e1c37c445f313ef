"""Repeated edits in the same surroundings: a change made between two tokens on each side,
proposed where the same text stands, and shown only after the real checks (a parse, ruff).

Each case: a file, the edit the developer makes, and the lines the next edits shown would
leave."""

from __future__ import annotations

import pytest
from fixtures.next_edits import OpenWorkspace, opened, results

from tactful.analyzers.text import Point

# Code before the edited part, so that it lies far into its file.
LONG = "".join(f"def helper{i}(value):\n    return value + {i}\n\n\n" for i in range(40))

THREADED = """\
def shell_complete(cli, prog_name, complete_var, instruction):
    comp = ShellComplete(cli, prog_name, complete_var)
    return comp.complete()


class ShellComplete:
    def __init__(self, cli, prog_name, complete_var):
        self.cli = cli


def _resolve_context(cli, prog_name, args):
    return cli.make_context(prog_name, args)
"""

APPENDED = """\
def test_options(cli):
    assert choices(cli, ["sub"], "-") == ["--local-opt"]
    assert choices(cli, ["sub", "x"], "-") == ["--other-opt"]
    assert choices(cli, ["asub"], "-") == ["--local-opt"]
"""

WRAPPED = """\
def pass_context(f):
    def new_func(*args, **kwargs):
        return f(get_current_context(), *args, **kwargs)

    return update_wrapper(new_func, f)


def pass_obj(f):
    def new_func(*args, **kwargs):
        return f(get_current_context().obj, *args, **kwargs)

    return update_wrapper(new_func, f)
"""


def shown_lines(current: OpenWorkspace, cursor: Point) -> list[str]:
    """The lines of ``mod.py`` as the candidates scored to be shown (unchecked) leave them."""
    return results(current, "mod.py", current.proposed("mod.py", cursor))


@pytest.mark.parametrize(
    ("before", "edit", "expected"),
    [
        pytest.param(
            THREADED,
            (
                "(cli, prog_name, complete_var, instruction)",
                "(cli, ctx_args, prog_name, complete_var, instruction)",
            ),
            [
                "    def __init__(self, cli, ctx_args, prog_name, complete_var):",
                "def _resolve_context(cli, ctx_args, prog_name, args):",
            ],
            id="a parameter inserted between the same neighbours",
        ),
        pytest.param(
            LONG + THREADED,
            (
                "(cli, prog_name, complete_var, instruction)",
                "(cli, ctx_args, prog_name, complete_var, instruction)",
            ),
            [
                "    def __init__(self, cli, ctx_args, prog_name, complete_var):",
                "def _resolve_context(cli, ctx_args, prog_name, args):",
            ],
            id="the same, far into a long file",
        ),
        pytest.param(
            APPENDED,
            ('== ["--local-opt"]', '== ["--local-opt", "--help"]'),
            ['    assert choices(cli, ["asub"], "-") == ["--local-opt", "--help"]'],
            id="an element appended to a list written the same way",
        ),
        pytest.param(
            WRAPPED,
            ("update_wrapper(new_func, f)", 'update_wrapper(t.cast("F", new_func), f)'),
            ['    return update_wrapper(t.cast("F", new_func), f)'],
            id="an argument wrapped in the same call",
        ),
    ],
)
def test_a_change_is_repeated_where_its_surroundings_stand(tmp_path, before, edit, expected):
    current = opened(tmp_path, {"mod.py": before})
    cursor = current.edit("mod.py", *edit)
    assert set(expected) <= set(shown_lines(current, cursor))


@pytest.mark.parametrize(("copies", "expected"), [(4, 3), (8, 0)])
def test_a_text_that_stands_at_many_places_is_not_followed(tmp_path, copies, expected) -> None:
    text = "".join(f"def f{i}(cli, prog_name):\n    return {i}\n\n\n" for i in range(copies))
    current = opened(tmp_path, {"mod.py": text})
    cursor = current.edit("mod.py", "f1(cli, prog_name)", "f1(cli, ctx_args, prog_name)")
    lines = shown_lines(current, cursor)
    assert len([line for line in lines if "(cli, ctx_args, prog_name):" in line]) == expected


def test_a_place_where_the_change_leaves_a_name_undefined_is_not_shown(tmp_path) -> None:
    # The same text in a ``def`` (a parameter added: fine) and in a call (an argument nothing
    # defines there: ruff's F821), checked by ruff on the text.
    text = (
        "def main(cli, prog_name, args):\n"
        "    return cli\n\n\n"
        "def run(cli, prog_name, args):\n"
        "    return cli\n\n\n"
        "def start(cli, prog_name):\n"
        "    return run(cli, prog_name, [])\n"
    )
    current = opened(tmp_path, {"mod.py": text}, limit=3)
    cursor = current.edit(
        "mod.py", "main(cli, prog_name, args)", "main(cli, ctx_args, prog_name, args)"
    )
    assert sorted(shown_lines(current, cursor)) == [
        "    return run(cli, ctx_args, prog_name, [])",
        "def run(cli, ctx_args, prog_name, args):",
    ]
    shown = current.suggested("mod.py", cursor)
    assert "def run(cli, ctx_args, prog_name, args):" in results(current, "mod.py", shown)
    assert "    return run(cli, ctx_args, prog_name, [])" not in results(current, "mod.py", shown)


OVERRIDES = """\
class ParamType:
    def get_metavar(self, param: Parameter) -> str | None:
        return None

    def convert(self, value: str, param: Parameter) -> str | None:
        return value

    def split(self, value: str, param: Parameter) -> str | None:
        return value


class Choice(ParamType):
    def get_metavar(self, param: Parameter) -> str | None:
        return "CHOICE"

    def convert(self, value: str, param: Parameter) -> str | None:
        return value.lower()

    def complete(self, value: str, param: Parameter) -> str | None:
        return value
"""


def test_a_def_line_whose_text_is_common_is_followed_in_the_overrides_only(tmp_path) -> None:
    # ``param: Parameter) -> str`` stands in six ``def`` lines: too common to follow, but
    # not in the ``def`` lines of the other methods called ``get_metavar``.
    current = opened(tmp_path, {"mod.py": LONG + OVERRIDES})
    cursor = current.edit(
        "mod.py",
        "param: Parameter) -> str | None:\n        return None",
        ("param: Parameter, ctx: Context) -> str | None:\n        return None"),
    )
    assert shown_lines(current, cursor) == [
        "    def get_metavar(self, param: Parameter, ctx: Context) -> str | None:"
    ]

"""``--help`` for every sub-command (a description and examples), and a command line that stays
light: listing the commands, or starting one, imports no other command's libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tactful.server.cli import COMMANDS, main

# Libraries that cost tenths of a second or more to import: no command's help may pay for them.
HEAVY = (
    "lsprotocol.types",
    "pygls",
    "git",
    "libcst",
    "litellm",
    "jedi",
    "tree_sitter",
    "rich",
    "tactful.server.app",
    "tactful.suggestion",
    "tactful.feedback",
)


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    out, _ = capsys.readouterr()
    return out


def test_the_command_list_has_a_line_for_every_command(capsys) -> None:
    text = help_of(capsys)
    flat = " ".join(text.split())
    for name, command in COMMANDS.items():
        assert f"{name} {command.summary}" in flat, name
    assert "examples:\n  tactful serve" in text


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_description_and_examples(capsys, name: str) -> None:
    text = help_of(capsys, name)
    usage, description, *_ = text.split("\n\n")
    assert usage.startswith(f"usage: tactful {name}")
    assert description.strip() and description.strip()[0].isupper(), description
    examples = text.split("\nexamples:\n", 1)[1]
    lines = [line for line in examples.splitlines() if line.strip()]
    assert lines and all(line.startswith(f"  tactful {name}") for line in lines if "|" not in line)
    # Examples keep their own line breaks (RawDescriptionHelpFormatter), one per line.
    assert examples.strip() == COMMANDS[name].examples.strip()


def imported_by(*argv: str) -> set[str]:
    """The modules a fresh interpreter has imported after ``tactful ARGV`` parsed its
    arguments (``--help`` exits right after)."""
    probe = (
        "import json, sys\n"
        "from tactful.server.cli import main\n"
        "try:\n"
        f"    main({list(argv)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.__stdout__.write('\\n' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout.rsplit("\n", 1)[1]))


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("--version",), ("serve", "--help"), ("review", "--help"), ("stats", "--help")],
)
def test_the_command_line_imports_nothing_heavy(argv: tuple[str, ...]) -> None:
    modules = imported_by(*argv)
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []
    # Only the module of the command named is loaded.
    commands = {m.rsplit(".", 1)[1] for m in modules if m.startswith("tactful.server.cli.")}
    assert commands <= {argv[0], "progress"}

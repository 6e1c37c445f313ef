"""The ``tactful`` command line: one console script, one module per sub-command.

Boundary: argument parsing and output formatting only; each command calls the domain packages.
Exit codes: 0 success, 1 what the command looks for was found (comments, findings, failures),
2 a usage or settings error.

Start-up stays light: ``tactful --help`` lists the commands from ``COMMANDS`` without importing
any of their modules, and a run imports the one module of the command it runs (its heavy
imports sit inside ``run``), so ``tactful serve`` pays for no other command's libraries.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tactful.server.settings import Settings


@dataclass(frozen=True)
class Command:
    """A sub-command: the module that defines its arguments (``add_parser(subparsers)``, which
    sets ``func``, and ``run(args) -> int``), its one-line summary, and examples for ``--help``."""

    module: str
    summary: str
    examples: str


COMMANDS: dict[str, Command] = {
    "serve": Command(
        "serve",
        "run the language server (stdio by default)",
        """\
  tactful serve                      # what editors start: LSP over stdin and stdout
  tactful serve --tcp 127.0.0.1:2087 # listen on a TCP port instead""",
    ),
    "review": Command(
        "review",
        "review comments on the changed lines (exit 1 when there are comments)",
        """\
  tactful review                       # uncommitted work (staged, unstaged, untracked)
  tactful review --staged              # what the next commit holds: the index against HEAD
  tactful review --base main           # a branch: its merge-base with HEAD, like a pull request
  tactful review src tests --select F,debug-leftover --ignore F401
  tactful review --exclude 'migrations/**' --no-llm
  tactful review --base "$BASE_SHA" --format github   # annotations in a GitHub workflow""",
    ),
    "fix": Command(
        "fix",
        "quality findings with fixes validated by the tests (exit 1: findings remain)",
        """\
  tactful fix                        # findings and fixes in the current project
  tactful fix src/pkg/module.py      # one file
  tactful fix --no-validate          # propose fixes without running the tests
  tactful fix --apply                # write the fixes whose tests passed
  tactful fix --diff > fixes.patch   # the same fixes as a patch; nothing is written
  tactful fix src tests --select F,E7 --ignore F401 --exclude 'migrations/**'
  tactful fix --jobs 2               # judge two findings at a time (default: the CPU count)
  tactful fix --format github        # annotations in a GitHub workflow
  tactful fix --format json > fixes.json""",
    ),
    "baseline": Command(
        "baseline",
        'record today\'s findings, so that quality.scope = "baseline" shows only new ones',
        """\
  tactful baseline                   # writes .tactful/baseline.json at the project's root
  tactful baseline ~/src/project     # another project (its git repository's root)
  tactful baseline && git add .tactful/baseline.json   # commit it, to share it""",
    ),
    "validate": Command(
        "validate",
        "apply a diff in a sandboxed copy and run the tests that cover it (exit 1: failed)",
        """\
  git diff | tactful validate --patch -           # do my uncommitted changes keep tests green?
  tactful validate --patch change.diff ~/src/project --format json""",
    ),
    "stats": Command(
        "stats",
        "acceptance rate, characters accepted and keystrokes saved, per language and day/week",
        """\
  tactful stats                      # a summary of what your suggestions did
  tactful stats --format json        # the same figures, for scripts (docs/stats-json.md)
  tactful stats --plot stats.html    # charts on one self-contained page (or stats.png)""",
    ),
    "bench": Command(
        "bench",
        "measure suggestions on real code",
        """\
  tactful bench completion ~/src/project --files 20
  tactful bench completion corpus/ --engine local --engine llm --format json
  tactful bench completion corpus/ --filter compare
  tactful bench edits ~/src/project --commits 20 --filter compare""",
    ),
    "doctor": Command(
        "doctor",
        "versions, settings in force and their sources, sandbox, LLM reachability",
        """\
  tactful doctor                     # for the current folder
  tactful doctor ~/src/project --format json --no-llm-check""",
    ),
    "trust": Command(
        "trust",
        "trust a workspace: its tests may run to validate fixes",
        """\
  tactful trust                      # the current folder (and everything below it)
  tactful trust ~/src/project""",
    ),
    "untrust": Command(
        "trust",
        "stop trusting a workspace",
        """\
  tactful untrust                    # the current folder
  tactful untrust ~/src/project""",
    ),
    "team": Command(
        "team",
        "the team store: train and publish the team's models, ship events, team settings",
        """\
  tactful team train                 # fit and publish the team's models (feedback.team)
  tactful team train --format json   # the run's evaluation on held-back events
  tactful team ship                  # send this user's local events now
  tactful team settings --share-names on""",
    ),
}

EXAMPLES = """\
examples:
  tactful serve                      # the language server, for an editor
  tactful review --staged            # review what you are about to commit
  tactful fix --apply                # fix findings whose fixes the tests validate
  tactful stats                      # what tactful's suggestions did for you

Run `tactful COMMAND --help` for a command's options and examples."""


def _version() -> str:
    from tactful.server import __version__

    return __version__


def build_parser(load: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser, with the full parsers of the commands in ``load`` (every command
    when None); the others are listed by their summary alone."""
    parser = argparse.ArgumentParser(
        prog="tactful",
        description="A language server that proposes code and shows only what it can vouch for.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tactful {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    wanted = set(COMMANDS if load is None else load)
    modules = {COMMANDS[name].module for name in wanted if name in COMMANDS}
    loaded: set[str] = set()
    for name, command in COMMANDS.items():
        if command.module in modules:
            if command.module not in loaded:
                module = importlib.import_module(f"{__name__}.{command.module}")
                module.add_parser(subparsers)
                loaded.add(command.module)
            _describe(subparsers.choices[name], command)
        else:
            subparsers.add_parser(name, help=command.summary, add_help=False)
    return parser


def add_selection_arguments(parser: argparse.ArgumentParser, select_help: str, root: str) -> None:
    """``--select``/``--ignore`` rules and ``--exclude`` paths, as ruff takes them (parsed by
    ``analyzers/selection.py``); ``select_help`` says what is selected and its default, ``root``
    what patterns are matched from."""
    parser.add_argument("--select", action="append", metavar="RULES", help=select_help)
    parser.add_argument(
        "--ignore",
        action="append",
        metavar="RULES",
        help="comma-separated rule ids or prefixes to leave out (the more specific of "
        "--select and --ignore wins)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help=f"leave out files matching a gitignore-style pattern, from the {root} (repeatable)",
    )


def load_settings(root: Path, command: str) -> Settings:
    """The settings of the workspace at ``root``; each problem with them is said on stderr as
    ``tactful COMMAND: problem`` and leaves the rest in force."""
    from tactful.server import settings as settings_mod

    resolved = settings_mod.load(root)
    for problem in resolved.problems:
        print(f"tactful {command}: {problem}", file=sys.stderr)
    return resolved.settings


def _describe(parser: argparse.ArgumentParser, command: Command) -> None:
    """The summary and examples shown by ``tactful COMMAND --help``."""
    if parser.description is None:
        parser.description = command.summary[0].upper() + command.summary[1:] + "."
    parser.epilog = "examples:\n" + command.examples
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named on a command line (the first word that is not an option: the
    top-level options take no value)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name = command_in(argv)
    parser = build_parser([name] if name else [])
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    if args.command != "serve":
        logging.basicConfig(level=logging.WARNING, format="tactful: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


class UsageError(Exception):
    """A usage or settings error: the command prints it and exits with 2."""

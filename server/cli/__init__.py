"""The ``tactful`` command line: one console script, one module per sub-command.

Boundary: argument parsing and output formatting only; each command calls the domain packages.
Exit codes: 0 success, 1 what the command looks for was found (comments, findings, failures),
2 a usage or settings error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Each module has ``add_parser(subparsers)`` (which sets ``func``) and ``run(args) -> int``.
COMMANDS = [
    "serve",
    "doctor",
    "trust",
    "review",
    "stats",
    "validate",
    "bench",
    "fix",
]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone: ``tactful serve`` starts without
    importing the other commands' modules (git, libcst, a language client) and what they
    import, which would cost the editor's start-up more than pygls' own import."""
    from tactful.server import __version__

    parser = argparse.ArgumentParser(
        prog="tactful",
        description="A language server that proposes code and shows only what it can vouch for.",
    )
    parser.add_argument("--version", action="version", version=f"tactful {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if command is None or name == command:
            module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
            module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = next((word for word in words if not word.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(words)
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

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
    "team",
]


def build_parser() -> argparse.ArgumentParser:
    from tactful.server.app import __version__

    parser = argparse.ArgumentParser(
        prog="tactful",
        description="A language server that proposes code and shows only what it can vouch for.",
    )
    parser.add_argument("--version", action="version", version=f"tactful {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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

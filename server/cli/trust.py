"""``tactful trust [PATH]`` / ``tactful untrust [PATH]``: allow or forbid running a workspace.

Trusting a folder lets tactful run its tests, its conftest.py and plugins, and its interpreter
to validate fixes. Untrusted folders still get completions, rule-based review and fixes
labelled "not validated".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tactful.feedback import trust as trust_list


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    for name in ("trust", "untrust"):
        parser = subparsers.add_parser(name)
        parser.add_argument("path", nargs="?", default=".", help="workspace folder (default: .)")
        parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.is_dir():
        print(f"tactful {args.command}: {path} is not a folder")
        return 2
    if args.command == "trust":
        folder = trust_list.trust(path)
        print(f"trusted {folder}: tactful may now run its tests to validate fixes")
    else:
        folder = trust_list.untrust(path)
        print(f"no longer trusted: {folder}")
    return 0

"""``tactful baseline [PATH]``: record the findings a project has today, so that
``quality.scope = "baseline"`` shows only new ones (in the editor and in ``tactful review``).

The baseline is ``.tactful/baseline.json`` at the project's root (the root of the git repository
holding PATH, or PATH itself outside git), meant to be committed with the project. It lists
ruff's findings under the settings in force (``quality.select``, the project's ruff
configuration) and those of the review rules that judge a line on its own (debug leftovers,
broad exception handlers, new TODOs), each by file, rule and a fingerprint of its
line's text, so that they stay recorded while code moves (``analyzers/baseline.py``). Running
it again replaces the file: fixed findings leave it, and what is there now is recorded.

Exit codes: 0 recorded, 2 a usage error (PATH is not a folder) or a file that cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "baseline",
        description="Record today's findings in .tactful/baseline.json at the project's root, "
        'so that quality.scope = "baseline" shows only new ones.',
    )
    parser.add_argument(
        "path",
        nargs="?",
        default=".",
        metavar="PATH",
        help="a folder of the project (default: .); its git repository's root is recorded",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tactful.analyzers import baseline
    from tactful.analyzers.ruff import RuffOptions
    from tactful.feedback.changes import project_root
    from tactful.feedback.quality import project_findings
    from tactful.server.cli import load_settings

    folder = Path(args.path)
    if not folder.is_dir():
        print(f"tactful baseline: {folder} is not a folder", file=sys.stderr)
        return 2
    root = project_root(folder)
    settings = load_settings(root, "baseline")
    select = settings.quality.select
    findings = project_findings(root, RuffOptions(select=tuple(select) if select else None))
    recorded = baseline.Baseline.of(findings)
    try:
        path = baseline.save(root, recorded)
    except OSError as exc:
        print(f"tactful baseline: cannot write the baseline: {exc}", file=sys.stderr)
        return 2
    rules = Counter(rule for _path, rule, _line in findings)
    top = ", ".join(f"{rule} {count}" for rule, count in rules.most_common(5))
    files = len({found_path for found_path, _rule, _line in findings})
    print(
        f"recorded {len(recorded)} finding{'s' if len(recorded) != 1 else ''} in {files} "
        f"file{'s' if files != 1 else ''} to {path}" + (f" (most: {top})" if top else "")
    )
    if settings.quality.scope != "baseline":
        print(
            f'quality.scope is "{settings.quality.scope}": set it to "baseline" (for example '
            "in [tool.tactful.quality] of pyproject.toml) to show only findings recorded after "
            "this one"
        )
    return 0

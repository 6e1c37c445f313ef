"""``tactful stats [--format text|json] [--plot FILE]``: what tactful's suggestions did for you.

Reads the feedback store (``feedback.store``, else the user data directory) without becoming its
writer, so it runs safely beside a live server. The JSON form is documented in
``docs/stats-json.md``; ``--plot`` writes the charts as a self-contained HTML page, or as a PNG
image when matplotlib is installed (the ``plot`` extra).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stats",
        description="What tactful's suggestions did for you, from the feedback store: "
        "suggestions shown, accepted and hidden (and those you then typed by hand), "
        "characters accepted and keystrokes saved, per language and per day or week.",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="also write the charts to FILE: an HTML page (FILE.html, no dependency) or an image "
        "(FILE.png, needs matplotlib: tactful[plot])",
    )
    parser.add_argument(
        "--store", metavar="PATH", help="feedback store to read (default: feedback.store)"
    )
    parser.add_argument(
        "--team",
        action="store_true",
        help="the team's figures, per repository and week, from the team store (feedback.team)",
    )
    parser.add_argument("--url", help="with --team: the team store (default: feedback.team)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.team:
        from tactful.server.cli.team import team_stats

        return team_stats(args)
    from tactful.feedback.chart import render_html
    from tactful.feedback.stats import render_text, summarize
    from tactful.feedback.store import StoreUnavailable, read_events, store_path
    from tactful.server import settings as settings_mod

    if args.store:
        path = Path(args.store)
    else:
        resolved = settings_mod.load(Path.cwd())
        path = store_path(resolved.settings.feedback.store)
    try:
        events = read_events(path)
    except StoreUnavailable as exc:
        sys.stderr.write(f"tactful stats: the feedback store {exc}\n")
        return 2
    summary = summarize(events)
    if args.plot:
        target = Path(args.plot)
        suffix = target.suffix.lower()
        if suffix not in (".html", ".htm", ".png"):
            sys.stderr.write("tactful stats: --plot writes FILE.html or FILE.png\n")
            return 2
        if suffix == ".png" and importlib.util.find_spec("matplotlib") is None:
            sys.stderr.write(
                "tactful stats: a PNG chart needs matplotlib: install tactful with the plot "
                "extra (pipx install 'tactful[plot]'), or write --plot FILE.html\n"
            )
            return 2
        try:
            if suffix == ".png":
                from tactful.feedback.chart import render_png

                target.write_bytes(render_png(summary))
            else:
                target.write_text(render_html(summary), encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"tactful stats: cannot write {target}: {exc}\n")
            return 2
    if args.format == "json":
        payload = {"store": str(path), **summary.to_json()}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    elif args.store and not path.exists():
        # a mistyped --store must not read as an empty history: say which file is missing
        sys.stdout.write(
            f"No feedback recorded yet: there is no feedback store at {path} (check --store).\n"
        )
    else:
        sys.stdout.write(render_text(summary))
        if args.plot:
            sys.stdout.write(f"\nCharts written to {args.plot}\n")
    return 0

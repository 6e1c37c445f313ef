"""``tactful stats [--format text|json] [--plot FILE]``: what tactful's suggestions did for you.

Reads the feedback store (``feedback.store``, else the user data directory) without becoming its
writer, so it runs safely beside a live server. The JSON form is documented in
``docs/stats-json.md``; ``--plot`` writes a self-contained HTML page of charts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tactful.feedback.chart import render_html
from tactful.feedback.stats import render_text, summarize
from tactful.feedback.store import StoreUnavailable, read_events, store_path
from tactful.server import settings as settings_mod


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="acceptance rate, characters accepted and keystrokes saved, per language and week",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--plot", metavar="FILE", help="also write the charts to FILE (an HTML page)"
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
        if target.suffix.lower() not in (".html", ".htm"):
            sys.stderr.write("tactful stats: --plot writes an HTML page; name it *.html\n")
            return 2
        try:
            target.write_text(render_html(summary), encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"tactful stats: cannot write {target}: {exc}\n")
            return 2
    if args.format == "json":
        payload = {"store": str(path), **summary.to_json()}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(summary))
        if args.plot:
            sys.stdout.write(f"\nCharts written to {args.plot}\n")
    return 0

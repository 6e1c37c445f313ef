"""``tactful team train|ship|settings``: the team store from the command line.

- ``train``: fit the acceptance cascade on the team's events (per repository and for the whole
  team) and publish it with its evaluation on held-back events; run by anyone, or on a schedule
  in CI. ``--format json`` prints the run's evaluation (docs/team.md).
- ``ship``: send this user's local events now (a server does it in the background).
- ``settings``: show or change the team's own settings (``share_code``, ``share_names``).

The team store is ``--url``, else ``feedback.team`` from the user's settings. Exit codes: 0, or 2
when no team store is set or it cannot be used (the reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path

from tactful.server import settings as settings_mod


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("team")
    actions = parser.add_subparsers(dest="team_action", metavar="ACTION")
    train = actions.add_parser("train", help="fit and publish the team's acceptance models")
    train.add_argument("--format", choices=("text", "json"), default="text")
    train.add_argument(
        "--held-back", type=float, default=0.2, help="share of newest suggestions tested on"
    )
    train.add_argument(
        "--min-repository-suggestions",
        type=int,
        default=200,
        help="a repository gets a model of its own from this many judged suggestions",
    )
    ship = actions.add_parser("ship", help="send this user's local events to the team store now")
    ship.add_argument("--store", metavar="PATH", help="feedback store (default: feedback.store)")
    team_settings = actions.add_parser("settings", help="show or change the team's settings")
    team_settings.add_argument("--share-code", choices=("on", "off"))
    team_settings.add_argument("--share-names", choices=("on", "off"))
    for action in (train, ship, team_settings):
        action.add_argument("--url", help="the team store (default: feedback.team)")
    parser.set_defaults(func=run, team_parser=parser)


def team_url(explicit: str | None) -> str | None:
    """``--url``, else ``feedback.team`` as the user's settings resolve it."""
    if explicit:
        return explicit
    return settings_mod.load(Path.cwd()).settings.feedback.team


def run(args: argparse.Namespace) -> int:
    if not args.team_action:
        args.team_parser.print_help(sys.stderr)
        return 2
    url = team_url(args.url)
    if not url:
        sys.stderr.write("tactful team: no team store: set feedback.team or pass --url\n")
        return 2
    from tactful.feedback.team.schema import TeamUnavailable

    try:
        return {"train": _train, "ship": _ship, "settings": _settings}[args.team_action](args, url)
    except TeamUnavailable as exc:
        sys.stderr.write(f"tactful team: {exc}\n")
        return 2


def _train(args: argparse.Namespace, url: str) -> int:
    import psycopg

    from tactful.feedback.team.schema import TeamUnavailable, connect, ensure_schema
    from tactful.feedback.team.training import TrainingOptions, train

    options = TrainingOptions(
        held_back=args.held_back, min_repository_suggestions=args.min_repository_suggestions
    )
    conn = connect(url)
    try:
        ensure_schema(conn)
        result = train(conn, options, client=socket.gethostname())
    except psycopg.Error as exc:
        raise TeamUnavailable(f"training failed on the team store ({exc})") from exc
    finally:
        conn.close()
    if args.format == "json":
        sys.stdout.write(json.dumps({"run": result.run, **result.evaluation}, indent=2) + "\n")
        return 0
    e = result.evaluation
    lines = [
        f"published training run {result.run}: {e['events']} events, "
        f"{e['suggestions']} judged suggestions, in {e['seconds']['total']} s",
    ]
    for scope, s in e["scopes"].items():
        model, base = s["model"], s["base"]
        lines.append(
            f"  {scope:<18} fitted on {s['fitted_on']}, tested on {s['held_back']}: "
            f"AUC {model.get('auc')} (start {base.get('auc')}), lift "
            f"x{model.get('acceptance_lift')} at threshold {model.get('threshold')} "
            f"(start x{base.get('acceptance_lift')}), kept {s['kept']}"
            + (
                f", published fitted on all {s['published_fitted_on']}"
                if s.get("published_fitted_on")
                else ""
            )
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _ship(args: argparse.Namespace, url: str) -> int:
    from tactful.feedback.store import FeedbackStore, store_path
    from tactful.feedback.team.shipper import Shipper

    path = (
        Path(args.store)
        if args.store
        else store_path(settings_mod.load(Path.cwd()).settings.feedback.store)
    )
    with FeedbackStore(path) as store:
        sent = Shipper(store, url).ship()
    sys.stdout.write(f"sent {sent} events to the team store\n")
    return 0


def _settings(args: argparse.Namespace, url: str) -> int:
    from tactful.feedback.team.schema import (
        connect,
        ensure_schema,
        set_team_setting,
        team_settings,
    )

    conn = connect(url)
    try:
        ensure_schema(conn)
        for key, value in (("share_code", args.share_code), ("share_names", args.share_names)):
            if value is not None:
                set_team_setting(conn, key, value == "on")
        current = team_settings(conn)
    finally:
        conn.close()
    sys.stdout.write(json.dumps(current, indent=2, sort_keys=True) + "\n")
    return 0


def team_stats(args: argparse.Namespace) -> int:
    """``tactful stats --team``: the team's figures (docs/team.md for the JSON)."""
    import psycopg

    from tactful.feedback.chart import render_html
    from tactful.feedback.team.schema import TeamUnavailable, connect, ensure_schema
    from tactful.feedback.team.stats import render_team_text, team_summary

    url = team_url(args.url)
    if not url:
        sys.stderr.write("tactful stats: --team needs feedback.team (or --url)\n")
        return 2
    if args.plot and Path(args.plot).suffix.lower() not in (".html", ".htm"):
        sys.stderr.write("tactful stats: --plot writes an HTML page; name it *.html\n")
        return 2
    try:
        conn = connect(url)
        try:
            ensure_schema(conn)
            summary = team_summary(conn)
        except psycopg.Error as exc:
            raise TeamUnavailable(f"the team store cannot be read ({exc})") from exc
        finally:
            conn.close()
    except TeamUnavailable as exc:
        sys.stderr.write(f"tactful stats: {exc}\n")
        return 2
    if args.plot:
        try:
            Path(args.plot).write_text(
                render_html(summary.total, title="tactful: what the team took, what it saved"),
                encoding="utf-8",
            )
        except OSError as exc:
            sys.stderr.write(f"tactful stats: cannot write {args.plot}: {exc}\n")
            return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(summary.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_team_text(summary))
        if args.plot:
            sys.stdout.write(f"\nCharts written to {args.plot}\n")
    return 0

"""``tactful serve [--tcp HOST:PORT]``: the language server, on stdio by default."""

from __future__ import annotations

import argparse
import logging
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    parser.add_argument("--stdio", action="store_true", help="use stdio (the default)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import gc

    from tactful.server.app import build_server
    from tactful.server.log import ClientLogHandler, fit_root_level, setup_file_logging

    setup_file_logging()
    server = build_server()
    # Everything imported so far lives as long as the server: keep it out of the collector's
    # way, so a full collection during typing does not walk the protocol's type tables.
    gc.collect()
    gc.freeze()
    handler = ClientLogHandler(server, logging.INFO)
    server.log_handler = handler
    logging.getLogger().addHandler(handler)
    fit_root_level()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            print(f"tactful: --tcp expects HOST:PORT, got {args.tcp!r}", file=sys.stderr)
            return 2
        return server.serve_tcp(host, int(port))
    return server.serve_stdio()

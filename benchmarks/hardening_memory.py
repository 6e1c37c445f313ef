"""Memory over a long session: the server's RSS after 1,000 and after 100,000 edits.

Run: ``.venv/bin/python benchmarks/hardening_memory.py [--edits 100000]``; prints JSON.

A developer types into one Python document over real pipes (tests/fixtures/editing.py: a
character per ``didChange``, typos taken back, the module deleted and typed again once it is
120 lines long), asks for an inline completion every 8 edits, accepts about a third of those
that show something, and stops for ``--pause`` seconds every 1,000 edits: the quality findings,
their fixes and the review wait for typing to stop, and run then, as they would for anyone
(without pauses they ran only when the machine's load stalled the typist, so the figures
depended on the load). RSS (``VmRSS``) and its anonymous part (``RssAnon``: what the server
allocated, not the pages of the libraries it maps) are read at the end of the pause at each
checkpoint; the figure that matters is ``growth_mb``: RSS at the end less RSS after 1,000 edits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures.editing import Typist, rss_mb
from hardening_input import _start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=100_000)
    parser.add_argument("--pause", type=float, default=2.0)
    args = parser.parse_args()
    checkpoints = sorted({1_000, *range(10_000, args.edits + 1, 10_000), args.edits})
    rss: dict[int, float] = {}
    anon: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="tactful-memory-") as folder:
        client, uri = _start(Path(folder))
        try:
            typist = Typist(client, uri.replace("known.py", "typed.py"))
            started = time.monotonic()
            for checkpoint in checkpoints:
                while typist.edits < checkpoint:
                    typist.type(min(1_000, checkpoint - typist.edits))
                    time.sleep(args.pause)
                rss[checkpoint] = round(rss_mb(client.process.pid), 1)
                anon[checkpoint] = round(rss_mb(client.process.pid, "RssAnon"), 1)
            elapsed = time.monotonic() - started
            accepted = typist.accepted
        finally:
            client.close()
    report = {
        "edits": args.edits,
        "pause_s": args.pause,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "rss_mb": rss,
        "growth_mb": round(rss[args.edits] - rss[1_000], 1),
        "rss_anon_mb": anon,
        "anon_growth_mb": round(anon[args.edits] - anon[1_000], 1),
        "accepted": accepted,
        "seconds": round(elapsed, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

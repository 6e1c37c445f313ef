"""Replay typing against the local engine in-process (no server): a quick loop for tuning.

``tactful bench completion`` is the measure of record (it goes through the real server over
stdio); this script runs the same typing loop (``tactful.suggestion.replay``) on the same sample
of files (Python ones, by ``--seed``) straight against the engine, faster and with the engine's
knobs exposed, so a change can be checked on held-out projects before the real bench is run.
It also prints how often suggestions of each origin and score were taken (``calibration``).

    python benchmarks/replay_local.py CORPUS [--files N] [--threshold P] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from tactful.suggestion.local.engine import Tuning
from tactful.suggestion.replay import LocalCompleter, Step, replay, sample_files


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=Tuning().threshold)
    parser.add_argument("--document-weight", type=float, default=Tuning().document_weight)
    parser.add_argument("--discount", type=float, default=Tuning().discount)
    parser.add_argument("--semantic", action="store_true", help="ask jedi (slow in-process)")
    args = parser.parse_args()
    root = args.corpus.resolve()
    chosen = sample_files(root, args.files, args.seed, ["python"])
    tuning = Tuning(
        threshold=args.threshold,
        document_weight=args.document_weight,
        discount=args.discount,
        semantic=args.semantic,
    )
    # (origin, score to one decimal) -> [shown, accepted]
    calibration: dict[tuple[str, float], list[int]] = {}

    def watch(step: Step) -> None:
        suggestion = step.offer.suggestion if step.offer is not None else None
        if suggestion is not None:
            bucket = calibration.setdefault((suggestion.origin, round(suggestion.score, 1)), [0, 0])
            bucket[0] += 1
            bucket[1] += step.accepted

    tally = asyncio.run(replay(LocalCompleter(root, tuning), root, chosen, watch=watch))
    summary = tally.summary()
    summary["calibration"] = {
        f"{kind}:{score}": [n, round(ok / n, 2)]
        for (kind, score), (n, ok) in sorted(calibration.items())
    }
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

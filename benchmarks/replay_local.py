"""Replay typing against the local engine in-process (no server): a quick loop for tuning.

``tactful bench completion`` is the measure of record (it goes through the real server over
stdio); this script only gives the same keystroke figures faster, with the engine's knobs
exposed, so a change can be checked on held-out projects before the real bench is run.

    python benchmarks/replay_local.py CORPUS [--files N] [--threshold P] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from tactful.analyzers.index import RepositoryIndex, source_files
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.text import Point
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.replay import Tally, Typist
from tactful.suggestion.types import CompletionRequest


def replay(root: Path, files: list[str], tuning: Tuning, calibration: dict) -> Tally:
    total = Tally()
    index = RepositoryIndex(root, persist=False)
    index.build()
    for relative in files:
        text = (root / relative).read_text(encoding="utf-8", errors="replace")
        language = language_of_path(relative) or "plaintext"
        index.exclude(relative)
        engine = LocalEngine(index, tuning)
        typist = Typist(text, language)
        while not typist.done:
            typist.type_chunk()
            typed = typist.typed
            row = typed.count("\n")
            column = len(typed) - (typed.rfind("\n") + 1)
            request = CompletionRequest(
                uri=f"file://{root / relative}",
                path=str(root / relative),
                language_id=language,
                version=1,
                text=typed,
                position=Point(row, column),
                workspace_root=str(root),
            )
            started = time.perf_counter()
            found = engine.suggest(request)
            elapsed = (time.perf_counter() - started) * 1000
            text_shown = found[0].text if found else None
            if found:
                ok = typist.target.startswith(found[0].text, typist.position)
                bucket = calibration.setdefault(
                    (found[0].origin, round(found[0].score, 1)),
                    [0, 0],
                )
                bucket[0] += 1
                bucket[1] += ok
            typist.offer(text_shown, elapsed)
        index.update(relative, text)
        index._excluded.discard(relative)
        index.update(relative, text)
        total.merge(typist.tally)
    return total


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
    candidates = [f for f in source_files(root) if f.endswith(".py")]
    random.Random(args.seed).shuffle(candidates)
    chosen = candidates[: args.files]
    tuning = Tuning(
        threshold=args.threshold,
        document_weight=args.document_weight,
        discount=args.discount,
        semantic=args.semantic,
    )
    calibration: dict = {}
    tally = replay(root, chosen, tuning, calibration)
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

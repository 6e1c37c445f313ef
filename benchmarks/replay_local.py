"""Replay typing against the local engine in-process (no server): a quick loop for tuning.

``tactful bench completion`` and ``tactful bench edits`` are the measures of record (they go
through the real server over stdio); this script runs the same typing loop
(``tactful.suggestion.replay``) straight against the engine, faster and with the engine's knobs
exposed, so a change can be checked on held-out projects before the real bench is run. What the
engine proposes goes through the server's clean-up (``postprocess``) but not the acceptance
filter. It also prints how often suggestions of each origin and score were taken
(``calibration``).

    python benchmarks/replay_local.py CORPUS [--files N] [--threshold P] [--seed S]
    python benchmarks/replay_local.py --edits REPO [--commits N] [--seed S] [--max-added N]

With ``--edits``, REPO's sampled commits are replayed as ``bench edits`` replays them (the
workspace at each commit's parent, each changed file edited hunk by hunk); the summary is that
of the in-context edits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tactful.analyzers.languages import language_of_path
from tactful.server.cli.bench_edits import commits, show
from tactful.suggestion.local.engine import Tuning
from tactful.suggestion.postprocess import clean
from tactful.suggestion.replay import (
    HEAD_LINES,
    LocalCompleter,
    Offer,
    Step,
    Tally,
    edit_file,
    replay,
    request_at_end,
    sample_files,
)


class CleanedCompleter(LocalCompleter):
    """The engine's suggestions as the server's clean-up leaves them."""

    async def suggest(self, typed: str, after: str = "") -> Offer | None:
        offer = await super().suggest(typed, after)
        if offer is None or offer.suggestion is None:
            return offer
        request = request_at_end(
            self.root, self._path, self._language, typed, self._version, after=after
        )
        kept = clean(request, offer.suggestion)
        return Offer(kept.text, kept) if kept is not None else None


def replay_edits(
    repository: Path,
    count: int,
    seed: int,
    max_added: int,
    tuning: Tuning,
    watch: Callable[[Step], None],
) -> Tally:
    chosen = commits(repository, count, seed)
    total = Tally()
    with tempfile.TemporaryDirectory(prefix="tactful-replay-") as scratch:
        root = Path(scratch) / "workspace"
        subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", str(repository), str(root)], check=True
        )
        for commit in chosen:
            subprocess.run(
                ["git", "checkout", "--quiet", "--force", "--detach", commit.parent],
                cwd=root,
                check=True,
            )
            completer = CleanedCompleter(root, tuning)
            for path in commit.modified:
                old = show(repository, commit.parent, path)
                new = show(repository, commit.id, path)
                language = language_of_path(path) or "plaintext"
                part = asyncio.run(
                    edit_file(completer, path, old, new, language, max_added=max_added, watch=watch)
                )
                total.merge(part)
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path, nargs="?")
    parser.add_argument("--edits", type=Path, help="a git repository whose commits to replay")
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--max-added", type=int, default=40)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=Tuning().threshold)
    parser.add_argument("--document-weight", type=float, default=Tuning().document_weight)
    parser.add_argument("--discount", type=float, default=Tuning().discount)
    parser.add_argument("--length-decay", type=float, default=Tuning().length_decay)
    parser.add_argument("--deleted-weight", type=float, default=Tuning().deleted_weight)
    parser.add_argument(
        "--string-words", action=argparse.BooleanOptionalAction, default=Tuning().string_words
    )
    parser.add_argument("--doubt", type=float, default=Tuning().doubt)
    parser.add_argument("--language-weight", type=float, default=Tuning().language_weight)
    parser.add_argument("--language-cap", type=float, default=Tuning().language_cap)
    parser.add_argument("--other-kind-weight", type=float, default=Tuning().other_kind_weight)
    parser.add_argument("--imported-weight", type=float, default=Tuning().imported_weight)
    parser.add_argument("--semantic", action="store_true", help="ask jedi (slow in-process)")
    args = parser.parse_args()
    tuning = Tuning(
        threshold=args.threshold,
        document_weight=args.document_weight,
        discount=args.discount,
        deleted_weight=args.deleted_weight,
        string_words=args.string_words,
        doubt=args.doubt,
        language_weight=args.language_weight,
        language_cap=args.language_cap,
        other_kind_weight=args.other_kind_weight,
        length_decay=args.length_decay,
        imported_weight=args.imported_weight,
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

    head = Tally()
    if args.edits is not None:
        tally = replay_edits(
            args.edits.resolve(), args.commits, args.seed, args.max_added, tuning, watch
        )
    elif args.corpus is not None:
        root = args.corpus.resolve()
        chosen = sample_files(root, args.files, args.seed, ["python"])
        tally = asyncio.run(
            replay(CleanedCompleter(root, tuning), root, chosen, watch=watch, head=head)
        )
    else:
        parser.error("a CORPUS or --edits REPO")
    summary = tally.summary()
    if args.edits is None:
        summary[f"first_{HEAD_LINES}_lines"] = head.summary()
    summary["calibration"] = {
        f"{kind}:{score}": [n, round(ok / n, 2)]
        for (kind, score), (n, ok) in sorted(calibration.items())
    }
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

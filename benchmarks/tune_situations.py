"""Choose the filter's threshold offset for a situation on trajectories, under the same budget.

    python benchmarks/tune_situations.py context REPO... [--commits N] [--seed S] [--offsets ...]
    python benchmarks/tune_situations.py head CORPUS... [--files N] [--seed S] [--offsets ...]

The shipped prior's threshold was chosen on trajectories of new files typed top to bottom
(``benchmarks/train_acceptance.py``, ``TRAJECTORY_LOSS``). A situation (``features.situation``)
where hiding costs less or more than there gets an offset chosen the same way, on that
situation's own trajectories: ``context``, REPO's sampled commits replayed as ``tactful bench
edits`` replays them (each changed file edited in place, the code below the cursor present);
``head``, CORPUS's sampled files typed as new files, counting only their first ``HEAD_LINES``
lines. Each trial types them again with the shipped prior's cascade hiding what it judges
(learning off, no exploration) with the offset applied in that situation, and compares the
keystrokes saved with an unfiltered replay of the same trajectories. The offset chosen is the
highest whose loss, pooled over the repositories or corpora given, is at most
``TRAJECTORY_LOSS``. Development data only (click's and requests' histories and corpora);
``tactful bench edits|completion --filter compare`` is the measure of record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay_local import CleanedCompleter
from train_acceptance import SEED, TRAJECTORY_LOSS, Request, _Typing

from tactful.analyzers.languages import language_of_path
from tactful.feedback.acceptance.cascade import AcceptanceModel
from tactful.feedback.acceptance.features import HEAD_LINES
from tactful.feedback.acceptance.model import Prior, shipped_prior
from tactful.server.cli.bench_edits import commits, show
from tactful.suggestion.replay import (
    Typist,
    edit_file,
    pasted_head,
    sample_files,
    source_text,
    type_into,
)


def _cascade(situation: str, offset: float | None) -> AcceptanceModel | None:
    if offset is None:
        return None
    prior = shipped_prior()
    offsets = {situation: offset}
    prior = Prior(prior.gate, replace(prior.filter, offsets=offsets), prior.meta)
    return AcceptanceModel(prior, explore=0.0, seed=SEED)


def edits(job: tuple[str, int, int, int, float | None]) -> list[Request]:
    """REPO's sampled commits edited in place, through the cascade (None: everything shown)."""
    repository, count, seed, max_added, offset = job
    repo = Path(repository)
    typing: _Typing | None = None
    records: list[Request] = []
    with tempfile.TemporaryDirectory(prefix="tactful-situations-") as scratch:
        root = Path(scratch) / "workspace"
        subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", str(repo), str(root)], check=True
        )
        for commit in commits(repo, count, seed):
            subprocess.run(
                ["git", "checkout", "--quiet", "--force", "--detach", commit.parent],
                cwd=root,
                check=True,
            )
            local = CleanedCompleter(root)
            fresh = _Typing(root, _cascade("context", offset) if typing is None else None, local)
            if typing is not None:
                # One developer through the whole replay: history and clock go on.
                fresh.cascade, fresh.history, fresh.clock = (
                    typing.cascade,
                    typing.history,
                    typing.clock,
                )
            typing = fresh
            for path in commit.modified:
                old = show(repo, commit.parent, path)
                new = show(repo, commit.id, path)
                language = language_of_path(path) or "plaintext"
                asyncio.run(
                    edit_file(
                        typing, path, old, new, language, max_added=max_added, watch=typing.watch
                    )
                )
            records += typing.records
            typing.records = []
    return records


def heads(job: tuple[str, int, int, float | None]) -> list[Request]:
    """CORPUS's sampled files typed as new files through the cascade, each only as far as its
    first ``HEAD_LINES`` lines (nothing after the cursor, as when the whole file is typed; a
    suggestion reaching past them counts as rejected), with the rest of the corpus indexed."""
    corpus, files, seed, offset = job
    source = Path(corpus)
    chosen = sample_files(source, files, seed)
    with tempfile.TemporaryDirectory(prefix="tactful-situations-") as scratch:
        root = Path(scratch) / source.name
        shutil.copytree(source, root, ignore=shutil.ignore_patterns(".git"))
        typing = _Typing(root, _cascade("head", offset), CleanedCompleter(root, returns=False))

        async def typed() -> None:
            for path in chosen:
                text = source_text(root / path)
                language = language_of_path(path) or "plaintext"
                cut = 0
                for _ in range(HEAD_LINES):
                    cut = text.find("\n", cut) + 1
                    if cut == 0:
                        cut = len(text)
                        break
                head = text[:cut]
                typist = Typist(head, pasted_head(head, language))
                await typing.open(path, language, typist.typed)
                await type_into(typing, path, typist, watch=typing.watch)
                await typing.close(path, text)

        asyncio.run(typed())
    return typing.records


def tally(records: list[Request]) -> tuple[int, int]:
    saved = sum(r.saved for r in records if r.accepted)
    rejected = sum(1 for r in records if r.text and not r.accepted)
    return saved, rejected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("situation", choices=("context", "head"))
    parser.add_argument("sources", type=Path, nargs="+")
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--max-added", type=int, default=40)
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--offsets", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.15])
    args = parser.parse_args()
    trials: list[float | None] = [None, *args.offsets]
    if args.situation == "context":
        jobs: list[tuple] = [
            (str(s.resolve()), args.commits, args.seed, args.max_added, t)
            for t in trials
            for s in args.sources
        ]
        run = edits
    else:
        jobs = [(str(s.resolve()), args.files, args.seed, t) for t in trials for s in args.sources]
        run = heads
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, jobs))
    per = len(args.sources)
    by_trial = {}
    for k, offset in enumerate(trials):
        records = [r for part in results[k * per : (k + 1) * per] for r in part]
        by_trial[offset] = tally(records)
    saved_all, rejected_all = by_trial[None]
    rows = []
    chosen = None
    for offset in args.offsets:
        saved, rejected = by_trial[offset]
        loss = 1.0 - saved / max(saved_all, 1)
        row = {
            "offset": offset,
            "threshold": round(shipped_prior().filter.threshold + offset, 4),
            "saved_keystrokes_lost_share": round(loss, 4),
            "would_be_rejected_hidden_share": round(1.0 - rejected / max(rejected_all, 1), 4),
        }
        rows.append(row)
        if loss <= TRAJECTORY_LOSS and (chosen is None or offset > chosen):
            chosen = offset
    summary = {
        "situation": args.situation,
        "sources": [s.name for s in args.sources],
        "unfiltered": {"saved": saved_all, "rejected": rejected_all},
        "trials": rows,
        "budget": TRAJECTORY_LOSS,
        "chosen_offset": chosen,
    }
    json.dump(summary, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

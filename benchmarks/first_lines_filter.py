"""What the acceptance filter hides on the first lines of new files, against the rest of them.

    python benchmarks/first_lines_filter.py CORPUS [--files N] [--seed S]

Types the sampled files (as ``tactful bench completion`` samples them) twice in this process
against the local engine, as the prior's training replays do (``benchmarks/train_acceptance.py``):
once with everything shown, once with the shipped prior's gate and filter hiding what they judge
(learning off, no exploration). Reports, for each file's first ``HEAD_LINES`` lines and for the
rest, the keystrokes saved by each run and what hiding lost, and the suggestions each stage hid
that the text then went on to match (keystrokes they would have saved, as if taken there), in
code and in prose (a comment, or inside a triple-quoted string). ``tactful bench completion
--filter compare`` is the measure of record; this says where the difference comes from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_acceptance import Request, _Typing

from tactful.feedback.acceptance.cascade import AcceptanceModel
from tactful.feedback.acceptance.features import Candidate
from tactful.feedback.acceptance.model import shipped_prior
from tactful.suggestion.keystrokes import keystrokes
from tactful.suggestion.replay import (
    HEAD_LINES,
    Offer,
    replay,
    sample_files,
    source_text,
)


class Hiding(_Typing):
    """The training replays' typing, noting what the cascade hid and where."""

    def __init__(self, root: Path, cascade: AcceptanceModel) -> None:
        super().__init__(root, cascade)
        self.cascade_model = cascade
        # (stage, row, path, text hidden, text before the cursor)
        self.hid: list[tuple[str, int, str, str, str]] = []

    async def suggest(self, typed: str, after: str = "") -> Offer | None:
        start = typed.rfind("\n") + 1
        row = typed.count("\n")
        previous_start = typed.rfind("\n", 0, max(start - 1, 0)) + 1 if start else 0
        previous = typed[previous_start : max(start - 1, 0)] if start else ""
        record = Request(self.path, self.language, typed[start:], previous, row, self.clock)
        self.records.append(record)
        ctx = self.history.context(
            self.language,
            record.line_prefix,
            after.partition("\n")[0],
            previous,
            row,
            now=self.clock,
            document=self.path,
            path=self.path,
        )
        gate = self.cascade_model.gate(ctx)
        offer = await self.local.suggest(typed, after)
        found = offer.suggestion if offer is not None else None
        if found is None:
            return None
        seen = Candidate.of(found)
        if not gate.show:
            self.hid.append(("gate", row, self.path, seen.text, typed))
            return None
        if not self.cascade_model.judge(ctx, seen, gate).show:
            self.hid.append(("filter", row, self.path, seen.text, typed))
            return None
        record.text, record.score, record.kind = seen.text, seen.score, seen.kind
        record.engine, record.origin, record.evidence = seen.engine, seen.origin, seen.evidence
        return offer


def _prose(typed: str) -> bool:
    line = typed[typed.rfind("\n") + 1 :]
    return "#" in line or (typed.count('"""') + typed.count("'''")) % 2 == 1


def _part(row: int) -> str:
    return "first_lines" if row < HEAD_LINES else "rest"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    files = sample_files(corpus, args.files, args.seed)
    saved: dict[str, Counter[str]] = {"off": Counter(), "prior": Counter()}
    hidden: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="tactful-first-lines-") as scratch:
        root = Path(scratch) / corpus.name
        shutil.copytree(corpus, root, ignore=shutil.ignore_patterns(".git"))
        shown = _Typing(root, None)
        asyncio.run(replay(shown, root, files, watch=shown.watch))
        hiding = Hiding(root, AcceptanceModel(shipped_prior(), explore=0.0, seed=args.seed))
        asyncio.run(replay(hiding, root, files, watch=hiding.watch))
    for run, typing in (("off", shown), ("prior", hiding)):
        for record in typing.records:
            saved[run][_part(record.line_number)] += record.saved
    texts = {path: source_text(corpus / path) for path in files}
    for stage, row, path, text, typed in hiding.hid:
        if texts[path].startswith(typed + text):
            kind = "prose" if _prose(typed) else "code"
            hidden[f"{_part(row)}:{stage}:{kind}"] += keystrokes(text) - 1
    report = {
        "files": files,
        "saved": {run: dict(parts) for run, parts in saved.items()},
        "saved_keystrokes_lost_share": {
            part: round(1 - saved["prior"][part] / saved["off"][part], 4)
            for part in ("first_lines", "rest")
            if saved["off"][part]
        },
        "hidden_then_typed_keystrokes": dict(sorted(hidden.items())),
    }
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

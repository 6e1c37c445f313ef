"""Train the acceptance prior on replays of real code, and measure it honestly.

    python benchmarks/train_acceptance.py                 # replay, evaluate, write the prior
    python benchmarks/train_acceptance.py --check-only    # evaluate, leave the prior alone
    python benchmarks/train_acceptance.py --unseen PATH   # also test on a project never trained on

Data: each corpus (click 8.1.8 and requests 2.32.3 sources, fetched into ``benchmarks/corpora/``
by ``benchmarks/corpora.py``) is replayed as a developer typing
it (``tactful.suggestion.replay.Typist``: the same typist, chunks and acceptance rule as
``tactful bench completion``) against the local engine, which has indexed the rest of the
project but never the file being typed. Every request is one gate example (will this moment end
in an accept?), every suggestion one filter example (is it accepted?), weighted by the
keystrokes it would save, since those are what the filter must not lose.

Honesty: the figures printed are for a prior trained on one corpus and tested on the other
(both directions), with and without online learning during the test replay, plus any
``--unseen`` project. The shipped prior is then trained on both corpora, with thresholds tuned on
a held-out part of them. Everything is seeded: the same corpora give the same ``prior.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tactful.analyzers.index import RepositoryIndex, source_files
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.text import Point
from tactful.feedback.acceptance.cascade import AcceptanceModel, History, example_weight
from tactful.feedback.acceptance.evaluation import Example, auc, evaluate, tune
from tactful.feedback.acceptance.features import Candidate, candidate_features, context_features
from tactful.feedback.acceptance.model import Prior, Stage, fit
from tactful.suggestion.keystrokes import keystrokes
from tactful.suggestion.local.engine import LocalEngine
from tactful.suggestion.replay import Typist
from tactful.suggestion.types import CompletionRequest

HERE = Path(__file__).resolve().parent
CORPORA = {
    "click": HERE / "corpora" / "click-8.1.8",
    "requests": HERE / "corpora" / "requests-2.32.3",
}
CACHE = HERE / "results" / "acceptance"
# Bumped whenever a replay records something new, so an old cache is not read as the new one.
REPLAY_FORMAT = 2
PRIOR = HERE.parent / "feedback" / "acceptance" / "prior.json"
SECONDS_PER_KEYSTROKE = 0.2
SEED = 20251127
# Shares of saved keystrokes the cascade may lose on the tuning data: the gate's part, then the
# whole cascade's (the target is 5%; the rest is margin for data it has not seen).
GATE_LOSS = 0.01
TOTAL_LOSS = 0.06
PRUNE = 0.03
ONLINE_RATE = 0.01


@dataclass
class Request:
    """One completion request of a replay and what became of its suggestion."""

    file: str
    language: str
    line_prefix: str
    previous_line: str
    line_number: int
    t: float
    text: str = ""
    score: float = 0.0
    kind: str = ""
    engine: str = ""
    origin: str = ""
    evidence: tuple[float, float, float, int, float] | None = None
    accepted: bool = False
    saved: int = 0


def replay(corpus: Path, limit: int | None = None) -> list[Request]:
    """Type every Python source file of a corpus against the local engine (everything shown)."""
    # A copy outside any git repository: the corpora folder is ignored by ours, and the index
    # lists a repository's files through git.
    with tempfile.TemporaryDirectory(prefix="tactful-train-") as tmp:
        root = Path(tmp) / corpus.name
        shutil.copytree(corpus, root, ignore=shutil.ignore_patterns(".git"))
        return _replay(root, limit)


def _replay(root: Path, limit: int | None) -> list[Request]:
    files = sorted(f for f in source_files(root) if f.endswith(".py"))
    if limit is not None:
        files = random.Random(SEED).sample(files, min(limit, len(files)))
    index = RepositoryIndex(root, persist=False)
    index.build()
    records: list[Request] = []
    clock = 0.0
    for relative in files:
        text = (root / relative).read_text(encoding="utf-8", errors="replace")
        language = language_of_path(relative) or "plaintext"
        index.exclude(relative)
        engine = LocalEngine(index)
        typist = Typist(text, language)
        while not typist.done:
            chunk = typist.type_chunk()
            clock += SECONDS_PER_KEYSTROKE * keystrokes(chunk)
            typed = typist.typed
            start = typed.rfind("\n") + 1
            row = typed.count("\n")
            previous_start = typed.rfind("\n", 0, max(start - 1, 0)) + 1 if start else 0
            request = CompletionRequest(
                uri=f"file://{root / relative}",
                path=str(root / relative),
                language_id=language,
                version=1,
                text=typed,
                position=Point(row, len(typed) - start),
                workspace_root=str(root),
            )
            found = engine.suggest(request)
            record = Request(
                relative,
                language,
                typed[start:],
                typed[previous_start : max(start - 1, 0)] if start else "",
                row,
                clock,
            )
            if found:
                best = found[0]
                record.text = best.text
                record.score = best.score
                record.kind = best.kind
                record.engine = best.engine
                record.origin = "shape" if best.meta.get("shape") else "ngram"
                evidence = best.meta.get("evidence")
                record.evidence = tuple(evidence) if isinstance(evidence, tuple) else None  # type: ignore[assignment]
            accepted = typist.offer(record.text or None)
            if accepted:
                record.accepted = True
                record.saved = keystrokes(record.text) - 1
                clock += SECONDS_PER_KEYSTROKE
            records.append(record)
        index.update(relative, text)
    return records


def load(name: str, root: Path, refresh: bool, limit: int | None = None) -> list[Request]:
    stem = f"{name}-r{REPLAY_FORMAT}" + ("" if limit is None else f"-{limit}")
    cache = CACHE / f"{stem}.jsonl.gz"
    if cache.exists() and not refresh:
        with gzip.open(cache, "rt", encoding="utf-8") as handle:
            records = [Request(**json.loads(line)) for line in handle]
        for record in records:
            if record.evidence is not None:
                record.evidence = tuple(record.evidence)  # type: ignore[assignment]
        return records
    started = time.perf_counter()
    records = replay(root, limit)
    sys.stderr.write(
        f"replayed {name}: {len(records)} requests in {time.perf_counter() - started:.0f} s\n"
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    with gzip.open(cache, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(asdict(record)) + "\n")
    return records


def examples(records: list[Request]) -> list[Example]:
    """Features as the server computes them, with the history a developer who saw every
    suggestion would have had."""
    history = History()
    out: list[Example] = []
    for r in records:
        ctx = history.context(
            r.language, r.line_prefix, "", r.previous_line, r.line_number, now=r.t, document=r.file
        )
        context = context_features(ctx)
        features = None
        candidate = None
        if r.text:
            candidate = Candidate(r.text, r.engine, r.score, r.kind, None, 0, r.origin, r.evidence)
            features = candidate_features(ctx, candidate, context)
            history.note_shown(r.file, r.line_number, r.line_prefix, r.text)
            history.note(r.accepted, now=r.t)
        out.append(
            Example(
                r.file,
                context,
                features,
                r.accepted,
                r.saved,
                r.language,
                r.line_prefix,
                r.previous_line,
                r.line_number,
                r.t,
                candidate if r.text else None,
            )
        )
    return out


def train(data: list[Example], meta: dict[str, object]) -> Prior:
    """Fit both stages on 80% of the files, tune thresholds on the other 20%, refit on all."""
    files = sorted({e.file for e in data})
    held = set(random.Random(SEED).sample(files, max(1, len(files) // 5)))
    fit_part = [e for e in data if e.file not in held]
    tune_part = [e for e in data if e.file in held]
    gate_w, filter_w = _fit(fit_part)
    thresholds = tune(tune_part, gate_w, filter_w, gate_loss=GATE_LOSS, total_loss=TOTAL_LOSS)
    gate_w, filter_w = _fit(data)
    meta = {**meta, "tuning": thresholds}
    # Weights this small change no decision that matters; dropping them keeps the file small.
    gate_w = {i: w for i, w in gate_w.items() if abs(w) >= PRUNE}
    filter_w = {i: w for i, w in filter_w.items() if abs(w) >= PRUNE}
    return Prior(
        gate=Stage(gate_w, thresholds["gate"], rate=ONLINE_RATE, initial_accumulator=1.0),
        filter=Stage(filter_w, thresholds["filter"], rate=ONLINE_RATE, initial_accumulator=1.0),
        meta=meta,
    )


def _fit(data: list[Example]) -> tuple[dict[int, float], dict[int, float]]:
    order = list(range(len(data)))
    random.Random(SEED).shuffle(order)
    gate = [(e.context, e.accepted, _weight(e)) for e in data]
    gate_w = fit(gate, seed_order=order)
    shown = [(e.features, e.accepted, _weight(e)) for e in data if e.features is not None]
    order = list(range(len(shown)))
    random.Random(SEED + 1).shuffle(order)
    filter_w = fit(shown, seed_order=order)
    return gate_w, filter_w


def _weight(e: Example) -> float:
    return example_weight(e.accepted, e.saved)


def report(name: str, prior: Prior, data: list[Example]) -> dict[str, object]:
    with_prior = evaluate(AcceptanceModel(prior, explore=0.0, seed=SEED), data, online=False)
    online = evaluate(AcceptanceModel(prior, explore=0.05, seed=SEED), data, online=True)
    return {"test": name, "prior_only": with_prior, "online": online}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", action="store_true", help="replay again, ignore the cache")
    parser.add_argument("--check-only", action="store_true", help="do not write the prior")
    parser.add_argument("--unseen", type=Path, action="append", default=[], help="test project")
    parser.add_argument(
        "--unseen-files", type=int, default=None, help="type only N (seeded) files of each"
    )
    parser.add_argument("--output", type=Path, default=PRIOR)
    args = parser.parse_args()
    for root in CORPORA.values():
        if not root.is_dir():
            sys.stderr.write(f"missing corpus {root}: see this script's docstring\n")
            return 2
    data = {name: examples(load(name, root, args.refresh)) for name, root in CORPORA.items()}
    results = []
    names = list(CORPORA)
    for train_name in names:
        for test_name in names:
            if test_name == train_name:
                continue
            prior = train(data[train_name], {"id": f"cross-{train_name}"})
            results.append({"train": train_name, **report(test_name, prior, data[test_name])})
    everything = [e for name in names for e in data[name]]
    shipped = train(everything, {"id": "", "trained_on": names})
    ident = f"replay-{'-'.join(names)}-{len(everything)}"
    shipped = Prior(shipped.gate, shipped.filter, {**shipped.meta, "id": ident})
    for project in args.unseen:
        unseen = examples(load(project.name, project, args.refresh, args.unseen_files))
        results.append({"train": "+".join(names), **report(project.name, shipped, unseen)})
    summary = {
        "shipped": {
            "id": ident,
            "gate_threshold": shipped.gate.threshold,
            "filter_threshold": shipped.filter.threshold,
            "gate_weights": len(shipped.gate.weights),
            "filter_weights": len(shipped.filter.weights),
            "filter_auc_on_training_data": auc(
                [
                    (AcceptanceModel(shipped).filter_model.predict(e.features), e.accepted)
                    for e in everything
                    if e.features is not None
                ]
            ),
        },
        "results": results,
    }
    json.dump(summary, sys.stdout, indent=1)
    sys.stdout.write("\n")
    if not args.check_only:
        args.output.write_text(shipped.dumps() + "\n", encoding="utf-8")
        sys.stderr.write(f"wrote {args.output} ({args.output.stat().st_size} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

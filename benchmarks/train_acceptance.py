"""Train the acceptance prior on replays of real code, and measure it honestly.

    python benchmarks/train_acceptance.py                 # replay, evaluate, write the prior
    python benchmarks/train_acceptance.py --check-only    # evaluate, leave the prior alone
    python benchmarks/train_acceptance.py --unseen PATH   # also test on a project never trained on

Data: each corpus (click 8.1.8 and requests 2.32.3 sources, fetched into ``benchmarks/corpora/``
by ``benchmarks/corpora.py``) is replayed as a developer typing it (``tactful.suggestion.replay``:
the same typing loop, typist, chunks and acceptance rule as ``tactful bench completion``)
against the local engine, which has indexed the rest of the project but never the file being
typed (nor, for the rest of the replay, the files typed before it: the data the shipped prior
was trained on). Every request is one gate example (will this moment end
in an accept?), every suggestion one filter example (is it accepted?), weighted by the
keystrokes it would save, since those are what the filter must not lose.

Honesty: the figures printed are for a prior trained on one corpus and tested on the other
(both directions), with and without online learning during the test replay, plus any
``--unseen`` project. The figures of those in-process evaluations are static (a hidden accept is
counted as lost for good); ``tactful bench completion --filter compare`` measures the server on
its own trajectories.

Thresholds: each prior is fitted on 80% of its files. The gate's threshold is set statically on
the other 20%; the filter's by typing those 20% again with the cascade hiding what it judges and
keeping the highest threshold at which the developer loses at most ``TRAJECTORY_LOSS`` of the
keystrokes they saved unfiltered (``tune_on_trajectories``). Then the weights are fitted on all
files. Everything is seeded: the same corpora give the same ``prior.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tactful.analyzers.index import source_files
from tactful.feedback.acceptance.cascade import AcceptanceModel, History, example_weight
from tactful.feedback.acceptance.evaluation import Example, auc, evaluate, tune
from tactful.feedback.acceptance.features import Candidate, candidate_features, context_features
from tactful.feedback.acceptance.model import Prior, Stage, fit
from tactful.suggestion.keystrokes import keystrokes
from tactful.suggestion.replay import LocalCompleter, Offer, Step
from tactful.suggestion.replay import replay as type_files

HERE = Path(__file__).resolve().parent
CORPORA = {
    "click": HERE / "corpora" / "click-8.1.8",
    "requests": HERE / "corpora" / "requests-2.32.3",
}
CACHE = HERE / "results" / "acceptance"
# Bumped whenever a replay records something new or the engine suggests differently, so an old
# cache is not read as the new one (7: the engine's doubt and strings' words).
REPLAY_FORMAT = 7
PRIOR = HERE.parent / "feedback" / "acceptance" / "prior.json"
SECONDS_PER_KEYSTROKE = 0.2
SEED = 20251127
# Shares of saved keystrokes the cascade may lose on the tuning data: the gate's part, then the
# whole cascade's counted statically (every hidden accept lost), which only seeds the report;
# the filter's threshold is then set on replays of the held-out files, where a developer may
# lose at most TRAJECTORY_LOSS of their saved keystrokes (the target is at most 5%; this is only
# where a workspace starts, and its threshold then follows what hiding costs there, under the
# same budget: ``tactful.feedback.acceptance.budget``). Thresholds are searched in
# TRAJECTORY_RANGE.
GATE_LOSS = 0.01
TOTAL_LOSS = 0.06
TRAJECTORY_LOSS = 0.04
TRAJECTORY_RANGE = (0.3, 0.7)
TRAJECTORY_STEPS = 4
PRUNE = 0.03
ONLINE_RATE = 0.01
# The filter threshold's offsets by situation (``features.situation``), each chosen on that
# situation's own trajectories under TRAJECTORY_LOSS by ``benchmarks/tune_situations.py``
# (docs/bench.md, "A threshold for editing inside existing code"); kept when the prior is
# retrained (chosen again if its weights move much).
SITUATIONS = {"context": 0.0375}


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
    prose: bool | None = None  # the engine's flag, recorded; not a feature (held-out: no gain)
    accepted: bool = False
    saved: int = 0


def replay(
    corpus: Path,
    limit: int | None = None,
    files: list[str] | None = None,
    cascade: AcceptanceModel | None = None,
) -> list[Request]:
    """Type the Python source files of a corpus (``files``, or all, or a seeded sample of
    ``limit``) against the local engine: everything shown, or what ``cascade`` lets through."""
    # A copy outside any git repository: the corpora folder is ignored by ours, and the index
    # lists a repository's files through git.
    with tempfile.TemporaryDirectory(prefix="tactful-train-") as tmp:
        root = Path(tmp) / corpus.name
        shutil.copytree(corpus, root, ignore=shutil.ignore_patterns(".git"))
        if files is None:
            files = sorted(f for f in source_files(root) if f.endswith(".py"))
            if limit is not None:
                files = random.Random(SEED).sample(files, min(limit, len(files)))
        return _replay(root, files, cascade)


def _replay(root: Path, files: list[str], cascade: AcceptanceModel | None) -> list[Request]:
    typing = _Typing(root, cascade)
    asyncio.run(type_files(typing, root, files, watch=typing.watch))
    return typing.records


class _Typing:
    """The replay's ``Completer``: the local engine, the cascade (when given) hiding what it
    judges, on a clock of ``SECONDS_PER_KEYSTROKE`` a keystroke; one ``Request`` a request."""

    def __init__(
        self,
        root: Path,
        cascade: AcceptanceModel | None,
        local: LocalCompleter | None = None,
    ) -> None:
        self.local = local if local is not None else LocalCompleter(root, returns=False)
        self.cascade = cascade
        self.history = History()
        self.clock = 0.0
        self.records: list[Request] = []
        self.path = ""
        self.language = "plaintext"

    async def open(self, path: str, language: str, text: str) -> None:
        await self.local.open(path, language, text)
        self.path, self.language = path, language

    # Every change goes on to the engine too: it follows the document's version, and one that
    # never moves would answer every request with what it found for the first.
    async def replace(self, start: int, end: int, text: str) -> None:
        await self.local.replace(start, end, text)
        self.clock += SECONDS_PER_KEYSTROKE

    async def move(self, offset: int) -> None:
        await self.local.move(offset)
        self.clock += SECONDS_PER_KEYSTROKE

    async def type(self, chunk: str) -> None:
        await self.local.type(chunk)
        self.clock += SECONDS_PER_KEYSTROKE * keystrokes(chunk)

    async def suggest(self, typed: str, after: str = "") -> Offer | None:
        start = typed.rfind("\n") + 1
        row = typed.count("\n")
        previous_start = typed.rfind("\n", 0, max(start - 1, 0)) + 1 if start else 0
        record = Request(
            self.path,
            self.language,
            typed[start:],
            typed[previous_start : max(start - 1, 0)] if start else "",
            row,
            self.clock,
        )
        self.records.append(record)
        ctx = gate = None
        if self.cascade is not None:
            ctx = self.history.context(
                self.language,
                record.line_prefix,
                after.partition("\n")[0],
                record.previous_line,
                row,
                now=self.clock,
                document=self.path,
                path=self.path,
                continues=bool(after.partition("\n")[2].strip()),
            )
            gate = self.cascade.gate(ctx)
        offer = await self.local.suggest(typed, after) if gate is None or gate.show else None
        found = offer.suggestion if offer is not None else None
        if found is None:
            return None
        seen = Candidate.of(found)
        cascade = self.cascade
        if cascade is not None and ctx is not None and not cascade.judge(ctx, seen, gate).show:
            return None
        record.text, record.score, record.kind = seen.text, seen.score, seen.kind
        record.engine, record.origin = seen.engine, seen.origin
        record.evidence = seen.evidence
        record.prose = found.prose
        return offer

    async def accept(self, offer: Offer) -> None:
        await self.local.accept(offer)
        self.clock += SECONDS_PER_KEYSTROKE

    async def close(self, path: str, text: str) -> None:
        await self.local.close(path, text)

    def watch(self, step: Step) -> None:
        record = self.records[-1]
        if step.accepted:
            record.accepted = True
            record.saved = keystrokes(record.text) - 1
        if record.text:
            self.history.note_shown(self.path, record.line_number, record.line_prefix, record.text)
            self.history.note(step.accepted, now=self.clock)


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


def examples(records: list[Request], corpus: str) -> list[Example]:
    """Features as the server computes them, with the history a developer who saw every
    suggestion would have had. Files are named ``corpus/path``."""
    history = History()
    out: list[Example] = []
    for r in records:
        ctx = history.context(
            r.language,
            r.line_prefix,
            "",
            r.previous_line,
            r.line_number,
            now=r.t,
            document=r.file,
            path=r.file,
        )
        context = context_features(ctx)
        features = None
        candidate = None
        if r.text:
            candidate = Candidate(r.text, r.engine, r.score, r.kind, r.origin, r.evidence)
            features = candidate_features(ctx, candidate, context)
            history.note_shown(r.file, r.line_number, r.line_prefix, r.text)
            history.note(r.accepted, now=r.t)
        out.append(
            Example(
                f"{corpus}/{r.file}",
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
    thresholds["filter_static"] = thresholds["filter"]
    thresholds["filter"], trials = tune_on_trajectories(
        tune_part, Prior(Stage(gate_w, thresholds["gate"]), Stage(filter_w, 0.5), {"id": "tune"})
    )
    gate_w, filter_w = _fit(data)
    meta = {**meta, "tuning": thresholds, "trajectory_trials": trials}
    # Weights this small change no decision that matters; dropping them keeps the file small.
    gate_w = {i: w for i, w in gate_w.items() if abs(w) >= PRUNE}
    filter_w = {i: w for i, w in filter_w.items() if abs(w) >= PRUNE}
    return Prior(
        gate=Stage(gate_w, thresholds["gate"], rate=ONLINE_RATE, initial_accumulator=1.0),
        filter=Stage(
            filter_w,
            thresholds["filter"],
            rate=ONLINE_RATE,
            initial_accumulator=1.0,
            offsets=SITUATIONS,
        ),
        meta=meta,
    )


def tune_on_trajectories(held: list[Example], prior: Prior) -> tuple[float, list[dict[str, float]]]:
    """The filter threshold that hides the most while a developer typing the held-out files
    loses at most ``TRAJECTORY_LOSS`` of the keystrokes they saved without it.

    A static count (every hidden accept lost for good) is not what a developer lives through: a
    hidden suggestion that was right may be offered again, and taken, a chunk of typing later,
    and one that saved little may leave room for a longer one. So each trial
    threshold is measured the way ``tactful bench completion --filter`` measures the server:
    the held-out files are typed again with the cascade hiding what it judges (learning off) and
    compared with the unfiltered replay of the same files. The loss grows with the threshold,
    so a bisection needs a few replays.
    """
    by_corpus: dict[str, list[str]] = {}
    for e in held:
        corpus, _, relative = e.file.partition("/")
        if relative not in by_corpus.setdefault(corpus, []):
            by_corpus[corpus].append(relative)
    trials: list[dict[str, float]] = []

    def typed(prior_json: str) -> tuple[int, int]:
        """Keystrokes saved and suggestions rejected over the held-out files."""
        jobs = [(name, files, prior_json) for name, files in sorted(by_corpus.items())]
        with ProcessPoolExecutor(max_workers=min(2, len(jobs))) as pool:
            replays = list(pool.map(_filtered_replay, jobs))
        saved = sum(r.saved for records in replays for r in records if r.accepted)
        rejected = sum(1 for records in replays for r in records if r.text and not r.accepted)
        return saved, rejected

    # The unfiltered baseline is typed the same way, not taken from the full replay: the
    # engine's ties fall by the order its statistics were updated in, so a file typed after a
    # different set of files can come out a little differently.
    saved_all, rejected_all = typed("")
    saved_all, rejected_all = max(saved_all, 1), max(rejected_all, 1)

    def trial(threshold: float) -> float:
        trial_prior = Prior(prior.gate, replace(prior.filter, threshold=threshold), prior.meta)
        saved, rejected = typed(trial_prior.dumps())
        loss = 1.0 - saved / saved_all
        trials.append(
            {
                "threshold": round(threshold, 4),
                "saved_keystrokes_lost_share": round(loss, 4),
                "would_be_rejected_hidden_share": round(1.0 - rejected / rejected_all, 4),
            }
        )
        sys.stderr.write(f"trajectory trial {trials[-1]}\n")
        return loss

    low, high = TRAJECTORY_RANGE
    if trial(low) > TRAJECTORY_LOSS:
        return low, trials
    for _ in range(TRAJECTORY_STEPS):
        middle = (low + high) / 2.0
        if trial(middle) <= TRAJECTORY_LOSS:
            low = middle
        else:
            high = middle
    return round(low, 4), trials


def _filtered_replay(job: tuple[str, list[str], str]) -> list[Request]:
    name, files, prior_json = job
    cascade = None
    if prior_json:
        cascade = AcceptanceModel(Prior.from_json(json.loads(prior_json)), explore=0.0, seed=SEED)
    return replay(CORPORA[name], files=files, cascade=cascade)


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
    data = {name: examples(load(name, root, args.refresh), name) for name, root in CORPORA.items()}
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
        unseen = examples(
            load(project.name, project, args.refresh, args.unseen_files), project.name
        )
        results.append({"train": "+".join(names), **report(project.name, shipped, unseen)})
    shipped_filter = AcceptanceModel(shipped).filter_model
    summary = {
        "shipped": {
            "id": ident,
            "gate_threshold": shipped.gate.threshold,
            "filter_threshold": shipped.filter.threshold,
            "gate_weights": len(shipped.gate.weights),
            "filter_weights": len(shipped.filter.weights),
            "filter_auc_on_training_data": auc(
                [
                    (shipped_filter.predict(e.features), e.accepted)
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

"""Figures for teams (issue "Teams: shared learning on PostgreSQL"), on a real PostgreSQL
started from the PyPI package ``pgserver`` (install the ``test`` extra).

    python -P benchmarks/team.py lift [--corpus PATH] [--developers 4] [--unlinked]
    python -P benchmarks/team.py ingest [--servers 100] [--per-minute 1000] [--minutes 3]
    python -P benchmarks/team.py train [--events 1000000]

``lift`` — a simulated team on one project the shipped prior never saw (default: boltons 25.0.0,
fetched by ``benchmarks/corpora.py boltons==25.0.0``; ``--corpus`` for another). Its Python files
are typed in a replay (``train_acceptance.replay``: the typist, chunks and acceptance rule of
``tactful bench completion``, against the local engine that indexed the rest of the project). A
seeded fifth of the files is kept for a newcomer; the others are dealt to ``--developers``
developers. Each developer's replay runs through the cascade as a server runs it — the shipped
prior, learning online, exploring 5% — and every decision becomes the event a server records
(shown with its outcome, hidden with its id, a hidden one typed by hand with the same id,
skipped), written to that developer's own SQLite store and sent by the real ``Shipper`` to the
team store (``--unlinked``: hidden suggestions recorded without their id and outcome, as a
server that does not link them). ``tactful team train``'s ``train`` then fits and publishes the
team's models. The newcomer's files — none of which any developer typed — are replayed against
the repository's published model and against the shipped prior with ``evaluate`` (the
in-process figures of ``train_acceptance.py``: static, a hidden accept is counted as lost),
from the first decision (no online learning): each model at its published thresholds
(``at_published_thresholds``), and each at the highest filter threshold that loses at most 5%
of the saved keystrokes on the newcomer's replay (``at_5pct_loss``: the same rule for both,
since a model's lift depends on where its threshold stands). ``online``: the same replay with
the developer's online learning on top, for reference.

``ingest`` — ``--servers`` simulated servers in one process, each with its own SQLite store and
its own ``Shipper`` (rounds every 5 s, the server's default), recording ``--per-minute`` events
a minute each, in real time (no compression of time), for ``--minutes``; the database is
restarted (fast shutdown, then start) at half time. At the end every store's events are compared
with the team store's by event id: lost, duplicated, and the shipping delay (the team store's
arrival time minus the event's time), p50/p99/max.

``train`` — ``--events`` events (shown suggestions and their accepts or rejects, half each, with
the features of the ``lift`` replay, spread over 20 repositories and 50 developers) loaded into
the team store with COPY; then ``train`` runs in a child process (its time and peak memory are
its own) while this process reads the newest models in a loop, checking that every read sees a
whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pgserver  # noqa: E402
import psycopg  # noqa: E402
import train_acceptance as ta  # noqa: E402

from tactful.feedback import events as ev  # noqa: E402
from tactful.feedback.acceptance.cascade import AcceptanceModel, History  # noqa: E402
from tactful.feedback.acceptance.evaluation import Example, evaluate  # noqa: E402
from tactful.feedback.acceptance.items import prior_weights  # noqa: E402
from tactful.feedback.acceptance.model import Prior, shipped_prior  # noqa: E402
from tactful.feedback.store import FeedbackStore  # noqa: E402
from tactful.feedback.team.identity import Repository  # noqa: E402
from tactful.feedback.team.models import fetch_models  # noqa: E402
from tactful.feedback.team.schema import connect, ensure_schema  # noqa: E402
from tactful.feedback.team.shipper import Shipper  # noqa: E402
from tactful.feedback.team.training import (  # noqa: E402
    TeamData,
    TrainingOptions,
    publish,
    train,
)

SEED = 20251127
DEFAULT_CORPUS = HERE / "corpora" / "boltons-25.0.0"


class Postgres:
    """A throw-away PostgreSQL (pgserver) in a temp folder."""

    def __init__(self, max_connections: int = 100) -> None:
        self.pgdata = Path(tempfile.mkdtemp(prefix="tactful-bench-pg-"))
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="delete")
        if max_connections != 100:
            with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
                conn.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
            self.restart()

    def url(self) -> str:
        return self.server.get_uri()

    def restart(self) -> float:
        started = time.perf_counter()
        pgserver.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user
        )
        self.server.ensure_postgres_running()
        return time.perf_counter() - started

    def close(self) -> None:
        self.server.cleanup()


# -- lift -----------------------------------------------------------------------------------


def developer_events(
    data: list[Example], developer: int, workspace: str, start: float
) -> list[ev.Event]:
    """One developer's replay through the cascade as a server runs it, as the events its
    feedback loop records (see ``tactful.feedback.loop``)."""
    model = AcceptanceModel(shipped_prior(), explore=0.05, seed=SEED + developer)
    history = History()
    out: list[ev.Event] = []
    for n, e in enumerate(data):
        t = start + e.t
        path = e.file.split("/", 1)[-1]
        ctx = history.context(
            e.language,
            e.line_prefix,
            "",
            e.previous_line,
            e.line_number,
            now=e.t,
            document=e.file,
            path=path,
        )
        common = {"workspace": workspace, "language": e.language, "time": t}
        for probability, typed, hidden_id in history.hidden_costs:
            model.missed(probability, typed)
            out.append(
                ev.Event(
                    ev.SUGGESTION_HIDDEN_TYPED,
                    item_id=hidden_id,
                    probability=probability,
                    detail={"keystrokes": typed},
                    **common,
                )
            )
        gate = model.gate(ctx)
        if not gate.show:
            out.append(
                ev.Event(
                    ev.REQUEST_SKIPPED,
                    probability=gate.probability,
                    features=gate.features,
                    **common,
                )
            )
            continue
        if e.candidate is None:
            continue
        decision = model.judge(ctx, e.candidate, gate)
        item = f"d{developer}-{n}"
        text = e.candidate.text
        if not decision.show:
            hidden_id = f"{item}h"
            history.note_hidden(text, decision.probability, hidden_id)
            out.append(
                ev.Event(
                    ev.SUGGESTION_HIDDEN,
                    item_id=hidden_id,
                    length=len(text),
                    probability=decision.probability,
                    features=decision.features,
                    context=decision.context,
                    code_hash=ev.code_hash(text),
                    detail={"threshold": model.threshold},
                    **common,
                )
            )
            continue
        explored = decision.explored or gate.explored
        out.append(
            ev.Event(
                ev.SUGGESTION_SHOWN,
                item_id=item,
                length=len(text),
                explored=explored,
                probability=decision.probability,
                features=decision.features,
                context=decision.context,
                code_hash=ev.code_hash(text),
                detail={"threshold": model.threshold},
                **common,
            )
        )
        history.note_shown(e.file, e.line_number, e.line_prefix, text)
        history.note(e.accepted, now=e.t)
        if explored and not decision.explored:
            decision = type(decision)(
                decision.probability, True, True, decision.features, decision.context
            )
        model.learn(decision, e.accepted, e.saved)
        if e.accepted:
            out.append(
                ev.Event(
                    ev.SUGGESTION_ACCEPTED,
                    item_id=item,
                    length=len(text),
                    detail={"keystrokes": e.saved, "full": True},
                    **common,
                )
            )
        else:
            out.append(ev.Event(ev.SUGGESTION_REJECTED, item_id=item, length=len(text), **common))
    return out


def _pick(report: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "suggestions",
        "shown",
        "acceptance_rate_unfiltered",
        "acceptance_rate_shown",
        "acceptance_lift",
        "saved_keystrokes_lost_share",
        "would_be_rejected_hidden_share",
        "auc",
    )
    return {k: report.get(k) for k in keys}


def unlinked(events: list[ev.Event]) -> list[ev.Event]:
    """``events`` as a server that does not link hidden suggestions to their outcome records
    them: hidden ones without an item id, and no ``suggestion.hidden_typed``."""
    return [
        replace(e, item_id="") if e.kind == ev.SUGGESTION_HIDDEN else e
        for e in events
        if e.kind != ev.SUGGESTION_HIDDEN_TYPED
    ]


def lift(args: argparse.Namespace) -> dict[str, Any]:
    corpus: Path = args.corpus
    if not corpus.is_dir():
        raise SystemExit(f"missing corpus {corpus}: python benchmarks/corpora.py boltons==25.0.0")
    name = corpus.name
    records = ta.load(name, corpus, refresh=False)
    data = ta.examples(records, name)
    files = sorted({e.file for e in data})
    shuffled = files[:]
    random.Random(SEED).shuffle(shuffled)
    newcomer_files = set(shuffled[: max(1, len(files) // 5)])
    team_files = [f for f in shuffled if f not in newcomer_files]
    owners = {f: i % args.developers for i, f in enumerate(team_files)}
    repository = Repository("bench-" + name, name)
    pg = Postgres()
    url = pg.url()
    started = time.time() - 86400.0
    shipped = 0
    kinds: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="tactful-team-bench-") as tmp:
            for developer in range(args.developers):
                own = [e for e in data if owners.get(e.file) == developer]
                events = developer_events(own, developer, f"/home/dev{developer}/{name}", started)
                if args.unlinked:
                    events = unlinked(events)
                for e in events:
                    kinds[e.kind] = kinds.get(e.kind, 0) + 1
                with FeedbackStore(Path(tmp) / f"dev{developer}.sqlite3") as store:
                    store.record_many(events, wait=True, timeout=300)
                    shipper = Shipper(
                        store,
                        url,
                        developer=f"{developer:032x}",
                        repository=lambda _ws: repository,
                        batch_size=2000,
                    )
                    shipped += shipper.ship()
        conn = connect(url)
        ensure_schema(conn)
        run = train(conn, TrainingOptions())
        models = fetch_models(conn, [repository.id])
        conn.close()
    finally:
        pg.close()
    assert models is not None
    team_prior, _items = models.for_repository(repository.id)
    assert team_prior is not None
    newcomer = [e for e in data if e.file in newcomer_files]
    contenders = (("shipped_prior", shipped_prior()), ("team_model", team_prior))
    result: dict[str, Any] = {
        "corpus": name,
        "files": {"team": len(team_files), "newcomer": len(newcomer_files)},
        "developers": args.developers,
        "hidden_suggestions_linked": not args.unlinked,
        "events_shipped": shipped,
        "events_by_kind": dict(sorted(kinds.items())),
        "training": {
            "run": run.run,
            "scope": team_prior.meta.get("scope"),
            "evaluation": run.evaluation["scopes"],
        },
        "newcomer": {"suggestions": sum(1 for e in newcomer if e.candidate is not None)},
    }
    # From the first decision: no online learning, each model at its published thresholds.
    published = {}
    for label, prior in contenders:
        model = AcceptanceModel(prior, explore=0.0, seed=SEED)
        published[label] = {
            "threshold": prior.filter.threshold,
            **_pick(evaluate(model, newcomer, online=False)),
        }
    result["newcomer"]["at_published_thresholds"] = _gain(published)
    # The same, each at the highest threshold losing at most 5% of the saved keystrokes.
    result["newcomer"]["at_5pct_loss"] = _gain(
        {label: at_loss(prior, newcomer, 0.05) for label, prior in contenders}
    )
    # With the developer's online learning on top, exploring 5%, for reference.
    result["newcomer"]["online"] = _gain(
        {
            label: _pick(
                evaluate(AcceptanceModel(prior, explore=0.05, seed=SEED), newcomer, online=True)
            )
            for label, prior in contenders
        }
    )
    return result


def _gain(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``runs`` with the team model's lift less the shipped prior's."""
    team, alone = (
        runs["team_model"].get("acceptance_lift"),
        runs["shipped_prior"].get("acceptance_lift"),
    )
    return {**runs, "lift_gain": round(team - alone, 3) if team and alone else None}


def at_loss(prior: Prior, data: list[Example], loss: float) -> dict[str, Any]:
    """The highest filter threshold at which ``prior`` (no online learning) loses at most
    ``loss`` of the saved keystrokes on ``data``, and its figures there: the same rule for
    every model compared, chosen on the replay itself (bisection, 10 steps)."""
    low, high = 0.0, 0.9
    best: dict[str, Any] = {}
    for _ in range(10):
        middle = (low + high) / 2.0
        trial = Prior(prior.gate, replace(prior.filter, threshold=middle), prior.meta)
        report = evaluate(AcceptanceModel(trial, explore=0.0, seed=SEED), data, online=False)
        if (report["saved_keystrokes_lost_share"] or 0.0) <= loss:
            low, best = middle, {"threshold": round(middle, 4), **_pick(report)}
        else:
            high = middle
    return best


# -- ingest ---------------------------------------------------------------------------------


# What a server records with each suggestion it shows: the filter's threshold in force.
SHIPPED_THRESHOLD = shipped_prior().filter.threshold


def _synthetic(rng: random.Random, workspace: str) -> ev.Event:
    features = [(rng.randrange(1, 1 << 20), 1.0) for _ in range(28)] + [(7, rng.random())]
    context = [(rng.randrange(1, 1 << 20), 1.0) for _ in range(20)]
    return ev.Event(
        ev.SUGGESTION_SHOWN,
        item_id=f"{rng.getrandbits(64):016x}",
        language="python",
        workspace=workspace,
        length=rng.randrange(1, 80),
        probability=rng.random(),
        features=features,
        context=context,
        code_hash=f"{rng.getrandbits(64):016x}",
        detail={"engine": "local", "threshold": SHIPPED_THRESHOLD},
    )


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    pg = Postgres(max_connections=args.servers + 50)
    url = pg.url()
    conn = connect(url)
    ensure_schema(conn)
    conn.close()
    rng = random.Random(SEED)
    repo = Repository("bench-ingest", "bench/ingest")
    stores: list[FeedbackStore] = []
    shippers: list[Shipper] = []
    tmp = tempfile.TemporaryDirectory(prefix="tactful-ingest-")
    for i in range(args.servers):
        store = FeedbackStore(Path(tmp.name) / f"s{i}.sqlite3")
        stores.append(store)
        shippers.append(
            Shipper(
                store,
                url,
                developer=f"{i:032x}",
                repository=lambda _ws: repo,
                interval_s=5.0,
                max_backoff_s=20.0,
            )
        )
    for s in shippers:
        s.start()
    duration = args.minutes * 60.0
    per_second = args.per_minute / 60.0
    tick = 0.1
    owed = [0.0] * args.servers
    recorded = 0
    restart: dict[str, Any] = {}
    begin = time.monotonic()
    next_tick = begin
    last = begin
    while (now := time.monotonic()) - begin < duration:
        # Owed by the clock, not by the ticks: a late tick records what the time it took owes.
        elapsed, last = now - last, now
        if not restart and now - begin >= duration / 2:
            at = time.time()
            restart = {"at_s": round(now - begin, 1), "took_s": round(pg.restart(), 2)}
            restart["wall"] = at
        for i, store in enumerate(stores):
            owed[i] += per_second * elapsed
            n = int(owed[i])
            if n:
                owed[i] -= n
                store.record_many([_synthetic(rng, "/w") for _ in range(n)])
                recorded += n
        next_tick += tick
        time.sleep(max(0.0, next_tick - time.monotonic()))
    generation_s = time.monotonic() - begin
    local: set[str] = set()
    for store in stores:
        store.flush(timeout=60)
        local.update(e.uid for e in store.events())
    for s in shippers:
        s.wake()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with psycopg.connect(url) as c:
            arrived = c.execute("SELECT count(*) FROM tactful_events").fetchone()[0]
        if arrived >= len(local):
            break
        time.sleep(1.0)
    drain_s = time.monotonic() - begin - generation_s
    for s in shippers:
        s.stop(timeout=10)
    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT replace(uid::text, '-', ''), extract(epoch FROM received) - time "
            "FROM tactful_events"
        ).fetchall()
    for store in stores:
        store.close()
    tmp.cleanup()
    pg.close()
    remote = [uid for uid, _ in rows]
    delays = sorted(float(d) for _, d in rows)

    def pct(q: float) -> float:
        return round(delays[min(len(delays) - 1, int(q * len(delays)))], 2) if delays else 0.0

    return {
        "servers": args.servers,
        "events_per_minute_each": args.per_minute,
        "minutes": args.minutes,
        "time": "real time (not compressed): events recorded at the given rate for the whole "
        "duration; shippers send every 5 s",
        "generation_s": round(generation_s, 1),
        "drain_after_generation_s": round(drain_s, 1),
        "database_restart": {k: v for k, v in restart.items() if k != "wall"},
        "events_recorded": recorded,
        "events_per_second_recorded": round(recorded / generation_s, 1),
        "events_in_local_stores": len(local),
        "events_in_team_store": len(remote),
        "lost": len(local - set(remote)),
        "duplicated": len(remote) - len(set(remote)),
        "shipping_delay_s": {
            "p50": pct(0.5),
            "p99": pct(0.99),
            "max": round(delays[-1], 2) if delays else None,
            "mean": round(statistics.fmean(delays), 2) if delays else None,
        },
    }


# -- training at scale ----------------------------------------------------------------------


def train_scale(args: argparse.Namespace) -> dict[str, Any]:
    corpus: Path = args.corpus
    records = ta.load(corpus.name, corpus, refresh=False)
    data = [e for e in ta.examples(records, corpus.name) if e.features is not None]
    pg = Postgres()
    url = pg.url()
    conn = connect(url)
    ensure_schema(conn)
    rng = random.Random(SEED)
    suggestions = args.events // 2
    loaded = time.perf_counter()
    columns = (
        "uid, developer, repository, time, kind, item_id, language, length, explicit, explored, "
        "probability, code_hash, ones, valued, vals, context_ones, context_valued, context_vals, "
        "detail"
    )
    base = time.time() - 30 * 86400
    with conn.cursor() as cur, cur.copy(f"COPY tactful_events ({columns}) FROM STDIN") as copy:
        for n in range(suggestions):
            e = data[rng.randrange(len(data))]
            assert e.features is not None
            developer = f"{rng.randrange(50):032x}"
            repository = f"repo{rng.randrange(20):02d}"
            t = base + n * (30 * 86400 / suggestions)
            item = f"{n:016x}"
            f, c = e.features, e.context
            shown = (
                f"{rng.getrandbits(128):032x}",
                developer,
                repository,
                t,
                ev.SUGGESTION_SHOWN,
                item,
                "python",
                10,
                False,
                False,
                0.5,
                "",
                list(f.ones),
                [i for i, _ in f.values],
                [v for _, v in f.values],
                list(c.ones),
                [i for i, _ in c.values],
                [v for _, v in c.values],
                "{}",
            )
            outcome = ev.SUGGESTION_ACCEPTED if e.accepted else ev.SUGGESTION_REJECTED
            detail = json.dumps({"keystrokes": e.saved}) if e.accepted else "{}"
            after = (
                f"{rng.getrandbits(128):032x}",
                developer,
                repository,
                t + 1,
                outcome,
                item,
                "python",
                10,
                False,
                False,
                None,
                "",
                [],
                [],
                [],
                [],
                [],
                [],
                detail,
            )
            copy.write_row(shown)
            copy.write_row(after)
    conn.execute("ANALYZE tactful_events")
    load_s = time.perf_counter() - loaded
    total = conn.execute("SELECT count(*) FROM tactful_events").fetchone()[0]
    conn.close()
    # A first run (the shipped prior's weights, published the way training publishes), so that
    # readers during the big training have a run to read: they must see it or the new one whole.
    conn = connect(url)
    first = publish(
        conn,
        TeamData(),
        {
            "": (shipped_prior(), {}),
            "repo00": (shipped_prior(), {}),
        },
        {"": prior_weights(), "repo00": prior_weights()},
        {"first": True},
        "bench",
    )
    conn.close()
    reads: list[tuple[int, int, int]] = []
    done = threading.Event()

    def read() -> None:
        with psycopg.connect(url, autocommit=True) as c:
            while not done.is_set():
                models = fetch_models(c, ["repo00"])
                if models is not None:
                    reads.append((models.run, len(models.completion), len(models.items)))
                time.sleep(0.05)

    reader = threading.Thread(target=read)
    reader.start()
    child = subprocess.run(
        [
            sys.executable,
            "-P",
            "-m",
            "tactful.server",
            "team",
            "train",
            "--url",
            url,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    done.set()
    reader.join()
    pg.close()
    if child.returncode != 0:
        raise SystemExit(child.stderr)
    report = json.loads(child.stdout)
    whole = all(n_completion == 2 and n_items >= 1 for _, n_completion, n_items in reads)
    return {
        "events": total,
        "load_with_copy_s": round(load_s, 1),
        "train": {
            "seconds": report["seconds"],
            "peak_rss_mb": report["peak_rss_mb"],
            "suggestions": report["suggestions"],
            "scopes": len(report["scopes"]),
        },
        "quality_note": "the events are resamples of one replay's suggestions, so held-back "
        "events repeat trained ones: the evaluation below shows the pipeline runs at this "
        "size, not how well a team model generalises (see lift)",
        "atomic_publish": {
            "reads_during_training": len(reads),
            "reads_of_the_previous_run": sum(1 for r in reads if r[0] == first),
            "reads_of_the_new_run": sum(1 for r in reads if r[0] == report["run"]),
            "reads_that_saw_a_whole_run": sum(1 for r in reads if r[1] == 2 and r[2] >= 1),
            "all_whole": whole,
        },
        "team_scope_evaluation": report["scopes"]["team"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="figure", required=True)
    p = sub.add_parser("lift")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--developers", type=int, default=4)
    p.add_argument(
        "--unlinked",
        action="store_true",
        help="record hidden suggestions as a server that does not link them to their outcome",
    )
    p = sub.add_parser("ingest")
    p.add_argument("--servers", type=int, default=100)
    p.add_argument("--per-minute", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=3.0)
    p = sub.add_parser("train")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    result = {"lift": lift, "ingest": ingest, "train": train_scale}[args.figure](args)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

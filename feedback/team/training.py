"""``tactful team train``: the acceptance cascade fitted on the team's events, and published.

Boundary: reads the team store's events, fits in memory, writes one training run and its
models in a single transaction (so a server fetching at any moment sees the previous run or
this one whole, never a part). Runs no workspace code.

What is fitted, per scope — the whole team (scope ``""``) and each repository with at least
``min_repository_suggestions`` judged suggestions:
- completions: both stages of the cascade, starting from the shipped prior (the team's model)
  or from the team's model (a repository's), with the same AdaGrad updates a developer's online
  model makes, from every suggestion whose outcome is known (``load``): each shown one that was
  accepted or rejected, and each hidden one that was then typed by hand (accepted: the rule the
  shipped prior's replays label with, a suggestion is taken when the text that follows starts
  with it) or not. Accepts weigh more by the keystrokes they saved; an explored suggestion
  weighs the inverse of the exploration share (capped) only where its developer's hidden
  suggestions have no known outcome, since otherwise those speak for themselves. The gate also
  learns from hidden suggestions of unknown outcome (the filter's probability as a soft label).
  Over the oldest ``1 - held_back`` of the scope's suggestions, in a seeded order, for
  ``epochs`` passes;
- review comments and fixes: the item model's updates from dismissed, resolved, applied and
  ignored items.

Evaluation on the held-back (newest) suggestions of known outcome of each scope, shown and
hidden: the filter's AUC and log loss, the threshold at which hiding would cost ``LOSS_BUDGET``
of the keystrokes accepted (or typed) suggestions saved, and the acceptance lift at that
threshold (an explored suggestion counted for the hidden ones it stands for, where those have
no known outcome),
for the new model and for the one it started from. A scope whose new filter does worse than its
starting point on held-back log loss publishes the starting weights instead (``kept: "base"``);
otherwise the published model is trained the same way on all of the scope's suggestions (the
held-back figures are those of the recipe, measured on the model fitted without them), with
the threshold found on held-back.
"""

from __future__ import annotations

import logging
import math
import random
import resource
import time
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tactful.feedback import events as ev
from tactful.feedback.acceptance.budget import LOSS_BUDGET
from tactful.feedback.acceptance.cascade import MAX_EXPLORE_WEIGHT, example_weight
from tactful.feedback.acceptance.evaluation import auc
from tactful.feedback.acceptance.features import Features
from tactful.feedback.acceptance.items import (
    DIMENSION as ITEM_DIMENSION,
)
from tactful.feedback.acceptance.items import (
    LEARNING_RATE as ITEM_RATE,
)
from tactful.feedback.acceptance.items import (
    Item,
    item_features,
    prior_weights,
)
from tactful.feedback.acceptance.model import LogisticModel, Prior, Stage, shipped_prior

logger = logging.getLogger(__name__)

COMPLETION = "completion"
ITEMS = "items"
# The exploration share servers run with (``filter.explore``'s default) for weighing explored
# suggestions; the team store does not know each developer's setting.
EXPLORE = 0.05
# A hidden suggestion not found typed by hand once its developer has gone on working this long
# was not typed: a server follows one until the cursor leaves its path, mostly within seconds.
SETTLE_S = 600.0
ITEM_OUTCOMES = {
    ev.COMMENT_DISMISSED: False,
    ev.COMMENT_RESOLVED: True,
    ev.FIX_APPLIED: True,
    ev.FIX_IGNORED: False,
}


@dataclass(frozen=True)
class TrainingOptions:
    held_back: float = 0.2
    epochs: int = 2
    rate: float = 0.05
    min_repository_suggestions: int = 200
    seed: int = 20251127
    settle_s: float = SETTLE_S


@dataclass(slots=True)
class Moment:
    """One judged suggestion of the team: shown (with its outcome) or hidden.

    ``known``: its outcome is known — shown and then accepted or rejected, or hidden by a
    server that links its hidden suggestions to what became of them (an item id on the
    ``suggestion.hidden`` event) and settled: typed by hand (``accepted``, with the keystrokes
    that cost in ``saved``), or not typed while the developer went on working for
    ``TrainingOptions.settle_s``. ``stands_for``: how many suggestions it stands for (an
    explored one, of a developer whose hidden ones have no known outcome, for the hidden ones
    it was drawn from).
    """

    repository: str
    time: float
    shown: bool
    known: bool
    accepted: bool
    saved: int
    explored: bool
    probability: float
    features: Features
    context: Features
    stands_for: float = 1.0


@dataclass
class TeamData:
    moments: list[Moment] = field(default_factory=list)
    items: list[tuple[str, float, Item, bool, bool]] = field(default_factory=list)
    through_seq: int = 0
    events: int = 0


def _features(ones: Sequence[int], valued: Sequence[int], vals: Sequence[float]) -> Features:
    return Features(array("i", ones), tuple(zip(valued, vals, strict=False)))  # type: ignore[arg-type]


def load(conn: Any, settle_s: float = SETTLE_S) -> TeamData:
    """The team's judged suggestions and item outcomes, read with a server-side cursor.

    A shown suggestion's outcome is its accept or rejection; a hidden one's, the
    ``suggestion.hidden_typed`` event of its item id (typed by hand: what showing it would
    have had accepted, the rule the shipped prior's replays label with), or none by the time
    its developer has worked on for ``settle_s`` (not typed). Hidden suggestions without an
    item id (servers that did not link them) have no known outcome."""
    data = TeamData()
    row = conn.execute("SELECT coalesce(max(seq), 0), count(*) FROM tactful_events").fetchone()
    data.through_seq, data.events = int(row[0]), int(row[1])
    query = """
        WITH outcome AS (
            SELECT developer, item_id,
                   bool_or(kind IN (%(accepted)s, %(typed)s)) AS accepted,
                   max(coalesce((detail->>'keystrokes')::int, 0)) AS saved
            FROM tactful_events
            WHERE kind IN (%(accepted)s, %(rejected)s, %(typed)s) AND item_id <> ''
                  AND seq <= %(through)s
            GROUP BY developer, item_id
        ), developer AS (
            SELECT developer, max(time) AS latest,
                   bool_or(kind = %(hidden)s AND item_id <> '') AS links_hidden
            FROM tactful_events
            WHERE seq <= %(through)s
            GROUP BY developer
        )
        SELECT e.repository, e.time, e.kind = %(shown)s,
               e.kind = %(shown)s OR (e.item_id <> '' AND (
                   o.item_id IS NOT NULL OR d.latest >= e.time + %(settle)s)),
               coalesce(o.accepted, false), coalesce(o.saved, 0), e.explored,
               coalesce(e.probability, 0),
               e.ones, e.valued, e.vals, e.context_ones, e.context_valued, e.context_vals,
               d.links_hidden
        FROM tactful_events e
        LEFT JOIN outcome o ON o.developer = e.developer AND o.item_id = e.item_id
        JOIN developer d ON d.developer = e.developer
        WHERE e.seq <= %(through)s AND (
            (e.kind = %(shown)s AND o.item_id IS NOT NULL) OR e.kind = %(hidden)s)
    """
    args = {
        "accepted": ev.SUGGESTION_ACCEPTED,
        "rejected": ev.SUGGESTION_REJECTED,
        "typed": ev.SUGGESTION_HIDDEN_TYPED,
        "shown": ev.SUGGESTION_SHOWN,
        "hidden": ev.SUGGESTION_HIDDEN,
        "through": data.through_seq,
        "settle": settle_s,
    }
    with conn.transaction(), conn.cursor(name="tactful_train") as cur:
        cur.itersize = 5000
        cur.execute(query, args)
        for r in cur:
            explored = r[6]
            # With the hidden ones' outcomes known, an explored suggestion stands for itself.
            stands_for = 1.0 / EXPLORE if explored and not r[14] else 1.0
            data.moments.append(
                Moment(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    int(r[5]),
                    explored,
                    float(r[7]),
                    _features(r[8], r[9], r[10]),
                    _features(r[11], r[12], r[13]),
                    stands_for,
                )
            )
    items = conn.execute(
        "SELECT repository, time, kind, explicit, detail FROM tactful_events "
        "WHERE kind = ANY(%s) AND seq <= %s ORDER BY time",
        (list(ITEM_OUTCOMES), data.through_seq),
    ).fetchall()
    for repository, t, kind, explicit, detail in items:
        if kind == ev.FIX_APPLIED and not explicit:
            continue  # part of a fix-all nobody chose: not learned (as the loop does)
        detail = detail or {}
        item = Item(
            kind=str(detail.get("kind") or ("fix" if kind.startswith("fix") else "comment")),
            rule=str(detail.get("rule", "")),
            source=str(detail.get("source", "")),
            language=str(detail.get("language", "")),
            severity=str(detail.get("severity", "")),
            verdict=str(detail.get("verdict", "")),
        )
        data.items.append((repository, t, item, ITEM_OUTCOMES[kind], explicit))
    return data


def _split(moments: list[Moment], held_back: float) -> tuple[list[Moment], list[Moment]]:
    """The oldest suggestions to fit on, the newest with a known outcome to test on."""
    ordered = sorted(moments, key=lambda m: m.time)
    cut = int(len(ordered) * (1.0 - held_back))
    return ordered[:cut], [m for m in ordered[cut:] if m.known]


def _weight(m: Moment) -> float:
    return example_weight(m.accepted, m.saved) * min(m.stands_for, MAX_EXPLORE_WEIGHT)


def fit_cascade(start: Prior, moments: Sequence[Moment], options: TrainingOptions) -> Prior:
    """``start``'s stages trained further on ``moments``, in a seeded order."""
    gate = LogisticModel(dict(start.gate.weights), rate=options.rate, typecode="d")
    filt = LogisticModel(dict(start.filter.weights), rate=options.rate, typecode="d")
    order = list(range(len(moments)))
    shuffle = random.Random(options.seed)
    for _ in range(options.epochs):
        shuffle.shuffle(order)
        for k in order:
            m = moments[k]
            if m.known:
                weight = _weight(m)
                filt.update(m.features, m.accepted, weight)
                gate.update(m.context, m.accepted, weight)
            else:
                gate.update(m.context, min(max(m.probability, 0.0), 1.0))
    return Prior(
        gate=Stage(gate.nonzero(1e-4), start.gate.threshold, start.gate.rate, 1.0),
        filter=Stage(
            filt.nonzero(1e-4),
            start.filter.threshold,
            start.filter.rate,
            1.0,
            offsets=start.filter.offsets,
        ),
        meta=dict(start.meta),
    )


def _predictor(weights: Mapping[int, float]) -> LogisticModel:
    return LogisticModel(weights, typecode="d")


def _stands_for(m: Moment) -> float:
    """How many suggestions one stands for (``Moment.stands_for``): an explored one, where
    hidden ones have no known outcome, represents the hidden it was drawn from (inverse
    propensity), so that held-back figures are about every suggestion and not only those the
    old filter let through."""
    return m.stands_for


def evaluate(model: Prior, held: Sequence[Moment]) -> dict[str, Any]:
    """The filter of ``model`` on held-back suggestions (see the module docstring)."""
    predictor = _predictor(model.filter.weights)
    scored = [(predictor.predict(m.features), m) for m in held]
    if not scored:
        return {"suggestions": 0}
    eps = 1e-6
    log_loss = -sum(
        math.log(max(p, eps)) if m.accepted else math.log(max(1.0 - p, eps)) for p, m in scored
    ) / len(scored)
    threshold = _threshold(
        [(p, m.saved * _stands_for(m) if m.accepted else 0.0) for p, m in scored]
    )
    return {
        "suggestions": len(scored),
        "auc": _round(auc((p, m.accepted) for p, m in scored)),
        "log_loss": round(log_loss, 4),
        **at_threshold(scored, threshold),
    }


def at_threshold(scored: Sequence[tuple[float, Moment]], threshold: float) -> dict[str, Any]:
    """What hiding below ``threshold`` does to these suggestions, each counted for the
    suggestions it stands for (``_stands_for``)."""
    w = _stands_for
    total = sum(w(m) for _, m in scored)
    accepted = sum(w(m) for _, m in scored if m.accepted)
    saved = sum(m.saved * w(m) for _, m in scored if m.accepted)
    kept = [(p, m) for p, m in scored if p >= threshold]
    kept_total = sum(w(m) for _, m in kept)
    kept_accepted = sum(w(m) for _, m in kept if m.accepted)
    lost = sum(m.saved * w(m) for p, m in scored if m.accepted and p < threshold)
    rate_all = accepted / total if total else 0.0
    rate_kept = kept_accepted / kept_total if kept_total else 0.0
    return {
        "threshold": round(threshold, 4),
        "hidden_share": round(1.0 - kept_total / total, 4) if total else None,
        "saved_keystrokes_lost_share": round(lost / saved, 4) if saved else None,
        "acceptance_lift": round(rate_kept / rate_all, 4) if rate_all else None,
    }


def _threshold(scored: list[tuple[float, float]], budget: float = LOSS_BUDGET) -> float:
    """The highest threshold whose hidden accepts cost at most ``budget`` of what all saved."""
    total = sum(cost for _, cost in scored)
    if not total:
        return 0.0
    allowed = budget * total
    spent = 0.0
    threshold = 0.0
    for p, cost in sorted(scored):
        if spent + cost > allowed:
            break
        spent += cost
        threshold = p
    return min(max(threshold + 1e-9, 0.05), 0.9)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class ScopeModel:
    """A scope's published model, its evaluation, and the model that evaluation is about (what
    a repository's scope starts from when it is evaluated: fitted without the held-back
    suggestions, so these stay unseen)."""

    published: Prior
    evaluation: dict[str, Any]
    evaluated: Prior


def _scope_model(
    scope: str,
    start: Prior,
    moments: list[Moment],
    options: TrainingOptions,
    run_label: str,
    evaluated_start: Prior | None = None,
) -> ScopeModel:
    """Fit on the oldest suggestions and test on the newest (``start``, or ``evaluated_start``
    when given, against the model trained from it); if training did better on held-back log
    loss, the published model is trained from ``start`` again on all of them — the figures are
    the held-back ones of the same recipe on fewer — with the threshold found on held-back."""
    fit_on, held = _split(moments, options.held_back)
    base = evaluated_start or start
    trained = fit_cascade(base, fit_on, options)
    new = evaluate(trained, held)
    before = evaluate(base, held)
    better = (
        new.get("log_loss") is not None
        and before.get("log_loss") is not None
        and new["log_loss"] <= before["log_loss"]
    )
    kept_trained = better or not held
    threshold = new.get("threshold") if kept_trained else before.get("threshold")
    if not held or threshold is None:
        threshold = start.filter.threshold
    if not kept_trained:
        chosen = start
    elif held:
        chosen = fit_cascade(start, moments, options)
    else:
        chosen = trained
    meta = {
        **dict(shipped_prior().meta),
        "id": f"team-{run_label}-{scope or 'all'}",
        "base": str(shipped_prior().meta.get("id", "")),
        "scope": scope,
        "trained_on": {"suggestions": len(moments) if kept_trained else 0},
    }
    meta.pop("trajectory_trials", None)
    published = Prior(
        gate=chosen.gate,
        filter=Stage(
            chosen.filter.weights,
            float(threshold),
            chosen.filter.rate,
            chosen.filter.initial_accumulator,
            offsets=chosen.filter.offsets,
        ),
        meta=meta,
    )
    evaluation = {
        "fitted_on": len(fit_on),
        "held_back": len(held),
        "kept": "trained" if kept_trained else "base",
        "published_fitted_on": len(moments) if kept_trained else 0,
        "model": new,
        "base": before,
    }
    return ScopeModel(published, evaluation, trained if kept_trained else base)


def fit_items(start: Mapping[int, float], items: Iterable[tuple[Item, bool]]) -> dict[int, float]:
    model = LogisticModel(dict(start), rate=ITEM_RATE, dimension=ITEM_DIMENSION)
    for item, useful in items:
        model.update(item_features(item), useful)
    return model.nonzero(1e-4)


@dataclass(frozen=True)
class TrainingRun:
    run: int
    evaluation: dict[str, Any]


def train(conn: Any, options: TrainingOptions = TrainingOptions(), client: str = "") -> TrainingRun:
    """Fit every scope on the team store's events and publish them as one run."""
    started = time.perf_counter()
    data = load(conn, options.settle_s)
    loaded = time.perf_counter() - started
    by_repository: dict[str, list[Moment]] = {}
    for m in data.moments:
        if m.repository:
            by_repository.setdefault(m.repository, []).append(m)
    label = time.strftime("%Y%m%d%H%M%S")
    team = _scope_model("", shipped_prior(), data.moments, options, label)
    models: dict[str, tuple[Prior, dict[str, Any]]] = {"": (team.published, team.evaluation)}
    for repository, moments in sorted(by_repository.items()):
        if sum(1 for m in moments if m.known) >= options.min_repository_suggestions:
            scoped = _scope_model(
                repository, team.published, moments, options, label, team.evaluated
            )
            models[repository] = (scoped.published, scoped.evaluation)
    team_items = fit_items(prior_weights(), ((i, u) for _, _, i, u, _ in data.items))
    items: dict[str, dict[int, float]] = {"": team_items}
    item_counts: dict[str, int] = {"": len(data.items)}
    for repository in {r for r, *_ in data.items if r}:
        own = [(i, u) for r, _, i, u, _ in data.items if r == repository]
        items[repository] = fit_items(team_items, own)
        item_counts[repository] = len(own)
    elapsed = time.perf_counter() - started
    evaluation = {
        "events": data.events,
        "suggestions": len(data.moments),
        "scopes": {scope or "team": e for scope, (_, e) in models.items()},
        "items": {scope or "team": n for scope, n in item_counts.items()},
        "seconds": {"load": round(loaded, 2), "total": round(elapsed, 2)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }
    run = publish(conn, data, models, items, evaluation, client)
    return TrainingRun(run, evaluation)


def publish(
    conn: Any,
    data: TeamData,
    models: Mapping[str, tuple[Prior, dict[str, Any]]],
    items: Mapping[str, Mapping[int, float]],
    evaluation: dict[str, Any],
    client: str,
) -> int:
    """Write one run and all its models in one transaction; returns the run's id."""
    import json

    from psycopg.types.json import Jsonb

    with conn.transaction():
        row = conn.execute(
            "INSERT INTO tactful_training_runs (client, events, through_seq, evaluation) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (client, data.events, data.through_seq, Jsonb(evaluation)),
        ).fetchone()
        run = int(row[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO tactful_models (run, scope, kind, weights, evaluation) "
                "VALUES (%s, %s, %s, %s, %s)",
                [
                    (run, scope, COMPLETION, prior.dumps(), Jsonb(e))
                    for scope, (prior, e) in models.items()
                ]
                + [
                    (
                        run,
                        scope,
                        ITEMS,
                        json.dumps({str(i): round(w, 5) for i, w in weights.items()}),
                        Jsonb({"items": len(weights)}),
                    )
                    for scope, weights in items.items()
                ],
            )
    return run

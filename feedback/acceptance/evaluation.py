"""How well the cascade does on a replay: what it hides, what it loses, what it costs.

Boundary: pure functions over recorded replay examples (no engine, no I/O), shared by the
training script (to tune thresholds and report held-out figures) and ``tactful bench completion
--filter`` (to report the same figures on its own replay).

The figures, in the words of the targets: the share of would-be-rejected suggestions hidden, the
share of would-be-accepted suggestions and of saved keystrokes lost, the acceptance rate of what
is shown against showing everything, engine calls the gate skipped, the filter's AUC, and the
time one decision takes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tactful.feedback import events as ev
from tactful.feedback.acceptance.cascade import AcceptanceModel, History
from tactful.feedback.acceptance.features import (
    Candidate,
    Features,
)
from tactful.feedback.acceptance.model import Prior, sigmoid
from tactful.feedback.events import Event


@dataclass(frozen=True, slots=True)
class Example:
    """One request of a replay: the context, the suggestion (if the engine had one), whether it
    was accepted and the keystrokes accepting it saved. ``context``/``features`` are the
    features a developer who saw every suggestion would have produced (for training)."""

    file: str
    context: Features
    features: Features | None
    accepted: bool
    saved: int
    language: str = ""
    line_prefix: str = ""
    previous_line: str = ""
    line_number: int = 0
    t: float = 0.0
    candidate: Candidate | None = None


def auc(scored: Iterable[tuple[float, bool]]) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    pairs = sorted(scored, key=lambda pair: pair[0])
    positives = sum(1 for _, label in pairs if label)
    negatives = len(pairs) - positives
    if not positives or not negatives:
        return None
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        average_rank = (i + 1 + j) / 2.0
        rank_sum += average_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def _percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def evaluate(model: AcceptanceModel, data: Sequence[Example], *, online: bool) -> dict[str, object]:
    """Run the cascade over a replay in order; with ``online``, learn from each shown
    suggestion's verdict as a developer's editor would report it."""
    history = History()
    requests = skipped = 0
    candidates = accepted_all = saved_all = 0
    shown = shown_accepted = 0
    rejected_all = rejected_hidden = 0
    lost_accepted = lost_saved = 0
    gate_us: list[float] = []
    filter_us: list[float] = []
    scored: list[tuple[float, bool]] = []
    clock = time.perf_counter_ns
    for e in data:
        requests += 1
        ctx = history.context(
            e.language, e.line_prefix, "", e.previous_line, e.line_number, now=e.t, document=e.file
        )
        if online:
            for found in history.hidden_costs:
                model.missed(found.probability, found.keystrokes)
        started = clock()
        gate = model.gate(ctx)
        gate_us.append((clock() - started) / 1000.0)
        if e.candidate is None:
            if not gate.show:
                skipped += 1
            continue
        candidates += 1
        if e.accepted:
            accepted_all += 1
            saved_all += e.saved
        else:
            rejected_all += 1
        started = clock()
        decision = model.judge(ctx, e.candidate, gate)
        filter_us.append((clock() - started) / 1000.0)
        scored.append((decision.probability, e.accepted))
        visible = gate.show and decision.show
        if not gate.show:
            skipped += 1
        if visible:
            shown += 1
            shown_accepted += e.accepted
            history.note_shown(e.file, e.line_number, e.line_prefix, e.candidate.text)
            history.note(e.accepted, now=e.t)
            if online:
                if gate.explored and not decision.explored:
                    decision = type(decision)(
                        decision.probability, True, True, decision.features, decision.context
                    )
                model.learn(decision, e.accepted, e.saved)
        else:
            if online and gate.show:
                history.note_hidden(e.candidate.text, decision.probability)
            if e.accepted:
                lost_accepted += 1
                lost_saved += e.saved
            else:
                rejected_hidden += 1
    unfiltered = _ratio(accepted_all, candidates)
    filtered = _ratio(shown_accepted, shown)
    return {
        "requests": requests,
        "suggestions": candidates,
        "engine_calls_skipped": skipped,
        "engine_calls_skipped_share": _ratio(skipped, requests),
        "shown": shown,
        "would_be_rejected_hidden_share": _ratio(rejected_hidden, rejected_all),
        "would_be_accepted_lost_share": _ratio(lost_accepted, accepted_all),
        "saved_keystrokes_lost_share": _ratio(lost_saved, saved_all),
        "acceptance_rate_unfiltered": unfiltered,
        "acceptance_rate_shown": filtered,
        "acceptance_lift": round(filtered / unfiltered, 3) if filtered and unfiltered else None,
        "auc": None if (a := auc(scored)) is None else round(a, 4),
        "decision_us": {
            "gate_p50": _round(_percentile(gate_us, 0.5)),
            "gate_p99": _round(_percentile(gate_us, 0.99)),
            "filter_p50": _round(_percentile(filter_us, 0.5)),
            "filter_p99": _round(_percentile(filter_us, 0.99)),
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def tune(
    data: Sequence[Example],
    gate_weights: dict[int, float],
    filter_weights: dict[int, float],
    *,
    gate_loss: float,
    total_loss: float,
) -> dict[str, float]:
    """Thresholds that hide the most while losing at most the given shares of saved keystrokes:
    first the gate (``gate_loss``), then the filter with the rest of ``total_loss``."""

    def p(weights: dict[int, float], features: Features) -> float:
        return sigmoid(sum(weights.get(i, 0.0) * v for i, v in features))

    total_saved = sum(e.saved for e in data if e.accepted) or 1
    gate_p = [(p(gate_weights, e.context), e) for e in data]
    gate_threshold = _largest_threshold(
        [(q, e.saved if e.accepted else 0) for q, e in gate_p], gate_loss * total_saved
    )
    passed = [e for q, e in gate_p if q >= gate_threshold and e.features is not None]
    gate_lost = sum(e.saved for q, e in gate_p if q < gate_threshold and e.accepted)
    budget = max(0.0, total_loss * total_saved - gate_lost)
    filter_threshold = _largest_threshold(
        [
            (p(filter_weights, e.features), e.saved if e.accepted else 0)
            for e in passed
            if e.features is not None
        ],
        budget,
    )
    return {"gate": round(gate_threshold, 4), "filter": round(filter_threshold, 4)}


def _largest_threshold(scored: list[tuple[float, int]], budget: float) -> float:
    """The highest probability threshold whose hidden items (below it) cost at most ``budget``."""
    scored.sort(key=lambda pair: pair[0])
    spent = 0.0
    threshold = 0.0
    for q, cost in scored:
        if spent + cost > budget:
            break
        spent += cost
        threshold = q
    # Hide strictly below the next item's probability: everything up to here is hidden.
    return min(threshold + 1e-9, 1.0) if threshold > 0.0 else 0.0


def store_report(events: Sequence[Event], prior: Prior | None = None) -> dict[str, object]:
    """What the server's own feedback store says about one replay through it: how much the
    cascade hid or skipped, the AUC of the probabilities it recorded (and of ``prior``'s, from
    the same stored features), and what its decisions cost."""
    shown = [e for e in events if e.kind == ev.SUGGESTION_SHOWN]
    accepted = {e.item_id for e in events if e.kind == ev.SUGGESTION_ACCEPTED}
    hidden = sum(1 for e in events if e.kind == ev.SUGGESTION_HIDDEN)
    skipped = sum(1 for e in events if e.kind == ev.REQUEST_SKIPPED)

    def timings(gate_key: str, own_key: str) -> tuple[list[float], list[float]]:
        gate, own = [], []
        for e in events:
            g = e.detail.get(own_key if e.kind == ev.REQUEST_SKIPPED else gate_key)
            if isinstance(g, int | float):
                gate.append(float(g))
            f = e.detail.get(own_key)
            if e.kind in (ev.SUGGESTION_SHOWN, ev.SUGGESTION_HIDDEN) and isinstance(f, int | float):
                own.append(float(f))
        return gate, own

    gate_us, filter_us = timings("gate_us", "decision_us")
    gate_cpu, filter_cpu = timings("gate_cpu_us", "decision_cpu_us")
    labelled = [(e, e.item_id in accepted) for e in shown]
    recorded = auc([(e.probability or 0.0, label) for e, label in labelled])
    report: dict[str, object] = {
        "shown": len(shown),
        "explored": sum(1 for e in shown if e.explored),
        "hidden": hidden,
        "requests_skipped": skipped,
        "auc_recorded": None if recorded is None else round(recorded, 4),
        "decision_us": {
            "gate_p50": _round(_percentile(gate_us, 0.5)),
            "gate_p99": _round(_percentile(gate_us, 0.99)),
            "filter_p50": _round(_percentile(filter_us, 0.5)),
            "filter_p99": _round(_percentile(filter_us, 0.99)),
        },
        "decision_cpu_us": {
            "gate_p50": _round(_percentile(gate_cpu, 0.5)),
            "gate_p99": _round(_percentile(gate_cpu, 0.99)),
            "filter_p50": _round(_percentile(filter_cpu, 0.5)),
            "filter_p99": _round(_percentile(filter_cpu, 0.99)),
        },
    }
    if prior is not None:
        weights = prior.filter.weights
        scored = [
            (sigmoid(sum(weights.get(i, 0.0) * v for i, v in e.features)), label)
            for e, label in labelled
        ]
        value = auc(scored)
        report["auc_prior"] = None if value is None else round(value, 4)
    return report


def compare_runs(
    unfiltered: Mapping[str, object], filtered: Mapping[str, object]
) -> dict[str, object]:
    """The cascade's effect, from two replays of the same files (each on its own trajectory):
    one showing everything, one filtered. Inputs are ``Tally.summary()``s with the filtered
    run's ``store_report`` under ``"filter"``."""

    def num(summary: Mapping[str, object], key: str) -> float:
        value = summary.get(key)
        return float(value) if isinstance(value, int | float) else 0.0

    def lost(key: str) -> float | None:
        before = num(unfiltered, key)
        return round(1.0 - num(filtered, key) / before, 4) if before else None

    rejected_off = num(unfiltered, "shown") - num(unfiltered, "accepted")
    rejected_on = num(filtered, "shown") - num(filtered, "accepted")
    rate_off = num(unfiltered, "acceptance_rate")
    rate_on = num(filtered, "acceptance_rate")
    store = filtered.get("filter")
    skipped = num(store, "requests_skipped") if isinstance(store, Mapping) else 0.0
    requests = num(filtered, "requests")
    return {
        "would_be_rejected_hidden_share": (
            round(1.0 - rejected_on / rejected_off, 4) if rejected_off else None
        ),
        "would_be_accepted_lost_share": lost("accepted"),
        "saved_keystrokes_lost_share": lost("keystrokes_saved"),
        "acceptance_rate_unfiltered": rate_off,
        "acceptance_rate_shown": rate_on,
        "acceptance_lift": round(rate_on / rate_off, 3) if rate_off else None,
        "engine_calls_skipped_share": round(skipped / requests, 4) if requests else None,
    }

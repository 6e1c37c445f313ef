"""Logistic regression over hashed features, with online updates (AdaGrad).

Boundary: arithmetic on dicts and floats, no I/O beyond reading the shipped prior. A prediction
is a sum over a few dozen dict lookups (microseconds); an update touches only the features of one
example. The model starts from a prior's weights and keeps what it learns as a separate, small
delta, which is what a workspace persists.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from tactful.feedback.acceptance.features import Features, canonical

PRIOR_FILE = "prior.json"


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class LogisticModel:
    """P(accepted | features) = sigmoid(w · x).

    ``rate`` and ``initial_accumulator`` set how far one online update moves the weights:
    AdaGrad divides each step by the root of the squared gradients seen so far for that feature,
    so frequent features settle while rare ones still learn.
    """

    def __init__(
        self,
        weights: Mapping[int, float] | None = None,
        *,
        rate: float = 0.05,
        initial_accumulator: float = 1.0,
        l2: float = 0.0,
    ) -> None:
        self.prior: dict[int, float] = dict(weights or {})
        self.weights: dict[int, float] = dict(self.prior)
        self.accumulators: dict[int, float] = {}
        self.rate = rate
        self.initial_accumulator = initial_accumulator
        self.l2 = l2
        self.updates = 0

    def logit(self, features: Features) -> float:
        get = self.weights.get
        z = 0.0
        for i, v in features:
            z += get(i, 0.0) * v
        return z

    def predict(self, features: Features) -> float:
        return sigmoid(self.logit(features))

    def update(self, features: Features, label: bool | float, weight: float = 1.0) -> float:
        """One SGD step towards ``label`` (a bool, or a probability as a soft label); returns
        the prediction before the step."""
        p = self.predict(features)
        g = (p - float(label)) * weight
        w = self.weights
        acc = self.accumulators
        for i, v in features:
            gi = g * v + self.l2 * w.get(i, 0.0)
            if gi == 0.0:
                continue
            a = acc.get(i, self.initial_accumulator) + gi * gi
            acc[i] = a
            w[i] = w.get(i, 0.0) - self.rate * gi / math.sqrt(a)
        self.updates += 1
        return p

    # -- persistence ----------------------------------------------------------------------

    def delta(self) -> dict[str, Any]:
        """What was learned on top of the prior, as JSON-ready data."""
        changed = {
            str(i): w - self.prior.get(i, 0.0)
            for i, w in self.weights.items()
            if w != self.prior.get(i, 0.0)
        }
        return {
            "updates": self.updates,
            "weights": changed,
            "accumulators": {str(i): a for i, a in self.accumulators.items()},
        }

    def apply_delta(self, delta: Mapping[str, Any]) -> None:
        """Restore what a workspace had learned (ignores anything malformed)."""
        try:
            weights = {int(k): float(v) for k, v in dict(delta.get("weights", {})).items()}
            accumulators = {
                int(k): float(v) for k, v in dict(delta.get("accumulators", {})).items()
            }
            updates = int(delta.get("updates", 0))
        except (TypeError, ValueError, AttributeError):
            return
        self.weights = dict(self.prior)
        for i, d in weights.items():
            self.weights[i] = self.prior.get(i, 0.0) + d
        self.accumulators = accumulators
        self.updates = updates


@dataclass(frozen=True)
class Stage:
    """One trained stage of the cascade: weights, the tuned threshold and how it was found."""

    weights: Mapping[int, float]
    threshold: float
    rate: float = 0.05
    initial_accumulator: float = 1.0
    notes: Mapping[str, Any] = field(default_factory=dict)

    def model(self) -> LogisticModel:
        return LogisticModel(
            self.weights, rate=self.rate, initial_accumulator=self.initial_accumulator
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": round(self.threshold, 4),
            "rate": self.rate,
            "initial_accumulator": self.initial_accumulator,
            "notes": dict(self.notes),
            "weights": {str(i): round(w, 4) for i, w in sorted(self.weights.items()) if w},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stage:
        return cls(
            weights={canonical(int(k)): float(v) for k, v in data.get("weights", {}).items()},
            threshold=float(data["threshold"]),
            rate=float(data.get("rate", 0.05)),
            initial_accumulator=float(data.get("initial_accumulator", 1.0)),
            notes=dict(data.get("notes", {})),
        )


@dataclass(frozen=True)
class Prior:
    """The shipped starting point: a gate and a filter stage, and what they were trained on."""

    gate: Stage
    filter: Stage
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "meta": dict(self.meta),
            "gate": self.gate.to_json(),
            "filter": self.filter.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prior:
        return cls(
            gate=Stage.from_json(data["gate"]),
            filter=Stage.from_json(data["filter"]),
            meta=dict(data.get("meta", {})),
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=False)


@cache
def shipped_prior() -> Prior:
    """The prior shipped inside the package (``prior.json``, written by the training script)."""
    text = resources.files("tactful.feedback.acceptance").joinpath(PRIOR_FILE).read_text("utf-8")
    return Prior.from_json(json.loads(text))


def fit(
    examples: Iterable[tuple[Features, bool, float]],
    *,
    epochs: int = 4,
    rate: float = 0.1,
    l2: float = 1e-5,
    seed_order: Iterable[int] | None = None,
) -> dict[int, float]:
    """Batch training for the prior: AdaGrad passes over ``(features, label, weight)``.

    The order is the caller's (shuffle with a seeded generator for a reproducible result).
    """
    data = list(examples)
    order = list(seed_order) if seed_order is not None else list(range(len(data)))
    model = LogisticModel(rate=rate, initial_accumulator=1e-2, l2=l2)
    for _ in range(epochs):
        for k in order:
            features, label, weight = data[k]
            model.update(features, label, weight)
    return {i: w for i, w in model.weights.items() if abs(w) >= 1e-3}

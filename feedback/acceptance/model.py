"""Logistic regression over hashed features, with online updates (AdaGrad).

Boundary: arithmetic on a table of floats, no I/O beyond reading the shipped prior. A
prediction is a sum over a few dozen table reads (microseconds); an update touches only the
features of one example. The model starts from a prior's weights and keeps what it learns as a
separate, small delta, which is what a workspace persists.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from operator import itemgetter
from typing import Any, Literal

from tactful.feedback.acceptance.features import DIMENSION, Features

PRIOR_FILE = "prior.json"


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def dense(
    weights: Mapping[int, float], typecode: Literal["f", "d"] = "f", size: int = DIMENSION
) -> array[float]:
    """``weights`` as a flat table of ``size`` over the hashed indices (zero where absent):
    32-bit floats (``f``) for a workspace's models, 64-bit (``d``) for training."""
    table = array(typecode, [0.0]) * size
    for i, w in weights.items():
        table[i] = w
    return table


class LogisticModel:
    """P(accepted | features) = sigmoid(w · x).

    The weights are one flat table over every hashed index (4 MB of 32-bit floats, about what a
    dictionary of a prior's weights takes): a decision reads one number per feature, where a
    dictionary chases several pointers per feature through memory that the rest of the server
    has just pushed out of the CPU's caches. The prior's weights stay a mapping, for what was
    learned on top of them (``delta``).

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
        typecode: Literal["f", "d"] = "f",
        dimension: int = DIMENSION,
    ) -> None:
        self.prior: Mapping[int, float] = weights if weights is not None else {}
        self.typecode: Literal["f", "d"] = typecode
        self.dimension = dimension
        self.weights: array[float] = dense(self.prior, typecode, dimension)
        self.accumulators: dict[int, float] = {}
        self.rate = rate
        self.initial_accumulator = initial_accumulator
        self.l2 = l2
        self.updates = 0

    def logit(self, features: Features) -> float:
        w = self.weights
        ones = features.ones
        # One C call reads them all (``map`` over ``w.__getitem__`` calls a wrapper per
        # feature, about twice the cost); ``itemgetter`` of one index returns no tuple.
        z = sum(itemgetter(*ones)(w)) if len(ones) > 1 else sum(w[i] for i in ones)
        for i, v in features.values:
            z += w[i] * v
        return z

    def predict(self, features: Features) -> float:
        return sigmoid(self.logit(features))

    def update(self, features: Features, label: bool | float, weight: float = 1.0) -> float:
        """One SGD step towards ``label`` (a bool, or a probability as a soft label); returns
        the prediction before the step."""
        p = self.predict(features)
        g = (p - float(label)) * weight
        if g == 0.0 and not self.l2:
            self.updates += 1
            return p
        w = self.weights
        acc = self.accumulators
        l2 = self.l2
        rate = self.rate
        start = self.initial_accumulator
        for i, v in features:
            gi = g * v + l2 * w[i]
            if gi == 0.0:
                continue
            a = acc.get(i, start) + gi * gi
            acc[i] = a
            w[i] -= rate * gi / math.sqrt(a)
        self.updates += 1
        return p

    def nonzero(self, at_least: float = 0.0) -> dict[int, float]:
        """The weights that are not zero (or at least ``at_least`` in size), by index."""
        w = self.weights
        found = {i: w[i] for i in set(self.prior) | set(self.accumulators)}
        return {i: x for i, x in found.items() if x and abs(x) >= at_least}

    # -- persistence ----------------------------------------------------------------------

    def delta(self) -> dict[str, Any]:
        """What was learned on top of the prior, as JSON-ready data."""
        w = self.weights
        prior = self.prior
        changed = {}
        for i in self.accumulators:
            d = w[i] - prior.get(i, 0.0)
            if d:
                changed[str(i)] = d
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
        if not all(0 <= i < self.dimension for i in (*weights, *accumulators)):
            return
        w = dense(self.prior, self.typecode, self.dimension)
        for i, d in weights.items():
            w[i] = self.prior.get(i, 0.0) + d
        self.weights = w
        # ``delta`` looks for what was learned where there is an accumulator.
        start = self.initial_accumulator
        self.accumulators = {**{i: start for i in weights}, **accumulators}
        self.updates = updates


@dataclass(frozen=True)
class Stage:
    """One trained stage of the cascade: weights, the tuned threshold and how it was found.

    ``offsets``: what is added to the threshold in a situation (``features.situation``), each
    chosen like the threshold, on trajectories of that situation under the same budget; a
    situation not named keeps the threshold. Written as ``situations``, a key a server that
    does not know it ignores (it then uses ``threshold`` everywhere, as before)."""

    weights: Mapping[int, float]
    threshold: float
    rate: float = 0.05
    initial_accumulator: float = 1.0
    notes: Mapping[str, Any] = field(default_factory=dict)
    offsets: Mapping[str, float] = field(default_factory=dict)

    def model(self) -> LogisticModel:
        return LogisticModel(
            self.weights, rate=self.rate, initial_accumulator=self.initial_accumulator
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "threshold": round(self.threshold, 4),
            "rate": self.rate,
            "initial_accumulator": self.initial_accumulator,
            "notes": dict(self.notes),
        }
        if self.offsets:
            data["situations"] = {k: round(v, 4) for k, v in sorted(self.offsets.items())}
        data["weights"] = {str(i): round(w, 4) for i, w in sorted(self.weights.items()) if w}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stage:
        return cls(
            weights={int(k): float(v) for k, v in data.get("weights", {}).items()},
            threshold=float(data["threshold"]),
            rate=float(data.get("rate", 0.05)),
            initial_accumulator=float(data.get("initial_accumulator", 1.0)),
            notes=dict(data.get("notes", {})),
            offsets=_offsets(data.get("situations")),
        )


def _offsets(data: object) -> dict[str, float]:
    """A stage's ``situations`` (ignored if malformed: the threshold then holds everywhere)."""
    if not isinstance(data, Mapping):
        return {}
    try:
        offsets = {str(k): float(v) for k, v in data.items()}
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in offsets.items() if math.isfinite(v) and abs(v) < 1.0}


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
    model = LogisticModel(rate=rate, initial_accumulator=1e-2, l2=l2, typecode="d")
    for _ in range(epochs):
        for k in order:
            features, label, weight = data[k]
            model.update(features, label, weight)
    return model.nonzero(1e-3)

"""The filter fitted on a team's suggestions as a posterior centred on the model it starts from.

Boundary: arithmetic only (numpy and scipy, which ``tactful team train`` alone imports), no I/O.

Logistic regression over the hashed features whose L2 penalty pulls towards the starting
weights (the shipped prior, or the team's model for a repository) rather than towards zero:
the maximum a posteriori fit under a Gaussian prior centred on them. Features the team's data
does not speak about keep their starting weight exactly, and ones it speaks about move as far
as the evidence outweighs the penalty. Unlike a warm start trained for a few passes, the result
does not depend on the order or the number of passes, only on the data and the penalty's
strength.

The strength is chosen by cross-validation across groups of the team's suggestions that stand
for files the rest never typed: the team store knows no paths (they never leave a machine), so
a group is one developer's suggestions (with fewer than ``MIN_GROUPS`` developers, contiguous
stretches of time of equal size). Each candidate strength is fitted without one group and
tested on it, and the strength whose held-out acceptance lift at the loss budget is highest on
average wins; the start itself (an infinite strength) is a candidate, so a team whose data
does not carry over keeps it. The published threshold is the one that loses the budget on
the pooled held-out predictions of the chosen strength.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse

from tactful.feedback.acceptance.features import DIMENSION, Features

logger = logging.getLogger(__name__)

# Strengths tried, in units of one example of weight 1 per unit of squared weight change; the
# start itself (``math.inf``) is always a candidate too.
STRENGTHS = (1.0, 10.0, 100.0, 1000.0)
MIN_GROUPS = 3
TIME_GROUPS = 5
MAX_ITERATIONS = 100
# Relative change of the objective at which a fit stops: far below what moves a ranking.
TOLERANCE = 1e-7


@dataclass(frozen=True)
class Labelled:
    """One suggestion to fit or test on: its features, whether it was accepted (or, for a soft
    label, the probability it was), the weight it carries and its group."""

    features: Features
    label: float
    weight: float
    group: str


@dataclass(frozen=True)
class Choice:
    """The strength chosen and what cross-validation measured for every candidate:
    ``scores[strength]`` is the mean held-out figure over the groups (``math.inf`` is the
    start); ``held_out`` the pooled ``(probability, example)`` of the chosen strength."""

    strength: float
    scores: Mapping[float, float]
    groups: int
    held_out: Sequence[tuple[float, int]]


class Design:
    """The examples as a sparse matrix over the columns they use, and the start's weights
    there: a fit touches only those columns, every other weight stays the start's."""

    def __init__(self, examples: Sequence[Labelled], start: Mapping[int, float]) -> None:
        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        for e in examples:
            for i, v in e.features:
                indices.append(i)
                values.append(v)
            indptr.append(len(indices))
        columns, local = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
        self.columns = columns
        self.matrix = sparse.csr_matrix(
            (np.asarray(values, dtype=np.float64), local.astype(np.int32), indptr),
            shape=(len(examples), len(columns)),
        )
        self.matrix.sum_duplicates()
        self.start = np.asarray([start.get(int(c), 0.0) for c in columns], dtype=np.float64)
        self.labels = np.asarray([e.label for e in examples], dtype=np.float64)
        self.weights = np.asarray([e.weight for e in examples], dtype=np.float64)

    def rows(self, mask: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        return self.matrix[mask], self.labels[mask], self.weights[mask]


def _fit_columns(
    matrix: sparse.csr_matrix,
    labels: np.ndarray,
    weights: np.ndarray,
    start: np.ndarray,
    strength: float,
) -> np.ndarray:
    """argmin over w of sum(weight * logistic loss) + strength / 2 * |w - start|^2."""
    if not math.isfinite(strength) or matrix.shape[0] == 0:
        return start.copy()
    transposed = matrix.T.tocsr()

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = matrix @ w
        loss = float(np.sum(weights * (np.logaddexp(0.0, z) - labels * z)))
        residual = weights * (_sigmoid(z) - labels)
        d = w - start
        return (
            loss + 0.5 * strength * float(d @ d),
            transposed @ residual + strength * d,
        )

    result = optimize.minimize(
        objective,
        start.copy(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_ITERATIONS, "ftol": TOLERANCE},
    )
    return np.asarray(result.x)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def fit(
    examples: Sequence[Labelled], start: Mapping[int, float], strength: float
) -> dict[int, float]:
    """``start`` moved towards ``examples`` as far as ``strength`` lets it (see the module
    docstring); the weights of every feature, the untouched ones as they started."""
    design = Design(examples, start)
    fitted = _fit_columns(design.matrix, design.labels, design.weights, design.start, strength)
    weights = dict(start)
    for column, w in zip(design.columns.tolist(), fitted.tolist(), strict=True):
        weights[column] = w
    return {i: w for i, w in weights.items() if w and 0 <= i < DIMENSION}


def groups_of(examples: Sequence[Labelled], times: Sequence[float]) -> list[str]:
    """Each example's cross-validation group: its developer when there are enough of them,
    else its stretch of time."""
    developers = {e.group for e in examples}
    if len(developers) >= MIN_GROUPS:
        return [e.group for e in examples]
    order = sorted(range(len(examples)), key=lambda k: times[k])
    groups = [""] * len(examples)
    for rank, k in enumerate(order):
        groups[k] = str(rank * TIME_GROUPS // max(1, len(order)))
    return groups


def choose_strength(
    examples: Sequence[Labelled],
    groups: Sequence[str],
    start: Mapping[int, float],
    score: Callable[[np.ndarray, np.ndarray], float | None],
    strengths: Sequence[float] = STRENGTHS,
) -> Choice:
    """The strength whose fits without each group score best on that group, on average
    (``score(probabilities, example indices)``, higher is better; groups it cannot score are
    left out). The start (``math.inf``) wins ties."""
    design = Design(examples, start)
    names = sorted(set(groups))
    group_of = np.asarray([names.index(g) for g in groups])
    candidates = [math.inf, *sorted(strengths)]
    totals = dict.fromkeys(candidates, 0.0)
    counted = dict.fromkeys(candidates, 0)
    predictions: dict[float, list[tuple[float, int]]] = {c: [] for c in candidates}
    if len(names) < 2:
        return Choice(math.inf, {}, len(names), [])
    for g in range(len(names)):
        train = group_of != g
        test = np.flatnonzero(~train)
        matrix, labels, weights = design.rows(train)
        held = design.matrix[test]
        for strength in candidates:
            fitted = _fit_columns(matrix, labels, weights, design.start, strength)
            probabilities = _sigmoid(held @ fitted)
            predictions[strength].extend(zip(probabilities.tolist(), test.tolist(), strict=True))
            value = score(probabilities, test)
            if value is not None:
                totals[strength] += value
                counted[strength] += 1
    scores = {c: totals[c] / counted[c] for c in candidates if counted[c]}
    if not scores:
        return Choice(math.inf, {}, len(names), [])
    best = max(candidates, key=lambda c: (scores.get(c, -math.inf), c == math.inf))
    logger.info("filter strength %s chosen over %d groups: %s", best, len(names), scores)
    return Choice(best, scores, len(names), predictions[best])

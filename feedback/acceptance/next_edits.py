"""The item model for next edits: show this proposed follow-up edit, or not?

Boundary: decisions and learning in memory for one workspace; no I/O. Same machinery as the
completion filter and the item model for comments and fixes (hashed logistic regression, online
AdaGrad, ``explore``), over what a next edit's proposer says of it: where it comes from (a
repeated edit, a rename, a signature change, a renamed attribute, the model), its score, and the
evidence behind it (how many times the developer made the edit, how many places it applies to,
how general the rewrite is, whether it is in the same file...).

There is no replay corpus of accepted next edits to train a prior on, so the prior is written
down: the proposer's own score, which benchmarks/next_edits.py tuned on replayed commits, is the
probability (its logit is a feature of weight one; everything else starts at zero). What the
developer accepts and turns down then moves the weights of the evidence that was there: a kind
of change this developer never takes sinks below the threshold, one they always take rises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tactful.feedback.acceptance.cascade import MAX_EXPLORE_WEIGHT, Decision
from tactful.feedback.acceptance.exploring import ExploringModel
from tactful.feedback.acceptance.features import BIAS, Features, index

# The proposers' own threshold (tactful.suggestion.next_edits.THRESHOLD): with nothing learned
# yet, the model shows what the engine alone would show.
DEFAULT_THRESHOLD = 0.5
DIMENSION = 1 << 16
# A repeated edit carries about fifteen pieces of evidence, each a feature of its own, so one
# update moves its logit by about rate × 18 × (p − outcome): at 0.1, by that count, one rejection
# moves an item of 0.55 to about 0.3 and hides its kind, which, hidden, is not shown again to be
# taken (tests/test_next_edits_feedback.py: hidden after one turn). At 0.02 a rejection moves
# it by about 0.2, and a kind taken two times in three stays shown.
LEARNING_RATE = 0.02
_SCORE = index("ne.score") % DIMENSION
# Keeps the logit of a score of 0 or 1 finite.
_EPSILON = 1e-3


@dataclass(frozen=True, slots=True)
class NextEditItem:
    """A proposed next edit as the model sees it: ``source`` (``repeat``, ``rename``,
    ``signature``, ``attribute``, ``llm``), the proposer's ``score`` in [0, 1], and its
    ``evidence`` as (name, value) pairs."""

    source: str
    score: float
    evidence: tuple[tuple[str, float], ...] = ()
    language: str = ""


# Features every kind of next edit has (the bias, the language, evidence read the same way
# whatever the source, the score) count for less, so turning down one kind of edit mostly
# teaches about that kind, while a habit of turning everything down still shows over time.
_SHARED = 0.35


def prior_weights() -> dict[int, float]:
    """The written prior: the proposer's score is the probability."""
    return {_SCORE: 1.0 / _SHARED}


def _bucket(value: float) -> str:
    """Small counts as themselves, larger ones in ranges (3 places and 30 are not alike, 30
    and 31 are)."""
    if value < 0:
        return "neg"
    if value <= 2 and value == int(value):
        return str(int(value))
    if value <= 6:
        return "3-6"
    return "7+"


def next_edit_features(item: NextEditItem) -> Features:
    score = min(1.0 - _EPSILON, max(_EPSILON, item.score))
    own = {f"ne.s={item.source}"}
    shared = {f"ne.L={item.language}"}
    for name, value in item.evidence:
        bucket = _bucket(value)
        own.add(f"ne.s={item.source}|f={name}={bucket}")
        shared.add(f"ne.f={name}={bucket}")
    taken = {BIAS, _SCORE}
    ones = sorted({index(name) % DIMENSION for name in own} - taken)
    shared_indices = sorted({index(name) % DIMENSION for name in shared} - taken - set(ones))
    values = (
        (BIAS, _SHARED),
        (_SCORE, _SHARED * math.log(score / (1.0 - score))),
        *((i, _SHARED) for i in shared_indices),
    )
    return Features(ones, values)


class NextEditModel(ExploringModel):
    """Decides which next edits to show for one workspace, and learns from what became of
    them."""

    def __init__(
        self,
        *,
        threshold: float | None = None,
        explore: float = 0.05,
        enabled: bool = True,
        seed: int | None = None,
        explored_weight: float = MAX_EXPLORE_WEIGHT,
    ) -> None:
        super().__init__(
            prior_weights(),
            rate=LEARNING_RATE,
            dimension=DIMENSION,
            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
            explore=explore,
            enabled=enabled,
            seed=seed,
            max_explore_weight=explored_weight,
        )

    def judge(self, item: NextEditItem, may_explore: bool = True) -> Decision:
        """Show this next edit? Below the threshold, ``explore`` of them are still shown (so
        that learning sees both sides; ``may_explore`` False: none); with the filter off,
        everything is shown."""
        return self.decide(next_edit_features(item), may_explore=may_explore)

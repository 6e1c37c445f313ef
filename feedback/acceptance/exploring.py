"""The decide-and-learn machinery the item models share: show what passes a threshold, show a
share of the rest to keep learning from both sides, and learn each outcome weighted by how
likely it was to be shown.

Boundary: decisions and learning in memory for one workspace; no I/O. The completion filter has
its own cascade (feedback/acceptance/cascade.py); review comments, fixes and next edits each
subclass this with their own features, prior, threshold and learning rate.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from tactful.feedback.acceptance.cascade import MAX_EXPLORE_WEIGHT, Decision
from tactful.feedback.acceptance.features import Features
from tactful.feedback.acceptance.model import LogisticModel


class ExploringModel:
    """A hashed logistic model with a threshold and ``explore``: the share of items below the
    threshold that are shown anyway (an explored item's outcome counts ``1 / explore`` times,
    up to ``max_explore_weight``, MAX_EXPLORE_WEIGHT unless a model says otherwise, so learning
    is not biased towards what was already shown)."""

    def __init__(
        self,
        weights: Mapping[int, float],
        *,
        rate: float,
        dimension: int,
        threshold: float,
        explore: float,
        enabled: bool,
        seed: int | None,
        max_explore_weight: float = MAX_EXPLORE_WEIGHT,
    ) -> None:
        self.model = LogisticModel(
            dict(weights), rate=rate, initial_accumulator=1.0, dimension=dimension
        )
        self.threshold = threshold
        self.explore = explore
        self.enabled = enabled
        self.max_explore_weight = max_explore_weight
        self._random = random.Random(seed)

    def decide(
        self, features: Features, previous: Decision | None = None, may_explore: bool = True
    ) -> Decision:
        """Show an item with these features? With ``previous`` (the decision on the same item
        before), the probability is computed again but an exploration draw already made for it
        is kept: an item asked about again flips only when the model learned something, never
        by chance. ``may_explore`` False: below the threshold it is hidden without a draw (one
        answer's other items when its draw was made on a better one). With the filter off,
        everything is shown."""
        p = self.model.predict(features)
        if not self.enabled or p >= self.threshold:
            return Decision(p, True, False, features)
        if previous is not None and (previous.explored or not previous.show):
            # Below the threshold before too: the draw made then still stands.
            return Decision(p, previous.explored, previous.explored, features)
        if may_explore and self.explore > 0.0 and self._random.random() < self.explore:
            return Decision(p, True, True, features)
        return Decision(p, False, False, features)

    def learn(self, decision: Decision, useful: bool) -> None:
        """Learn what became of a decided item: ``useful`` when the developer took it (an
        accepted next edit, an applied fix)."""
        weight = 1.0
        if decision.explored and self.explore > 0.0:
            weight = min(1.0 / self.explore, self.max_explore_weight)
        self.model.update(decision.features, useful, weight)

    def state(self) -> dict[str, Any]:
        return self.model.delta()

    def restore(self, state: Mapping[str, Any] | None) -> None:
        if state:
            self.model.apply_delta(state)

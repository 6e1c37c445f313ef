"""The sibling model for review comments and quality fixes: rank them, hide the unwanted.

Boundary: decisions and learning in memory for one workspace; no I/O. Same machinery as the
completion filter (hashed logistic regression, online AdaGrad, ``explore``), different features:
what kind of item, which rule or source, its severity, language, and the validation verdict of a
fix. There is no replay corpus of review habits, so the prior is written down rather than trained:
everything starts visible (p = 0.7), and a developer's own dismissals push a rule below the
threshold after a few of them, while applied fixes and resolved comments pull it back up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tactful.feedback.acceptance.cascade import Decision
from tactful.feedback.acceptance.exploring import ExploringModel
from tactful.feedback.acceptance.features import BIAS, Features, index

PRIOR_BIAS = 0.85  # sigmoid(0.85) ~ 0.70: shown until the developer says otherwise
DEFAULT_THRESHOLD = 0.4
# Rules, sources and verdicts number in the hundreds: a small table holds them.
DIMENSION = 1 << 16
LEARNING_RATE = 0.6


def prior_weights() -> dict[int, float]:
    """The written prior: everything starts visible."""
    return {BIAS: PRIOR_BIAS / _SHARED}


@dataclass(frozen=True, slots=True)
class Item:
    """A review comment (``kind="comment"``) or a fix (``kind="fix"``) as the model sees it.

    ``rule`` is the rule id or commenter name (``F401``, ``review.todo``, ``llm``); ``source``
    where it came from (``rules``, ``ruff``, ``llm``); ``verdict`` a fix's validation result.
    """

    kind: str
    rule: str
    source: str = ""
    language: str = ""
    severity: str = ""
    verdict: str = ""
    safe: bool | None = None


# Features shared by many rules count for less, so dismissing one rule mostly teaches about
# that rule, while a habit of dismissing everything still shows up over time.
_SHARED = 0.35


def item_features(item: Item) -> Features:
    own = [f"i.r={item.rule}", f"i.r={item.rule}|k={item.kind}|v={item.verdict}"]
    shared = [
        f"i.k={item.kind}|s={item.source}",
        f"i.L={item.language}",
        f"i.sev={item.severity}",
        f"i.v={item.verdict}|k={item.kind}",
        f"i.safe={item.safe}",
    ]
    return Features(
        [index(n) % DIMENSION for n in own],
        ((BIAS, _SHARED), *((index(n) % DIMENSION, _SHARED) for n in shared)),
    )


ItemT = TypeVar("ItemT")


class ItemModel(ExploringModel):
    """Ranks and hides review comments and fixes for one workspace."""

    def __init__(
        self,
        *,
        threshold: float | None = None,
        explore: float = 0.05,
        enabled: bool = True,
        seed: int | None = None,
        weights: Mapping[int, float] | None = None,
    ) -> None:
        # ``weights``: where to start instead of the written prior (a team's model).
        super().__init__(
            weights if weights else prior_weights(),
            rate=LEARNING_RATE,
            dimension=DIMENSION,
            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
            explore=explore,
            enabled=enabled,
            seed=seed,
        )

    def judge(self, item: Item, previous: Decision | None = None) -> Decision:
        """Show this item? (See ExploringModel.decide for ``previous``.)"""
        return self.decide(item_features(item), previous)

    def rank(self, items: Sequence[tuple[ItemT, Item]]) -> list[tuple[ItemT, Decision]]:
        """The items to show, most likely useful first, with their decisions; hidden ones are
        left out."""
        judged = [(payload, self.judge(item)) for payload, item in items]
        shown = [(payload, d) for payload, d in judged if d.show]
        shown.sort(key=lambda pair: -pair[1].probability)
        return shown

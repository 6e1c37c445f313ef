"""The acceptance cascade for completions: a gate before generating, a filter after.

Boundary: decisions and learning only, in memory, for one workspace; no I/O (the caller persists
``state()`` and records events). Each decision is a hashed-feature logistic regression, well
under a millisecond.

- ``gate(context)``: is this a moment worth asking an engine at all? Skipping saves LLM calls
  and latency. The gate keeps the prior's weights: it is not learned online (see below).
- ``judge(context, candidate)``: is this suggestion likely to be taken? Below the threshold it
  is hidden — except a share ``explore`` of those, shown anyway and marked, so the model keeps
  seeing both sides; learning weighs them by the inverse of that share (capped) to stay unbiased.
- ``learn(decision, accepted)``: one online step for the filter from the developer's verdict.

The gate's threshold lies far in the tail of its probabilities (it skips only the moments least
likely to end in an accept), and nothing tells it what a moment it skipped would have given.
Learned online — from shown suggestions' verdicts, from moments where the engines had nothing
(as not worth asking) and from hidden suggestions (at the filter's estimate) — it lowered its
probabilities across the board on a workspace whose suggestions are taken less often than the
prior's corpora, and skipped moments the prior would have asked about: replaying requests'
commits through the server it skipped about 350 moments instead of about 230, and the filtered
replay lost about 9% of saved keystrokes instead of about 5% (docs/bench.md, "Online learning
within the 5%"). So only the filter, whose threshold follows the workspace, learns online.

The filter's threshold follows the workspace (unless ``filter.threshold`` is set): the prior's
was tuned so that hiding costs about 5% of the keystrokes suggestions save on the projects it was
trained on, but a project whose suggestions are taken less often loses more at the same
probability, and one whose are taken more often could hide more. ``ThresholdBudget`` keeps, by
probability, what accepted suggestions saved and what hidden ones then typed by hand cost
(``History.hidden_costs``), and sets the threshold where hiding costs ``LOSS_BUDGET``.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tactful.feedback.acceptance.budget import ThresholdBudget
from tactful.feedback.acceptance.features import (
    Candidate,
    Context,
    Features,
    candidate_features,
    context_features,
    path_kind,
    situation,
)
from tactful.feedback.acceptance.hidden import HiddenLedger, Typed
from tactful.feedback.acceptance.model import LogisticModel, Prior, shipped_prior

# An explored example stands for 1/explore hidden ones; capped so one event cannot swing a
# weight far.
MAX_EXPLORE_WEIGHT = 5.0
# An accept weighs more the more keystrokes it saved: losing a long accepted suggestion costs
# more than losing a short one. The prior is trained with the same weights, so online learning
# keeps its calibration (and the tuned thresholds keep their meaning).
SAVED_WEIGHT = 0.25
# The trigger of a request the developer made explicitly (an editor's "suggest now" key).
INVOKED = "invoked"


def example_weight(accepted: bool, saved: int) -> float:
    return 1.0 + SAVED_WEIGHT * max(0, saved) if accepted else 1.0


@dataclass(slots=True)
class Decision:
    """A verdict: ``show`` (for the gate: ask an engine), at ``probability`` of acceptance;
    ``explored`` when shown only to keep learning; ``features`` for learning later.

    Not frozen, though nothing changes one once made: a frozen dataclass sets each field
    through ``object.__setattr__``, which costs a decision over a microsecond (use
    ``dataclasses.replace`` for a changed copy)."""

    probability: float
    show: bool
    explored: bool = False
    features: Features = field(default_factory=lambda: Features([]))
    context: Features = field(default_factory=lambda: Features([]))
    # What the caller wants kept with the decision (engine, timing), for the events.
    detail: Mapping[str, object] = field(default_factory=dict)


class History:
    """What the developer did lately: the last verdict and its time, the recent accept rate,
    and the last suggestion shown — so a later moment can tell that the developer is typing
    along a suggestion instead of taking it (a strong sign that the rest of it is wrong)."""

    def __init__(self, window: int = 20, min_count: int = 5) -> None:
        self._recent: deque[bool] = deque(maxlen=window)
        self._min_count = min_count
        self.last_outcome = "none"
        self.last_time: float | None = None
        self._shown: tuple[str, int, str, str] | None = None
        # Hidden suggestions followed until typed by hand or left; those found at the latest
        # moment to have been typed.
        self.hidden = HiddenLedger()
        self.hidden_costs: list[Typed] = []

    def note(self, accepted: bool, now: float | None = None) -> None:
        self._recent.append(accepted)
        self.last_outcome = "accepted" if accepted else "rejected"
        self.last_time = time.monotonic() if now is None else now
        if accepted:
            self.hidden.took()

    def note_shown(self, document: str, line_number: int, line_prefix: str, text: str) -> None:
        """A suggestion ``text`` was shown at the end of ``line_prefix`` on that line."""
        self._shown = (document, line_number, line_prefix, text)

    def note_hidden(self, text: str, probability: float, key: str = "") -> None:
        """A suggestion ``text`` was hidden at this moment (the last ``context``), judged at
        ``probability``; ``key`` comes back with it if it is found typed by hand."""
        self.hidden.hid(text, probability, key)

    def since_last(self, now: float | None = None) -> float | None:
        if self.last_time is None:
            return None
        return (time.monotonic() if now is None else now) - self.last_time

    def rate(self) -> float | None:
        if len(self._recent) < self._min_count:
            return None
        return sum(self._recent) / len(self._recent)

    def along(self, document: str, line_number: int, line_prefix: str) -> str:
        """How this moment relates to the last suggestion shown: ``along`` (part of it typed),
        ``after`` (all of it in the text), ``again`` (same place), ``diverged``, ``moved``
        (another line or document) or ``none``."""
        if self._shown is None:
            return "none"
        doc, line, prefix, text = self._shown
        if doc != document or line != line_number or not line_prefix.startswith(prefix):
            return "moved"
        typed = line_prefix[len(prefix) :]
        if not typed:
            return "again"
        if typed.startswith(text):
            return "after"
        if text.startswith(typed):
            return "along"
        return "diverged"

    def context(
        self,
        language: str,
        line_prefix: str,
        line_suffix: str = "",
        previous_line: str = "",
        line_number: int = 0,
        trigger: str = "automatic",
        now: float | None = None,
        document: str = "",
        path: str = "",
        continues: bool = False,
    ) -> Context:
        """A ``Context`` for this moment, with this history filled in (``document``: an id for
        the document, ``path``: its file path, if it has one; ``continues``: the document goes
        on after the cursor's line). ``hidden_costs`` is set to the
        suggestions the filter hid that are found at this moment to have been typed by hand
        (``HiddenLedger``)."""
        self.hidden_costs = self.hidden.moment(document, line_number, line_prefix, previous_line)
        return Context(
            language=language,
            line_prefix=line_prefix,
            line_suffix=line_suffix,
            previous_line=previous_line,
            line_number=line_number,
            trigger=trigger,
            since_last_s=self.since_last(now),
            last_outcome=self.last_outcome,
            recent_rate=self.rate(),
            along=self.along(document, line_number, line_prefix),
            path_kind=path_kind(path),
            continues=continues,
        )


class AcceptanceModel:
    """Gate and filter for one workspace, starting from a prior; the filter learns online.

    ``threshold`` is ``filter.threshold`` (None: the prior's tuned value); ``enabled`` is
    ``filter.enabled`` — when off, every decision says show, yet probabilities are still
    computed and learning goes on, so turning it on later starts from what was learned.
    """

    def __init__(
        self,
        prior: Prior | None = None,
        *,
        threshold: float | None = None,
        explore: float = 0.05,
        enabled: bool = True,
        seed: int | None = None,
    ) -> None:
        self.prior = prior if prior is not None else shipped_prior()
        self.gate_model: LogisticModel = self.prior.gate.model()
        self.filter_model: LogisticModel = self.prior.filter.model()
        self.gate_threshold = self.prior.gate.threshold
        self.explore = explore
        self.enabled = enabled
        self._random = random.Random(seed)
        # What hiding cost and what showing saved, by probability: the workspace's threshold.
        self.budget = ThresholdBudget(self.prior.filter.threshold)
        self.offsets = dict(self.prior.filter.offsets)
        self.configure(threshold=threshold, explore=explore, enabled=enabled)

    def configure(self, *, threshold: float | None, explore: float, enabled: bool) -> None:
        """Apply changed ``filter.*`` settings without losing what was learned."""
        # A threshold the user set is kept as it is; the tuned one follows the workspace.
        self.fixed_threshold = threshold
        self.explore = explore
        self.enabled = enabled

    @property
    def threshold(self) -> float:
        if self.fixed_threshold is not None:
            return self.fixed_threshold
        return self.budget.threshold

    def threshold_at(self, ctx: Context) -> float:
        """The filter's threshold at this moment: the workspace's, moved by the prior's offset
        for the situation (``features.situation``); a threshold the user set holds everywhere."""
        if self.fixed_threshold is not None:
            return self.fixed_threshold
        offsets = self.offsets
        threshold = self.budget.threshold
        return threshold + offsets.get(situation(ctx), 0.0) if offsets else threshold

    def missed(self, probability: float, keystrokes: int) -> None:
        """Learning that the developer typed by hand ``keystrokes`` of a suggestion the filter
        hid at ``probability`` (``History.hidden_costs``)."""
        self.budget.add(probability, float(keystrokes))

    def gate(self, ctx: Context) -> Decision:
        """Before generating: ask an engine at this moment? (A share ``explore`` of the moments
        it would skip are asked anyway, so the filter also learns from what is offered there.)"""
        features = context_features(ctx)
        p = self.gate_model.predict(features)
        return self._decide(p, self.gate_threshold, features, features, ctx.trigger == INVOKED)

    def judge(self, ctx: Context, candidate: Candidate, gate: Decision | None = None) -> Decision:
        """After generating: show this suggestion?"""
        context = gate.context if gate is not None and gate.context else context_features(ctx)
        features = candidate_features(ctx, candidate, context)
        p = self.filter_model.predict(features)
        return self._decide(p, self.threshold_at(ctx), features, context, ctx.trigger == INVOKED)

    def _decide(
        self, p: float, threshold: float, features: Features, context: Features, asked: bool
    ) -> Decision:
        # A suggestion the developer asked for by a key is shown whatever its probability
        # (still scored, and learned from like any other).
        if not self.enabled or asked or p >= threshold:
            return Decision(p, True, False, features, context)
        if self.explore > 0.0 and self._random.random() < self.explore:
            return Decision(p, True, True, features, context)
        return Decision(p, False, False, features, context)

    def learn(self, decision: Decision, accepted: bool, saved: int = 0) -> None:
        """One online step for the filter from a shown suggestion's verdict (``saved``: the
        keystrokes its accept saved); the gate stays the prior's."""
        weight = example_weight(accepted, saved)
        if accepted:
            self.budget.add(decision.probability, float(saved))
        if decision.explored and self.explore > 0.0:
            weight *= min(1.0 / self.explore, MAX_EXPLORE_WEIGHT)
        self.filter_model.update(decision.features, accepted, weight)

    def state(self) -> dict[str, Any]:
        """What to persist for the workspace (only what was learned, not the prior)."""
        return {
            "prior": self.prior.meta.get("id", ""),
            "base": self.base_id,
            "filter": self.filter_model.delta(),
            "threshold": self.budget.state(),
        }

    @property
    def base_id(self) -> str:
        """The shipped prior this model descends from: a team's model (``meta["base"]``) is
        the shipped prior trained further on the team's events, in the same feature space, so
        what a developer learned on top of one applies on top of the other."""
        meta = self.prior.meta
        return str(meta.get("base") or meta.get("id", ""))

    def restore(self, state: dict[str, Any] | None) -> bool:
        """Take back a saved state, learned on this prior or on another one of the same base
        (a team's newer model); one learned on an unrelated prior is dropped (returns False).
        What an earlier version learned of the gate (``state["gate"]``) is not taken back."""
        if not state:
            return False
        if (
            state.get("prior") != self.prior.meta.get("id", "")
            and (state.get("base") or state.get("prior")) != self.base_id
        ):
            return False
        self.filter_model.apply_delta(state.get("filter", {}))
        followed = state.get("threshold")
        if isinstance(followed, dict):
            self.budget.restore(followed)
        return True

    @property
    def updates(self) -> int:
        return self.filter_model.updates

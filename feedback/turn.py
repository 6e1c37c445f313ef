"""A turn: one request's way through the pipeline, as one object.

Boundary: plain data, no behaviour of its own. The pipeline of a kind of suggestion (for
completions, ``tactful.feedback.completion``) makes a turn per request and writes each decision
into it as it goes — perceive, gate, propose, clean up, judge, speak — and the server reads what
was shown from it. Nothing about a request is parked anywhere else: not in tables keyed by the
request, not in the suggestions (which are frozen).

The shape is the same for every kind of suggestion; the steps are each kind's own:

- **completions**: the moment (``context``), the acceptance gate, the engines' proposals,
  post-processing drops, the acceptance filter's judgements, the suggestions shown with their ids;
- **review comments** (``ReviewTurn``, ``tactful.feedback.review.pipeline``): the document's
  change, the rules', ruff's and the model's comments, those off the changed lines dropped, the
  item model's ranking, the comments shown;
- **quality findings** (``QualityTurn``, ``tactful.feedback.quality``): ruff's findings on the
  editor's text, the findings shown, and the document's state the fixes are judged on;
- **fixes** (``FixTurn``, ``tactful.feedback.fixes``): a finding in its file's text, the
  candidate fixes (the usual ones, the alternatives, the model's rounds), those ruff's screen
  drops, the sandbox's verdict on each one tested, the fix offered;
- **quick fixes** (``QuickFixTurn``, ``tactful.feedback.quality``): one code action request,
  the offers of the findings it asks about with their ids, the item model's ranking, the fixes
  shown and the fix-all action's;
- **next edits** (``NextEditTurn`` in ``tactful.feedback.next_edits``, where the next-edit
  types load with the first next-edit request): the proposers' candidates (local and the
  model's), the item model's judgements, what the checks drop and why, what was shown.

A ``Judged`` item carries the acceptance model's ``Decision`` (probability, whether it is shown,
whether only to explore, and the threshold it was held to); None when no model judged it (before
the feedback loop exists, the server shows what it has). A fix's carries the sandbox's ``Verdict``
instead: the tests' word on it, or why none ran.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, Self, TypeVar

from tactful.feedback.acceptance.cascade import Decision
from tactful.feedback.acceptance.features import Context
from tactful.feedback.execution.verdict import Status, Verdict
from tactful.suggestion.registry import ShownSuggestion
from tactful.suggestion.types import CompletionRequest, Suggestion

R = TypeVar("R")
T = TypeVar("T")


class Outcome(enum.StrEnum):
    """How a turn ended."""

    SHOWN = "shown"  # something was shown
    SKIPPED = "skipped"  # the gate judged the moment not worth asking an engine
    SILENT = "silent"  # nothing was proposed (or nothing in time)
    DROPPED = "dropped"  # clean-up dropped everything proposed
    HIDDEN = "hidden"  # the filter hid everything left
    CANCELLED = "cancelled"  # a newer request for the same document took over
    STALE = "stale"  # the document changed while the turn ran: its result is dropped


# A proposal's ``problem`` when the proposer was asked in the background and had not answered
# by the time the turn went on without it, and when it was not asked because it is down.
BACKGROUND = "background"
DOWN = "down"


@dataclass(frozen=True, slots=True)
class Proposal(Generic[T]):
    """What one proposer (an engine, a commenter) gave, and how long it took. ``problem`` says
    why it gave nothing: ``"deadline"`` or ``"failed"``, ``"background"`` when it was asked in
    the background and had not answered yet, ``"down"`` when it was not asked (its provider is
    down and backed off)."""

    source: str
    items: tuple[T, ...]
    elapsed_ms: float
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Dropped(Generic[T]):
    """An item clean-up took out before anything judged it, and why."""

    item: T
    reason: str


@dataclass(frozen=True, slots=True)
class Judged(Generic[T]):
    """An item as it was judged: ``decision`` is None when no model judged it, ``verdict`` when
    no test judged it; it is shown unless one of them says no (the model hides it; the tests
    failed, timed out, or the new code behaves differently)."""

    item: T
    decision: Decision | None = None
    verdict: Verdict | None = None

    @property
    def shown(self) -> bool:
        if self.verdict is not None and (
            self.verdict.rejected or self.verdict.status is Status.TIMEOUT
        ):
            return False
        return self.decision is None or self.decision.show

    @property
    def threshold(self) -> float | None:
        """The threshold the filter held the item to, when a filter judged it."""
        if self.decision is None:
            return None
        value = self.decision.detail.get("threshold")
        return value if isinstance(value, float) else None


@dataclass(slots=True, eq=False)
class Turn(Generic[R, T]):
    """One request (``R``) and what became of the items (``T``) proposed for it."""

    request: R
    # Before anything is proposed: is this a moment worth proposing anything at all?
    gate: Decision | None = None
    proposals: list[Proposal[T]] = field(default_factory=list)
    dropped: list[Dropped[T]] = field(default_factory=list)
    judged: list[Judged[T]] = field(default_factory=list)
    outcome: Outcome | None = None

    @property
    def kept(self) -> list[Judged[T]]:
        """What the judges let through, to be shown."""
        return [judged for judged in self.judged if judged.shown]

    def end(self, outcome: Outcome) -> Self:
        self.outcome = outcome
        return self

    def ended_empty(self) -> Outcome:
        """How a turn that shows nothing ended: by the last step that had something."""
        if self.judged:
            return Outcome.HIDDEN
        if self.dropped:
            return Outcome.DROPPED
        return Outcome.SILENT

    def summary(self) -> dict[str, object]:
        """The turn in a few words, for the log."""
        return {
            "outcome": self.outcome.value if self.outcome else None,
            "gate": round(self.gate.probability, 3) if self.gate else None,
            "proposed": {p.source: p.problem or len(p.items) for p in self.proposals},
            "dropped": [d.reason for d in self.dropped],
            "judged": [_judgement(j) for j in self.judged],
        }


def _judgement(judged: Judged[T]) -> object:
    if judged.verdict is not None:
        return judged.verdict.status.value
    if judged.decision is not None:
        decision = judged.decision
        return (round(decision.probability, 3), decision.show, decision.explored)
    return None


@dataclass(slots=True, eq=False)
class CompletionTurn(Turn[CompletionRequest, Suggestion]):
    """A completion request's turn: ``context`` is the moment as the acceptance model saw it
    (the cursor's line, the line above, what the developer did lately), ``shown`` what the
    editor got, each with its id."""

    context: Context | None = None
    shown: list[ShownSuggestion] = field(default_factory=list)

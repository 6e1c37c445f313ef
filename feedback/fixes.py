"""Judged fixes: for each finding, the best candidate that ruff accepts and the tests confirm.

Boundary: orchestration between the proposers (``tactful.suggestion.fixes``), the ruff screen
and the execution judge, which it reaches only through a ``Validator`` callable (so the CLI,
the server and the benchmark choose the sandbox, the trust decision and the cache). It never
runs workspace code itself, never raises on broken code, and never offers a fix whose tests
failed, one that behaves differently from the code it replaces where no test runs it, or a
syntax repair that was not validated.

``fix_id``, ``fix_item`` and ``OfferedFixes`` serve the feedback loop: a fix's stable id, how
the item model sees it, and what became of the fixes offered in one document.

The path of one finding is ``FixJudge.turn``, read top to bottom, each decision written into
the finding's ``FixTurn`` (``tactful.feedback.turn``); ``tactful fix``, the quality pipeline's
judging in the background and a code action asked before it are its callers:

1. **propose**: the candidates (ruff's fix, recipes, syntax repairs);
2. **clean up**: ruff's screen (a candidate that changes nothing or another file, leaves the
   finding, adds one, or leaves a syntax error is dropped with the reason; one whose change
   another made already is dropped too), then the ranking (smallest, most local first);
3. **judge**: the tests, best first, until one passes (or, where no test runs the code, until
   one is shown to behave as before or the judge says nothing can show it, which holds for
   every candidate alike); where nothing may run, the best is offered, labelled;
4. when none passes, the alternatives (another way to satisfy the rule) the same way; when
   still none survives and an LLM is configured, its proposal goes through the same judges,
   with up to two refinement rounds that show it the failure (ruff's or the tests');
5. **offer**: the fix and its verdict, or none and why (``turn.offer``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tactful.analyzers.findings import Applicability, Finding, Fix
from tactful.analyzers.ruff import SYNTAX_ERROR, RuffOptions, check_text
from tactful.analyzers.text import Edit, apply_edits
from tactful.feedback.acceptance.items import Item
from tactful.feedback.execution.verdict import Status, Verdict, not_validated
from tactful.feedback.turn import Dropped, Judged, Outcome, Proposal, Turn
from tactful.suggestion.fixes import (
    Rejection,
    Screened,
    alternatives,
    candidates,
    rank,
    screen,
)
from tactful.suggestion.fixes import llm as llm_fixes
from tactful.suggestion.fixes.screen import Settled, SettleKey

logger = logging.getLogger(__name__)

Validator = Callable[[Sequence[Edit]], Verdict]

REFINEMENT_ROUNDS = 2
MODEL = "llm"
MAX_VALIDATIONS = 3
# Fixes are judged ahead of time for this many findings of a document at most (the others when
# the editor asks), and for its first syntax error only: syntax repairs are computed against the
# file's first error, so every later one would repeat the same work (a megabyte of random bytes
# as Python has hundreds).
MAX_JUDGED_AHEAD = 100


def judged_ahead(findings: Sequence[Finding]) -> list[int]:
    """Indices of the findings whose fixes are worth judging before anyone asks."""
    chosen: list[int] = []
    syntax_seen = False
    for index, finding in enumerate(findings):
        if finding.rule == SYNTAX_ERROR:
            if syntax_seen:
                continue
            syntax_seen = True
        chosen.append(index)
        if len(chosen) >= MAX_JUDGED_AHEAD:
            break
    return chosen


SETTLED_KEPT = 256


@dataclass(frozen=True, slots=True)
class FixOffer:
    """What tactful offers for one finding: a fix and its verdict, or nothing and why."""

    finding: Finding
    fix: Fix | None
    verdict: Verdict
    tried: int = 0  # candidates that reached the ruff screen
    rejections: tuple[str, ...] = field(default=())

    @property
    def offered(self) -> bool:
        return self.fix is not None

    @property
    def validated(self) -> bool:
        """Offered with tests that ran the fixed code and passed on it."""
        return self.fix is not None and self.verdict.passed

    @property
    def unexercised(self) -> bool:
        """Offered with tests that pass but none of which runs the fixed code."""
        return self.fix is not None and self.verdict.status is Status.UNEXERCISED

    @property
    def equivalent(self) -> bool:
        """Offered where no test runs the code, behaving as before on every input tried."""
        return self.fix is not None and self.verdict.status is Status.EQUIVALENT

    @property
    def safe(self) -> bool:
        return self.fix is not None and self.fix.applicability is Applicability.SAFE

    @property
    def applicable(self) -> bool:
        """Fit to apply without asking: safe (ruff's word) or validated by the tests."""
        return self.fix is not None and (self.verdict.passed or self.safe)

    @property
    def title(self) -> str:
        """The fix and its verdict in words, as DESIGN §2 shows them in code actions."""
        if self.fix is None:
            return ""
        name = self.fix.title
        if f"({self.finding.rule})" not in name:
            name = f"{name} ({self.finding.rule})"
        return f"{name} — {verdict_phrase(self.fix, self.verdict)}"


def verdict_phrase(fix: Fix, verdict: Verdict) -> str:
    """``14 tests passed``, ``unsafe fix, not validated (workspace not trusted)``, …"""
    if verdict.status in (Status.NOT_VALIDATED, Status.ERROR):
        kind = {
            Applicability.SAFE: "safe fix",
            Applicability.UNSAFE: "unsafe fix",
            Applicability.DISPLAY_ONLY: "suggested fix",
        }[fix.applicability]
        if fix.origin == "llm":
            kind = "LLM fix"
        return f"{kind}, {verdict.summary()}"
    return verdict.summary()


CANDIDATES, ALTERNATIVES = "candidates", "alternatives"
SAME_CHANGE = "the same change as another candidate"
# Verdicts under which a candidate may be offered (a syntax repair only when its tests ran it).
OFFERED = frozenset({Status.PASSED, Status.EQUIVALENT, Status.UNEXERCISED})


@dataclass(frozen=True, slots=True)
class FixRequest:
    """A finding to fix: ``text`` is its file's content, ``before`` everything ruff found in that
    text, which ruff's screen of a candidate counts (None: ruff is asked)."""

    finding: Finding
    text: str
    before: tuple[Finding, ...] | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fix as a turn follows it: ``step`` is the place of the proposal it came from in
    ``turn.proposals``, ``source`` what a rejection calls it (its origin: ``ruff``, ``recipe``,
    ``syntax``, …; ``llm round 2`` for the model's second answer)."""

    fix: Fix
    step: int
    source: str


@dataclass(slots=True, eq=False)
class FixTurn(Turn[FixRequest, Candidate]):
    """One finding's way to a fix (``tactful.feedback.turn``): the proposals (``candidates``,
    then ``alternatives``, then ``llm round N``), the candidates ruff's screen dropped (and a
    change already proposed), each candidate judged with the sandbox's verdict, and ``offer``,
    the fix offered and its verdict, or none and why. The outcome is ``shown`` when a fix is
    offered, ``hidden`` when the tests rejected every candidate they judged, ``dropped`` when
    ruff's screen took out every candidate, ``silent`` when none was proposed, ``cancelled``
    when the judging was stopped."""

    offer: FixOffer | None = None

    def rejections(self, tested: bool) -> tuple[str, ...]:
        """Why each candidate was not offered, in the order it was decided: ruff's screen, and
        (``tested``: the tests ran) each verdict that did not let it through."""
        why: list[tuple[int, int, str]] = [
            (d.item.step, 0, f"{d.item.source}: {d.reason}")
            for d in self.dropped
            if d.reason != SAME_CHANGE
        ]
        if tested:
            why += [
                (j.item.step, 1, f"{j.item.source}: tests: {j.verdict.summary()}")
                for j in self.judged
                if j.verdict is not None and j.verdict.status not in OFFERED
            ]
        return tuple(reason for _, _, reason in sorted(why, key=lambda w: w[:2]))

    def failure(self) -> Verdict | None:
        """The last verdict that let no usual candidate (nor an alternative) through."""
        usual = (CANDIDATES, ALTERNATIVES)
        for judged in reversed(self.judged):
            verdict = judged.verdict
            if self.proposals[judged.item.step].source not in usual or verdict is None:
                continue
            if verdict.status not in OFFERED:
                return verdict
        return None


class FixJudge:
    """Judges fixes for the findings of one workspace (verdicts memoised by resulting text)."""

    def __init__(
        self,
        root: str | Path,
        *,
        ruff_options: RuffOptions | None = None,
        validate: Validator | None = None,
        not_validated_reason: str = "validation is off",
        llm: llm_fixes.LlmConfig | None = None,
        max_validations: int = MAX_VALIDATIONS,
    ) -> None:
        self.root = Path(root)
        self.ruff_options = ruff_options or RuffOptions()
        self.validate = validate
        self.not_validated_reason = not_validated_reason
        self.llm = llm
        self.max_validations = max_validations
        self._verdicts: dict[str, Verdict] = {}
        self._lock = threading.Lock()
        # How each candidate settled under ruff, shared by the findings that propose the same
        # fix (one per annotation for FA100); bounded, as a server keeps a judge for a while.
        self._settled: dict[SettleKey, Settled] = {}

    # -- public ------------------------------------------------------------------------------

    def findings(self, path: str, text: str) -> list[Finding]:
        return check_text(text, path, self.root, self.ruff_options)

    def turn(self, request: FixRequest, cancelled: threading.Event | None = None) -> FixTurn:
        """The best fix for a finding, judged: the whole path, every decision in the turn."""
        turn = FixTurn(request)
        finding, text = request.finding, request.text
        before = request.before
        if before is None:
            before = tuple(self.findings(finding.path, text))
        # Changes already screened, so that a candidate making the same text is judged once.
        seen: set[str] = set()
        # Alternatives are proposed only once every usual candidate has failed ruff or the tests.
        stopped = FixOffer(finding, None, not_validated("cancelled"))
        for source, propose in ((CANDIDATES, candidates), (ALTERNATIVES, alternatives)):
            if cancelled is not None and cancelled.is_set():
                return self._end(turn, stopped, cancelled)
            # propose
            step = self._propose(turn, source, functools.partial(propose, finding, text))
            # clean up: ruff's screen, then the smallest, most local change first
            screened = self._screen(turn, step, before, seen, cancelled)
            if cancelled is not None and cancelled.is_set():
                return self._end(turn, stopped, cancelled)
            ranked = rank(screened)
            # judge: the tests, best first, until one lets a candidate through
            offer = self._judge(turn, step, ranked, cancelled)
            if offer is not None:
                return self._end(turn, offer, cancelled)
        # the model, shown what ruff or the tests said of its earlier answers
        if self.llm is not None and finding.rule != SYNTAX_ERROR:
            offer = self._ask_model(turn, self.llm, before, cancelled)
            if offer is not None:
                return self._end(turn, offer, cancelled)
        # nothing to offer, and why: what stopped the candidates there were, or that there
        # were none (not that nothing may run, which would not have given one)
        proposed = sum(len(proposal.items) for proposal in turn.proposals)
        if not proposed:
            verdict = not_validated("no fix known for this finding")
        elif self.validate is None and proposed > len(turn.dropped):
            verdict = not_validated(self.not_validated_reason)
        else:
            verdict = turn.failure() or not_validated("no fix survived ruff")
        return self._end(turn, FixOffer(finding, None, verdict), cancelled)

    # -- the steps ---------------------------------------------------------------------------

    def _propose(self, turn: FixTurn, source: str, propose: Callable[[], Sequence[Fix]]) -> int:
        """Ask a proposer; its candidates go into the turn as one proposal, whose step it is."""
        step = len(turn.proposals)
        started = time.monotonic()
        fixes = propose()
        elapsed = round((time.monotonic() - started) * 1000, 3)
        items = tuple(
            Candidate(fix, step, source if source.startswith(MODEL) else fix.origin)
            for fix in fixes
        )
        turn.proposals.append(Proposal(source, items, elapsed))
        return step

    def _screen(
        self,
        turn: FixTurn,
        step: int,
        before: Sequence[Finding],
        seen: set[str],
        cancelled: threading.Event | None = None,
    ) -> list[Screened]:
        """The candidates of a proposal that ruff accepts; the others dropped with ruff's
        reason, and a change already screened dropped as the same. Once ``cancelled`` is set
        the candidates left are not screened (each is a ruff run over the whole text)."""
        survivors: list[Screened] = []
        if len(self._settled) > SETTLED_KEPT:
            self._settled.clear()
        finding, text = turn.request.finding, turn.request.text
        for candidate in turn.proposals[step].items:
            if cancelled is not None and cancelled.is_set():
                break
            outcome = screen(
                candidate.fix, finding, text, self.root, before, self.ruff_options, self._settled
            )
            if isinstance(outcome, Rejection):
                turn.dropped.append(Dropped(candidate, outcome.reason))
            elif outcome.text in seen:
                turn.dropped.append(Dropped(candidate, SAME_CHANGE))
            else:
                seen.add(outcome.text)
                survivors.append(outcome)
        return survivors

    def _judge(
        self,
        turn: FixTurn,
        step: int,
        ranked: Sequence[Screened],
        cancelled: threading.Event | None,
    ) -> FixOffer | None:
        """The offer the tests let through among ``ranked``, or None to go on."""
        finding = turn.request.finding
        if self.validate is None:
            # Nothing may run: the best candidate is offered, labelled; syntax repairs never
            # are, since a repair that only parses is a guess.
            if not ranked or finding.rule == SYNTAX_ERROR:
                return None
            best = ranked[0].fix
            verdict = not_validated(self.not_validated_reason)
            turn.judged.append(Judged(Candidate(best, step, best.origin), verdict=verdict))
            return FixOffer(finding, best, verdict)
        for screened in ranked[: self.max_validations]:
            if cancelled is not None and cancelled.is_set():
                return FixOffer(finding, None, not_validated("cancelled"))
            verdict = self._validate(screened)
            fix = screened.fix
            turn.judged.append(Judged(Candidate(fix, step, fix.origin), verdict=verdict))
            if verdict.passed or verdict.status is Status.EQUIVALENT:
                return FixOffer(finding, fix, verdict)
            # Unexercised: no test runs this code and no input could show more. Not validated
            # or an error: the sandbox cannot run at all. Either way every candidate here would
            # get the same answer: this one is offered, titled as what it is; a syntax repair,
            # a guess unless its tests ran it, is not.
            if verdict.status in (Status.UNEXERCISED, Status.NOT_VALIDATED, Status.ERROR):
                return None if finding.rule == SYNTAX_ERROR else FixOffer(finding, fix, verdict)
        return None

    def _ask_model(
        self,
        turn: FixTurn,
        llm: llm_fixes.LlmConfig,
        before: Sequence[Finding],
        cancelled: threading.Event | None,
    ) -> FixOffer | None:
        """The model's fix, with up to ``REFINEMENT_ROUNDS`` more rounds that show it why its
        last answer was rejected (ruff's reason or the tests' failures); None when it has none
        the judges let through."""
        finding, text = turn.request.finding, turn.request.text
        previous: Fix | None = None
        failure: str | None = None
        for number in range(1, REFINEMENT_ROUNDS + 2):
            if cancelled is not None and cancelled.is_set():
                return None
            ask = functools.partial(
                llm_fixes.propose, finding, text, llm, self.root, previous=previous, failure=failure
            )
            step = self._propose(turn, f"{MODEL} round {number}", ask)
            if not turn.proposals[step].items:
                return None
            candidate = turn.proposals[step].items[0]
            outcome = screen(candidate.fix, finding, text, self.root, before, self.ruff_options)
            if isinstance(outcome, Rejection):
                turn.dropped.append(Dropped(candidate, outcome.reason))
                previous, failure = candidate.fix, outcome.reason
                continue
            screened = Candidate(outcome.fix, step, candidate.source)
            if self.validate is None:
                verdict = not_validated(self.not_validated_reason)
                turn.judged.append(Judged(screened, verdict=verdict))
                return FixOffer(finding, outcome.fix, verdict)
            verdict = self._validate(outcome)
            turn.judged.append(Judged(screened, verdict=verdict))
            if verdict.status in OFFERED:
                # unexercised: titled as such, never preferred nor in a fix-all
                return FixOffer(finding, outcome.fix, verdict)
            if verdict.status in (Status.NOT_VALIDATED, Status.ERROR):
                return None
            previous, failure = candidate.fix, verdict.failures or verdict.summary()
        return None

    def _end(self, turn: FixTurn, offer: FixOffer, cancelled: threading.Event | None) -> FixTurn:
        """The turn ends with ``offer``, counting the candidates and the reasons it carries."""
        tried = sum(len(proposal.items) for proposal in turn.proposals)
        turn.offer = replace(
            offer, tried=tried, rejections=turn.rejections(tested=self.validate is not None)
        )
        if offer.fix is not None:
            outcome = Outcome.SHOWN
        elif cancelled is not None and cancelled.is_set():
            outcome = Outcome.CANCELLED
        else:
            outcome = turn.ended_empty()
        turn.end(outcome)
        logger.debug("fix turn %s", turn.summary())
        return turn

    def _validate(self, screened: Screened) -> Verdict:
        assert self.validate is not None
        key = hashlib.sha256(
            "\0".join(sorted({e.path for e in screened.fix.edits})).encode()
            + b"\0"
            + screened.text.encode("utf-8", "surrogatepass")
        ).hexdigest()
        with self._lock:
            known = self._verdicts.get(key)
        if known is not None:
            return known.with_cached()
        try:
            verdict = self.validate(screened.fix.edits)
        except Exception as error:  # a validator failure is a verdict, not a crash
            logger.exception("validation failed to run")
            verdict = Verdict(status=Status.ERROR, reason=str(error))
        with self._lock:
            self._verdicts[key] = verdict
        return verdict


# -- the feedback loop's view of offered fixes ----------------------------------------------------


@functools.lru_cache(maxsize=4)
def _lines(text: str) -> tuple[str, ...]:
    # Every finding and fix of a document asks about the same text: split it once.
    return tuple(text.split("\n"))


def _line(text: str, line: int) -> str:
    lines = _lines(text)
    return "".join(lines[line].split()) if 0 <= line < len(lines) else ""


def finding_key(finding: Finding, text: str) -> tuple[str, str, str]:
    """What identifies a finding across edits elsewhere in the file: its rule, its message and
    its line's text without whitespace (not its line number, which moves)."""
    return (finding.rule, finding.message, _line(text, finding.span.start.line))


def fix_id(finding: Finding, fix: Fix, text: str) -> str:
    """The stable id of a fix for a finding in ``text`` (16 hex digits): the same fix of the same
    finding keeps it while lines above it come and go, and whatever its verdict."""
    parts = [finding.path, *finding_key(finding, text), str(finding.span.start.column)]
    parts += [f"{_line(text, e.span.start.line)}\0{e.new_text}" for e in fix.edits]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def fix_item(offer: FixOffer, language: str = "python") -> Item:
    """An offered fix as the feedback loop's item model sees it."""
    fix = offer.fix
    return Item(
        kind="fix",
        rule=offer.finding.rule,
        source=fix.origin if fix is not None else "",
        language=language,
        severity=offer.finding.severity.value,
        verdict=offer.verdict.status.value,
        safe=offer.safe,
    )


def verdict_detail(offer: FixOffer) -> dict[str, object]:
    """What a ``validation.verdict`` event says about the tests run on an offered fix."""
    verdict = offer.verdict
    return {
        "rule": offer.finding.rule,
        "source": offer.fix.origin if offer.fix is not None else "",
        "tests": verdict.tests_run,
        "failed": len(verdict.failed_ids),
        "duration_s": round(verdict.duration_s, 3),
        "selection": verdict.selection.value,
        "exercised": verdict.exercised,
        "inputs": verdict.inputs,
        "cached": verdict.cached,
    }


@dataclass
class _Pending:
    key: tuple[str, str, str]
    text: str  # the document's text when the fix was offered
    edits: tuple[Edit, ...]
    present: bool = True  # its finding was in the latest findings of the document


class OfferedFixes:
    """The fixes offered in one document that the developer has neither applied nor ignored.

    A fix is *ignored* when its finding goes away without it (the developer solved the problem
    another way), or when the document is closed with the finding still there. A finding that
    goes away otherwise settles its fix without a verdict: the document reads what the fix would
    have made of it (it was applied; the editor's command says so), the text did not change at
    all (a setting or ruff's configuration changed, not the code), or the caller says the lint
    was not the developer's doing (``infer=False``).
    """

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def offered(self, item_id: str, finding: Finding, fix: Fix, text: str) -> bool:
        """Note an offer (in the document's latest text); True the first time this fix is
        offered."""
        first = item_id not in self._pending
        self._pending[item_id] = _Pending(finding_key(finding, text), text, fix.edits)
        return first

    def applied(self, item_id: str) -> bool:
        return self._pending.pop(item_id, None) is not None

    def changed(self, findings: Sequence[Finding], text: str, infer: bool = True) -> list[str]:
        """The latest findings of the document, reading ``text``: the ids of the fixes now known
        to be ignored (each returned once)."""
        present = {finding_key(f, text) for f in findings}
        ignored: list[str] = []
        for item_id, pending in list(self._pending.items()):
            pending.present = pending.key in present
            if pending.present:
                continue
            del self._pending[item_id]
            if infer and text != pending.text and _result(pending) != text:
                ignored.append(item_id)
        return ignored

    def closed(self) -> list[str]:
        """The document was closed: the fixes whose finding was still there were ignored."""
        ignored = [item_id for item_id, p in self._pending.items() if p.present]
        self._pending.clear()
        return ignored


def _result(pending: _Pending) -> str | None:
    try:
        return apply_edits(pending.text, list(pending.edits))
    except (ValueError, IndexError):
        return None

"""The feedback loop: decide what to show, observe what the developer did, learn, record.

Boundary: plain Python between the server (which calls it from its event loop with what the
editor said and shows) and the store and models. Nothing here blocks: the store is written
through its queue, saved model state is read back through a callback, decisions are microseconds.
It never raises into the server for a bad id or odd text; an unknown suggestion is ignored.

What the other features call (all by item id, all cheap):
- completions: ``gate`` → ``judge`` for each suggestion → ``shown`` for the one the editor shows →
  ``accepted(id, length)`` / ``rejected(id, explicit=True)``; ``document_changed`` and
  ``document_closed`` let it infer rejections (DESIGN §2).
- review comments and fixes: ``judge_item`` / ``rank_items`` → ``item_shown`` →
  ``comment_dismissed`` / ``comment_resolved`` / ``fix_applied`` / ``fix_ignored``; validation
  results: ``verdict``.
- next edits: ``judge_next_edit`` for each checked candidate → ``next_edit_shown`` →
  ``next_edit_accepted`` / ``next_edit_rejected`` (explicit, or inferred by the next-edit
  pipeline when the editor moved on without it).
- anything else: ``record(event)``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tactful.feedback import events as ev
from tactful.feedback.acceptance.cascade import AcceptanceModel, Decision, History
from tactful.feedback.acceptance.features import Candidate, Context
from tactful.feedback.acceptance.items import Item, ItemModel
from tactful.feedback.acceptance.model import Prior
from tactful.feedback.acceptance.next_edits import NextEditItem, NextEditModel
from tactful.feedback.outcomes import Outcomes, Resolution, Shown
from tactful.feedback.store import FeedbackStore
from tactful.suggestion.keystrokes import saved as saved_keystrokes

logger = logging.getLogger(__name__)

COMPLETION_MODEL = "completion"
ITEM_MODEL = "items"
NEXT_EDIT_MODEL = "next_edits"
# Shown completions kept for an accept or a rejection to find (an editor reports within
# seconds), and review comments and fixes (which stay on screen until the code changes). Each
# completion keeps its decision's features: a few kilobytes.
SUGGESTIONS_KEPT = 512
ITEMS_KEPT = 2048
# Persist what a workspace learned after this many updates or seconds, whichever comes first.
SAVE_EVERY_UPDATES = 50
SAVE_EVERY_S = 60.0

T = TypeVar("T")
# A workspace root's starting models: a completion prior and item weights (None: shipped ones).
Base = Callable[[str], tuple[Prior | None, Mapping[int, float] | None]]


@dataclass(frozen=True)
class FilterOptions:
    """The ``filter.*`` settings as the loop needs them."""

    enabled: bool = True
    threshold: float | None = None
    explore: float = 0.05
    learn: bool = True


@dataclass
class _Workspace:
    completion: AcceptanceModel
    items: ItemModel
    next_edits: NextEditModel
    history: History = field(default_factory=History)
    unsaved: int = 0
    saved_at: float = field(default_factory=time.monotonic)
    pending_state: dict[str, Any] | None = None


@dataclass
class _Suggestion:
    decision: Decision
    workspace: str
    language: str
    text: str
    settled: str = ""  # "", "accepted" or "rejected"


@dataclass
class _Item:
    decision: Decision
    workspace: str
    item: Item
    settled: bool = False


@dataclass
class _NextEdit:
    decision: Decision
    workspace: str
    item: NextEditItem
    settled: str = ""  # "", "accepted" or "rejected"


def _event(
    kind: str, item_id: str, known: _Suggestion | _Item | _NextEdit, **fields: Any
) -> ev.Event:
    """An event about something shown (a suggestion, a comment, a fix, a next edit), as the
    loop remembers it: its language and workspace, and the decision it was shown under."""
    language = known.language if isinstance(known, _Suggestion) else known.item.language
    return ev.Event(
        kind,
        item_id=item_id,
        language=language,
        workspace=known.workspace,
        explored=known.decision.explored,
        probability=known.decision.probability,
        **fields,
    )


class FeedbackLoop:
    """One server's feedback loop over one store; models are kept per workspace root."""

    def __init__(
        self,
        store: FeedbackStore,
        options: FilterOptions = FilterOptions(),
        *,
        prior: Prior | None = None,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self._prior = prior
        self._seed = seed
        self._base: Base | None = None
        self._workspaces: dict[str, _Workspace] = {}
        self._suggestions: OrderedDict[str, _Suggestion] = OrderedDict()
        self._items: OrderedDict[str, _Item] = OrderedDict()
        self._next_edits: OrderedDict[str, _NextEdit] = OrderedDict()
        self.outcomes = Outcomes()

    # -- settings and workspaces ----------------------------------------------------------

    def configure(self, options: FilterOptions) -> None:
        self.options = options
        for ws in self._workspaces.values():
            ws.completion.configure(
                threshold=options.threshold, explore=self._explore, enabled=options.enabled
            )
            ws.items.explore = self._explore
            ws.items.enabled = options.enabled
            ws.next_edits.explore = self._explore
            ws.next_edits.enabled = options.enabled

    @property
    def _explore(self) -> float:
        """Exploring shows would-be-hidden suggestions so that learning sees both sides; with
        learning off nothing would see them, so nothing is explored."""
        return self.options.explore if self.options.learn else 0.0

    def use_base(self, base: Base | None) -> None:
        """Start each workspace's models from ``base(root)`` — the completion prior and the
        item weights a team trained (None for either: the shipped one) — and move the models
        already open onto it, keeping what each workspace learned on top."""
        self._base = base
        for root, ws in self._workspaces.items():
            learned_completion, learned_items = ws.completion.state(), ws.items.state()
            ws.completion, ws.items, _next_edits = self._models(root)
            ws.completion.restore(learned_completion)
            ws.items.restore(learned_items)

    def _models(self, root: str) -> tuple[AcceptanceModel, ItemModel, NextEditModel]:
        prior, item_weights = self._base(root) if self._base is not None else (None, None)
        o = self.options
        return (
            AcceptanceModel(
                prior or self._prior,
                threshold=o.threshold,
                explore=self._explore,
                enabled=o.enabled,
                seed=self._seed,
            ),
            ItemModel(
                explore=self._explore, enabled=o.enabled, seed=self._seed, weights=item_weights
            ),
            NextEditModel(explore=self._explore, enabled=o.enabled, seed=self._seed),
        )

    def _workspace(self, root: str) -> _Workspace:
        ws = self._workspaces.get(root)
        if ws is None:
            ws = _Workspace(*self._models(root))
            self._workspaces[root] = ws
            self._load(root, ws)
        if ws.pending_state is not None:
            state, ws.pending_state = ws.pending_state, None
            ws.completion.restore(state.get(COMPLETION_MODEL))
            ws.items.restore(state.get(ITEM_MODEL))
            ws.next_edits.restore(state.get(NEXT_EDIT_MODEL))
        return ws

    def _load(self, root: str, ws: _Workspace) -> None:
        """Ask the store for what this workspace learned before; applied on the next decision
        (the reply comes on the writer thread, and models are only touched on ours)."""
        try:
            future: Future[Any] = self.store.submit(
                lambda conn: {
                    name: self.store.read_state(conn, root, name)
                    for name in (COMPLETION_MODEL, ITEM_MODEL, NEXT_EDIT_MODEL)
                }
            )
        except Exception:
            logger.warning("could not ask the feedback store for the saved model", exc_info=True)
            return

        def done(f: Future[Any]) -> None:
            if f.cancelled() or f.exception() is not None:
                return
            ws.pending_state = f.result()

        future.add_done_callback(done)

    def history(self, workspace: str) -> History:
        return self._workspace(workspace).history

    def context(
        self,
        workspace: str,
        language: str,
        line_prefix: str,
        line_suffix: str = "",
        previous_line: str = "",
        line_number: int = 0,
        trigger: str = "automatic",
        document: str = "",
        path: str = "",
        continues: bool = False,
    ) -> Context:
        """The decision context at the cursor of ``document`` (its uri), with the workspace's
        recent history (``continues``: the document goes on after the cursor's line)."""
        ws = self._workspace(workspace)
        ctx = ws.history.context(
            language,
            line_prefix,
            line_suffix,
            previous_line,
            line_number,
            trigger,
            document=document,
            path=path,
            continues=continues,
        )
        for probability, typed, hidden_id in ws.history.hidden_costs:
            self.record(
                ev.Event(
                    ev.SUGGESTION_HIDDEN_TYPED,
                    item_id=hidden_id,
                    language=language,
                    workspace=workspace,
                    probability=probability,
                    detail={"keystrokes": typed},
                )
            )
            if self.options.learn:
                ws.completion.missed(probability, typed)
                self._maybe_save(workspace, ws)
        return ctx

    # -- completions ----------------------------------------------------------------------

    def gate(self, workspace: str, ctx: Context) -> Decision:
        """Ask an engine at all? A "no" is recorded as a skipped request."""
        model = self._workspace(workspace).completion
        decision, timing = _timed(model.gate, ctx)
        if not decision.show:
            self.record(
                ev.Event(
                    ev.REQUEST_SKIPPED,
                    language=ctx.language,
                    workspace=workspace,
                    probability=decision.probability,
                    features=decision.features,
                    detail=timing,
                )
            )
        return dataclasses.replace(decision, detail=timing)

    def judge(
        self, workspace: str, ctx: Context, candidate: Candidate, gate: Decision | None = None
    ) -> Decision:
        """Show this suggestion? A hidden one is recorded; a kept one waits for ``shown``."""
        model = self._workspace(workspace).completion
        decision, timing = _timed(model.judge, ctx, candidate, gate)
        detail: dict[str, object] = {
            "engine": candidate.engine,
            "kind": candidate.kind,
            **timing,
            "context_features": len(decision.context),
            "threshold": round(model.threshold_at(ctx), 4),
        }
        if gate is not None and "decision_us" in gate.detail:
            detail["gate_us"] = gate.detail["decision_us"]
            detail["gate_cpu_us"] = gate.detail.get("decision_cpu_us")
        if not decision.show:
            # The id links the hidden suggestion's features to its outcome: the
            # ``suggestion.hidden_typed`` event of the same id if it is then typed by hand.
            hidden_id = ev.new_uid()
            self.history(workspace).note_hidden(candidate.text, decision.probability, hidden_id)
            self.record(
                ev.Event(
                    ev.SUGGESTION_HIDDEN,
                    item_id=hidden_id,
                    language=ctx.language,
                    workspace=workspace,
                    length=len(candidate.text),
                    probability=decision.probability,
                    features=decision.features,
                    context=decision.context,
                    code_hash=ev.code_hash(candidate.text),
                    code=candidate.text,
                    detail=detail,
                )
            )
        return dataclasses.replace(decision, detail=detail)

    def shown(
        self,
        item_id: str,
        workspace: str,
        ctx: Context,
        decision: Decision,
        uri: str,
        version: int,
        document: str,
        offset: int,
        text: str,
    ) -> list[Resolution]:
        """The editor shows a judged suggestion: inserting ``text`` at ``offset`` (code points,
        the cursor) of ``document`` (version ``version`` of ``uri``)."""
        if item_id in self._suggestions:
            return []
        self._remember(
            self._suggestions,
            item_id,
            _Suggestion(decision, workspace, ctx.language, text),
            SUGGESTIONS_KEPT,
        )
        self.record(
            ev.Event(
                ev.SUGGESTION_SHOWN,
                item_id=item_id,
                language=ctx.language,
                workspace=workspace,
                length=len(text),
                explored=decision.explored,
                probability=decision.probability,
                features=decision.features,
                context=decision.context,
                code_hash=ev.code_hash(text),
                code=text,
                detail=dict(decision.detail),
            )
        )
        self.history(workspace).note_shown(uri, ctx.line_number, ctx.line_prefix, text)
        resolved = self.outcomes.shown(
            Shown.at(item_id, uri, version, document, offset, text), document
        )
        self._settle(resolved)
        return resolved

    def accepted(self, item_id: str, length: int | None = None) -> bool:
        """The editor accepted a suggestion (``length``: characters taken, None: all)."""
        known = self._suggestions.get(item_id)
        self.outcomes.take(item_id)
        if known is None:
            return False
        full = len(known.text)
        taken = full if length is None else max(0, min(int(length), full))
        saved = saved_keystrokes(known.text[:taken])
        detail = {"full": taken >= full, "keystrokes": saved}
        self.record(_event(ev.SUGGESTION_ACCEPTED, item_id, known, length=taken, detail=detail))
        # A partial accept may come more than once; learn once. An accept after an inferred
        # rejection (the editor inserted the text before it ran the command) corrects it.
        if known.settled != "accepted":
            self._learn(known, True, saved)
        known.settled = "accepted"
        return True

    def rejected(self, item_id: str, explicit: bool = True) -> bool:
        """The editor dismissed a suggestion (``explicit``), or we inferred it."""
        known = self._suggestions.get(item_id)
        if explicit:
            self.outcomes.take(item_id)
        if known is None or known.settled:
            return False
        length = len(known.text)
        self.record(
            _event(ev.SUGGESTION_REJECTED, item_id, known, length=length, explicit=explicit)
        )
        self._learn(known, False)
        known.settled = "rejected"
        return True

    def document_changed(self, uri: str, version: int, document: str) -> list[Resolution]:
        """A new text of a document: infer what became of the suggestions shown in it."""
        resolved = self.outcomes.changed(uri, version, document)
        self._settle(resolved)
        return resolved

    def document_closed(self, uri: str) -> list[Resolution]:
        resolved = self.outcomes.closed(uri)
        self._settle(resolved)
        return resolved

    def _settle(self, resolved: list[Resolution]) -> None:
        for resolution in resolved:
            item_id = resolution.shown.item_id
            if resolution.outcome == "rejected":
                self.rejected(item_id, explicit=False)
            elif resolution.outcome == "typed":
                known = self._suggestions.get(item_id)
                if known is not None and not known.settled:
                    self.record(
                        ev.Event(
                            ev.SUGGESTION_TYPED,
                            item_id=item_id,
                            language=known.language,
                            workspace=known.workspace,
                            length=len(known.text),
                        )
                    )

    def _learn(self, known: _Suggestion, accepted: bool, saved: int = 0) -> None:
        ws = self._workspace(known.workspace)
        ws.history.note(accepted)
        if self.options.learn:
            ws.completion.learn(known.decision, accepted, saved)
            self._maybe_save(known.workspace, ws)

    # -- review comments and fixes --------------------------------------------------------

    def judge_item(self, workspace: str, item_id: str, item: Item) -> Decision:
        """Show this comment or fix? A hidden one is recorded.

        Asked again about the same id (a re-review, another code action request), the answer
        follows what the model learned since but keeps the exploration draw made before, and
        what the developer already did with the item stays done; it is recorded as hidden only
        when it goes from shown to hidden."""
        known = self._items.get(item_id)
        if known is not None and known.workspace == workspace:
            decision = self._workspace(workspace).items.judge(item, known.decision)
            was_shown = known.decision.show
            known.decision, known.item = decision, item
            self._items.move_to_end(item_id)
            if decision.show or not was_shown:
                return decision
        else:
            decision = self._workspace(workspace).items.judge(item)
            self._remember(self._items, item_id, _Item(decision, workspace, item), ITEMS_KEPT)
        if not decision.show:
            self.record(
                ev.Event(
                    ev.COMMENT_HIDDEN if item.kind == "comment" else ev.FIX_HIDDEN,
                    item_id=item_id,
                    language=item.language,
                    workspace=workspace,
                    probability=decision.probability,
                    features=decision.features,
                    detail=_item_detail(item),
                )
            )
        return decision

    def rank_items(
        self, workspace: str, items: Sequence[tuple[str, Item]]
    ) -> list[tuple[str, Decision]]:
        """The ids of the items to show, most likely useful first (hidden ones left out)."""
        judged = [(item_id, self.judge_item(workspace, item_id, item)) for item_id, item in items]
        shown = [(i, d) for i, d in judged if d.show]
        shown.sort(key=lambda pair: -pair[1].probability)
        return shown

    def item_shown(self, item_id: str) -> bool:
        known = self._items.get(item_id)
        if known is None:
            return False
        kind = ev.COMMENT_SHOWN if known.item.kind == "comment" else ev.FIX_OFFERED
        features, detail = known.decision.features, _item_detail(known.item)
        self.record(_event(kind, item_id, known, features=features, detail=detail))
        return True

    def comment_dismissed(self, item_id: str) -> bool:
        return self._item_verdict(item_id, ev.COMMENT_DISMISSED, useful=False)

    def comment_resolved(self, item_id: str) -> bool:
        return self._item_verdict(item_id, ev.COMMENT_RESOLVED, useful=True)

    def fix_applied(self, item_id: str, explicit: bool = True) -> bool:
        """A fix was applied: picked by the developer (``explicit``, learned as useful), or as
        part of a fix-all the developer asked for (recorded, not learned: nobody chose it)."""
        return self._item_verdict(item_id, ev.FIX_APPLIED, useful=True, explicit=explicit)

    def fix_ignored(self, item_id: str) -> bool:
        """An offered fix was never applied and its finding went away by other means, or its
        document was closed with it still there: learned once as not useful."""
        return self._item_verdict(item_id, ev.FIX_IGNORED, useful=False)

    def verdict(self, item_id: str, verdict: str, detail: dict[str, object] | None = None) -> None:
        """A validation verdict for a fix (``passed``, ``failed``, ``error``, ``timeout``)."""
        known = self._items.get(item_id)
        self.record(
            ev.Event(
                ev.VALIDATION_VERDICT,
                item_id=item_id,
                language=known.item.language if known else "",
                workspace=known.workspace if known else "",
                detail={"verdict": verdict, **(detail or {})},
            )
        )

    def _item_verdict(
        self, item_id: str, kind: str, *, useful: bool, explicit: bool = True
    ) -> bool:
        known = self._items.get(item_id)
        if known is None or known.settled:
            return False
        known.settled = True
        detail = _item_detail(known.item)
        self.record(_event(kind, item_id, known, explicit=explicit, detail=detail))
        if self.options.learn and explicit:
            ws = self._workspace(known.workspace)
            ws.items.learn(known.decision, useful)
            self._maybe_save(known.workspace, ws)
        return True

    # -- next edits -----------------------------------------------------------------------

    def judge_next_edit(
        self, workspace: str, item_id: str, item: NextEditItem, may_explore: bool = True
    ) -> Decision:
        """Show this next edit? A hidden one is recorded (once per id); a kept one waits for
        ``next_edit_shown``. An id judged before keeps its first decision while it is pending:
        the same edit proposed again is the same item. ``may_explore`` False: hidden below the
        threshold without an exploration draw."""
        known = self._next_edits.get(item_id)
        if known is not None and known.workspace == workspace:
            self._next_edits.move_to_end(item_id)
            return known.decision
        decision = self._workspace(workspace).next_edits.judge(item, may_explore)
        self._remember(self._next_edits, item_id, _NextEdit(decision, workspace, item), ITEMS_KEPT)
        if not decision.show:
            self.record(
                ev.Event(
                    ev.NEXT_EDIT_HIDDEN,
                    item_id=item_id,
                    language=item.language,
                    workspace=workspace,
                    probability=decision.probability,
                    features=decision.features,
                    detail={"source": item.source, "score": item.score},
                )
            )
        return decision

    def next_edit_shown(self, item_id: str, text: str = "") -> bool:
        """The editor got a judged next edit (``text``: what it writes, kept only when the user
        opted in to storing code)."""
        known = self._next_edits.get(item_id)
        if known is None:
            return False
        self.record(
            _event(
                ev.NEXT_EDIT_SHOWN,
                item_id,
                known,
                length=len(text),
                features=known.decision.features,
                code_hash=ev.code_hash(text),
                code=text,
                detail={"source": known.item.source, "score": known.item.score},
            )
        )
        return True

    def next_edit_accepted(self, item_id: str) -> bool:
        """The editor applied a next edit (``tactful.acceptSuggestion``)."""
        known = self._next_edits.get(item_id)
        if known is None or known.settled == "accepted":
            return False
        detail = {"source": known.item.source}
        self.record(_event(ev.NEXT_EDIT_ACCEPTED, item_id, known, detail=detail))
        # An accept after an inferred rejection corrects it (learned once each way).
        self._learn_next_edit(known, True)
        known.settled = "accepted"
        return True

    def next_edit_rejected(self, item_id: str, explicit: bool = True) -> bool:
        """The editor dismissed a next edit (``explicit``), or it was inferred (the editor
        moved on without it)."""
        known = self._next_edits.get(item_id)
        if known is None or known.settled:
            return False
        detail = {"source": known.item.source}
        self.record(_event(ev.NEXT_EDIT_REJECTED, item_id, known, explicit=explicit, detail=detail))
        self._learn_next_edit(known, False)
        known.settled = "rejected"
        return True

    def _learn_next_edit(self, known: _NextEdit, accepted: bool) -> None:
        if not self.options.learn:
            return
        ws = self._workspace(known.workspace)
        ws.next_edits.learn(known.decision, accepted)
        self._maybe_save(known.workspace, ws)

    # -- recording and saving -------------------------------------------------------------

    def record(self, event: ev.Event) -> bool:
        """Queue an event for the store; never blocks."""
        return self.store.record(event)

    def _maybe_save(self, root: str, ws: _Workspace, force: bool = False) -> None:
        ws.unsaved += 1
        now = time.monotonic()
        if force or ws.unsaved >= SAVE_EVERY_UPDATES or now - ws.saved_at >= SAVE_EVERY_S:
            self.store.save_state(root, COMPLETION_MODEL, ws.completion.state())
            self.store.save_state(root, ITEM_MODEL, ws.items.state())
            self.store.save_state(root, NEXT_EDIT_MODEL, ws.next_edits.state())
            ws.unsaved = 0
            ws.saved_at = now

    def save(self) -> None:
        """Queue the state of every workspace's models (on shutdown)."""
        for root, ws in self._workspaces.items():
            if ws.unsaved:
                self._maybe_save(root, ws, force=True)

    def close(self) -> None:
        self.save()
        self.store.close()

    @staticmethod
    def _remember(table: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > limit:
            table.popitem(last=False)


def _item_detail(item: Item) -> dict[str, object]:
    return {
        "kind": item.kind,
        "rule": item.rule,
        "source": item.source,
        "severity": item.severity,
        "verdict": item.verdict,
    }


def _timed(decide: Callable[..., Decision], *args: Any) -> tuple[Decision, dict[str, object]]:
    """``decide(*args)`` and what it took, in microseconds: wall time is what a developer waits;
    thread CPU time is what the decision costs (wall time also counts waiting for the GIL and
    for a busy machine's cores)."""
    cpu = time.thread_time_ns()  # a system call: kept outside the wall time
    started = time.perf_counter_ns()
    decision = decide(*args)
    micros = (time.perf_counter_ns() - started) / 1000.0
    cpu_micros = (time.thread_time_ns() - cpu) / 1000.0
    return decision, {"decision_us": round(micros, 1), "decision_cpu_us": round(cpu_micros, 1)}

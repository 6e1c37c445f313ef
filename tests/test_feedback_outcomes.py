"""Inferred rejection: what became of a shown suggestion the editor did not report on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tactful.feedback import events as ev
from tactful.feedback.acceptance import Candidate, Prior, Stage
from tactful.feedback.loop import FeedbackLoop, FilterOptions
from tactful.feedback.outcomes import Outcomes, Shown, judge
from tactful.feedback.stats import summarize
from tactful.feedback.store import FeedbackStore, read_events

DOC = "def area(r):\n    return 3.14 * r\n\nprint(area(2))\n"
# The cursor after "    return " on line 2; the suggestion completes the expression.
CURSOR = DOC.index("3.14")
BEFORE = DOC[:CURSOR]
AFTER = DOC[CURSOR + len("3.14 * r") :]


def shown_at(document: str, offset: int, text: str = "3.14 * r") -> Shown:
    return Shown.at("s1", "file:///a.py", 1, document, offset, text)


ORIGINAL = BEFORE + AFTER  # the document as it was when the suggestion was shown


@pytest.mark.parametrize(
    ("later", "outcome"),
    [
        (ORIGINAL, "pending"),  # nothing happened at the place
        (BEFORE + "3.1" + AFTER, "pending"),  # typing along
        (BEFORE + "3.14 * r" + AFTER, "typed"),  # typed all of it by hand
        (BEFORE + "3.14 * r * r" + AFTER, "typed"),  # ... and went on
        (BEFORE + "2 * 3.14" + AFTER, "rejected"),  # typed something else
        (BEFORE[:-3] + AFTER, "rejected"),  # deleted back over the place
        ("# header\n" + BEFORE + "3.1" + AFTER, "pending"),  # a line added above: still found
        (BEFORE + "3.14 * r", "typed"),  # the text after the cursor changed, suggestion typed
        (BEFORE + "math.pi", "rejected"),  # ... and something else typed
    ],
)
def test_judge(later: str, outcome: str) -> None:
    assert judge(shown_at(ORIGINAL, CURSOR), later).outcome == outcome


def test_judge_at_the_end_of_a_document() -> None:
    typed = "import os\nos.pa"
    shown = Shown.at("s1", "file:///a.py", 1, typed, len(typed), "th.join(")
    assert judge(shown, typed + "t").outcome == "pending"
    assert judge(shown, typed + "th.join(a, b)").outcome == "typed"
    assert judge(shown, typed + "thsep").outcome == "rejected"


def test_editing_elsewhere_while_a_suggestion_is_on_screen_rejects_it() -> None:
    outcomes = Outcomes()
    outcomes.shown(shown_at(ORIGINAL, CURSOR))
    # Version 2 changes the last line only.
    resolved = outcomes.changed("file:///a.py", 2, ORIGINAL.replace("area(2)", "area(3)"))
    assert [(r.shown.item_id, r.outcome) for r in resolved] == [("s1", "rejected")]
    assert outcomes.pending() == []


def test_typing_along_keeps_it_then_typing_all_of_it_is_not_a_rejection() -> None:
    outcomes = Outcomes()
    outcomes.shown(shown_at(ORIGINAL, CURSOR))
    assert outcomes.changed("file:///a.py", 2, BEFORE + "3." + AFTER) == []
    resolved = outcomes.changed("file:///a.py", 3, BEFORE + "3.14 * r" + AFTER)
    assert [r.outcome for r in resolved] == ["typed"]
    # The editor inserted the text and only then ran the accept command: it is still found.
    taken = outcomes.take("s1")
    assert taken is not None and taken.outcome == "typed"


def test_a_new_suggestion_supersedes_one_being_typed_along() -> None:
    outcomes = Outcomes()
    outcomes.shown(shown_at(ORIGINAL, CURSOR))
    now = BEFORE + "3." + AFTER
    resolved = outcomes.shown(Shown.at("s2", "file:///a.py", 2, now, CURSOR + 2, "14 * r"), now)
    assert [(r.shown.item_id, r.outcome) for r in resolved] == [("s1", "superseded")]
    assert [s.item_id for s in outcomes.pending()] == ["s2"]


def test_closing_the_document_rejects_what_was_on_screen() -> None:
    outcomes = Outcomes()
    outcomes.shown(shown_at(ORIGINAL, CURSOR))
    assert [r.outcome for r in outcomes.closed("file:///a.py")] == ["rejected"]
    assert outcomes.closed("file:///a.py") == []


def test_old_versions_and_other_documents_are_ignored() -> None:
    outcomes = Outcomes()
    outcomes.shown(shown_at(ORIGINAL, CURSOR))
    assert outcomes.changed("file:///a.py", 1, "x") == []  # not newer than when shown
    assert outcomes.changed("file:///b.py", 5, "x") == []
    assert len(outcomes.pending("file:///a.py")) == 1


def test_the_loop_records_shown_accepted_and_inferred_rejections(tmp_path: Path) -> None:
    """The whole loop on a real store: decide, show, watch the document, learn, persist."""
    prior = Prior(Stage({}, threshold=0.1), Stage({}, threshold=0.1), {"id": "flat"})
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    loop = FeedbackLoop(store, FilterOptions(explore=0.0), prior=prior)
    uri = "file:///w/a.py"
    text = "import os\nos.pa"
    ctx = loop.context("/w", "python", "os.pa", "", "import os", 1, document=uri)
    gate = loop.gate("/w", ctx)
    assert gate.show
    decision = loop.judge("/w", ctx, Candidate("th.join(", "local", 0.9, "line"), gate)
    assert decision.show
    loop.shown("s1", "/w", ctx, decision, uri, 2, text, len(text), "th.join(")
    # The developer types something else: an inferred rejection.
    resolved = loop.document_changed(uri, 3, text + "ckage")
    assert [(r.shown.item_id, r.outcome) for r in resolved] == [("s1", "rejected")]
    # Next suggestion is accepted (the editor inserted it, then ran the command).
    text2 = text + "ckage\nos.pa"
    ctx2 = loop.context("/w", "python", "os.pa", "", "os.package", 2, document=uri)
    d2 = loop.judge("/w", ctx2, Candidate("th.join(", "local", 0.9, "line"))
    loop.shown("s2", "/w", ctx2, d2, uri, 4, text2, len(text2), "th.join(")
    loop.document_changed(uri, 5, text2 + "th.join(")
    assert loop.accepted("s2", None)
    assert not loop.accepted("unknown")
    loop.close()
    events = read_events(tmp_path / "fb.sqlite3")
    kinds = [(e.kind, e.item_id, e.explicit) for e in events]
    assert (ev.SUGGESTION_REJECTED, "s1", False) in kinds
    assert (ev.SUGGESTION_ACCEPTED, "s2", False) in kinds
    accepted = next(e for e in events if e.kind == ev.SUGGESTION_ACCEPTED)
    assert accepted.detail["keystrokes"] == len("th.join(") - 1
    shown = [e for e in events if e.kind == ev.SUGGESTION_SHOWN]
    assert [e.code for e in shown] == [None, None]  # hashes, not code
    assert all(e.features and e.probability is not None for e in shown)
    summary = summarize(events)
    assert (summary.total.shown, summary.total.accepted, summary.total.typed) == (2, 1, 0)
    assert summary.total.rejected_inferred == 1
    # What the workspace learned was saved and comes back in a new session.
    with FeedbackStore(tmp_path / "fb.sqlite3") as again:
        state = again.load_state("/w", "completion")
    assert state is not None and state["filter"]["updates"] == 2


def test_hidden_suggestions_typed_by_hand_lower_the_threshold(tmp_path: Path) -> None:
    """The filter hides what it judges at 0.5 below its 0.6 threshold; the developer keeps
    typing those suggestions in full by hand, so the workspace's threshold comes down to them,
    and what it followed is persisted with the workspace."""
    prior = Prior(Stage({}, threshold=0.0), Stage({}, threshold=0.6), {"id": "flat"})
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    loop = FeedbackLoop(store, FilterOptions(explore=0.0), prior=prior)
    uri = "file:///w/a.py"
    candidate = Candidate("_total(x)", "local", 0.5, "token")
    for line in range(60):
        prefix = f"v{line} = compute"
        ctx = loop.context("/w", "python", prefix, "", "", line, document=uri)
        decision = loop.judge("/w", ctx, candidate, loop.gate("/w", ctx))
        assert not decision.show and decision.probability == 0.5
        # Typed by hand: a word, then each character of the rest.
        for part in ("_total", "(", "x", ")"):
            prefix += part
            loop.context("/w", "python", prefix, "", "", line, document=uri)
    # Typed along, then something else: costs nothing.
    ctx = loop.context("/w", "python", "w = compute", "", "", 60, document=uri)
    loop.judge("/w", ctx, Candidate("_mean(x)", "local", 0.5, "token"))
    loop.context("/w", "python", "w = compute_", "", "", 60, document=uri)
    loop.context("/w", "python", "w = compute_sum", "", "", 60, document=uri)
    loop.close()
    events = read_events(tmp_path / "fb.sqlite3")
    thresholds = [e.detail["threshold"] for e in events if e.kind == ev.SUGGESTION_HIDDEN]
    assert thresholds[0] == 0.6
    assert thresholds == sorted(thresholds, reverse=True)
    assert 0.5 <= thresholds[-1] < 0.51  # down to what the developer typed (almost all of it)
    # Each hidden suggestion typed in full is recorded once, with what typing it cost less the
    # accepting keystroke; `_mean(x)`, typed along and then left, is not.
    typed = [e for e in events if e.kind == ev.SUGGESTION_HIDDEN_TYPED]
    assert len(typed) == 60
    assert {(e.probability, e.detail["keystrokes"], e.language) for e in typed} == {
        (0.5, len("_total(x)") - 1, "python")
    }
    # Each names the hidden suggestion it was (so its features): the first 60 hidden, not the
    # last, which was left.
    hidden = [e for e in events if e.kind == ev.SUGGESTION_HIDDEN]
    assert all(e.item_id and e.features for e in hidden)
    assert len({e.item_id for e in hidden}) == 61
    assert [e.item_id for e in typed] == [e.item_id for e in hidden[:60]]
    total = summarize(events).total
    assert (total.hidden, total.hidden_typed) == (61, 60)
    assert total.hidden_typed_keystrokes == 60 * (len("_total(x)") - 1)
    with FeedbackStore(tmp_path / "fb.sqlite3") as again:
        state = again.load_state("/w", "completion")
    assert state is not None and state["threshold"]["total"] == pytest.approx(
        sum(0.998**k for k in range(60)) * (len("_total(x)") - 1), rel=1e-3
    )

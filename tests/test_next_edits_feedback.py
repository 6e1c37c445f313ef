"""What becomes of next edits: the item model that decides which are shown and learns from the
developer, the feedback loop's record of them, and their figures in ``tactful stats``."""

from __future__ import annotations

import pytest

from tactful.feedback import events as ev
from tactful.feedback.acceptance.next_edits import NextEditItem, NextEditModel
from tactful.feedback.events import Event
from tactful.feedback.loop import FeedbackLoop, FilterOptions
from tactful.feedback.stats import render_text, summarize
from tactful.feedback.store import FeedbackStore, read_events

REPEAT = (("examples", 1.0), ("sites", 4.0), ("same_file", 1.0), ("kind_node", 1.0))
RENAME = (("role_parameter", 1.0), ("same_file", 1.0), ("sites", 3.0))


def repeat(score: float = 0.55) -> NextEditItem:
    return NextEditItem("repeat", score, REPEAT, "python")


def rename(score: float = 0.85) -> NextEditItem:
    return NextEditItem("rename", score, RENAME, "python")


@pytest.mark.parametrize("score", [0.1, 0.3, 0.5, 0.55, 0.85, 0.99])
def test_before_learning_the_probability_is_the_proposers_score(score: float) -> None:
    decision = NextEditModel(explore=0.0).judge(repeat(score))
    assert decision.probability == pytest.approx(score, abs=1e-6)
    assert decision.show == (score >= 0.5)


def test_turned_down_again_and_again_a_kind_of_edit_sinks_and_others_stay() -> None:
    model = NextEditModel(explore=0.0)
    for _ in range(6):
        model.learn(model.judge(repeat()), accepted=False)
    assert not model.judge(repeat()).show
    assert model.judge(rename()).show
    assert model.judge(rename()).probability > 0.75


def test_taken_again_and_again_a_kind_below_the_threshold_rises_above_it() -> None:
    model = NextEditModel(explore=0.0)
    low = repeat(0.4)
    assert not model.judge(low).show
    for _ in range(6):
        model.learn(model.judge(low), accepted=True)
    assert model.judge(low).show


def test_what_a_model_learned_is_kept_and_restored() -> None:
    model = NextEditModel(explore=0.0)
    for _ in range(6):
        model.learn(model.judge(repeat()), accepted=False)
    again = NextEditModel(explore=0.0)
    again.restore(model.state())
    assert again.judge(repeat()).probability == pytest.approx(model.judge(repeat()).probability)


def test_explored_and_unfiltered_next_edits_are_shown_below_the_threshold() -> None:
    assert NextEditModel(explore=1.0, seed=1).judge(repeat(0.2)).explored
    decision = NextEditModel(enabled=False).judge(repeat(0.2))
    assert decision.show and not decision.explored


def test_the_loop_records_what_became_of_each_next_edit(tmp_path) -> None:
    path = tmp_path / "fb.sqlite3"
    loop = FeedbackLoop(FeedbackStore(path), FilterOptions(explore=0.0))
    try:
        shown = loop.judge_next_edit("/ws", "a", repeat())
        assert shown.show
        # The same id judged again keeps its decision: the same edit, proposed again.
        assert loop.judge_next_edit("/ws", "a", repeat(0.1)) is shown
        assert not loop.judge_next_edit("/ws", "hidden", repeat(0.2)).show
        loop.judge_next_edit("/ws", "b", rename())
        loop.judge_next_edit("/ws", "c", rename())
        for item_id in ("a", "b", "c"):
            assert loop.next_edit_shown(item_id, "k in d")
        assert loop.next_edit_accepted("a")
        assert loop.next_edit_rejected("b", explicit=True)
        assert loop.next_edit_rejected("c", explicit=False)
        # Settled once: a second verdict on the same id is not recorded again.
        assert not loop.next_edit_rejected("c", explicit=True)
        # Ids never shown are ignored.
        assert not loop.next_edit_accepted("nowhere")
    finally:
        loop.close()
    kinds = [(e.kind, e.item_id, e.explicit) for e in read_events(path)]
    assert kinds == [
        (ev.NEXT_EDIT_HIDDEN, "hidden", False),
        (ev.NEXT_EDIT_SHOWN, "a", False),
        (ev.NEXT_EDIT_SHOWN, "b", False),
        (ev.NEXT_EDIT_SHOWN, "c", False),
        (ev.NEXT_EDIT_ACCEPTED, "a", False),
        (ev.NEXT_EDIT_REJECTED, "b", True),
        (ev.NEXT_EDIT_REJECTED, "c", False),
    ]
    # Code is kept only as its hash unless the user opted in.
    assert all(e.code is None for e in read_events(path))


def test_stats_count_each_next_edit_once_and_an_accept_wins() -> None:
    events = [
        Event(ev.NEXT_EDIT_SHOWN, "a", "python", detail={"source": "repeat"}),
        Event(ev.NEXT_EDIT_SHOWN, "a", "python", detail={"source": "repeat"}),
        Event(ev.NEXT_EDIT_SHOWN, "b", "python", detail={"source": "rename"}),
        Event(ev.NEXT_EDIT_SHOWN, "c", "python", detail={"source": "repeat"}),
        Event(ev.NEXT_EDIT_SHOWN, "d", "python", detail={"source": "signature"}),
        # Inferred rejected, then accepted (the editor ran the command late): an accept.
        Event(ev.NEXT_EDIT_REJECTED, "a", "python"),
        Event(ev.NEXT_EDIT_ACCEPTED, "a", "python"),
        Event(ev.NEXT_EDIT_REJECTED, "b", "python", explicit=True),
        Event(ev.NEXT_EDIT_REJECTED, "c", "python"),
        Event(ev.NEXT_EDIT_HIDDEN, "e", "python"),
    ]
    summary = summarize(events)
    assert summary.to_json()["next_edits"] == {
        "shown": 4,
        "accepted": 1,
        "acceptance_rate": 0.25,
        "rejected": {"explicit": 1, "inferred": 1},
        "hidden": 1,
        "sources": {
            "rename": {"shown": 1, "accepted": 0},
            "repeat": {"shown": 2, "accepted": 1},
            "signature": {"shown": 1, "accepted": 0},
        },
    }
    # Completions are counted apart.
    assert summary.total.shown == 0
    text = render_text(summary)
    assert "next edits shown             4" in text
    assert "(25.0% of shown)" in text

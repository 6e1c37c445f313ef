"""What becomes of next edits: the item model that decides which are shown and learns from the
developer, the feedback loop's record of them, and their figures in ``tactful stats``."""

from __future__ import annotations

import asyncio

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
        model.learn(model.judge(repeat()), useful=False)
    assert not model.judge(repeat()).show
    assert model.judge(rename()).show
    assert model.judge(rename()).probability > 0.75


def test_taken_again_and_again_a_kind_below_the_threshold_rises_above_it() -> None:
    model = NextEditModel(explore=0.0)
    low = repeat(0.4)
    assert not model.judge(low).show
    for _ in range(10):
        model.learn(model.judge(low), useful=True)
    assert model.judge(low).show


# The evidence of a real repeated edit (``d.has_key(k)`` → ``k in d`` at a second place).
EVIDENCE = (
    ("climb", 0.0),
    ("dangling", 0.0),
    ("examples", 1.0),
    ("extends", 0.0),
    ("holes", 2.0),
    ("kind_node", 1.0),
    ("level", 2.0),
    ("lines", 0.0),
    ("pattern_size", 9.0),
    ("removes", 1.0),
    ("same_context", 1.0),
    ("same_file", 1.0),
    ("scope_anywhere", 1.0),
    ("sites", 2.0),
    ("sites_in_file", 2.0),
)


def test_a_kind_taken_two_times_in_three_stays_shown_after_a_rejection() -> None:
    """One rejection must not hide a kind of edit the developer mostly takes: once hidden, it
    would not be shown again to be taken (bar exploring)."""
    model = NextEditModel(explore=0.0)
    item = NextEditItem("repeat", 0.55, EVIDENCE, "python")
    taken = 0
    for turn in range(30):
        decision = model.judge(item)
        if not decision.show:
            break
        useful = turn % 3 != 0
        taken += useful
        model.learn(decision, useful)
    assert model.judge(item).show, f"hidden after {turn} turns, {taken} of them taken"


def test_what_a_model_learned_is_kept_and_restored() -> None:
    model = NextEditModel(explore=0.0)
    for _ in range(6):
        model.learn(model.judge(repeat()), useful=False)
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


# -- the pipeline, in this process -------------------------------------------------------

HAS_KEY = """\
def lookup(d, k, defaults, cache):
    if d.has_key(k):
        return d[k]
    if defaults.has_key(k):
        return defaults[k]
    return cache.has_key(k)
"""


async def _run(work):
    return work()


def _pipeline(tmp_path, loop):
    from tactful.feedback.next_edits import NextEditPipeline

    (tmp_path / "mod.py").write_text(HAS_KEY, encoding="utf-8")
    pipeline = NextEditPipeline(lambda: loop, _run, _run, root=str(tmp_path))
    uri = (tmp_path / "mod.py").as_uri()
    pipeline.history.open(uri, HAS_KEY, "python", str(tmp_path / "mod.py"))
    return pipeline, uri


def _request(uri, version=2):
    from tactful.analyzers.text import Point
    from tactful.suggestion.next_edits import NextEditRequest

    return NextEditRequest(uri, None, "python", version, Point(1, 13))


def _edit(pipeline, uri):
    from tactful.analyzers.document import TextChange
    from tactful.analyzers.text import Point

    pipeline.history.change(uri, [TextChange("k in d", Point(1, 7), Point(1, 19))])


async def test_a_turn_carries_each_step_and_the_loop_hears_of_what_was_shown(tmp_path) -> None:
    from tactful.feedback.next_edits import TurnOptions
    from tactful.feedback.turn import Outcome

    path = tmp_path / "fb.sqlite3"
    loop = FeedbackLoop(FeedbackStore(path), FilterOptions(explore=0.0))
    pipeline, uri = _pipeline(tmp_path, loop)
    _edit(pipeline, uri)
    turn = await pipeline.suggest(_request(uri), TurnOptions("/ws", limit=2), lambda: True)
    assert turn.outcome is Outcome.SHOWN
    (local,) = turn.proposals
    assert local.source == "local" and len(local.items) >= 2 and local.problem == ""
    assert all(judged.decision is not None for judged in turn.judged)
    assert [shown.edit.new_text for shown in turn.shown] == ["k in defaults", "k in cache"]
    assert all(pipeline.get(shown.id) is shown for shown in turn.shown)
    # Asked again, the same next edits keep their ids.
    again = await pipeline.suggest(_request(uri), TurnOptions("/ws", limit=2), lambda: True)
    assert [s.id for s in again.shown] == [s.id for s in turn.shown]
    assert await pipeline.accepted(turn.shown[0].id)
    assert await pipeline.rejected(turn.shown[1].id)
    loop.close()
    kinds = [(e.kind, e.item_id) for e in read_events(path)]
    assert kinds == [
        (ev.NEXT_EDIT_SHOWN, turn.shown[0].id),
        (ev.NEXT_EDIT_SHOWN, turn.shown[1].id),
        (ev.NEXT_EDIT_ACCEPTED, turn.shown[0].id),
        (ev.NEXT_EDIT_REJECTED, turn.shown[1].id),
    ]


async def test_an_answer_for_a_document_that_moved_on_is_dropped(tmp_path) -> None:
    from tactful.feedback.next_edits import TurnOptions
    from tactful.feedback.turn import Outcome

    loop = FeedbackLoop(FeedbackStore(tmp_path / "fb.sqlite3"), FilterOptions(explore=0.0))
    pipeline, uri = _pipeline(tmp_path, loop)
    _edit(pipeline, uri)
    turn = await pipeline.suggest(_request(uri), TurnOptions("/ws"), lambda: False)
    assert turn.outcome is Outcome.STALE and turn.shown == []
    loop.close()


async def test_a_kind_of_next_edit_turned_down_again_and_again_is_hidden(tmp_path) -> None:
    from tactful.feedback.next_edits import TurnOptions
    from tactful.feedback.turn import Outcome

    loop = FeedbackLoop(FeedbackStore(tmp_path / "fb.sqlite3"), FilterOptions(explore=0.0))
    for attempt in range(8):
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        pipeline, uri = _pipeline(folder, loop)
        _edit(pipeline, uri)
        turn = await pipeline.suggest(_request(uri), TurnOptions("/ws", limit=1), lambda: True)
        if not turn.shown:
            break
        await pipeline.rejected(turn.shown[0].id)
    assert turn.outcome is Outcome.HIDDEN, f"still shown after {attempt} rejections"
    assert turn.judged and not any(judged.shown for judged in turn.judged)
    loop.close()


async def _settled(pipeline, request):
    """What ``inline`` gives at ``request``'s moment once the pause and the engine are past."""
    from tactful.feedback.next_edits import TurnOptions

    for _ in range(200):
        await asyncio.sleep(0.01)
        found = await pipeline.inline(request, TurnOptions("/ws"), lambda: True, None, 0)
        if found is not None:
            return found
    return None


async def test_an_inline_next_edit_is_prepared_only_for_a_moment_still_current(tmp_path) -> None:
    from dataclasses import replace

    from tactful.analyzers.text import Point
    from tactful.feedback.next_edits import TurnOptions

    path = tmp_path / "fb.sqlite3"
    loop = FeedbackLoop(FeedbackStore(path), FilterOptions(explore=0.0))
    pipeline, uri = _pipeline(tmp_path, loop)
    _edit(pipeline, uri)
    at = replace(_request(uri), position=Point(3, 27))
    told: list = []
    current = [True]
    # Asked, then typed on before the pause ran out: nothing prepared, nobody told.
    assert await pipeline.inline(at, TurnOptions("/ws"), lambda: current[0], told.append) is None
    current[0] = False
    await asyncio.sleep(0.6)
    assert await pipeline.inline(at, TurnOptions("/ws"), lambda: current[0], told.append) is None
    assert told == []
    # A newer moment cancels the one before it while it waits: only the newer is told.
    waiting, moved = replace(at, version=3), replace(at, version=4)
    assert (
        await pipeline.inline(waiting, TurnOptions("/ws"), lambda: True, told.append, 0.2) is None
    )
    assert await pipeline.inline(moved, TurnOptions("/ws"), lambda: True, told.append, 0) is None
    assert await _settled(pipeline, moved) is not None
    await asyncio.sleep(0.4)
    assert told == [moved]
    loop.close()
    shown = [e.item_id for e in read_events(path) if e.kind == ev.NEXT_EDIT_SHOWN]
    assert len(shown) == 1


async def test_as_an_inline_completion_only_a_best_next_edit_on_the_cursors_line_is_shown(
    tmp_path,
) -> None:
    from dataclasses import replace

    from tactful.analyzers.text import Point, Span
    from tactful.feedback.next_edits import INLINE, NOT_ON_CURSOR_LINE, TurnOptions

    path = tmp_path / "fb.sqlite3"
    loop = FeedbackLoop(FeedbackStore(path), FilterOptions(explore=0.0))
    pipeline, uri = _pipeline(tmp_path, loop)
    _edit(pipeline, uri)
    # The cursor on the line below the edit: the best next edit is further down, not shown.
    below = replace(_request(uri), position=Point(2, 8))
    turn = await pipeline.suggest(below, TurnOptions("/ws", surface=INLINE), lambda: True)
    assert turn.shown == []
    assert [(d.item.new_text, d.reason) for d in turn.dropped] == [
        ("k in defaults", NOT_ON_CURSOR_LINE)
    ]
    told: list = []
    assert await pipeline.inline(below, TurnOptions("/ws"), lambda: True, told.append, 0) is None
    assert await _settled(pipeline, below) is None and told == []
    # On its line, after it: nothing at once, the editor told once it is prepared, then the
    # edit and what lies between it and the cursor.
    after = replace(_request(uri), position=Point(3, 27))
    assert await pipeline.inline(after, TurnOptions("/ws"), lambda: True, told.append, 0) is None
    found = await _settled(pipeline, after)
    assert told == [after]
    assert found is not None
    assert found.span == Span(Point(3, 7), Point(3, 27))
    assert found.text == "k in defaults:"
    # The other surface's answers are its own: the next-edit request still shows both.
    both = await pipeline.suggest(_request(uri), TurnOptions("/ws", limit=2), lambda: True)
    assert [s.edit.new_text for s in both.shown] == ["k in defaults", "k in cache"]
    loop.close()
    shown = [e.item_id for e in read_events(path) if e.kind == ev.NEXT_EDIT_SHOWN]
    # Only what an editor got was recorded as shown, each once.
    assert shown == [found.shown.id, both.shown[1].id]


def test_an_item_that_may_not_be_explored_is_hidden_below_the_threshold() -> None:
    model = NextEditModel(explore=1.0, seed=1)
    decision = model.judge(repeat(0.2), may_explore=False)
    assert not decision.show and not decision.explored
    assert model.judge(repeat(0.2)).explored


REGISTRY = (
    HAS_KEY
    + """

class Registry:
    def find(self, name):
        if self.local.has_key(name):
            return self.local[name]
        if self.shared.has_key(name):
            return self.shared[name]
        return self.parent.has_key(name)
"""
)


async def test_an_answer_explores_at_most_one_next_edit_the_model_would_hide(tmp_path) -> None:
    """Exploring draws once an answer, on the best candidate below the threshold: with a draw
    that always explores, one such candidate is shown, not every one of them."""
    from tactful.feedback.next_edits import NextEditPipeline, TurnOptions

    loop = FeedbackLoop(FeedbackStore(tmp_path / "fb.sqlite3"), FilterOptions(explore=0.0))

    async def turn_in(folder):
        folder.mkdir()
        (folder / "mod.py").write_text(REGISTRY, encoding="utf-8")
        pipeline = NextEditPipeline(lambda: loop, _run, _run, root=str(folder))
        uri = (folder / "mod.py").as_uri()
        pipeline.history.open(uri, REGISTRY, "python", str(folder / "mod.py"))
        _edit(pipeline, uri)
        return pipeline, await pipeline.suggest(
            _request(uri), TurnOptions("/ws", limit=3), lambda: True
        )

    for attempt in range(12):
        pipeline, turn = await turn_in(tmp_path / f"attempt{attempt}")
        if not turn.shown:
            break
        for shown in turn.shown:
            await pipeline.rejected(shown.id)
    below = [j for j in turn.judged if j.decision is not None and not j.decision.show]
    assert len(below) >= 3, "the model should have learned to hide these by now"
    loop.configure(FilterOptions(explore=1.0))
    _, turn = await turn_in(tmp_path / "explored")
    explored = [j for j in turn.judged if j.decision is not None and j.decision.explored]
    assert len(explored) == 1
    assert [(s.edit.span, s.edit.new_text) for s in turn.shown] == [
        (explored[0].item.span, explored[0].item.new_text)
    ]
    loop.close()

"""The acceptance cascade and its sibling for comments and fixes: decisions and online learning."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib

import pytest

from tactful.feedback.acceptance import (
    AcceptanceModel,
    Candidate,
    Context,
    History,
    Item,
    ItemModel,
    Prior,
    Stage,
    shipped_prior,
)
from tactful.feedback.acceptance.budget import (
    LOSS_BUDGET,
    THRESHOLD_RANGE,
    ThresholdBudget,
)
from tactful.feedback.acceptance.evaluation import auc
from tactful.feedback.acceptance.features import (
    DIMENSION,
    Features,
    candidate_features,
    context_features,
    filter_context,
    index,
    path_kind,
    situation,
)
from tactful.feedback.acceptance.model import LogisticModel, sigmoid

NEUTRAL = Prior(Stage({}, threshold=0.5), Stage({}, threshold=0.5), {"id": "neutral"})

AFTER_DOT = Context("python", "        self.", previous_line="    def run(self):")
LINE_START = Context("python", "    ", previous_line="    x = 1")
NAME = Candidate("name", "local", 0.8, "token")


def test_features_are_hashed_numbers_not_code() -> None:
    features = candidate_features(AFTER_DOT, Candidate("secret_token()", "local", 0.4, "line"))
    assert all(isinstance(i, int) and isinstance(v, float) for i, v in features)
    assert "secret_token" not in json.dumps(list(features))
    # The hash is stable across processes (Python's own hash() is not).
    code = "from tactful.feedback.acceptance.features import index; print(index('L=python'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert int(other.stdout) == index("L=python")


def test_rejections_teach_the_filter_about_that_context_only() -> None:
    model = AcceptanceModel(NEUTRAL, explore=0.0)
    before_dot = model.judge(AFTER_DOT, NAME).probability
    before_start = model.judge(LINE_START, Candidate("return x", "local", 0.8, "line"))
    for _ in range(15):
        model.learn(model.judge(AFTER_DOT, NAME), accepted=False)
    after_dot = model.judge(AFTER_DOT, NAME)
    after_start = model.judge(LINE_START, Candidate("return x", "local", 0.8, "line"))
    assert after_dot.probability < before_dot - 0.3
    assert not after_dot.show
    assert after_start.probability > after_dot.probability + 0.1
    assert before_start.probability - after_start.probability < before_dot - after_dot.probability
    # The gate keeps the prior's probabilities (it is not learned online).
    assert model.gate(AFTER_DOT).probability == 0.5
    for _ in range(30):
        model.learn(model.judge(AFTER_DOT, NAME), accepted=True)
    assert model.judge(AFTER_DOT, NAME).show


def test_explore_shows_a_share_of_would_be_hidden_suggestions_marked() -> None:
    model = AcceptanceModel(NEUTRAL, threshold=0.99, explore=0.2, seed=7)
    decisions = [model.judge(AFTER_DOT, NAME) for _ in range(2000)]
    shown = [d for d in decisions if d.show]
    assert all(d.explored for d in shown)
    assert 0.15 < len(shown) / len(decisions) < 0.25
    # An explored verdict stands for the hidden ones like it: it moves the model further.
    plain = AcceptanceModel(NEUTRAL, explore=0.2)
    explored = AcceptanceModel(NEUTRAL, explore=0.2)
    d = plain.judge(AFTER_DOT, NAME)
    plain.learn(d, accepted=False)
    explored.learn(shown[0], accepted=False)
    assert explored.judge(AFTER_DOT, NAME).probability < plain.judge(AFTER_DOT, NAME).probability


def test_a_disabled_filter_shows_everything_and_still_learns() -> None:
    model = AcceptanceModel(NEUTRAL, threshold=0.99, explore=0.0, enabled=False)
    decision = model.judge(AFTER_DOT, NAME)
    assert decision.show and not decision.explored
    model.learn(decision, accepted=False)
    assert model.judge(AFTER_DOT, NAME).probability < decision.probability


def test_learned_state_round_trips_and_is_dropped_for_another_prior() -> None:
    model = AcceptanceModel(NEUTRAL, explore=0.0)
    for accepted in (True, False, False, True, False):
        model.learn(model.judge(AFTER_DOT, NAME), accepted)
    state = json.loads(json.dumps(model.state()))
    again = AcceptanceModel(NEUTRAL)
    assert again.restore(state)
    assert again.judge(AFTER_DOT, NAME).probability == model.judge(AFTER_DOT, NAME).probability
    assert again.gate(AFTER_DOT).probability == model.gate(AFTER_DOT).probability
    other = AcceptanceModel(Prior(NEUTRAL.gate, NEUTRAL.filter, {"id": "other"}))
    assert not other.restore(state)


def test_a_hidden_suggestion_costs_what_was_then_typed_of_it_by_hand() -> None:
    history = History()

    def moment(prefix: str, line: int = 3, previous: str = "", document: str = "a.py") -> int:
        history.context("python", prefix, "", previous, line, document=document)
        return sum(found.keystrokes for found in history.hidden_costs)

    moment("x = fo")
    history.note_hidden("o_bar(1)", 0.35)
    assert moment("x = foo") == 0  # typing along it: not yet known to be right
    history.note_hidden("_bar(1)", 0.3)  # hidden again, further on
    assert moment("x = foo_") == 0
    # All of it typed by hand: the keystrokes since it was hidden, less the accept's key.
    assert moment("x = foo_bar(1)") == len("o_bar(1)") - 1
    assert history.hidden_costs == [(0.35, 7, ""), (0.3, 0, "")]  # each keystroke counted once
    # A suggestion whose start agrees with what is typed, and then not, costs nothing.
    history.note_hidden(")\n    return x", 0.3)
    assert moment("x = foo_bar(1))") == 0
    assert moment("    ", line=4, previous="x = foo_bar(1))") == 0
    assert moment("    raise", line=4) == 0
    # Across a line break: its first line, Enter with the indent, then the rest.
    history.note_hidden("\n    return x", 0.3)
    assert moment("", line=5, previous="    raise") == 0
    assert moment("    return", line=6, previous="") == 0  # another line: left
    history.note_hidden(" x\nreturn y", 0.3)
    assert moment("    return x", line=6) == 0
    assert moment("return", line=7, previous="    return x") == 0
    assert moment("return y", line=7) == len(" x") + len("\nreturn") + len(" y") - 1
    # What an accepted suggestion inserted was not typed by hand.
    history.note_hidden("(y)", 0.3)
    history.note(True)
    assert moment("return y(y)", line=7) == 0
    # Another document, or a deletion, leaves it.
    history.note_hidden(" + 1", 0.3)
    assert moment("return y(y) + 1", line=7, document="b.py") == 0
    history.note_hidden("x", 0.3)
    assert moment("retur", line=7, document="b.py") == 0
    assert moment("return", line=7, document="b.py") == 0


def test_the_threshold_is_the_highest_at_which_hiding_stays_within_budget() -> None:
    budget = ThresholdBudget(0.5)
    assert budget.threshold == 0.5 and budget.loss() == 0.0  # no evidence: the prior's
    # Accepts mostly judged likely, a few keystrokes' worth typed by hand below 0.45.
    for _ in range(100):
        budget.add(0.8, 10.0)
        budget.add(0.41, 0.2)
    # Evidence that hiding costs little leaves it where it was: the ledger does not see all
    # that hiding costs.
    assert budget.threshold == 0.5
    assert budget.loss() <= LOSS_BUDGET + 1e-9
    # Then much of what was hidden near the threshold turns out to be typed by hand: the
    # threshold comes down, and what it loses is within budget again.
    for _ in range(300):
        budget.add(0.8, 10.0)
        budget.add(0.43, 2.0)
    assert 0.5 - THRESHOLD_RANGE <= budget.threshold < 0.43
    assert budget.loss() <= LOSS_BUDGET + 1e-9 < budget.loss(0.45)
    # Kept with the workspace; anything malformed is ignored.
    again = ThresholdBudget(0.5)
    again.restore(json.loads(json.dumps(budget.state())))
    assert abs(again.threshold - budget.threshold) < 1e-3
    for broken in ({}, {"worth": [1.0], "total": 1.0}, {"worth": "x", "total": None}):
        fresh = ThresholdBudget(0.5)
        fresh.restore(broken)
        assert fresh.threshold == 0.5


def test_the_filter_threshold_follows_the_workspace_unless_set() -> None:
    model = AcceptanceModel(NEUTRAL, explore=0.0)
    for _ in range(200):
        decision = model.judge(AFTER_DOT, NAME)
        model.learn(decision, accepted=True, saved=8)
        model.missed(0.45, 6)  # hidden, then typed by hand
    assert model.threshold < NEUTRAL.filter.threshold
    again = AcceptanceModel(NEUTRAL)
    assert again.restore(json.loads(json.dumps(model.state())))
    assert abs(again.threshold - model.threshold) < 1e-3
    # A threshold the user set stays where it was set.
    fixed = AcceptanceModel(NEUTRAL, threshold=0.6, explore=0.0)
    for _ in range(200):
        fixed.missed(0.55, 5)
    assert fixed.threshold == 0.6


def test_the_shipped_prior_prefers_what_replays_accepted() -> None:
    prior = shipped_prior()
    assert 0.0 < prior.filter.threshold < 1.0 and 0.0 <= prior.gate.threshold < 1.0
    model = AcceptanceModel(prior, explore=0.0)
    confident = Candidate("path.join(", "local", 0.95, "line", origin="ngram")
    unsure = Candidate("path.join(", "local", 0.5, "line", origin="ngram")
    ctx = Context("python", "        return os.", previous_line="    def f(self):")
    assert model.judge(ctx, confident).probability > model.judge(ctx, unsure).probability
    # The prior is small enough to ship and load at once.
    assert 0 < len(prior.filter.weights) < 60_000


def test_auc() -> None:
    assert auc([(0.9, True), (0.8, True), (0.3, False), (0.1, False)]) == 1.0
    assert auc([(0.1, True), (0.9, False)]) == 0.0
    assert auc([(0.5, True), (0.5, False)]) == 0.5
    assert auc([(0.5, True)]) is None


def test_a_prediction_sums_the_weights_of_any_number_of_features() -> None:
    model = LogisticModel({1: 0.5, 2: -1.25, 3: 2.0})
    assert model.logit(Features([])) == 0.0
    assert model.logit(Features([2])) == -1.25
    assert model.logit(Features([1, 2, 3, 3])) == 3.25
    assert model.logit(Features([1], ((3, 0.5),))) == 1.5
    assert model.predict(Features([1, 2])) == sigmoid(-0.75)


def test_context_features_cover_the_moment() -> None:
    quiet = Context("python", "x = ", "", since_last_s=0.2, last_outcome="rejected")
    keen = Context("python", "x = ", "", since_last_s=0.2, last_outcome="accepted")
    assert set(context_features(quiet)) != set(context_features(keen))
    mid_line = Context("python", "foo(", line_suffix=")")
    end_line = Context("python", "foo(", line_suffix="")
    assert set(context_features(mid_line)) != set(context_features(end_line))


def test_the_shape_and_first_word_features_read_any_text() -> None:
    def ones(prefix: str) -> set[int]:
        return set(context_features(Context("python", prefix)).ones)

    # Letters (any script) as a, digits (any script) as 0, any whitespace as _.
    assert index("sh=a0_") in ones("x = b1 ")
    assert index("sh=a0_") in ones("x = é٣\u2003")
    assert index("sh=a0_") in ones("x = _7\x1c")
    assert index("sh=(a.") in ones("f(x.")
    # The first word counts only where the line's text starts.
    assert index("fw=value|c1=(") in ones("    value(")
    assert index("fw=|c1=(") in ones("    (value(")


def test_feature_indices_do_not_depend_on_what_was_hashed_before() -> None:
    names = [f"w=name{i}" for i in range(70_000)]
    first = [index(name) for name in names]
    assert [index(name) for name in reversed(names)] == first[::-1]
    assert first[0] == zlib.crc32(b"w=name0") % (DIMENSION - 1) + 1


def test_the_filter_takes_the_shared_part_of_the_context() -> None:
    ctx = Context("python", "    value = compute(", ")", "def f():", 7, recent_rate=0.4)
    context = context_features(ctx)
    features = candidate_features(ctx, Candidate("x, y", "local", 0.6, "line"), context)
    shared = set(filter_context(context))
    assert shared < set(features)
    # The recent rate (its bucket and its value) is shared; the gate's own features are not:
    # the last character's class and the word at the cursor, for two.
    assert (index("rrb=2"), 1.0) in shared
    assert dict(shared)[index("rr")] == pytest.approx(0.1)
    gate_only = set(context) - shared
    assert {(index("c1=("), 1.0), (index("w="), 1.0)} <= gate_only
    assert not gate_only & set(features)
    # Without the gate's list the filter computes the same features itself.
    assert candidate_features(ctx, Candidate("x, y", "local", 0.6, "line")) == features


def comment(rule: str) -> Item:
    return Item("comment", rule, source="rules", language="python", severity="warning")


def test_item_model_hides_a_rule_the_developer_keeps_dismissing() -> None:
    model = ItemModel(explore=0.0)
    assert model.judge(comment("review.print")).show
    for _ in range(2):
        model.learn(model.judge(comment("review.print")), useful=False)
    assert not model.judge(comment("review.print")).show
    assert model.judge(comment("review.todo")).show
    ranked = model.rank(
        [("a", comment("review.print")), ("b", comment("review.todo")), ("c", comment("x"))]
    )
    assert [name for name, _ in ranked][:1] in (["b"], ["c"])
    assert "a" not in [name for name, _ in ranked]
    # Applied fixes of a rule raise it.
    fix = Item("fix", "F401", source="ruff", language="python", verdict="passed", safe=True)
    before = model.judge(fix).probability
    for _ in range(3):
        model.learn(model.judge(fix), useful=True)
    assert model.judge(fix).probability > before
    state = json.loads(json.dumps(model.state()))
    again = ItemModel(explore=0.0)
    again.restore(state)
    assert not again.judge(comment("review.print")).show


def test_the_gate_keeps_the_priors_probabilities_while_the_filter_learns(tmp_path) -> None:
    from tactful.feedback.loop import FeedbackLoop, FilterOptions
    from tactful.feedback.store import FeedbackStore

    # A gate that never skips, and a filter that hides what it gives p = 0.5 (all of it).
    prior = Prior(Stage({}, threshold=0.0), Stage({}, threshold=0.6), {"id": "open-gate"})
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    loop = FeedbackLoop(store, FilterOptions(explore=0.0), prior=prior)
    candidate = Candidate("x", "local", 0.0, "token")
    try:
        ctx = loop.context("/ws", "python", "        self.", previous_line="    def run(self):")
        start = loop.gate("/ws", ctx).probability
        # Suggestions hidden, and suggestions asked for by a key, shown and rejected: the
        # filter learns from the verdicts, the gate does not move.
        for i in range(20):
            assert not loop.judge("/ws", ctx, candidate, loop.gate("/ws", ctx)).show
            asked = loop.context(
                "/ws",
                "python",
                "        self.",
                previous_line="    def run(self):",
                trigger="invoked",
            )
            decision = loop.judge("/ws", asked, candidate, loop.gate("/ws", asked))
            assert decision.show
            loop.shown(f"s{i}", "/ws", asked, decision, "file:///a.py", 1, "", 0, "x")
            assert loop.rejected(f"s{i}")
        assert loop.judge("/ws", ctx, candidate).probability < 0.5 - 0.1
        assert loop.gate("/ws", ctx).probability == start
    finally:
        loop.close()
    # What an earlier version learned of the gate is not taken back with the rest.
    model = AcceptanceModel(prior, explore=0.0)
    moment = Context("python", "        self.", previous_line="    def run(self):")
    learned_gate = {str(i): -3.0 for i in context_features(moment).ones}
    assert model.restore({"prior": "open-gate", "gate": {"weights": learned_gate}})
    assert model.gate(moment).probability == 0.5


def test_a_suggestion_asked_for_by_a_key_is_shown_whatever_its_probability() -> None:
    strict = Prior(Stage({}, threshold=0.99), Stage({}, threshold=0.99), {"id": "strict"})
    model = AcceptanceModel(strict, explore=0.0)
    typed = Context("python", "        self.", trigger="automatic")
    asked = Context("python", "        self.", trigger="invoked")
    assert not model.gate(typed).show
    assert not model.judge(typed, NAME).show
    gate = model.gate(asked)
    decision = model.judge(asked, NAME, gate)
    assert gate.show and decision.show and not decision.explored
    assert decision.probability < 0.99  # still scored, so it is learned from like any other


def test_test_files_are_told_from_sources_by_their_path() -> None:
    for path in ("tests/test_api.py", "test_utils.py", "pkg/server_test.go", "web/app.spec.ts"):
        assert path_kind(path) == "test", path
    for path in ("src/requests/utils.py", "contest.py", "attestation/sign.py"):
        assert path_kind(path) == "src", path
    assert path_kind("") == ""


def test_nothing_is_explored_while_learning_is_off(tmp_path) -> None:
    from tactful.feedback.loop import FeedbackLoop, FilterOptions
    from tactful.feedback.store import FeedbackStore

    # A filter that hides everything (p = 0.5 < 0.6), and exploration asked for every time.
    prior = Prior(Stage({}, threshold=0.0), Stage({}, threshold=0.6), {"id": "hide-all"})
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    loop = FeedbackLoop(store, FilterOptions(explore=1.0, learn=False), prior=prior, seed=1)
    try:
        ctx = loop.context("/ws", "python", "        self.")
        candidate = Candidate("x", "local", 0.5, "token")
        assert not any(loop.judge("/ws", ctx, candidate).show for _ in range(20))
        # Learning on again: exploration resumes (every would-be-hidden one, at 1.0).
        loop.configure(FilterOptions(explore=1.0, learn=True))
        decision = loop.judge("/ws", ctx, candidate)
        assert decision.show and decision.explored
    finally:
        loop.close()


def test_a_situations_offset_moves_the_filters_threshold_there_only() -> None:
    # Every suggestion is judged at p = 0.5; the threshold is 0.55, +0.1 with code below the
    # cursor's line, -0.1 on the first lines of a document that ends at the cursor's line.
    offsets = {"context": 0.1, "head": -0.1}
    prior = Prior(Stage({}, 0.0), Stage({}, 0.55, offsets=offsets), {"id": "situations"})
    model = AcceptanceModel(prior, explore=0.0)
    inside = Context("python", "    x = ", line_number=5, continues=True)
    head = Context("python", "    x = ", line_number=5)
    rest = Context("python", "    x = ", line_number=400)
    assert [situation(c) for c in (inside, head, rest)] == ["context", "head", "rest"]
    assert [model.judge(c, NAME).show for c in (inside, head, rest)] == [False, True, False]
    assert model.threshold_at(inside) == pytest.approx(0.65)
    # A threshold the user set holds everywhere.
    fixed = AcceptanceModel(prior, threshold=0.45, explore=0.0)
    assert all(fixed.judge(c, NAME).show for c in (inside, head, rest))
    # Written beside the threshold, read back; a prior without them (an older one), or with
    # malformed ones, keeps the threshold everywhere.
    data = json.loads(prior.dumps())
    assert data["format"] == 1 and data["filter"]["threshold"] == 0.55
    assert Prior.from_json(data).filter.offsets == offsets
    del data["filter"]["situations"]
    assert Prior.from_json(data).filter.offsets == {}
    data["filter"]["situations"] = {"context": "high"}
    assert Prior.from_json(data).filter.offsets == {}


def test_the_moment_says_whether_the_document_goes_on_below_the_cursor(tmp_path) -> None:
    from tactful.analyzers.text import Point
    from tactful.feedback.completion import perceive
    from tactful.feedback.loop import FeedbackLoop, FilterOptions
    from tactful.feedback.store import FeedbackStore
    from tactful.suggestion.types import CompletionRequest

    loop = FeedbackLoop(FeedbackStore(tmp_path / "fb.sqlite3"), FilterOptions(explore=0.0))
    try:

        def moment(text: str, line: int, column: int) -> Context:
            request = CompletionRequest(
                "file:///ws/a.py", "/ws/a.py", "python", 1, text, Point(line, column), "/ws"
            )
            return perceive(loop, request, "/ws")

        typed = moment("import os\n\ndef f():\n    return os.pa", 3, 16)
        assert not typed.continues and typed.line_suffix == ""
        blank_below = moment("def f():\n    return os.pa\n\n   \n", 1, 16)
        assert not blank_below.continues
        inside = moment("def f():\n    return os.pa\n\n\ndef g():\n    pass\n", 1, 16)
        assert inside.continues and inside.line_number == 1
        # The rest of the cursor's own line is its suffix, not code below.
        suffix = moment("def f():\n    return os.pa)", 1, 16)
        assert not suffix.continues and suffix.line_suffix == ")"
    finally:
        loop.close()

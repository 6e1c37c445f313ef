"""The rules behind resolved comments, ignored fixes and stable item decisions, data-driven over
the public functions (the end-to-end tests in test_feedback_items_lsp.py and
test_feedback_items_fixes.py show them through the server)."""

from __future__ import annotations

import pytest

from tactful.analyzers.findings import Applicability, Finding, Fix
from tactful.analyzers.text import Edit, Point, Span
from tactful.feedback.acceptance.items import Item, ItemModel
from tactful.feedback.fixes import OfferedFixes, fix_id
from tactful.feedback.review import resolved_comments
from tactful.suggestion.review.comments import Comment, with_ids

BEFORE = "def f(w):\n    print(w)\n    return w\n"


def comment(text: str, line: int, rule: str = "debug-leftover") -> Comment:
    lines = text.split("\n")
    span = Span(Point(line, 4), Point(line, len(lines[line])))
    (made,) = with_ids(
        [Comment("m.py", span, rule, "debugging left in", "rules", line_text=lines[line])]
    )
    return made


@pytest.mark.parametrize(
    ("after", "still_commented_line", "resolved"),
    [
        # Untouched line, re-reviewed: nothing.
        (BEFORE, 1, False),
        # A line added above: the commented line moved but was not edited.
        ("X = 1\n" + BEFORE, 2, False),
        # Edited, and the same rule still comments on it: the problem stays.
        ("def f(w):\n    print(w, 2)\n    return w\n", 1, False),
        # Edited so the comment is gone.
        ("def f(w):\n    log(w)\n    return w\n", None, True),
        # Deleted.
        ("def f(w):\n    return w\n", None, True),
        # Gone from the review while its line is untouched (a dismissal, a cap): nothing.
        (BEFORE, None, False),
    ],
)
def test_a_comment_is_resolved_only_by_an_edit_of_its_own_line(
    after: str, still_commented_line: int | None, resolved: bool
) -> None:
    shown = comment(BEFORE, 1)
    produced = [] if still_commented_line is None else [comment(after, still_commented_line)]
    assert resolved_comments(BEFORE, after, [shown], produced) == ([shown.id] if resolved else [])


TEXT = "import os\nimport sys\n\nprint(sys.argv)\n"


def f401(text: str, line: int, name: str) -> tuple[Finding, Fix]:
    span = Span(Point(line, 7), Point(line, 7 + len(name)))
    finding = Finding("m.py", span, "F401", f"`{name}` imported but unused")
    removal = Edit("m.py", Span(Point(line, 0), Point(line + 1, 0)), "")
    return finding, Fix(f"Remove unused import: `{name}`", (removal,), Applicability.SAFE)


def test_fix_ids_are_stable_across_edits_elsewhere() -> None:
    finding, fix = f401(TEXT, 0, "os")
    moved_finding, moved_fix = f401("X = 1\n" + TEXT, 1, "os")
    assert fix_id(finding, fix, TEXT) == fix_id(moved_finding, moved_fix, "X = 1\n" + TEXT)
    other, other_fix = f401("import json\n", 0, "json")
    assert fix_id(finding, fix, TEXT) != fix_id(other, other_fix, "import json\n")


@pytest.mark.parametrize(
    ("after", "findings_after", "ignored"),
    [
        # The developer used the import: the finding went away without the fix.
        (TEXT + "SEP = os.sep\n", [], True),
        # The fix itself was applied: its command settles it, nothing inferred.
        ("import sys\n\nprint(sys.argv)\n", [], False),
        # Still there after an edit elsewhere: still pending.
        (TEXT + "Y = 2\n", ["os"], False),
        # Gone with the text unchanged (ruff's settings changed): not the developer's doing.
        (TEXT, [], False),
    ],
)
def test_an_offered_fix_is_ignored_when_its_finding_goes_another_way(
    after: str, findings_after: list[str], ignored: bool
) -> None:
    finding, fix = f401(TEXT, 0, "os")
    offered = OfferedFixes()
    assert offered.offered("fix-1", finding, fix, TEXT)
    assert not offered.offered("fix-1", finding, fix, TEXT)
    now = [f401(after, 0, name)[0] for name in findings_after]
    assert offered.changed(now, after) == (["fix-1"] if ignored else [])
    if findings_after:
        # Still pending: closing the document with the finding there ignores it.
        assert offered.closed() == ["fix-1"]
    else:
        # Settled, once: whatever follows, the same fix is not reported again.
        assert offered.changed([], after + "Z = 3\n") == []
        assert offered.closed() == []


def test_closing_reports_only_fixes_whose_finding_is_still_there() -> None:
    offered = OfferedFixes()
    finding, fix = f401(TEXT, 0, "os")
    offered.offered("fix-1", finding, fix, TEXT)
    # A lint after a settings change drops the finding: settled, but not as ignored.
    assert offered.changed([], TEXT + "Y = 2\n", infer=False) == []
    assert offered.closed() == []


def test_a_decision_asked_again_keeps_its_exploration_draw() -> None:
    item = Item("comment", "debug-leftover", source="rules", language="python")
    # Always explores below the threshold: the first draw says "show".
    model = ItemModel(explore=1.0, seed=1)
    first = model.judge(item)
    assert first.show and not first.explored
    for _ in range(3):
        model.learn(first, useful=False)
    again = model.judge(item, first)
    assert again.show and again.explored  # dropped below the threshold: one draw, kept
    model.explore = 0.0  # a new draw would now say "hide"; the kept one still shows it
    assert model.judge(item, again).show
    hidden = ItemModel(explore=0.0)
    for _ in range(3):
        hidden.learn(hidden.judge(item), useful=False)
    decision = hidden.judge(item)
    assert not decision.show
    hidden.explore = 1.0  # asked again, a hidden item is not re-drawn into view
    assert not hidden.judge(item, decision).show

"""The review pipeline without a server: real git repositories, real ruff, a real feedback store,
and an editor in memory (tests/fixtures/editor.py) on the other side of its ``Editor``."""

from __future__ import annotations

import asyncio

from fixtures.editor import MemoryEditor
from fixtures.workspace import Workspace

from tactful.analyzers.baseline import Baseline, save
from tactful.feedback import events as ev
from tactful.feedback.loop import FeedbackLoop
from tactful.feedback.pause import Typing
from tactful.feedback.review.pipeline import ReviewConfig, ReviewPipeline
from tactful.feedback.turn import Outcome

OLD = 'import os\n\n\ndef area(w, h):\n    """Area of a w by h rectangle."""\n    return w * h\n'
NEW = OLD.replace("    return w * h\n", "    print(w)\n    return w * h\n")


def pipeline(
    workspace: Workspace, loop: FeedbackLoop | None = None, **config: object
) -> tuple[ReviewPipeline, MemoryEditor]:
    settings = ReviewConfig(root=workspace.root, store=workspace.root.parent / "store.db", **config)
    editor = MemoryEditor(lambda: settings)
    return ReviewPipeline(editor, lambda: loop, asyncio.to_thread), editor


def changed_repo(workspace: Workspace) -> Workspace:
    workspace.write("geo.py", OLD)
    workspace.write("other.py", "x = 1\n")
    workspace.commit("init")
    workspace.write("geo.py", NEW)
    return workspace


def marks(comments: list) -> list[tuple[int, str]]:
    return [(c.line + 1, c.rule) for c in comments]


async def test_a_turn_shows_the_comments_on_changed_lines_only(workspace: Workspace) -> None:
    review, editor = pipeline(changed_repo(workspace))
    key = editor.open_file(workspace.root / "geo.py")

    turn = await review.review_document(key)

    assert turn.outcome is Outcome.SHOWN
    assert turn.change is not None and sorted(turn.change.changed_lines) == [5]
    # `import os` is unused (F401), but it did not change: the commenters say nothing there.
    assert marks(turn.shown) == [(6, "debug-leftover")]
    assert editor.shown[key] == turn.shown
    assert [p.source for p in turn.proposals] == ["rules, ruff"]


async def test_an_unchanged_document_shows_nothing_and_clears_what_was_shown(
    workspace: Workspace,
) -> None:
    review, editor = pipeline(changed_repo(workspace))
    key = editor.open_file(workspace.root / "other.py")
    editor.shown[key] = ["from before"]

    turn = await review.review_document(key)

    assert turn.outcome is Outcome.SILENT and turn.change is None
    assert editor.shown[key] == []


async def test_a_result_for_an_edited_document_is_dropped(workspace: Workspace) -> None:
    review, editor = pipeline(changed_repo(workspace))
    key = editor.open_file(workspace.root / "geo.py")
    review.schedule(key, delay=0)
    # The developer types before the review is done: its result is for an older version.
    editor.edit(key, NEW + "breakpoint()\n")
    review.schedule(key, delay=0)
    await editor.settle()

    assert marks(editor.shown[key]) == [(6, "debug-leftover"), (8, "debug-leftover")]


async def test_review_all_covers_open_and_unopened_files(workspace: Workspace) -> None:
    changed_repo(workspace).write("other.py", "x = 1\nbreakpoint()\n")
    review, editor = pipeline(workspace)
    # The open buffer differs from the disk: review reads the editor's text.
    key = editor.open_file(workspace.root / "geo.py", NEW + "print(os.sep)\n")

    files, turns = await review.review_all()

    assert files == 2
    by_key = {turn.request.key: turn for turn in turns}
    other = (workspace.root / "other.py").resolve().as_uri()
    assert marks(by_key[other].shown) == [(2, "debug-leftover")]
    assert by_key[other].request.version is None
    assert marks(editor.shown[key]) == [(6, "debug-leftover"), (8, "debug-leftover")]


async def test_outside_a_repository_there_is_nothing_to_review(plain_folder: Workspace) -> None:
    plain_folder.write("geo.py", NEW)
    review, editor = pipeline(plain_folder)
    key = editor.open_file(plain_folder.root / "geo.py")

    turn = await review.review_document(key)
    files, _turns = await review.review_all()

    assert turn.outcome is Outcome.SILENT and files == 0
    assert review.problem is not None and "not inside a git repository" in review.problem
    assert editor.warnings == [f"tactful review: {review.problem}"]


async def test_dismissing_hides_records_and_teaches(
    workspace: Workspace, feedback_loop: FeedbackLoop
) -> None:
    changed_repo(workspace)
    review, editor = pipeline(workspace, feedback_loop)
    key = editor.open_file(workspace.root / "geo.py", NEW + "print(os.sep)\n")
    turn = await review.review_document(key)
    first, second = turn.shown

    assert review.dismiss(first.id) is True
    assert [c.id for c in editor.shown[key]] == [second.id]
    assert first.id in review.memory.dismissed
    assert review.memory.dismissed_by_rule == {"debug-leftover": 1}
    # An id the pipeline never showed is still recorded, and says it was unknown.
    assert review.dismiss("0123456789abcdef") is False

    # Reviewed again after an edit elsewhere, the dismissed comment stays away.
    editor.edit(key, "LIMIT = 1\n" + NEW + "print(os.sep)\n")
    again = await review.review_document(key)
    assert [c.id for c in again.shown] == [second.id]
    feedback_loop.store.flush()
    kinds = [(e.kind, e.item_id) for e in feedback_loop.store.events()]
    assert (ev.COMMENT_DISMISSED, first.id) in kinds
    assert (ev.COMMENT_SHOWN, first.id) in kinds


async def test_an_edit_that_removes_a_commented_line_resolves_it(
    workspace: Workspace, feedback_loop: FeedbackLoop
) -> None:
    changed_repo(workspace)
    review, editor = pipeline(workspace, feedback_loop)
    key = editor.open_file(workspace.root / "geo.py", NEW + "breakpoint()\n")
    shown = await review.review_document(key)
    printed = next(c for c in shown.shown if c.line == 5)

    # The developer deletes the print: its comment is resolved, the other stays shown.
    editor.edit(key, OLD + "breakpoint()\n")
    turn = await review.review_document(key)
    await editor.settle()

    assert marks(turn.shown) == [(7, "debug-leftover")]
    feedback_loop.store.flush()
    resolved = [e.item_id for e in feedback_loop.store.events() if e.kind == ev.COMMENT_RESOLVED]
    assert resolved == [printed.id]


async def test_closing_forgets_the_document(workspace: Workspace) -> None:
    review, editor = pipeline(changed_repo(workspace))
    key = editor.open_file(workspace.root / "geo.py")
    await review.review_document(key)
    assert review.shown[key]

    editor.close(key)
    review.forget(key)

    assert key not in review.shown and key not in review.reviewed_text
    turn = await review.review_document(key)
    assert turn.outcome is Outcome.CANCELLED


async def test_ruff_is_left_to_quality_where_it_shows_and_the_baseline_is_left_out(
    workspace: Workspace,
) -> None:
    changed_repo(workspace)
    text = NEW + "def g():\n    unused = 1\n    print(os.sep)\n"
    alone, editor = pipeline(workspace)
    key = editor.open_file(workspace.root / "geo.py", text)
    assert marks((await alone.review_document(key)).shown) == [
        (6, "debug-leftover"),
        (9, "F841"),
        (10, "debug-leftover"),
    ]

    # The editor's quality findings show ruff's F841: review leaves it to them.
    beside, editor = pipeline(workspace, quality_shows_ruff=True)
    key = editor.open_file(workspace.root / "geo.py", text)
    turn = await beside.review_document(key)
    assert marks(turn.shown) == [(6, "debug-leftover"), (10, "debug-leftover")]
    assert turn.proposals[0].source == "rules"

    # Under the baseline scope, the print the baseline records stays quiet wherever it moved.
    save(workspace.root, Baseline.of([("geo.py", "debug-leftover", "print(os.sep)")]))
    scoped, editor = pipeline(workspace, quality_shows_ruff=True, scope="baseline")
    key = editor.open_file(workspace.root / "geo.py", text)
    assert marks((await scoped.review_document(key)).shown) == [(6, "debug-leftover")]


async def test_a_review_at_once_lets_a_next_edit_request_being_answered_go_first(
    workspace: Workspace,
) -> None:
    settings = ReviewConfig(root=changed_repo(workspace).root, store=workspace.root / "s.db")
    editor = MemoryEditor(lambda: settings)
    typing = Typing()
    review = ReviewPipeline(editor, lambda: None, asyncio.to_thread, typing=typing)
    key = editor.open_file(workspace.root / "geo.py")
    typing.began(foreground=True)  # a next-edit request is being answered

    review.schedule(key, delay=0)  # as when a document is opened
    await asyncio.sleep(0.4)
    assert key not in editor.shown

    typing.ended(foreground=True)
    await editor.settle()
    assert marks(editor.shown[key]) == [(6, "debug-leftover")]


async def test_the_rules_of_a_review_overtaken_by_an_edit_are_told_to_stop(
    workspace: Workspace,
) -> None:
    settings = ReviewConfig(root=changed_repo(workspace).root, store=workspace.root / "s.db")
    editor = MemoryEditor(lambda: settings)
    told: list[bool] = []

    async def run_blocking(fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        cancelled = kwargs.get("cancelled")
        if cancelled is not None and not told:
            # The developer types while the rules run: a newer review takes over.
            editor.edit(key, NEW + "breakpoint()\n")
            review.schedule(key, delay=0)
            told.append(cancelled())
        return await asyncio.to_thread(fn, *args, **kwargs)

    review = ReviewPipeline(editor, lambda: None, run_blocking)
    key = editor.open_file(workspace.root / "geo.py")
    review.schedule(key, delay=0)
    await editor.settle()

    assert told == [True]
    # The newer review's comments are shown, the overtaken one's never.
    assert marks(editor.shown[key]) == [(6, "debug-leftover"), (8, "debug-leftover")]


async def test_typing_moves_the_waiting_review_instead_of_starting_one_per_keystroke(
    workspace: Workspace,
) -> None:
    review, editor = pipeline(changed_repo(workspace))
    key = editor.open_file(workspace.root / "geo.py")
    for n in range(1, 32):
        editor.edit(key, NEW + "breakpoint()\n" * (n % 2))
        review.schedule(key, delay=0.2)
    # One task waits for the pause; each keystroke moved its start.
    assert len(editor.tasks) == 1
    await editor.settle()
    # It reviewed the text as it was after the last keystroke.
    assert marks(editor.shown[key]) == [(6, "debug-leftover"), (8, "debug-leftover")]

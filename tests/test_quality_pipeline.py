"""The quality pipeline without a server: real ruff, a real feedback store, real git
repositories, and an editor in memory (tests/fixtures/editor.py) on the other side of its
``Editor``."""

from __future__ import annotations

import asyncio

from fixtures.editor import MemoryEditor
from fixtures.workspace import Workspace

from tactful.analyzers.baseline import Baseline, save
from tactful.analyzers.ruff import RuffOptions
from tactful.feedback import events as ev
from tactful.feedback.fixes import fix_id
from tactful.feedback.loop import FeedbackLoop
from tactful.feedback.pause import Typing
from tactful.feedback.quality import QualityConfig, QualityPipeline, QuickFixRequest, QuickFixTurn
from tactful.feedback.turn import Outcome
from tactful.feedback.validation import Validation

SOURCE = "import os\n\n\ndef f():\n    unused = 1\n"


def pipeline(
    workspace: Workspace, loop: FeedbackLoop | None = None, **config: object
) -> tuple[QualityPipeline, MemoryEditor]:
    settings = QualityConfig(
        root=workspace.root,
        ruff=RuffOptions(select=("F",)),
        validation=Validation(None, "workspace not trusted"),
        **config,
    )
    editor = MemoryEditor(lambda: settings)
    return QualityPipeline(editor, lambda: loop, asyncio.to_thread), editor


def rules(findings: list) -> list[tuple[int, str]]:
    return [(f.span.start.line + 1, f.rule) for f in findings]


async def quick_fixes(quality: QualityPipeline, key: str, seen: bool = True) -> QuickFixTurn:
    """A code action request on the document's first finding, at its version."""
    state = quality.documents[key]
    request = QuickFixRequest(key, state.version, state.findings[0].span, seen=seen)
    return await quality.quick_fixes(request)


async def test_a_lint_shows_ruffs_findings_and_judges_their_fixes(workspace: Workspace) -> None:
    quality, editor = pipeline(workspace)
    key = editor.open_file(workspace.write("mod.py", SOURCE))

    turn = await quality.lint(key)

    assert turn.outcome is Outcome.SHOWN
    assert rules(editor.shown[key]) == [(1, "F401"), (5, "F841")]
    assert all(
        f.url and f.url.startswith("https://docs.astral.sh/ruff/rules/") for f in editor.shown[key]
    )
    state = quality.documents[key]
    assert state is turn.state and state.version == 1 and state.path == "mod.py"
    await asyncio.wait_for(state.judged.wait(), 60)
    titles = sorted(offer.title for offer in state.offers.values())
    assert titles == [
        "Remove assignment to unused variable `unused` (F841) — unsafe fix, not validated "
        "(workspace not trusted)",
        "Remove unused import: `os` (F401) — safe fix, not validated (workspace not trusted)",
    ]
    # Nothing ran in the sandbox, so no progress was shown.
    assert editor.progress_titles == []


async def test_only_python_documents_are_linted(workspace: Workspace) -> None:
    quality, editor = pipeline(workspace)
    key = editor.open_file(workspace.write("notes.md", "import os\n"))
    quality.schedule(editor.document(key), delay=0)
    await editor.settle()
    assert key not in editor.shown and key not in quality.documents


async def test_a_lint_of_an_older_version_is_dropped(workspace: Workspace) -> None:
    quality, editor = pipeline(workspace)
    key = editor.open_file(workspace.write("mod.py", SOURCE))
    quality.schedule(editor.document(key), delay=0)
    editor.edit(key, "import os\n")
    quality.schedule(editor.document(key), delay=0)
    await editor.settle()
    assert rules(editor.shown[key]) == [(1, "F401")]
    assert quality.documents[key].version == 2


async def test_turned_off_shows_nothing(workspace: Workspace) -> None:
    quality, editor = pipeline(workspace, enabled=False)
    key = editor.open_file(workspace.write("mod.py", SOURCE))
    turn = await quality.lint(key)
    assert turn.outcome is Outcome.SILENT and editor.shown[key] == []
    assert key not in quality.documents


async def test_a_fix_is_offered_once_seen_and_ignored_once_solved_otherwise(
    workspace: Workspace, feedback_loop: FeedbackLoop
) -> None:
    quality, editor = pipeline(workspace, feedback_loop)
    key = editor.open_file(workspace.write("mod.py", "import os\n"))
    await quality.lint(key)
    # A light bulb the editor drew on its own shows the developer nothing.
    assert (await quick_fixes(quality, key, seen=False)).shown
    assert key not in quality.offered or not len(quality.offered[key])
    (shown,) = (await quick_fixes(quality, key)).shown
    item_id = shown.id

    # The developer uses the import instead: the fix was ignored, learned once.
    editor.edit(key, "import os\n\nSEP = os.sep\n")
    await quality.lint(key)
    feedback_loop.store.flush()
    kinds = [(e.kind, e.item_id) for e in feedback_loop.store.events()]
    assert kinds.count((ev.FIX_OFFERED, item_id)) == 1
    assert kinds.count((ev.FIX_IGNORED, item_id)) == 1


async def test_a_code_action_request_is_a_turn_that_carries_the_ranking_and_the_ids(
    workspace: Workspace, feedback_loop: FeedbackLoop
) -> None:
    quality, editor = pipeline(workspace, feedback_loop)
    key = editor.open_file(workspace.write("mod.py", "import os\n"))
    await quality.lint(key)
    state = quality.documents[key]

    turn = await quick_fixes(quality, key)

    assert turn.outcome is Outcome.SHOWN and turn.state is state
    (proposal,) = turn.proposals
    (proposed,) = proposal.items
    assert proposed.index == 0 and proposed.offer.finding.rule == "F401"
    assert proposed.offer.fix is not None
    assert proposed.id == fix_id(proposed.offer.finding, proposed.offer.fix, state.text)
    (judged,) = turn.judged
    assert judged.item is proposed and judged.decision is not None and judged.decision.show
    assert turn.shown == [proposed]
    # Not asked for the fix-all action: none; asked, once judged, ruff's safe fix is in it.
    assert turn.fix_all == []
    await asyncio.wait_for(state.judged.wait(), 60)
    request = QuickFixRequest(key, state.version, None, fix_all=True)
    everything = await quality.quick_fixes(request)
    assert [fix.id for fix in everything.fix_all] == [proposed.id]
    assert everything.proposals == [] and everything.shown == []
    # Asked about a version the pipeline has not linted: nothing, and said so.
    newer = QuickFixRequest(key, state.version + 1, state.findings[0].span, fix_all=True)
    late = await quality.quick_fixes(newer)
    assert late.outcome is Outcome.STALE and late.shown == [] and late.fix_all == []


async def test_a_settings_change_settles_no_fix(
    workspace: Workspace, feedback_loop: FeedbackLoop
) -> None:
    settings = {"select": ("F",)}
    editor = MemoryEditor(
        lambda: QualityConfig(root=workspace.root, ruff=RuffOptions(select=settings["select"]))
    )
    quality = QualityPipeline(editor, lambda: feedback_loop, asyncio.to_thread)
    key = editor.open_file(workspace.write("mod.py", "import os\n"))
    await quality.lint(key)
    assert (await quick_fixes(quality, key)).shown

    # F401 is no longer selected: the finding goes, but not by the developer's doing.
    settings["select"] = ("E",)
    quality.settings_changed()
    await editor.settle()
    assert editor.shown[key] == []
    feedback_loop.store.flush()
    assert not [e for e in feedback_loop.store.events() if e.kind == ev.FIX_IGNORED]


async def test_closing_leaves_the_fixes_still_offered_ignored(
    workspace: Workspace, feedback_loop: FeedbackLoop
) -> None:
    quality, editor = pipeline(workspace, feedback_loop)
    key = editor.open_file(workspace.write("mod.py", "import os\n"))
    await quality.lint(key)
    (shown,) = (await quick_fixes(quality, key)).shown
    item_id = shown.id

    editor.close(key)
    quality.forget(key)

    assert key not in quality.documents
    feedback_loop.store.flush()
    assert [e.item_id for e in feedback_loop.store.events() if e.kind == ev.FIX_IGNORED] == [
        item_id
    ]


BASE = "import os\nimport sys\n\n\ndef f():\n    return sys.argv\n"
EDITED = "import os\nimport sys\n\n\ndef f():\n    unused = 1\n    return None\n"


async def test_the_changed_scope_keeps_what_the_change_did(workspace: Workspace) -> None:
    workspace.write("mod.py", BASE)
    workspace.commit("legacy")
    quality, editor = pipeline(workspace)
    key = editor.open_file(workspace.root / "mod.py", EDITED)

    turn = await quality.lint(key)

    # The new unused variable on a changed line, the import the change left unused; not the
    # import that was unused at the base already.
    assert rules(editor.shown[key]) == [(2, "F401"), (6, "F841")]
    assert [(rules([d.item]), d.reason) for d in turn.dropped] == [
        ([(1, "F401")], "not on a changed line")
    ]
    # ruff's screen of a fix still counts every finding of the text.
    assert rules(quality.documents[key].found) == [(1, "F401"), (2, "F401"), (6, "F841")]

    editor.edit(key, BASE)
    unchanged = await quality.lint(key)
    assert editor.shown[key] == [] and unchanged.outcome is Outcome.DROPPED
    assert {d.reason for d in unchanged.dropped} == {"unchanged"}


async def test_outside_git_the_changed_scope_keeps_everything(plain_folder: Workspace) -> None:
    quality, editor = pipeline(plain_folder)
    key = editor.open_file(plain_folder.write("mod.py", EDITED))
    await quality.lint(key)
    assert rules(editor.shown[key]) == [(1, "F401"), (2, "F401"), (6, "F841")]


async def test_the_baseline_scope_keeps_what_the_baseline_does_not_record(
    workspace: Workspace,
) -> None:
    workspace.write("mod.py", BASE)
    workspace.commit("legacy")
    quality, editor = pipeline(workspace, scope="baseline")
    key = editor.open_file(workspace.root / "mod.py", "X = 1\n" + EDITED)

    # No baseline yet: everything, said once.
    await quality.lint(key)
    assert rules(editor.shown[key]) == [(2, "F401"), (3, "F401"), (7, "F841")]
    await quality.lint(key)
    assert len(editor.warnings) == 1 and "`tactful baseline`" in editor.warnings[0]

    save(workspace.root, Baseline.of([("mod.py", "F401", "import os")]))
    turn = await quality.lint(key)
    assert rules(editor.shown[key]) == [(3, "F401"), (7, "F841")]
    assert [d.reason for d in turn.dropped] == ["in the baseline"]


async def test_the_all_scope_keeps_everything(workspace: Workspace) -> None:
    workspace.write("mod.py", BASE)
    workspace.commit("legacy")
    quality, editor = pipeline(workspace, scope="all")
    key = editor.open_file(workspace.root / "mod.py", EDITED)
    turn = await quality.lint(key)
    assert rules(editor.shown[key]) == [(1, "F401"), (2, "F401"), (6, "F841")]
    assert turn.dropped == []


def untrusted_editor(workspace: Workspace) -> MemoryEditor:
    """An editor on the workspace, untrusted (fixes judged without tests), ruff's F rules."""
    settings = QualityConfig(
        root=workspace.root,
        ruff=RuffOptions(select=("F",)),
        validation=Validation(None, "workspace not trusted"),
    )
    return MemoryEditor(lambda: settings)


async def test_fixes_are_judged_once_typing_pauses(workspace: Workspace) -> None:
    editor = untrusted_editor(workspace)
    typing = Typing(pause_s=0.05)
    quality = QualityPipeline(editor, lambda: None, asyncio.to_thread, typing=typing)
    key = editor.open_file(workspace.write("mod.py", SOURCE))
    typing.began()  # a completion is being answered: the developer is typing

    await quality.lint(key)

    # the findings are shown at once; their fixes wait for the pause
    assert rules(editor.shown[key]) == [(1, "F401"), (5, "F841")]
    state = quality.documents[key]
    await asyncio.sleep(0.5)
    assert state.turns == {} and not state.judged.is_set()
    typing.ended()
    await asyncio.wait_for(state.judged.wait(), 60)
    assert sorted(f.rule for f in (o.finding for o in state.offers.values())) == ["F401", "F841"]
    assert typing.waited >= 1 and typing.interrupted == 0


async def test_typing_interrupts_a_fixs_judging_which_is_done_again_after_the_pause(
    workspace: Workspace,
) -> None:
    editor = untrusted_editor(workspace)
    typing = Typing(pause_s=0.05)
    judged: list[str] = []

    async def run_blocking(fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        if getattr(fn, "__name__", "") == "turn":
            judged.append(args[0].finding.rule)
            if len(judged) == 1:
                typing.heard()  # the developer types as the first finding's judging starts
        return await asyncio.to_thread(fn, *args, **kwargs)

    quality = QualityPipeline(editor, lambda: None, run_blocking, typing=typing)
    key = editor.open_file(workspace.write("mod.py", SOURCE))

    await quality.lint(key)
    state = quality.documents[key]
    await asyncio.wait_for(state.judged.wait(), 60)

    # the first judging stopped before proposing anything, and was done again after the pause
    assert judged == ["F401", "F401", "F841"]
    assert typing.interrupted == 1
    assert sorted(o.finding.rule for o in state.offers.values()) == ["F401", "F841"]
    assert all(o.fix is not None for o in state.offers.values())


async def test_a_request_left_unanswered_holds_background_work_back_only_so_long() -> None:
    typing = Typing(pause_s=0.05, pending_max_s=0.3)
    typing.began()  # and never ended
    assert typing.typing
    waiting = asyncio.ensure_future(typing.pause())
    await asyncio.sleep(0.15)
    assert not waiting.done()
    await asyncio.wait_for(waiting, 5)
    assert not typing.typing
    typing.ended()
    typing.heard()
    assert typing.typing


async def test_a_lint_lets_a_next_edit_request_being_answered_go_first(
    workspace: Workspace,
) -> None:
    editor = untrusted_editor(workspace)
    typing = Typing()
    quality = QualityPipeline(editor, lambda: None, asyncio.to_thread, typing=typing)
    key = editor.open_file(workspace.write("mod.py", SOURCE))
    typing.began(foreground=True)  # a next-edit request is being answered

    linting = asyncio.ensure_future(quality.lint(key))
    await asyncio.sleep(0.4)
    assert not linting.done() and key not in editor.shown

    typing.ended(foreground=True)
    turn = await asyncio.wait_for(linting, 60)
    assert turn.outcome is Outcome.SHOWN
    assert rules(editor.shown[key]) == [(1, "F401"), (5, "F841")]


async def test_typing_moves_the_waiting_lint_instead_of_starting_one_per_keystroke(
    workspace: Workspace,
) -> None:
    quality, editor = pipeline(workspace)
    key = editor.open_file(workspace.write("mod.py", SOURCE))
    for n in range(1, 31):
        editor.edit(key, SOURCE + "import sys\n" * (n % 2))
        quality.schedule(editor.document(key), delay=0.2)
    # One task waits for the pause; each keystroke moved its start.
    assert len(editor.tasks) == 1
    await editor.settle()
    # It linted the text as it was after the last keystroke.
    assert quality.documents[key].version == 31
    assert rules(editor.shown[key]) == [(1, "F401"), (5, "F841")]

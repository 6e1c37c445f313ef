"""The review pipeline: a document's review comments, read top to bottom in ``review_document``.

Boundary: plain Python between the server, which turns the editor's documents into snapshots and
the comments shown into diagnostics, and the domain parts each step calls: git (the diff against
``review.base``), the commenters (``tactful.suggestion.review``: rules, ruff, the model), the
review memory and the feedback loop's item model. The editor side is reached only through an
``Editor`` (its open documents, showing comments, progress, background tasks), so every step
runs, and is tested, without a language server. Blocking work (git, the commenters, the line
diff that resolves comments) goes through ``run_blocking``, never on the event loop.

The steps of one document's review, each written into its ``ReviewTurn``:

1. **perceive** the change: the working tree's diff against ``review.base``
   (``tactful.feedback.changes``, kept a while and shared with quality) and the editor's text
   against it (``turn.change``); no change, nothing to say;
2. **propose**: rules and ruff on the changed lines (ruff's findings only where the editor's
   quality findings do not show them already) and, on save, the model under progress;
   otherwise the model's last comments are carried to where their line now is
   (``turn.carried``); under ``quality.scope = "baseline"`` what the baseline records is left
   out; the commenters rank and cap the rest with the review memory (``turn.proposals``);
3. **clean up**: whatever produced it, a comment that is not on a changed line is dropped
   (``turn.dropped``);
4. **judge**: the item model of the feedback loop ranks what is left, most likely useful first,
   and hides some (``turn.judged``);
5. **speak**: the editor shows them (``turn.shown``); each is recorded once as shown, and the
   comments of the previous review whose line the developer has since edited away are learned
   as resolved, in the background.

Scheduling: a document is reviewed on open, after edits (debounced, rules and ruff) and on save
(with the model). In a trusted workspace with ``review.runTests`` on, a save also runs, in the
background and debounced, the tests that cover the functions changed since the base, on the
workspace as saved (``run_tests``; a newer save pre-empts the run): each test the change breaks
becomes a comment on the changed line blamed for it (``feedback/review/broken_tests.py``),
carried like the model's to where its line now is until a later run passes or the line is no
longer changed. A model review in flight is not cancelled by an edit's debounced pass: that
pass follows it. A result for a version that is no longer current, or overtaken by a newer
review of the document, is dropped (``stale``, ``cancelled``).

Dismissing a comment hides it for good, records it, teaches the ranker and re-ranks what is on
screen (``dismiss``, ``rerank``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tactful.analyzers.diff import ChangeStatus, Diff, FileChange, change_for_text
from tactful.analyzers.languages import language_of_path
from tactful.feedback import events as ev
from tactful.feedback.acceptance.items import Item
from tactful.feedback.changes import (
    Changes,
    DocumentPipeline,
    OpenDocuments,
    RunBlocking,
    relative_to,
)
from tactful.feedback.execution.verdict import ChangeCheck, Status
from tactful.feedback.pause import Typing
from tactful.feedback.review.broken_tests import ChangedFile, broken_test_comments, changed_file
from tactful.feedback.review.coverage import load_coverage
from tactful.feedback.review.memory import comment_detail, dismissal, load_memory, resolved_comments
from tactful.feedback.turn import Dropped, Judged, Outcome, Proposal, Turn
from tactful.suggestion.review import Comment, Memory, Progress, ReviewOptions, review_diff
from tactful.suggestion.review.comments import ORIGIN_LLM, normalize_line
from tactful.suggestion.review.llm import LlmReviewConfig

if TYPE_CHECKING:
    from tactful.feedback.loop import FeedbackLoop

logger = logging.getLogger(__name__)

DEBOUNCE_S = 0.5
PYTHON = "python"
PYTHON_SUFFIXES = (".py", ".pyw")

Report = Callable[[str | None, int | None], None]


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    """The settings a review follows, resolved by the server.

    ``enabled``: ``review.enabled`` and a workspace folder to review (``root``); ``base`` is
    ``review.base``; ``llm`` the model when ``review.llm`` allows one; ``ruff_select`` is
    ``quality.select``; ``quality_shows_ruff`` says that the editor's quality findings show
    ruff's findings on open Python documents (``quality.enabled``): review then leaves them
    out there, so a finding shows once; ``scope`` is ``quality.scope`` (under ``baseline``,
    what the baseline records is left out); ``store`` the feedback store file read when the
    server has no feedback loop yet, and ``team`` the team store's URL (``feedback.team``);
    ``tests`` gives the workspace's sandbox when the tests of a saved change may run
    (``review.runTests``, validation on, the workspace trusted), else None."""

    enabled: bool = True
    root: Path | None = None
    base: str = "HEAD"
    llm: LlmReviewConfig | None = None
    ruff_select: tuple[str, ...] | None = None
    quality_shows_ruff: bool = False
    scope: str = "changed"
    store: Path | None = None
    team: str | None = None
    tests: Callable[[], ChangeTests] | None = None


class ChangeTests(Protocol):
    """Runs the tests of what changed since a base in the sandbox (``Sandbox``)."""

    def check_changes(self, base: Mapping[str, str | None]) -> Coroutine[Any, Any, ChangeCheck]: ...


class Editor(OpenDocuments, Protocol):
    """What the review pipeline needs of the editor's side (the server implements it)."""

    def config(self) -> ReviewConfig:
        """The settings in force now."""
        ...

    def key_of(self, path: Path) -> str:
        """The name the editor would give the file at ``path`` (its URI)."""
        ...

    def show(self, key: str, comments: Sequence[Comment], text: str, version: int | None) -> bool:
        """Show ``comments`` (made on ``text``) on the document, replacing the ones shown;
        False when the document has moved past ``version`` (nothing shown)."""
        ...

    def keep(self, key: str, ids: Sequence[str]) -> bool:
        """Show only these of the comments shown on the document, in this order."""
        ...

    def progress(self, title: str) -> AbstractAsyncContextManager[Report]:
        """Long work the developer sees while it runs (the model's review, the tests)."""
        ...


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """Review one document: ``key`` names it, ``text`` at ``version`` is what is reviewed
    (``version`` None for a file read from disk), ``with_llm`` asks the model too."""

    key: str
    text: str
    version: int | None
    with_llm: bool = False


@dataclass(slots=True, eq=False)
class ReviewTurn(Turn[ReviewRequest, Comment]):
    """One document's review: ``change`` is its change against the base, ``carried`` the
    model's earlier comments moved to where their line now is, ``shown`` what the editor got."""

    change: FileChange | None = None
    carried: list[Comment] = field(default_factory=list)
    shown: list[Comment] = field(default_factory=list)


def comment_item(comment: Comment) -> Item:
    """A review comment as the feedback loop's item model sees it."""
    return Item(
        kind="comment",
        rule=comment.rule,
        source=comment.origin,
        language=language_of_path(comment.path) or "",
        severity=comment.severity.value,
    )


class ReviewPipeline(DocumentPipeline[Editor]):
    """The review state of one server: the diff, each document's comments, what was learned (a
    document's background task is its review)."""

    def __init__(
        self,
        editor: Editor,
        feedback: Callable[[], FeedbackLoop | None],
        run_blocking: RunBlocking,
        changes: Changes | None = None,
        typing: Typing | None = None,
    ) -> None:
        # The working tree's diff is shared with quality's ``changed`` scope.
        super().__init__(editor, feedback, run_blocking, changes, typing)
        self.shown: dict[str, dict[str, Comment]] = {}  # key -> id -> comment, in shown order
        self.llm_comments: dict[str, list[Comment]] = {}  # key -> the model's last comments
        # The text each document's shown comments were made on, to tell later which of their
        # lines the developer edited.
        self.reviewed_text: dict[str, str] = {}
        self.memory = Memory()
        self._memory_loaded = False
        self._recorded_shown: set[str] = set()
        self._generation: dict[str, int] = {}
        self._asks_llm: dict[str, bool] = {}  # whether the review in flight asks the model
        self._pending: dict[str, bool] = {}  # an edit came during a model review
        # The tests the saved change breaks, as comments by path (relative to the repository),
        # from the last run of the tests that finished.
        self.test_comments: dict[str, list[Comment]] = {}
        self.tests_task: asyncio.Task[Any] | None = None
        self._warned: set[str] = set()

    @property
    def diff(self) -> Diff | None:
        """The working tree's diff last computed."""
        return self.changes.diff

    @property
    def problem(self) -> str | None:
        """Why there is no diff, when git could not compute one."""
        return self.changes.problem

    # -- scheduling -------------------------------------------------------------------------

    def schedule(self, key: str, delay: float = DEBOUNCE_S, with_llm: bool = False) -> None:
        """Review the document ``key`` after ``delay``, replacing the review waiting for it."""
        previous = self._tasks.get(key)
        in_flight = previous is not None and not previous.done()
        if in_flight and not with_llm and self._asks_llm.get(key, False):
            # A model review in flight is worth more than a debounced rules pass: let it finish
            # unless this one asks for the model too (its own rules pass follows it).
            self._pending[key] = True
            return
        generation = self._next_generation(key)
        self._asks_llm[key] = with_llm
        # One waiting review per document, whose start each keystroke moves (and whose work,
        # of the newest generation, each keystroke replaces): not a task made and cancelled
        # on the event loop per keystroke.
        self._run_after(
            key,
            delay,
            functools.partial(self._review_when_free, key, generation, bool(delay), with_llm),
            "review comments",
        )

    async def _review_when_free(
        self, key: str, generation: int, waited: bool, with_llm: bool
    ) -> None:
        if waited:
            # A review after edits waits for the developer to pause: its rules are pure Python
            # over the change, which a completion or next edit would wait behind.
            await self.typing.pause()
        else:
            # One at once (a document opened) still lets a next-edit request being answered
            # go first.
            await self.typing.foreground.given_way()
        await self._review_document(key, generation, with_llm)
        if with_llm and self._pending.pop(key, False) and self.editor.document(key) is not None:
            self._asks_llm[key] = False
            self.schedule(key, delay=0)

    def run_tests(self, delay: float = DEBOUNCE_S) -> None:
        """After a save: run the tests of what changed since the base after ``delay``, in the
        background, replacing the run waiting or going on. Nothing runs unless the settings and
        the workspace's trust allow it (``ReviewConfig.tests``)."""
        if self.editor.config().tests is None:
            return
        if self.tests_task is not None and not self.tests_task.done():
            self.tests_task.cancel()  # the newer save pre-empts it: its results would be stale
        self.tests_task = self.editor.spawn(self._run_tests(delay), "testing the change")

    async def _run_tests(self, delay: float) -> None:
        await asyncio.sleep(delay)
        config = self.editor.config()
        if config.tests is None or config.root is None:
            return
        diff = await self._refresh_diff(config, force=True)
        if diff is None:
            return
        files, base = await self.run_blocking(_changed_python, diff, config.root)
        if not files:
            self._show_test_comments([])
            return
        sandbox = config.tests()
        async with self.editor.progress("Running the tests of the changed functions") as report:
            report(f"{len(files)} changed file{'s' if len(files) != 1 else ''}", None)
            check = await sandbox.check_changes(base)
        verdict = check.verdict
        if verdict.status in (Status.ERROR, Status.TIMEOUT, Status.NOT_VALIDATED):
            # nothing new is known of the change: what was shown stays while its line does
            self._warn_once(f"tactful: the tests of the changed functions: {verdict.summary()}")
            return
        self._show_test_comments(await self.run_blocking(broken_test_comments, check, files))

    def _show_test_comments(self, comments: list[Comment]) -> None:
        """Replace the comments of broken tests, and review again the open documents whose
        comments of broken tests changed."""
        by_path: dict[str, list[Comment]] = {}
        for comment in comments:
            by_path.setdefault(comment.path, []).append(comment)
        if by_path == self.test_comments:
            return
        touched = set(by_path) | set(self.test_comments)
        self.test_comments = by_path
        diff = self.diff
        for document in self.editor.documents():
            if relative_to(diff, document.path) in touched:
                self.schedule(document.uri, delay=0)

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            logger.warning("%s", message)
            self.editor.warn(message)

    def forget(self, key: str) -> None:
        """The document was closed: its review stops and what was shown on it is forgotten."""
        self._stop(key)
        self._next_generation(key)
        self.shown.pop(key, None)
        self.reviewed_text.pop(key, None)
        self.llm_comments.pop(key, None)
        self._pending.pop(key, None)
        self._asks_llm.pop(key, None)

    def settings_changed(self) -> None:
        """Review every open document again (the base may have changed); with tests no longer
        allowed to run, what they said goes."""
        self.changes.forget()
        if self.editor.config().tests is None:
            if self.tests_task is not None:
                self.tests_task.cancel()
            self.test_comments = {}
        for document in self.editor.documents():
            self.schedule(document.uri, delay=0)

    def _next_generation(self, key: str) -> int:
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation
        return generation

    def _current(self, key: str, generation: int) -> bool:
        return self._generation.get(key) == generation

    # -- one document -----------------------------------------------------------------------

    async def review_document(self, key: str, with_llm: bool = False) -> ReviewTurn:
        """Review one open document as the editor has it now, taking over from any review of
        it in flight; ``with_llm`` asks the model too."""
        return await self._review_document(key, self._next_generation(key), with_llm)

    async def _review_document(self, key: str, generation: int, with_llm: bool) -> ReviewTurn:
        document = self.editor.document(key)
        if document is None:
            return ReviewTurn(ReviewRequest(key, "", None, with_llm)).end(Outcome.CANCELLED)
        turn = ReviewTurn(ReviewRequest(key, document.text, document.version, with_llm))
        config = self.editor.config()
        if not config.enabled or document.path is None:
            return self._silent(turn)
        # 1. perceive: the change of this document against the base.
        await self._load_memory(config)
        diff = await self._refresh_diff(config)
        relative = relative_to(diff, document.path)
        if diff is None or relative is None:
            return self._silent(turn)
        turn.change = await self.run_blocking(change_for_text, diff, relative, document.text)
        if turn.change is None:
            return self._silent(turn)
        # 2. propose.
        ruff = not (config.quality_shows_ruff and document.language_id == PYTHON)
        await self._propose(turn, diff, config, ruff, lambda: not self._current(key, generation))
        now = self.editor.document(key)
        if not self._current(key, generation) or now is None or now.version != document.version:
            # Overtaken by an edit or a newer review: its own result will come.
            return turn.end(Outcome.STALE)
        # 3. clean up, 4. judge, 5. speak.
        self._clean_up(turn)
        self._judge(turn)
        return self._speak(turn)

    async def review_all(self) -> tuple[int, list[ReviewTurn]]:
        """Every changed file, open ones as the editor has them: the number of files reviewed
        and each one's turn (``tactful.reviewChanges``)."""
        config = self.editor.config()
        if not config.enabled:
            return 0, []
        await self._load_memory(config)
        diff = await self._refresh_diff(config, force=True)
        if diff is None:
            if self.problem:
                self.editor.warn(f"tactful review: {self.problem}")
            return 0, []
        open_by_path = {
            relative_to(diff, d.path): d for d in self.editor.documents() if d.path is not None
        }
        # Files the editor does not have open: no quality findings show there, so review
        # gives ruff's on their changed lines.
        targets: list[tuple[ReviewRequest, FileChange, bool]] = []
        for change in diff.files:
            if change.path not in open_by_path:
                key = self.editor.key_of(diff.root / change.path)
                targets.append((ReviewRequest(key, change.text, None, True), change, True))
        for path, document in open_by_path.items():
            if path is None:
                continue
            found = await self.run_blocking(change_for_text, diff, path, document.text)
            request = ReviewRequest(document.uri, document.text, document.version, True)
            if found is None:
                self._silent(ReviewTurn(request))
                continue
            ruff = not (config.quality_shows_ruff and document.language_id == PYTHON)
            targets.append((request, found, ruff))
        turns = []
        for request, change, ruff in targets:
            generation = self._next_generation(request.key)
            turn = ReviewTurn(request, change=change)
            await self._propose(turn, diff, config, ruff, lambda: False)
            if self._current(request.key, generation):
                self._clean_up(turn)
                self._judge(turn)
                turns.append(self._speak(turn))
        return len(targets), turns

    # -- the steps ------------------------------------------------------------------------

    async def _propose(
        self,
        turn: ReviewTurn,
        diff: Diff,
        config: ReviewConfig,
        ruff: bool,
        cancelled: Callable[[], bool],
    ) -> None:
        assert turn.change is not None
        files = [turn.change]
        llm = config.llm if turn.request.with_llm else None
        baseline = None
        if config.scope == "baseline":
            baseline = await self.changes.baseline(diff.root)
        options = ReviewOptions(
            ruff=ruff, ruff_select=config.ruff_select, llm=llm, reviewers=False, baseline=baseline
        )
        started = time.monotonic()
        coverage = await self.run_blocking(
            load_coverage, diff.root, {change.path: change.text for change in files}
        )
        run = functools.partial(
            review_diff, diff, options, files=files, memory=self.memory, coverage=coverage
        )
        tests = [
            comment
            for change in files
            for comment in _carried(change, self.test_comments.get(change.path, []))
        ]
        if llm is None:
            turn.carried = self._carried_llm_comments(diff, files)
            # The rules stop between their steps once the review is overtaken (an edit of the
            # document: its own review follows), instead of holding the interpreter to the end.
            review = await self.run_blocking(
                run, extra=[*turn.carried, *tests], cancelled=cancelled
            )
        else:
            loop = asyncio.get_running_loop()
            async with self.editor.progress("Reviewing changes") as report:

                def on_progress(step: Progress) -> None:
                    loop.call_soon_threadsafe(report, step.message, step.percentage)

                review = await self.run_blocking(
                    run, on_progress=on_progress, cancelled=cancelled, extra=tests
                )
            for note in review.notes:
                logger.info("review: %s", note)
        asked = (("rules", True), ("ruff", ruff), ("model", llm), ("tests", tests))
        source = ", ".join(name for name, used in asked if used)
        elapsed = round((time.monotonic() - started) * 1000, 3)
        turn.proposals.append(Proposal(source, review.comments, elapsed))

    def _clean_up(self, turn: ReviewTurn) -> None:
        """Never show what is not on a changed line, whatever produced it."""
        assert turn.change is not None
        change = turn.change
        proposed = [comment for proposal in turn.proposals for comment in proposal.items]
        kept = []
        for comment in proposed:
            if not change.is_changed(comment.line):
                turn.dropped.append(Dropped(comment, "not on a changed line"))
            else:
                kept.append(comment)
        turn.judged = [Judged(comment) for comment in kept]

    def _judge(self, turn: ReviewTurn) -> None:
        """The item model's ranking: most likely useful first (reading order among equals), the
        ones it hides kept out; every comment, in reading order, when there is no loop."""
        loop = self.feedback()
        if loop is None or not turn.judged:
            return
        workspace = self.workspace_key()
        judged = [
            Judged(j.item, loop.judge_item(workspace, j.item.id, comment_item(j.item)))
            for j in turn.judged
        ]
        judged.sort(key=lambda j: -j.decision.probability if j.decision is not None else 0.0)
        turn.judged = judged

    def _speak(self, turn: ReviewTurn) -> ReviewTurn:
        assert turn.change is not None
        request = turn.request
        comments = [judged.item for judged in turn.kept]
        if request.with_llm:
            self.llm_comments[request.key] = [c for c in comments if c.origin == ORIGIN_LLM]
        before = self.reviewed_text.get(request.key)
        if not self.editor.show(request.key, comments, request.text, request.version):
            return turn.end(Outcome.STALE)
        turn.shown = comments
        previous = self.shown.get(request.key, {})
        self.shown[request.key] = {c.id: c for c in comments}
        self.reviewed_text[request.key] = request.text
        self._record_shown(comments, turn.change.path)
        edited = before is not None and before != request.text
        if edited and request.version is not None and previous:
            assert before is not None
            # What the new review still says on the lines that replaced the old ones, before
            # the item model hid any of it.
            produced = [j.item for j in turn.judged]
            self.editor.spawn(
                self._resolve(before, request.text, previous, produced), "resolved comments"
            )
        return turn.end(Outcome.SHOWN if comments else turn.ended_empty())

    def _silent(self, turn: ReviewTurn) -> ReviewTurn:
        """Nothing to say on this document: what was shown on it goes."""
        request = turn.request
        self.editor.show(request.key, [], request.text, request.version)
        return turn.end(Outcome.SILENT)

    def _carried_llm_comments(self, diff: Diff, files: list[FileChange]) -> list[Comment]:
        """The model's last comments on these files, moved to where their line now is (the same
        code on a changed line) and dropped when that line is gone or no longer changed."""
        carried: list[Comment] = []
        keys = {relative_to(diff, d.path): d.uri for d in self.editor.documents()}
        for change in files:
            key = keys.get(change.path)
            carried.extend(_carried(change, self.llm_comments.get(key, []) if key else []))
        return carried

    async def _resolve(
        self, before: str, after: str, previous: dict[str, Comment], produced: list[Comment]
    ) -> None:
        """Learn from the shown comments whose line the developer edited away (see
        ``resolved_comments``); only documents the editor has open get here, never a file read
        from disk. The line diff runs off the event loop (about 10 ms for a 10,000-line file)."""
        if self.feedback() is None:
            return
        found = await self.run_blocking(
            resolved_comments, before, after, list(previous.values()), produced
        )
        loop = self.feedback()
        if loop is None:
            return
        for comment_id in found:
            if loop.comment_resolved(comment_id):
                logger.debug("review comment %s resolved by an edit", comment_id)

    # -- what the developer does with comments ----------------------------------------------

    def rerank(self) -> None:
        """Order (and hide) what is on screen again after the item model learned something."""
        loop = self.feedback()
        if loop is None:
            return
        workspace = self.workspace_key()
        for key, by_id in list(self.shown.items()):
            if not by_id:
                continue
            ranked = loop.rank_items(workspace, [(i, comment_item(c)) for i, c in by_id.items()])
            ids = [item_id for item_id, _decision in ranked]
            if ids == list(by_id):
                continue
            if self.editor.keep(key, ids):
                self.shown[key] = {item_id: by_id[item_id] for item_id in ids}

    def dismiss(self, comment_id: str) -> bool:
        """Hide a comment for good, record it, and teach the ranker; False for an unknown id."""
        found = next(
            ((key, by_id[comment_id]) for key, by_id in self.shown.items() if comment_id in by_id),
            None,
        )
        rule = found[1].rule if found else ""
        source = found[1].origin if found else ""
        loop = self.feedback()
        if loop is None or not loop.comment_dismissed(comment_id):
            self._record(dismissal(comment_id, self.workspace_key(), rule, source))
        self.memory = self.memory.with_dismissal(comment_id, rule)
        if found is None:
            return False
        key = found[0]
        self.shown[key].pop(comment_id, None)
        for comments in self.llm_comments.values():
            comments[:] = [c for c in comments if c.id != comment_id]
        self.editor.keep(key, list(self.shown[key]))
        # The dismissal taught the model: the rule's other comments may now rank lower or hide.
        self.rerank()
        return True

    # -- memory and the diff ----------------------------------------------------------------

    def workspace_key(self) -> str:
        """The workspace's root folder, as the feedback store keys what it learned."""
        root = self.diff.root if self.diff is not None else self.editor.config().root
        return str(Path(str(root)).resolve()) if root is not None else ""

    def _record(self, event: ev.Event) -> None:
        loop = self.feedback()
        if loop is None:
            logger.debug("no feedback store yet: %s for %s not recorded", event.kind, event.item_id)
            return
        loop.store.record(event)

    def _record_shown(self, comments: list[Comment], path: str) -> None:
        fresh = [c for c in comments if c.id not in self._recorded_shown]
        if not fresh:
            return
        self._recorded_shown.update(c.id for c in fresh)
        loop = self.feedback()
        language = language_of_path(path) or ""
        for comment in fresh:
            if loop is not None and loop.item_shown(comment.id):
                continue
            self._record(
                ev.Event(
                    ev.COMMENT_SHOWN,
                    item_id=comment.id,
                    language=language,
                    workspace=self.workspace_key(),
                    detail=comment_detail(comment, language),
                )
            )

    async def _load_memory(self, config: ReviewConfig) -> None:
        if self._memory_loaded:
            return
        self._memory_loaded = True
        await self._refresh_diff(config)
        loop = self.feedback()
        store = loop.store if loop is not None else config.store
        if store is not None:
            self.memory = await self.run_blocking(load_memory, store, self.workspace_key())
        if config.team:
            from tactful.feedback.team.memory import merged, team_memory

            shared = await self.run_blocking(team_memory, config.team, self.workspace_key())
            self.memory = merged(self.memory, shared)

    async def _refresh_diff(self, config: ReviewConfig, force: bool = False) -> Diff | None:
        if config.root is None:
            return None
        return await self.changes.diff_of(config.root, config.base, force=force)


def _carried(change: FileChange, previous: Sequence[Comment]) -> list[Comment]:
    """Comments made on an earlier text of the file, moved to where their line now is (the
    same code on a changed line, the nearest one), and dropped when that line is gone or no
    longer changed."""
    if not previous:
        return []
    positions: dict[str, list[int]] = {}
    for line in sorted(change.changed_lines):
        if line < len(change.lines):
            positions.setdefault(normalize_line(change.lines[line]), []).append(line)
    carried: list[Comment] = []
    for comment in previous:
        lines = positions.get(normalize_line(comment.line_text))
        if not lines:
            continue
        line = min(lines, key=lambda n: abs(n - comment.line))
        shift = line - comment.line
        carried.append(
            replace(
                comment,
                span=replace(
                    comment.span,
                    start=replace(comment.span.start, line=line),
                    end=replace(comment.span.end, line=comment.span.end.line + shift),
                ),
            )
        )
    return carried


def _changed_python(diff: Diff, root: Path) -> tuple[list[ChangedFile], dict[str, str | None]]:
    """The Python files changed in ``diff`` inside the workspace folder ``root``, as blame
    sees them, and the text each had at the base (None: new since), by path in the folder."""
    folder = Path(root).resolve()
    files: list[ChangedFile] = []
    base: dict[str, str | None] = {}
    for change in diff.files:
        if not change.path.endswith(PYTHON_SUFFIXES):
            continue
        try:
            path = (diff.root / change.path).resolve().relative_to(folder).as_posix()
        except ValueError:
            continue  # outside the folder the tests run in
        base[path] = None if change.status is ChangeStatus.ADDED else change.old_text
        files.append(changed_file(change, path))
    return files, base

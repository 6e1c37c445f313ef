"""What is new: the working tree's diff against ``review.base``, and the baseline ``tactful
baseline`` recorded, each read off the event loop and kept, shared by review and quality; and
what else those two pipelines share (``DocumentPipeline``): the editor's open documents, the
feedback loop, the executor, one background task per document.

Boundary: asks ``analyzers.diff`` (git) and ``analyzers.baseline`` (one JSON file) through
``run_blocking`` and keeps their answers; decides nothing about comments or findings. A
question git cannot answer (no repository, an unknown base) is kept as ``problem``, an
unreadable baseline as ``baseline_problem``: sentences for people, logged once, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar

from tactful.analyzers import baseline as baselines
from tactful.analyzers.baseline import Baseline, BaselineError
from tactful.analyzers.diff import (
    Diff,
    DiffError,
    FileChange,
    change_for_text,
    open_repository,
    working_tree_diff,
)
from tactful.feedback.pause import Typing

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from tactful.analyzers.document import Snapshot
    from tactful.feedback.loop import FeedbackLoop

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)

# The diff of the whole working tree is recomputed when older than this (commits, checkouts
# and files changed outside the editor show up without a save).
DIFF_MAX_AGE_S = 15.0


class RunBlocking(Protocol):
    """Runs a blocking function off the event loop and awaits it (``server/executor.py``)."""

    def __call__(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, T]: ...


class OpenDocuments(Protocol):
    """What a pipeline over the open documents needs of the editor's side, whatever it shows
    there (the server implements it)."""

    def document(self, key: str) -> Snapshot | None:
        """The open document named ``key`` (its URI) as the editor has it now; None once closed."""
        ...

    def documents(self) -> list[Snapshot]:
        """Every open document."""
        ...

    def warn(self, message: str) -> None:
        """Tell the developer something went wrong, or is not as the settings ask."""
        ...

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``work`` in the background; its failure is reported, never lost."""
        ...


E = TypeVar("E", bound=OpenDocuments)


class DocumentPipeline(Generic[E]):
    """What the review and quality pipelines are given: the editor's side (``editor``), the
    feedback loop (``feedback()``: None until the server has one), the executor for blocking
    work, and the working tree's changes, shared between them; and the one background task of
    each document (its review or lint), which a newer one replaces; and ``typing``, when the
    developer pauses, which work that competes with typing for the interpreter waits for (by
    default one that never hears anything, so nothing waits)."""

    def __init__(
        self,
        editor: E,
        feedback: Callable[[], FeedbackLoop | None],
        run_blocking: RunBlocking,
        changes: Changes | None = None,
        typing: Typing | None = None,
    ) -> None:
        self.editor = editor
        self.feedback = feedback
        self.run_blocking = run_blocking
        self.changes = changes if changes is not None else Changes(run_blocking)
        self.typing = typing if typing is not None else Typing()
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        # The document's task while it waits out its delay (``_run_after``).
        self._waiting: dict[str, _Waiting] = {}

    def _run(self, key: str, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``work`` as the document's background task, cancelling the one before."""
        self._stop(key)
        self._tasks[key] = self.editor.spawn(work, name)

    def _run_after(
        self, key: str, delay: float, work: Callable[[], Awaitable[Any]], name: str
    ) -> None:
        """Run ``work()`` as the document's background task once ``delay`` has passed,
        cancelling the one before; a call while that task still waits moves its start and
        gives it this ``work`` instead. Typing reschedules per keystroke: a new task each
        time (made, started, cancelled, on the event loop) cost about as much as applying
        the keystroke's edit."""
        waiting = self._waiting.get(key)
        task = self._tasks.get(key)
        start = time.monotonic() + delay
        if waiting is not None and task is not None and not task.done():
            waiting.start = start
            waiting.work = work
            return
        self._stop(key)
        waiting = _Waiting(start, work)
        self._waiting[key] = waiting
        self._tasks[key] = self.editor.spawn(self._when_due(key, waiting), name)

    async def _when_due(self, key: str, waiting: _Waiting) -> Any:
        while (left := waiting.start - time.monotonic()) > 0:
            await asyncio.sleep(left)
        if self._waiting.get(key) is waiting:
            del self._waiting[key]
        return await waiting.work()

    def _stop(self, key: str) -> None:
        """Cancel the document's background task, if any."""
        self._waiting.pop(key, None)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()


class _Waiting:
    """A document's task waiting to start its work: when, and what."""

    __slots__ = ("start", "work")

    def __init__(self, start: float, work: Callable[[], Awaitable[Any]]) -> None:
        self.start = start
        self.work = work


class Changes:
    """The working tree's changes against a base, refreshed when older than ``max_age_s`` or
    asked about another root or base."""

    def __init__(self, run_blocking: RunBlocking, max_age_s: float = DIFF_MAX_AGE_S) -> None:
        self.run_blocking = run_blocking
        self.max_age_s = max_age_s
        self.diff: Diff | None = None
        self.problem: str | None = None
        self._asked: tuple[Path, str] | None = None
        self._time = 0.0
        self._lock = asyncio.Lock()
        self.baseline_problem: str | None = None
        self._baselines: dict[Path, tuple[float | None, Baseline | None]] = {}
        self._roots: dict[Path, Path] = {}

    def forget(self) -> None:
        """Compute the diff again when next asked (the base, or the repository, changed)."""
        self._time = 0.0

    async def diff_of(self, root: Path, base: str, force: bool = False) -> Diff | None:
        """The diff of the working tree at ``root`` against ``base``; None when git cannot say
        (``problem`` then says why)."""
        async with self._lock:
            fresh = time.monotonic() - self._time < self.max_age_s
            if not force and fresh and self._asked == (root, base):
                return self.diff
            try:
                self.diff = await self.run_blocking(working_tree_diff, root, base)
                self.problem = None
            except DiffError as exc:
                self.diff = None
                if self.problem != str(exc):
                    self.problem = str(exc)
                    logger.warning("no diff against %s: %s", base, exc)
            self._asked = (root, base)
            self._time = time.monotonic()
            return self.diff

    async def change_of(self, diff: Diff, path: str, text: str) -> FileChange | None:
        """The change of the file at ``path`` (absolute) whose text is now ``text``; None when
        it lies outside the repository, equals the base, or is a file the diff skips."""
        relative = relative_to(diff, path)
        if relative is None:
            return None
        return await self.run_blocking(change_for_text, diff, relative, text)

    async def project_root(self, folder: Path) -> Path:
        """The root of the git repository holding ``folder``, or ``folder`` itself outside
        git: where ``tactful baseline`` keeps the project's baseline."""
        known = self._roots.get(folder)
        if known is None:
            known = self._roots[folder] = await self.run_blocking(project_root, folder)
        return known

    async def baseline(self, root: Path) -> Baseline | None:
        """The baseline recorded for the project at ``root``; None when there is none or it
        cannot be read (``baseline_problem`` then says why). Read again when the file changes."""
        known = self._baselines.get(root)
        stamp, found, problem = await self.run_blocking(
            _read_baseline, root, known[0] if known else None
        )
        if known is not None and stamp == known[0]:
            return known[1]
        self._baselines[root] = (stamp, found)
        if problem != self.baseline_problem and problem is not None:
            logger.warning("%s", problem)
        self.baseline_problem = problem
        return found


def project_root(folder: str | Path) -> Path:
    """The root of the git repository holding ``folder``, or ``folder`` itself outside git."""
    try:
        repo = open_repository(folder)
    except DiffError:
        return Path(folder).resolve()
    try:
        return Path(str(repo.working_tree_dir)).resolve()
    finally:
        repo.close()


def _read_baseline(
    root: Path, known_stamp: float | None
) -> tuple[float | None, Baseline | None, str | None]:
    """The baseline file's modification time, and (unless that is ``known_stamp``) its
    baseline or why it cannot be read."""
    try:
        stamp: float | None = baselines.baseline_path(root).stat().st_mtime
    except OSError:
        stamp = None
    if stamp is not None and stamp == known_stamp:
        return stamp, None, None
    try:
        return stamp, baselines.load(root), None
    except BaselineError as exc:
        return stamp, None, f"the baseline is not used: {exc}"


def relative_to(diff: Diff | None, path: str | None) -> str | None:
    """``path`` (absolute) inside the repository of ``diff``, or None."""
    if diff is None or path is None:
        return None
    try:
        return Path(path).resolve().relative_to(diff.root).as_posix()
    except ValueError:
        return None

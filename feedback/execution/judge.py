"""The execution judge: a workspace's own tests, run on a sandboxed copy with an edit applied.

Boundary: the one entry point of execution feedback. ``Sandbox.validate`` takes edits (or a
unified diff) and returns a ``Verdict``; it never raises on broken user code, a diff that does
not apply or a test command that does not start: those are verdicts too. Nothing from the
workspace runs — not its tests, its conftest, its plugins, its interpreter or its project tools
— unless the workspace is trusted (``tactful trust``, or the editor's trust passed by the
caller); an untrusted call returns "not validated (workspace not trusted)" at once.

A validation: sync the warm copy; make the changes; find the project's interpreter
(``environment.py``; none found is an error that says how to choose one); select the tests
(coverage map, import graph, whole suite); look the verdict up by everything that decides it
(``cache.py``); lay the changes over the warm copy (an overlay the sandbox mounts, or where it
cannot, a copy it makes of it) and run the tests there in the sandbox (forked from a warm pytest
under bubblewrap, else a fresh process), recording which changed code they run
(``exercise.py``); read the probe's report and what stopped the run, if a limit did. Tests that
fail there are run again without the edit: those that fail without it too are set aside and the
run repeated, so they decide nothing. Passing tests that never ran the changed code give
``unexercised``, unless a differential check (``differential.py``, ``harness.py``) can call the
old and the new version of each changed function on the same inputs: ``equivalent`` or
``different``. The coverage map is built and updated in the background, once the workspace is
trusted.

``Sandbox.check_changes`` is the same order of work for review: the tests of what changed since a
base, run on the workspace as it is, those that fail at the base too set aside, each failure
with its traceback and the changed lines each test ran.

Where the parts live: this module holds the order of work (the gates, the changes, the test
plan, the cache lookup); ``interpret.py`` what a validation decides from its runs;
``differential_check.py`` the differential check's runs; ``cache.py`` the verdict cache;
``runner.py`` a run's folder, layout, environment and limits and the commands run there;
``warm_pytest.py`` the warm pytest and the runs forked from it; ``coverage_upkeep.py`` the
coverage map's upkeep.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from tactful.analyzers.text import Edit
from tactful.feedback.execution.backends import BackendInfo
from tactful.feedback.execution.cache import VerdictCache, digest, validation_key
from tactful.feedback.execution.coverage_map import CoverageMap, tracked
from tactful.feedback.execution.coverage_upkeep import CoverageUpkeep
from tactful.feedback.execution.differential_check import DifferentialCheck
from tactful.feedback.execution.environment import Environment
from tactful.feedback.execution.interpret import (
    Interpreter,
    collect_error_ids,
    failed_ids,
    test_failures,
    units_of,
)
from tactful.feedback.execution.options import ValidationOptions
from tactful.feedback.execution.patch import (
    Change,
    PatchError,
    change_between,
    changes_from_edits,
    changes_from_patch,
)
from tactful.feedback.execution.runner import Runner, is_pytest
from tactful.feedback.execution.selection import ImportGraph, TestPlan, plan_tests
from tactful.feedback.execution.verdict import (
    ChangeCheck,
    Selection,
    Status,
    Verdict,
    not_validated,
)
from tactful.feedback.execution.warm_pytest import WarmPytests
from tactful.feedback.execution.workspace import WarmCopy, inside

logger = logging.getLogger(__name__)


class Sandbox:
    """Validation for one workspace: its warm copy, coverage map and verdict cache."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        options: ValidationOptions | None = None,
        *,
        trusted: bool | None = None,
        cache: Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.options = options or ValidationOptions()
        self.warm = WarmCopy(self.root, cache)
        self._graph = ImportGraph()
        self._verdicts = VerdictCache(self.warm.home / "verdicts")
        self._runner = Runner(self.root, self.options, self.warm, trusted)
        self._warm_pytests = WarmPytests(self._runner)
        self._interpreter = Interpreter(
            self._runner, self._warm_pytests, DifferentialCheck(self._runner)
        )
        self._coverage = CoverageUpkeep(self._runner)

    # Gates ---------------------------------------------------------------------------------

    def trusted(self) -> bool:
        """The editor's trust when the caller passed it, else the trust list."""
        return self._runner.trusted()

    async def backend(self) -> BackendInfo:
        return await self._runner.backend()

    # The environment and the command -------------------------------------------------------

    def environment(self) -> Environment:
        """The project's interpreter and why it was chosen (blocking: it may ask poetry)."""
        return self._runner.environment()

    def command(self, environment: Environment) -> list[str] | None:
        """The test command with the project's interpreter; None when it needs one and none
        was found."""
        return self._runner.command(environment)

    # Validation ----------------------------------------------------------------------------

    async def validate(
        self,
        edits: Sequence[Edit] = (),
        *,
        patch: str | None = None,
        overlays: Mapping[str, str] | None = None,
        everything: bool = False,
    ) -> Verdict:
        """Judge ``edits`` (or ``patch``) on a sandboxed copy of the workspace.

        ``overlays`` are texts of files that differ from the disk (unsaved editor buffers) by
        path relative to the root; edits are positioned in them. ``everything`` runs the whole
        suite instead of selecting. The first validation of a trusted workspace also starts
        building the coverage map in the background, on this event loop.
        """
        return await self._validate(edits, patch, overlays or {}, everything, background=True)

    def validate_sync(
        self,
        edits: Sequence[Edit] = (),
        *,
        patch: str | None = None,
        overlays: Mapping[str, str] | None = None,
        everything: bool = False,
    ) -> Verdict:
        """``validate`` for callers without an event loop (the CLI, worker threads).

        It starts no background work: the loop it runs on ends with the call.
        """
        return asyncio.run(
            self._validate(edits, patch, overlays or {}, everything, background=False)
        )

    async def _validate(
        self,
        edits: Sequence[Edit],
        patch: str | None,
        overlays: Mapping[str, str],
        everything: bool,
        background: bool,
    ) -> Verdict:
        reason = self._runner.closed_reason()
        if reason:
            return not_validated(reason)
        backend = await self.backend()
        if not backend.available:
            return not_validated(f"no sandbox: {backend.detail}")
        name = backend.name or "none"
        state = await asyncio.to_thread(self.warm.sync)
        try:
            changes, unmappable, before = self._changes(edits, patch, overlays)
        except PatchError as exc:
            return Verdict(Status.ERROR, reason=str(exc), backend=name)
        environment = await asyncio.to_thread(self.environment)
        argv = self.command(environment)
        if argv is None:
            return Verdict(Status.ERROR, reason=environment.why, backend=name)
        pytest = is_pytest(argv)
        cmap = await asyncio.to_thread(self._coverage.load) if pytest else None
        if not pytest:
            plan = TestPlan(Selection.COMMAND, why="the test command is not pytest: run as it is")
        elif everything:
            plan = TestPlan(Selection.ALL, why="asked for the whole suite")
        else:
            plan = await asyncio.to_thread(
                plan_tests, changes, state.files, self.warm.read, self._graph, cmap, unmappable
            )
        units = await asyncio.to_thread(units_of, changes, before, set(state.files))
        failing = self._interpreter.known_failing(state, environment, argv, cmap)
        # A map made from the workspace as it is knows which tests fail without the edit: no
        # need to run failing ones again to tell
        current = cmap is not None and cmap.files == {
            path: digest for path, digest in state.files.items() if tracked(path)
        }
        key = validation_key(
            changes,
            state.digest,
            argv,
            name,
            plan,
            failing,
            environment.fingerprint(),
            self.options,
        )
        cached = self._verdicts.get(key)
        if cached is not None:
            return cached
        verdict = await self._interpreter.judge(
            name, changes, before, units, plan, argv, cmap, environment, state, failing, current
        )
        verdict = replace(
            verdict,
            selection_reason=verdict.selection_reason or plan.why,
            interpreter=str(environment.interpreter or ""),
        )
        self._verdicts.put(key, verdict)
        if background and pytest and self.options.coverage_map:
            self.start_coverage_map()
        return verdict

    async def check_changes(self, base: Mapping[str, str | None]) -> ChangeCheck:
        """Run the tests of what changed since a base, on the workspace as it is on disk.

        ``base`` maps each changed file (relative to the root) to its text at the base (None:
        new since). The tests that cover the changed functions are chosen as for an edit (the
        coverage map, from whichever of the two versions of a file it was made, else the import
        graph) and all of them run, each noting the changed lines it ran. A test that fails
        is run again with the changed files as they were at the base: one that fails there too
        is set aside, since the change did not break it. Updates the coverage map afterwards.
        """
        reason = self._runner.closed_reason()
        if reason:
            return ChangeCheck(not_validated(reason))
        backend = await self.backend()
        if not backend.available:
            return ChangeCheck(not_validated(f"no sandbox: {backend.detail}"))
        name = backend.name or "none"
        state = await asyncio.to_thread(self.warm.sync)
        environment = await asyncio.to_thread(self.environment)
        argv = self.command(environment)
        if argv is None:
            return ChangeCheck(Verdict(Status.ERROR, reason=environment.why, backend=name))
        if not is_pytest(argv):
            return ChangeCheck(
                not_validated("the test command is not pytest: its tests cannot be told apart")
            )
        before: dict[str, str | None] = {}
        for path, text in base.items():
            try:
                before[self._relative(path)] = text
            except PatchError:
                logger.info("%s is outside the workspace: its change is not tested", path)
        now = {path: self.warm.read(path) for path in before}
        changed = sorted(path for path in before if before[path] != now[path])
        if not changed:
            nothing = Verdict(Status.UNEXERCISED, reason="nothing changed since the base")
            return ChangeCheck(nothing)
        forward = [change_between(path, before[path], now[path]) for path in changed]
        # what makes the base of the changed files out of the workspace as it is
        revert = [change_between(path, now[path], before[path]) for path in changed]
        cmap = await asyncio.to_thread(self._coverage.load)
        files = dict(state.files)
        texts: dict[str, str | None] = {}
        planned: list[Change] = []
        for ahead, back in zip(forward, revert, strict=True):
            old, new = before[ahead.path], now[ahead.path]
            if (
                cmap is not None
                and old is not None
                and new is not None
                and cmap.knows(ahead.path, files.get(ahead.path))
            ):
                # the map was made from the file as it is: its changed lines, in that text
                texts[ahead.path] = new
                planned.append(Change(ahead.path, new, back.old_lines, in_place=back.in_place))
                continue
            texts[ahead.path] = old
            if old is not None:
                files[ahead.path] = digest(old)
            planned.append(ahead)

        def read(path: str) -> str | None:
            return texts[path] if path in texts else self.warm.read(path)

        plan = await asyncio.to_thread(plan_tests, planned, files, read, self._graph, cmap, ())
        units = await asyncio.to_thread(units_of, forward, before, set(state.files))
        interpreter = self._interpreter
        failing = interpreter.failing_known(
            interpreter.failing_key(state, environment, argv, revert)
        )
        tests = await interpreter.tests(
            name, [], plan, argv, environment, failing, units, first_failure=False, by_test=True
        )
        verdict = tests.verdict
        if (
            verdict.status is Status.FAILED
            and tests.report is not None
            and not verdict.reason.startswith("stopped: ")
        ):
            suspects = set(failed_ids(tests.report)) | set(collect_error_ids(tests.report))
            if suspects - failing:
                failing |= await interpreter.failing_without_edit(
                    name, argv, environment, suspects - failing, state, revert
                )
            new_failed = tuple(node for node in verdict.failed_ids if node not in failing)
            if not new_failed:
                verdict = replace(
                    verdict,
                    status=Status.PASSED,
                    failed_ids=(),
                    reason="the tests that fail fail without the change too",
                )
            else:
                verdict = replace(verdict, failed_ids=new_failed)
        verdict = replace(
            verdict,
            failing_before=tuple(sorted(failing)),
            selection_reason=plan.why,
            interpreter=str(environment.interpreter or ""),
        )
        failures = test_failures(tests.report, verdict.failed_ids)
        ran: dict[str, dict[str, frozenset[int]]] = {}
        if tests.trace is not None:
            ran = {
                node: {path: frozenset(lines) for path, lines in by_path.items()}
                for node, by_path in tests.trace.by_test.items()
            }
        if self.options.coverage_map:
            self.start_coverage_map()
        return ChangeCheck(verdict, failures, ran)

    def _changes(
        self, edits: Sequence[Edit], patch: str | None, overlays: Mapping[str, str]
    ) -> tuple[list[Change], set[str], dict[str, str | None]]:
        """The changes to make, the files whose lines the map cannot know, and the text each
        changed file had before the edit (buffers' unsaved text included)."""
        texts = {self._relative(path): text for path, text in overlays.items()}

        def read(path: str) -> str | None:
            return texts[path] if path in texts else self.warm.read(path)

        if patch is not None:
            changes = changes_from_patch(patch, lambda p: read(self._relative(p)))
        else:
            edits = [replace(edit, path=self._relative(edit.path)) for edit in edits]
            changes = changes_from_edits(edits, read)
        changes = [replace(change, path=self._relative(change.path)) for change in changes]
        before = {change.path: read(change.path) for change in changes}
        touched = {change.path for change in changes}
        # unsaved buffers go in too; their lines no longer match the map, so they are unmappable
        unmappable = {path for path, text in texts.items() if text != self.warm.read(path)}
        for path in sorted(unmappable - touched):
            changes.append(Change(path, texts[path], ((0, texts[path].count("\n")),)))
        return changes, unmappable, before

    def patch_problem(self, patch: str) -> str | None:
        """Why a unified diff does not apply to the workspace as it is on disk (None: it does)."""

        def read(path: str) -> str | None:
            try:
                relative = self._relative(path)
                with (self.root / relative).open(
                    encoding="utf-8", errors="surrogateescape", newline=""
                ) as handle:
                    return handle.read()
            except OSError:
                return None

        try:
            for change in changes_from_patch(patch, read):
                self._relative(change.path)
        except PatchError as exc:
            return str(exc)
        return None

    def _relative(self, path: str) -> str:
        candidate = Path(path)
        if candidate.is_absolute():
            try:
                return candidate.resolve().relative_to(self.root).as_posix()
            except ValueError as exc:
                raise PatchError(f"{path} is outside the workspace") from exc
        if not inside(self.root, path):
            raise PatchError(f"{path} is outside the workspace")
        return Path(path).as_posix()

    # Coverage map --------------------------------------------------------------------------

    def start_coverage_map(self) -> None:
        """Build or update the coverage map in the background (trusted workspaces only)."""
        self._coverage.start()

    async def update_coverage_map(self) -> CoverageMap | None:
        """Make the coverage map current for the workspace as it is now; None when it cannot.

        A build already running in the background is waited for, never started twice.
        """
        return await self._coverage.update()

    # The end -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the warm pytest, if one runs (it also stops when this process ends)."""
        self._warm_pytests.close()

    async def aclose(self) -> None:
        """Stop background work (the coverage map build) and the warm pytest."""
        await asyncio.to_thread(self.close)
        await self._coverage.aclose()

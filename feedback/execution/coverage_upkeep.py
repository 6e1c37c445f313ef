"""The coverage map's upkeep: made, then kept current, by runs of the workspace's tests.

Boundary: between the judge and ``coverage_map.py`` (the map's data). Once the workspace is
trusted and its test command is pytest, the whole suite runs once with coverage measured per
test; after that, a change re-runs only the tests that touched the changed files (and new test
files), and a change of configuration, or one that touches more than half the tests, rebuilds
the map from the whole suite. Builds run in the background on the caller's event loop, one at a
time; a workspace state whose build failed is not tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from tactful.feedback.execution.coverage_map import (
    CONFIG_FILES,
    CoverageMap,
    child_contexts,
    read_coverage_data,
    tracked,
)
from tactful.feedback.execution.exercise import read_trace
from tactful.feedback.execution.interpret import interpret
from tactful.feedback.execution.runner import CHILD_COVERAGE, Run, Runner, is_pytest, read_json
from tactful.feedback.execution.selection import TestPlan, is_test_file
from tactful.feedback.execution.verdict import Selection, Status, Verdict
from tactful.feedback.execution.workspace import WorkspaceState

logger = logging.getLogger(__name__)


class CoverageUpkeep:
    """The coverage map of one workspace: loaded once, built and updated in the background."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._map: CoverageMap | None = None
        self._loaded = False
        self._task: asyncio.Task[CoverageMap | None] | None = None
        self._failed_for: str | None = None

    def _path(self) -> Path:
        return self._runner.warm.home / "coverage-map.json"

    def load(self) -> CoverageMap | None:
        """The map as last saved (blocking: it reads the file the first time)."""
        if not self._loaded:
            self._map = CoverageMap.load(self._path())
            self._loaded = True
        return self._map

    def start(self) -> None:
        """Build or update the coverage map in the background (trusted workspaces only)."""
        if self._runner.closed_reason() or (self._task is not None and not self._task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._update())

    async def update(self) -> CoverageMap | None:
        """Make the coverage map current for the workspace as it is now; None when it cannot.

        A build already running in the background is waited for, never started twice.
        """
        while self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._task)
        self._task = asyncio.ensure_future(self._update())
        return await asyncio.shield(self._task)

    async def _update(self) -> CoverageMap | None:
        runner = self._runner
        if runner.closed_reason():
            return None
        environment = await asyncio.to_thread(runner.environment)
        argv = runner.command(environment)
        if argv is None or not is_pytest(argv):
            return None
        backend = await runner.backend()
        if not backend.available:
            return None
        name = backend.name or "none"
        state = await asyncio.to_thread(runner.warm.sync)
        cmap = await asyncio.to_thread(self.load)
        if self._failed_for == state.digest:
            return cmap
        current = {path: digest for path, digest in state.files.items() if tracked(path)}
        if cmap is not None and cmap.files == current:
            return cmap
        plan, changed = update_plan(cmap, state)
        started = time.monotonic()

        async def work(
            run: Run,
        ) -> tuple[Verdict, dict[str, Any] | None, dict[str, dict[int, list[str]]], set[str]]:
            command = [*argv, *runner.pytest_args(run, plan, environment, set(), False)]
            shutil.copyfile(CHILD_COVERAGE, run.helper / "sitecustomize.py")
            runner.watch_homes(run, sorted(p for p in state.files if p.endswith(".py")))
            data_file = run.out / "coverage.sqlite"
            run.env["TACTFUL_PROBE_COVERAGE"] = str(run.results / data_file.name)
            run.env["TACTFUL_PROBE_COVERAGE_PATH"] = runner.coverage_helper(run)
            timeout = max(600.0, runner.options.timeout_s * 10)
            outcome = await runner.run_in(run, command, timeout, runner.limits(timeout))
            report = read_json(run.out / "report.json")
            verdict = interpret(outcome, report, plan.method, name)
            if report is None or not data_file.exists() or verdict.status is Status.ERROR:
                return verdict, report, {}, set()
            test_root = run.test_root
            measured = await asyncio.to_thread(read_coverage_data, data_file, test_root)
            # a test whose Python children were measured is seen like any other
            opaque = set(report.get("spawning", [])) - await asyncio.to_thread(
                child_contexts, data_file
            )
            # the workspace's modules the tests imported from another copy: what they ran of
            # those is not in the map, which must not say no test runs them
            trace = await asyncio.to_thread(
                read_trace, run.out, "exercise", [run.test_root, runner.root]
            )
            report["elsewhere"] = sorted(trace.elsewhere)
            return verdict, report, measured, opaque

        verdict, report, measured, opaque = await runner.in_run(name, [], environment, work)
        if report is None or not measured:
            logger.info("coverage map not made: %s", verdict.reason or verdict.status.value)
            self._failed_for = state.digest
            return cmap
        fresh = cmap if cmap is not None and plan.method is not Selection.ALL else CoverageMap()
        fresh.merge_run(
            report.get("collected", []),
            report.get("outcomes", {}),
            measured,
            state.files,
            changed,
            opaque,
            report.get("elsewhere", []),
        )
        await asyncio.to_thread(fresh.save, self._path())
        self._map = fresh
        logger.info(
            "coverage map %s for %d tests in %.1f s",
            "made" if plan.method is Selection.ALL else "updated",
            len(fresh.tests),
            time.monotonic() - started,
        )
        return fresh

    async def aclose(self) -> None:
        """Cancel a build running in the background, and wait for it to end."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def update_plan(cmap: CoverageMap | None, state: WorkspaceState) -> tuple[TestPlan, set[str]]:
    """The tests to re-run for the map, and the files whose old lines are stale."""
    everything = TestPlan(Selection.ALL, why="making the coverage map")
    if cmap is None:
        return everything, set(state.files)
    now = {path: digest for path, digest in state.files.items() if tracked(path)}
    changed = {p for p in set(now) | set(cmap.files) if now.get(p) != cmap.files.get(p)}
    if any(Path(p).name in CONFIG_FILES for p in changed):
        return everything, set(state.files)
    known = cmap.test_files()
    new_tests = {p for p in changed if p in now and is_test_file(p) and p not in known}
    rerun = cmap.tests_touching(changed) | {
        node for node, path in zip(cmap.tests, cmap.test_paths, strict=True) if path in changed
    }
    if len(rerun) * 2 > len(cmap.tests):
        return everything, set(state.files)
    files = sorted({cmap.file_of(node) for node in rerun} | new_tests)
    files = [f for f in files if f in now]
    plan = TestPlan(
        Selection.COVERAGE,
        tuple(files),
        tuple(sorted(rerun)),
        whole_files=tuple(sorted(new_tests)),
        why="updating the coverage map",
    )
    return plan, changed

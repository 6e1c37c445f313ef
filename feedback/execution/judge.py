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

Where the parts live: verdict interpretation in ``interpret.py``, the cache in ``cache.py``, the
process runner in ``runner.py``, the warm pytest in ``warm_pytest.py``/``zygote.py``, the
coverage map in ``coverage_map.py``; this module holds the order of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from tactful.analyzers.text import Edit
from tactful.feedback.execution import differential
from tactful.feedback.execution.backends import (
    OUT_AT,
    SCRATCH_AT,
    SYSTEM_DIRS,
    WARM_AT,
    BackendInfo,
    Layout,
    available_backend,
    base_view,
    overlay_layer,
    overlay_runs_work,
    readonly_binds,
    readonly_view,
)
from tactful.feedback.execution.cache import VerdictCache, verdict_key
from tactful.feedback.execution.cgroup import RunGroup, join_command
from tactful.feedback.execution.coverage_map import (
    CONFIG_FILES,
    CoverageMap,
    child_contexts,
    read_coverage_data,
    tracked,
)
from tactful.feedback.execution.differential import GENERATED_INPUTS
from tactful.feedback.execution.environment import (
    VENV_NAMES,
    Environment,
    find_environment,
    site_packages,
)
from tactful.feedback.execution.exercise import (
    FILE,
    FUNCTION,
    RunTrace,
    Unit,
    changed_units,
    read_trace,
    same_code,
    unexercised,
)
from tactful.feedback.execution.interpret import (
    collect_error_ids,
    failed_ids,
    interpret,
    test_failures,
)
from tactful.feedback.execution.jail import TIMED_OUT
from tactful.feedback.execution.patch import (
    Change,
    PatchError,
    change_between,
    changes_from_edits,
    changes_from_patch,
)
from tactful.feedback.execution.runner import (
    JAIL_GRACE_S,
    MEMORY_MARGIN,
    PROCESS_MARGIN,
    Limits,
    RunOutcome,
    read_output,
    read_usage,
    run_command,
)
from tactful.feedback.execution.selection import ImportGraph, TestPlan, is_test_file, plan_tests
from tactful.feedback.execution.verdict import (
    ChangeCheck,
    Selection,
    Status,
    Verdict,
    not_validated,
)
from tactful.feedback.execution.warm_pytest import ZYGOTE, WarmPytest, ZygoteGone
from tactful.feedback.execution.workspace import (
    WarmCopy,
    WorkspaceState,
    apply_changes,
    inside,
)
from tactful.feedback.trust import is_trusted

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
PROBE = HERE / "probe.py"
CHILD_COVERAGE = HERE / "child_coverage.py"
HARNESS = HERE / "harness.py"
RECORDER = HERE / "recorder.py"
ZYGOTE_TMP_BYTES = 64 << 20  # the zygote's own /tmp; each run mounts one of its own
# Tests that fail with the edit are run again without it, at most this many times in one
# validation (each time, those that fail without the edit too are set aside).
BASELINE_ROUNDS = 3
RECORDED_INPUTS = 50
# The environment a run gets is built from these names only (and the variables tactful sets):
# nothing else of the user's environment, where credentials live, reaches the tests.
_ENV_ALLOWED = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "USER",
        "LOGNAME",
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "CI",
        "SOURCE_DATE_EPOCH",
        "PYTHONHASHSEED",
        "PYTHONUTF8",
        "PYTHONIOENCODING",
        "PYTHONWARNINGS",
        "PYTHONDEVMODE",
        "PYTHONFAULTHANDLER",
        "PYTHONTRACEMALLOC",
        "PYTHONDONTWRITEBYTECODE",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    }
)
_ENV_ALLOWED_PREFIXES = ("LC_",)
# an allowed name still goes when it looks like it holds a credential
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "KEY", "AUTH")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """The ``validation.*`` settings the judge needs (the server resolves them)."""

    enabled: bool = True
    sandbox: str = "auto"  # "auto", "bwrap", "unshare", "none"
    timeout_s: float = 60.0
    command: tuple[str, ...] | None = None  # None: `python -m pytest` with the project's Python
    python: str | None = None  # validation.python: the project's interpreter, chosen by the user
    selected_python: str | None = None  # the interpreter the editor has selected
    stop_at_first_failure: bool = True  # a failing edit needs one failure, not all of them
    coverage_map: bool = True  # build the coverage map in the background once trusted
    differential: bool = True  # for code no test runs, compare old and new on inputs
    inputs: int = GENERATED_INPUTS  # generated inputs per changed function
    memory_bytes: int | None = None  # resident memory of a run's processes (None: the default)
    processes: int | None = None  # processes a run may have at once (None: 512)
    disk_bytes: int | None = None  # bytes a run may write to its copy and to /tmp (None: 1 GiB)
    warm_pytest: bool = True  # fork runs from a pytest kept imported (False: a fresh one each)


def _env_allowed(name: str) -> bool:
    upper = name.upper()
    if upper not in _ENV_ALLOWED and not upper.startswith(_ENV_ALLOWED_PREFIXES):
        return False
    return not any(word in upper for word in _SECRET_WORDS)


def _is_pytest(argv: Sequence[str]) -> bool:
    if not argv:
        return False
    if Path(argv[0]).name in ("pytest", "py.test"):
        return True
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[i + 1] in ("pytest", "py.test"):
            return True
    return False


def _installed(environment: Environment, distribution: str) -> bool:
    """Whether a distribution (its normalised name, e.g. ``pytest_cov``) is installed."""
    if environment.interpreter is None:
        return False
    for site in site_packages(environment.interpreter):
        with contextlib.suppress(OSError):
            if any(site.glob(f"{distribution}-*.dist-info")):
                return True
    return False


@dataclass
class _Run:
    """One run folder, prepared: where things are, and the environment the command gets."""

    folder: Path
    layout: Layout
    env: dict[str, str]
    backend: str
    deleted: tuple[str, ...] = ()  # files the changes remove

    @property
    def helper(self) -> Path:
        return self.folder / "helper"

    @property
    def out(self) -> Path:
        """Where tactful reads what the run's processes wrote."""
        return self.folder / "out"

    @property
    def results(self) -> Path:
        """Where the run's processes write what tactful reads: sandboxed, a tmpfs whose files
        the jail copies out to ``out`` when the command ends; else ``out`` itself."""
        return Path(OUT_AT) if self.backend == "bwrap" else self.out

    @property
    def test_root(self) -> Path:
        return self.layout.test_root(self.backend)


@dataclass(frozen=True, slots=True)
class _Tests:
    """A test run's verdict (on the tests alone), its probe report and what it ran."""

    verdict: Verdict
    report: dict | None
    trace: RunTrace | None


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
        self._trusted = trusted
        self.warm = WarmCopy(self.root, cache)
        self._graph = ImportGraph()
        self._verdicts = VerdictCache(self.warm.home / "verdicts")
        # tests found failing without an edit, by (workspace state, environment, command)
        self._failing: dict[str, set[str]] = {}
        self._command_fails: dict[str, int] = {}
        self._runs_unedited: dict[str, bool] = {}  # whether pytest runs a plan with no edit
        self._recorded: dict[str, dict[str, list[bytes]]] = {}  # inputs recorded, by their run
        self._map: CoverageMap | None = None
        self._map_loaded = False
        self._map_task: asyncio.Task[CoverageMap | None] | None = None
        self._map_failed_for: str | None = None
        self._warm_pytest: WarmPytest | None = None
        self._warm_pytest_key = ""
        self._warm_pytest_failures = 0
        self._warm_pytest_lock = threading.Lock()

    # Gates ---------------------------------------------------------------------------------

    def trusted(self) -> bool:
        """The editor's trust when the caller passed it, else the trust list."""
        return self._trusted if self._trusted is not None else is_trusted(self.root)

    def _closed_reason(self) -> str | None:
        if not self.options.enabled:
            return "validation is off"
        if not self.trusted():
            return "workspace not trusted"
        return None

    async def backend(self) -> BackendInfo:
        return await asyncio.to_thread(available_backend, self.options.sandbox)

    # The environment and the command -------------------------------------------------------

    def environment(self) -> Environment:
        """The project's interpreter and why it was chosen (blocking: it may ask poetry)."""
        return find_environment(
            self.root,
            command=self.options.command,
            python=self.options.python,
            selected=self.options.selected_python,
            trusted=self.trusted(),
        )

    def command(self, environment: Environment) -> list[str] | None:
        """The test command with the project's interpreter; None when it needs one and none
        was found."""
        interpreter = str(environment.interpreter) if environment.interpreter else None
        if self.options.command is None:
            return [interpreter, "-m", "pytest"] if interpreter else None
        argv = list(self.options.command)
        if argv and argv[0] in ("python", "python3"):
            if interpreter is None:
                return None
            argv[0] = interpreter
        return argv

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
        reason = self._closed_reason()
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
        pytest = _is_pytest(argv)
        cmap = await asyncio.to_thread(self._load_map) if pytest else None
        if not pytest:
            plan = TestPlan(Selection.COMMAND, why="the test command is not pytest: run as it is")
        elif everything:
            plan = TestPlan(Selection.ALL, why="asked for the whole suite")
        else:
            plan = await asyncio.to_thread(
                plan_tests, changes, state.files, self.warm.read, self._graph, cmap, unmappable
            )
        units = await asyncio.to_thread(_units, changes, before, set(state.files))
        failing = self._known_failing(state, environment, argv, cmap)
        # A map made from the workspace as it is knows which tests fail without the edit: no
        # need to run failing ones again to tell
        current = cmap is not None and cmap.files == {
            path: digest for path, digest in state.files.items() if tracked(path)
        }
        key = verdict_key(
            {
                "changes": sorted(
                    (c.path, None if c.new_text is None else _digest(c.new_text)) for c in changes
                ),
                "state": state.digest,
                "argv": argv,
                "backend": name,
                "plan": [plan.method.value, plan.files, plan.node_ids, plan.whole_files],
                "failing_before": sorted(failing),
                "environment": environment.fingerprint(),
                "first_failure": self.options.stop_at_first_failure,
                "differential": [self.options.differential, self.options.inputs],
                # a verdict reached within looser limits says nothing of one within tighter ones
                "limits": [
                    self.options.timeout_s,
                    self.options.memory_bytes,
                    self.options.processes,
                    self.options.disk_bytes,
                ],
            }
        )
        cached = self._verdicts.get(key)
        if cached is not None:
            return cached
        verdict = await self._judge(
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

    async def _judge(
        self,
        backend: str,
        changes: list[Change],
        before: dict[str, str | None],
        units: list[Unit],
        plan: TestPlan,
        argv: list[str],
        cmap: CoverageMap | None,
        environment: Environment,
        state: WorkspaceState,
        failing: set[str],
        map_current: bool,
    ) -> Verdict:
        pytest = plan.method is not Selection.COMMAND
        failing = set(failing)
        tests = await self._tests(backend, changes, plan, argv, cmap, environment, failing, units)
        # with no edit, a failure is the suite's own: there is nothing to run it without
        rounds = BASELINE_ROUNDS if pytest and changes else 0
        for _round in range(rounds):
            verdict = tests.verdict
            if verdict.status is not Status.FAILED or tests.report is None:
                break
            if verdict.reason.startswith("stopped: "):
                # a limit stopped the run: whatever failed did so under the limit, with or
                # without the edit, and running it again proves nothing more
                break
            suspects = set(collect_error_ids(tests.report)) - failing
            if not map_current:
                # a current map knows the tests that fail without the edit: set aside already
                suspects |= set(failed_ids(tests.report)) - failing
            if not suspects:
                break
            fails_anyway = await self._failing_without_edit(
                backend, argv, environment, suspects, state
            )
            if not suspects - fails_anyway:
                failing |= fails_anyway
                tests = await self._tests(
                    backend, changes, plan, argv, cmap, environment, failing, units
                )
                continue
            new = tuple(node for node in verdict.failed_ids if node not in fails_anyway)
            tests = _Tests(
                replace(verdict, failed_ids=new or verdict.failed_ids),
                tests.report,
                tests.trace,
            )
            break
        verdict = replace(tests.verdict, failing_before=tuple(sorted(failing)))
        if pytest and changes and verdict.status is Status.ERROR:
            # pytest could not run the tests (a conftest that no longer imports, say): when it
            # can without the edit, the edit is what broke them
            if await self._runs_without_edit(backend, plan, argv, environment, state, failing):
                return replace(
                    verdict,
                    status=Status.FAILED,
                    reason=f"the tests cannot run with the edit (they can without it): "
                    f"{verdict.reason}",
                )
            return verdict
        if not pytest and changes and verdict.status is Status.FAILED:
            code = await self._command_fails_without_edit(backend, argv, environment, state)
            if code:
                return replace(
                    verdict,
                    status=Status.ERROR,
                    reason=f"the test command fails without the edit too (exit status {code})",
                )
        no_tests = verdict.status is Status.UNEXERCISED and verdict.tests_run == 0
        if verdict.status is not Status.PASSED and not no_tests:
            return verdict
        trace = tests.trace
        if not units:
            return (
                replace(verdict, status=Status.PASSED, exercised=None) if not no_tests else verdict
            )
        # with no test run, whatever ran at collection tested nothing
        missing = units if trace is None or no_tests else unexercised(units, trace)
        if not missing:
            return replace(verdict, status=Status.PASSED, exercised=True)
        seen = trace is not None and trace.measured
        # a change of layout, or of annotations no call evaluates, leaves the code a call runs
        # as it was once compiled: no input can tell the two versions apart
        layout_only = await asyncio.to_thread(_layout_only, missing, before, changes)
        if len(layout_only) == len(missing) and len(missing) < len(units) and not no_tests:
            # the tests ran every changed unit whose code changed once compiled
            return replace(
                verdict,
                status=Status.PASSED,
                exercised=True,
                unexercised=tuple(unit.label for unit in missing),
            )
        if len(layout_only) == len(missing):
            return replace(
                verdict,
                status=Status.EQUIVALENT,
                exercised=False if seen or no_tests else None,
                unexercised=tuple(unit.label for unit in missing),
                inputs=0,
                reason="no test runs this code; the change leaves it as it was once compiled "
                "(only its layout, docstrings, annotations no call evaluates or syntax compiled "
                "alike changed): the old and the new version run the same code",
            )
        verdict = replace(
            verdict,
            status=Status.UNEXERCISED,
            exercised=False if seen or no_tests else None,
            unexercised=tuple(unit.label for unit in missing),
            reason=verdict.reason
            or (
                "the tests that ran did not run " + ", ".join(unit.label for unit in missing)
                if seen
                else "which code the test command runs could not be seen"
            ),
        )
        if not self.options.differential or environment.interpreter is None:
            return verdict
        checked = [unit for unit in missing if unit not in layout_only]
        return await self._differential(
            backend, changes, before, checked, environment, verdict, failing, cmap, set(state.files)
        )

    async def check_changes(self, base: Mapping[str, str | None]) -> ChangeCheck:
        """Run the tests of what changed since a base, on the workspace as it is on disk.

        ``base`` maps each changed file (relative to the root) to its text at the base (None:
        new since). The tests that cover the changed functions are chosen as for an edit (the
        coverage map, from whichever of the two versions of a file it was made, else the import
        graph) and all of them run, each noting the changed lines it ran. A test that fails
        is run again with the changed files as they were at the base: one that fails there too
        is set aside, since the change did not break it. Updates the coverage map afterwards.
        """
        reason = self._closed_reason()
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
        if not _is_pytest(argv):
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
        cmap = await asyncio.to_thread(self._load_map)
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
                files[ahead.path] = _digest(old)
            planned.append(ahead)

        def read(path: str) -> str | None:
            return texts[path] if path in texts else self.warm.read(path)

        plan = await asyncio.to_thread(plan_tests, planned, files, read, self._graph, cmap, ())
        units = await asyncio.to_thread(_units, forward, before, set(state.files))
        failing = set(self._failing.get(self._failing_key(state, environment, argv, revert), ()))
        tests = await self._tests(
            name,
            [],
            plan,
            argv,
            cmap,
            environment,
            failing,
            units,
            first_failure=False,
            by_test=True,
        )
        verdict = tests.verdict
        if (
            verdict.status is Status.FAILED
            and tests.report is not None
            and not verdict.reason.startswith("stopped: ")
        ):
            suspects = set(failed_ids(tests.report)) | set(collect_error_ids(tests.report))
            if suspects - failing:
                failing |= await self._failing_without_edit(
                    name, argv, environment, suspects - failing, state, revert
                )
            new = tuple(node for node in verdict.failed_ids if node not in failing)
            if not new:
                verdict = replace(
                    verdict,
                    status=Status.PASSED,
                    failed_ids=(),
                    reason="the tests that fail fail without the change too",
                )
            else:
                verdict = replace(verdict, failed_ids=new)
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

    # Tests that fail without the edit ---------------------------------------------------------

    def _failing_key(
        self,
        state: WorkspaceState,
        environment: Environment,
        argv: list[str],
        unedited: Sequence[Change] = (),
    ) -> str:
        """What decides which tests fail with no edit: the workspace, the interpreter, the
        command and, when "no edit" is another state than the workspace's (``unedited``: the
        changes that make it), those changes."""
        made = [(c.path, None if c.new_text is None else _digest(c.new_text)) for c in unedited]
        return _digest(json.dumps([state.digest, environment.fingerprint(), argv, made]))

    def _known_failing(
        self,
        state: WorkspaceState,
        environment: Environment,
        argv: list[str],
        cmap: CoverageMap | None,
    ) -> set[str]:
        known = set(self._failing.get(self._failing_key(state, environment, argv), set()))
        if cmap is not None:
            known |= cmap.failing
        return known

    async def _failing_without_edit(
        self,
        backend: str,
        argv: list[str],
        environment: Environment,
        suspects: set[str],
        state: WorkspaceState,
        unedited: Sequence[Change] = (),
    ) -> set[str]:
        """Which of ``suspects`` (test ids, or files that did not collect) fail with no edit
        (on the workspace with ``unedited`` made, when that is what "no edit" means)."""
        files = sorted({node.split("::", 1)[0] for node in suspects})
        plan = TestPlan(
            Selection.COVERAGE,
            tuple(files),
            tuple(sorted(n for n in suspects if "::" in n)),
            whole_files=tuple(sorted(n for n in suspects if "::" not in n)),
            why="the failing tests, without the edit",
        )
        tests = await self._tests(
            backend, list(unedited), plan, argv, None, environment, set(), [], first_failure=False
        )
        if tests.report is None:
            return set()
        failing = (set(failed_ids(tests.report)) | set(collect_error_ids(tests.report))) & suspects
        if failing:
            key = self._failing_key(state, environment, argv, unedited)
            self._failing.setdefault(key, set()).update(failing)
            logger.info("%d tests fail without the edit too: set aside", len(failing))
        return failing

    async def _runs_without_edit(
        self,
        backend: str,
        plan: TestPlan,
        argv: list[str],
        environment: Environment,
        state: WorkspaceState,
        failing: set[str],
    ) -> bool:
        """Whether pytest runs the tests of ``plan`` with no edit (passing or failing)."""
        key = _digest(
            json.dumps(
                [
                    self._failing_key(state, environment, argv),
                    plan.method.value,
                    plan.files,
                    plan.node_ids,
                    plan.whole_files,
                ]
            )
        )
        if key not in self._runs_unedited:
            tests = await self._tests(backend, [], plan, argv, None, environment, failing, [])
            self._runs_unedited[key] = tests.verdict.status is not Status.ERROR
        return self._runs_unedited[key]

    async def _command_fails_without_edit(
        self, backend: str, argv: list[str], environment: Environment, state: WorkspaceState
    ) -> int:
        """The test command's exit status with no edit (0: it passes)."""
        key = self._failing_key(state, environment, argv)
        if key not in self._command_fails:
            plan = TestPlan(Selection.COMMAND, why="the test command, without the edit")
            tests = await self._tests(backend, [], plan, argv, None, environment, set(), [])
            code = 1 if tests.verdict.status is not Status.PASSED else 0
            self._command_fails[key] = code
        return self._command_fails[key]

    # Running -------------------------------------------------------------------------------

    def _limits(self, timeout: float) -> Limits:
        options = self.options
        return Limits.for_timeout(
            timeout, options.memory_bytes, options.processes, options.disk_bytes
        )

    async def _in_run(
        self,
        backend: str,
        changes: list[Change],
        environment: Environment,
        work: Callable[[_Run], Awaitable[T]],
    ) -> T:
        """``work`` in a fresh run folder: each command it runs there sees the warm copy with
        ``changes`` made (sandboxed, the copy or overlay is laid inside the sandbox per command)."""
        sandboxed = backend == "bwrap"
        folder: Path | None = None
        try:
            folder = await asyncio.to_thread(
                self.warm.new_empty_run if sandboxed else self.warm.new_run
            )
            assert folder is not None
            (folder / "helper").mkdir()
            (folder / "out").mkdir()
            written = [change for change in changes if change.new_text is not None]
            deleted = tuple(change.path for change in changes if change.new_text is None)
            if sandboxed:
                await asyncio.to_thread(apply_changes, folder / "helper" / "changes", written)
            else:
                await asyncio.to_thread(apply_changes, folder / "copy", changes)
            limits = self._limits(self.options.timeout_s)
            # the first call probes the machine for overlays (a bwrap run): off the event loop
            layout = await asyncio.to_thread(self._layout, backend, folder, environment, limits)
            env = self._env(backend, layout, folder, environment)
            result = await work(_Run(folder, layout, env, backend, deleted))
            changed = {change.path for change in changes}
            await asyncio.to_thread(self.warm.keep_bytecode, folder, changed)
            return result
        finally:
            if folder is not None:
                await asyncio.to_thread(self.warm.discard_run, folder)

    def _environment_folders(self, environment: Environment) -> list[Path]:
        """Host folders the test command needs to start, wherever they are (``/tmp`` too): the
        interpreter's environment and base installation, and the folder of a program the
        command names outside the system's. Those inside the workspace come with the copy."""
        folders = [f for f in environment.folders() if not f.is_relative_to(self.root)]
        program = self.options.command[0] if self.options.command else ""
        if os.path.isabs(program) and not any(
            program.startswith(system + "/") for system in SYSTEM_DIRS
        ):
            # a command's own program outside the system folders (a tool in /tmp, in ~)
            folder = Path(program).parent
            if not folder.is_relative_to(self.root) and folder not in folders:
                folders.append(folder)
        return folders

    def _inner_environments(self, environment: Environment) -> list[str]:
        """Environments inside the workspace (relative paths): shown read-only in the copy."""
        inner = [name for name in VENV_NAMES if (self.root / name).is_dir()]
        prefix = environment.prefix
        if prefix is not None and prefix.is_relative_to(self.root) and prefix != self.root:
            relative = prefix.relative_to(self.root).as_posix()
            if relative not in inner:
                inner.append(relative)
        return inner

    def _layout(self, backend: str, run: Path, environment: Environment, limits: Limits) -> Layout:
        sandboxed = backend == "bwrap"
        overlay = sandboxed and overlay_runs_work()
        return Layout(
            root=self.root,
            copy=self.warm.copy if sandboxed else run / "copy",
            readonly=(run / "helper", *self._environment_folders(environment)),
            into_copy=tuple(
                (self.root / name, name) for name in self._inner_environments(environment)
            ),
            # an overlay's tmpfs holds the run's writes only; a copy's, the warm copy too
            copy_bytes=limits.disk_bytes + (0 if overlay else self.warm.size()),
            tmp_bytes=limits.disk_bytes,
            empty=overlay_layer(run) if sandboxed else None,
            overlay=overlay,
        )

    def _env(
        self, backend: str, layout: Layout, run: Path, environment: Environment
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if _env_allowed(k)}
        test_root = layout.test_root(backend)
        python_path = [str(run / "helper")]
        if backend == "bwrap":
            env["TMPDIR"] = "/tmp"
            env["HOME"] = "/tmp"
            # bytecode is written into the run copy only (all else is read-only) and kept
            # for later runs: see WarmCopy.keep_bytecode
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        else:
            (run / "tmp").mkdir(exist_ok=True)
            env["TMPDIR"] = env["HOME"] = str(run / "tmp")
            # no mount puts the copy at the workspace's path here: an editable install would
            # import the workspace's own files, so the copy goes first on the path
            python_path += [str(test_root / "src"), str(test_root)]
        env["PYTHONPATH"] = os.pathsep.join(python_path)
        interpreter = environment.interpreter
        prefix = environment.prefix
        if interpreter is not None and prefix is not None:
            if (prefix / "pyvenv.cfg").exists():
                env["VIRTUAL_ENV"] = str(prefix)
            elif (prefix / "conda-meta").is_dir():
                env["CONDA_PREFIX"] = str(prefix)
            env["PATH"] = os.pathsep.join([str(interpreter.parent), env.get("PATH", "")])
        return env

    def _coverage_helper(self, run: _Run) -> str:
        """A folder holding tactful's coverage package alone, for interpreters without one:
        nothing else of tactful's environment becomes importable by the tests."""
        return str(self._coverage_folder(run.helper))

    def _coverage_folder(self, parent: Path | None = None) -> Path:
        import coverage

        vendor = (parent or self.warm.home) / "vendor"
        vendor.mkdir(parents=True, exist_ok=True)
        link = vendor / "coverage"
        if not link.is_symlink():
            link.symlink_to(Path(coverage.__file__).parent, target_is_directory=True)
        return vendor

    def _watch(self, run: _Run, units: list[Unit], by_test: bool = False) -> None:
        """Record, in every Python process of ``run``, whether it runs the changed ``units``
        (``by_test``: which test ran which of their lines)."""
        if not units:
            return
        if by_test:
            run.env["TACTFUL_EXERCISE_BY_TEST"] = "1"
        roots = [run.test_root]
        if run.test_root != self.root:
            roots.append(self.root)
        python = sorted({u.path for u in units if u.kind != FILE and not u.deleted})
        files = sorted({u.path for u in units if u.kind == FILE})
        modules = sorted({u.module for u in units if u.deleted and u.module})
        shutil.copyfile(CHILD_COVERAGE, run.helper / "sitecustomize.py")
        run.env["TACTFUL_EXERCISE_DATA"] = str(run.results / "exercise")
        run.env["TACTFUL_EXERCISE_INCLUDE"] = json.dumps(
            [str(root / path) for root in roots for path in python]
        )
        if files:
            run.env["TACTFUL_EXERCISE_FILES"] = json.dumps(
                [str(root / path) for root in roots for path in files]
            )
        if modules:
            run.env["TACTFUL_EXERCISE_MODULES"] = json.dumps(modules)
        run.env["TACTFUL_PROBE_COVERAGE_PATH"] = self._coverage_helper(run)

    def _pytest_args(
        self,
        run: _Run,
        plan: TestPlan,
        environment: Environment,
        skip: set[str],
        first_failure: bool,
    ) -> list[str]:
        shutil.copyfile(PROBE, run.helper / "tactful_probe.py")
        run.env["TACTFUL_PROBE_REPORT"] = str(run.results / "report.json")
        args = ["-p", "tactful_probe", "-q"]
        if _installed(environment, "pytest_cov"):
            args.append("--no-cov")  # its tracer would stop ours from seeing the tests run
        if first_failure:
            args.append("-x")
        # tests that fail with no edit applied say nothing about the edit; test files that do
        # not even collect without it are left out whole
        ignored = sorted(node for node in skip if "::" not in node)
        skipped = sorted(node for node in skip if "::" in node)
        args += [f"--ignore={path}" for path in ignored]
        if plan.node_ids is not None or skipped:
            only = None
            if plan.node_ids is not None:
                only = {"ids": sorted(plan.node_ids), "files": list(plan.whole_files)}
            (run.helper / "select.json").write_text(
                json.dumps({"only": only, "skip": skipped}), encoding="utf-8"
            )
            run.env["TACTFUL_PROBE_SELECT"] = str(run.helper / "select.json")
        args += [path for path in plan.files if path not in ignored]
        return args

    async def _tests(
        self,
        backend: str,
        changes: list[Change],
        plan: TestPlan,
        argv: list[str],
        cmap: CoverageMap | None,
        environment: Environment,
        skip: set[str],
        units: list[Unit],
        first_failure: bool | None = None,
        by_test: bool = False,
    ) -> _Tests:
        """Run the tests of ``plan`` with ``changes`` made, noting which of ``units`` they run."""
        if first_failure is None:
            first_failure = self.options.stop_at_first_failure
        pytest = plan.method is not Selection.COMMAND

        async def work(run: _Run, warm: bool) -> _Tests:
            self._watch(run, units, by_test)
            command = list(argv)
            if pytest:
                command += self._pytest_args(run, plan, environment, skip, first_failure)
            timeout = self.options.timeout_s
            limits = self._limits(timeout)
            outcome = None
            interpreter = str(environment.interpreter) if environment.interpreter else ""
            if (
                warm
                and self.options.warm_pytest
                and pytest
                and backend == "bwrap"
                and not run.deleted
                and command[:3] == [interpreter, "-m", "pytest"]
            ):
                zygote = await asyncio.to_thread(self._warm_pytest_for, environment)
                if zygote is not None:
                    outcome = await self._run_warm(
                        zygote, run.folder, command[3:], run.env, timeout, limits
                    )
            if outcome is None:
                outcome = await self._run_command(run, command, timeout, limits)
            report = _read_json(run.out / "report.json") if pytest else None
            verdict = interpret(outcome, report, plan.method, backend, skip, limits)
            verdict = replace(verdict, cpu_s=outcome.cpu_s)
            trace = None
            if units:
                roots = [run.test_root, self.root]
                trace = await asyncio.to_thread(read_trace, run.out, "exercise", roots)
            return _Tests(verdict, report, trace)

        try:
            return await self._in_run(
                backend, changes, environment, lambda run: work(run, warm=True)
            )
        except ZygoteGone as gone:
            logger.info("the warm pytest of %s is gone (%s): running cold", self.root, gone)
            return await self._in_run(
                backend, changes, environment, lambda run: work(run, warm=False)
            )

    async def _run_command(
        self, run: _Run, command: list[str], timeout: float, limits: Limits
    ) -> RunOutcome:
        """One command in ``run``: sandboxed, on a copy (or an overlay) of the warm copy with
        the run's changes laid in, made afresh for this command."""
        sandboxed = run.backend == "bwrap"
        held = await asyncio.to_thread(self.warm.hold) if sandboxed else None

        def release() -> None:
            nonlocal held
            if held is not None:
                self.warm.release(held)
                held = None

        try:
            return await run_command(
                run.backend,
                run.layout,
                command,
                run.env,
                timeout,
                limits,
                run.helper,
                run.out,
                changes=run.helper / "changes" if sandboxed else None,
                deleted=list(run.deleted),
                # an overlay reads the warm copy until the run ends: held until then
                on_copied=None if run.layout.overlay else release,
            )
        finally:
            release()

    # The differential check -------------------------------------------------------------------

    async def _differential(
        self,
        backend: str,
        changes: list[Change],
        before: dict[str, str | None],
        missing: list[Unit],
        environment: Environment,
        verdict: Verdict,
        failing: set[str],
        cmap: CoverageMap | None,
        present: set[str],
    ) -> Verdict:
        """For changed functions the tests do not run: old against new on the same inputs."""
        after = {change.path: change.new_text for change in changes}
        present = present | {path for path, text in after.items() if text is not None}
        targets: list[differential.Target] = []
        problems: list[str] = []
        for unit in missing:
            old_text, new_text = before.get(unit.path), after.get(unit.path)
            if unit.kind != FUNCTION or old_text is None or new_text is None:
                problems.append(f"{unit.label}: a change outside any function")
                continue
            found = differential.target_for(unit, old_text, new_text, present.__contains__)
            if isinstance(found, str):
                problems.append(found)
            else:
                targets.append(found)
        if problems:
            return replace(verdict, reason="; ".join(problems))
        recorded = await self._record_inputs(backend, targets, environment, failing, cmap)
        inputs: dict[str, list[bytes] | str] = {}
        for target in targets:
            made = await asyncio.to_thread(
                differential.generate_inputs, target, self.options.inputs
            )
            inputs[target.label] = made
            if isinstance(made, str) and not recorded.get(target.label):
                problems.append(made)
        if problems:
            return replace(verdict, reason="; ".join(problems))

        async def work(run: _Run) -> dict | None:
            specs = []
            for number, target in enumerate(targets):
                folder = run.helper / "inputs" / str(number)
                folder.mkdir(parents=True)
                differential.write_inputs(folder, recorded.get(target.label, []), prefix="r")
                made = inputs[target.label]
                if isinstance(made, list):
                    differential.write_inputs(folder, made)
                specs.append(target.spec(str(folder)))
            shutil.copyfile(HARNESS, run.helper / "tactful_harness.py")
            spec = {
                "root": str(run.test_root),
                "out": str(run.results / "differential.json"),
                "targets": specs,
                "per_call_s": 2.0,
                "budget_s": max(5.0, self.options.timeout_s - 10),
            }
            (run.helper / "harness.json").write_text(json.dumps(spec), encoding="utf-8")
            command = [
                str(environment.interpreter),
                str(run.helper / "tactful_harness.py"),
                str(run.helper / "harness.json"),
            ]
            timeout = self.options.timeout_s
            outcome = await self._run_command(run, command, timeout, self._limits(timeout))
            report = _read_json(run.out / "differential.json")
            if report is None:
                logger.info("the differential check did not report: %s", outcome.output[-2000:])
            return report

        started = time.monotonic()
        report = await self._in_run(backend, changes, environment, work)
        outcome = differential.read_report(report, targets)
        took = verdict.duration_s + time.monotonic() - started
        if outcome.counterexample is not None:
            return replace(
                verdict,
                status=Status.DIFFERENT,
                inputs=outcome.compared,
                counterexample=outcome.counterexample,
                duration_s=took,
                reason="the new version behaves differently from the old one",
            )
        if outcome.equivalent:
            return replace(
                verdict,
                status=Status.EQUIVALENT,
                inputs=outcome.compared,
                duration_s=took,
                reason="no test runs this code; the old and the new version behave the same "
                f"on {outcome.compared} inputs",
            )
        return replace(verdict, duration_s=took, reason="; ".join(outcome.problems))

    async def _record_inputs(
        self,
        backend: str,
        targets: list[differential.Target],
        environment: Environment,
        failing: set[str],
        cmap: CoverageMap | None,
    ) -> dict[str, list[bytes]]:
        """Inputs each target received in the project's own runs of the unedited code: its
        module's doctests, and the tests that reach it but fail anyway (which decide nothing
        but still call it with real values). Pickled inside the sandbox, copied as they are."""
        doctests = sorted({t.path for t in targets if ">>>" in (self.warm.read(t.path) or "")})
        reaching: set[str] = set()
        for target in targets:
            if cmap is None:
                continue
            first, last = target.old_body
            covering, _ = cmap.tests_covering(target.path, range(first, last + 1))
            reaching |= covering & failing
        if not doctests and not reaching:
            return {}
        # the same unedited code, environment and tests record the same inputs: kept
        key = _digest(
            json.dumps(
                [
                    [
                        (
                            t.path,
                            t.old_source,
                            t.old_first_line,
                            _digest(self.warm.read(t.path) or ""),
                        )
                        for t in targets
                    ],
                    sorted(reaching),
                    doctests,
                    environment.fingerprint(),
                ]
            )
        )
        if key in self._recorded:
            return self._recorded[key]
        argv = [str(environment.interpreter), "-m", "pytest"]
        recorded: dict[str, list[bytes]] = {}

        async def work(run: _Run) -> None:
            shutil.copyfile(RECORDER, run.helper / "tactful_recorder.py")
            roots = {run.test_root, self.root}
            spec = {
                "out": str(run.results),
                "limit": RECORDED_INPUTS,
                "targets": [
                    {
                        "id": f"recorded-t{number}",
                        "file": str(root / target.path),
                        "line": target.old_first_line,
                        "name": target.name,
                    }
                    for number, target in enumerate(targets)
                    for root in roots
                ],
            }
            (run.helper / "record.json").write_text(json.dumps(spec), encoding="utf-8")
            run.env["TACTFUL_RECORD_SPEC"] = str(run.helper / "record.json")
            command = [*argv, "-p", "tactful_recorder", "-q", "-p", "no:cacheprovider"]
            if doctests:
                command += ["--doctest-modules", *doctests]
            command += sorted(reaching)
            timeout = self.options.timeout_s
            await self._run_command(run, command, timeout, self._limits(timeout))
            # read as bytes only: what the sandbox pickled is unpickled in the sandbox alone
            for number, target in enumerate(targets):
                files = sorted(run.out.glob(f"recorded-t{number}-*.pkl"))
                recorded[target.label] = [source.read_bytes() for source in files]

        await self._in_run(backend, [], environment, work)
        if len(self._recorded) > 64:
            self._recorded.clear()
        self._recorded[key] = recorded
        return recorded

    # Warm pytest -----------------------------------------------------------------------------

    def _warm_pytest_for(self, environment: Environment) -> WarmPytest | None:
        """The zygote for this workspace's interpreter and environment, started on first use."""
        interpreter = environment.interpreter
        if interpreter is None:
            return None
        key = f"{interpreter}|{environment.fingerprint()}"
        with self._warm_pytest_lock:
            current = self._warm_pytest
            if current is not None and current.alive and self._warm_pytest_key == key:
                return current
            if current is not None:
                current.close()
                self._warm_pytest = None
            if self._warm_pytest_failures >= 2:
                return None
            readonly = [*self._environment_folders(environment), self._coverage_folder()]
            venvs = [relative for relative in self._inner_environments(environment)]
            runs = self.warm.runs
            runs.mkdir(parents=True, exist_ok=True)
            spec = {
                "venvs": venvs,
                "root": str(self.root),
                "warm_at": WARM_AT,
                "scratch_at": SCRATCH_AT,
                "out_at": OUT_AT,
                "runs": str(runs),
                # each run mounts a /tmp of its own: what lives under the zygote's is bound again
                "under_tmp": [
                    str(path)
                    for path in readonly_binds(readonly)
                    if path.is_relative_to("/tmp") and path != self.root
                ],
                "preload": ["pytest"],
                "warm_imports": ["coverage"],
                "warm_path": str(self._coverage_folder()),
            }
            empty = overlay_layer(self.warm.home)
            argv = base_view(readonly, ZYGOTE_TMP_BYTES, nested=True, empty=empty)
            argv += ["--ro-bind", str(self.warm.copy), WARM_AT, "--bind", str(runs), str(runs)]
            argv += ["--dir", SCRATCH_AT, "--dir", OUT_AT, "--dir", str(self.root)]
            for name in venvs:
                argv += readonly_view(str(self.root / name), str(self.root / name), empty)
            spec_path = runs / "zygote.json"
            argv += ["--remount-ro", "/", "--", str(interpreter), "-I", str(ZYGOTE), str(spec_path)]
            limits = self._limits(self.options.timeout_s)
            # a ceiling for the zygote and the runs it forks together, where the machine has
            # control groups; each run is also watched and limited on its own (zygote.py)
            group = RunGroup.create(
                f"tactful-zygote-{os.getpid()}-{id(self):x}",
                2 * (limits.processes + PROCESS_MARGIN),
                2 * (limits.memory_bytes + 3 * limits.disk_bytes) + MEMORY_MARGIN,
            )
            zygote = WarmPytest(
                join_command(group, argv), spec, spec_path, self.warm.home / "zygote.log", group
            )
            if not zygote.start():
                self._warm_pytest_failures += 1
                logger.info("no warm pytest for %s: %s", self.root, zygote.failure)
                return None
            self._warm_pytest, self._warm_pytest_key = zygote, key
            # a sandbox dropped without close() does not leave its zygote behind
            weakref.finalize(self, zygote.close)
            return zygote

    async def _run_warm(
        self,
        zygote: WarmPytest,
        run: Path,
        args: list[str],
        env: dict[str, str],
        timeout: float,
        limits: Limits,
    ) -> RunOutcome:
        """One run forked from the warm pytest; ZygoteGone when it could not be done there."""
        out = run / "out"
        request = {
            "id": run.name,
            "helper": str(run / "helper"),
            "out": str(out),
            "args": args,
            "env": env,
            "limits": limits.to_jail(True),
            "deadline_s": timeout,
        }
        started = time.monotonic()
        # the warm copy lies under the run's overlay: it must not change meanwhile
        held = await asyncio.to_thread(self.warm.hold)
        try:
            finished = asyncio.wrap_future(zygote.submit(request))
            timed_out = False
            code: int | None = None
            try:
                code = await asyncio.wait_for(asyncio.shield(finished), timeout + JAIL_GRACE_S)
            except TimeoutError:
                timed_out = True
                zygote.kill(run.name)
                with contextlib.suppress(TimeoutError, ZygoteGone):
                    await asyncio.wait_for(finished, JAIL_GRACE_S)
            except asyncio.CancelledError:
                # killed before re-raising, so nothing of the run outlives the cancellation
                zygote.kill(run.name)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(finished, JAIL_GRACE_S)
                raise
        finally:
            self.warm.release(held)
        usage = await asyncio.to_thread(read_usage, out)
        stopped = usage.get("stopped")
        if stopped == "deadline" or code == TIMED_OUT:
            timed_out = True
        if stopped not in ("processes", "memory", "disk"):
            stopped = zygote.stopped() or ("cpu" if code == 128 + signal.SIGXCPU else None)
        output = read_output(out / "output.txt")
        duration = time.monotonic() - started
        return RunOutcome(
            None if timed_out else code,
            output,
            duration,
            timed_out,
            stopped,
            float(usage.get("cpu_s", 0.0)),
        )

    def close(self) -> None:
        """Stop the warm pytest, if one runs (it also stops when this process ends)."""
        with self._warm_pytest_lock:
            if self._warm_pytest is not None:
                self._warm_pytest.close()
                self._warm_pytest = None

    # Coverage map --------------------------------------------------------------------------

    def _map_path(self) -> Path:
        return self.warm.home / "coverage-map.json"

    def _load_map(self) -> CoverageMap | None:
        if not self._map_loaded:
            self._map = CoverageMap.load(self._map_path())
            self._map_loaded = True
        return self._map

    def start_coverage_map(self) -> None:
        """Build or update the coverage map in the background (trusted workspaces only)."""
        if self._closed_reason() or (self._map_task is not None and not self._map_task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._map_task = loop.create_task(self._update_map())

    async def update_coverage_map(self) -> CoverageMap | None:
        """Make the coverage map current for the workspace as it is now; None when it cannot.

        A build already running in the background is waited for, never started twice.
        """
        while self._map_task is not None and not self._map_task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._map_task)
        self._map_task = asyncio.ensure_future(self._update_map())
        return await asyncio.shield(self._map_task)

    async def _update_map(self) -> CoverageMap | None:
        if self._closed_reason():
            return None
        environment = await asyncio.to_thread(self.environment)
        argv = self.command(environment)
        if argv is None or not _is_pytest(argv):
            return None
        backend = await self.backend()
        if not backend.available:
            return None
        name = backend.name or "none"
        state = await asyncio.to_thread(self.warm.sync)
        cmap = await asyncio.to_thread(self._load_map)
        if self._map_failed_for == state.digest:
            return cmap
        current = {path: digest for path, digest in state.files.items() if tracked(path)}
        if cmap is not None and cmap.files == current:
            return cmap
        plan, changed = self._map_plan(cmap, state)
        started = time.monotonic()

        async def work(run: _Run) -> tuple[Verdict, dict | None, dict, set[str]]:
            command = [*argv, *self._pytest_args(run, plan, environment, set(), False)]
            shutil.copyfile(CHILD_COVERAGE, run.helper / "sitecustomize.py")
            data_file = run.out / "coverage.sqlite"
            run.env["TACTFUL_PROBE_COVERAGE"] = str(run.results / data_file.name)
            run.env["TACTFUL_PROBE_COVERAGE_PATH"] = self._coverage_helper(run)
            timeout = max(600.0, self.options.timeout_s * 10)
            outcome = await self._run_command(run, command, timeout, self._limits(timeout))
            report = _read_json(run.out / "report.json")
            verdict = interpret(outcome, report, plan.method, name)
            if report is None or not data_file.exists() or verdict.status is Status.ERROR:
                return verdict, report, {}, set()
            test_root = run.test_root
            measured = await asyncio.to_thread(read_coverage_data, data_file, test_root)
            # a test whose Python children were measured is seen like any other
            opaque = set(report.get("spawning", [])) - await asyncio.to_thread(
                child_contexts, data_file
            )
            return verdict, report, measured, opaque

        verdict, report, measured, opaque = await self._in_run(name, [], environment, work)
        if report is None or not measured:
            logger.info("coverage map not made: %s", verdict.reason or verdict.status.value)
            self._map_failed_for = state.digest
            return cmap
        fresh = cmap if cmap is not None and plan.method is not Selection.ALL else CoverageMap()
        fresh.merge_run(
            report.get("collected", []),
            report.get("outcomes", {}),
            measured,
            state.files,
            changed,
            opaque,
        )
        await asyncio.to_thread(fresh.save, self._map_path())
        self._map = fresh
        logger.info(
            "coverage map %s for %d tests in %.1f s",
            "made" if plan.method is Selection.ALL else "updated",
            len(fresh.tests),
            time.monotonic() - started,
        )
        return fresh

    @staticmethod
    def _map_plan(cmap: CoverageMap | None, state: WorkspaceState) -> tuple[TestPlan, set[str]]:
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

    async def aclose(self) -> None:
        """Stop background work (the coverage map build) and the warm pytest."""
        await asyncio.to_thread(self.close)
        if self._map_task is not None and not self._map_task.done():
            self._map_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._map_task


def _units(changes: list[Change], before: dict[str, str | None], present: set[str]) -> list[Unit]:
    """What the changes changed, as the units tests must run (parsing: off the event loop)."""
    return [
        unit
        for change in changes
        if change.path in before
        for unit in changed_units(
            change.path, before[change.path], change.new_text, present.__contains__
        )
    ]


def _layout_only(
    units: list[Unit], before: dict[str, str | None], changes: list[Change]
) -> list[Unit]:
    """The units whose change leaves them the same code (``exercise.same_code``)."""
    after = {change.path: change.new_text for change in changes}
    return [unit for unit in units if same_code(unit, before.get(unit.path), after.get(unit.path))]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _read_json(path: Path) -> dict | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None

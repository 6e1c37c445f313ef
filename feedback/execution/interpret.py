"""Verdict interpretation: what a validation decides from the runs of the tests.

Boundary: between the judge's order of work and the runner; it starts no process of its own,
asking the runner (and the warm pytest, and the differential check) for the runs it needs.

``interpret`` reads one run's exit status, output and probe report as a verdict on the tests
alone: it says whether the tests passed, failed, timed out or
could not run; whether they ran the changed code is decided after it (``exercise.py``), so a
run whose tests all passed is ``passed`` here only provisionally. A run in which no test ran
(pytest's exit status 5, or every test deselected) is ``unexercised`` with no tests. Tests in
``failing_before`` failed without the edit too: they decide nothing either way. A run a limit
stopped says which (the CPU limit is a timeout; any other is what the edit's tests do with it).

``Interpreter.judge`` decides a validation's verdict from there. Tests that fail with the edit
are run again without it, those that fail without it too are set aside and the run repeated, so
they decide nothing; tests that cannot run with the edit but can without it make it fail; a test
command (not pytest) that fails without the edit too is an error. Passing tests must have run
every changed unit: a unit whose change leaves its compiled code as it was needs no test, any
other makes the verdict ``unexercised``, unless the differential check compares the two
versions. What fails without an edit is remembered per workspace state, environment and command.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tactful.feedback.execution.cache import digest
from tactful.feedback.execution.coverage_map import CoverageMap
from tactful.feedback.execution.differential_check import DifferentialCheck
from tactful.feedback.execution.environment import Environment
from tactful.feedback.execution.exercise import (
    RunTrace,
    Unit,
    changed_units,
    read_trace,
    same_behaviour_by_rule,
    same_code,
    unexercised,
)
from tactful.feedback.execution.patch import Change
from tactful.feedback.execution.runner import (
    Limits,
    Run,
    Runner,
    RunOutcome,
    read_json,
    stop_reason,
)
from tactful.feedback.execution.selection import TestPlan
from tactful.feedback.execution.verdict import (
    Selection,
    Status,
    TestFailure,
    Verdict,
    trim_failures,
)
from tactful.feedback.execution.warm_pytest import WarmPytests, ZygoteGone
from tactful.feedback.execution.workspace import WorkspaceState

logger = logging.getLogger(__name__)

NO_TESTS_COLLECTED = 5
FAILURE_MESSAGE_LIMIT = 1000
SIGXCPU = 24
# Tests that fail with the edit are run again without it, at most this many times in one
# validation (each time, those that fail without the edit too are set aside).
BASELINE_ROUNDS = 3


def collect_error_ids(report: dict[str, Any] | None) -> list[str]:
    return [str(e.get("id", "")) for e in (report or {}).get("collect_errors", [])]


def failed_ids(report: dict[str, Any] | None) -> list[str]:
    outcomes: dict[str, str] = dict((report or {}).get("outcomes", {}))
    return [node for node, result in outcomes.items() if result in ("failed", "error")]


def test_failures(
    report: dict[str, Any] | None, node_ids: Collection[str]
) -> tuple[TestFailure, ...]:
    """The failures the probe reported for ``node_ids``, once each (the first report of a test:
    its setup or its call), with their traceback entries inside the workspace; a test file that
    did not collect, with the last error line pytest printed."""
    wanted = set(node_ids)
    found: dict[str, TestFailure] = {}
    for failure in (report or {}).get("failures", []):
        node = str(failure.get("id", ""))
        if node not in wanted or node in found:
            continue
        entries: list[tuple[str, int]] = []
        for entry in failure.get("entries") or []:
            try:
                path, line = str(entry[0]), int(entry[1])
            except (IndexError, TypeError, ValueError):
                continue
            if path and not path.startswith(("/", "../")):
                entries.append((path, line))
        found[node] = TestFailure(
            node,
            str(failure.get("message") or "").strip()[:FAILURE_MESSAGE_LIMIT],
            str(failure.get("statement") or "").strip()[:FAILURE_MESSAGE_LIMIT],
            tuple(entries),
        )
    for error in (report or {}).get("collect_errors", []):
        node = str(error.get("id", ""))
        if node in wanted and node not in found:
            lines = [ln.strip() for ln in str(error.get("text", "")).splitlines() if ln.strip()]
            last = next((ln for ln in reversed(lines) if ln.startswith("E ")), lines[-1:] or [""])
            text = last if isinstance(last, str) else last[0]
            found[node] = TestFailure(node, text.removeprefix("E").strip()[:FAILURE_MESSAGE_LIMIT])
    return tuple(found[node] for node in node_ids if node in found)


def interpret(
    outcome: RunOutcome,
    report: dict[str, Any] | None,
    selection: Selection,
    backend: str,
    failing_before: Collection[str] = (),
    limits: Limits | None = None,
) -> Verdict:
    """The verdict of the tests alone (see the module docstring)."""
    base = Verdict(
        Status.ERROR, duration_s=outcome.duration_s, backend=backend, selection=selection
    )
    tail = trim_failures(outcome.output)
    if outcome.setup_failed:
        line = next((ln for ln in outcome.output.splitlines() if "tactful-jail" in ln), tail)
        return replace(base, reason=line.replace("tactful-jail: ", ""))
    outcomes: dict[str, str] = dict(report.get("outcomes", {})) if report else {}
    ran = [node for node, result in outcomes.items() if result != "skipped"]
    failed = failed_ids(report)
    texts = [f"{f['id']} ({f['when']})\n{f['text']}" for f in (report or {}).get("failures", [])]
    texts += [
        f"{e['id']} (collection)\n{e['text']}" for e in (report or {}).get("collect_errors", [])
    ]
    counted = replace(base, tests_run=len(ran), test_ids=tuple(ran), failed_ids=tuple(failed))
    stopped = outcome.stopped
    if stopped is None and "MemoryError" in outcome.output and outcome.exit_code != 0:
        # an allocation past the address-space limit fails in the process that asked
        stopped = "memory"
    if stopped is not None and limits is not None:
        status = Status.TIMEOUT if stopped == "cpu" else Status.FAILED
        return replace(counted, status=status, failures=tail, reason=stop_reason(stopped, limits))
    if outcome.timed_out:
        return replace(
            counted,
            status=Status.TIMEOUT,
            failures=tail,
            reason=f"the tests did not finish in {outcome.duration_s:.0f} s",
        )
    code = outcome.exit_code
    if selection is Selection.COMMAND:
        status = Status.PASSED if code == 0 else Status.FAILED
        return replace(counted, status=status, failures="" if code == 0 else tail)
    if report is None:
        return replace(base, failures=tail, reason=_first_error_line(outcome.output, code))
    exitstatus = report.get("exitstatus", code)
    new_failures = [node for node in failed if node not in failing_before]
    collect_errors = [e for e in collect_error_ids(report) if e not in failing_before]
    failures = trim_failures("\n\n".join(texts)) if texts else tail
    if code is not None and code > 128:
        signal_number = code - 128
        if signal_number == SIGXCPU:
            return replace(
                counted,
                status=Status.TIMEOUT,
                failures=tail,
                reason="the tests used up their CPU time",
            )
        return replace(
            counted,
            status=Status.FAILED,
            failures=tail,
            reason=f"the test process was killed by signal {signal_number}",
        )
    if new_failures or (collect_errors and exitstatus in (1, 2)):
        return replace(
            counted,
            status=Status.FAILED,
            failed_ids=tuple(new_failures) or tuple(collect_errors),
            failures=failures,
        )
    if exitstatus in (0, 1, 2) and ran:
        return replace(counted, status=Status.PASSED)
    if exitstatus in (0, NO_TESTS_COLLECTED) and not ran:
        return replace(
            counted, status=Status.UNEXERCISED, exercised=False, reason="no tests were collected"
        )
    return replace(counted, failures=failures, reason=_first_error_line(outcome.output, exitstatus))


def _first_error_line(output: str, code: int | None) -> str:
    for line in output.splitlines():
        if line.startswith("tactful-jail: "):
            return line.removeprefix("tactful-jail: ")[:300]
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith(("ERROR:", "Error", "error:")) or "Error:" in stripped:
            return stripped[:300]
    return f"the test command exited with status {code}"


@dataclass(frozen=True, slots=True)
class TestRun:
    """A test run's verdict (on the tests alone), its probe report and what it ran."""

    verdict: Verdict
    report: dict[str, Any] | None
    trace: RunTrace | None


class Interpreter:
    """The verdicts of one workspace's validations, from the runs of its tests."""

    def __init__(
        self, runner: Runner, warm_pytests: WarmPytests, differential: DifferentialCheck
    ) -> None:
        self._runner = runner
        self._warm_pytests = warm_pytests
        self._differential = differential
        # tests found failing without an edit, by (workspace state, environment, command)
        self._failing: dict[str, set[str]] = {}
        self._command_fails: dict[str, int] = {}
        self._runs_unedited: dict[str, bool] = {}  # whether pytest runs a plan with no edit

    async def judge(
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
        """The verdict on ``changes``: the tests of ``plan`` run with them, and what follows."""
        options = self._runner.options
        pytest = plan.method is not Selection.COMMAND
        failing = set(failing)
        tests = await self.tests(backend, changes, plan, argv, environment, failing, units)
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
            fails_anyway = await self.failing_without_edit(
                backend, argv, environment, suspects, state
            )
            if not suspects - fails_anyway:
                failing |= fails_anyway
                tests = await self.tests(backend, changes, plan, argv, environment, failing, units)
                continue
            new = tuple(node for node in verdict.failed_ids if node not in fails_anyway)
            tests = TestRun(
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
        shadowed = (
            sorted({trace.elsewhere[u.path] for u in missing if u.path in trace.elsewhere})
            if trace
            else []
        )
        if shadowed:
            # the tests ran another copy of the changed module: they judged nothing of the change
            module, loaded = shadowed[0]
            return replace(
                verdict,
                status=Status.ERROR,
                exercised=False,
                unexercised=tuple(unit.label for unit in missing),
                reason=f"the tests imported {module} from {loaded}, not from this workspace "
                "(the interpreter's environment has its own copy installed): they did not run "
                "the change",
            )
        # a change of layout, or of annotations no call evaluates, leaves the code a call runs
        # as it was once compiled: no input can tell the two versions apart
        layout_only, rules = await asyncio.to_thread(_layout_only, missing, before, changes)
        if (
            len(layout_only) == len(missing)
            and len(missing) < len(units)
            and not no_tests
            and not rules
        ):
            # the tests ran every changed unit whose code changed once compiled
            return replace(
                verdict,
                status=Status.PASSED,
                exercised=True,
                unexercised=tuple(unit.label for unit in missing),
            )
        # a rule's proof stands in for inputs, never for tests: with some changed code run by
        # the tests and the rest alike only by a rule, that rest is what no test ran
        if len(layout_only) == len(missing) and (
            not rules or len(missing) == len(units) or no_tests
        ):
            return replace(
                verdict,
                status=Status.EQUIVALENT,
                exercised=False if seen or no_tests else None,
                unexercised=tuple(unit.label for unit in missing),
                inputs=0,
                alike_by=rules,
                reason="no test runs this code; the change leaves it as it was once compiled "
                "(only its layout, docstrings, annotations no call evaluates or syntax compiled "
                "alike changed)"
                + (
                    f", but for {' and '.join(rules)}: the old and the new version do the same"
                    if rules
                    else ": the old and the new version run the same code"
                ),
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
        if not options.differential or environment.interpreter is None:
            return verdict
        checked = [unit for unit in missing if unit not in layout_only]
        return await self._differential.check(
            backend, changes, before, checked, environment, verdict, failing, cmap, set(state.files)
        )

    async def tests(
        self,
        backend: str,
        changes: list[Change],
        plan: TestPlan,
        argv: list[str],
        environment: Environment,
        skip: set[str],
        units: list[Unit],
        first_failure: bool | None = None,
        by_test: bool = False,
    ) -> TestRun:
        """Run the tests of ``plan`` with ``changes`` made, noting which of ``units`` they run:
        forked from the warm pytest where it can be, else in a fresh process."""
        runner = self._runner
        options = runner.options
        if first_failure is None:
            first_failure = options.stop_at_first_failure
        pytest = plan.method is not Selection.COMMAND

        async def work(run: Run, warm: bool) -> TestRun:
            runner.watch(run, units, by_test)
            command = list(argv)
            if pytest:
                command += runner.pytest_args(run, plan, environment, skip, first_failure)
            timeout = options.timeout_s
            limits = runner.limits(timeout)
            outcome = None
            interpreter = str(environment.interpreter) if environment.interpreter else ""
            if (
                warm
                and options.warm_pytest
                and pytest
                and backend == "bwrap"
                and not run.deleted
                and command[:3] == [interpreter, "-m", "pytest"]
            ):
                zygote = await asyncio.to_thread(self._warm_pytests.for_environment, environment)
                if zygote is not None:
                    outcome = await self._warm_pytests.run(
                        zygote, run.folder, command[3:], run.env, timeout, limits
                    )
            if outcome is None:
                outcome = await runner.run_in(run, command, timeout, limits)
            report = read_json(run.out / "report.json") if pytest else None
            verdict = interpret(outcome, report, plan.method, backend, skip, limits)
            verdict = replace(verdict, cpu_s=outcome.cpu_s)
            trace = None
            if units:
                roots = [run.test_root, runner.root]
                trace = await asyncio.to_thread(read_trace, run.out, "exercise", roots)
            return TestRun(verdict, report, trace)

        try:
            return await runner.in_run(
                backend, changes, environment, lambda run: work(run, warm=True)
            )
        except ZygoteGone as gone:
            logger.info("the warm pytest of %s is gone (%s): running cold", runner.root, gone)
            return await runner.in_run(
                backend, changes, environment, lambda run: work(run, warm=False)
            )

    # Tests that fail without the edit ---------------------------------------------------------

    def failing_key(
        self,
        state: WorkspaceState,
        environment: Environment,
        argv: list[str],
        unedited: Sequence[Change] = (),
    ) -> str:
        """What decides which tests fail with no edit: the workspace, the interpreter, the
        command and, when "no edit" is another state than the workspace's (``unedited``: the
        changes that make it), those changes."""
        made = [(c.path, None if c.new_text is None else digest(c.new_text)) for c in unedited]
        return digest(json.dumps([state.digest, environment.fingerprint(), argv, made]))

    def failing_known(self, key: str) -> set[str]:
        """The tests found failing with no edit under ``key`` (``failing_key``)."""
        return set(self._failing.get(key, ()))

    def known_failing(
        self,
        state: WorkspaceState,
        environment: Environment,
        argv: list[str],
        cmap: CoverageMap | None,
    ) -> set[str]:
        """The tests known to fail without an edit: found so far, and as the map knows them."""
        known = set(self._failing.get(self.failing_key(state, environment, argv), set()))
        if cmap is not None:
            known |= cmap.failing
        return known

    async def failing_without_edit(
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
        tests = await self.tests(
            backend, list(unedited), plan, argv, environment, set(), [], first_failure=False
        )
        if tests.report is None:
            return set()
        failing = (set(failed_ids(tests.report)) | set(collect_error_ids(tests.report))) & suspects
        if failing:
            key = self.failing_key(state, environment, argv, unedited)
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
        key = digest(
            json.dumps(
                [
                    self.failing_key(state, environment, argv),
                    plan.method.value,
                    plan.files,
                    plan.node_ids,
                    plan.whole_files,
                ]
            )
        )
        if key not in self._runs_unedited:
            tests = await self.tests(backend, [], plan, argv, environment, failing, [])
            self._runs_unedited[key] = tests.verdict.status is not Status.ERROR
        return self._runs_unedited[key]

    async def _command_fails_without_edit(
        self, backend: str, argv: list[str], environment: Environment, state: WorkspaceState
    ) -> int:
        """The test command's exit status with no edit (0: it passes)."""
        key = self.failing_key(state, environment, argv)
        if key not in self._command_fails:
            plan = TestPlan(Selection.COMMAND, why="the test command, without the edit")
            tests = await self.tests(backend, [], plan, argv, environment, set(), [])
            code = 1 if tests.verdict.status is not Status.PASSED else 0
            self._command_fails[key] = code
        return self._command_fails[key]


def units_of(changes: list[Change], before: dict[str, str | None], present: set[str]) -> list[Unit]:
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
) -> tuple[list[Unit], tuple[str, ...]]:
    """The units whose change leaves them the same code (``exercise.same_code``), or the same
    code but for what a rule shows cannot change behaviour (``same_behaviour_by_rule``), and
    the rules needed."""
    after = {change.path: change.new_text for change in changes}
    alike: list[Unit] = []
    rules: list[str] = []
    for unit in units:
        old_text, new_text = before.get(unit.path), after.get(unit.path)
        if same_code(unit, old_text, new_text):
            alike.append(unit)
            continue
        needed = same_behaviour_by_rule(unit, old_text, new_text)
        if needed is not None:
            alike.append(unit)
            rules.extend(rule for rule in needed if rule not in rules)
    return alike, tuple(rules)

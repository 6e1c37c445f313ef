"""The differential check driven: old against new, in a sandboxed run of their own.

Boundary: between the judge and ``differential.py`` (targets, inputs, the report) with
``harness.py`` and ``recorder.py`` (inside the sandbox). For the changed functions the tests do
not run, it records the inputs the project's own runs pass them (doctests, and tests that reach
them but fail without the edit too), generates more, and has the harness call the old and the
new version on each in a run the runner prepares: ``different`` with a counterexample,
``equivalent``, or the verdict it was given with the reason no comparison could be made.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tactful.feedback.execution import differential
from tactful.feedback.execution.cache import digest
from tactful.feedback.execution.coverage_map import CoverageMap
from tactful.feedback.execution.environment import Environment
from tactful.feedback.execution.exercise import FUNCTION, Unit
from tactful.feedback.execution.patch import Change
from tactful.feedback.execution.runner import Run, Runner, read_json
from tactful.feedback.execution.verdict import Status, Verdict

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
HARNESS = HERE / "harness.py"
RECORDER = HERE / "recorder.py"
RECORDED_INPUTS = 50


class DifferentialCheck:
    """The differential check of one workspace, with the inputs its runs recorded."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._recorded: dict[str, dict[str, list[bytes]]] = {}  # inputs recorded, by their run

    async def check(
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
        runner = self._runner
        options = runner.options
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
            made = await asyncio.to_thread(differential.generate_inputs, target, options.inputs)
            inputs[target.label] = made
            if isinstance(made, str) and not recorded.get(target.label):
                problems.append(made)
        if problems:
            return replace(verdict, reason="; ".join(problems))

        async def work(run: Run) -> dict[str, Any] | None:
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
                "budget_s": max(5.0, options.timeout_s - 10),
            }
            (run.helper / "harness.json").write_text(json.dumps(spec), encoding="utf-8")
            command = [
                str(environment.interpreter),
                str(run.helper / "tactful_harness.py"),
                str(run.helper / "harness.json"),
            ]
            timeout = options.timeout_s
            outcome = await runner.run_in(run, command, timeout, runner.limits(timeout))
            report = read_json(run.out / "differential.json")
            if report is None:
                logger.info("the differential check did not report: %s", outcome.output[-2000:])
            return report

        started = time.monotonic()
        report = await runner.in_run(backend, changes, environment, work)
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
        runner = self._runner
        warm = runner.warm
        doctests = sorted({t.path for t in targets if ">>>" in (warm.read(t.path) or "")})
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
        key = digest(
            json.dumps(
                [
                    [
                        (
                            t.path,
                            t.old_source,
                            t.old_first_line,
                            digest(warm.read(t.path) or ""),
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

        async def work(run: Run) -> None:
            shutil.copyfile(RECORDER, run.helper / "tactful_recorder.py")
            roots = {run.test_root, runner.root}
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
            timeout = runner.options.timeout_s
            await runner.run_in(run, command, timeout, runner.limits(timeout))
            # read as bytes only: what the sandbox pickled is unpickled in the sandbox alone
            for number, target in enumerate(targets):
                files = sorted(run.out.glob(f"recorded-t{number}-*.pkl"))
                recorded[target.label] = [source.read_bytes() for source in files]

        await runner.in_run(backend, [], environment, work)
        if len(self._recorded) > 64:
            self._recorded.clear()
        self._recorded[key] = recorded
        return recorded

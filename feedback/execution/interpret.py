"""A test run's exit status, output and probe report, read as a verdict on the tests alone.

Boundary: plain Python, no processes. It says whether the tests passed, failed, timed out or
could not run; whether they ran the changed code is decided after it (``exercise.py``), so a
run whose tests all passed is ``passed`` here only provisionally. A run in which no test ran
(pytest's exit status 5, or every test deselected) is ``unexercised`` with no tests. Tests in
``failing_before`` failed without the edit too: they decide nothing either way. A run a limit
stopped says which (the CPU limit is a timeout; any other is what the edit's tests do with it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from tactful.feedback.execution.runner import Limits, RunOutcome, stop_reason
from tactful.feedback.execution.verdict import (
    Selection,
    Status,
    TestFailure,
    Verdict,
    trim_failures,
)

NO_TESTS_COLLECTED = 5
FAILURE_MESSAGE_LIMIT = 1000
SIGXCPU = 24


def collect_error_ids(report: dict | None) -> list[str]:
    return [str(e.get("id", "")) for e in (report or {}).get("collect_errors", [])]


def failed_ids(report: dict | None) -> list[str]:
    outcomes: dict[str, str] = dict((report or {}).get("outcomes", {}))
    return [node for node, result in outcomes.items() if result in ("failed", "error")]


def test_failures(report: dict | None, node_ids: Collection[str]) -> tuple[TestFailure, ...]:
    """The failures the probe reported for ``node_ids``, once each (the first report of a test:
    its setup or its call), with their traceback entries inside the workspace; a test file that
    did not collect, with the last error line pytest printed."""
    wanted = set(node_ids)
    found: dict[str, TestFailure] = {}
    for failure in (report or {}).get("failures", []):
        node = str(failure.get("id", ""))
        if node not in wanted or node in found:
            continue
        entries = []
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
    report: dict | None,
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

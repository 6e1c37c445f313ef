"""What a validation says about an edit, in the kinds of DESIGN §4.

``passed`` (the tests that ran executed the changed code, and all passed), ``unexercised`` (they
passed without running it), ``equivalent`` / ``different`` (for code no test runs: the old and the
new version called on the same inputs), ``failed``, ``error``, ``timeout``, or ``not-validated``
when nothing ran.

Boundary: plain data handed from the execution judge to the fix proposers, the server and the
CLI. It holds no paths of the sandbox and no protocol types; ``to_json`` is the stable shape that
``tactful validate --format json`` prints (documented in ``docs/validate-json.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASSED = "passed"  # the tests that ran executed the changed code, and all passed
    UNEXERCISED = "unexercised"  # the tests passed, but none ran the changed code
    # no test runs it; old and new behave the same on every input (or compile to the same code)
    EQUIVALENT = "equivalent"
    DIFFERENT = "different"  # no test runs it; old and new behave differently on an input
    FAILED = "failed"
    ERROR = "error"  # the tests could not be run: sandbox, command or interpreter trouble
    TIMEOUT = "timeout"
    NOT_VALIDATED = "not-validated"  # nothing ran: untrusted workspace, no sandbox, disabled


class Selection(StrEnum):
    """How the tests were chosen."""

    COVERAGE = "coverage"  # the tests the coverage map says executed the edited code
    IMPORTS = "imports"  # the test files that import the edited modules, transitively
    ALL = "all"  # the whole suite
    COMMAND = "command"  # a test command tactful cannot select for: it ran as it is
    NONE = "none"  # nothing ran


# Longest failure text kept: enough for a person and for a refinement prompt.
FAILURE_TEXT_LIMIT = 4000


@dataclass(frozen=True, slots=True)
class Counterexample:
    """An input on which the old and the new version of a function behave differently."""

    function: str  # ``path:qualified.name``
    input: str  # the call, e.g. ``total(items=[1, 2])``
    old: str  # what the old version did: ``returned 6`` or ``raised ValueError('…')``
    new: str

    def to_json(self) -> dict[str, str]:
        return {"function": self.function, "input": self.input, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of judging an edit on a sandboxed copy of the workspace."""

    status: Status
    tests_run: int = 0
    test_ids: tuple[str, ...] = ()
    failed_ids: tuple[str, ...] = ()
    failures: str = ""
    duration_s: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the test processes, all of them
    backend: str = ""  # "bwrap", "unshare", "none" (unsandboxed), "" when nothing ran
    selection: Selection = Selection.NONE
    reason: str = ""  # why it is an error, not validated or unexercised, in a person's words
    cached: bool = field(default=False, compare=False)
    selection_reason: str = ""  # how the tests were chosen, in a person's words
    # Whether the tests that ran executed the changed code: None when it could not be seen.
    exercised: bool | None = None
    unexercised: tuple[str, ...] = ()  # the changed code no test ran (``path:function``)
    inputs: int = 0  # inputs both versions were called on (equivalent, different)
    counterexample: Counterexample | None = None
    failing_before: tuple[str, ...] = ()  # tests that fail without the edit too: set aside
    interpreter: str = ""
    # for ``equivalent`` with no inputs: what, besides layout, the two versions differ in that
    # cannot change behaviour (``exercise.same_behaviour_by_rule``)
    alike_by: tuple[str, ...] = ()

    @property
    def validated(self) -> bool:
        """True when something ran to a verdict on the edit itself."""
        return self.status in (
            Status.PASSED,
            Status.FAILED,
            Status.TIMEOUT,
            Status.EQUIVALENT,
            Status.DIFFERENT,
        )

    @property
    def passed(self) -> bool:
        """Tests ran the changed code and passed: the only verdict called "tests passed"."""
        return self.status is Status.PASSED

    @property
    def rejected(self) -> bool:
        """The edit breaks something: its tests failed, or it behaves differently."""
        return self.status in (Status.FAILED, Status.DIFFERENT)

    @property
    def unsandboxed(self) -> bool:
        return self.backend == "none"

    def summary(self) -> str:
        """A short phrase for titles: ``14 tests passed``, ``not validated (…)``."""
        if self.status is Status.NOT_VALIDATED:
            return f"not validated ({self.reason})" if self.reason else "not validated"
        suffix = ", unsandboxed" if self.unsandboxed else ""
        if self.reason.startswith("stopped: ") and self.status in (Status.FAILED, Status.TIMEOUT):
            return f"tests {self.reason}{suffix}"
        if self.status is Status.PASSED:
            noun = "test" if self.tests_run == 1 else "tests"
            if self.selection is Selection.COMMAND:
                return f"tests passed{suffix}"
            return f"{self.tests_run} {noun} passed{suffix}"
        if self.status is Status.UNEXERCISED:
            if self.tests_run == 0 and self.selection is not Selection.COMMAND:
                return f"no test runs this code{suffix}"
            if self.exercised is None:
                return f"tests pass, but none was seen running this code{suffix}"
            return f"tests pass, but none runs this code{suffix}"
        if self.status is Status.EQUIVALENT:
            if self.inputs == 0 and self.alike_by:
                return f"same code once compiled, but for {' and '.join(self.alike_by)}{suffix}"
            if self.inputs == 0:
                return f"same code once compiled{suffix}"
            noun = "input" if self.inputs == 1 else "inputs"
            return f"same behaviour on {self.inputs} {noun}{suffix}"
        if self.status is Status.DIFFERENT:
            if self.counterexample is not None:
                example = self.counterexample
                return (
                    f"behaves differently: {example.input} {example.new} "
                    f"(before: {example.old}){suffix}"
                )
            return f"behaves differently{suffix}"
        if self.status is Status.FAILED:
            if self.failed_ids:
                count = len(self.failed_ids)
                total = max(self.tests_run, count)
                noun = "test" if total == 1 else "tests"  # "1 of 2 tests failed"
                return f"{count} of {total} {noun} failed{suffix}"
            return f"tests failed{suffix}"
        if self.status is Status.TIMEOUT:
            return f"tests timed out after {self.duration_s:.0f} s{suffix}"
        return f"not validated (error: {self.reason})" if self.reason else "not validated (error)"

    def with_cached(self) -> Verdict:
        return replace(self, cached=True)

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "summary": self.summary(),
            "tests_run": self.tests_run,
            "test_ids": list(self.test_ids),
            "failed_ids": list(self.failed_ids),
            "failures": self.failures,
            "duration_s": round(self.duration_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "backend": self.backend,
            "sandboxed": bool(self.backend) and not self.unsandboxed,
            "selection": self.selection.value,
            "selection_reason": self.selection_reason,
            "exercised": self.exercised,
            "unexercised": list(self.unexercised),
            "inputs": self.inputs,
            "counterexample": self.counterexample.to_json() if self.counterexample else None,
            "failing_before": list(self.failing_before),
            "interpreter": self.interpreter,
            "alike_by": list(self.alike_by),
            "reason": self.reason,
            "cached": self.cached,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Verdict:
        """The verdict ``to_json`` gave (unknown keys ignored)."""
        example = raw.get("counterexample")
        exercised = raw.get("exercised")
        return cls(
            status=Status(raw["status"]),
            tests_run=int(raw.get("tests_run", 0)),
            test_ids=tuple(raw.get("test_ids", ())),
            failed_ids=tuple(raw.get("failed_ids", ())),
            failures=str(raw.get("failures", "")),
            duration_s=float(raw.get("duration_s", 0.0)),
            cpu_s=float(raw.get("cpu_s", 0.0)),
            backend=str(raw.get("backend", "")),
            selection=Selection(raw.get("selection", "none")),
            reason=str(raw.get("reason", "")),
            selection_reason=str(raw.get("selection_reason", "")),
            exercised=exercised if isinstance(exercised, bool) else None,
            unexercised=tuple(raw.get("unexercised", ())),
            inputs=int(raw.get("inputs", 0)),
            counterexample=Counterexample(**example) if isinstance(example, dict) else None,
            failing_before=tuple(raw.get("failing_before", ())),
            interpreter=str(raw.get("interpreter", "")),
            alike_by=tuple(raw.get("alike_by", ())),
        )


@dataclass(frozen=True, slots=True)
class TestFailure:
    """One failing test as pytest reported it: its node id, the exception line (pytest's
    ``assert`` rewrite included: ``AssertionError: assert 6 == 5 …``), the statement of the test
    that failed (``assert add(2, 3) == 5``, empty when it could not be read), and its traceback
    entries, outermost first, as (path relative to the workspace, one-based line)."""

    __test__ = False  # not a test class, whatever pytest makes of its name

    node_id: str
    message: str = ""
    statement: str = ""
    entries: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeCheck:
    """The tests of what changed since a base, run on the workspace as it is
    (``Sandbox.check_changes``): the verdict, each test that fails with the change and not
    without it, and for each test that ran, the changed lines it ran (path relative to the
    workspace -> one-based lines; empty when the run could not see them)."""

    verdict: Verdict
    failures: tuple[TestFailure, ...] = ()
    ran: dict[str, dict[str, frozenset[int]]] = field(default_factory=dict)


def not_validated(reason: str) -> Verdict:
    return Verdict(status=Status.NOT_VALIDATED, reason=reason)


def trim_failures(text: str, limit: int = FAILURE_TEXT_LIMIT) -> str:
    """Keep the start and the end of a long failure text: the first error and the summary."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head - 40
    return f"{text[:head]}\n… ({len(text) - head - tail} characters cut) …\n{text[-tail:]}"

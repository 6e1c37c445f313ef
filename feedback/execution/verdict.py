"""What a validation says about an edit: passed, failed, error, timeout, or not validated.

Boundary: plain data handed from the execution judge to the fix proposers, the server and the
CLI. It holds no paths of the sandbox and no protocol types; ``to_json`` is the stable shape that
``tactful validate --format json`` prints (documented in ``docs/validate-json.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the tests could not be run: sandbox, command or interpreter trouble
    TIMEOUT = "timeout"
    NOT_VALIDATED = "not-validated"  # nothing ran: untrusted workspace, no sandbox, disabled


class Selection(StrEnum):
    """How the tests were chosen."""

    COVERAGE = "coverage"  # the tests that executed the edited code
    IMPORTS = "imports"  # the test files that import the edited modules, transitively
    ALL = "all"  # the whole suite
    COMMAND = "command"  # a test command tactful cannot select for: it ran as it is
    NONE = "none"  # nothing ran


# Longest failure text kept: enough for a person and for a refinement prompt.
FAILURE_TEXT_LIMIT = 4000


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of running the selected tests on a sandboxed copy with an edit applied."""

    status: Status
    tests_run: int = 0
    test_ids: tuple[str, ...] = ()
    failed_ids: tuple[str, ...] = ()
    failures: str = ""
    duration_s: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the test processes, all of them
    backend: str = ""  # "bwrap", "unshare", "none" (unsandboxed), "" when nothing ran
    selection: Selection = Selection.NONE
    reason: str = ""  # why it is an error or was not validated, in a person's words
    cached: bool = field(default=False, compare=False)

    @property
    def validated(self) -> bool:
        """True when tests actually ran to a verdict on the edit."""
        return self.status in (Status.PASSED, Status.FAILED, Status.TIMEOUT)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

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
        if self.status is Status.FAILED:
            if self.failed_ids:
                count = len(self.failed_ids)
                noun = "test" if count == 1 else "tests"
                return f"{count} of {max(self.tests_run, count)} {noun} failed{suffix}"
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
            "reason": self.reason,
            "cached": self.cached,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Verdict:
        """The verdict ``to_json`` gave (unknown keys ignored)."""
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
        )


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

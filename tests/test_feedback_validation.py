"""One rule for whether tests may run on a proposed edit: fixes and next edits share it."""

from __future__ import annotations

from pathlib import Path

from tactful.analyzers.text import Edit, Point, Span
from tactful.feedback.execution import Sandbox, ValidationOptions
from tactful.feedback.execution.verdict import Status
from tactful.feedback.validation import Validation


def test_the_first_reason_tests_may_not_run_is_the_one_given(tmp_path: Path) -> None:
    def sandbox() -> Sandbox:
        return Sandbox(tmp_path, ValidationOptions(), trusted=True)

    def decide(**given: bool) -> Validation:
        facts = {"enabled": True, "trusted": True, "has_folder": True, **given}
        return Validation.decide(tests=sandbox, **facts)

    assert decide(enabled=False, trusted=False).reason == "validation is off"
    assert decide(trusted=False, has_folder=False).reason == "workspace not trusted"
    assert decide(has_folder=False).reason == "no workspace folder"
    allowed = decide()
    assert allowed.may_run and allowed.reason == ""
    assert not decide(trusted=False).may_run


async def test_a_validation_that_may_not_run_says_why_and_runs_nothing(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("x = 1\n")
    made: list[Sandbox] = []

    def sandbox() -> Sandbox:
        made.append(Sandbox(tmp_path, ValidationOptions(), trusted=False))
        return made[-1]

    refused = Validation.decide(enabled=True, trusted=False, has_folder=True, tests=sandbox)
    edit = Edit("mod.py", Span(Point(0, 4), Point(0, 5)), "2")
    verdict = await refused.verdict([edit], {"mod.py": "x = 1\n"})
    assert verdict.status is Status.NOT_VALIDATED
    assert verdict.summary() == "not validated (workspace not trusted)"
    assert made == []

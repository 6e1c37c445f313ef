"""LLM-proposed fixes, through a real OpenAI-compatible HTTP server that plays the model."""

from __future__ import annotations

from pathlib import Path

from fixtures.fake_llm import FakeLLM, Reply

from tactful.analyzers.ruff import RuffOptions
from tactful.analyzers.text import apply_edits
from tactful.feedback.fixes import FixJudge, FixRequest
from tactful.feedback.turn import Outcome
from tactful.suggestion.fixes.llm import LlmConfig

SOURCE = """def pages(fetch):
    out = []
    for page in range(3):
        try:
            out.append(fetch(page))
        except KeyError:
            continue
    return out
"""

# The source back, with a line that lint finds (an import where it does not belong).
WRONG = f"```python\n{SOURCE}    import os\n```"

RIGHT = """Here it is:
```python
def pages(fetch):
    out = []
    for page in range(3):
        value = fetch.get(page)
        if value is not None:
            out.append(value)
    return out
```"""


def judge(tmp_path: Path, fake_llm: FakeLLM) -> FixJudge:
    # PERF203 is about interpreters before 3.11, where `try` in a loop costs time.
    (tmp_path / "pyproject.toml").write_text('[tool.ruff]\ntarget-version = "py39"\n')
    return FixJudge(
        tmp_path,
        ruff_options=RuffOptions(select=("PERF203", "F")),
        not_validated_reason="workspace not trusted",
        llm=LlmConfig(model="openai/fake", api_base=fake_llm.url, timeout_s=10),
    )


def test_llm_fix_gets_rule_docs_and_a_refinement_round(tmp_path: Path, fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply(WRONG), Reply(RIGHT))
    fixes = judge(tmp_path, fake_llm)
    finding = next(f for f in fixes.findings("mod.py", SOURCE) if f.rule == "PERF203")
    turn = fixes.turn(FixRequest(finding, SOURCE))
    offer = turn.offer
    assert offer is not None and offer.fix is not None and offer.fix.origin == "llm"
    # Neither ruff nor a recipe fixes PERF203; the model's first answer fails ruff's screen,
    # its second is offered, labelled: nothing ran.
    sources = [p.source for p in turn.proposals]
    assert sources == ["candidates", "alternatives", "llm round 1", "llm round 2"]
    assert [d.item.source for d in turn.dropped] == ["llm round 1"]
    assert [j.item.source for j in turn.judged] == ["llm round 2"]
    assert turn.outcome is Outcome.SHOWN and offer.rejections[0].startswith("llm round 1: ")
    assert offer.title.endswith("— LLM fix, not validated (workspace not trusted)")
    assert "value = fetch.get(page)" in apply_edits(SOURCE, list(offer.fix.edits))
    first, second = fake_llm.prompts()[:2]
    # The rule's documentation and the enclosing function are in the prompt.
    assert "try-except-in-loop" in first and "def pages(fetch):" in first
    # The refinement shows the model its first answer and why ruff rejected it.
    assert "That fix was rejected" in second and "ruff still reports PERF203" in second


def test_no_answer_means_no_fix(tmp_path: Path, fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply(status=500), Reply(status=500), Reply(status=500))
    fixes = judge(tmp_path, fake_llm)
    finding = next(f for f in fixes.findings("mod.py", SOURCE) if f.rule == "PERF203")
    turn = fixes.turn(FixRequest(finding, SOURCE))
    assert turn.offer is not None and turn.offer.fix is None
    assert turn.outcome is Outcome.SILENT

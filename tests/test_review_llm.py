"""The LLM commenter against the fake OpenAI-compatible server, through the real litellm: what
the model is shown, and that nothing it says lands on a line that did not change."""

from __future__ import annotations

import json

import pytest
from fixtures.fake_llm import FakeLLM, Reply
from fixtures.workspace import Workspace

from tactful.analyzers.diff import working_tree_diff
from tactful.suggestion.review import ReviewOptions, review_diff
from tactful.suggestion.review.llm import LlmReviewConfig, llm_comments, parse_answer

SHOP_OLD = '''def price(item):
    """Price of one item."""
    return item["price"]


def total(items):
    return sum(price(i) for i in items)


def unrelated():
    return 0
'''

SHOP_NEW = '''def price(item):
    """Price of one item."""
    return item["price"]


def total(items, discount):
    token = "sk-live-0123456789abcdefghijklmnopqrstuv"
    return sum(price(i) for i in items) / discount


def unrelated():
    return 0
'''

CART = """from shop import total


def checkout(items):
    return total(items, 0)
"""


@pytest.fixture
def repo(workspace: Workspace) -> Workspace:
    workspace.write("shop.py", SHOP_OLD)
    workspace.write("cart.py", CART)
    workspace.commit("init")
    workspace.write("shop.py", SHOP_NEW)
    workspace.write(".env", "SECRET=hunter2hunter2\n")
    return workspace


def config(fake: FakeLLM) -> LlmReviewConfig:
    return LlmReviewConfig(model="openai/fake", api_base=fake.url, timeout_s=10)


def answer(*comments: object) -> Reply:
    return Reply(json.dumps({"comments": list(comments)}))


def test_prompt_has_numbered_changes_enclosing_function_callers_and_callees(
    repo: Workspace, fake_llm: FakeLLM
) -> None:
    fake_llm.script(answer())
    diff = working_tree_diff(repo.root)

    outcome = llm_comments(diff, config(fake_llm))

    assert outcome.asked == 1  # shop.py only: .env is a secret file and never sent
    (prompt,) = fake_llm.prompts()
    assert "    6+ def total(items, discount):" in prompt
    assert "    8+     return sum(price(i) for i in items) / discount" in prompt
    assert "# called: price (shop.py:1)" in prompt  # the callee, with its documentation
    assert '"""Price of one item."""' in prompt
    assert "# caller of total: cart.py:5" in prompt and "return total(items, 0)" in prompt
    assert "def unrelated" not in prompt  # unchanged code outside the call graph stays out
    assert "sk-live-0123456789" not in prompt and "hunter2" not in prompt


def test_misplaced_out_of_range_and_malformed_comments_are_dropped(
    repo: Workspace, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        answer(
            {
                "line": 8,
                "quote": "return sum(price(i) for i in items) / discount",
                "comment": "Division by zero when discount is 0, as cart.checkout passes.",
            },
            {"line": 3, "comment": "Unchanged line: must not be shown."},
            {"line": 9999, "comment": "Out of range."},
            {"line": 0, "comment": "Out of range too."},
            {"line": "seven", "comment": "Not a number."},
            {"line": 6, "quote": "def something_else():", "comment": "Quote does not match."},
            {"line": 7, "comment": ""},
            {"line": True, "comment": "A boolean is not a line."},
            "just a string",
        )
    )
    diff = working_tree_diff(repo.root)

    review = review_diff(diff, ReviewOptions(llm=config(fake_llm), ruff=False, reviewers=False))

    llm = [c for c in review.comments if c.origin == "llm"]
    assert [(c.line + 1, c.message) for c in llm] == [
        (8, "Division by zero when discount is 0, as cart.checkout passes.")
    ]
    assert any("8 model comment(s) dropped" in note for note in review.notes)


def test_garbage_errors_and_prose_yield_nothing_misplaced(
    repo: Workspace, fake_llm: FakeLLM
) -> None:
    diff = working_tree_diff(repo.root)
    for reply in (
        Reply(garbage=True),
        Reply(status=500),
        Reply("1. Consider renaming things.\n2. Looks good overall."),
        Reply('```json\n{"comments": [{"line": 2, "comment": "x"}\n```'),
    ):
        fake_llm.script(reply)
        outcome = llm_comments(diff, config(fake_llm))
        assert outcome.comments == ()
    fake_llm.script(Reply(status=500))
    outcome = llm_comments(diff, config(fake_llm))
    assert outcome.problems and "could not review shop.py" in outcome.problems[0]


def test_answers_are_parsed_defensively(repo: Workspace) -> None:
    change = working_tree_diff(repo.root).file("shop.py")
    assert change is not None
    wrapped = 'Here you go:\n```json\n[{"line": "7", "body": "Hard-coded token."}]\n```'
    plain = "line 8: divides by a parameter that callers pass as 0\n3. not a line reference"
    many = json.dumps({"comments": [{"line": n, "comment": f"comment {n}"} for n in (6, 7, 8, 8)]})

    assert [(c.line + 1, c.message) for c in parse_answer(wrapped, change)[0]] == [
        (7, "Hard-coded token.")
    ]
    assert [c.line + 1 for c in parse_answer(plain, change)[0]] == [8]
    kept, dropped = parse_answer(many, change)
    assert [c.line + 1 for c in kept] == [6, 7, 8] and dropped == 1

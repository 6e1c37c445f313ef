"""Next edits from a model, against a real HTTP server that plays an OpenAI-compatible provider.

What is checked: what the provider receives (Zeta's prompt: the recent edits as diffs, the
region around the cursor with its markers, secrets redacted or never sent), and what becomes
of its answer (a clean rewrite becomes next edits at the right place; anything else, nothing).
"""

from __future__ import annotations

import pytest
from fixtures.fake_llm import Reply
from fixtures.next_edits import applied, opened

from tactful.analyzers.secrets import REDACTED
from tactful.analyzers.text import Point
from tactful.suggestion.next_edits import LLM, ModelConfig

START = "<|editable_region_start|>"
END = "<|editable_region_end|>"
CURSOR = "<|user_cursor_is_here|>"

SHAPES = """\
def area(w, h):
    return w * h


def perimeter(w, h):
    return 2 * (w + h)


print(area(2, 3))
print(perimeter(2, 3))
"""

# The edit the developer makes first: ``area`` takes a unit.
EDIT = ("def area(w, h):\n    return w * h", "def area(w, h, unit):\n    return f'{w * h}{unit}'")


def config(fake_llm, model: str = "openai/fake", timeout_s: float = 20.0) -> ModelConfig:
    # A generous deadline: litellm's first import and a busy CI machine both take seconds.
    return ModelConfig(model=model, api_base=fake_llm.url, api_key="test", timeout_s=timeout_s)


def answer(text: str) -> Reply:
    """The model's answer: ``text`` as the rewritten editable region, between its markers."""
    return Reply(f"{START}\n{text}{END}")


def after_edit(tmp_path, fake_llm, files=None, **options):
    current = opened(tmp_path, files or {"shapes.py": SHAPES}, model=config(fake_llm, **options))
    cursor = current.edit("shapes.py", *EDIT)
    return current, cursor


def test_the_prompt_is_zetas_recent_edits_and_the_region_at_the_cursor(tmp_path, fake_llm):
    current, cursor = after_edit(tmp_path, fake_llm)
    fake_llm.script(answer(current.text("shapes.py")))
    current.engine.model_edits(current.uri("shapes.py"), cursor)
    (prompt,) = fake_llm.prompts()
    assert "### User Edits:" in prompt and "### User Excerpt:" in prompt
    assert 'User edited "shapes.py":' in prompt
    assert "-def area(w, h):\n" in prompt and "+def area(w, h, unit):\n" in prompt
    assert "@@ -1,5 +1,5 @@" in prompt  # where in the file, with three lines of context
    excerpt = prompt[prompt.index("### User Excerpt:") :]
    assert excerpt.index(START) < excerpt.index(CURSOR) < excerpt.index(END)
    assert f"return f'{{w * h}}{{unit}}'{CURSOR}\n" in excerpt


@pytest.mark.parametrize("model", ["openai/fake", "openai/fake-base"])
def test_a_clean_rewrite_becomes_a_next_edit_where_it_changes_the_region(tmp_path, fake_llm, model):
    current, cursor = after_edit(tmp_path, fake_llm, model=model)
    text = current.text("shapes.py")
    fake_llm.script(answer(text.replace("print(area(2, 3))", "print(area(2, 3, 'm2'))")))
    (item,) = current.engine.model_edits(current.uri("shapes.py"), cursor)
    assert item.source == LLM
    assert item.span.start.line == item.span.end.line == 8
    assert applied(text, item).split("\n")[8] == "print(area(2, 3, 'm2'))"
    request = fake_llm.requests[-1]
    # Chat models get the instruction as the system message; others one text prompt.
    assert ("messages" in request.body) == (model == "openai/fake")


def test_each_changed_block_is_its_own_next_edit_and_inserted_lines_keep_their_breaks(
    tmp_path, fake_llm
):
    current, cursor = after_edit(tmp_path, fake_llm)
    text = current.text("shapes.py")
    rewritten = text.replace("print(area(2, 3))", "print(area(2, 3, 'm2'))").replace(
        "def perimeter", "# Sides in metres.\ndef perimeter"
    )
    fake_llm.script(answer(rewritten))
    items = current.engine.model_edits(current.uri("shapes.py"), cursor)
    assert len(items) == 2
    results = sorted(applied(text, item) for item in items)
    assert "# Sides in metres.\ndef perimeter(w, h):\n" in results[0] + results[1]
    for item in items:
        changed = applied(text, item)
        assert changed.count("\n") - text.count("\n") in (0, 1)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply("print(area(2, 3, 'm2'))"), id="no markers"),
        pytest.param(Reply(f"{START}\nprint(area(2, 3, 'm2'))\n"), id="no closing marker"),
        pytest.param(answer(SHAPES.upper()), id="everything rewritten"),
        pytest.param(answer("x = 1\n"), id="the region replaced by something else"),
        pytest.param(Reply(status=500), id="a server error"),
        pytest.param(Reply(garbage=True), id="a body that is not JSON"),
    ],
)
def test_an_answer_that_does_not_apply_cleanly_gives_nothing(tmp_path, fake_llm, reply):
    current, cursor = after_edit(tmp_path, fake_llm)
    fake_llm.script(reply)
    assert current.engine.model_edits(current.uri("shapes.py"), cursor) == []
    assert len(fake_llm.requests) == 1


def test_the_same_region_given_back_gives_nothing(tmp_path, fake_llm):
    current, cursor = after_edit(tmp_path, fake_llm)
    text = current.text("shapes.py")
    fake_llm.script(answer(text.replace("return 2 * (w + h)", f"return 2 * (w + h){CURSOR}")))
    assert current.engine.model_edits(current.uri("shapes.py"), cursor) == []


def test_a_model_too_slow_for_its_deadline_gives_nothing(tmp_path, fake_llm):
    current, cursor = after_edit(tmp_path, fake_llm, timeout_s=1.0)
    # litellm imported before the clock matters (its first import takes seconds).
    fake_llm.script(answer(current.text("shapes.py")))
    current.engine.model_edits(current.uri("shapes.py"), cursor)
    text = current.text("shapes.py").replace("print(area(2, 3))", "print(area(2, 3, 'm2'))")
    fake_llm.script(Reply(answer(text).text, delay_s=3.0))
    assert current.engine.model_edits(current.uri("shapes.py"), cursor) == []


def test_the_models_next_edits_are_checked_like_the_others(tmp_path, fake_llm):
    current, cursor = after_edit(tmp_path, fake_llm)
    text = current.text("shapes.py")
    # An edit that leaves an unclosed call: it parses worse than before, and is never shown.
    fake_llm.script(answer(text.replace("print(area(2, 3))", "print(area(2, 3, 'm2')")))
    shown = current.suggested("shapes.py", cursor)
    assert all(item.source != LLM for item in shown)
    fake_llm.script(answer(text.replace("print(area(2, 3))", "print(area(2, 3, 'm2'))")))
    shown = current.suggested("shapes.py", cursor)
    assert [item.source for item in shown] == [LLM]
    assert applied(text, shown[0]).split("\n")[8] == "print(area(2, 3, 'm2'))"


def test_without_the_model_asked_no_request_is_made(tmp_path, fake_llm):
    current, cursor = after_edit(tmp_path, fake_llm)
    current.engine.suggest(current.uri("shapes.py"), cursor, use_model=False)
    assert fake_llm.requests == []


KEY = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2


def test_a_secret_in_a_recent_edit_is_redacted_in_the_prompt(tmp_path, fake_llm):
    files = {"shapes.py": SHAPES, "settings.py": "TIMEOUT = 10\n"}
    current = opened(tmp_path, files, model=config(fake_llm))
    current.edit("settings.py", "TIMEOUT = 10\n", f"TIMEOUT = 10\nOPENAI_API_KEY = '{KEY}'\n")
    cursor = current.edit("shapes.py", *EDIT)
    fake_llm.script(answer(current.text("shapes.py")))
    current.engine.model_edits(current.uri("shapes.py"), cursor)
    (prompt,) = fake_llm.prompts()
    assert KEY not in prompt and REDACTED in prompt
    assert 'User edited "settings.py":' in prompt


def test_edits_of_a_secret_file_are_left_out(tmp_path, fake_llm):
    files = {"shapes.py": SHAPES, ".env": "TOKEN=1\n"}
    current = opened(tmp_path, files, model=config(fake_llm))
    current.edit(".env", "TOKEN=1", "TOKEN=2")
    cursor = current.edit("shapes.py", *EDIT)
    fake_llm.script(answer(current.text("shapes.py")))
    current.engine.model_edits(current.uri("shapes.py"), cursor)
    (prompt,) = fake_llm.prompts()
    assert ".env" not in prompt and "TOKEN" not in prompt
    assert 'User edited "shapes.py":' in prompt


def test_a_secret_file_is_never_sent(tmp_path, fake_llm):
    files = {".env.py": "TOKEN = 1\nNAME = 'a'\n"}
    current = opened(tmp_path, files, model=config(fake_llm))
    cursor = current.edit(".env.py", "TOKEN = 1", "TOKEN = 2")
    assert current.engine.model_edits(current.uri(".env.py"), cursor) == []
    assert fake_llm.requests == []


def test_a_region_holding_a_secret_is_never_sent(tmp_path, fake_llm):
    text = SHAPES + f"\nAPI_KEY = '{KEY}'\n"
    current = opened(tmp_path, {"shapes.py": text}, model=config(fake_llm))
    cursor = current.edit("shapes.py", *EDIT)
    assert current.engine.model_edits(current.uri("shapes.py"), cursor) == []
    assert fake_llm.requests == []


def test_read_only_context_around_the_region_goes_redacted(tmp_path, fake_llm):
    # The secret is far below the cursor: outside the region the model may rewrite, inside the
    # lines it reads.
    text = SHAPES + "\n" * 14 + f"API_KEY = '{KEY}'\n"
    current = opened(tmp_path, {"shapes.py": text}, model=config(fake_llm))
    cursor = current.edit("shapes.py", *EDIT)
    fake_llm.script(answer(current.text("shapes.py")))
    current.engine.model_edits(current.uri("shapes.py"), cursor)
    (prompt,) = fake_llm.prompts()
    assert KEY not in prompt and f"API_KEY = '{REDACTED}'" in prompt


def test_no_model_configured_means_no_model_edits(tmp_path):
    current = opened(tmp_path, {"shapes.py": SHAPES})
    cursor = current.edit("shapes.py", *EDIT)
    assert current.engine.model_edits(current.uri("shapes.py"), cursor) == []


def test_an_answer_for_a_cursor_at_the_end_of_a_file_without_a_final_line_break(tmp_path, fake_llm):
    text = "def area(w, h):\n    return w * h\n\nprint(area(2, 3))"
    current = opened(tmp_path, {"shapes.py": text}, model=config(fake_llm))
    cursor = current.edit("shapes.py", "def area(w, h):", "def area(w, h, unit):")
    fake_llm.script(answer(current.text("shapes.py") + "\nprint(area(3, 4))\n"))
    (item,) = current.engine.model_edits(current.uri("shapes.py"), Point(cursor.line, 0))
    assert applied(current.text("shapes.py"), item).endswith("print(area(2, 3))\nprint(area(3, 4))")

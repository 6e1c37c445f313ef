"""The LLM engine against a real HTTP server that plays an OpenAI-compatible provider.

What is checked is what the provider receives (the prompts) and what the engine gives back.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from fixtures.fake_llm import Reply

from tactful.analyzers.secrets import REDACTED
from tactful.analyzers.text import Point
from tactful.suggestion.llm import LlmConfig, LlmEngine
from tactful.suggestion.llm.health import TIMEOUTS_BEFORE_DOWN, LlmState, ProviderHealth
from tactful.suggestion.types import CompletionRequest

CURSOR = "█"


def request_at(
    text: str, path: str, *, root=None, max_lines: int = 8, uri=None
) -> CompletionRequest:
    """A request for ``text`` with the cursor where ``CURSOR`` is (the marker is removed)."""
    offset = text.index(CURSOR)
    text = text.replace(CURSOR, "")
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return CompletionRequest(
        uri=uri or f"file://{path}",
        path=str(path),
        language_id="python",
        version=1,
        text=text,
        position=Point(line, column),
        workspace_root=str(root) if root else None,
        max_lines=max_lines,
    )


def engine_for(
    fake_llm, model="openai/fake-base", health=None, on_change=None, **options
) -> LlmEngine:
    # A generous deadline unless a test is about deadlines: CI machines can be busy.
    options.setdefault("timeout_s", 10.0)
    config = LlmConfig(model=model, api_base=fake_llm.url, api_key="test", debounce_ms=0, **options)
    return started(LlmEngine(config, health=health, on_change=on_change))


def started(engine: LlmEngine) -> LlmEngine:
    """The engine once litellm is imported (the server starts engines before the first request)."""
    engine.start().result(timeout=60)
    return engine


async def complete(engine: LlmEngine, request: CompletionRequest, timeout: float = 10.0):
    return await engine.complete(request, deadline=time.monotonic() + timeout)


SOURCE = "import os\n\ndef area(w, h):\n    return █\n\nprint(area(2, 3))\n"


@pytest.mark.parametrize(
    ("model", "style", "template", "expected"),
    [
        (
            "openai/qwen2.5-coder-7b",
            "auto",
            "auto",
            "<|fim_prefix|># Path: shapes.py\nimport os\n\ndef area(w, h):\n    return"
            "<|fim_suffix|>\n\nprint(area(2, 3))\n<|fim_middle|>",
        ),
        (
            "openai/bigcode/starcoder2-3b",
            "auto",
            "auto",
            "<fim_prefix># Path: shapes.py\nimport os\n\ndef area(w, h):\n    return"
            "<fim_suffix>\n\nprint(area(2, 3))\n<fim_middle>",
        ),
        (
            "openai/deepseek-coder-1.3b-base",
            "auto",
            "auto",
            "<｜fim▁begin｜># Path: shapes.py\nimport os\n\ndef area(w, h):\n    return"
            "<｜fim▁hole｜>\n\nprint(area(2, 3))\n<｜fim▁end｜>",
        ),
        (
            "openai/codellama-7b",
            "auto",
            "auto",
            "<PRE> # Path: shapes.py\nimport os\n\ndef area(w, h):\n    return"
            " <SUF>\n\nprint(area(2, 3))\n <MID>",
        ),
        (
            "openai/my-model",
            "fim",
            "[{suffix}]<{prefix}>",
            "[\n\nprint(area(2, 3))\n]"
            "<# Path: shapes.py\nimport os\n\ndef area(w, h):\n    return>",
        ),
        (
            "openai/my-model",
            "auto",
            "starcoder",
            "<fim_prefix># Path: shapes.py\nimport os\n\ndef area(w, h):\n    return"
            "<fim_suffix>\n\nprint(area(2, 3))\n<fim_middle>",
        ),
        (
            "openai/some-base-model",
            "auto",
            "auto",
            "# Path: shapes.py\nimport os\n\ndef area(w, h):\n    return",
        ),
        (
            "openai/qwen2.5-coder-7b",
            "prefix",
            "auto",
            "# Path: shapes.py\nimport os\n\ndef area(w, h):\n    return",
        ),
    ],
)
async def test_prompt_per_template(fake_llm, tmp_path, model, style, template, expected):
    fake_llm.default = Reply(" w * h\n")
    engine = engine_for(fake_llm, model=model, prompt_style=style, fim_template=template)
    request = request_at(SOURCE, tmp_path / "shapes.py", root=tmp_path)
    suggestions = await complete(engine, request)
    assert [s.text for s in suggestions] == ["w * h"]
    assert fake_llm.prompts() == [expected]
    assert fake_llm.requests[0].path == "/v1/completions"


async def test_chat_prompt_and_fenced_answer(fake_llm, tmp_path):
    fake_llm.default = Reply("```python\nreturn w * h\n```")
    engine = engine_for(fake_llm, model="openai/gpt-4o-mini")
    suggestions = await complete(engine, request_at(SOURCE, tmp_path / "shapes.py", root=tmp_path))
    assert [s.text for s in suggestions] == ["w * h"]
    sent = fake_llm.requests[0]
    assert sent.path == "/v1/chat/completions"
    messages = sent.body["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "    return <CURSOR>\n\nprint(area(2, 3))" in messages[1]["content"]


async def test_canary_secrets_never_reach_the_model(fake_llm, workspace):
    canary_env = "CANARY-ENV-7f3a9c"
    canary_ignored = "CANARY-IGNORED-51bd02"
    aws_key = "AKIAZZCANARY0000TEST"
    workspace.write(".gitignore", "local_settings.py\n")
    workspace.write(
        ".env", f"DATABASE_URL=postgres://u:{canary_env}@h/db\nAPI_TOKEN={canary_env}\n"
    )
    # Same shape as the open file, so retrieval would pick these if it were allowed to.
    shared = "def area(w, h):\n    width = w\n    height = h\n    return width * height\n"
    workspace.write(
        "local_settings.py", f"# {canary_ignored}\n{shared}SECRET = '{canary_ignored}'\n"
    )
    workspace.write("geometry.py", f"# geometry helpers\n{shared}")
    workspace.write("certs/server.pem", f"-----BEGIN PRIVATE KEY-----\n{canary_env}\n")
    workspace.commit("init")
    open_file = (
        "import os\n"
        f'AWS_KEY = "{aws_key}"\n'
        "\n"
        "def area(w, h):\n"
        "    width = w\n"
        "    height = h\n"
        "    return █\n"
    )
    fake_llm.default = Reply("width * height\n")
    engine = engine_for(fake_llm, model="openai/qwen2.5-coder-7b")
    # The server feeds every open buffer to the engine, secret ones included: it must skip them.
    engine.observe(str(workspace.root / ".env"), workspace.read(".env"))
    engine.observe(str(workspace.root / "local_settings.py"), workspace.read("local_settings.py"))
    request = request_at(open_file, workspace.root / "shapes.py", root=workspace.root)
    suggestions = await complete(engine, request)
    assert [s.text for s in suggestions] == ["width * height"]

    (prompt,) = fake_llm.prompts()
    for canary in (canary_env, canary_ignored, aws_key, "PRIVATE KEY"):
        assert canary not in prompt
    assert f'AWS_KEY = "{REDACTED}"' in prompt
    # Retrieval worked, from the file it may read.
    assert "Compare this snippet from geometry.py" in prompt


async def test_a_secret_or_ignored_document_is_not_sent_at_all(fake_llm, workspace):
    workspace.write(".gitignore", "scratch.py\n")
    workspace.commit("init")
    engine = engine_for(fake_llm)
    for name in ("scratch.py", ".env.local"):
        request = request_at("x = 1\ny = █\n", workspace.root / name, root=workspace.root)
        assert await complete(engine, request) == []
    assert fake_llm.requests == []


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        (Reply(status=500), "other"),
        (Reply(status=429), "other"),
        (Reply(garbage=True), "bad answer"),
        (Reply(status=401, error="Incorrect API key provided"), "unauthorized"),
    ],
    ids=["http-500", "http-429", "garbage", "http-401"],
)
async def test_a_failing_provider_is_down_backed_off_and_said_once(
    fake_llm, tmp_path, reply, label, caplog
):
    fake_llm.script(reply, reply)
    states: list[LlmState] = []
    health = ProviderHealth(backoff_s=60.0)
    engine = engine_for(fake_llm, health=health, on_change=states.append)
    caplog.set_level(logging.DEBUG, logger="tactful.suggestion.llm")
    first = request_at(SOURCE, tmp_path / "a.py")
    second = request_at(SOURCE.replace("return", "return  "), tmp_path / "a.py")
    assert await complete(engine, first) == []
    assert await complete(engine, second) == []
    # Backed off: the second request never reached the provider.
    assert len(fake_llm.requests) == 1
    state = engine.state()
    assert state.state == "down" and state.problem is not None
    assert state.problem.label == label
    assert 0 < state.retry_in_s <= 60.0
    assert [s.state for s in states] == ["ready", "down"]
    warnings = [
        r for r in caplog.records if r.name.startswith("tactful") and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1  # said once, not once per keystroke
    assert label in warnings[0].getMessage()


async def test_a_provider_that_answers_again_is_said_to_be_back(fake_llm, tmp_path):
    fake_llm.script(Reply(status=503), Reply(status=503), Reply("w * h\n"))
    states: list[LlmState] = []
    health = ProviderHealth(backoff_s=0.2, cap_s=0.4)
    engine = engine_for(fake_llm, health=health, on_change=states.append)
    path = tmp_path / "a.py"
    assert await complete(engine, request_at(SOURCE, path)) == []
    assert engine.state().state == "down"
    await asyncio.sleep(0.25)
    # The back-off passed: one try, which fails, and the back-off doubles.
    assert await complete(engine, request_at(SOURCE.replace("return", "return "), path)) == []
    assert 0.2 < engine.state().retry_in_s <= 0.4
    await asyncio.sleep(0.45)
    suggestions = await complete(engine, request_at(SOURCE.replace("return", "return  "), path))
    assert [s.text for s in suggestions] == ["w * h"]
    assert engine.state().state == "ready"
    assert [s.state for s in states] == ["ready", "down", "ready"]  # down once, back once
    assert len(fake_llm.requests) == 3


@pytest.mark.parametrize("reply", [Reply(hang=True), Reply("\x00\x01\x02")], ids=["hang", "junk"])
async def test_no_suggestion_and_no_exception(fake_llm, tmp_path, reply):
    fake_llm.default = reply
    engine = engine_for(fake_llm, timeout_s=0.5)
    started = time.monotonic()
    assert await complete(engine, request_at(SOURCE, tmp_path / "a.py")) == []
    assert time.monotonic() - started < 3.0


async def test_a_hanging_provider_is_down_after_timeouts_in_a_row(fake_llm, tmp_path):
    fake_llm.default = Reply(hang=True)
    states: list[LlmState] = []
    engine = engine_for(fake_llm, timeout_s=0.3, on_change=states.append)
    path = tmp_path / "a.py"
    for n in range(TIMEOUTS_BEFORE_DOWN):
        # One slow answer is normal for a model on a CPU: down only when they repeat.
        assert engine.state().state == "ready"
        assert (
            await complete(engine, request_at(SOURCE.replace("return", "return" + " " * n), path))
            == []
        )
    state = engine.state()
    assert state.state == "down" and state.problem is not None
    assert state.problem.label == "timeout"
    assert [s.state for s in states] == ["ready", "down"]


async def test_forward_typing_is_served_without_a_new_call(fake_llm, tmp_path):
    fake_llm.default = Reply("width * height\n")
    engine = engine_for(fake_llm)
    path = tmp_path / "a.py"
    base = "def area(width, height):\n    return █\n"
    first = await complete(engine, request_at(base, path))
    assert [s.text for s in first] == ["width * height"]
    typed = await complete(engine, request_at(base.replace("return █", "return widt█"), path))
    assert [s.text for s in typed] == ["h * height"]
    assert typed[0].origin == "typed-ahead"
    assert len(fake_llm.requests) == 1
    # Typing something else asks the model again.
    fake_llm.default = Reply("width, height)\n")
    other = await complete(engine, request_at(base.replace("return █", "return max(█"), path))
    assert [s.text for s in other] == ["width, height)"]
    assert len(fake_llm.requests) == 2


async def test_same_prompt_is_served_from_the_cache(fake_llm, tmp_path):
    fake_llm.default = Reply("w * h\n")
    engine = engine_for(fake_llm)
    request = request_at(SOURCE, tmp_path / "a.py")
    assert [s.text for s in await complete(engine, request)] == ["w * h"]
    again = await complete(engine, request)
    assert [s.text for s in again] == ["w * h"]
    assert again[0].origin == "prompt-cache"
    assert len(fake_llm.requests) == 1


async def test_streaming_stops_at_max_lines(fake_llm, tmp_path):
    body = "".join(f"    step_{n}()\n" for n in range(40))
    # 40 lines in 4-character chunks, 20 ms apart: about 3 s if read to the end.
    fake_llm.default = Reply(body, chunk_size=4, chunk_delay_s=0.02)
    engine = engine_for(fake_llm, timeout_s=10)
    request = request_at("def run():\n█\n", tmp_path / "a.py", max_lines=3)
    started = time.monotonic()
    suggestions = await complete(engine, request)
    elapsed = time.monotonic() - started
    assert [s.text for s in suggestions] == ["    step_0()\n    step_1()\n    step_2()"]
    assert suggestions[0].kind == "lines"
    assert elapsed < 1.5
    assert fake_llm.requests[0].body["stream"] is True


async def test_text_after_the_cursor_asks_for_one_line(fake_llm, tmp_path):
    fake_llm.default = Reply("w, h\nmore()\n")
    engine = engine_for(fake_llm)
    suggestions = await complete(engine, request_at("print(area(█))\n", tmp_path / "a.py"))
    assert [s.text for s in suggestions] == ["w, h"]
    assert fake_llm.requests[0].body["stop"][0] == "\n"


async def test_debounce_asks_only_for_the_latest_request(fake_llm, tmp_path):
    fake_llm.default = Reply("10\n")
    config = LlmConfig(
        model="openai/fake-base",
        api_base=fake_llm.url,
        api_key="t",
        debounce_ms=150,
        timeout_s=10.0,
    )
    engine = started(LlmEngine(config))
    path = tmp_path / "a.py"
    older = asyncio.create_task(complete(engine, request_at("x = █\n", path)))
    await asyncio.sleep(0.02)
    newer = await complete(engine, request_at("x = 1█\n", path))
    assert await older == []
    assert [s.text for s in newer] == ["10"]
    assert fake_llm.prompts() == ["# Path: a.py\nx = 1"]


async def test_cancelled_request_leaves_the_engine_usable(fake_llm, tmp_path):
    fake_llm.script(Reply("slow()\n", delay_s=1.0), Reply("fast()\n"))
    engine = engine_for(fake_llm)
    path = tmp_path / "a.py"
    task = asyncio.create_task(complete(engine, request_at("x = █\n", path)))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    suggestions = await complete(engine, request_at("y = █\n", path))
    assert [s.text for s in suggestions] == ["fast()"]


async def test_long_file_keeps_imports_and_enclosing_scope(fake_llm, tmp_path):
    body = "".join(f"        total += item.value_{n}\n" for n in range(400))
    head = "import math\nfrom os import path\n\nclass Ledger:\n    def total(self, items):\n"
    source = f"{head}{body}        return █\n"
    fake_llm.default = Reply("total\n")
    engine = engine_for(fake_llm, model="openai/base-model", context_tokens=300)
    await complete(engine, request_at(source, tmp_path / "a.py"))
    (prompt,) = fake_llm.prompts()
    # The blank line between the imports and the class is not a header line: it is left out.
    assert prompt.startswith("# Path: a.py\n" + head.replace("\n\n", "\n"))
    assert prompt.endswith("item.value_399\n        return")
    assert len(prompt) <= 300 * 3.5


async def test_one_line_is_cut_where_the_model_stops_being_sure(fake_llm, tmp_path):
    probs = ((" width", 0.9), (" *", 0.8), (" height", 0.2), (" +", 0.6))
    fake_llm.default = Reply(" width * height +", token_probs=probs)
    engine = engine_for(fake_llm, min_token_prob=0.3)
    request = request_at("def area(width, height):\n    return █\n", tmp_path / "a.py")
    suggestions = await complete(engine, request)
    assert [s.text for s in suggestions] == ["width *"]
    assert suggestions[0].score == pytest.approx(0.72)
    assert fake_llm.requests[0].body["logprobs"] == 1
    assert fake_llm.requests[0].body["stream"] is False

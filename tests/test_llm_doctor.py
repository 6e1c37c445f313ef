"""``tactful doctor``'s LLM check against a real HTTP provider that fails each way a provider
does: the label says what it is, the provider's whole error is printed, and the check ends
within its 3 s deadline even when the provider never answers."""

from __future__ import annotations

import json

import pytest
from fixtures.fake_llm import FakeLLM, Reply, closed_port_url
from fixtures.lsp import tactful
from fixtures.workspace import Workspace

from tactful.analyzers.userdirs import config_dir
from tactful.server.cli import main

UNAUTHORIZED = "Incorrect API key provided"
NO_MODEL = "The model `fake-base` does not exist or you do not have access to it."


def user_llm(model: str, api_base: str | None) -> None:
    user = config_dir() / "config.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    base = f'api_base = "{api_base}"\n' if api_base else ""
    user.write_text(f'[llm]\nmodel = "{model}"\n{base}')


def doctor_json(capsys: pytest.CaptureFixture[str], root: Workspace) -> dict:
    assert main(["doctor", str(root.root), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["llm"]


def provoke(fake: FakeLLM, case: str) -> str | None:
    """Make the provider fail as ``case`` says; the API base to use."""
    if case == "unauthorized":
        fake.require_key = "sk-the-right-one"
    elif case == "not found":
        fake.models = {"another-model"}
    elif case == "other":
        fake.default = Reply(status=503, error="the model is overloaded, try again later")
    elif case == "bad answer":
        fake.default = Reply(garbage=True)
    elif case == "timeout":
        fake.default = Reply(hang=True)
    elif case == "connection refused":
        return closed_port_url()
    return fake.url


@pytest.mark.parametrize(
    ("case", "status", "words"),
    [
        ("ok", None, "answered"),
        ("unauthorized", 401, UNAUTHORIZED),
        ("not found", 404, NO_MODEL),
        ("other", 503, "the model is overloaded, try again later"),
        ("bad answer", 200, "502 upstream garbage"),
        ("timeout", None, "no answer within 3 s"),
        ("connection refused", None, "Connect call failed"),
    ],
)
def test_each_failure_is_labelled_with_the_providers_whole_error(
    case, status, words, fake_llm, workspace: Workspace, capsys
) -> None:
    user_llm("openai/fake-base", provoke(fake_llm, case))
    llm = doctor_json(capsys, workspace)
    assert llm["label"] == case, llm
    assert llm["reachable"] is (case == "ok")
    assert llm["status"] == status
    assert words in llm["detail"]
    # The check asks the endpoint the engine uses: a base model gets a text completion.
    assert llm["asked"].startswith("POST ") and llm["asked"].endswith("/v1/completions")
    assert llm["deadline_s"] == 3.0
    # Well within the time a provider that never answers would take (it never does).
    assert llm["elapsed_ms"] < 6000
    if case in ("unauthorized", "not found", "other"):
        # Not cut off: the provider's whole error object.
        assert json.loads(llm["detail"])["error"]["message"]


def test_no_key_is_said_without_asking(monkeypatch, workspace: Workspace, capsys) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    user_llm("openai/gpt-4o-mini", None)
    llm = doctor_json(capsys, workspace)
    assert llm["label"] == "no key" and llm["reachable"] is False
    assert "OPENAI_API_KEY is not set" in llm["detail"]
    assert llm["asked"].startswith("nothing")


def test_ollama_is_asked_whether_the_model_is_there(workspace: Workspace, capsys) -> None:
    user_llm("ollama/qwen2.5-coder:1.5b", closed_port_url().removesuffix("/v1"))
    llm = doctor_json(capsys, workspace)
    assert llm["label"] == "connection refused"
    assert llm["asked"].endswith("/api/show")


def test_text_report_of_a_hanging_provider(fake_llm, workspace: Workspace, monkeypatch) -> None:
    """The command a user runs: it ends at the check's deadline, and says what happened."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_llm.default = Reply(hang=True)
    user_llm("openai/fake-chat", fake_llm.url)
    done = tactful("doctor", str(workspace.root), timeout=60)
    assert done.returncode == 0, done.stderr
    llm = done.stdout.split("\nllm\n", 1)[1]
    assert "result                   timeout" in llm
    assert "no answer within 3 s" in llm
    assert "/v1/chat/completions (within 3 s)" in llm
    # A chat model is asked in chat; a local server without a key gets a placeholder one.
    (request,) = fake_llm.requests
    assert request.prompt == "Say OK." and request.body["max_tokens"] == 1
    assert request.headers["Authorization"] == "Bearer no-key"

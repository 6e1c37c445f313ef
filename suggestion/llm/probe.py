"""``tactful doctor``'s LLM check: one small request of the kind the engine will make, within
a deadline for the whole check (3 s), its outcome labelled as ``health`` labels it.

Boundary: the only code that reaches a provider without litellm. litellm takes seconds to
import (15 s on a busy machine), longer than the check may take, so the providers most
people point tactful at are asked directly over HTTP (httpx): OpenAI and every
OpenAI-compatible server (``openai/...`` with ``llm.apiBase``: llama.cpp, vLLM, LM Studio,
the embedded model's server) with the endpoint the engine will use (``/completions`` for
fill-in-the-middle and prefix prompts, ``/chat/completions`` for chat), and Ollama by asking
whether the model is there (``/api/show``: no generation, which would first load the model).
Other providers go through litellm with what is left of the deadline. The request carries one
word and asks for one token; no workspace text is ever sent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tactful.suggestion.llm.health import (
    BAD_ANSWER,
    DETAIL_CHARS,
    NO_KEY,
    OK,
    TIMEOUT,
    Problem,
    classify,
    labelled,
)
from tactful.suggestion.llm.prompts import CHAT, prompt_style

DEADLINE_S = 3.0
NOT_CHECKED = "not checked"

_OPENAI = ("openai", "text-completion-openai")
_OLLAMA = ("ollama", "ollama_chat")
_OPENAI_BASE = "https://api.openai.com/v1"
_OLLAMA_BASE = "http://localhost:11434"


@dataclass(frozen=True, slots=True)
class Check:
    """What the check asked (``asked``: method and address, or how) and what came of it:
    ``problem`` None when the provider answered as it should."""

    model: str
    asked: str
    problem: Problem | None
    elapsed_ms: int
    deadline_s: float

    @property
    def label(self) -> str:
        return self.problem.label if self.problem else OK

    def as_json(self) -> dict[str, Any]:
        return {
            "configured": True,
            "model": self.model,
            "reachable": self.problem is None,
            "label": self.label,
            "status": self.problem.status if self.problem else None,
            "detail": self.problem.detail if self.problem else "answered",
            "asked": self.asked,
            "elapsed_ms": self.elapsed_ms,
            "deadline_s": self.deadline_s,
        }


async def check(
    model: str,
    api_base: str | None = None,
    *,
    api_key: str | None = None,
    style: str = "auto",
    fim_template: str = "auto",
    deadline_s: float = DEADLINE_S,
    environ: Mapping[str, str] | None = None,
) -> Check:
    """Ask the provider of ``model`` one small request; the whole check ends within
    ``deadline_s``. ``style`` and ``fim_template`` are ``llm.promptStyle`` and
    ``llm.fimTemplate``: they decide which endpoint the engine uses."""
    env = os.environ if environ is None else environ
    started = time.monotonic()
    provider, _, name = model.partition("/") if "/" in model else ("openai", "", model)
    asked = f"litellm ({provider})"
    problem: Problem | None = None
    litellm: concurrent.futures.Future[Any] = concurrent.futures.Future()
    try:
        async with asyncio.timeout(deadline_s):
            if provider in _OPENAI:
                base = (
                    api_base or env.get("OPENAI_API_BASE") or env.get("OPENAI_BASE_URL") or ""
                ).rstrip("/") or _OPENAI_BASE
                key = api_key or env.get("OPENAI_API_KEY")
                if not key and not api_base:
                    # The engine would send nothing either: litellm refuses without a key.
                    asked = f"nothing (no key for {base})"
                    problem = Problem(
                        NO_KEY, f"OPENAI_API_KEY is not set; {model} is reached at {base}"
                    )
                else:
                    chat = prompt_style(style, model, fim_template) == CHAT
                    path = "/chat/completions" if chat else "/completions"
                    asked = f"POST {base}{path}"
                    body: dict[str, Any] = {"model": name, "max_tokens": 1}
                    if chat:
                        body["messages"] = [{"role": "user", "content": "Say OK."}]
                    else:
                        body["prompt"] = "def"
                    # A local OpenAI-compatible server usually needs no key, but gets one.
                    headers = {"Authorization": f"Bearer {key or 'no-key'}"}
                    problem = await _post(base + path, body, headers)
            elif provider in _OLLAMA:
                base = (api_base or env.get("OLLAMA_API_BASE") or _OLLAMA_BASE).rstrip("/")
                asked = f"POST {base}/api/show"
                problem = await _post(f"{base}/api/show", {"model": name}, {})
            else:
                problem = await _through_litellm(litellm, model, api_base, api_key, deadline_s)
    except TimeoutError:
        if provider in _OPENAI or provider in _OLLAMA or litellm.done():
            problem = Problem(TIMEOUT, f"no answer within {deadline_s:g} s")
        else:
            problem = Problem(
                NOT_CHECKED,
                f"litellm, which reaches {provider}, did not load within {deadline_s:g} s "
                "(the server loads it in the background; the provider was not asked)",
            )
    except Exception as error:
        problem = classify(error)
    elapsed = round((time.monotonic() - started) * 1000)
    return Check(model, asked, problem, elapsed, deadline_s)


async def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> Problem | None:
    import httpx

    # The caller's deadline bounds the whole exchange; httpx's own timeouts are a backstop.
    async with httpx.AsyncClient(timeout=DEADLINE_S * 2, trust_env=False) as client:
        response = await client.post(url, json=body, headers=headers)
        text = response.text
    if response.status_code >= 400:
        return labelled(response.status_code, text)
    try:
        response.json()
    except ValueError:
        return Problem(BAD_ANSWER, text.strip()[:DETAIL_CHARS] or "(no body)", response.status_code)
    return None


async def _through_litellm(
    loaded: concurrent.futures.Future[Any],
    model: str,
    api_base: str | None,
    api_key: str | None,
    deadline_s: float,
) -> Problem | None:
    """A one-token chat request through litellm (imported into ``loaded``), for providers
    asked no other way."""
    from tactful.suggestion.llm.client import import_litellm

    def load() -> None:
        try:
            loaded.set_result(import_litellm())
        except BaseException as error:
            loaded.set_exception(error)

    # A thread of its own that does not keep the process alive: when the deadline passes
    # first, doctor reports and exits without waiting for the import to finish.
    threading.Thread(target=load, name="tactful-doctor-litellm", daemon=True).start()
    # Shielded: the deadline stops the wait, never the import (a cancelled future could not
    # take the thread's result).
    litellm = await asyncio.shield(asyncio.wrap_future(loaded))
    extra: dict[str, Any] = {"api_key": api_key} if api_key else {}
    await litellm.acompletion(
        model=model,
        api_base=api_base,
        messages=[{"role": "user", "content": "Say OK."}],
        max_tokens=1,
        timeout=deadline_s,
        num_retries=0,
        **extra,
    )
    return None

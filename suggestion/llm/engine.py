"""The LLM completion engine: any litellm provider, or the embedded model, behind one interface.

Boundary: implements ``tactful.suggestion.engine.CompletionEngine``. It sends text to the model
configured by the user (``llm.model``, ``llm.apiBase``) and nowhere else, and only text that went
through ``tactful.analyzers.secrets``: a secret or git-ignored document is never sent at all, and
every piece of context is redacted. It never raises and never shows an error: a provider error, a
timeout or an answer that is not code returns no suggestion, and the server's ``auto`` mode
has the local engine's answer meanwhile.

Whether the provider answers is followed in ``health`` (``ProviderHealth``): a provider that
fails is down, asked no more until its back-off has passed (exponential, capped), then tried
once; each change of the engine's ``state()`` (starting, ready, down, failed) is reported to
``on_change``, on the caller's event loop, for the server to say once.

litellm is heavy (seconds and ~200 MB to import), so it is imported in a thread of the
engine's own the first time the engine is started or asked, never while the server starts;
``LITELLM_LOCAL_MODEL_COST_MAP`` is set first so that the import reads litellm's bundled model
list instead of fetching one. That thread then runs an event loop of its own on which every
litellm call runs: what litellm does without awaiting (building an HTTP client and its TLS
context for each streamed text completion, about 0.1 s; logging; parsing) never holds up the
server's event loop, which only awaits the result.

Per request: a forward-typing cache (the user typed the start of the last suggestion: the rest is
served without a call), a cache by prompt, a debounce (a newer request for the document makes an
older one give up), then one call under the deadline. Several lines are asked only where a block
opens, streamed, and reading stops as soon as the suggestion has its lines; one line is asked
with token probabilities and cut where the model stops being sure (``min_token_prob``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from tactful.analyzers.secrets import is_secret_path
from tactful.suggestion.engine import LLM
from tactful.suggestion.llm.client import import_litellm
from tactful.suggestion.llm.context import Budget, ContextBuilder
from tactful.suggestion.llm.embedded import MODEL_ALIAS, EmbeddedModel
from tactful.suggestion.llm.health import (
    DOWN,
    FAILED,
    OTHER,
    READY,
    STARTING,
    TIMEOUT,
    LlmState,
    Problem,
    ProviderHealth,
    classify,
)
from tactful.suggestion.llm.prompts import (
    CHAT,
    EMBEDDED,
    FIM,
    Prompt,
    build_prompt,
    clean_completion,
    fim_template,
    prompt_style,
)
from tactful.suggestion.llm.retrieval import SnippetIndex
from tactful.suggestion.types import CompletionRequest, Suggestion

logger = logging.getLogger(__name__)

# Enough tokens for the longest sensible line; generation is the slow part on a CPU.
_SINGLE_LINE_TOKENS = 24
# How far ahead (in characters typed) the embedded model's next prompt is read in advance.
_WARM_AHEAD_CHARS = 240
# The confidence of an answer whose provider gives no token probabilities.
_DEFAULT_SCORE = 0.5

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """What the engine needs from the settings (``llm.*`` and ``completion.debounceMs``).

    ``model`` is a litellm model string or ``embedded``; ``context_tokens`` is the prompt budget
    (smaller for the embedded model, whose prompt evaluation on a CPU is the larger cost).
    """

    model: str
    api_base: str | None = None
    api_key: str | None = None
    timeout_s: float = 2.0
    max_tokens: int = 128
    prompt_style: str = "auto"
    fim_template: str = "auto"
    debounce_ms: int = 60
    context_tokens: int = 0
    temperature: float = 0.0
    # One-line answers are cut before the first token the model gave less than this probability.
    min_token_prob: float = 0.5

    @classmethod
    def from_settings(cls, settings: Any) -> LlmConfig | None:
        """The engine's configuration from resolved settings, or None when no model is set.

        ``settings`` is the server's frozen ``Settings`` (read by attribute, so this package
        does not depend on the server's).
        """
        llm = settings.llm
        if not llm.model:
            return None
        return cls(
            model=llm.model,
            api_base=llm.api_base,
            timeout_s=llm.timeout_s,
            max_tokens=llm.max_tokens,
            prompt_style=llm.prompt_style,
            fim_template=llm.fim_template,
            debounce_ms=settings.completion.debounce_ms,
        )

    @property
    def embedded(self) -> bool:
        return self.model == EMBEDDED

    @property
    def budget_tokens(self) -> int:
        if self.context_tokens:
            return self.context_tokens
        # The embedded model reads about 300 prompt tokens a second on two cores.
        return 400 if self.embedded else 1536


@dataclass(slots=True)
class _Typed:
    """The last suggestion shown for a document, to serve again while the user types it."""

    before: str
    after: str
    text: str
    score: float


class LlmEngine:
    """Completions from a language model; see the module docstring for the request path."""

    name = LLM

    def __init__(
        self,
        config: LlmConfig,
        *,
        workspace_root: str | None = None,
        embedded: EmbeddedModel | None = None,
        health: ProviderHealth | None = None,
        on_change: Callable[[LlmState], None] | None = None,
    ) -> None:
        self.config = config
        self.health = health if health is not None else ProviderHealth()
        self._on_change = on_change
        self._owner: asyncio.AbstractEventLoop | None = None
        self._calls: asyncio.AbstractEventLoop | None = None
        self.workspace_root = workspace_root
        self.index = SnippetIndex(workspace_root)
        self.context = ContextBuilder(self.index, Budget(tokens=config.budget_tokens))
        self.style = prompt_style(config.prompt_style, config.model, config.fim_template)
        self.template = fim_template(config.fim_template, config.model)
        self._embedded = (
            embedded if embedded is not None else (EmbeddedModel() if config.embedded else None)
        )
        self._ready: concurrent.futures.Future[Any] | None = None
        self._ready_lock = threading.Lock()
        self._api_base = config.api_base
        self._prompt_cache: OrderedDict[tuple[str, int, bool], tuple[str, float]] = OrderedDict()
        self._typed: dict[str, _Typed] = {}
        self._latest: dict[str, int] = {}
        self._counter = 0
        self._logged: set[str] = set()
        self._warming: asyncio.Task[None] | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> concurrent.futures.Future[Any]:
        """Begin importing litellm (and starting the embedded model) in the engine's thread;
        idempotent. Changes of state are reported on the event loop this is called from."""
        with self._ready_lock:
            if self._ready is None:
                try:
                    self._owner = asyncio.get_running_loop()
                except RuntimeError:
                    self._owner = None
                self._ready = concurrent.futures.Future()
                threading.Thread(target=self._run, name="tactful-llm", daemon=True).start()
            return self._ready

    def close(self) -> None:
        """Stop the engine's thread and the embedded model's process, if this engine started
        one."""
        calls = self._calls
        if calls is not None:
            with contextlib.suppress(RuntimeError):  # already closed
                calls.call_soon_threadsafe(calls.stop)
        if self._embedded is not None:
            self._embedded.stop()

    @property
    def answering(self) -> bool:
        """False while the provider is down and its back-off has not passed: asking now would
        make no call and give nothing."""
        return not (self.health.down and self.health.retry_in() > 0)

    def state(self) -> LlmState:
        """Whether the engine answers now: ``starting`` (litellm importing, the embedded model
        loading), ``ready``, ``down`` (the provider failed: why, and when it is tried again),
        or ``failed`` (it could not start)."""
        ready = self._ready
        if ready is None or not ready.done():
            return LlmState(STARTING)
        error = ready.exception()
        if error is not None:
            return LlmState(FAILED, Problem(OTHER, str(error) or type(error).__name__))
        if self.health.problem is not None:
            return LlmState(DOWN, self.health.problem, self.health.retry_in())
        return LlmState(READY)

    def _changed(self) -> None:
        """Tell ``on_change`` the state now, on the owner's event loop."""
        if self._on_change is None:
            return
        owner = self._owner
        if owner is None or owner.is_closed():
            self._on_change(self.state())
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is owner:
            self._on_change(self.state())
        else:
            owner.call_soon_threadsafe(lambda: self._on_change and self._on_change(self.state()))

    def _run(self) -> None:
        """The engine's thread: prepare, then run the event loop every litellm call runs on."""
        calls = asyncio.new_event_loop()
        asyncio.set_event_loop(calls)
        self._calls = calls
        self._prepare()
        self._changed()
        try:
            if self._ready is not None and self._ready.exception() is None:
                calls.run_forever()
                # Stopped by ``close``: what is still running there ends here.
                left = asyncio.all_tasks(calls)
                for task in left:
                    task.cancel()
                calls.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        finally:
            calls.close()

    def _prepare(self) -> None:
        assert self._ready is not None
        try:
            embedded: concurrent.futures.Future[str | None] = concurrent.futures.Future()
            if self._embedded is not None:
                # Loading the model (a child process) and importing litellm overlap.
                model = self._embedded
                threading.Thread(
                    target=lambda: embedded.set_result(model.start()), daemon=True
                ).start()
            if self.workspace_root:
                # The snippet index is read beside, not before, readiness: a large workspace
                # takes seconds and completions without snippets are still completions.
                threading.Thread(target=self.index.build, daemon=True).start()
            litellm = import_litellm()
            if self._embedded is not None:
                api_base = embedded.result()
                if api_base is None:
                    raise RuntimeError(self._embedded.error or "the embedded model did not start")
                self._api_base = api_base
            self._ready.set_result(litellm)
        except BaseException as exc:
            self._log_once("start", "LLM engine unavailable: %s", exc)
            self._ready.set_exception(exc)

    async def _on_calls_loop(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the engine's own event loop and await its result here; cancelling
        the wait cancels the work."""
        calls = self._calls
        assert calls is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, calls))

    # --- the engine interface -----------------------------------------------------------------

    def observe(self, path: str | None, text: str) -> None:
        self.index.observe(path, text)

    async def complete(self, request: CompletionRequest, *, deadline: float) -> list[Suggestion]:
        if not self.answering:
            return []  # Backed off: said once when it went down; the local engine answers.
        started = time.monotonic()
        deadline = min(deadline, started + self.config.timeout_s)
        before, after = _split(request)
        served = self._from_typed(request.uri, before, after)
        if served is not None:
            return [served]
        self._counter += 1
        ticket = self._counter
        self._latest[request.uri] = ticket
        ready = self.start()
        single_line = not _wants_block(before, after)
        prompt = await asyncio.to_thread(self._prompt_for, request, single_line)
        if prompt is None:
            return []
        key = (prompt.cache_key, request.max_lines, single_line)
        cached = self._prompt_cache.get(key)
        source = "prompt-cache"
        if cached is not None:
            text, score = cached
            self._prompt_cache.move_to_end(key)
        else:
            source = "model"
            if self.config.debounce_ms:
                pause = self.config.debounce_ms / 1000
                await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                if self._latest.get(request.uri) != ticket:
                    return []  # A newer request for this document arrived while we waited.
            try:
                litellm = await asyncio.wait_for(
                    asyncio.shield(asyncio.wrap_future(ready)),
                    max(0.0, deadline - time.monotonic()),
                )
            except TimeoutError:
                return []  # Still importing or loading: the local engine answers meanwhile.
            except Exception:
                return []  # Logged once where it failed.
            answer = await self._call(litellm, prompt, request, single_line, deadline)
            if answer is None:
                return []
            text, score = answer
            self._prompt_cache[key] = (text, score)
            while len(self._prompt_cache) > 256:
                self._prompt_cache.popitem(last=False)
        text = _shape(text, request.max_lines, single_line)
        if len(text.strip()) < 2:
            return []  # One character saves no keystroke: accepting it costs one.
        self._typed[request.uri] = _Typed(before, after, text, score)
        if source == "model":
            self._warm_next_anchor(request, prompt)
        return [_suggestion(text, score, source)]

    # --- steps --------------------------------------------------------------------------------

    async def _call(
        self,
        litellm: Any,
        prompt: Prompt,
        request: CompletionRequest,
        single_line: bool,
        deadline: float,
    ) -> tuple[str, float] | None:
        """One call to the provider, on the engine's own loop, when its health allows one; the
        outcome goes into the health, and a change of state to ``on_change``."""
        if not self.health.allows():
            return None
        try:
            outcome = await self._on_calls_loop(
                self._ask(litellm, prompt, request, single_line, deadline)
            )
        except asyncio.CancelledError:
            # A newer request took over: the call says nothing about the provider.
            self.health.gave_up()
            raise
        if outcome is None:
            self.health.gave_up()  # no time was left to ask: nothing learned either
            return None
        if isinstance(outcome, Problem):
            change = self.health.failed(outcome)
            if change is not None:
                logger.warning(
                    "LLM %s is down: %s; asked again in %.0f s",
                    self.config.model,
                    outcome.describe(),
                    change.retry_in_s,
                )
                self._changed()
            else:
                logger.debug("LLM call failed: %s", outcome.describe())
            return None
        if self.health.succeeded() is not None:
            logger.warning("LLM %s answers again", self.config.model)
            self._changed()
        return outcome

    def _from_typed(self, uri: str, before: str, after: str) -> Suggestion | None:
        entry = self._typed.get(uri)
        if entry is None or after != entry.after or not before.startswith(entry.before):
            return None
        typed = before[len(entry.before) :]
        if not typed or len(typed) >= len(entry.text) or not entry.text.startswith(typed):
            return None
        rest = entry.text[len(typed) :]
        if not rest.strip():
            return None
        return _suggestion(rest, entry.score, "typed-ahead")

    def _prompt_for(self, request: CompletionRequest, single_line: bool) -> Prompt | None:
        root = request.workspace_root or self.workspace_root
        self.index.set_root(root)
        if request.path is not None and is_secret_path(root, request.path):
            self._log_once(
                f"secret:{request.path}",
                "not sending %s to a model: it is secret or ignored by git",
                request.path,
            )
            return None
        context = self.context.build(request, with_suffix=self.style in (FIM, CHAT))
        line_stop = ("\n",) if single_line else ("\n\n",)
        return build_prompt(context, self.style, self.template, line_stop)

    async def _ask(
        self,
        litellm: Any,
        prompt: Prompt,
        request: CompletionRequest,
        single_line: bool,
        deadline: float,
    ) -> tuple[str, float] | Problem | None:
        """The model's answer cleaned for insertion, and its confidence; what went wrong when
        the provider failed; None when there was no time left to ask.

        A one-line text prompt is asked in one response with token log-probabilities: the
        server stops at the line's end anyway, and the probabilities let the answer be cut
        where the model stops being sure. Blocks and chat are streamed, so reading stops as
        soon as the suggestion has its lines.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            return None
        max_tokens = (
            min(self.config.max_tokens, _SINGLE_LINE_TOKENS)
            if single_line
            else self.config.max_tokens
        )
        streamed = prompt.text is None or not single_line
        kwargs: dict[str, Any] = {
            "model": self._model_string(),
            "api_base": self._api_base,
            "max_tokens": max_tokens,
            "temperature": self.config.temperature,
            "stream": streamed,
            # Our own deadline below ends the call; litellm's is a backstop. It is the same for
            # every call because litellm keys its cached HTTP clients by it: a per-call value
            # would open (and leak) a new connection pool for each request.
            "timeout": self.config.timeout_s + 1.0,
            "num_retries": 0,
        }
        if not streamed:
            kwargs["logprobs"] = 1
        kwargs.update(self._credentials())
        if self._embedded is not None:
            kwargs["extra_body"] = {"cache_prompt": True}
        if prompt.stop:
            kwargs["stop"] = list(prompt.stop)
        chunks: list[str] = []
        score = _DEFAULT_SCORE
        stream = None
        try:
            async with asyncio.timeout(remaining):
                if not streamed:
                    response = await litellm.atext_completion(prompt=prompt.text, **kwargs)
                    choice = response.choices[0]
                    raw = str(choice.text or "")
                    probs = _token_probs(getattr(choice, "logprobs", None))
                    if probs:
                        raw, score = _confident_prefix(raw, probs, self.config.min_token_prob)
                    chunks.append(raw)
                else:
                    if prompt.text is not None:
                        stream = await litellm.atext_completion(prompt=prompt.text, **kwargs)
                    else:
                        stream = await litellm.acompletion(messages=list(prompt.messages), **kwargs)
                    async for chunk in stream:
                        chunks.append(_chunk_text(chunk))
                        received = "".join(chunks)
                        if prompt.style == CHAT:
                            # A chat answer may open with a fence line: count lines after it.
                            received = re.sub(r"^\s*```[\w+-]*\n", "", received)
                        if _has_enough(received, request.max_lines, single_line):
                            break
        except TimeoutError:
            # Whole lines that arrived in time are still worth showing.
            text = "".join(chunks)
            if "\n" not in text.strip("\n"):
                return Problem(TIMEOUT, f"no answer within {remaining:.1f} s")
            text = text[: text.rfind("\n")]
            return prompt.restore(clean_completion(text, prompt.style, request.prefix_line)), score
        except Exception as exc:
            return classify(exc)
        finally:
            if stream is not None and hasattr(stream, "aclose"):
                try:
                    await asyncio.shield(stream.aclose())
                except Exception as exc:
                    logger.debug("closing the LLM stream failed: %s", exc)
        received = "".join(chunks)
        text = prompt.restore(clean_completion(received, prompt.style, request.prefix_line))
        if not text and received.strip() and score == _DEFAULT_SCORE:
            self._log_once("garbage", "LLM answered with text that is not code; ignored")
        return text, score

    def _warm_next_anchor(self, request: CompletionRequest, prompt: Prompt) -> None:
        """Have the embedded model read the prompt the next lines will need, in the background.

        The prompt's first line moves down in steps (see ``context``); the request after a step
        would read its whole prompt again, which takes seconds on a CPU. When the step is a few
        lines away, the prompt as it will start then is sent once with one token to generate,
        into the server's second slot, so the request that crosses the step finds it cached.
        """
        if self._embedded is None or prompt.text is None or self._warming is not None:
            return
        ready = self._ready
        if ready is None or not ready.done() or ready.exception() is not None:
            return
        litellm = ready.result()

        async def warm() -> None:
            try:
                context = await asyncio.to_thread(
                    self.context.build,
                    request,
                    with_suffix=self.style in (FIM, CHAT),
                    ahead_chars=_WARM_AHEAD_CHARS,
                )
                future = build_prompt(context, self.style, self.template, prompt.stop[:1])
                if future.text is None or future.text == prompt.text:
                    return  # The prompt will still start where it does now.
                await self._on_calls_loop(
                    litellm.atext_completion(
                        model=self._model_string(),
                        api_base=self._api_base,
                        prompt=future.text,
                        max_tokens=1,
                        temperature=0,
                        timeout=self.config.timeout_s + 1.0,
                        num_retries=0,
                        extra_body={"cache_prompt": True},
                        **self._credentials(),
                    )
                )
            except Exception as exc:
                logger.debug("warming the next prompt failed: %s", exc)
            finally:
                self._warming = None

        self._warming = asyncio.get_running_loop().create_task(warm())

    def _credentials(self) -> dict[str, str]:
        if self.config.api_key:
            return {"api_key": self.config.api_key}
        if self._embedded is not None:
            return {"api_key": "embedded"}
        if (
            self.config.api_base
            and self.config.model.startswith("openai/")
            and not os.environ.get("OPENAI_API_KEY")
        ):
            # A self-hosted OpenAI-compatible server (llama.cpp, vLLM, LM Studio) usually needs
            # no key, but the client library refuses to send a request without one.
            return {"api_key": "no-key"}
        return {}

    def _model_string(self) -> str:
        if self._embedded is not None:
            return f"openai/{MODEL_ALIAS}"
        return self.config.model

    def _log_once(self, key: str, message: str, *args: object) -> None:
        if key in self._logged:
            logger.debug(message, *args)
            return
        self._logged.add(key)
        logger.warning(message, *args)


def _split(request: CompletionRequest) -> tuple[str, str]:
    """The text before and after the cursor (found without splitting the text into lines)."""
    text = request.text
    start = 0
    for _ in range(request.position.line):
        found = text.find("\n", start)
        if found < 0:
            break
        start = found + 1
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    offset = min(start + request.position.column, end)
    return text[:offset], text[offset:]


def _chunk_text(chunk: Any) -> str:
    try:
        choice = chunk.choices[0]
    except (AttributeError, IndexError, TypeError):
        return ""
    delta = getattr(choice, "delta", None)
    if delta is not None and getattr(delta, "content", None):
        return str(delta.content)
    text = getattr(choice, "text", None)
    return str(text) if text else ""


_OPENERS = (":", "{", "(", "[", "=>", "->")


def _wants_block(before: str, after: str) -> bool:
    """Whether to ask for several lines: only where a block starts (as hosted assistants do).

    At the end of a line that opens a block, or on an empty line just below one, several lines
    are likely right; anywhere else one line is shown, which is both faster to generate and
    more often exactly what gets typed.
    """
    if after.split("\n", 1)[0].strip():
        return False
    head, _, current = before.rpartition("\n")
    if current.strip():
        return current.rstrip().endswith(_OPENERS)
    previous = next((line for line in reversed(head.split("\n")) if line.strip()), "")
    return previous.rstrip().endswith(_OPENERS)


def _has_enough(text: str, max_lines: int, single_line: bool) -> bool:
    """True once the stream holds the whole suggestion: reading more would only be cut off."""
    if single_line:
        return "\n" in text
    body = text[1:] if text.startswith("\n") else text
    return body.count("\n") >= max_lines or "\n\n" in body


def _shape(text: str, max_lines: int, single_line: bool) -> str:
    """At most ``max_lines`` lines (one when the cursor has text after it), no trailing blanks."""
    if single_line:
        return text.split("\n", 1)[0].rstrip()
    lines = text.split("\n")
    if lines and not lines[0].strip() and len(lines) > 1:
        # The model starts a new line: keep it, it is the cursor's line break.
        head, body = lines[:1], lines[1:]
    else:
        head, body = [], lines
    kept: list[str] = []
    for line in body:
        if not line.strip() and kept:
            break
        kept.append(line)
        if len(kept) >= max(1, max_lines):
            break
    return "\n".join(head + kept).rstrip()


def _suggestion(text: str, score: float, origin: str) -> Suggestion:
    kind = "lines" if "\n" in text.strip("\n") else "line"
    return Suggestion(text=text, engine=LLM, score=round(score, 4), kind=kind, origin=origin)


def _token_probs(logprobs: Any) -> list[tuple[str, float]] | None:
    """(token, probability) pairs from a completion's log-probabilities, in either format:
    OpenAI's (``tokens`` and ``token_logprobs``) or llama.cpp's (``content`` entries)."""
    if logprobs is None:
        return None
    get = logprobs.get if isinstance(logprobs, dict) else lambda name: getattr(logprobs, name, None)
    try:
        content = get("content")
        if content:
            return [(str(item["token"]), math.exp(float(item["logprob"]))) for item in content]
        tokens, values = get("tokens"), get("token_logprobs")
        if tokens and values:
            return [
                (str(token), math.exp(float(value)) if value is not None else 1.0)
                for token, value in zip(tokens, values, strict=False)
            ]
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _confident_prefix(text: str, probs: list[tuple[str, float]], floor: float) -> tuple[str, float]:
    """The start of ``text`` up to the first token the model gave less than ``floor``, and the
    probability of that start (the product of its tokens' probabilities)."""
    kept = 0
    confidence = 1.0
    for token, probability in probs:
        if probability < floor or kept >= len(text):
            break
        kept += len(token)
        confidence *= probability
    return text[: min(kept, len(text))], confidence

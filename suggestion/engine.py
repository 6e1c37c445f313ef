"""The shapes a completion engine has, and the registry the server picks engines from.

Boundary: protocol-free. The server builds a ``CompletionRequest`` from LSP params, asks the
registry for the engines that ``completion.engine`` selects, and gets each engine's answer under
a deadline (``tactful.feedback.completion``). Engines never raise on broken user code.

Two kinds, by where their time goes:

* ``CompletionEngine`` (the LLM engine) awaits I/O: ``complete`` is a coroutine that never
  blocks the event loop (anything slow inside it goes to a thread of its own).
* ``BlockingEngine`` (the local engine) computes: ``suggest`` is plain CPU-bound work, which the
  caller runs off its event loop, in a worker of the engine's own (one request at a time, in
  order, so the engine's per-document state needs no lock).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from tactful.suggestion.types import CompletionRequest, Suggestion

logger = logging.getLogger(__name__)

LOCAL = "local"
LLM = "llm"


@runtime_checkable
class CompletionEngine(Protocol):
    """Something that proposes what comes next at the cursor, awaiting I/O to do it.

    ``deadline`` is an absolute ``time.monotonic()`` value: an engine that cannot answer by then
    returns what it has (possibly nothing); the caller may also cancel the task earlier, when a
    newer request for the same document arrives. Suggestions are ordered best first and carry
    ``score``, the engine's estimate of the probability that the user would type the text.

    ``observe`` is how the engine learns text: the server calls it with a document's whole
    text on open and save (``path`` is None for unsaved buffers). It must be cheap: anything
    slow is deferred by the engine itself.

    ``answering`` is False while asking would certainly give nothing (the LLM engine's provider
    is down and backed off): the caller does not ask then.
    """

    name: str

    @property
    def answering(self) -> bool: ...

    async def complete(
        self, request: CompletionRequest, *, deadline: float
    ) -> list[Suggestion]: ...

    def observe(self, path: str | None, text: str) -> None: ...


@runtime_checkable
class BlockingEngine(Protocol):
    """Something that proposes what comes next at the cursor by computing it.

    ``suggest`` is called from one worker thread at a time; ``deadline`` (``time.monotonic()``)
    bounds what the engine itself waits for (another process, say). Suggestions as for
    ``CompletionEngine``.
    """

    name: str

    def suggest(
        self, request: CompletionRequest, deadline: float | None = None
    ) -> list[Suggestion]: ...


Engine = CompletionEngine | BlockingEngine


class EngineRegistry:
    """The engines the server can use, by name; any of them may be missing.

    ``completion.engine`` selects: ``local`` is the local engine alone; ``llm`` and ``auto``
    are the LLM engine (registered only when ``llm.model`` is configured) with the local engine
    as the fallback when it fails or misses its deadline. Without an LLM engine, ``auto`` is
    the local engine and ``llm`` is nothing: what was asked for is not there, and serving
    something else under its name would mislead (``tactful doctor`` says why).
    """

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}

    def register(self, engine: Engine) -> None:
        self._engines[engine.name] = engine

    def unregister(self, name: str) -> Engine | None:
        return self._engines.pop(name, None)

    def get(self, name: str) -> Engine | None:
        return self._engines.get(name)

    def __iter__(self) -> Iterator[Engine]:
        return iter(list(self._engines.values()))

    def select(self, choice: str) -> list[Engine]:
        """Engines to try for ``choice``, in order: the first that answers in time wins."""
        local = self._engines.get(LOCAL)
        if choice == LOCAL:
            return [local] if local is not None else []
        llm = self._engines.get(LLM)
        if llm is None and choice == LLM:
            return []
        return [engine for engine in (llm, local) if engine is not None]

    def observe(self, path: str | None, text: str) -> None:
        """Let every engine that learns documents learn ``text``; one engine failing never
        stops the others."""
        for engine in self:
            if not isinstance(engine, CompletionEngine):
                continue
            try:
                engine.observe(path, text)
            except Exception:
                logger.exception("engine %s failed to observe %s", engine.name, path)

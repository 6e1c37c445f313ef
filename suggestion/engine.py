"""The shape every completion engine has, and the registry the server picks engines from.

Boundary: protocol-free. The server builds a ``CompletionRequest`` from LSP params, asks the
registry for the engines that ``completion.engine`` selects, and awaits ``complete`` under a
deadline. Engines never raise on broken user code and never block the event loop: blocking work
(parsing, model calls that are not async) goes to a thread inside the engine.
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
    """Something that proposes what comes next at the cursor.

    ``deadline`` is an absolute ``time.monotonic()`` value: an engine that cannot answer by then
    returns what it has (possibly nothing); the caller may also cancel the task earlier, when a
    newer request for the same document arrives. Suggestions are ordered best first and carry
    ``score``, the engine's estimate of the probability that the user would type the text.

    ``observe`` is how an engine learns text: the server calls it with a document's whole text
    on open and save, and with recent text while the user types (``path`` is None for unsaved
    buffers). It must be cheap: anything slow is deferred by the engine itself.
    """

    name: str

    async def complete(
        self, request: CompletionRequest, *, deadline: float
    ) -> list[Suggestion]: ...

    def observe(self, path: str | None, text: str) -> None: ...


class EngineRegistry:
    """The engines the server can use, by name; any of them may be missing.

    ``completion.engine`` selects: ``local`` is the local engine alone; ``llm`` and ``auto``
    are the LLM engine (registered only when ``llm.model`` is configured) with the local engine
    as the fallback when it fails or misses its deadline. Without an LLM engine, ``auto`` is
    the local engine and ``llm`` is nothing: what was asked for is not there, and serving
    something else under its name would mislead (``tactful doctor`` says why).
    """

    def __init__(self) -> None:
        self._engines: dict[str, CompletionEngine] = {}

    def register(self, engine: CompletionEngine) -> None:
        self._engines[engine.name] = engine

    def unregister(self, name: str) -> CompletionEngine | None:
        return self._engines.pop(name, None)

    def get(self, name: str) -> CompletionEngine | None:
        return self._engines.get(name)

    def __iter__(self) -> Iterator[CompletionEngine]:
        return iter(list(self._engines.values()))

    def select(self, choice: str) -> list[CompletionEngine]:
        """Engines to try for ``choice``, in order: the first that answers in time wins."""
        local = self._engines.get(LOCAL)
        if choice == LOCAL:
            return [local] if local is not None else []
        llm = self._engines.get(LLM)
        if llm is None and choice == LLM:
            return []
        return [engine for engine in (llm, local) if engine is not None]

    def observe(self, path: str | None, text: str) -> None:
        """Let every engine learn ``text``; one engine failing never stops the others."""
        for engine in self:
            try:
                engine.observe(path, text)
            except Exception:
                logger.exception("engine %s failed to observe %s", engine.name, path)

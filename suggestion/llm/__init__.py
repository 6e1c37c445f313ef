"""The LLM completion engine: prompts, context, retrieval, and the embedded model.

Boundary: protocol-free; importing this package is cheap (litellm and the model runtime load
only when the engine starts). The server builds an engine with ``LlmEngine(LlmConfig.from_settings
(settings), workspace_root=...)``, registers it, calls ``start()`` and, on shutdown or when the
settings change, ``close()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tactful.suggestion.llm.engine import LlmConfig, LlmEngine

__all__ = ["LlmConfig", "LlmEngine"]


def __getattr__(name: str) -> object:
    # The engine (prompts, context, retrieval) loads when first asked for, so that what only
    # needs the client (the fix proposer) does not pay for it at start-up.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tactful.suggestion.llm import engine

    return {"LlmConfig": engine.LlmConfig, "LlmEngine": engine.LlmEngine}[name]

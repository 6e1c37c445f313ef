"""The LLM completion engine: prompts, context, retrieval, and the embedded model.

Boundary: protocol-free; importing this package is cheap (litellm and the model runtime load
only when the engine starts). The server builds an engine with ``LlmEngine(LlmConfig.from_settings
(settings), workspace_root=...)``, registers it, calls ``start()`` and, on shutdown or when the
settings change, ``close()``.
"""

from tactful.suggestion.llm.engine import LlmConfig, LlmEngine

__all__ = ["LlmConfig", "LlmEngine"]

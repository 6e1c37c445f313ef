"""The one way tactful imports litellm, and the arguments every model call shares.

Boundary: every model call (completion, review, fixes, ``tactful doctor``) gets litellm from
here, imported on first use only (it costs seconds and hundreds of MB), with the cost map read
locally rather than fetched at import, and with its help banners off: they go to stdout, which
is the LSP stream.

The import leaves some 350,000 objects that live as long as the process (its modules, model
tables, pydantic schemas). The cyclic garbage collector would walk them at every full
collection, which then takes 170-1,600 ms instead of 16 ms (measured on the 2-core development
machine under load) and stops every thread of the server, the event loop included; they are
moved out of its sight once imported (``gc.freeze``).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from typing import Any, Protocol

_IMPORT_LOCK = threading.Lock()
_frozen = False


def import_litellm() -> Any:
    global _frozen
    with _IMPORT_LOCK:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        litellm.drop_params = True
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)
        if not _frozen:
            _frozen = True
            gc.freeze()
        return litellm


class ModelSettings(Protocol):
    """The ``llm.*`` settings a model call follows (each feature's config has them, with its
    own defaults)."""

    @property
    def model(self) -> str: ...

    @property
    def api_base(self) -> str | None: ...

    @property
    def api_key(self) -> str | None: ...

    @property
    def timeout_s(self) -> float: ...

    @property
    def max_tokens(self) -> int: ...


def call_arguments(
    config: ModelSettings, *, timeout_s: float | None = None, max_tokens: int | None = None
) -> dict[str, object]:
    """The arguments of a litellm call for review, fixes and next edits (``timeout_s`` and
    ``max_tokens`` replace the config's when given): one answer, the same for the same prompt
    (temperature 0), never retried by litellm (a request that fails gives nothing, and the
    caller's deadline holds). A self-hosted OpenAI-compatible server (``api_base`` with an
    ``openai/`` model) gets a placeholder key when none is configured, since litellm refuses to
    call one without a key."""
    arguments: dict[str, object] = {
        "model": config.model,
        "timeout": config.timeout_s if timeout_s is None else timeout_s,
        "max_tokens": config.max_tokens if max_tokens is None else max_tokens,
        "temperature": 0,
        "num_retries": 0,
    }
    base = config.api_base
    if base:
        arguments["api_base"] = base
    if config.api_key:
        arguments["api_key"] = config.api_key
    elif base and config.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
        arguments["api_key"] = "no-key"
    return arguments

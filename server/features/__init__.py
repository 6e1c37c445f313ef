"""Features: one module per LSP method or concern, each with ``register(server)``.

Every feature registers inside its own ``try``: a feature that fails to load is logged and the
rest of the server still starts.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

# Order matters only where a feature reads another's service at registration time.
FEATURES = [
    "lifecycle",
    "sync",
    "configuration",
    "python_environment",
    "feedback",
    "diagnostic",
    "status",
    "coverage",
    "quality",
    "code_action",
    "review",
    "inline_completion",
    "completion",
    "indexing",
    "llm",
]


def register_all(server: TactfulServer) -> None:
    for name in FEATURES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
            module.register(server)
        except Exception:
            logger.exception("feature %s could not be registered", name)

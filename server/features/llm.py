"""The LLM completion engine in the server: there when ``llm.model`` is set, gone when it is not.

After ``initialized``, and again whenever the settings change, the engine the ``llm.*`` settings
describe is built and registered in the completion engines (``completion.engine`` then picks
it: ``llm``, or first in ``auto``); a changed model replaces it, an unset one removes it. The
engine starts in the background (litellm's import, and for ``embedded`` the model's own process),
so nothing here delays the server; until it is ready, or when it fails, the local engine answers.
On shutdown the embedded model's process is stopped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tactful.server.executor import run_blocking
from tactful.suggestion.engine import LLM

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)


def register(server: TactfulServer) -> None:
    services = server.services
    ready = False

    def configure() -> None:
        if not ready or (services.llm is None and not server.settings.llm.model):
            return
        # Imported once a model is set, not at start (litellm itself when the engine starts).
        from tactful.suggestion.llm import LlmConfig, LlmEngine
        from tactful.suggestion.llm.embedded import available

        config = LlmConfig.from_settings(server.settings)
        current = services.llm
        if current is not None and current.config == config:
            return
        if current is not None:
            services.engines.unregister(LLM)
            services.llm = None
            server.spawn(run_blocking(current.close), name="stopping the previous LLM engine")
        if config is None:
            return
        if config.embedded and (missing := available()) is not None:
            logger.warning("llm.model is 'embedded' but %s; the local engine answers", missing)
            return
        root = str(server.workspace_root) if server.workspace_root else None
        engine = LlmEngine(config, workspace_root=root)
        for document in list(server.documents.values()):
            engine.observe(document.path, document.text)
        services.engines.register(engine)
        services.llm = engine
        engine.start()
        logger.info("LLM completions from %s", config.model)

    def initialized() -> None:
        nonlocal ready
        ready = True
        configure()

    def shutdown() -> None:
        engine, services.llm = services.llm, None
        if engine is not None:
            engine.close()

    server.initialized_listeners.append(initialized)
    server.settings_listeners.append(configure)
    server.shutdown_listeners.append(shutdown)

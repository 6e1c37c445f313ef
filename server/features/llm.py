"""The LLM completion engine in the server: there when ``llm.model`` is set, gone when it is not.

After ``initialized``, and again whenever the settings change, the engine the ``llm.*`` settings
describe is built and registered in the completion engines (``completion.engine`` then picks
it: ``llm``, or first in ``auto``); a changed model replaces it, an unset one removes it. The
engine starts in the background (litellm's import, and for ``embedded`` the model's own process),
so nothing here delays the server; until it is ready, or when it fails, the local engine answers.
On shutdown the embedded model's process is stopped.

The engine's state is said where the editor shows it: every change in ``tactful/status``
(the status bar), and once as a message (``window/showMessage``) when the provider goes down —
what went wrong, labelled as ``tactful doctor`` labels it, and that the local engine answers
meanwhile — when it answers again, and when the engine cannot start.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.server.executor import run_blocking
from tactful.suggestion.engine import LLM

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer
    from tactful.suggestion.llm.health import LlmState

# The provider's words in a message are cut here (the log and ``tactful doctor`` have them whole).
MESSAGE_DETAIL_CHARS = 300

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
        services.llm_unavailable = None
        if current is not None:
            services.engines.unregister(LLM)
            services.llm = None
            server.spawn(run_blocking(current.close), name="stopping the previous LLM engine")
        if config is None:
            return
        if config.embedded and (missing := available()) is not None:
            logger.warning("llm.model is 'embedded' but %s; the local engine answers", missing)
            services.llm_unavailable = missing
            services.status.send()
            return
        root = str(server.workspace_root) if server.workspace_root else None
        model = config.model
        said: list[str] = []

        def changed(state: LlmState) -> None:
            if services.llm is not engine:
                return  # an engine the settings replaced since
            server.services.status.send()
            message = _message(model, state, said[-1] if said else "starting")
            said.append(state.state)
            if message is not None:
                text, kind = message
                server.show_message(text, kind)

        engine = LlmEngine(config, workspace_root=root, on_change=changed)
        for document in list(server.documents.values()):
            engine.observe(document.path, document.text)
        services.engines.register(engine)
        services.llm = engine
        engine.start()
        services.status.send()
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


def _message(model: str, state: LlmState, before: str) -> tuple[str, types.MessageType] | None:
    """What to tell the developer when the LLM engine's state changes from ``before``."""
    if state.state == "down" and before != "down" and state.problem is not None:
        detail = state.problem.describe()
        if len(detail) > MESSAGE_DETAIL_CHARS:
            detail = detail[:MESSAGE_DETAIL_CHARS] + "…"
        return (
            f"tactful: the LLM {model} does not answer ({detail}). Completions come from the "
            f"local engine; the LLM is asked again in {state.retry_in_s:.0f} s, then less "
            "often while it fails (tactful doctor checks it).",
            types.MessageType.Warning,
        )
    if state.state == "ready" and before == "down":
        return f"tactful: the LLM {model} answers again.", types.MessageType.Info
    if state.state == "failed" and state.problem is not None:
        return (
            f"tactful: the LLM {model} could not start ({state.problem.detail}). Completions "
            "come from the local engine.",
            types.MessageType.Warning,
        )
    return None

"""``tactful/status``: a notification that tells status-bar clients what is in force.

Sent after ``initialized`` and whenever settings or trust change. Params (all keys present):
``{engine: "local"|"llm", model: str|null, filter: {enabled, threshold}, trusted: bool,
validation: {enabled: bool}}``. ``validation.enabled`` is what will actually happen: validation
runs only in a trusted workspace. Clients that do not know the method ignore it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

METHOD = "tactful/status"


def status(server: TactfulServer) -> dict[str, Any]:
    settings = server.settings
    engine = settings.completion.engine
    if engine == "auto":
        engine = "llm" if settings.llm.model else "local"
    trusted = server.trusted
    return {
        "engine": engine,
        "model": settings.llm.model if engine == "llm" else None,
        "filter": {"enabled": settings.filter.enabled, "threshold": settings.filter.threshold},
        "trusted": trusted,
        "validation": {"enabled": settings.validation.enabled and trusted},
    }


def register(server: TactfulServer) -> None:
    last: dict[str, Any] = {}

    def send() -> None:
        current = status(server)
        if current != last.get("sent"):
            last["sent"] = current
            server.protocol.notify(METHOD, current)

    def on_initialized() -> None:
        last["ready"] = True
        send()

    def on_settings() -> None:
        if last.get("ready"):
            send()

    server.initialized_listeners.append(on_initialized)
    server.settings_listeners.append(on_settings)

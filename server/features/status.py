"""``tactful/status``: a notification that tells status-bar clients what is in force.

Sent after ``initialized`` and whenever settings, trust or the LLM's state change. Params (all
keys present): ``{engine: "local"|"llm", model: str|null, llm: null|{model, state, label,
problem, retryInS}, filter: {enabled, threshold}, trusted: bool, validation: {enabled: bool}}``.

``engine`` is the engine answering now: ``llm`` only while the LLM is ready; while it is
starting, down or failed the local engine answers, and ``llm`` says why (``state``:
``starting``, ``ready``, ``down`` or ``failed``; ``label`` and ``problem``: what went wrong, as
``tactful doctor`` labels it; ``retryInS``: when a provider that is down is asked again).
``validation.enabled`` is what will actually happen: validation runs only in a trusted
workspace. Clients that do not know the method ignore it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

METHOD = "tactful/status"


def status(server: TactfulServer) -> dict[str, Any]:
    settings = server.settings
    choice = settings.completion.engine
    model = settings.llm.model
    engine = server.services.llm
    llm: dict[str, Any] | None = None
    if model and choice != "local":
        llm = {"model": model, "state": "starting", "label": None, "problem": None, "retryInS": 0.0}
        unavailable = server.services.llm_unavailable
        if engine is not None:
            state = engine.state()
            problem = state.problem
            llm.update(
                state=state.state,
                label=problem.label if problem is not None else None,
                problem=problem.describe() if problem is not None else None,
                retryInS=round(state.retry_in_s, 1),
            )
        elif unavailable is not None:
            llm.update(state="failed", problem=unavailable)
    answering = "llm" if llm is not None and llm["state"] == "ready" else "local"
    trusted = server.trusted
    return {
        "engine": answering,
        "model": model if answering == "llm" else None,
        "llm": llm,
        "filter": {"enabled": settings.filter.enabled, "threshold": settings.filter.threshold},
        "trusted": trusted,
        "validation": {"enabled": settings.validation.enabled and trusted},
    }


class StatusNotifier:
    """Sends ``tactful/status`` when what it says changed (``server.services.status``)."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server
        self.ready = False
        self._sent: dict[str, Any] | None = None

    def send(self) -> None:
        if not self.ready:
            return
        current = status(self.server)
        if current != self._sent:
            self._sent = current
            self.server.protocol.notify(METHOD, current)


def register(server: TactfulServer) -> None:
    def on_initialized() -> None:
        server.services.status.ready = True
        server.services.status.send()

    server.initialized_listeners.append(on_initialized)
    server.settings_listeners.append(lambda: server.services.status.send())

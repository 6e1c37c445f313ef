"""The two kinds of handler a feature registers, as ruff's server has them: local and background.

Boundary: registration glue inside the server; it decides nothing about features.

- A **local** handler runs on the event loop and answers at once from what the server holds
  in memory: a lookup, a conversion, a decision to schedule work. It may take a moment, never
  more: no file or network I/O, no subprocess, no git, no parsing of a whole project. Document
  events (open, change, save, close) and settings changes reach features through local
  handlers only, which schedule whatever takes longer as a background task
  (``server.spawn``).
- A **background** handler is a coroutine: it takes a snapshot of what it needs, then awaits
  work that runs off the loop (``server/executor.py``'s ``run_blocking``, a subprocess, a
  spawned task). The loop serves other messages meanwhile; the request's answer waits for it.

Both kinds are guarded (``server/errors.py``): an exception is logged, reported at most once a
minute, and answered with the handler's fallback. ``server.handler_kinds`` lists what was
registered, by name, with its kind.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tactful.server.errors import guard

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

LOCAL = "local"
BACKGROUND = "background"
EVENTS = ("open", "change", "save", "close", "settings")


def local_command(
    server: TactfulServer, name: str, what: str, fallback: Any = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a plain function as the local handler of command ``name``."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(handler):
            raise TypeError(f"{name}: a local handler is a plain function, not a coroutine")
        server.command(name)(guard(server, what, fallback)(handler))
        server.handler_kinds[f"command {name}"] = LOCAL
        return handler

    return register


def background_command(
    server: TactfulServer, name: str, what: str, fallback: Any = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a coroutine as the background handler of command ``name``."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"{name}: a background handler is a coroutine function")
        server.command(name)(guard(server, what, fallback)(handler))
        server.handler_kinds[f"command {name}"] = BACKGROUND
        return handler

    return register


def on_event(server: TactfulServer, event: str, feature: str, handler: Callable[..., Any]) -> None:
    """Register ``feature``'s local handler of a document event (``open``, ``change``,
    ``save``, ``close``: it receives the ``Document``) or of ``settings`` (no argument)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}: one of {', '.join(EVENTS)}")
    if inspect.iscoroutinefunction(handler):
        raise TypeError(f"{feature} on {event}: a local handler is a plain function")
    if event == "settings":
        server.settings_listeners.append(handler)
    else:
        server.listeners[event].append(handler)
    server.handler_kinds[f"{event} ({feature})"] = LOCAL

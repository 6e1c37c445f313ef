"""Features: one module per LSP method or concern, each with ``register(server)``.

Every feature registers inside its own ``try``: a feature that fails to load is logged and the
rest of the server still starts.

Start-up pays only for what ``initialize`` needs. The features in ``FEATURES`` are light and
register at start. Those in ``DEFERRED`` bring in what the rest of the server does not need to
answer ``initialize`` (ruff's findings and their fixes, git and the review rules): what they
add to the capabilities is declared here, so that ``initialize`` advertises it, and their
modules load with the ``initialized`` notification (``load_deferred``), before the client sends
anything else; their declared handlers, if a client calls one earlier, load them first.
``tests/test_foundation_startup.py`` checks that each declaration matches what its module
registers.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

# Order matters only where a feature reads another's service at registration time.
FEATURES = [
    "lifecycle",
    "sync",
    "configuration",
    "trust",
    "python_environment",
    "feedback",
    "diagnostic",
    "status",
    "coverage",
    "inline_completion",
    "completion",
    "indexing",
    "llm",
    "next_edits",
]


@dataclass(frozen=True)
class Deferred:
    """A feature loaded at ``initialized``: the LSP methods it handles (with their options)
    and the commands it adds, as ``initialize`` advertises them."""

    name: str
    methods: tuple[tuple[str, Any], ...] = ()
    commands: tuple[str, ...] = ()


# In the order they load: code actions list the quality feature's fixes before review's actions.
DEFERRED = [
    Deferred("quality"),
    Deferred(
        "code_action",
        methods=(
            (
                types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(
                    code_action_kinds=[types.CodeActionKind.QuickFix, "source.fixAll.tactful"],
                    resolve_provider=True,
                ),
            ),
            (types.CODE_ACTION_RESOLVE, None),
        ),
        commands=("tactful.fixApplied",),
    ),
    Deferred("review", commands=("tactful.reviewChanges", "tactful.dismissComment")),
]


def register_all(server: TactfulServer) -> None:
    for name in FEATURES:
        _register(server, name)
    for feature in DEFERRED:
        for method, options in feature.methods:
            server.feature(method, options)(_load_then(server, method, _handler_of))
        for command in feature.commands:
            server.command(command)(_load_then(server, command, _command_of))


def load_deferred(server: TactfulServer) -> None:
    """Load the deferred features (once): their declared handlers give way to their own."""
    if server.deferred_loaded:
        return
    server.deferred_loaded = True
    manager = server.protocol.fm
    for feature in DEFERRED:
        for method, _options in feature.methods:
            manager.features.pop(method, None)
            manager.feature_options.pop(method, None)
        for command in feature.commands:
            manager.commands.pop(command, None)
        _register(server, feature.name)


def _register(server: TactfulServer, name: str) -> None:
    try:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(server)
    except Exception:
        logger.exception("feature %s could not be registered", name)


def _handler_of(server: TactfulServer, method: str) -> Callable[..., Any] | None:
    return server.protocol.fm.features.get(method)


def _command_of(server: TactfulServer, command: str) -> Callable[..., Any] | None:
    return server.protocol.fm.commands.get(command)


def _load_then(
    server: TactfulServer,
    name: str,
    lookup: Callable[[TactfulServer, str], Callable[..., Any] | None],
) -> Callable[..., Any]:
    """A declared handler: loads the deferred features, then answers as their own handler."""

    async def declared(*args: Any) -> Any:
        load_deferred(server)
        handler = lookup(server, name)
        if handler is None:
            return None
        result = handler(*args)
        return await result if inspect.isawaitable(result) else result

    return declared

"""``tactful/workspaceTrusted``: the editor granted (or withdrew) trust while the server runs.

Not an LSP method: a notification ``{"trusted": true}`` the VS Code extension sends when its
workspace trust is granted. Trust is never taken from ``workspace/didChangeConfiguration``
(server/settings.py): editors feed that message from per-project files a repository can write
(Eglot from ``.dir-locals.el``), so a dedicated notification, sent only by the editor's own trust
decision, is the one way trust reaches a running server. At start, ``workspace.trusted`` in
``initializationOptions`` says the same.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tactful.server.errors import guard

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

METHOD = "tactful/workspaceTrusted"


def _trusted(params: Any) -> bool | None:
    """The trust the notification states (no params: granted), or None when malformed."""
    if params is None:
        return True
    if isinstance(params, dict):
        value = params.get("trusted", True)
    else:
        value = getattr(params, "trusted", True)
    return value if isinstance(value, bool) else None


def register(server: TactfulServer) -> None:
    @server.feature(METHOD)
    @guard(server, "workspace trust")
    def workspace_trusted(params: Any = None) -> None:
        trusted = _trusted(params)
        if trusted is None:
            logger.warning("%s takes {trusted: true|false}, got %r", METHOD, params)
            return
        if server.granted_trust == trusted:
            return
        server.granted_trust = trusted
        logger.info("the editor %s this workspace", "trusts" if trusted else "no longer trusts")
        # Features that run workspace code (validation, the coverage map) follow settings.
        server.reload_settings()

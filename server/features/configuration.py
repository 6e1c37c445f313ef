"""``workspace/didChangeConfiguration``: the editor's settings changed.

Clients send either the settings themselves (often under a ``tactful`` key) or nothing, in the
pull model; in the latter case we ask for the ``tactful`` section with
``workspace/configuration``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from tactful.server.errors import guard
from tactful.server.settings import flatten

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)


def register(server: TactfulServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guard(server, "settings update")
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        values: Any = params.settings
        if not isinstance(values, dict) or not values:
            values = await _pull(server)
        if isinstance(values, dict):
            server.client_settings = flatten(values)
        server.reload_settings()


async def _pull(server: TactfulServer) -> Any:
    capabilities = server.client_capabilities.workspace
    if capabilities is None or not capabilities.configuration:
        return None
    try:
        result = await server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="tactful")])
        )
    except Exception:
        logger.warning("the client did not answer workspace/configuration", exc_info=True)
        return None
    return result[0] if result else None

"""``tactful/selectedPython``: the interpreter the editor has selected for the workspace.

A notification from the client, ``{python: "/path/to/bin/python" | null}``: the VS Code
extension sends the Python extension's choice after start and whenever it changes. It is where
validation finds the project's interpreter when no ``validation.command`` or
``validation.python`` names one (server/validation.py, feedback/execution/environment.py); a
change re-judges the open documents' fixes, as a settings change does. Neovim users set
``validation.python`` instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tactful.server.errors import guard

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

METHOD = "tactful/selectedPython"


def register(server: TactfulServer) -> None:
    @server.feature(METHOD)
    @guard(server, "the selected interpreter")
    def selected_python(params: Any) -> None:
        # pygls hands unknown methods' params over as objects with attributes
        value = (
            params.get("python") if isinstance(params, dict) else getattr(params, "python", None)
        )
        if value is not None and not (isinstance(value, str) and value):
            logger.warning("%s takes {python: path or null}, got %r", METHOD, params)
            return
        if value == server.selected_python:
            return
        logger.info("the editor selected the interpreter %s", value)
        server.selected_python = value
        server.reload_settings()

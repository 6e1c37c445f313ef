"""The coverage map, started in the background as soon as a workspace is trusted.

Test selection for fix validation reads the map (which test runs which lines); building it
runs the whole suite once under coverage, so it starts only in a trusted workspace with
validation enabled, after ``initialized`` or when trust or settings change — never at
``initialize`` and never on the event loop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)


def register(server: TactfulServer) -> None:
    ready = {"initialized": False}

    def start() -> None:
        if not ready["initialized"] or server.workspace_root is None:
            return
        if not (server.trusted and server.settings.validation.enabled):
            return
        from tactful.server.validation import sandbox_for  # the sandbox only when it may run

        sandbox = sandbox_for(
            server.workspace_root,
            server.settings,
            server.editor_trust,
            server.selected_python,
        )
        sandbox.start_coverage_map()

    def on_initialized() -> None:
        ready["initialized"] = True
        start()

    server.initialized_listeners.append(on_initialized)
    server.settings_listeners.append(start)

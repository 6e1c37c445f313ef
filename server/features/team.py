"""The team store (``feedback.team``): shipping this server's events, using the team's models.

Not an LSP method: called by the feedback feature when it opens the store (``start_team``) and
before it closes it (``stop_team``). Everything slow — connecting, shipping, fetching models,
asking git which repository a workspace is — runs on the link's own threads; new models reach
the feedback loop on the event loop's thread (``call_soon_threadsafe``), where the loop moves
each workspace onto them and keeps what it learned. A team store that cannot be reached is
logged, and the server goes on with the local store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from lsprotocol.types import MessageType

from tactful.feedback.loop import FeedbackLoop
from tactful.feedback.team.link import TeamLink
from tactful.feedback.team.schema import TeamUnavailable, check_url

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)


def start_team(server: TactfulServer, loop: FeedbackLoop, workspace: str) -> TeamLink | None:
    url = server.settings.feedback.team
    if not url:
        return None
    try:
        check_url(url)
    except TeamUnavailable as exc:
        server.show_message(f"tactful: {exc}; events stay in the local store", MessageType.Warning)
        return None
    event_loop = asyncio.get_running_loop()

    def models_changed() -> None:
        event_loop.call_soon_threadsafe(lambda: loop.use_base(link.base))

    link = TeamLink(loop.store, url, models_changed)
    loop.use_base(link.base)
    link.watch(workspace)
    link.start()
    server.services.team = link
    return link


def stop_team(server: TactfulServer, timeout: float = 2.0) -> None:
    """Stop the link after one last shipment (at most ``timeout`` seconds)."""
    link, server.services.team = server.services.team, None
    if link is not None:
        link.stop(timeout)

"""A server's link to its team store: shipping its events and using the team's models.

Boundary: owns the two background threads (``Shipper``, ``ModelFetcher``) for one server and
answers the feedback loop's question "what does this workspace start from?" without blocking:
a workspace's repository is found on the fetcher's thread (git runs there), and until it is
known the workspace starts from the team's model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from tactful.feedback.acceptance.model import Prior
from tactful.feedback.store import FeedbackStore
from tactful.feedback.team.identity import repository_of
from tactful.feedback.team.models import FETCH_EVERY_S, ModelFetcher, TeamModels
from tactful.feedback.team.shipper import Shipper

logger = logging.getLogger(__name__)


class TeamLink:
    """``on_models`` is called (from a background thread) whenever the models changed; the
    caller moves its feedback loop onto ``base`` from its own thread."""

    def __init__(
        self,
        store: FeedbackStore,
        url: str,
        on_models: Callable[[], None],
        *,
        ship_every_s: float = 5.0,
        fetch_every_s: float = FETCH_EVERY_S,
    ) -> None:
        self._lock = threading.Lock()
        self._roots: dict[str, str | None] = {}  # workspace root -> repository id
        self._on_models = on_models
        self.shipper = Shipper(store, url, interval_s=ship_every_s)
        self.fetcher = ModelFetcher(
            url, self._repositories, lambda _models: on_models(), every_s=fetch_every_s
        )

    def start(self) -> None:
        self.shipper.start()
        self.fetcher.start()

    def stop(self, timeout: float = 3.0) -> None:
        self.fetcher.stop(timeout=0.5)
        self.shipper.stop(timeout)

    @property
    def problem(self) -> str | None:
        return self.shipper.problem or self.fetcher.problem

    @property
    def models(self) -> TeamModels | None:
        return self.fetcher.models

    def watch(self, root: str) -> None:
        """Find the repository of ``root`` (on the fetcher's thread) and fetch its model."""
        self.base(root)

    def _repositories(self) -> list[str]:
        """Runs on the fetcher's thread: finds the repository of each workspace seen."""
        with self._lock:
            unknown = [root for root, repo in self._roots.items() if repo is None]
        for root in unknown:
            found = repository_of(root)
            with self._lock:
                self._roots[root] = found.id if found is not None else ""
        with self._lock:
            return [repo for repo in self._roots.values() if repo]

    def base(self, root: str) -> tuple[Prior | None, Mapping[int, float] | None]:
        """What the workspace at ``root`` starts from (never blocks)."""
        with self._lock:
            known = root in self._roots
            repository = self._roots.get(root)
            if not known:
                self._roots[root] = None
        if not known and root:
            self.fetcher.wake()  # find its repository and fetch its model
        models = self.fetcher.models
        if models is None:
            return None, None
        return models.for_repository(repository)

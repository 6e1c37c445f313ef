"""The team's newest models, fetched for a server: at start and then every hour.

Boundary: reads ``tactful_models`` of the newest training run (one query; a run is published in
one transaction, so it is whole or absent). ``ModelFetcher`` does it on a thread of its own and
hands a new ``TeamModels`` to its callback only when the run changed; a failure keeps the models
a server already has (or the shipped ones) and is retried at the next interval.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tactful.feedback.acceptance.model import Prior
from tactful.feedback.team.schema import TeamUnavailable, connect, ensure_schema, redact
from tactful.feedback.team.training import COMPLETION, ITEMS

logger = logging.getLogger(__name__)

FETCH_EVERY_S = 3600.0


@dataclass(frozen=True)
class TeamModels:
    """One training run's models: for the whole team (scope ``""``) and some repositories."""

    run: int
    completion: Mapping[str, Prior] = field(default_factory=dict)
    items: Mapping[str, Mapping[int, float]] = field(default_factory=dict)

    def for_repository(
        self, repository: str | None
    ) -> tuple[Prior | None, Mapping[int, float] | None]:
        """The repository's own models where the team trained one, else the team's."""
        key = repository or ""
        return (
            self.completion.get(key) or self.completion.get(""),
            self.items.get(key) or self.items.get(""),
        )


def fetch_models(conn: Any, repositories: Iterable[str] = ()) -> TeamModels | None:
    """The newest run's team models and those of ``repositories``; None before any run."""
    newest = conn.execute("SELECT max(id) FROM tactful_training_runs").fetchone()
    if newest is None or newest[0] is None:
        return None
    run = int(newest[0])
    scopes = ["", *sorted(set(repositories) - {""})]
    rows = conn.execute(
        "SELECT scope, kind, weights FROM tactful_models WHERE run = %s AND scope = ANY(%s)",
        (run, scopes),
    ).fetchall()
    completion: dict[str, Prior] = {}
    items: dict[str, dict[int, float]] = {}
    for scope, kind, weights in rows:
        try:
            if kind == COMPLETION:
                completion[scope] = Prior.from_json(json.loads(weights))
            elif kind == ITEMS:
                items[scope] = {int(k): float(v) for k, v in json.loads(weights).items()}
        except (ValueError, KeyError, TypeError):
            logger.warning("the team's %s model for %r is malformed: ignored", kind, scope)
    return TeamModels(run, completion, items)


class ModelFetcher:
    """Fetches the team's models every ``every_s`` seconds (and when woken) on a thread."""

    def __init__(
        self,
        url: str,
        repositories: Callable[[], Iterable[str]],
        on_models: Callable[[TeamModels], None],
        *,
        every_s: float = FETCH_EVERY_S,
    ) -> None:
        self.url = url
        self.repositories = repositories
        self.on_models = on_models
        self.every_s = every_s
        self.models: TeamModels | None = None
        self.problem: str | None = None
        self._fetched_for: frozenset[str] = frozenset()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def fetch(self) -> TeamModels | None:
        """Fetch now; calls ``on_models`` when the run (or the repositories asked for)
        changed. Raises ``TeamUnavailable``."""
        import psycopg

        wanted = frozenset(self.repositories())
        conn = connect(self.url)
        try:
            ensure_schema(conn)
            models = fetch_models(conn, wanted)
        except psycopg.Error as exc:
            raise TeamUnavailable(
                f"the team's models cannot be read from {redact(self.url)} ({exc})"
            ) from exc
        finally:
            conn.close()
        if models is not None and (
            self.models is None or models.run != self.models.run or wanted != self._fetched_for
        ):
            self.models, self._fetched_for = models, wanted
            logger.info("using the team's models of training run %d", models.run)
            self.on_models(models)
        return self.models

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="tactful-team-models", daemon=True
            )
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.fetch()
                self.problem = None
            except TeamUnavailable as exc:
                if self.problem != str(exc):
                    logger.warning("%s; keeping the models in use", exc)
                self.problem = str(exc)
            except Exception:
                logger.exception("fetching the team's models failed")
            self._wake.wait(self.every_s)
            self._wake.clear()

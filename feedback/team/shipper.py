"""Shipping: a local store's events sent to the team store, in the background, at least once.

Boundary: reads the local store through ``FeedbackStore`` (its writer thread) and writes the
team store over its own short-lived connection, on a thread of its own; the server's event loop
never waits for it. What a row holds is ``outbound``'s decision.

Guarantees: an event is sent in a batch of the events after the local cursor
(``FeedbackStore.shipped_through``), in one transaction of the team store, and the cursor moves
only after that transaction committed. A failure anywhere (the database restarted or
unreachable, this process killed) leaves the cursor where it was, so the batch is sent again;
the team store keeps each event id once (``ON CONFLICT DO NOTHING``), so nothing is lost and
nothing counted twice. Two servers of one user ship from the same store under one advisory lock:
one ships, the other finds the lock taken and waits for the next round. After a failure the next
round waits longer (doubling, up to ``max_backoff_s``, with jitter).
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable

from tactful.feedback.events import Event
from tactful.feedback.store import FeedbackStore, StoreUnavailable
from tactful.feedback.team.identity import (
    Repository,
    developer_id,
    developer_name,
    repository_of,
)
from tactful.feedback.team.outbound import COLUMNS, outbound_row
from tactful.feedback.team.schema import (
    TeamUnavailable,
    connect,
    ensure_schema,
    redact,
    team_key,
    team_settings,
)

logger = logging.getLogger(__name__)

INSERT_EVENTS = (
    f"INSERT INTO tactful_events ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) ON CONFLICT (uid) DO NOTHING"
)


def _lock_key(developer: str, store: FeedbackStore) -> int:
    digest = hashlib.sha256(f"ship\0{developer}\0{store.path}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Shipper:
    """Ships the events of ``store`` to the team store at ``url``.

    ``ship()`` is one round, synchronous (for the command line, tests and benchmarks);
    ``start()`` runs rounds every ``interval_s`` on a thread until ``stop()``.
    """

    def __init__(
        self,
        store: FeedbackStore,
        url: str,
        *,
        developer: str | None = None,
        batch_size: int = 500,
        interval_s: float = 5.0,
        max_backoff_s: float = 300.0,
        repository: Callable[[str], Repository | None] = repository_of,
        name: Callable[[], str] = developer_name,
    ) -> None:
        self.store = store
        self.url = url
        self.team = team_key(url)
        self.developer = developer or developer_id()
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self._repository = repository
        self._name = name
        self.shipped = 0
        self.failures = 0
        self.problem: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._random = random.Random()

    # -- one round ------------------------------------------------------------------------

    def ship(self, max_batches: int | None = None) -> int:
        """Send every event not yet in the team store (or ``max_batches`` batches of them);
        returns how many were sent. Raises ``TeamUnavailable`` (nothing is lost: the next
        round sends from where this one's last commit left off)."""
        import psycopg
        from psycopg.types.json import Jsonb

        conn = connect(self.url)
        try:
            ensure_schema(conn)
            settings = team_settings(conn)
            share_code = settings.get("share_code") is True
            share_names = settings.get("share_names") is True
            got = conn.execute(
                "SELECT pg_try_advisory_lock(%s)", (_lock_key(self.developer, self.store),)
            ).fetchone()
            if not got or not got[0]:
                return 0  # another server of this user is shipping this store right now
            conn.execute(
                "INSERT INTO tactful_developers (id, name) VALUES (%s, %s) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                (self.developer, (self._name() or None) if share_names else None),
            )
            sent = 0
            batches = 0
            cursor = self.store.shipped_through(self.team)
            while max_batches is None or batches < max_batches:
                events = self.store.events(after=cursor, limit=self.batch_size)
                if not events:
                    break
                repositories: dict[str, Repository] = {}
                rows = []
                for event in events:
                    repo = self._repository_of(event)
                    if repo is not None:
                        repositories[repo.id] = repo
                    row = outbound_row(
                        event, self.developer, repo.id if repo else "", share_code=share_code
                    )
                    rows.append((*row[:-1], Jsonb(row[-1])))
                with conn.transaction(), conn.cursor() as cur:
                    if repositories:
                        cur.executemany(
                            "INSERT INTO tactful_repositories (id, label) VALUES (%s, %s) "
                            "ON CONFLICT (id) DO NOTHING",
                            [(r.id, r.label) for r in repositories.values()],
                        )
                    cur.executemany(INSERT_EVENTS, rows)
                # Committed: only now may the cursor move (a crash before this line sends
                # the batch again, and the team store ignores what it already has).
                cursor = events[-1].id
                self.store.mark_shipped(self.team, cursor)
                sent += len(events)
                batches += 1
            self.shipped += sent
            return sent
        except psycopg.Error as exc:
            raise TeamUnavailable(
                f"shipping to the team store {redact(self.url)} failed ({exc})"
            ) from exc
        finally:
            conn.close()

    def _repository_of(self, event: Event) -> Repository | None:
        return self._repository(event.workspace) if event.workspace else None

    # -- in the background ----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tactful-team-ship", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Ship now rather than at the next interval."""
        self._wake.set()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the thread after one last round (waits at most ``timeout`` seconds)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            self._round()
            if stopping:
                return
            self._wake.wait(self._delay())
            self._wake.clear()

    def _round(self) -> None:
        try:
            self.ship()
        except TeamUnavailable as exc:
            self.failures += 1
            if self.problem != str(exc):
                logger.warning("%s; events stay in the local store and are sent later", exc)
            self.problem = str(exc)
            return
        except (StoreUnavailable, TimeoutError) as exc:
            # A busy or closed local store: the next round reads from the same cursor.
            self.failures += 1
            self.problem = f"the local feedback store cannot be read now ({exc or 'busy'})"
            return
        except Exception as exc:
            self.failures += 1
            logger.exception("shipping events to the team store failed")
            self.problem = str(exc)
            return
        if self.problem is not None:
            logger.info("the team store %s is reachable again", redact(self.url))
        self.failures = 0
        self.problem = None

    def _delay(self) -> float:
        if not self.failures:
            return self.interval_s
        backoff = min(self.max_backoff_s, self.interval_s * 2.0 ** min(self.failures, 16))
        return backoff * (0.5 + 0.5 * self._random.random())

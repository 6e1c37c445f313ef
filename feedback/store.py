"""The feedback store: an SQLite file in WAL mode with one writer thread.

Boundary: the only module that touches the feedback database. Callers hand it ``Event``s and
never wait for SQLite: ``record`` puts the event on a queue and returns at once; a dedicated
writer thread owns the one connection, commits events in batches and answers reads in turn.
It must never stop the server: a read-only, locked, corrupt or too-new file is reported once
(``problem``, and a warning in the log) and the store goes on in memory for the session.

Durability: an event is *acknowledged* once its transaction has committed to the file with
``synchronous=FULL`` — ``record(event, wait=True)`` then returns True, ``on_commit(True)`` is
called, or a later ``flush()`` returns True or ``committed()``'s future is done with True (the
way to wait from an event loop: no thread waits). An acknowledged event survives the process
being killed at any moment. Events kept in memory after a failure are never acknowledged
(False). ``on_problem`` hears, once, when the store stops using its file — at opening or at a
later write (a full disk) — so that the user can be told, not only the log.

Schema: versioned by ``PRAGMA user_version``; ``MIGRATIONS[n]`` takes a database from version
``n`` to ``n + 1``; the steps an old file needs run inside one transaction, so it is upgraded in
place or not at all, and a reader never sees a version in between.
Retention is bounded by age and by row count.

Event ids: each row has a ``uid`` (random, given when the event is written) that names it in the
team store, and row ids are never reused (``AUTOINCREMENT``), so "everything after row N" is a
safe cursor for shipping; ``shipped_through`` and ``mark_shipped`` keep that cursor per team.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tactful.analyzers.userdirs import data_dir
from tactful.feedback.events import Event, new_uid

logger = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the event log.
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        kind TEXT NOT NULL,
        item_id TEXT NOT NULL DEFAULT '',
        workspace TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        length INTEGER NOT NULL DEFAULT 0,
        explicit INTEGER NOT NULL DEFAULT 0,
        code_hash TEXT NOT NULL DEFAULT '',
        code TEXT,
        features TEXT NOT NULL DEFAULT '[]',
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_time ON events(time);
    """,
    # 1 -> 2: exploration marks and predicted probabilities (unbiased learning), lookups by
    # item, and the per-workspace state of the online models.
    """
    ALTER TABLE events ADD COLUMN explored INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN probability REAL;
    CREATE INDEX events_item ON events(item_id);
    CREATE TABLE model_state (
        workspace TEXT NOT NULL,
        model TEXT NOT NULL,
        state TEXT NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (workspace, model)
    );
    """,
    # 2 -> 3: event ids (``uid``) and the gate's features of a judged suggestion (``context``),
    # row ids never reused (a cursor over them stays valid after the oldest rows are trimmed),
    # and how far each team store has been sent the events.
    """
    CREATE TABLE events_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        uid TEXT NOT NULL,
        time REAL NOT NULL,
        kind TEXT NOT NULL,
        item_id TEXT NOT NULL DEFAULT '',
        workspace TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        length INTEGER NOT NULL DEFAULT 0,
        explicit INTEGER NOT NULL DEFAULT 0,
        explored INTEGER NOT NULL DEFAULT 0,
        probability REAL,
        code_hash TEXT NOT NULL DEFAULT '',
        code TEXT,
        features TEXT NOT NULL DEFAULT '[]',
        context TEXT NOT NULL DEFAULT '[]',
        detail TEXT NOT NULL DEFAULT '{}'
    );
    INSERT INTO events_v3 (id, uid, time, kind, item_id, workspace, language, length, explicit,
        explored, probability, code_hash, code, features, detail)
    SELECT id, lower(hex(randomblob(16))), time, kind, item_id, workspace, language, length,
        explicit, explored, probability, code_hash, code, features, detail FROM events;
    DROP TABLE events;
    ALTER TABLE events_v3 RENAME TO events;
    CREATE INDEX events_time ON events(time);
    CREATE INDEX events_item ON events(item_id);
    CREATE TABLE team_outbox (
        team TEXT PRIMARY KEY,
        shipped_through INTEGER NOT NULL,
        updated REAL NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "uid, time, kind, item_id, workspace, language, length, explicit, explored, probability, "
    "code_hash, code, features, context, detail"
)
_PLACEHOLDERS = ",".join("?" * len(_COLUMNS.split(",")))


def default_store_path() -> Path:
    return data_dir() / "feedback.sqlite3"


def store_path(configured: str | None) -> Path:
    """The store's file: ``feedback.store`` when set (``~`` expanded), else the user data dir."""
    return Path(configured).expanduser() if configured else default_store_path()


@dataclass(frozen=True)
class Retention:
    """How much history to keep: events older than ``max_age_days`` or beyond the newest
    ``max_rows`` are deleted."""

    max_age_days: float = 365.0
    max_rows: int = 200_000


class StoreUnavailable(Exception):
    """The file cannot be used; the message says why in the user's words."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring an open database to ``SCHEMA_VERSION``; returns the version it had before."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StoreUnavailable(
            f"it was written by a newer tactful (schema {found}, this one knows {SCHEMA_VERSION})"
        )
    if found == SCHEMA_VERSION:
        return found
    # All pending steps in one transaction: a reader (``tactful stats``) sees the old version
    # or the newest, never one in between.
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated between our read and our lock.
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"it was written by a newer tactful (schema {current}, this one knows "
                f"{SCHEMA_VERSION})"
            )
        for version in range(current, SCHEMA_VERSION):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def _pairs(features: Iterable[tuple[int, float]]) -> str:
    return json.dumps([[i, round(v, 6)] for i, v in features], separators=(",", ":"))


def _row(event: Event, keep_code: bool) -> tuple[Any, ...]:
    return (
        event.uid or new_uid(),
        event.time,
        event.kind,
        event.item_id,
        event.workspace,
        event.language,
        event.length,
        int(event.explicit),
        int(event.explored),
        event.probability,
        event.code_hash,
        event.code if keep_code else None,
        _pairs(event.features),
        _pairs(event.context),
        json.dumps(dict(event.detail), separators=(",", ":"), default=str),
    )


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        time=row["time"],
        kind=row["kind"],
        item_id=row["item_id"],
        workspace=row["workspace"],
        language=row["language"],
        length=row["length"],
        explicit=bool(row["explicit"]),
        explored=bool(row["explored"]),
        probability=row["probability"],
        code_hash=row["code_hash"],
        code=row["code"],
        features=tuple((int(i), float(v)) for i, v in json.loads(row["features"])),
        context=tuple((int(i), float(v)) for i, v in json.loads(row["context"])),
        detail=json.loads(row["detail"]),
        uid=row["uid"],
    )


def query_events(
    conn: sqlite3.Connection,
    *,
    since: float | None = None,
    kinds: Iterable[str] | None = None,
    workspace: str | None = None,
    limit: int | None = None,
    after: int | None = None,
) -> list[Event]:
    """Events in row order, filtered (``after``: only rows whose id is greater)."""
    where: list[str] = []
    args: list[object] = []
    if after is not None:
        where.append("id > ?")
        args.append(after)
    if since is not None:
        where.append("time >= ?")
        args.append(since)
    if kinds is not None:
        kinds = list(kinds)
        where.append(f"kind IN ({','.join('?' * len(kinds))})")
        args.extend(kinds)
    if workspace is not None:
        where.append("workspace = ?")
        args.append(workspace)
    sql = f"SELECT id, {_COLUMNS} FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    conn.row_factory = sqlite3.Row
    return [_event(row) for row in conn.execute(sql, args)]


def read_events(path: str | os.PathLike[str], **filters: Any) -> list[Event]:
    """Events of a store file, read without becoming its writer (for ``tactful stats``).

    A missing file has no events; an unreadable one raises ``StoreUnavailable``.
    """
    target = Path(path)
    if not target.exists():
        return []
    try:
        conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                return []  # just created, not yet set up by its writer
            if version != SCHEMA_VERSION:
                raise StoreUnavailable(
                    f"{target} has schema {version}; this tactful reads {SCHEMA_VERSION} "
                    "(start the server once to upgrade it)"
                )
            return query_events(conn, **filters)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"{target} cannot be read ({exc})") from exc


class _Write:
    __slots__ = ("done", "events", "ok", "on_commit")

    def __init__(self, events: list[Event], on_commit: Callable[[bool], None] | None) -> None:
        self.events = events
        self.on_commit = on_commit
        self.done = threading.Event()
        self.ok = False


class _Call:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self.fn = fn
        self.future: Future[Any] = Future()


_STOP = object()


class FeedbackStore:
    """The event store of one user (see the module docstring for its guarantees).

    ``keep_code`` is ``feedback.storeCode``. The store starts its writer thread at once; call
    ``close()`` to flush and stop it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        keep_code: bool = False,
        retention: Retention = Retention(),
        busy_timeout_s: float = 5.0,
        max_queue: int = 20_000,
        on_problem: Callable[[str], object] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.on_problem = on_problem
        self.keep_code = keep_code
        self.retention = retention
        self.busy_timeout_s = busy_timeout_s
        self._problem: str | None = None
        self._problem_said = False
        self._durable = False
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._dropped = 0
        self._since_trim = 0
        self._closed = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tactful-feedback", daemon=True)
        self._thread.start()

    # -- public API -----------------------------------------------------------------------

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until the file is opened (or given up on). The constructor does not wait, so
        a server can create the store without blocking on a slow or locked file."""
        return self._ready.wait(timeout)

    @property
    def durable(self) -> bool:
        """True while events go to the file (False: in memory after a problem). Waits for the
        store to open."""
        self.wait_ready()
        return self._durable

    @property
    def problem(self) -> str | None:
        """Why the store is not using its file, in words for the user; None when all is well.
        Waits for the store to open."""
        self.wait_ready()
        return self._problem

    def record(
        self,
        event: Event,
        *,
        wait: bool = False,
        timeout: float = 10.0,
        on_commit: Callable[[bool], None] | None = None,
    ) -> bool:
        """Queue one event. Never blocks unless ``wait``; see ``record_many``."""
        return self.record_many([event], wait=wait, timeout=timeout, on_commit=on_commit)

    def record_many(
        self,
        events: list[Event],
        *,
        wait: bool = False,
        timeout: float = 10.0,
        on_commit: Callable[[bool], None] | None = None,
    ) -> bool:
        """Queue events to be written in one transaction.

        Returns True when queued (``wait=False``) or, with ``wait``, when acknowledged: committed
        durably to the file. ``on_commit(durable)`` is called from the writer thread.
        """
        if self._closed:
            return False
        write = _Write(list(events), on_commit)
        try:
            self._queue.put_nowait(write)
        except queue.Full:
            self._dropped += len(write.events)
            if self._dropped == len(write.events):
                logger.warning("feedback store %s is falling behind: dropping events", self.path)
            return False
        if not wait:
            return True
        return write.done.wait(timeout) and write.ok

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written; True if it all reached the file."""
        write = _Write([], None)
        try:
            self._queue.put(write, timeout=timeout)
        except queue.Full:
            return False
        return write.done.wait(timeout) and write.ok

    def committed(self) -> Future[bool]:
        """A future done once everything queued before it has been written: True when it all
        reached the file, False when it is kept in memory (or the store is closed, or its queue
        full). Never blocks; from an event loop, wait for it with ``asyncio.wrap_future``."""
        future: Future[bool] = Future()

        def done(durable: bool) -> None:
            # a waiter that gave up has cancelled it
            if future.set_running_or_notify_cancel():
                future.set_result(durable)

        if self._closed:
            done(False)
            return future
        try:
            self._queue.put_nowait(_Write([], done))
        except queue.Full:
            done(False)
        return future

    def call(self, fn: Callable[[sqlite3.Connection], T], timeout: float = 30.0) -> T:
        """Run ``fn(connection)`` on the writer thread, after the writes queued before it.

        Blocking: from the LSP event loop, call it through the executor.
        """
        return self.submit(fn, timeout).result(timeout)

    def submit(self, fn: Callable[[sqlite3.Connection], T], timeout: float = 30.0) -> Future[T]:
        """Queue ``fn(connection)`` for the writer thread; its result arrives in the future."""
        if self._closed:
            raise StoreUnavailable("the store is closed")
        item = _Call(fn)
        self._queue.put(item, timeout=timeout)
        return item.future

    def events(self, **filters: Any) -> list[Event]:
        """Events in the order they were recorded (filters: since, kinds, workspace, limit)."""
        return self.call(lambda conn: query_events(conn, **filters))

    def shipped_through(self, team: str) -> int:
        """The last row id sent to the team store named ``team`` (0: none yet)."""

        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT shipped_through FROM team_outbox WHERE team = ?", (team,)
            ).fetchone()
            return int(row[0]) if row else 0

        return self.call(read)

    def mark_shipped(self, team: str, through: int) -> None:
        """Record that the team store ``team`` holds every event up to row ``through``
        (committed before this returns; a cursor never moves back)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO team_outbox (team, shipped_through, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (team) DO UPDATE SET shipped_through = "
                "max(shipped_through, excluded.shipped_through), updated = excluded.updated",
                (team, through, time.time()),
            )

        self.call(lambda conn: self._in_transaction(conn, write))

    def load_state(self, workspace: str, model: str) -> dict[str, Any] | None:
        """The saved state of a workspace's online model, or None."""
        return self.call(lambda conn: self.read_state(conn, workspace, model))

    @staticmethod
    def read_state(conn: sqlite3.Connection, workspace: str, model: str) -> dict[str, Any] | None:
        """``load_state`` for code already on the writer thread (inside ``submit``)."""
        row = conn.execute(
            "SELECT state FROM model_state WHERE workspace = ? AND model = ?",
            (workspace, model),
        ).fetchone()
        try:
            return json.loads(row[0]) if row else None
        except ValueError:
            return None

    def save_state(self, workspace: str, model: str, state: dict[str, Any]) -> None:
        """Queue the state of a workspace's online model to be written (does not block)."""
        payload = json.dumps(state, separators=(",", ":"))

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO model_state (workspace, model, state, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (workspace, model) DO UPDATE SET state = excluded.state, "
                "updated = excluded.updated",
                (workspace, model, payload, time.time()),
            )

        item = _Call(lambda conn: self._in_transaction(conn, write))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            logger.warning("feedback store %s is falling behind: model state not saved", self.path)

    def close(self, timeout: float = 10.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        conn = self._open()
        self._ready.set()
        while True:
            item = self._queue.get()
            batch: list[object] = [item]
            # Everything already waiting goes into the same transaction: one fsync for many.
            while item is not _STOP and len(batch) < 1000:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            conn = self._process(conn, batch)
            if batch[-1] is _STOP:
                conn.close()
                return

    def _open(self) -> sqlite3.Connection:
        try:
            conn = self._open_file()
            self._durable = True
            return conn
        except (sqlite3.Error, OSError, StoreUnavailable) as exc:
            return self._fall_back(exc)

    def _open_file(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreUnavailable(f"it cannot be switched to WAL mode (mode {mode})")
            conn.execute("PRAGMA synchronous=FULL")
            migrate(conn)
            self._trim(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _fall_back(self, exc: BaseException) -> sqlite3.Connection:
        reason = str(exc) or type(exc).__name__
        self._problem = (
            f"The feedback store {self.path} cannot be used ({reason}); tactful keeps working and "
            "keeps this session's feedback in memory only."
        )
        logger.warning("%s", self._problem)
        self._durable = False
        if self.on_problem is not None and not self._problem_said:
            self._problem_said = True
            try:
                self.on_problem(self._problem)
            except Exception:
                logger.exception("feedback store on_problem callback failed")
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        migrate(conn)
        return conn

    def _process(self, conn: sqlite3.Connection, batch: list[object]) -> sqlite3.Connection:
        writes = [item for item in batch if isinstance(item, _Write)]
        if writes:
            rows = [_row(e, self.keep_code) for w in writes for e in w.events]
            try:
                self._insert(conn, rows)
                ok = self._durable
            except sqlite3.Error as exc:
                # Locked past the busy timeout, disk full, the file went bad: say so once and
                # keep the events in memory rather than losing them or stopping.
                try:
                    conn.close()
                except sqlite3.Error:
                    logger.debug("closing the failed store connection", exc_info=True)
                conn = self._fall_back(exc)
                self._insert(conn, rows)
                ok = False
            for w in writes:
                w.ok = ok
                w.done.set()
                if w.on_commit is not None:
                    try:
                        w.on_commit(ok)
                    except Exception:
                        logger.exception("feedback on_commit callback failed")
        for item in batch:
            if isinstance(item, _Call):
                try:
                    item.future.set_result(item.fn(conn))
                except Exception as exc:
                    logger.debug("feedback store call failed", exc_info=True)
                    item.future.set_exception(exc)
        return conn

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return

        def write(c: sqlite3.Connection) -> None:
            c.executemany(f"INSERT INTO events ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", rows)

        self._in_transaction(conn, write)
        self._since_trim += len(rows)
        if self._since_trim >= 1000:
            self._since_trim = 0
            try:
                self._trim(conn)
            except sqlite3.Error:
                logger.warning("could not trim the feedback store", exc_info=True)

    @staticmethod
    def _in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _trim(self, conn: sqlite3.Connection) -> None:
        cutoff = time.time() - self.retention.max_age_days * 86400.0

        def trim(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM events WHERE time < ?", (cutoff,))
            newest = c.execute("SELECT max(id) FROM events").fetchone()[0]
            if newest is not None:
                c.execute("DELETE FROM events WHERE id <= ?", (newest - self.retention.max_rows,))

        self._in_transaction(conn, trim)

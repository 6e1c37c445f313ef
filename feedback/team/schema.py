"""The team store's tables and their versions.

Boundary: the only module that knows the team database's DDL. ``connect`` opens a connection
(psycopg 3, imported here lazily); ``ensure_schema`` brings the database to this client's
version or checks that a newer one still accepts this client, and raises ``TeamUnavailable``
with the reason in the user's words when it does not.

Versions: ``tactful_meta`` holds ``schema`` (the database's version) and ``compatible_from`` (the
oldest client version that may still read and write it). ``MIGRATIONS[n]`` takes a database from
version ``n`` to ``n + 1`` inside one transaction, under an advisory lock so that two clients
starting at once migrate it once; each says which client versions stay compatible after it
(additive changes such as a new nullable column keep older clients working).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    sql: str
    # The oldest client schema version that can use the database once this migration ran.
    compatible_from: int


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        """
        CREATE TABLE tactful_meta (key text PRIMARY KEY, value text NOT NULL);
        CREATE TABLE tactful_settings (
            key text PRIMARY KEY,
            value jsonb NOT NULL,
            updated timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO tactful_settings (key, value) VALUES
            ('share_code', 'false'), ('share_names', 'false');
        CREATE TABLE tactful_repositories (
            id text PRIMARY KEY,
            label text NOT NULL,
            first_seen timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE tactful_developers (
            id text PRIMARY KEY,
            name text,
            first_seen timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE tactful_events (
            uid uuid PRIMARY KEY,
            seq bigserial NOT NULL,
            developer text NOT NULL,
            repository text NOT NULL,
            time double precision NOT NULL,
            received timestamptz NOT NULL DEFAULT clock_timestamp(),
            kind text NOT NULL,
            item_id text NOT NULL,
            language text NOT NULL,
            length integer NOT NULL,
            explicit boolean NOT NULL,
            explored boolean NOT NULL,
            probability real,
            code_hash text NOT NULL,
            code text,
            ones integer[] NOT NULL,
            valued integer[] NOT NULL,
            vals real[] NOT NULL,
            context_ones integer[] NOT NULL,
            context_valued integer[] NOT NULL,
            context_vals real[] NOT NULL,
            detail jsonb NOT NULL
        );
        CREATE INDEX tactful_events_seq ON tactful_events (seq);
        CREATE INDEX tactful_events_repository_kind ON tactful_events (repository, kind);
        CREATE TABLE tactful_training_runs (
            id bigserial PRIMARY KEY,
            created timestamptz NOT NULL DEFAULT now(),
            client text NOT NULL,
            events bigint NOT NULL,
            through_seq bigint NOT NULL,
            evaluation jsonb NOT NULL
        );
        CREATE TABLE tactful_models (
            run bigint NOT NULL REFERENCES tactful_training_runs (id) ON DELETE CASCADE,
            scope text NOT NULL,
            kind text NOT NULL,
            weights text NOT NULL,
            evaluation jsonb NOT NULL,
            PRIMARY KEY (run, scope, kind)
        )
        """,
        compatible_from=1,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
# pg_advisory_xact_lock key for migrations (any constant shared by every client).
_MIGRATION_LOCK = 0x7AC7F1
TEAM_SCOPE = ""  # the scope of the whole team's model (a repository's scope is its id)


class TeamUnavailable(Exception):
    """The team store cannot be used now; the message says why in the user's words."""


class TeamSchemaTooNew(TeamUnavailable):
    """The team store was upgraded past what this tactful can use."""


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and messages)."""
    url = re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def team_key(url: str) -> str:
    """A short name for a team store that does not carry its password: what the local store
    keeps its shipping cursor under."""
    return hashlib.sha256(redact(url).encode("utf-8")).hexdigest()[:16]


def check_url(url: str) -> None:
    """Raise ``TeamUnavailable`` unless ``url`` looks like a PostgreSQL URL or conninfo."""
    if not re.match(r"^(postgres(ql)?://|\w+=)", url.strip()):
        raise TeamUnavailable(
            f"feedback.team must be a PostgreSQL URL such as postgresql://host/db (got "
            f"{redact(url)!r})"
        )


def connect(url: str, *, timeout_s: float = 5.0) -> psycopg.Connection[Any]:
    """A new connection to the team store, in autocommit: a write that must be atomic is
    inside ``with conn.transaction()``."""
    check_url(url)
    import psycopg

    try:
        return psycopg.connect(
            url,
            connect_timeout=max(1, int(timeout_s)),
            application_name="tactful",
            autocommit=True,
        )
    except psycopg.Error as exc:
        raise TeamUnavailable(f"the team store {redact(url)} cannot be reached ({exc})") from exc


def _meta(conn: psycopg.Connection[Any]) -> dict[str, str] | None:
    # Read pg_class with the statement's snapshot rather than to_regclass(): name lookups go
    # through the backend's catalog cache, which does not see a table another client has just
    # created while this one waited on the migration lock (an advisory lock takes in no
    # invalidations), and the migration would then fail with "already exists".
    exists = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
        " WHERE c.relname = 'tactful_meta' AND pg_catalog.pg_table_is_visible(c.oid))"
    ).fetchone()
    if exists is None or not exists[0]:
        return None
    return {k: v for k, v in conn.execute("SELECT key, value FROM tactful_meta").fetchall()}


def ensure_schema(conn: psycopg.Connection[Any]) -> int:
    """Bring the team store to ``SCHEMA_VERSION``, or check that its newer schema still takes
    this client; returns the database's version. Raises ``TeamSchemaTooNew`` otherwise."""
    import psycopg

    try:
        found = _version(conn)
        if found < SCHEMA_VERSION:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                found = _version(conn)  # another client may have migrated meanwhile
                for version in range(found, SCHEMA_VERSION):
                    migration = MIGRATIONS[version]
                    for statement in migration.sql.split(";"):
                        if statement.strip():
                            conn.execute(statement)  # type: ignore[arg-type]
                    _set_meta(conn, version + 1, migration.compatible_from)
                    logger.info("team store migrated to schema %d", version + 1)
            found = max(found, SCHEMA_VERSION)
        meta = _meta(conn) or {}
    except psycopg.Error as exc:
        raise TeamUnavailable(
            f"the team store's schema cannot be read or upgraded ({exc})"
        ) from exc
    compatible_from = int(meta.get("compatible_from", "1"))
    if found > SCHEMA_VERSION and compatible_from > SCHEMA_VERSION:
        raise TeamSchemaTooNew(
            f"the team store was upgraded to schema {found}, which needs a tactful that knows "
            f"schema {compatible_from} or later (this one knows {SCHEMA_VERSION}); upgrade "
            "tactful. Events stay in the local store and are sent once it can."
        )
    return found


def _version(conn: psycopg.Connection[Any]) -> int:
    meta = _meta(conn)
    return int(meta.get("schema", "0")) if meta else 0


def _set_meta(conn: psycopg.Connection[Any], version: int, compatible_from: int) -> None:
    for key, value in (("schema", version), ("compatible_from", compatible_from)):
        conn.execute(
            "INSERT INTO tactful_meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )


def team_settings(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The team's own settings (``share_code``, ``share_names``), as the table holds them."""
    rows = conn.execute("SELECT key, value FROM tactful_settings").fetchall()
    return {key: value for key, value in rows}


def set_team_setting(conn: psycopg.Connection[Any], key: str, value: Any) -> None:
    """Set one of the team's settings (committed)."""
    from psycopg.types.json import Jsonb

    with conn.transaction():
        conn.execute(
            "INSERT INTO tactful_settings (key, value, updated) VALUES (%s, %s, now()) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = now()",
            (key, Jsonb(value)),
        )

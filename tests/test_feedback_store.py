"""The feedback store: WAL, migrations, retention, and never stopping on a bad file."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tactful.feedback.events import (
    SUGGESTION_ACCEPTED,
    SUGGESTION_SHOWN,
    Event,
    code_hash,
)
from tactful.feedback.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    FeedbackStore,
    Retention,
    StoreUnavailable,
    read_events,
    store_path,
)


def shown(i: int, text: str = "return x", **kw) -> Event:
    return Event(
        SUGGESTION_SHOWN,
        item_id=f"s{i}",
        language="python",
        length=len(text),
        code=text,
        code_hash=code_hash(text),
        features=((1, 1.0), (42, 0.5)),
        detail={"engine": "local"},
        **kw,
    )


def test_events_are_kept_in_wal_mode_with_hashes_not_code(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    with FeedbackStore(path) as store:
        assert store.durable and store.problem is None
        assert store.record(shown(1), wait=True)
        assert store.record(Event(SUGGESTION_ACCEPTED, item_id="s1", length=8), wait=True)
        events = store.events()
    assert [e.kind for e in events] == [SUGGESTION_SHOWN, SUGGESTION_ACCEPTED]
    first = events[0]
    assert first.code is None
    assert first.code_hash == code_hash("return x")
    assert first.features == ((1, 1.0), (42, 0.5))
    assert first.detail == {"engine": "local"}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "return x" not in str(conn.execute("SELECT * FROM events").fetchall())
    # A separate reader (as `tactful stats` is) sees the same.
    assert [e.item_id for e in read_events(path)] == ["s1", "s1"]


def test_code_is_kept_only_when_the_user_opted_in(tmp_path: Path) -> None:
    with FeedbackStore(tmp_path / "fb.sqlite3", keep_code=True) as store:
        store.record(shown(1, "print(1)"), wait=True)
        assert store.events()[0].code == "print(1)"


def test_store_path_follows_the_setting_or_the_user_data_dir(tmp_path: Path) -> None:
    assert store_path(str(tmp_path / "x.db")) == tmp_path / "x.db"
    default = store_path(None)
    assert default.name == "feedback.sqlite3"
    assert str(default).startswith(os.environ["XDG_DATA_HOME"])


def test_an_old_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO events (time, kind, item_id, length) VALUES (?, ?, ?, ?)",
            (time.time(), SUGGESTION_SHOWN, "old", 5),
        )
    with FeedbackStore(path) as store:
        assert store.problem is None
        store.save_state("/ws", "completion", {"w": 1})
        assert store.load_state("/ws", "completion") == {"w": 1}
        old = store.events()[0]
    assert (old.item_id, old.length, old.explored, old.probability) == ("old", 5, False, None)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_from_a_newer_version_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with FeedbackStore(path) as store:
        assert store.problem is not None and "newer" in store.problem
        # Still serving, in memory: the event is kept but not acknowledged as durable.
        assert store.record(shown(1), wait=True) is False
        assert [e.item_id for e in store.events()] == ["s1"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 5


def test_a_corrupt_store_is_reported_once_and_does_not_stop_anything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"this is not a database, " * 400)
    with FeedbackStore(path) as store:
        assert not store.durable
        assert store.problem is not None and str(path) in store.problem
        for i in range(3):
            store.record(shown(i))
        assert store.flush() is False
        assert len(store.events()) == 3
    assert sum("cannot be used" in r.message for r in caplog.records) == 1
    assert path.read_bytes().startswith(b"this is not a database")
    with pytest.raises(StoreUnavailable):
        read_events(path)


def test_a_locked_store_falls_back_to_memory(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    FeedbackStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with FeedbackStore(path, busy_timeout_s=0.2) as store:
            assert store.record(shown(1), wait=True) is False
            assert store.problem is not None and "locked" in store.problem
            store.record(shown(2))
            assert [e.item_id for e in store.events()] == ["s1", "s2"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _without_root_file_powers() -> None:
    """Root ignores file modes; drop the capabilities that let it (PR_CAPBSET_DROP for
    CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER), so the child meets a read-only file as
    any user would."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2, 3):
            libc.prctl(24, capability, 0, 0, 0)


def test_a_read_only_store_does_not_stop_anything(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "ro.sqlite3"
    with FeedbackStore(path) as store:
        store.record(shown(1), wait=True)
    path.chmod(0o444)
    folder.chmod(0o555)
    script = textwrap.dedent(
        f"""
        from tactful.feedback.events import Event
        from tactful.feedback.store import FeedbackStore
        store = FeedbackStore({str(path)!r})
        ok = store.record(Event("suggestion.shown", item_id="s2"), wait=True)
        print(ok, store.durable, len(store.events()), store.problem is not None)
        store.close()
        """
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_without_root_file_powers,
        )
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "1", "True"]
    assert "cannot be used" in done.stderr
    assert [e.item_id for e in read_events(path)] == ["s1"]


def test_retention_bounds_rows_and_age(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    retention = Retention(max_age_days=30, max_rows=100)
    with FeedbackStore(path, retention=retention) as store:
        store.record(shown(0, time=time.time() - 40 * 86400), wait=True)
        store.record_many([shown(i) for i in range(1, 1101)], wait=True)
        remaining = store.events()
    assert len(remaining) == 100
    assert remaining[-1].item_id == "s1100"
    assert "s0" not in {e.item_id for e in remaining}


WRITER = textwrap.dedent(
    """
    import sys
    from tactful.feedback.events import Event
    from tactful.feedback.store import FeedbackStore

    store = FeedbackStore(sys.argv[1])
    start = int(sys.argv[2])
    for i in range(start, start + 100000):
        batch = [Event("suggestion.shown", item_id=f"e{i}-{k}", length=k) for k in range(3)]
        if store.record_many(batch, wait=True):
            sys.stdout.write(f"e{i}\\n")
            sys.stdout.flush()
    """
)


def test_kill_9_during_writes_loses_no_acknowledged_event(tmp_path: Path) -> None:
    """A real writer process, killed at random moments, again and again."""
    path = tmp_path / "fb.sqlite3"
    rng = random.Random(4)
    acknowledged: list[str] = []
    start = 0
    for _round in range(10):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # it has started writing
        assert first.startswith("e")
        acknowledged.append(first.strip())
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait()
        acknowledged.extend(line for line in rest.split("\n") if line)
        start += 100000
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with FeedbackStore(path) as store:
        assert store.durable
        kept = {e.item_id for e in store.events()}
    assert len(acknowledged) > 10
    missing = [a for a in acknowledged if not {f"{a}-0", f"{a}-1", f"{a}-2"} <= kept]
    assert missing == []


def test_events_get_ids_and_row_ids_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.executescript(MIGRATIONS[1])
        conn.execute("PRAGMA user_version = 2")
        conn.execute(
            "INSERT INTO events (time, kind, item_id) VALUES (?, ?, ?)",
            (time.time(), SUGGESTION_SHOWN, "from-v2"),
        )
    with FeedbackStore(path, retention=Retention(max_age_days=1.0)) as store:
        old = store.events()[0]
        assert old.item_id == "from-v2" and len(old.uid) == 32
        store.record(shown(1, context=((3, 1.0),)), wait=True)
        new = store.events()[-1]
        assert len(new.uid) == 32 and new.uid != old.uid and new.context == ((3, 1.0),)
        store.mark_shipped("team", new.id)
        assert store.shipped_through("team") == new.id
        store.mark_shipped("team", 1)  # a cursor never moves back
        assert store.shipped_through("team") == new.id
    # Every row deleted (as trimming old rows may), then a new one: never an old id again.
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM events")
    with FeedbackStore(path) as store:
        store.record(shown(3), wait=True)
        assert store.events()[-1].id > new.id

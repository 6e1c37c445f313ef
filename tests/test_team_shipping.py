"""Shipping events to a team store: a real PostgreSQL (pgserver), real SQLite stores, real
faults: the database stopped, restarted and unreachable mid-shipment, the shipper killed with
SIGKILL, a schema newer than the client, two servers of one user shipping at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest
from fixtures.workspace import Workspace

from tactful.feedback.events import (
    COMMENT_DISMISSED,
    SUGGESTION_ACCEPTED,
    SUGGESTION_SHOWN,
    Event,
    code_hash,
)
from tactful.feedback.store import FeedbackStore
from tactful.feedback.team.identity import normalize_remote, repository_of
from tactful.feedback.team.schema import (
    SCHEMA_VERSION,
    TeamSchemaTooNew,
    TeamUnavailable,
    connect,
    ensure_schema,
    set_team_setting,
    team_key,
)
from tactful.feedback.team.shipper import Shipper

SECRET_TEXT = "password = 'hunter2'  # the code itself"


def shown(i: int, workspace: str = "", **kw) -> Event:
    return Event(
        SUGGESTION_SHOWN,
        item_id=f"s{i}",
        language="python",
        workspace=workspace,
        length=len(SECRET_TEXT),
        code=SECRET_TEXT,
        code_hash=code_hash(SECRET_TEXT),
        features=((1, 1.0), (42, 0.5)),
        context=((7, 1.0),),
        probability=0.6,
        detail={"engine": "local", "threshold": 0.3, "prompt": SECRET_TEXT, "path": "/home/x"},
        **kw,
    )


def fill(store: FeedbackStore, n: int, workspace: str = "", start: int = 0) -> None:
    store.record_many([shown(i, workspace) for i in range(start, start + n)], wait=True)


def team_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT uid::text, item_id, repository, code, detail, ones, valued, vals, "
            "context_ones FROM tactful_events ORDER BY item_id"
        ).fetchall()


def count(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT uid) FROM tactful_events").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.fixture
def repo(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "checkout-of-ada")
    ws.write("a.py", "x = 1\n")
    ws.commit("first")
    ws.git("remote", "add", "origin", "https://ada:s3cret-token@Example.com/Org/widgets.git")
    return ws


def test_only_what_the_models_learn_from_leaves_the_machine(
    tmp_path: Path, team_url: str, repo: Workspace
) -> None:
    with FeedbackStore(tmp_path / "f.sqlite3", keep_code=True) as store:
        fill(store, 30, str(repo.root))
        store.record(
            Event(SUGGESTION_ACCEPTED, item_id="s3", workspace=str(repo.root), length=9),
            wait=True,
        )
        shipper = Shipper(store, team_url)
        assert shipper.ship() == 31
        assert shipper.ship() == 0  # nothing new: nothing sent again
        assert store.shipped_through(team_key(team_url)) == store.events()[-1].id
        local = {e.uid for e in store.events()}
    rows = team_rows(team_url)
    assert len(rows) == 31 and {r[0].replace("-", "") for r in rows} == local
    first = next(r for r in rows if r[1] == "s0")
    assert first[3] is None  # the team did not opt in to code, so the text stayed home
    assert first[4] == {"engine": "local", "threshold": 0.3}  # no prompt, no path
    assert (first[5], first[6], first[7], first[8]) == ([1], [42], [0.5], [7])
    with psycopg.connect(team_url) as conn:
        repos = conn.execute("SELECT id, label FROM tactful_repositories").fetchall()
        everything = conn.execute("SELECT t::text FROM tactful_events t").fetchall()
    assert repos == [(first[2], "example.com/Org/widgets")]
    dump = "\n".join(row[0] for row in everything) + repr(repos)
    for leak in ("hunter2", "s3cret", "checkout-of-ada", str(tmp_path)):
        assert leak not in dump


def test_code_is_shipped_only_when_the_team_opts_in(tmp_path: Path, team_url: str) -> None:
    conn = connect(team_url)
    ensure_schema(conn)
    set_team_setting(conn, "share_code", True)
    conn.close()
    with FeedbackStore(tmp_path / "f.sqlite3", keep_code=True) as store:
        fill(store, 2)
        Shipper(store, team_url).ship()
    assert [r[3] for r in team_rows(team_url)] == [SECRET_TEXT, SECRET_TEXT]


def test_a_repository_is_named_the_same_from_every_clone(tmp_path: Path, repo: Workspace) -> None:
    assert normalize_remote("git@github.com:Org/widgets.git") == "github.com/Org/widgets"
    assert normalize_remote("ssh://git@github.com:22/Org/widgets") == "github.com/Org/widgets"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.root), str(clone)], check=True)
    subprocess.run(
        ["git", "-C", str(clone), "remote", "set-url", "origin", "git@example.com:Org/widgets"],
        check=True,
    )
    ours, theirs = repository_of(str(repo.root)), repository_of(str(clone))
    assert ours is not None and ours == theirs
    no_remote = Workspace(tmp_path / "local-only")
    no_remote.write("b.py", "y = 2\n")
    no_remote.commit("only")
    found = repository_of(str(no_remote.root))
    assert found is not None and found.label == "local-only"
    assert repository_of(str(tmp_path)) is None  # not a repository


def test_the_database_restarted_or_unreachable_mid_shipment_loses_nothing_and_doubles_nothing(
    tmp_path: Path, team_url: str, postgres
) -> None:
    with FeedbackStore(tmp_path / "f.sqlite3") as store:
        fill(store, 250)
        shipper = Shipper(store, team_url, batch_size=50)
        assert shipper.ship(max_batches=2) == 100
        postgres.stop()
        try:
            fill(store, 50, start=250)
            with pytest.raises(TeamUnavailable, match="cannot be reached"):
                shipper.ship()
        finally:
            postgres.start()
        # Restarted while a background shipper sends small batches and events keep coming.
        background = Shipper(store, team_url, batch_size=20, interval_s=0.02, max_backoff_s=0.2)
        background.start()
        fill(store, 100, start=300)
        time.sleep(0.1)
        postgres.restart()
        fill(store, 100, start=400)
        deadline = time.monotonic() + 30
        while count(team_url)[0] < 500 and time.monotonic() < deadline:
            time.sleep(0.1)
        background.stop()
    assert count(team_url) == (500, 500)
    assert {r[1] for r in team_rows(team_url)} == {f"s{i}" for i in range(500)}


def test_an_unreachable_team_store_is_said_once_and_events_wait(tmp_path: Path, caplog) -> None:
    url = f"postgresql://nobody@/tactful?host={tmp_path / 'no-such-socket'}"
    with FeedbackStore(tmp_path / "f.sqlite3") as store:
        fill(store, 3)
        shipper = Shipper(store, url, interval_s=0.01, max_backoff_s=0.05)
        shipper.start()
        time.sleep(0.5)
        shipper.stop()
        assert shipper.failures >= 2
        assert shipper.problem is not None and "cannot be reached" in shipper.problem
        assert store.shipped_through(team_key(url)) == 0
    warnings = [r for r in caplog.records if "team store" in r.getMessage()]
    assert len(warnings) == 1 and "***" not in url
    with pytest.raises(TeamUnavailable, match="PostgreSQL URL"):
        Shipper(FeedbackStore(tmp_path / "g.sqlite3"), "mysql://x/y").ship()


SHIP_FOREVER = textwrap.dedent(
    """
    import sys
    from tactful.feedback.store import FeedbackStore
    from tactful.feedback.team.shipper import Shipper
    store = FeedbackStore(sys.argv[1])
    shipper = Shipper(store, sys.argv[2], developer="d" * 32, batch_size=5)
    print("ready", flush=True)
    while True:
        shipper.ship()
    """
)


def test_a_shipper_killed_with_sigkill_loses_nothing_and_doubles_nothing(
    tmp_path: Path, team_url: str
) -> None:
    path = tmp_path / "f.sqlite3"
    with FeedbackStore(path) as store:
        fill(store, 400)
    ensure_schema(connect(team_url))
    child = subprocess.Popen(
        [sys.executable, "-c", SHIP_FOREVER, str(path), team_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while count(team_url)[0] < 60 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    sent_before = count(team_url)[0]
    assert 0 < sent_before < 400
    # The killed shipper's database session holds the store's lock until the database sees it
    # gone: until then a round finds the lock taken and leaves the work to the next one, as a
    # server's rounds every few seconds do.
    deadline = time.monotonic() + 30
    with FeedbackStore(path) as store:
        shipper = Shipper(store, team_url, developer="d" * 32)
        while count(team_url)[0] < 400 and time.monotonic() < deadline:
            shipper.ship()
            time.sleep(0.1)
    assert count(team_url) == (400, 400)


def test_a_newer_schema_is_used_while_it_allows_and_refused_with_the_reason_when_not(
    tmp_path: Path, team_url: str
) -> None:
    conn = connect(team_url)
    ensure_schema(conn)
    newer = SCHEMA_VERSION + 1
    # A newer tactful added a column with a default and said older clients may still write.
    conn.execute("ALTER TABLE tactful_events ADD COLUMN session text NOT NULL DEFAULT ''")
    conn.execute("UPDATE tactful_meta SET value = %s WHERE key = 'schema'", (str(newer),))
    with FeedbackStore(tmp_path / "f.sqlite3") as store:
        fill(store, 5)
        assert Shipper(store, team_url).ship() == 5
        # Then one that older clients cannot write to.
        conn.execute(
            "UPDATE tactful_meta SET value = %s WHERE key = 'compatible_from'", (str(newer),)
        )
        fill(store, 5, start=5)
        with pytest.raises(TeamSchemaTooNew, match=f"schema {newer}.*upgrade tactful"):
            Shipper(store, team_url).ship()
        assert count(team_url)[0] == 5
        conn.execute("UPDATE tactful_meta SET value = '1' WHERE key = 'compatible_from'")
        assert Shipper(store, team_url).ship() == 5
    conn.close()
    assert count(team_url) == (10, 10)


def test_two_servers_of_one_user_ship_at_once_without_doubling(
    tmp_path: Path, team_url: str
) -> None:
    path = tmp_path / "f.sqlite3"
    first, second = FeedbackStore(path), FeedbackStore(path)
    sent: list[int] = []
    stop = threading.Event()

    def ship(store: FeedbackStore) -> None:
        shipper = Shipper(store, team_url, developer="e" * 32, batch_size=7)
        while not stop.is_set():
            sent.append(shipper.ship())
        sent.append(shipper.ship())

    threads = [threading.Thread(target=ship, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for i in range(0, 300, 30):
        fill(first, 15, start=i)
        fill(second, 15, start=i + 15)
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join(30)
    first.close()
    second.close()
    assert count(team_url) == (300, 300)
    assert sum(sent) == 300  # one shipped at a time, each from where the other stopped
    with psycopg.connect(team_url) as conn:
        assert conn.execute("SELECT count(*) FROM tactful_developers").fetchone() == (1,)


def test_dismissals_travel_with_their_rule(tmp_path: Path, team_url: str) -> None:
    with FeedbackStore(tmp_path / "f.sqlite3") as store:
        store.record(
            Event(COMMENT_DISMISSED, item_id="c1", detail={"kind": "comment", "rule": "F401"}),
            wait=True,
        )
        Shipper(store, team_url).ship()
    assert team_rows(team_url)[0][4] == {"kind": "comment", "rule": "F401"}

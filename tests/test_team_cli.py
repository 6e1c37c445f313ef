"""The team store end to end: a real server over stdio shipping to a real PostgreSQL and
starting from the team's model; ``tactful team train`` and ``tactful stats --team`` as a user
runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from fixtures.lsp import change_document, init_params, open_document, wait_for
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.feedback import events as ev
from tactful.feedback.store import FeedbackStore
from tactful.feedback.team.schema import connect, ensure_schema, set_team_setting
from tactful.feedback.team.shipper import Shipper
from tactful.feedback.team.training import train
from tactful.server.cli import main

TEAM_THRESHOLD = 0.4321
REPEATED = "import os\n\nleft = os.path.join(base, 'left')\nright = os.path.join(base, 'right')\n"


def tactful(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The console script in a child process, as a user or CI runs it."""
    return subprocess.run(
        [sys.executable, "-P", "-m", "tactful.server", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=120,
    )


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The same command in this process (``tactful.server.cli.main``): faster, same code."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def user_config(text: str) -> None:
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "tactful"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")


async def test_a_server_ships_its_events_and_starts_from_the_team_model(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path, team_url: str
) -> None:
    workspace.write("m.py", REPEATED)
    workspace.commit("start")
    workspace.git("remote", "add", "origin", "https://example.com/org/app.git")
    conn = connect(team_url)
    ensure_schema(conn)
    run = train(conn).run  # a first team model (no events yet: the shipped prior's weights)
    # Mark the team's model, so that the events say which model decided.
    row = conn.execute(
        "SELECT weights FROM tactful_models WHERE run = %s AND scope = '' AND kind = 'completion'",
        (run,),
    ).fetchone()
    weights = json.loads(row[0])
    weights["filter"]["threshold"] = TEAM_THRESHOLD
    conn.execute(
        "UPDATE tactful_models SET weights = %s WHERE run = %s AND scope = '' "
        "AND kind = 'completion'",
        (json.dumps(weights), run),
    )
    conn.close()
    store = tmp_path / "fb.sqlite3"
    await lsp.initialize_session(
        init_params(
            workspace.root,
            {
                "completion": {"engine": "local"},
                "filter": {"enabled": False},
                "feedback": {"store": str(store), "team": team_url},
            },
        )
    )
    # The team's model is fetched in the background; the server says when it uses it.
    await wait_for(
        lambda: any(f"training run {run}" in m.message for m in lsp.log_messages), timeout=60
    )
    uri = workspace.uri("n.py")
    line = "middle = os.pa"
    open_document(lsp, uri, REPEATED + line)
    answer = await lsp.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=4, character=len(line)),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    items = answer.items if isinstance(answer, types.InlineCompletionList) else answer
    assert items
    item = items[0]
    change_document(lsp, uri, 2, (4, len(line)), (4, len(line)), item.insert_text)
    await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
    )
    (accepted,) = item.command.arguments

    def shipped() -> list:
        with psycopg.connect(team_url) as c:
            return c.execute(
                "SELECT kind, repository, detail FROM tactful_events WHERE item_id = %s",
                (accepted,),
            ).fetchall()

    rows = await wait_for(
        lambda: (r := shipped()) and {k for k, *_ in r} >= {ev.SUGGESTION_ACCEPTED} and r,
        timeout=30,
    )
    assert {k for k, *_ in rows} >= {ev.SUGGESTION_SHOWN, ev.SUGGESTION_ACCEPTED}
    assert all(repo for _, repo, _ in rows)
    (shown,) = [detail for kind, _, detail in rows if kind == ev.SUGGESTION_SHOWN]
    assert shown["threshold"] == TEAM_THRESHOLD  # decided by the team's model


def test_team_train_and_stats_from_the_command_line(
    tmp_path: Path, team_url: str, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "team", "train")[0] == 2  # no team store set
    workspace.write("a.py", "x = 1\n")
    workspace.commit("one")
    root = str(workspace.root)
    events = []
    for i in range(40):
        events.append(
            ev.Event(ev.SUGGESTION_SHOWN, item_id=f"s{i}", workspace=root, language="python")
        )
        if i % 2:
            events.append(
                ev.Event(
                    ev.SUGGESTION_ACCEPTED,
                    item_id=f"s{i}",
                    workspace=root,
                    length=9,
                    detail={"keystrokes": 8},
                )
            )
    events += [
        ev.Event(ev.SUGGESTION_HIDDEN, workspace=root, language="python"),
        ev.Event(ev.FIX_APPLIED, item_id="f1", workspace=root, explicit=True),
        ev.Event(ev.VALIDATION_VERDICT, item_id="f1", workspace=root, detail={"verdict": "passed"}),
    ]
    with FeedbackStore(tmp_path / "a.sqlite3") as store:
        store.record_many(events, wait=True)
        Shipper(store, team_url, developer="a" * 32, name=lambda: "Ada Lovelace").ship()
    user_config(f'[feedback]\nteam = "{team_url}"\n')

    trained = tactful("team", "train", "--format", "json", "--min-repository-suggestions", "10")
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["run"] >= 1 and report["events"] == len(events)
    assert set(report["scopes"]) >= {"team"} and "peak_rss_mb" in report
    team_scope = report["scopes"]["team"]
    # When trained, published from all 21 judged: the 20 accepted and the hidden one (for the
    # gate); the 20 shown without an outcome are not judged.
    assert team_scope["published_fitted_on"] in (0, 21)
    assert (team_scope["published_fitted_on"] == 21) == (team_scope["kept"] == "trained")
    code, text, err = run_cli(capsys, "team", "train")
    assert code == 0 and "published training run" in text and "kept" in text, err

    code, out, err = run_cli(capsys, "stats", "--team", "--format", "json")
    assert code == 0, err
    stats = json.loads(out)
    assert stats["completions"]["shown"] == 40 and stats["completions"]["accepted"] == 20
    assert stats["completions"]["keystrokes_saved"] == 160
    assert stats["completions"]["hidden_share"] == round(1 / 41, 4)
    assert stats["fixes"]["used"] == 1 and stats["fixes"]["validated"] == 1
    (repo,) = stats["repositories"]
    assert repo["label"] == workspace.root.name and repo["completions"]["accepted"] == 20
    assert stats["weeks"] and repo["weeks"]
    assert stats["developers"] is None and stats["active_developers"] == 1
    assert "Ada" not in out

    conn = connect(team_url)
    set_team_setting(conn, "share_names", True)
    conn.close()
    with FeedbackStore(tmp_path / "a.sqlite3") as store:
        Shipper(store, team_url, developer="a" * 32, name=lambda: "Ada Lovelace").ship()
    named = json.loads(run_cli(capsys, "stats", "--team", "--format", "json")[1])
    assert named["developers"] == [{"name": "Ada Lovelace", "completions": stats["completions"]}]
    plot = tmp_path / "team.html"
    text = tactful("stats", "--team", "--plot", str(plot))
    assert (
        text.returncode == 0 and "per repository" in text.stdout and "Ada Lovelace" in text.stdout
    )
    assert plot.read_text(encoding="utf-8").startswith("<!doctype html>")
    code, shown, _ = run_cli(capsys, "team", "settings", "--share-code", "on")
    assert json.loads(shown) == {"share_code": True, "share_names": True}


def test_feedback_team_is_never_taken_from_a_workspace_file(workspace: Workspace) -> None:
    workspace.write(".tactful.toml", '[feedback]\nteam = "postgresql://evil.example/steal"\n')
    from tactful.server.settings import load

    resolved = load(workspace.root)
    assert resolved.settings.feedback.team is None
    assert any("feedback.team" in p and "ignored" in p for p in resolved.problems)


def test_doctor_never_shows_the_team_store_password(workspace: Workspace) -> None:
    user_config('[feedback]\nteam = "postgresql://ada:s3cret@db.example/team"\n')
    done = tactful("doctor", "--no-llm-check", cwd=workspace.root)
    assert "postgresql://ada:***@db.example/team" in done.stdout
    assert "s3cret" not in done.stdout + done.stderr


async def test_a_team_setting_that_is_no_url_is_said_and_the_server_keeps_serving(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    await lsp.initialize_session(
        init_params(
            workspace.root,
            {"feedback": {"store": str(tmp_path / "fb.sqlite3"), "team": "mysql://db/x"}},
        )
    )
    message = await wait_for(
        lambda: next((m for m in lsp.messages if "PostgreSQL URL" in m.message), None)
    )
    assert message.type == types.MessageType.Warning
    uri = workspace.uri("a.py")
    open_document(lsp, uri, "import os\n")
    answer = await lsp.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=0),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    assert answer is not None  # still answering

"""Review comments and quick fixes through the feedback loop, over real stdio: ranked and hidden
by the item model, resolved by edits, offered/applied/ignored once, verdicts recorded; each
checked against the real SQLite store."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fixtures.lsp import change_document, init_params, open_document, wait_for
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.feedback import events as ev
from tactful.feedback.store import read_events

REVIEW = "tactful.review"
QUALITY = "tactful.quality"


def options(store: Path, **more: object) -> dict[str, object]:
    # No exploration: what the model would hide stays hidden, so the test knows what is shown.
    return {"filter": {"explore": 0.0}, "feedback": {"store": str(store)}, **more}


def comments(lsp: LanguageClient, uri: str) -> list[tuple[int, str]]:
    """(line, rule) of the review comments as published, in the order published."""
    return [
        (d.range.start.line, str(d.code))
        for d in lsp.diagnostics.get(uri, [])
        if d.source == REVIEW
    ]


def comment_id(lsp: LanguageClient, uri: str, line: int) -> str:
    (found,) = [
        d for d in lsp.diagnostics.get(uri, []) if d.source == REVIEW and d.range.start.line == line
    ]
    return found.data["id"]


def events_of(store: Path, kind: str) -> list[ev.Event]:
    return [e for e in read_events(store) if e.kind == kind]


async def dismiss(lsp: LanguageClient, item_id: str) -> None:
    done = await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tactful.dismissComment", arguments=[item_id])
    )
    assert done is True


BASE = "def area(w, h):\n    return w * h\n"
DEBUGGED = (
    "def area(w, h):\n"
    "    print(w)\n"
    "    print(h)\n"
    "    print(w, h)\n"
    "    # TODO: negative sides\n"
    "    return w * h\n"
)


async def test_comments_are_ranked_and_a_dismissed_rule_sinks_then_hides(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    workspace.write("geo.py", BASE)
    workspace.commit("init")
    workspace.write("geo.py", DEBUGGED)
    await lsp.initialize_session(init_params(workspace.root, options(store)))
    uri = workspace.uri("geo.py")
    open_document(lsp, uri, DEBUGGED)

    # Nothing learned yet: every comment is as likely useful, so reading order.
    await wait_for(lambda: len(comments(lsp, uri)) == 4)
    assert comments(lsp, uri) == [
        (1, "debug-leftover"),
        (2, "debug-leftover"),
        (3, "debug-leftover"),
        (4, "todo-added"),
    ]

    # One dismissal of a debugging comment: that rule now ranks below the TODO at once.
    await dismiss(lsp, comment_id(lsp, uri, 1))
    await wait_for(lambda: len(comments(lsp, uri)) == 3)
    assert comments(lsp, uri) == [(4, "todo-added"), (2, "debug-leftover"), (3, "debug-leftover")]

    # A second one: the rule's last comment is hidden, the other rule stays.
    await dismiss(lsp, comment_id(lsp, uri, 2))
    await wait_for(lambda: comments(lsp, uri) == [(4, "todo-added")])

    # An edit elsewhere, reviewed again: the hidden comment stays away.
    change_document(lsp, uri, 2, (0, 0), (0, 0), "LIMIT = 1\n")
    await wait_for(lambda: comments(lsp, uri) == [(5, "todo-added")])

    def recorded() -> list[ev.Event]:
        return events_of(store, ev.COMMENT_HIDDEN)

    (hidden,) = await wait_for(recorded)
    assert hidden.detail["rule"] == "debug-leftover" and hidden.probability < 0.4
    dismissed = events_of(store, ev.COMMENT_DISMISSED)
    assert len(dismissed) == 2
    # The model's probability for the rule fell with each dismissal.
    assert dismissed[1].probability < dismissed[0].probability
    shown = Counter(e.item_id for e in events_of(store, ev.COMMENT_SHOWN))
    assert len(shown) == 4 and set(shown.values()) == {1}


async def test_editing_the_commented_line_resolves_the_comment(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    store = tmp_path / "fb.sqlite3"
    workspace.write("geo.py", BASE)
    workspace.commit("init")
    text = "def area(w, h):\n    print(w)\n    return w * h\n"
    workspace.write("geo.py", text)
    await lsp.initialize_session(init_params(workspace.root, options(store)))
    uri = workspace.uri("geo.py")
    open_document(lsp, uri, text)
    await wait_for(lambda: comments(lsp, uri) == [(1, "debug-leftover")])
    first = comment_id(lsp, uri, 1)

    # Re-reviewed after an edit elsewhere (which adds a comment of its own): the commented line
    # is untouched, nothing resolved.
    change_document(lsp, uri, 2, (2, 0), (2, 0), "    # TODO: units\n")
    both = [(1, "debug-leftover"), (2, "todo-added")]
    await wait_for(lambda: comments(lsp, uri) == both)
    # The line edited, but the problem stays: a comment of the same rule is still there.
    change_document(lsp, uri, 3, (1, 11), (1, 11), ", h")
    await wait_for(lambda: comments(lsp, uri) == both and comment_id(lsp, uri, 1) != first)
    second = comment_id(lsp, uri, 1)
    # The line deleted: the comment was acted on; the TODO, moved up a line, was not.
    change_document(lsp, uri, 4, (1, 0), (2, 0), "")
    await wait_for(lambda: comments(lsp, uri) == [(1, "todo-added")])

    resolved = await wait_for(lambda: events_of(store, ev.COMMENT_RESOLVED))
    assert [e.item_id for e in resolved] == [second]
    assert resolved[0].detail["rule"] == "debug-leftover"
    settled = {e.item_id for e in read_events(store) if e.kind != ev.COMMENT_SHOWN}
    assert first not in settled

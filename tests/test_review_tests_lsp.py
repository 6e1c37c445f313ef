"""Review says when a change breaks a test, over real stdio: after a save in a trusted workspace
the tests covering the changed functions run in the sandbox (real pytest, the project's own
interpreter) and each test the change breaks is a comment on the changed line that caused it;
a later passing run takes it away; a test failing before the change is not blamed on it; an
untrusted workspace runs nothing."""

from __future__ import annotations

import asyncio

import pytest
from fixtures.lsp import init_params, open_document, wait_for
from fixtures.pyenv import make_env
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.feedback.execution.workspace import WarmCopy

SOURCE = "tactful.review"
RULE = "breaks-test"
TITLE = "Running the tests of the changed functions"
TRUSTED = {"workspace": {"trusted": True}}

CALC = (
    "def sub(a, b):\n"
    "    return a - b\n"
    "\n\n"
    "def add(a, b):\n"
    "    return a + b\n"
    "\n\n"
    "def mul(a, b):\n"
    "    return a * b\n"
)
TESTS = (
    "from calc import add, mul, sub\n"
    "\n\n"
    "def test_sub():\n"
    "    assert sub(3, 2) == 1\n"
    "\n\n"
    "def test_add():\n"
    "    assert add(2, 3) == 5\n"
    "\n\n"
    "def test_mul():\n"
    "    assert mul(2, 3) == 7  # wrong since it was written\n"
)


@pytest.fixture(autouse=True)
def plain_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def project(workspace: Workspace) -> Workspace:
    """calc.py and its tests, committed, with the project's own interpreter in ``.venv``."""
    workspace.write(".gitignore", ".venv/\n")
    workspace.write("calc.py", CALC)
    workspace.write("tests/test_calc.py", TESTS)
    workspace.commit("start")
    make_env(workspace.root / ".venv")
    return workspace


def broken(lsp: LanguageClient, uri: str) -> list[types.Diagnostic]:
    return [d for d in lsp.diagnostics.get(uri, []) if d.source == SOURCE and d.code == RULE]


def save(lsp: LanguageClient, workspace: Workspace, relative: str, text: str) -> str:
    """Write ``relative`` as the editor would, and say it was saved."""
    workspace.write(relative, text)
    uri = workspace.uri(relative)
    lsp.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return uri


def runs(lsp: LanguageClient) -> list[list]:
    """The progress of each test run the server showed, begin to end."""
    return [
        values
        for values in lsp.progress_reports.values()
        if values
        and isinstance(values[0], types.WorkDoneProgressBegin)
        and values[0].title == TITLE
    ]


def finished(lsp: LanguageClient) -> int:
    return sum(isinstance(r[-1], types.WorkDoneProgressEnd) for r in runs(lsp))


async def test_a_broken_test_is_a_comment_on_the_line_that_broke_it_until_a_run_passes(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    project(workspace)
    await lsp.initialize_session(init_params(workspace.root, TRUSTED))
    # sub changes harmlessly above; add now answers one too many
    changed = CALC.replace("return a - b", "return -(b - a)").replace(
        "return a + b", "return a + b + 1"
    )
    uri = workspace.uri("calc.py")
    open_document(lsp, uri, CALC)
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=changed)],
        )
    )
    save(lsp, workspace, "calc.py", changed)

    (comment,) = await wait_for(lambda: broken(lsp, uri), timeout=90)
    line = changed.split("\n").index("    return a + b + 1")
    assert comment.range.start.line == line
    assert comment.message == (
        "breaks tests/test_calc.py::test_add: assert add(2, 3) == 5 "
        "(assert 6 == 5, where 6 = add(2, 3))"
    )
    assert comment.severity == types.DiagnosticSeverity.Error
    # test_mul fails without the change too: not blamed on it; test_sub passes
    assert not any("test_mul" in d.message for d in lsp.diagnostics.get(uri, []))
    (run,) = runs(lsp)
    assert isinstance(run[-1], types.WorkDoneProgressEnd)

    # The test is brought up to date and saved: that run passes, and the comment goes.
    tests_uri = workspace.uri("tests/test_calc.py")
    fixed = TESTS.replace("assert add(2, 3) == 5", "assert add(2, 3) == 6")
    open_document(lsp, tests_uri, fixed)
    save(lsp, workspace, "tests/test_calc.py", fixed)
    await wait_for(lambda: finished(lsp) == 2, timeout=90)
    await wait_for(lambda: not broken(lsp, uri))
    assert not broken(lsp, tests_uri)


async def test_a_test_failing_before_the_change_is_not_blamed_on_it(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    project(workspace)
    await lsp.initialize_session(init_params(workspace.root, TRUSTED))
    # mul changes in a way that keeps it wrong for test_mul, which failed before already
    changed = CALC.replace("return a * b", "return b * a")
    uri = workspace.uri("calc.py")
    open_document(lsp, uri, changed)
    save(lsp, workspace, "calc.py", changed)

    await wait_for(lambda: finished(lsp) == 1, timeout=90)
    # the review after the run has nothing of the tests to say
    await wait_for(lambda: uri in lsp.diagnostics)
    assert broken(lsp, uri) == []


async def test_an_untrusted_workspace_runs_no_test(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    project(workspace)
    await lsp.initialize_session(init_params(workspace.root))
    changed = CALC.replace("return a + b", "return a + b + 1")
    uri = workspace.uri("calc.py")
    open_document(lsp, uri, changed)
    save(lsp, workspace, "calc.py", changed)
    # the save's review comes (a model-less rules pass on the changed line) ...
    await wait_for(lambda: uri in lsp.diagnostics)
    # ... and a trusted workspace's run would have begun by now (debounced by half a second)
    await asyncio.sleep(3)
    assert runs(lsp) == []
    assert broken(lsp, uri) == []
    # nothing was copied for a run either
    assert not WarmCopy(workspace.root.resolve()).copy.exists()

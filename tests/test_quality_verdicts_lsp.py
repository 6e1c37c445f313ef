"""Verdicts as an editor sees them, over real stdio: titles that say what ran, what may be
preferred or fixed all at once, a resolve that waits for its verdict (and can be cancelled),
a rejected fix that is not applied, and ``tactful/verdictsChanged`` when a verdict arrives."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from fixtures.lsp import (
    apply_lsp_edits,
    change_document,
    code_actions,
    init_params,
    inline_at,
    open_document,
    wait_for,
)
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

# The modules are unchanged since their commit: only the scope `all` shows their findings.
TRUSTED = {
    "workspace": {"trusted": True},
    "validation": {"python": sys.executable},
    "quality": {"scope": "all"},
}


# The sandboxed runs use this interpreter: its own test plugins only slow them down.
pytestmark = pytest.mark.usefixtures("plain_pytest")


async def open_trusted(
    lsp: LanguageClient, workspace: Workspace, rule: str, module: str, test: str
) -> str:
    """mod.py under ruff's `rule` with its tests committed, the server started trusted on it
    and mod.py open; returns mod.py's URI."""
    workspace.write("pyproject.toml", f"[tool.ruff.lint]\nselect = ['{rule}']\n")
    workspace.write("mod.py", module)
    workspace.write("tests/test_mod.py", test)
    workspace.commit("start")
    await lsp.initialize_session(init_params(workspace.root, TRUSTED))
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, module)
    return uri


# An unused import (F401) to fix, in a module with a test of its own.
DOUBLE = "import os\n\n\ndef double(x):\n    return 2 * x\n"


def slow_test_of_double(seconds: int) -> str:
    return (
        "import time\n\nfrom mod import double\n\n\n"
        f"def test_double():\n    time.sleep({seconds})\n    assert double(2) == 4\n"
    )


def listening(lsp: LanguageClient) -> list:
    changed: list = []
    lsp.protocol.fm.features["tactful/verdictsChanged"] = changed.append
    return changed


async def test_fixes_in_code_no_test_runs_say_so_and_are_never_preferred(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    module = (
        "def total(items):\n"
        "    return sum(items)\n\n\n"
        "def unused_helper():\n"
        "    ignored = 1\n"
        "    return 2\n\n\n"
        'def area(shape: "Shape"):\n'
        "    width = shape.width\n"
        "    return shape.height\n"
    )
    changed = listening(lsp)
    uri = await open_trusted(
        lsp,
        workspace,
        "F841",
        module,
        "from mod import total\n\n\ndef test_total():\n    assert total([1]) == 1\n",
    )

    async def judged() -> list[types.CodeAction] | None:
        found = await code_actions(lsp, uri, 12)
        titles = [a.title for a in found]
        return found if len(titles) == 2 and not any("running" in t for t in titles) else None

    deadline = time.monotonic() + 120
    while (quick := await judged()) is None:
        assert time.monotonic() < deadline, "the fixes were not judged in time"
        await asyncio.sleep(0.2)
    titles = sorted(a.title for a in quick)
    assert titles == [
        "Remove assignment to unused variable `ignored` (F841) — same behaviour on 1 input",
        "Remove assignment to unused variable `width` (F841) — tests pass, but none runs this code",
    ]
    assert not any(a.is_preferred for a in quick)
    # ruff calls these fixes unsafe: without tests that run them, no fix-all takes them
    assert await code_actions(lsp, uri, 12, only=["source.fixAll.tactful"]) == []
    assert changed and changed[-1].uri == uri


async def test_resolving_a_fix_waits_for_its_verdict(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    module = DOUBLE
    changed = listening(lsp)
    uri = await open_trusted(
        lsp,
        workspace,
        "F401",
        module,
        slow_test_of_double(seconds=2),
    )
    (pending,) = await wait_for_actions(lsp, uri)
    assert pending.title.endswith("not validated (tests still running)")
    assert not changed

    resolved = await lsp.code_action_resolve_async(pending)

    # the answer came once the tests had passed on the fix: what is applied was proven
    assert changed and changed[0].uri == uri
    assert resolved.edit is not None
    assert apply_lsp_edits(module, resolved.edit) == "\n\ndef double(x):\n    return 2 * x\n"
    assert resolved.title.endswith("— 1 test passed")
    (listed,) = await code_actions(lsp, uri, 5, only=[types.CodeActionKind.QuickFix])
    assert listed.title.endswith("— 1 test passed") and listed.is_preferred


async def test_a_fix_its_tests_reject_is_not_applied_and_the_user_is_told(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    module = (
        "def parse(value):\n"
        "    if not isinstance(value, str):\n"
        '        raise ValueError("text only")\n'
        "    return value\n"
    )
    uri = await open_trusted(
        lsp,
        workspace,
        "TRY004",
        module,
        "import time\n\nimport pytest\n\nfrom mod import parse\n\n\n"
        "def test_parse():\n    time.sleep(1)\n"
        "    with pytest.raises(ValueError):\n        parse(1)\n",
    )
    (pending,) = await wait_for_actions(lsp, uri)
    assert pending.title.endswith("not validated (tests still running)")

    resolved = await lsp.code_action_resolve_async(pending)

    assert resolved.edit is None and resolved.command is None
    message = await wait_for(lambda: [m for m in lsp.messages if "not applied" in m.message])
    assert "1 of 1 test failed" in message[0].message
    assert await code_actions(lsp, uri, 4) == []  # and it is no longer offered


async def test_a_resolve_waiting_for_tests_can_be_cancelled(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    module = DOUBLE
    uri = await open_trusted(
        lsp,
        workspace,
        "F401",
        module,
        slow_test_of_double(seconds=20),
    )
    (pending,) = await wait_for_actions(lsp, uri)

    future = asyncio.wrap_future(
        lsp.protocol.send_request(types.CODE_ACTION_RESOLVE, pending, msg_id="resolve-1")
    )
    await asyncio.sleep(0.5)
    started = time.monotonic()
    lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="resolve-1"))

    with pytest.raises(Exception, match="cancel"):
        await asyncio.wait_for(future, 10)
    assert time.monotonic() - started < 5  # well before the tests are done
    # the server still answers, and the tests go on to their verdict
    (still,) = await code_actions(lsp, uri, 5)
    assert "F401" in still.title


async def wait_for_actions(lsp: LanguageClient, uri: str) -> list[types.CodeAction]:
    deadline = time.monotonic() + 30
    while not (found := await code_actions(lsp, uri, 10)):
        assert time.monotonic() < deadline, "no code action was listed"
        await asyncio.sleep(0.05)
    return found


def fixes_being_tested(lsp: LanguageClient) -> list:
    """The tokens of the progress reports that began testing fixes."""
    return [
        token
        for token, reports in lsp.progress_reports.items()
        if any(
            isinstance(r, types.WorkDoneProgressBegin) and r.title.startswith("Testing fixes")
            for r in reports
        )
    ]


async def test_fixes_are_judged_once_typing_pauses_not_while_it_goes_on(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    changed = listening(lsp)
    uri = await open_trusted(lsp, workspace, "F401", DOUBLE, slow_test_of_double(0))
    # Right after mod.py opens, the developer types in another file: a change and an inline
    # completion asked for there, one after the other, 30 times and for 3 seconds at least
    # (the first completion waits for the engine to start). mod.py is linted and
    # its finding shown meanwhile, but its fix waits: nothing starts testing it, and nothing
    # is announced.
    notes = workspace.uri("notes.py")
    open_document(lsp, notes, "\n")
    typed = ""
    started = time.monotonic()
    version = 1
    while version < 31 or time.monotonic() - started < 3.0:
        version += 1
        typed += "x"
        change_document(lsp, notes, version, (0, len(typed) - 1), (0, len(typed) - 1), "x")
        await lsp.text_document_inline_completion_async(inline_at(notes, 0, len(typed)))
        await asyncio.sleep(0.02)
    assert [d.code for d in lsp.diagnostics.get(uri, [])] == ["F401"]
    assert fixes_being_tested(lsp) == []
    assert not changed
    (waiting,) = await code_actions(lsp, uri, 5)
    assert waiting.title.endswith("not validated (tests still running)")
    # Once typing pauses, the fix is tested and its verdict announced.
    await wait_for(lambda: fixes_being_tested(lsp))
    await wait_for(lambda: changed, timeout=120)
    assert changed[0].uri == uri
    (judged,) = await code_actions(lsp, uri, 5, only=[types.CodeActionKind.QuickFix])
    assert judged.title.endswith("— 1 test passed")


async def test_typing_stops_the_judging_of_the_fixes_of_the_text_before_it(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    uri = await open_trusted(lsp, workspace, "F401", DOUBLE, slow_test_of_double(30))
    (pending,) = await wait_for_actions(lsp, uri)
    assert pending.title.endswith("not validated (tests still running)")

    (token,) = await wait_for(lambda: fixes_being_tested(lsp))
    # Typed on without a pause (no lint comes in between): the fixes judged were for the text
    # before, and their judging, tests included, ends at once rather than after the tests.
    for version in range(2, 42):
        change_document(lsp, uri, version, (5, 0), (5, 0), "#")
        await asyncio.sleep(0.05)
        if any(isinstance(r, types.WorkDoneProgressEnd) for r in lsp.progress_reports[token]):
            break
    else:
        pytest.fail("the fixes of the text before were still being judged after 40 keystrokes")

"""Signal over noise in legacy code, over real stdio with real git and ruff: which quality
findings ``quality.scope`` shows, a baseline recorded by the real ``tactful baseline``, one
finding per line whichever part found it, and debug leftovers in code but not in docstrings."""

from __future__ import annotations

from fixtures.lsp import change_document, init_params, open_document, tactful, wait_for
from fixtures.workspace import Workspace
from pytest_lsp import LanguageClient

QUALITY = "tactful.quality"
REVIEW = "tactful.review"

BASE = "import os\nimport sys\n\n\ndef f():\n    return sys.argv\n"
# On line 6 a new unused variable; `return None` leaves `import sys` (line 2, unchanged) unused;
# `import os` (line 1) was unused before the change already.
EDITED = "import os\nimport sys\n\n\ndef f():\n    unused = 1\n    return None\n"


def shown(lsp: LanguageClient, uri: str, source: str = QUALITY) -> list[tuple[int, str]]:
    return sorted(
        (d.range.start.line + 1, str(d.code))
        for d in lsp.diagnostics.get(uri, [])
        if d.source == source
    )


def legacy(workspace: Workspace) -> Workspace:
    workspace.write("pyproject.toml", "[tool.ruff.lint]\nselect = ['F']\n")
    workspace.write("mod.py", BASE)
    workspace.commit("legacy code")
    return workspace


async def test_changed_scope_shows_what_the_change_did(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    legacy(workspace)
    workspace.write("fresh.py", "import json\n")  # untracked: new as a whole
    await lsp.initialize_session(init_params(workspace.root))
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, EDITED)
    fresh = workspace.uri("fresh.py")
    open_document(lsp, fresh, "import json\n")

    # The new unused variable, and the import the change left unused; not the old `os`.
    await wait_for(lambda: shown(lsp, uri) == [(2, "F401"), (6, "F841")])
    await wait_for(lambda: shown(lsp, fresh) == [(1, "F401")])

    # Back to the committed text: nothing is new.
    change_document(lsp, uri, 2, (5, 0), (7, 0), "    return sys.argv\n")
    await wait_for(lambda: uri in lsp.diagnostics and shown(lsp, uri) == [])


async def test_all_scope_shows_every_finding(lsp: LanguageClient, workspace: Workspace) -> None:
    legacy(workspace)
    await lsp.initialize_session(init_params(workspace.root, {"quality": {"scope": "all"}}))
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, EDITED)
    await wait_for(lambda: shown(lsp, uri) == [(1, "F401"), (2, "F401"), (6, "F841")])


async def test_baseline_scope_hides_what_tactful_baseline_recorded(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    legacy(workspace)
    recorded = tactful("baseline", str(workspace.root), cwd=workspace.root)
    assert recorded.returncode == 0, recorded.stderr
    assert "recorded 1 finding in 1 file" in recorded.stdout
    await lsp.initialize_session(init_params(workspace.root, {"quality": {"scope": "baseline"}}))
    uri = workspace.uri("mod.py")
    # Two lines above move everything down: the recorded `import os` stays recorded.
    open_document(lsp, uri, '"""Tools."""\n\n' + EDITED)
    await wait_for(lambda: shown(lsp, uri) == [(4, "F401"), (8, "F841")])
    assert not [m for m in lsp.messages if "baseline" in m.message]


async def test_baseline_scope_without_a_baseline_shows_everything_and_says_so(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    legacy(workspace)
    await lsp.initialize_session(init_params(workspace.root, {"quality": {"scope": "baseline"}}))
    uri = workspace.uri("mod.py")
    open_document(lsp, uri, EDITED)
    await wait_for(lambda: shown(lsp, uri) == [(1, "F401"), (2, "F401"), (6, "F841")])
    said = [m.message for m in lsp.messages if "baseline" in m.message]
    assert len(said) == 1 and "`tactful baseline`" in said[0]
    change_document(lsp, uri, 2, (0, 0), (0, 0), "X = 1\n")
    await wait_for(lambda: shown(lsp, uri) == [(2, "F401"), (3, "F401"), (7, "F841")])
    assert len([m for m in lsp.messages if "baseline" in m.message]) == 1


async def test_a_finding_shows_once_per_line_whichever_part_found_it(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    workspace.write("jobs.py", "def run():\n    return 1\n")
    workspace.commit("start")
    await lsp.initialize_session(init_params(workspace.root))
    uri = workspace.uri("jobs.py")
    # ruff's defaults flag the unused variable (F841) and the bare except (E722); review's
    # rules flag the bare except too (broad-except) and, before, repeated ruff's F841.
    open_document(
        lsp,
        uri,
        "def run():\n    try:\n        unused = 1\n    except:\n        pass\n    return 1\n",
    )
    await wait_for(lambda: shown(lsp, uri, REVIEW) and shown(lsp, uri))
    everything = sorted(
        (d.range.start.line + 1, str(d.code), d.source) for d in lsp.diagnostics[uri]
    )
    assert everything == [(3, "F841", QUALITY), (4, "broad-except", REVIEW)]


DOCTESTED = '''"""Numbers from text.

>>> print(number("1"))
1
"""


def number(text):
    """The number ``text`` spells.

    >>> print(number("2"))
    2
    """
    return int(text)
'''


async def test_a_print_in_code_is_flagged_where_doctests_print(
    lsp: LanguageClient, workspace: Workspace
) -> None:
    workspace.write("numbers.py", DOCTESTED)
    workspace.commit("start")
    await lsp.initialize_session(init_params(workspace.root))
    uri = workspace.uri("numbers.py")
    edited = DOCTESTED.replace(
        '    """\n    return',
        '    >>> print(number("3"))\n    3\n    """\n    print(text)\n    return',
    )
    open_document(lsp, uri, edited)
    # The print added in code is a leftover; the doctest line added above it is not.
    await wait_for(lambda: shown(lsp, uri, REVIEW) == [(16, "debug-leftover")])

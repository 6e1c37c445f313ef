"""``tactful baseline`` and ``tactful review`` under ``quality.scope``, as installed commands on
real repositories with real ruff: the baseline file keyed so that findings survive line moves,
review leaving out what it records, and debug leftovers found in code, not in docstrings."""

from __future__ import annotations

import json

from fixtures.lsp import tactful
from fixtures.workspace import Workspace

from tactful.analyzers.baseline import fingerprint

OLD = (
    "import os\n\n\ndef report(rows):\n    for row in rows:\n        print(row)\n"
    "    return len(rows)\n"
)
# The old print re-indented under a new condition, and a breakpoint added.
NEW = (
    "import os\n\n\ndef report(rows, verbose=False):\n    for row in rows:\n"
    "        if verbose:\n            print(row)\n    breakpoint()\n    return len(rows)\n"
)


def legacy(workspace: Workspace) -> Workspace:
    workspace.write("pkg/report.py", OLD)
    workspace.write("pkg/clean.py", "VALUE = 1\n")
    workspace.commit("legacy")
    return workspace


def test_baseline_records_findings_by_rule_and_line_text(workspace: Workspace) -> None:
    legacy(workspace)
    done = tactful("baseline", cwd=workspace.root / "pkg")

    assert done.returncode == 0, done.stderr
    path = workspace.root / ".tactful" / "baseline.json"
    assert f"recorded 2 findings in 1 file to {path}" in done.stdout
    assert 'quality.scope is "changed"' in done.stdout
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    # ruff's unused import, and the review rule's print (the file read whole, as if new); no
    # line numbers, so both stay recorded while the code around them moves.
    assert data["files"] == {
        "pkg/report.py": [
            {"rule": "F401", "line": fingerprint("import os"), "count": 1},
            {"rule": "debug-leftover", "line": fingerprint("print(row)"), "count": 1},
        ]
    }


def test_baseline_of_a_missing_folder_is_a_usage_error(workspace: Workspace) -> None:
    done = tactful("baseline", str(workspace.root / "nowhere"))
    assert done.returncode == 2 and "is not a folder" in done.stderr


def test_review_leaves_out_what_the_baseline_records(workspace: Workspace) -> None:
    legacy(workspace)
    assert tactful("baseline", cwd=workspace.root).returncode == 0
    workspace.write("pkg/report.py", NEW)

    # The default scope: every comment on the changed lines, the re-indented print included.
    changed = tactful("review", "--no-llm", cwd=workspace.root)
    assert changed.returncode == 1
    assert "pkg/report.py:7:13: warning [debug-leftover]" in changed.stdout
    assert "pkg/report.py:8:5: warning [debug-leftover]" in changed.stdout

    workspace.write(".tactful.toml", '[quality]\nscope = "baseline"\n')
    text = tactful("review", "--no-llm", cwd=workspace.root)
    assert text.returncode == 1, text.stderr
    assert "pkg/report.py:7:" not in text.stdout
    assert "pkg/report.py:8:5: warning [debug-leftover]" in text.stdout
    assert "; 1 in the baseline" in text.stdout

    as_json = tactful("review", "--no-llm", "--format", "json", cwd=workspace.root)
    report = json.loads(as_json.stdout)
    assert [(c["line"], c["rule"]) for c in report["comments"]] == [(8, "debug-leftover")]
    assert report["baselined"] == 1


def test_review_without_a_baseline_says_so(workspace: Workspace) -> None:
    legacy(workspace)
    workspace.write("pkg/report.py", NEW)
    workspace.write(".tactful.toml", '[quality]\nscope = "baseline"\n')
    done = tactful("review", "--no-llm", cwd=workspace.root)
    assert done.returncode == 1
    assert "pkg/report.py:7:13: warning [debug-leftover]" in done.stdout
    assert "baseline.json does not exist: every comment is shown" in done.stderr

    (workspace.root / ".tactful").mkdir()
    (workspace.root / ".tactful" / "baseline.json").write_text("{not json", encoding="utf-8")
    broken = tactful("review", "--no-llm", cwd=workspace.root)
    assert broken.returncode == 2
    assert "baseline.json cannot be read" in broken.stderr


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


def test_review_flags_a_print_in_code_where_doctests_print(workspace: Workspace) -> None:
    workspace.write("numbers.py", DOCTESTED)
    workspace.commit("start")
    workspace.write(
        "numbers.py",
        DOCTESTED.replace(
            '    """\n    return',
            '    >>> print(number("3"))\n    3\n    """\n    print(text)\n    return',
        ),
    )
    done = tactful("review", "--no-llm", "--format", "json", cwd=workspace.root)
    report = json.loads(done.stdout)
    # The doctest added on line 13 is no leftover; the print on line 16 is.
    assert [(c["line"], c["rule"]) for c in report["comments"]] == [(16, "debug-leftover")]

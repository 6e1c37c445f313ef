"""``tactful bench edits --next`` on a repository made here: real commits replayed through a
real server over stdio, next edits asked for after each hunk, and what was shown scored
against the commit."""

from __future__ import annotations

import json
from collections import Counter

from fixtures.lsp import tactful
from fixtures.workspace import Workspace

from tactful.analyzers import ruff
from tactful.suggestion.next_replay import NextTally, Proposal, _check, finding_key

BEFORE = """\
def lookup(d, k):
    if d.has_key(k):
        return d[k]
    return None


def fallback(defaults, k):
    if defaults.has_key(k):
        return defaults[k]
    return None


def cached(cache, k):
    if cache.has_key(k):
        return cache[k]
    return None
"""
AFTER = (
    BEFORE.replace("d.has_key(k)", "k in d")
    .replace("defaults.has_key(k)", "k in defaults")
    .replace("cache.has_key(k)", "k in cache")
)
OTHER = "import os\n\n\ndef here():\n    return os.getcwd()\n"


def test_bench_edits_next_replays_a_commit_and_accepts_the_repeated_edit(
    workspace: Workspace,
) -> None:
    workspace.write("lookup.py", BEFORE)
    workspace.write("other.py", OTHER)
    workspace.commit("base")
    workspace.write("lookup.py", AFTER)
    # Another file of the commit, changed once: nothing before it in the commit predicts it.
    workspace.write("other.py", OTHER.replace("getcwd()", "getcwd() or os.sep"))
    workspace.commit("has_key is gone")
    result = tactful(
        *("bench", "edits", str(workspace.root), "--next", "--commits", "0", "--format", "json")
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["commits"]) == 1 and report["commits_replayed"] == 1
    assert report["hunks"] == 4 and report["hunks_after_first"] == 3
    # After the first ``has_key`` is rewritten, the other two are proposed and accepted.
    assert report["correct"] >= 1 and report["covered"] == 2, report
    assert report["coverage"] == round(2 / 3, 4)
    assert report["precision"] == round(report["correct"] / report["shown"], 4)
    assert report["by_source"]["repeat"]["correct"] >= 1
    assert report["broken_parse"] == 0 and report["new_ruff_findings"] == 0
    assert report["problems"] == []
    sizes = report["latency_ms_by_document_size"]
    assert list(sizes) == ["under_1000_lines"]
    assert sizes["under_1000_lines"]["requests"] == report["requests"] >= 2
    assert report["latency_ms"]["p50"] > 0
    # The repository itself is left as it was.
    assert workspace.read("lookup.py") == AFTER
    assert workspace.git("status", "--porcelain").strip() == ""


def test_bench_edits_next_pads_files_and_reorders_imports(workspace: Workspace) -> None:
    workspace.write("lookup.py", BEFORE)
    workspace.write("filler.py", "".join(f"value_{n} = {n}\n" for n in range(1200)))
    workspace.commit("base")
    workspace.write("lookup.py", "import os\n" + AFTER)
    workspace.commit("has_key is gone, os imported")
    result = tactful(
        *("bench", "edits", str(workspace.root), "--next", "--commits", "0"),
        *("--pad-lines", "1000", "--order", "imports_last", "--format", "json"),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["order"] == "imports_last" and report["pad_lines"] == 1000
    # The file padded past 1,000 lines: every request is counted there.
    sizes = report["latency_ms_by_document_size"]
    assert list(sizes) == ["1000_to_4999_lines"]
    assert sizes["1000_to_4999_lines"]["requests"] == report["requests"]
    # The import is typed last: after the rewrite of the first ``has_key``, hunks follow it.
    assert report["coverage_by_kind"]["import"] == {"hunks": 1, "covered": 0, "coverage": 0.0}
    assert report["covered"] == 2, report


def test_bench_edits_next_refuses_a_filter(workspace: Workspace) -> None:
    workspace.write("lookup.py", BEFORE)
    workspace.commit("base")
    workspace.write("lookup.py", AFTER)
    workspace.commit("change")
    result = tactful("bench", "edits", str(workspace.root), "--next", "--filter", "off", timeout=60)
    assert result.returncode == 2 and "--next" in result.stderr


def test_the_replay_counts_another_use_of_an_undefined_name_apart(tmp_path) -> None:
    """The replay's own ruff check (real ruff): a shown item that uses a name the text already
    used undefined is counted apart from one that leaves a new name undefined."""

    def rules(text: str, path: str) -> Counter[str]:
        findings = ruff.check_text(text, tmp_path / path, tmp_path)
        return Counter(finding_key(f) for f in findings)

    text = "def f(a):\n    return quote(a)\n\n\ndef g(b):\n    return b\n"
    start = text.index("return b") + len("return ")
    tally = NextTally()
    _check(Proposal("1", "mod.py", start, start + 1, "quote(b)"), text, tally, rules)
    assert (tally.new_ruff, tally.known_undefined) == (0, 1)
    _check(Proposal("2", "mod.py", start, start + 1, "escape(b)"), text, tally, rules)
    assert (tally.new_ruff, tally.known_undefined) == (1, 1)
    assert [p.split(":")[0] for p in tally.problems] == ["adds F821 `escape`"]

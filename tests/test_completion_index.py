"""The repository index on real git repositories and plain folders."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from fixtures.workspace import Workspace

from tactful.analyzers.index import (
    MAX_FILE_BYTES,
    ORDER,
    UPDATE_STRETCH,
    RepositoryIndex,
    source_files,
)
from tactful.analyzers.ngrams import NgramCounts, changed_stretches
from tactful.analyzers.text import Point
from tactful.analyzers.tokens import GIVE_WAY_LINES, tokenize_text
from tactful.suggestion import postprocess
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.local.language import language_counts
from tactful.suggestion.postprocess import WINDOW_LINES, clean
from tactful.suggestion.types import CompletionRequest, Suggestion

HELPERS = """\
def normalise_header_name(name):
    return name.strip().lower()


def parse_header_line(line):
    key, value = line.split(":", 1)
    return normalise_header_name(key), value.strip()
"""


def test_a_repository_index_lists_what_git_would_and_skips_the_rest(workspace: Workspace) -> None:
    workspace.write(".gitignore", "ignored/\n")
    workspace.write("src/helpers.py", HELPERS)
    workspace.write("src/app.ts", "export const answer = 42;\n")
    workspace.write("ignored/secret.py", "TOKEN = 'x'\n")
    workspace.write("notes.txt", "not code\n")
    workspace.write("src/schema_pb2.py", "# generated\nX = 1\n")
    workspace.write("src/big.py", "x = 1\n" * (MAX_FILE_BYTES // 6 + 10))
    (workspace.root / "src" / "blob.py").write_bytes(b"\x00\x01binary")
    workspace.commit("files")
    workspace.write("src/untracked.py", "y = 2\n")
    listed = source_files(workspace.root)
    assert "src/helpers.py" in listed and "src/app.ts" in listed and "src/untracked.py" in listed
    assert not any(p.startswith("ignored/") or p.endswith(".txt") for p in listed)
    assert "src/schema_pb2.py" not in listed

    index = RepositoryIndex(workspace.root)
    index.build()
    assert index.ready.is_set()
    assert index.file_count == 3  # helpers, app and untracked; nothing big or binary
    assert "normalise_header_name" in index.identifiers("python")
    assert "answer" in index.identifiers("typescript")
    counts = index.counts("python")
    assert counts is not None and counts.count(" normalise_header_name") == 2


def test_a_plain_folder_is_walked_without_vendored_folders(plain_folder: Workspace) -> None:
    plain_folder.write("pkg/mod.py", HELPERS)
    plain_folder.write("node_modules/lib/index.js", "module.exports = 1;\n")
    plain_folder.write(".venv/lib/site.py", "x = 1\n")
    assert source_files(plain_folder.root) == ["pkg/mod.py"]


def test_tokens_are_cached_between_runs_and_changed_files_reread(workspace: Workspace) -> None:
    path = workspace.write("a.py", "alpha_value = 1\n")
    workspace.write("b.py", "beta_value = 2\n")
    first = RepositoryIndex(workspace.root)
    first.build()
    assert first.cache_path().is_file()
    # Same size and modification time: the cache is trusted (the file is not read again).
    stat = path.stat()
    path.write_text("gamma_value = 1\n", encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = RepositoryIndex(workspace.root)
    second.build()
    assert "alpha_value" in second.identifiers("python")
    # A real change (another modification time) is read again.
    path.write_text("delta_value_changed = 1\n", encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = RepositoryIndex(workspace.root)
    third.build()
    assert "delta_value_changed" in third.identifiers("python")
    assert "alpha_value" not in third.identifiers("python")


def test_updates_and_exclusions_change_the_statistics(workspace: Workspace) -> None:
    workspace.write("a.py", HELPERS)
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    counts = index.counts("python")
    assert counts is not None and counts.count(" parse_header_line") == 1
    index.update(workspace.root / "a.py", HELPERS.replace("parse_header_line", "read_line"))
    assert counts.count(" parse_header_line") == 0 and counts.count(" read_line") == 1
    index.exclude("a.py")
    assert counts.tokens_counted == 0
    assert index.file_count == 0


def test_a_long_file_updated_stretch_by_stretch_is_counted_as_one_read_afresh(
    workspace: Workspace,
) -> None:
    """A file of many stretches of tokens, changed, is counted as an index built anew."""
    body = "def handler_{n}(event, context):\n    return event[{n}]\n\n"
    long = "".join(body.format(n=n) for n in range(900))
    changed = long.replace("return event", "return context").replace("_7(", "_seven(")
    workspace.write("a.py", long)
    workspace.write("b.py", HELPERS)
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    counts = index.counts("python")
    assert counts is not None and counts.tokens_counted > 4 * UPDATE_STRETCH
    index.update(workspace.root / "a.py", changed)
    workspace.write("a.py", changed)
    fresh = RepositoryIndex(workspace.root, persist=False)
    fresh.build()
    again = fresh.counts("python")
    assert again is not None
    assert [dict(t) for t in counts.tables] == [dict(t) for t in again.tables]


LONG = "".join(f"def handler_{n}(event, context):\n    return event[{n}]\n\n\n" for n in range(400))


def _counted_as_read_afresh(workspace: Workspace, old: str, new: str) -> None:
    """``a.py`` counted as ``old``, then updated to ``new``: the statistics are those of an
    index built over ``new``."""
    workspace.write("a.py", old)
    workspace.write("b.py", HELPERS)
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    index.update(workspace.root / "a.py", new)
    workspace.write("a.py", new)
    fresh = RepositoryIndex(workspace.root, persist=False)
    fresh.build()
    counts, again = index.counts("python"), fresh.counts("python")
    assert counts is not None and again is not None
    assert [dict(t) for t in counts.tables] == [dict(t) for t in again.tables]
    assert counts.tokens_counted == again.tokens_counted


def test_a_file_changed_in_places_is_counted_as_one_read_afresh(workspace: Workspace) -> None:
    """Only the stretches that changed are counted again; whatever changed, the counts are
    those of the new text."""
    lines = LONG.splitlines(keepends=True)
    cases = [
        LONG.replace("handler_7(", "handler_seven("),  # one name
        LONG.replace("event[250]", "context[250]"),  # the context of the next line's start
        "".join(lines[:100] + lines[200:] + lines[100:200]),  # a block moved down
        "import os\n" + LONG,  # a line above everything
        LONG[len(lines[0]) :],  # the first line gone
        LONG + HELPERS,  # text appended (a file padded)
        LONG[: len(LONG) // 3],  # the end cut off
        "".join(lines[200:] + lines[:200]),  # halves swapped
        "".join(lines[::2]),  # every other line
        LONG.replace("    return", "        return"),  # every body indented again
        '"""\n' + LONG,  # a string opened above everything
        "",  # emptied
        HELPERS,  # another file altogether
    ]
    for new in cases:
        _counted_as_read_afresh(workspace, LONG, new)
    _counted_as_read_afresh(workspace, "", LONG)


def _long_and_helpers(workspace: Workspace) -> tuple[RepositoryIndex, NgramCounts]:
    workspace.write("a.py", LONG)
    workspace.write("b.py", HELPERS)
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    counts = index.counts("python")
    assert counts is not None
    return index, counts


def test_a_file_set_apart_and_read_again_is_counted_as_before(workspace: Workspace) -> None:
    index, counts = _long_and_helpers(workspace)
    before = copy.deepcopy(counts.tables)
    index.update(workspace.root / "a.py", None)  # opened: its counts leave the workspace's
    assert counts.count(" handler_7") == 0 and index.file_count == 1
    index.update(workspace.root / "a.py", LONG)  # closed unchanged
    assert counts.tables == before
    index.update(workspace.root / "a.py", None)
    index.update(workspace.root / "a.py", HELPERS)  # closed changed
    assert counts.count(" handler_7") == 0 and counts.count(" parse_header_line") == 2


def test_a_file_read_again_stops_counting_when_a_newer_change_of_it_is_coming(
    workspace: Workspace,
) -> None:
    """Closed, then written at once: the reading of the closed file stops early, and the
    newer text is counted from where it stopped."""
    assert len(tokenize_text(LONG, "python")) > 2 * UPDATE_STRETCH
    index, counts = _long_and_helpers(workspace)
    index.update(workspace.root / "a.py", None)  # opened
    left = counts.tokens_counted
    index.will_update(workspace.root / "a.py")  # closed: read again
    index.will_update(workspace.root / "a.py")  # written right after
    index.update(workspace.root / "a.py", LONG)
    assert counts.tokens_counted - left == UPDATE_STRETCH  # one stretch, then it stopped
    changed = LONG.replace("return event", "return context")
    index.update(workspace.root / "a.py", changed)
    workspace.write("a.py", changed)
    fresh = RepositoryIndex(workspace.root, persist=False)
    fresh.build()
    again = fresh.counts("python")
    assert again is not None and counts.tables == again.tables
    # Nothing more announced: a file read again is counted whole.
    index.update(workspace.root / "a.py", None)
    index.will_update(workspace.root / "a.py")
    index.update(workspace.root / "a.py", LONG)
    assert counts.tokens_counted - left == len(tokenize_text(LONG, "python"))


def test_a_change_of_one_line_recounts_a_few_tokens_around_it() -> None:
    old = tokenize_text(LONG, "python")
    new = tokenize_text(LONG.replace("return event[250]", "return context[250]"), "python")
    removed, added = changed_stretches(old, new, ORDER)
    assert sum(end - start for start, end in removed) < 20
    assert sum(end - start for start, end in added) < 20
    assert removed and added and removed[0][0] > len(old) // 2
    # A file counted from nothing, or set apart, is counted whole.
    assert changed_stretches([], new, ORDER) == ([], [(0, len(new))])
    assert changed_stretches(old, [], ORDER) == ([(0, len(old))], [])


def test_the_workspace_teaches_the_engine(workspace: Workspace) -> None:
    for number in range(3):
        workspace.write(f"m{number}.py", HELPERS)
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    text = "import os\n\n\ndef parse(line):\n    return normalise_h"
    request = CompletionRequest(
        "file:///new.py", None, "python", 1, text, Point(4, len("    return normalise_h"))
    )
    found = LocalEngine(index, Tuning(semantic=False)).suggest(request)
    assert found and found[0].text.startswith("eader_name(")
    snippets = index.similar_snippets("def parse_header_line(line): normalise_header_name")
    assert snippets and "parse_header_line" in snippets[0].text


def test_test_files_weigh_less_in_library_code_and_library_code_in_tests(
    workspace: Workspace,
) -> None:
    workspace.write("lib/checks.py", "def check(self, value):\n    self.assert_valid(value)\n" * 2)
    workspace.write(
        "tests/test_checks.py", "def test(self):\n    self.assertEqual(first, second)\n" * 3
    )
    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    engine = LocalEngine(index, Tuning(semantic=False, language_weight=0.0))
    text = "def other(self, value):\n    self.assert"
    for path, expected in (
        ("lib/new.py", "_valid(value)"),
        ("tests/test_new.py", "Equal(first, second)"),
    ):
        request = CompletionRequest(
            (workspace.root / path).as_uri(),
            str(workspace.root / path),
            "python",
            1,
            text,
            Point(1, len("    self.assert")),
            workspace_root=str(workspace.root),
        )
        found = engine.suggest(request)
        assert found and found[0].text.startswith(expected), path


def test_a_new_file_in_an_empty_workspace_leans_on_the_shipped_statistics() -> None:
    assert language_counts("python", wait=True) is not None
    text = "import os\n\n\nif __name__ =="
    request = CompletionRequest("file:///new.py", None, "python", 1, text, Point(3, 14))
    found = LocalEngine(None, Tuning(semantic=False)).suggest(request)
    assert found and found[0].text == ' "__main__":'
    assert LocalEngine(None, Tuning(semantic=False, language_weight=0.0)).suggest(request) == []


def cleaned(source: str, suggestion: str) -> str | None:
    cursor = source.index("|")
    text = source.replace("|", "", 1)
    before = text[:cursor]
    point = Point(before.count("\n"), len(before) - (before.rfind("\n") + 1))
    request = CompletionRequest("file:///a.py", None, "python", 1, text, point, max_lines=3)
    found = clean(request, Suggestion(suggestion, "test"))
    return found.text if found is not None else None


def test_post_processing() -> None:
    check = [
        # Closing characters already after the cursor are not suggested again.
        ("x = compute(|)", "a, b)", "a, b"),
        # A line that repeats the line above, or is already the next line: dropped.
        ("self.name = name\nself.|", "name = name", None),
        ("x = 1\n|\nz = 3", "z = 3", None),
        # Several lines: cut where a statement ends, never inside one.
        ("def f(x):\n    |", "return x\n\ndef g(y):\n    return (y,", "return x"),
        # At most max_lines lines.
        (
            "def f():\n    |",
            "a = 1\n    b = 2\n    c = 3\n    d = 4",
            "a = 1\n    b = 2\n    c = 3",
        ),
        # A suggestion that closes what it opens must not break a file that parsed.
        ("x = 1\nvalue = x|\n", " + )", None),
        # One that leaves a bracket open is unfinished on purpose and kept.
        ("x = 1\nvalue = x|\n", " + compute(", " + compute("),
        ("x = |", "   ", None),
    ]
    for source, suggestion, expected in check:
        assert cleaned(source, suggestion) == expected, (source, suggestion)


METHOD = "    def method_{n}(self, value):\n        total = value + {n}\n        return total\n\n"


def test_post_processing_parses_the_construct_around_the_cursor_in_a_long_file() -> None:
    """In a class far longer than the parsed window, the method around the cursor decides:
    what breaks it is dropped, a statement completed is kept, a multi-line suggestion is cut
    where a statement ends; code that does not parse around the cursor checks nothing."""
    head = "class Big:\n" + "".join(METHOD.format(n=n) for n in range(300))
    tail = "".join(METHOD.format(n=n) for n in range(300, 600))
    assert (head + tail).count("\n") > 10 * WINDOW_LINES
    inside = head + "    def fresh(self, value):\n        result = value|\n\n" + tail
    assert cleaned(inside, " + )") is None
    assert cleaned(inside, " * 2") == " * 2"
    assert cleaned(inside, " * 2\n        return result") == " * 2\n        return result"
    assert cleaned(inside, " * 2\n        print(result, value") == " * 2"
    broken = head + "    def fresh(self, value:\n        result = value|\n\n" + tail
    assert cleaned(broken, " + )") == " + )"


def test_post_processing_while_typing_parses_from_the_last_window_as_from_scratch() -> None:
    """Requests made keystroke by keystroke have their windows parsed from the last one's
    tree; every check says what it says with the window parsed from scratch."""
    lines = [METHOD.format(n=n) for n in range(40)]
    typed = "        result = compute(value, [item for item in value if item], key=None)"
    suggestions = [" + )", ")\n        return result", " * 2\n        print(result, value"]
    for column in range(len(typed) + 1):
        source = "class Big:\n" + "".join(lines[:20]) + typed[:column] + "|\n" + "".join(lines[20:])
        for suggestion in suggestions:
            warm = cleaned(source, suggestion)
            postprocess._last_window = None  # the next check parses its window from scratch
            assert cleaned(source, suggestion) == warm, (column, suggestion)


def test_an_index_over_nothing_is_empty(tmp_path: Path) -> None:
    index = RepositoryIndex(tmp_path / "missing", persist=False)
    index.build()
    assert index.file_count == 0 and index.counts("python") is None


def test_a_corrupt_cache_is_rebuilt(workspace: Workspace) -> None:
    workspace.write("a.py", HELPERS)
    index = RepositoryIndex(workspace.root)
    index.cache_path().parent.mkdir(parents=True, exist_ok=True)
    index.cache_path().write_bytes(b"not a pickle")
    index.build()
    assert "parse_header_line" in index.identifiers("python")
    assert RepositoryIndex(workspace.root).cache_path().read_bytes() != b"not a pickle"


def test_a_long_file_is_read_giving_way_between_stretches_of_lines() -> None:
    """Reading a long file's tokens (a file closed, or changed on disk) is not one step that
    holds the interpreter while a request waits: it lets others run every ``GIVE_WAY_LINES``
    lines, and reads the same tokens."""
    text = LONG * 2
    calls: list[int] = []
    tokens = tokenize_text(text, "python", lambda: calls.append(len(calls)))
    assert tokens == tokenize_text(text, "python")
    assert len(calls) == (text.count("\n") + 1) // GIVE_WAY_LINES >= 6

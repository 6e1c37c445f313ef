"""Positions across encodings, and incremental parsing that agrees with a fresh parse."""

from __future__ import annotations

import random

import pytest

from tactful.analyzers.document import Document, TextChange
from tactful.analyzers.text import LineIndex, Point, column_from_units, units_from_column

LINE = "s = '😀é'  # x"  # 😀 is outside the BMP: 2 UTF-16 units, 4 UTF-8 bytes


@pytest.mark.parametrize(
    ("column", "utf16", "utf8"),
    [(0, 0, 0), (5, 5, 5), (6, 7, 9), (7, 8, 11), (8, 9, 12), (len(LINE), 14, 17)],
)
def test_columns_round_trip(column: int, utf16: int, utf8: int) -> None:
    assert units_from_column(LINE, column, "utf-16") == utf16
    assert units_from_column(LINE, column, "utf-8") == utf8
    assert units_from_column(LINE, column, "utf-32") == column
    assert column_from_units(LINE, utf16, "utf-16") == column
    assert column_from_units(LINE, utf8, "utf-8") == column


def test_column_inside_a_surrogate_pair_rounds_down_and_past_end_clamps() -> None:
    assert column_from_units(LINE, 6, "utf-16") == 5
    assert column_from_units(LINE, 500, "utf-16") == len(LINE)


def test_line_index_offsets_and_bytes() -> None:
    text = "a😀\nbé\n\nlast"
    index = LineIndex(text)
    assert index.line_count() == 4
    assert index.offset(Point(1, 1), text) == text.index("é")
    assert index.byte_offset(Point(1, 1), text) == len("a😀\nb".encode())
    assert index.point_of_byte(len("a😀\nbé".encode()), text) == Point(1, 2)
    assert index.line_text(3, text) == "last"


def _reference(document: Document) -> str:
    fresh = Document("file:///fresh", document.text, 0, document.language_id)
    assert fresh.tree is not None
    return str(fresh.tree.root_node)


@pytest.mark.parametrize("language", ["python", "javascript", "typescript", "go", "rust", "java"])
def test_every_language_parses(language: str) -> None:
    samples = {
        "python": "def f(x):\n    return x\n",
        "javascript": "function f(x) { return x; }\n",
        "typescript": "function f(x: number): number { return x; }\n",
        "go": "package main\nfunc f(x int) int { return x }\n",
        "rust": "fn f(x: i32) -> i32 { x }\n",
        "java": "class A { int f(int x) { return x; } }\n",
    }
    document = Document(f"file:///a.{language}", samples[language], 1, language)
    assert document.tree is not None
    assert not document.tree.root_node.has_error


def test_random_edits_match_a_fresh_parse() -> None:
    rng = random.Random(7)
    text = "".join(f"def f{i}(a, b='😀'):\n    return a + b  # é {i}\n\n" for i in range(40))
    document = Document("file:///t.py", text, 1, "python")
    pieces = ["x", "😀", "\n", "    ", "(", ")", "é", "def g():\n    pass\n", ""]
    for version in range(2, 80):
        index = LineIndex(document.text)
        a = rng.randrange(len(document.text) + 1)
        b = min(len(document.text), a + rng.randrange(6))
        start, end = index.point(a), index.point(b)
        new = rng.choice(pieces)
        expected = document.text[:a] + new + document.text[b:]
        document.apply([TextChange(new, start, end)], version)
        assert document.text == expected
        assert document.lines.starts == LineIndex(expected).starts
        assert document.lines.byte_starts == LineIndex(expected).byte_starts
        assert str(document.tree.root_node) == _reference(document)


def test_a_document_opened_without_parsing_is_parsed_when_its_tree_is_first_asked_for() -> None:
    """The server opens documents on the event loop without parsing them: the first reader
    of the tree (on a worker) parses the text as it is then, edits made before included."""
    text = "".join(f"def f{i}(a):\n    return a + {i}\n\n" for i in range(200))
    document = Document("file:///t.py", text, 1, "python", parse=False)
    assert document.tree_if_parsed() is None
    document.apply([TextChange("def g(:\n", Point(3, 0), Point(3, 0))], 2)
    document.apply([TextChange("", Point(3, 0), Point(4, 0))], 3)
    document.apply([TextChange("x = 1\n", Point(0, 0), Point(0, 0))], 4)
    assert document.tree_if_parsed() is None
    tree = document.tree
    assert tree is not None and tree.root_node.text == document.text.encode()
    assert str(tree.root_node) == _reference(document)
    assert document.tree_if_parsed() is not None
    # From there on it is followed incrementally, as a document parsed when opened is.
    document.apply([TextChange("def (:", Point(1, 0), Point(1, 0))], 5)
    assert str(document.tree.root_node) == _reference(document)
    assert Document("file:///n.txt", "hello", 1, "plaintext", parse=False).tree is None


def test_broken_code_is_normal_input() -> None:
    document = Document("file:///b.py", "def (:\n  ]]]\x00", 1, "python")
    assert document.tree is not None and document.tree.root_node.has_error
    assert Document("file:///n.txt", "hello", 1, "plaintext").tree is None


def test_a_long_documents_line_index_follows_edits_across_its_blocks() -> None:
    """A line index over thousands of lines, edited anywhere (lines added and removed by the
    hundred, blocks split and joined), answers as one made afresh from the text."""
    rng = random.Random(3)
    text = "".join(f"line {i} é\n" if i % 7 else "\n" for i in range(1500))
    index = LineIndex(text)
    pieces = ["x", "\n", "é😀", "a\nb\nc", "\n" * 300, "".join(f"r{i}\n" for i in range(600)), ""]
    for _ in range(120):
        a = rng.randrange(len(text) + 1)
        b = min(len(text), a + rng.choice((0, 1, 5, 400, 5000)))
        new = rng.choice(pieces)
        start_byte = len(text[:a].encode())
        end_byte = start_byte + len(text[a:b].encode())
        index.replace(a, b, start_byte, end_byte, new)
        text = text[:a] + new + text[b:]
        fresh = LineIndex(text)
        assert index.starts == fresh.starts and index.byte_starts == fresh.byte_starts
        assert index.line_count() == fresh.line_count()
        for offset in (0, a, len(text) // 2, len(text)):
            point = fresh.point(offset)
            assert index.point(offset) == point
            assert index.offset(point, text) == offset
            assert index.byte_offset(point, text) == len(text[:offset].encode())
            assert index.point_of_byte(len(text[:offset].encode()), text) == point
            assert index.line_text(point.line, text) == text.split("\n")[point.line]
        first = fresh.point(a).line
        for stop in (first, first + 1, first + 300, first + 700):
            assert index.line_texts(first, stop, text) == text.split("\n")[first:stop]


def test_a_snapshot_carries_the_latest_edits_and_parses_only_when_asked() -> None:
    document = Document("file:///t.py", "x = 1\n", 1, "python")
    for version in range(2, 80):
        end = Point(1, 0)
        document.apply([TextChange(f"y{version} = 2\n", end, end)], version)
    snapshot = document.snapshot(parse=False)
    assert snapshot.parsed is None
    edits = snapshot.edits
    # The most recent 64, in order, each from the version before it.
    assert [e.version for e in edits] == list(range(16, 80))
    assert all(e.previous == e.version - 1 for e in edits)
    assert edits[-1].changes == (TextChange("y79 = 2\n", Point(1, 0), Point(1, 0)),)
    tree = snapshot.tree
    assert tree is not None and not tree.root_node.has_error
    document.apply([TextChange("z", Point(0, 0), Point(0, 0))], 80)
    # The document moved on: a lazy snapshot of the old version has no tree to give.
    assert snapshot.tree is None
    assert document.snapshot().tree is not None


@pytest.mark.timeout(60)
def test_a_tree_parsed_within_a_budget_keeps_its_text_after_the_budget() -> None:
    """A from-scratch parse under a time budget reads the text in slices; the tree it gives
    still has every node's text once that budget has run out (it had none: ``node.text``
    then asked the spent reader again and again, without end)."""
    import time

    from tactful.analyzers.languages import new_parser, parse_within

    source = "".join(f"def f{i}(x):\n    return g{i}(x)  # é\n\n" for i in range(200)).encode()
    parser = new_parser("python")
    assert parser is not None
    tree = parse_within(parser, source, budget_s=0.25)
    assert tree is not None
    time.sleep(0.3)
    last = tree.root_node.children[-1]
    assert last.text == source[last.start_byte : last.end_byte]
    assert tree.root_node.text == source


@pytest.mark.timeout(60)
def test_a_parse_budget_counts_the_parsing_threads_cpu_time_not_the_wall_clock() -> None:
    """A parse that waits for the interpreter is not given up for the wait: whether a text
    gets a tree does not depend on what else runs. The parse runs in a thread; once it has
    started, this thread takes the interpreter and keeps it for about a second in one C call
    (sorting a long list checks for no thread switch), so the parse, which gives the
    interpreter up at its next read of a slice, waits far past its 0.5 s budget while its own
    work is about a tenth of a second. With a wall-clock budget it was given up (None)."""
    import random
    import threading
    import time

    from tree_sitter import Tree

    from tactful.analyzers.languages import new_parser, parse_within

    source = b"x = 1\n" * 10_000  # 60 kB: four 16 kB slices
    parser = new_parser("python")
    assert parser is not None
    numbers = [random.random() for _ in range(3_000_000)]
    started = threading.Event()
    results: list[tuple[Tree | None, float]] = []

    def parse() -> None:
        started.set()
        begin = time.monotonic()
        tree = parse_within(parser, source, budget_s=0.5)
        results.append((tree, time.monotonic() - begin))

    worker = threading.Thread(target=parse)
    worker.start()
    started.wait()
    hold = time.monotonic()
    sorted(numbers)
    held = time.monotonic() - hold
    worker.join()
    # The wait itself happened (else the test shows nothing) ...
    [(tree, waited)] = results
    assert held > 0.5 and waited > 0.5
    # ... and the parse was not given up for it.
    assert tree is not None and not tree.root_node.has_error
    assert tree.root_node.end_byte == len(source)


def _given_up(retry_after_s: float) -> tuple[Document, str]:
    # A megabyte of code is far more than 2 ms of a parser's CPU time.
    text = "".join(f"def f{i}(x):\n    return g{i}(x)\n\n" for i in range(30_000))
    document = Document(
        "file:///big.py", text, 0, "python", parse_budget_s=0.002, retry_after_s=retry_after_s
    )
    assert document.tree is None and document.unparsable
    return document, text


def _keep_first_line(document: Document, text: str) -> None:
    lines = text.count("\n")
    document.apply([TextChange("", Point(1, 0), Point(lines, 0))], 1)


def test_a_document_given_up_on_is_parsed_again_after_later_edits() -> None:
    """A parse given up (over its budget) is not the document's fate: once the text that
    was too long is cut, the next reader gets a tree again (it stayed None until the text
    was replaced whole)."""
    document, text = _given_up(retry_after_s=0.0)
    _keep_first_line(document, text)
    tree = document.tree
    assert tree is not None and not document.unparsable
    assert tree.root_node.text == document.text.encode()
    assert [child.type for child in tree.root_node.children] == ["function_definition"]
    # From there on it is followed incrementally as before.
    document.apply([TextChange("def h():\n    pass\n", Point(0, 0), Point(0, 0))], 2)
    tree = document.tree
    assert tree is not None and tree.root_node.text == document.text.encode()
    assert len(tree.root_node.children) == 2


def test_a_document_given_up_on_is_not_parsed_again_before_its_wait_nor_without_an_edit() -> None:
    """A try costs up to the parse budget: it waits for an edit, and for the wait after the
    try given up, so keystrokes in a file too long to parse do not each pay for one."""
    document, text = _given_up(retry_after_s=0.0)
    assert document.tree is None and document.unparsable  # no edit: no new try
    waiting, text = _given_up(retry_after_s=60.0)
    _keep_first_line(waiting, text)
    assert waiting.tree is None and waiting.unparsable


def test_an_edit_found_in_one_walk_says_what_the_index_answers_point_by_point() -> None:
    """``LineIndex.edit`` (both ends of an edit found in one walk of the blocks each) gives
    the offsets, bytes and columns the index's own questions give, points past a line's end
    or past the last line included, and leaves the index as ``replace`` does."""
    rng = random.Random(5)
    text = "".join(f"line {i} é😀\n" if i % 7 else "\n" for i in range(1500))
    index = LineIndex(text)
    pieces = ["x", "\n", "é😀", "a\nb\nc", "\n" * 300, "".join(f"r{i}\n" for i in range(600)), ""]
    for _ in range(300):
        a = _random_point(rng, index.line_count())
        b = (
            _random_point(rng, index.line_count())
            if rng.random() < 0.5
            else Point(a.line, a.column + rng.randrange(5))
        )
        new = rng.choice(pieces)
        reference = index.copy()
        first, last = sorted((a, b))
        start, end = reference.offset(first, text), reference.offset(last, text)
        start_byte = reference.byte_offset(first, text)
        end_byte = start_byte + len(text[start:end].encode())
        columns = reference.byte_column(first, text), reference.byte_column(last, text)
        reference.replace(start, end, start_byte, end_byte, new)
        after = text[:start] + new + text[end:]
        new_end = reference.point(start + len(new))

        done = index.edit(a, b, new, text)

        assert (done.start, done.end, done.start_byte, done.end_byte) == (
            start,
            end,
            start_byte,
            end_byte,
        )
        assert done.new_end_byte == start_byte + len(new.encode())
        assert (done.start_column, done.old_end_column) == columns
        assert done.new_end == new_end
        assert done.new_end_column == reference.byte_column(new_end, after)
        assert index.starts == reference.starts and index.byte_starts == reference.byte_starts
        text = after
        if len(text) > 200_000:
            text = text[:50_000]
            index = LineIndex(text)


def _random_point(rng: random.Random, lines: int) -> Point:
    """A point on one of ``lines`` lines, or (one time in five) up to 3 lines past them; its
    column often past its line's end."""
    far = rng.random() < 0.2
    return Point(rng.randrange(lines + 3 if far else lines), rng.randrange(40))

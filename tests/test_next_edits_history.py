"""The edit history next edits learn from: what a stream of editor changes becomes."""

from __future__ import annotations

import pytest

from tactful.analyzers.document import TextChange
from tactful.analyzers.text import Point
from tactful.suggestion.next_edits import EditHistory

URI = "file:///project/mod.py"


def typed(text: str, at: Point, typing: str) -> list[TextChange]:
    """One change per character, as an editor sends them while someone types."""
    changes = []
    line, column = at.line, at.column
    for char in typing:
        changes.append(TextChange(char, Point(line, column), Point(line, column)))
        if char == "\n":
            line, column = line + 1, 0
        else:
            column += 1
    return changes


def history_of(text: str, *batches: list[TextChange]) -> EditHistory:
    history = EditHistory()
    history.open(URI, text, "python", "/project/mod.py")
    for batch in batches:
        for change in batch:
            history.change(URI, [change])
    return history


def edits(history: EditHistory) -> list[tuple[str, str]]:
    return [(edit.old_text, edit.new_text) for edit in history.edits(URI)]


@pytest.mark.parametrize(
    ("before", "batches", "expected"),
    [
        # Keystrokes at one place are one edit.
        ("x = 1\n", [typed("", Point(0, 5), " + 2")], [("", " + 2")]),
        # Two places, two edits, oldest first.
        (
            "a = 1\nb = 2\n",
            [
                [TextChange("10", Point(0, 4), Point(0, 5))],
                [TextChange("30", Point(1, 4), Point(1, 5))],
            ],
            # Trimmed to what changed: "1" became "10" by a "0" added after it.
            [("", "0"), ("2", "30")],
        ),
        # Typed and deleted again: nothing happened.
        (
            "a = 1\n",
            [
                [TextChange("x", Point(0, 5), Point(0, 5))],
                [TextChange("", Point(0, 5), Point(0, 6))],
            ],
            [],
        ),
        # A whole line replaced reads as the part that changed.
        (
            "if d.has_key(k):\n    pass\n",
            [[TextChange("if k in d:\n", Point(0, 0), Point(1, 0))]],
            [("d.has_key(k)", "k in d")],
        ),
        # A deletion followed by typing at the same place is one replacement.
        (
            "name = old_value\n",
            [
                [TextChange("", Point(0, 7), Point(0, 16))],
                typed("", Point(0, 7), "new_value"),
            ],
            [("old", "new")],
        ),
    ],
)
def test_changes_become_edits(before, batches, expected) -> None:
    assert edits(history_of(before, *batches)) == expected


def test_a_whole_text_replacement_is_narrowed_to_what_changed() -> None:
    history = history_of("a = 1\nb = 2\nc = 3\n")
    history.change(URI, [TextChange("a = 1\nb = 22\nc = 3\n")])
    (edit,) = history.edits(URI)
    assert (edit.old_text, edit.new_text) == ("", "2")
    assert edit.span_before.start == Point(1, 5)


def test_each_edit_keeps_the_texts_around_it() -> None:
    history = history_of("a = 1\nb = 2\n", [TextChange("3", Point(1, 4), Point(1, 5))])
    (edit,) = history.edits(URI)
    assert edit.before == "a = 1\nb = 2\n"
    assert edit.after == "a = 1\nb = 3\n"
    assert edit.span_after.start == Point(1, 4) and edit.span_after.end == Point(1, 5)
    assert history.text(URI) == "a = 1\nb = 3\n"


def test_the_history_is_bounded() -> None:
    history = EditHistory(max_edits=3)
    history.open(URI, "\n".join(f"v{i} = 0" for i in range(10)) + "\n", "python")
    for line in range(10):
        history.change(
            URI,
            [TextChange("1", Point(line, len(f"v{line} = ")), Point(line, len(f"v{line} = 0")))],
        )
    found = history.edits(URI)
    # Three closed edits and the one in progress.
    assert len(found) == 4
    assert [edit.span_before.start.line for edit in found] == [6, 7, 8, 9]


def test_documents_beyond_the_bound_are_forgotten_oldest_first() -> None:
    history = EditHistory(max_documents=2)
    for name in ("a", "b", "c"):
        history.open(f"file:///{name}.py", "x = 1\n", "python")
    assert history.uris() == ["file:///b.py", "file:///c.py"]
    assert history.text("file:///a.py") is None


def test_edits_across_documents_come_in_the_order_they_were_made() -> None:
    history = EditHistory()
    history.open("file:///a.py", "x = 1\n", "python")
    history.open("file:///b.py", "y = 1\n", "python")
    history.change("file:///b.py", [TextChange("2", Point(0, 4), Point(0, 5))])
    history.change("file:///a.py", [TextChange("3", Point(0, 4), Point(0, 5))])
    assert [edit.uri for edit in history.edits()] == ["file:///b.py", "file:///a.py"]


@pytest.mark.parametrize(
    "change",
    [
        TextChange("z", Point(50, 0), Point(60, 0)),  # past the end: clamped, as editors expect
        TextChange("", Point(0, 3), Point(0, 1)),  # reversed range
    ],
)
def test_odd_changes_are_applied_like_the_document_applies_them(change) -> None:
    history = history_of("abc\ndef\n", [change])
    assert history.text(URI) is not None
    assert history.tree(URI) is not None


def test_changes_to_a_document_not_opened_are_ignored() -> None:
    history = EditHistory()
    history.change("file:///nowhere.py", [TextChange("x", Point(0, 0), Point(0, 0))])
    assert history.edits() == []


def test_a_closed_document_is_forgotten() -> None:
    history = history_of("a = 1\n", [TextChange("2", Point(0, 4), Point(0, 5))])
    history.close(URI)
    assert history.edits() == [] and history.text(URI) is None


def test_an_edit_keeps_the_tree_its_document_had_when_it_began_if_one_was_parsed() -> None:
    """The tree of the text before an edit is the document's tree at that moment when a
    reader had it parsed (no re-parse of the text before the edit later); the history never
    parses for it, so an edit begun while the tree was out of date has none."""
    from tactful.suggestion.next_edits.trees import Source, TreeCache, parse

    text = "def f(a):\n    return a.has_key(1)\n\n\ndef g(b):\n    return b\n"
    history = history_of(text)
    assert history.tree(URI) is not None  # a request read the tree: it is parsed
    history.change(URI, typed(text, Point(1, 11), "x"))
    [first] = history.edits(URI)
    kept = history.before_tree(first)
    assert kept is not None
    assert str(kept.root_node) == str(parse(Source(first.before), "python").root_node)
    # Typing elsewhere closes the first edit and begins another while the tree is out of date.
    history.change(URI, typed(first.after, Point(5, 11), "y"))
    closed, second = history.edits(URI)
    assert closed.sequence == first.sequence and history.before_tree(closed) is not None
    assert history.before_tree(second) is None
    # The edits' trees, the first one's from the tree kept: each that of its text.
    current = history.text(URI)
    assert current is not None
    found = TreeCache().trees(
        [closed, second], Source(current), history.tree(URI), history.before_tree
    )
    for edit, trees in zip([closed, second], found, strict=True):
        assert trees is not None
        assert trees.before.text == edit.before and trees.after.text == edit.after
        for tree, source in ((trees.before_tree, trees.before), (trees.after_tree, trees.after)):
            assert str(tree.root_node) == str(parse(source, "python").root_node)


A = "file:///a.py"
B = "file:///b.py"
TEXT_A = "def f(a):\n    return a.has_key(1)\n\n\ndef g(b):\n    return b\n"
TEXT_B = "import os\n\nx = os.path.join('a', 'b')\n"


def deleted(start: Point, end: Point) -> list[TextChange]:
    return [TextChange("", start, end)]


# Streams of (document, change) as an editor sends them: typing goes on where the last change
# ended, then stops, jumps, deletes or moves to the other document.
STREAMS = {
    "a word typed": [(A, c) for c in typed(TEXT_A, Point(1, 11), "xyz")],
    "a line replaced, then typed": [
        (A, c) for c in [*deleted(Point(1, 4), Point(1, 23)), *typed("", Point(1, 4), "pass")]
    ],
    "typed over two lines": [(A, c) for c in typed("", Point(5, 12), " + 1\n    b = 2")],
    "typed, deleted, typed": [
        (A, c)
        for c in [
            *typed("", Point(1, 11), "ab"),
            *deleted(Point(1, 12), Point(1, 13)),
            *typed("", Point(1, 12), "cd"),
        ]
    ],
    "two places in one document": [
        (A, c) for c in [*typed("", Point(1, 11), "ab"), *typed("", Point(5, 12), "cd")]
    ],
    "two documents, one after the other and back": [
        *((A, c) for c in typed("", Point(1, 11), "ab")),
        *((B, c) for c in typed("", Point(2, 13), "xy")),
        *((A, c) for c in typed("", Point(1, 13), "cd")),
    ],
    "a whole text sent, then typing after it": [
        (B, TextChange(TEXT_B.replace("'a'", "'c'"))),
        *((B, c) for c in typed("", Point(2, 21), "de")),
    ],
}


def _read(history: EditHistory) -> list[object]:
    """Everything a reader of the history sees, trees as S-expressions."""
    seen: list[object] = []
    for edit in history.edits():
        kept = history.before_tree(edit)
        span = (edit.start, edit.old_end, edit.new_end)
        seen.append(
            (edit.uri, edit.sequence, edit.before, edit.after, span, kept and str(kept.root_node))
        )
    for uri in (A, B):
        state = history.snapshot(uri)
        assert state is not None and state.tree is not None
        seen.append((state.text, str(state.tree.root_node), state.lines.point(len(state.text))))
    return seen


@pytest.mark.parametrize("stream", list(STREAMS.values()), ids=list(STREAMS))
def test_a_burst_of_changes_reads_as_each_change_read_as_it_came(stream) -> None:
    """The history read once after a burst of changes (as the server reads it at a request)
    says what it says when each change is applied as it comes (its text read after each):
    texts, trees, edits, their order and the trees kept from before them."""
    one_by_one, burst = EditHistory(), EditHistory()
    for history in (one_by_one, burst):
        history.open(A, TEXT_A, "python")
        history.open(B, TEXT_B, "python")
        history.tree(A), history.tree(B)  # a request read the trees: they are parsed
    for version, (uri, change) in enumerate(stream, start=2):
        one_by_one.change(uri, [change], version)
        one_by_one.text(uri)
        burst.change(uri, [change], version)
    assert _read(burst) == _read(one_by_one)

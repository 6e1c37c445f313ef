"""The local completion engine and what it is made of, on source text written in the test.

A ``|`` in a source marks the cursor.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from tactful.analyzers.ngrams import NgramCounts
from tactful.analyzers.text import DocumentEdit, Point, TextChange
from tactful.analyzers.tokens import render, tokenize_text
from tactful.suggestion.keystrokes import keystrokes, saved
from tactful.suggestion.local.document import DocumentModel
from tactful.suggestion.local.engine import LocalEngine, Tuning
from tactful.suggestion.local.jedi_worker import names_at
from tactful.suggestion.local.semantic import JEDI_HEAD, JEDI_WINDOW, jedi_source
from tactful.suggestion.local.shapes import parallel_line
from tactful.suggestion.replay import Typist, next_chunk, pasted_head
from tactful.suggestion.types import CompletionRequest

# The document's own statistics alone (the shipped language model is tested on its own).
# Where a suggestion stops, as probability alone says (the shipped decay is tested on its own).
LOCAL = Tuning(semantic=False, language_weight=0.0, length_decay=1.0, doubt=1.0)


def request(source: str, language: str = "python", max_lines: int = 8) -> CompletionRequest:
    cursor = source.index("|")
    text = source.replace("|", "", 1)
    before = text[:cursor]
    point = Point(before.count("\n"), len(before) - (before.rfind("\n") + 1))
    return CompletionRequest(
        uri="file:///project/module",
        path=None,
        language_id=language,
        version=1,
        text=text,
        position=point,
        max_lines=max_lines,
    )


def check(source: str, expected: str | None, language: str = "python") -> None:
    found = LocalEngine(None, LOCAL).suggest(request(source, language))
    assert (found[0].text if found else None) == expected


REPEATED_CALLS = """\
import os

left = os.path.join(base, "left")
right = os.path.join(base, "right")
middle = os.pa|"""

REPEATED_JS = """\
const first = document.getElementById("first");
const second = document.getElementById("second");
const third = document.getElementById("third");
const fourth = document.get|"""

REPEATED_RUST = """\
fn main() {
    let width = parse_dimension(&args, 0);
    let height = parse_dimension(&args, 1);
    let depth = parse_dimension(&args, 2);
    let mass = parse_d|"""

IMPORTS = """\
from collections import OrderedDict
from collections import defaultdict
from collections import Counter
from coll|"""


DOCSTRINGS = '''\
def get(url):
    """Sends a GET request.

    :param url: URL for the new :class:`Request` object.
    """


def post(url):
    """Sends a POST request.

    :param url: URL for|'''


@pytest.mark.parametrize(
    ("source", "expected", "language"),
    [
        # The rest of a phrase seen twice in the document, up to where it stops repeating.
        (REPEATED_CALLS, "th.join(base,", "python"),
        (REPEATED_JS, "ElementById(", "javascript"),
        (REPEATED_RUST, "imension(&args,", "rust"),
        (IMPORTS, "ections import", "python"),
        # Nothing seen, nothing said.
        ("|", None, "python"),
        ("x = 1\n|", None, "python"),
        # Seen twice, and followed by different things: not confident.
        (
            "def f(a, b):\n    return a + b\n\ndef g(a, b):\n    return a - b\n\n"
            "def h(a, b):\n    return a |",
            None,
            "python",
        ),
        # Text after the cursor that an editor would not have put there itself: silent.
        ("total = compute(|value)", None, "python"),
        # Docstrings are prose, learned like code.
        (DOCSTRINGS, " the new", "python"),
    ],
)
def test_local_engine_suggests_only_what_it_is_confident_of(
    source: str, expected: str | None, language: str
) -> None:
    check(source, expected, language)


def test_a_suggestion_carries_its_probability_and_kind() -> None:
    found = LocalEngine(None, LOCAL).suggest(request(REPEATED_CALLS))
    assert len(found) == 1
    assert found[0].engine == "local"
    assert Tuning().threshold <= found[0].score <= 1.0
    assert found[0].kind == "line"


def test_a_suggestion_carries_the_evidence_the_acceptance_filter_reads() -> None:
    code = LocalEngine(None, LOCAL).suggest(request(REPEATED_CALLS))[0]
    assert code.evidence is not None and code.origin == "ngram"
    first, margin, least, depth, support = code.evidence
    assert 0.0 < least <= first <= 1.0 and 0.0 <= margin <= first
    assert depth >= 1 and support >= 1.0  # it was seen after this context before
    assert code.prose is False
    prose = LocalEngine(None, LOCAL).suggest(request(DOCSTRINGS))[0]
    assert prose.prose is True  # inside a docstring


def test_broken_requests_are_answered_with_nothing() -> None:
    engine = LocalEngine(None, LOCAL)
    broken = CompletionRequest("file:///x", None, "python", 1, "x = (", Point(7, 3))
    assert engine.suggest(broken) == []
    unknown = request("a b c\na b c\na |", language="cobol")
    # No grammar is no error: the generic tokenizer still learns the text.
    assert isinstance(engine.suggest(unknown), list)


@pytest.mark.parametrize(
    ("lines", "prefix", "expected"),
    [
        (["        self.width = width"], "        self.height = ", "height"),
        (["    parser.add(alpha, kind=alpha)"], "    parser.add(beta, ", "kind=beta)"),
        # A rest that does not repeat the swap is another statement that starts alike.
        (["    offset = compute(index)"], "    length = ", None),
        # Literals in the rest differ from line to line: the proposal stops before them.
        (['    register(alpha, "a")'], "    register(beta, ", None),
        # The last word may still be growing: no proposal.
        (["        self.width = width"], "        self.heigh", None),
        # Other indentation: another statement.
        (["        self.width = width"], "    self.height = ", None),
    ],
)
def test_parallel_lines(lines: list[str], prefix: str, expected: str | None) -> None:
    found = parallel_line([*lines, prefix], len(lines), prefix, "python")
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            'import os\n\n\nclass A:\n    """Doc\n    more"""\n\n    def f(self):  # c\n'
            "        return f\"{self}\" + 'x'\n",
            "python",
        ),
        ("function f(a) {\n  /* block\n  comment */ return `t\n${a}`;\n}\n", "javascript"),
        ("fn f<'a>(x: &'a str) -> char {\n\tlet c = 'x';\n\tc\n}\n", "rust"),
        ("package main\n\nfunc main() {\n\ts := `raw\nstring`\n}\n", "go"),
    ],
)
def test_tokens_render_back_to_the_text(text: str, language: str) -> None:
    tokens = tokenize_text(text, language)
    assert render(tokens, "") == text.rstrip("\n")


def test_the_document_cache_follows_edits_exactly() -> None:
    lines = [
        "import os",
        "",
        "class A:",
        '    """Doc',
        '    string"""',
        "    def f(self, x):",
        "        return os.path.join(x, 'y')",
        "",
        "def g():",
        "    return A().f(1)",
    ] * 6
    model = DocumentModel("python", 5)
    rng = random.Random(7)
    current = list(lines)
    for _ in range(60):
        current = list(current)
        row = rng.randrange(len(current))
        action = rng.random()
        if action < 0.4:
            current[row] = current[row][: rng.randrange(len(current[row]) + 1)]
        elif action < 0.7:
            current.insert(row, rng.choice(lines))
        else:
            del current[row]
        model.update(current)
    fresh = NgramCounts(5)
    fresh.add(tokenize_text("\n".join(current), "python"))
    assert model.stream == tokenize_text("\n".join(current), "python")
    assert _tables(model.counts) == _tables(fresh)


def test_the_document_cache_follows_block_replacements_exactly() -> None:
    """Each ``replace`` touches only the lines near the block, yet the counts stay those of
    the whole text (strings opened and closed across the edit included)."""
    pieces = [
        "import os",
        "",
        "class A:",
        '    """Doc',
        '    string"""',
        "    def f(self, x):",
        "        return os.path.join(x, 'y')",
        "",
        "",
        "def g():",
        '    return A().f(1)  # """',
        '"""',
    ]
    rng = random.Random(11)
    current = pieces * 4
    model = DocumentModel("python", 5)
    model.replace(0, 0, current)
    for _ in range(150):
        start = rng.randrange(len(current) + 1)
        end = min(len(current), start + rng.randrange(4))
        block = [rng.choice(pieces)[: rng.randrange(40)] for _ in range(rng.randrange(4))]
        current[start:end] = block
        model.replace(start, end, block)
        assert model.lines == current
    fresh = NgramCounts(5)
    fresh.add(tokenize_text("\n".join(current), "python"))
    assert model.stream == tokenize_text("\n".join(current), "python")
    assert _tables(model.counts) == _tables(fresh)


def test_the_engine_follows_a_documents_edits_as_if_it_read_it_anew() -> None:
    """Requests that carry the document's edits give what a fresh engine reading the whole
    text gives, keystroke after keystroke, lines added and removed included."""
    base = "import os\n\nleft = os.path.join(base, 'left')\nright = os.path.join(base, 'r')\n"
    typed = "middle = os.path.join(base, 'm')\nother = os.pa"
    following = LocalEngine(None, LOCAL)
    text = base
    version = 1
    edits: list[DocumentEdit] = []
    for index, ch in enumerate(typed):
        at = Point(text.count("\n"), len(text) - (text.rfind("\n") + 1))
        edits.append(DocumentEdit(version, version + 1, (TextChange(ch, at, at),)))
        version += 1
        text += ch
        if index == 10:
            # A line deleted above the cursor, as one ranged change.
            edits.append(
                DocumentEdit(version, version + 1, (TextChange("", Point(1, 0), Point(2, 0)),))
            )
            version += 1
            text = text.replace("\n\n", "\n", 1)
        cursor = Point(text.count("\n"), len(text) - (text.rfind("\n") + 1))
        req = CompletionRequest(
            "file:///m.py", None, "python", version, text, cursor, edits=tuple(edits[-64:])
        )
        fresh = CompletionRequest("file:///m.py", None, "python", version, text, cursor)
        assert following.suggest(req) == LocalEngine(None, LOCAL).suggest(fresh)
    assert following.suggest(req)[0].text == "th.join(base,"


def test_a_document_read_as_it_opens_is_never_waited_for() -> None:
    """An opened document is read a slice at a time between requests: a request below what
    is read gets nothing at once, one above it is answered from the lines read so far. A
    document closed, or opened again, is not read on for the first opening."""
    base = "import os\n\nleft = os.path.join(base, 'left')\nright = os.path.join(base, 'r')\n"
    typed = base + "middle = os.pa"
    opened = CompletionRequest("file:///m.py", None, "python", 1, base, Point(0, 0))
    at = Point(4, 0)
    edit = DocumentEdit(1, 2, (TextChange("middle = os.pa", at, at),))
    request = CompletionRequest(
        "file:///m.py", None, "python", 2, typed, Point(4, 14), edits=(edit,)
    )
    engine = LocalEngine(None, LOCAL)
    engine.reading(opened)
    assert engine.suggest(request) == []
    assert engine.read_more(opened) is False  # five lines: one slice
    assert engine.suggest(request)[0].text == "th.join(base,"
    closed = LocalEngine(None, LOCAL)
    closed.reading(opened)
    closed.forget("file:///m.py")
    assert closed.read_more(opened) is False
    again = CompletionRequest("file:///m.py", None, "python", 1, "x = 1\n", Point(0, 0))
    closed.reading(again)
    assert closed.read_more(opened) is False  # the first opening's: not this document's text


def test_a_document_read_in_slices_while_edited_ends_as_if_read_whole() -> None:
    """Edits made while a long document is being read (above what is read, below it, and
    across its end) leave the engine answering exactly as one that read the final text whole;
    meanwhile a request in the part read is answered."""
    block = [
        "def handler_{n}(request, response):",
        "    value = request.params.get('key_{n}')",
        "    response.headers['X-Value'] = value",
        "    return response.finish(value)",
        "",
    ]
    lines = [line.format(n=n % 7) for n in range(160) for line in block]  # 800 lines
    text = "\n".join(lines) + "\n"
    opened = CompletionRequest("file:///long.py", None, "python", 1, text, Point(0, 0))
    # The document's cache alone: the lines these edits delete are a source of their own
    # (tested on their own), which an engine reading the final text whole has not seen.
    cache_only = replace(LOCAL, deleted_weight=0.0)
    engine = LocalEngine(None, cache_only)
    engine.reading(opened)
    assert engine.read_more(opened) is True
    edits: list[DocumentEdit] = []
    current = [*lines, ""]
    version = 1

    def change(start: Point, end: Point, new: str) -> None:
        nonlocal version, current
        edits.append(DocumentEdit(version, version + 1, (TextChange(new, start, end),)))
        version += 1
        joined = "\n".join(current)
        offsets = [0]
        for line in current[:-1]:
            offsets.append(offsets[-1] + len(line) + 1)
        first = offsets[start.line] + start.column
        last = offsets[end.line] + end.column
        current = (joined[:first] + new + joined[last:]).split("\n")

    def asked(point: Point) -> CompletionRequest:
        return CompletionRequest(
            "file:///long.py",
            None,
            "python",
            version,
            "\n".join(current),
            point,
            edits=tuple(edits[-64:]),
        )

    change(Point(11, 0), Point(11, 0), "    response.headers['X-Other'] = va\n")
    assert engine.suggest(asked(Point(11, 37)))  # in the first slice: answered
    change(Point(600, 0), Point(603, 0), "")  # below what is read
    assert engine.suggest(asked(Point(650, 4))) == []  # not read yet: nothing, at once
    change(Point(151, 4), Point(260, 0), "pass\n")  # across the end of what is read
    while engine.read_more(opened):
        change(Point(20, 0), Point(20, 0), "x = 1\n")
    answers = []
    for point in (Point(11, 37), Point(400, 13), Point(700, 0)):
        request = asked(point)
        fresh = CompletionRequest("file:///long.py", None, "python", version, request.text, point)
        answers.append(engine.suggest(request))
        assert answers[-1] == LocalEngine(None, cache_only).suggest(fresh)
    assert answers[0][0].text.startswith("lue")


def _tables(counts: NgramCounts) -> list[dict]:
    return [{k: dict(v) for k, v in table.items()} for table in counts.tables]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("abc", 3), ("a\n        b", 3), ("x\n\n    y", 4), ("", 0)],
)
def test_keystrokes_count_a_line_break_and_its_indentation_once(text: str, expected: int) -> None:
    assert keystrokes(text) == expected
    assert saved(text) == max(0, expected - 1)


def test_replay_pastes_the_header_and_types_the_rest_in_chunks() -> None:
    text = '# Copyright\n"""Module."""\n\nimport os\n\n\ndef f(x):\n    return os.sep\n'
    head = pasted_head(text, "python")
    assert text[:head] == '# Copyright\n"""Module."""\n'
    chunks = []
    position = head
    while position < len(text):
        chunk = next_chunk(text, position)
        chunks.append(chunk)
        position += len(chunk)
    assert chunks[:6] == ["\n", "i", "mport", " ", "o", "s"]
    assert "\n    " in chunks
    typist = Typist.new_file(text, "python")
    while not typist.done:
        typist.type_chunk()
        if typist.typed.endswith("def f(x):"):
            assert typist.offer("\n    return os.sep")
        else:
            typist.offer(None)
    summary = typist.tally.summary()
    assert summary["accepted"] == 1 and summary["shown"] == 1
    assert summary["keystrokes_saved"] == keystrokes("\n    return os.sep") - 1
    assert summary["keystrokes"] == keystrokes(text[head:])


def test_jedi_reads_a_bounded_part_of_a_long_document_and_still_finds_members() -> None:
    """For a dot 10,000 lines down, jedi is given the module's imports and the lines above the
    cursor only, and finds the members of an imported module and of ``self`` from them."""
    head = ["import os", "", "LIMIT = 3", ""]
    filler = [f"def helper_{n}(value):\n    return value + {n}\n" for n in range(3400)]
    lines = [*head, *"\n".join(filler).split("\n")]
    lines += ["class Reader:", "    def __init__(self):", "        self.buffer_size = 1", ""]
    lines += ["    def read(self):"]
    row = len(lines)
    source, at = jedi_source(lines, row, "        return os.")
    kept = source.split("\n")
    assert len(lines) > 10_000
    assert len(kept) <= JEDI_WINDOW + JEDI_HEAD + 1
    assert kept[0] == "import os" and kept[at] == "        return os."
    assert "path" in (names_at(source, None, None, at + 1, len(kept[at])) or [])
    source, at = jedi_source(lines, row, "        return self.")
    assert "buffer_size" in (
        names_at(source, None, None, at + 1, len(source.split("\n")[at])) or []
    )
    short, at = jedi_source(lines[:30], 29, "x.")
    assert short.split("\n") == [*lines[:29], "x."] and at == 29


def test_a_line_retyped_after_it_was_deleted_is_suggested_from_the_deleted_line() -> None:
    """A line selected and deleted, then typed anew: its old text is what the new one most
    likely repeats, though it is no longer in the document."""
    base = "import os\n\ntotal = compute_total(items, discount=0.1, rounding='half_even')\n"
    engine = LocalEngine(None, LOCAL)
    opened = CompletionRequest("file:///m.py", None, "python", 1, base, Point(0, 0))
    assert engine.suggest(opened) == []
    # The line is selected and deleted (one ranged change), then typed again.
    edits = [DocumentEdit(1, 2, (TextChange("", Point(2, 0), Point(3, 0)),))]
    text, version = base[: base.index("total")], 2
    for ch in "total = compute_total(items, d":
        at = Point(text.count("\n"), len(text) - (text.rfind("\n") + 1))
        edits.append(DocumentEdit(version, version + 1, (TextChange(ch, at, at),)))
        version, text = version + 1, text + ch
    cursor = Point(2, len("total = compute_total(items, d"))
    request = CompletionRequest(
        "file:///m.py", None, "python", version, text, cursor, edits=tuple(edits)
    )
    found = engine.suggest(request)
    assert found and found[0].text.startswith("iscount")
    # Read anew, the same text has no deleted line to go by.
    fresh = CompletionRequest("file:///m.py", None, "python", version, text, cursor)
    assert LocalEngine(None, LOCAL).suggest(fresh) == []


def test_a_suggestion_stops_sooner_the_more_tokens_it_would_need_to_be_right() -> None:
    """The length decay: where the whole call is as likely as its name, the name alone is
    suggested unless the rest is much more certain (a greedy path's joint probability is
    over-confident the longer it gets)."""
    source = (
        "import os\n\nleft = os.path.join(base, 'left')\nright = os.path.join(base, 'r')\n"
        "middle = os.pa|"
    )
    whole = LocalEngine(None, LOCAL).suggest(request(source))
    decayed = LocalEngine(None, replace(LOCAL, length_decay=0.6)).suggest(request(source))
    assert whole[0].text == "th.join(base,"
    assert decayed[0].text == "th.join"
    assert decayed[0].score > whole[0].score


CLASSIFIERS = """\
CLASSIFIERS = [
    "Programming Language :: Python :: 3.7",
    "Programming Language :: Python :: 3.8",
    "Programming Language :: Python :: 3.9",
    "{typed}|"""


@pytest.mark.parametrize("typed", ["P", "Programming ", "Programming Language"])
def test_candidates_that_split_the_probability_give_the_start_they_share(typed: str) -> None:
    # Three strings, each seen once: none is likely enough on its own, and the engine was
    # silent; together they are certain up to where they branch.
    source = CLASSIFIERS.format(typed=typed)
    found = LocalEngine(None, LOCAL).suggest(request(source))
    assert found, "the shared start is suggested"
    whole = '"' + typed + found[0].text
    strings = [f'"Programming Language :: Python :: 3.{minor}"' for minor in (7, 8, 9)]
    assert all(string.startswith(whole) for string in strings)
    assert whole.startswith('"Programming Language :: Python')
    assert not LocalEngine(None, replace(LOCAL, shared_prefix=False)).suggest(request(source))


def test_the_shared_start_is_taken_only_where_it_saves_more_than_the_likeliest_candidate() -> None:
    # Two names, one seen more recently and as often: the decoder's whole name saves more in
    # expectation than the start both share.
    source = """\
def check(header_part, header_validator_index, other):
    use(header_part)
    use(header_validator_index)
    use(h|"""
    found = LocalEngine(None, LOCAL).suggest(request(source))
    assert found and found[0].text == "eader_validator_index"


def test_a_string_still_open_after_a_space_is_completed_as_the_string_it_starts() -> None:
    # The space typed inside the string belongs to the string's token, not a gap between
    # tokens: the string seen above is suggested whole.
    source = """\
first = fail("no such file: try again")
second = fail("no such |"""
    found = LocalEngine(None, LOCAL).suggest(request(source))
    assert found and found[0].text.startswith('file: try again"')


STRING_AFTER_DOCSTRING = '''\
def check(value):
    """A subclass' job is a subclass' job: each subclass' job is done."""
    if value is None:
        raise TypeError({quote}a subcl|'''


def test_words_inside_a_one_line_string_are_completed_as_the_documents_prose() -> None:
    # A one-line string is a single token to the statistics: without reading its words as
    # prose, only strings seen whole are completed.
    source = STRING_AFTER_DOCSTRING.format(quote='"')
    found = LocalEngine(None, LOCAL).suggest(request(source))
    assert found and found[0].text == "ass' job is"
    assert not LocalEngine(None, replace(LOCAL, string_words=False)).suggest(request(source))


def test_a_word_completed_inside_a_string_stops_before_the_strings_closing_quote() -> None:
    source = STRING_AFTER_DOCSTRING.format(quote="'")
    found = LocalEngine(None, LOCAL).suggest(request(source))
    assert found and found[0].text == "ass"


def test_a_suggestion_stops_before_the_tokens_its_statistics_doubt() -> None:
    """Each token after the first weighs its probability to the power ``doubt - 1`` more: a
    phrase seen once is cut after its first word; tokens the statistics are sure of cost
    nothing (a decay by length alone cuts them too)."""
    plain = LocalEngine(None, LOCAL).suggest(request(DOCSTRINGS))
    doubted = LocalEngine(None, replace(LOCAL, doubt=5.0)).suggest(request(DOCSTRINGS))
    assert plain[0].text == " the new"
    assert doubted[0].text == " the"
    main = "".join(
        f'def m{i}():\n    pass\n\n\nif __name__ == "__main__":\n    m{i}()\n\n\n' for i in range(3)
    )
    main += "if __name__ ==|"
    sure = LocalEngine(None, replace(LOCAL, doubt=5.0)).suggest(request(main))
    decayed = LocalEngine(None, replace(LOCAL, length_decay=0.6)).suggest(request(main))
    assert sure[0].text == ' "__main__":'
    assert decayed[0].text == ' "__main__"'

"""The parse check reads only the statements an edit touches when they parse on their own: its
verdicts are those of a re-parse of the whole file, on many edits of a long real file."""

from __future__ import annotations

import random
from pathlib import Path

from tactful.analyzers.text import LineIndex, Span
from tactful.suggestion.next_edits import CheckedDocument, Checker, NextEdit
from tactful.suggestion.next_edits.checks import BROKEN, PASSED, count_errors
from tactful.suggestion.next_edits.trees import Source, parse

# A long Python file of this repository: real code, over a thousand lines.
LONG = Path(__file__).resolve().parents[1] / "suggestion" / "next_edits" / "repeat.py"

PIECES = ["(", ")", ":", "x = 1\n", "    ", "\n", "# note", "[a, b]", "'", "if x:\n", "", "pass"]


def _edits(text: str, count: int) -> list[tuple[int, int, str]]:
    rng = random.Random(7)
    found = []
    for _ in range(count):
        start = rng.randrange(len(text))
        end = min(len(text), start + rng.choice([0, 0, 1, 3, 10, 40]))
        found.append((start, end, rng.choice(PIECES)))
    # Whole lines deleted and names changed, as next edits often are.
    lines = text.splitlines(keepends=True)
    offset = 0
    for number, line in enumerate(lines):
        if number % 97 == 5:
            found.append((offset, offset + len(line), ""))
        if number % 89 == 3 and "self" in line:
            at = offset + line.index("self")
            found.append((at, at + 4, "this"))
        offset += len(line)
    return found


def test_the_parse_check_says_what_a_whole_reparse_says() -> None:
    text = LONG.read_text(encoding="utf-8")
    assert text.count("\n") > 1000
    source = Source(text)
    tree = parse(source, "python")
    assert tree is not None and not tree.root_node.has_error
    lines = LineIndex(text)
    document = CheckedDocument(text, "python", None, tree, lines)
    checker = Checker(None)
    verdicts = {PASSED: 0, BROKEN: 0}
    for start, end, new in _edits(text, 300):
        edit = NextEdit(
            uri="file:///project/repeat.py",
            path=None,
            span=Span(lines.point(start), lines.point(end)),
            old_text=text[start:end],
            new_text=new,
            label="test",
            source="repeat",
            score=0.9,
        )
        (verdict,) = checker.check(document, [edit], use_ruff=False)
        whole = parse(Source(text[:start] + new + text[end:]), "python")
        assert whole is not None
        expected = PASSED if count_errors(whole.root_node) == 0 else BROKEN
        assert verdict.reason == expected, (start, end, new)
        verdicts[verdict.reason] += 1
    # Both verdicts are exercised.
    assert verdicts[PASSED] > 30 and verdicts[BROKEN] > 30, verdicts

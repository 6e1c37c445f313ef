"""Repeated edits in the same surroundings: an edit's change with the tokens around it, made
again where the same text stands.

Boundary: plain text of a Python document (a tokenizer of words, strings, comments and
punctuation; no tree); proposes ``NextEdit``s (source ``repeat``) in the document the edit was
made in, and nowhere else. It never raises on broken code and proposes nothing it cannot place
exactly.

The tree rewrites of ``repeat.py`` abstract what an edit kept into holes and match syntax
nodes; they miss a change whose node differs from place to place while its text does not:
a parameter inserted between the same two neighbours of several ``def`` lines and calls
(``cli, prog_name`` → ``cli, ctx_args, prog_name``), the same argument added to a call
that is written the same way in several statements, one name swapped inside the same
expression. Here an edit teaches the text from the second token before its change to the
second token after it (``CONTEXT``), and the change is proposed where that text stands
whole, at token boundaries, at no more than ``MAX_SITES`` places (a text found more often
than that is too common to say where the change is meant).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tactful.suggestion.next_edits.proposals import next_edit, quote
from tactful.suggestion.next_edits.targets import Target
from tactful.suggestion.next_edits.types import REPEAT, NextEdit, RecordedEdit

# Tokens kept on each side of a change as its surroundings.
CONTEXT = 2
# A text standing at more places than this is too common to say where the change is meant.
MAX_SITES = 4
# How far around an edit its text is read for tokens (code points), and the longest text
# (surroundings and change) learned.
WINDOW = 600
MAX_PATTERN = 240
# Strings (triple-quoted ones first) and comments are one token each; then words and single
# punctuation characters.
_TOKEN = re.compile(
    r"""[rbuRBUfF]{0,2}(?:\"\"\"(?:[^\\]|\\.)*?\"\"\"|'''(?:[^\\]|\\.)*?'''"""
    r"""|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|\#[^\n]*|\w+|[^\w\s]""",
    re.DOTALL,
)
_WORD = re.compile(r"[A-Za-z_]\w{2,}")


@dataclass(frozen=True, slots=True)
class Change:
    """``old`` (the change's surroundings and what it replaced) becomes ``new``. ``indent`` is
    the indentation of the line ``old`` begins on; ``line_start`` / ``line_end``: ``old``
    begins its line (after the indentation) / ends it, the line's edge standing for the
    tokens a line has too few of."""

    old: str
    new: str
    indent: str
    line_start: bool
    line_end: bool
    origin: int


def learn(edit: RecordedEdit) -> Change | None:
    """What ``edit`` teaches: its text from ``CONTEXT`` tokens before the change to
    ``CONTEXT`` tokens after (within the lines the change begins and ends on), before and
    after (None when it cannot be told apart)."""
    if edit.language_id != "python" or (edit.old_end == edit.start and edit.new_end == edit.start):
        return None
    before, after = edit.before, edit.after
    first_line = before.rfind("\n", 0, edit.start) + 1
    if edit.old_end > edit.start and before[edit.old_end - 1] == "\n":
        last_line = edit.old_end - 1  # whole lines: the change ends its last line
    else:
        last_line = before.find("\n", edit.old_end)
        last_line = len(before) if last_line == -1 else last_line
    window_start = before.rfind("\n", 0, max(0, edit.start - WINDOW)) + 1
    window_end = before.find("\n", min(len(before), edit.old_end + WINDOW))
    window_end = len(before) if window_end == -1 else window_end
    tokens = [
        (match.start() + window_start, match.end() + window_start)
        for match in _TOKEN.finditer(before, window_start, window_end)
    ]
    # The tokens the change touches: [first, last).
    first = next((i for i, (_s, end) in enumerate(tokens) if end > edit.start), len(tokens))
    last = first
    while last < len(tokens) and tokens[last][0] < edit.old_end:
        last += 1
    # The surroundings: up to ``CONTEXT`` tokens each side, on the change's own lines.
    left = first
    while left > first - CONTEXT and left > 0 and tokens[left - 1][0] >= first_line:
        left -= 1
    right = last
    while right < last + CONTEXT and right < len(tokens) and tokens[right][1] <= last_line:
        right += 1
    start = tokens[left][0] if left < first else min(edit.start, _first_token(tokens, first))
    end = tokens[right - 1][1] if right > last else max(edit.old_end, _last_end(tokens, last))
    line_start = left > first - CONTEXT
    line_end = right < last + CONTEXT
    if line_start and before[first_line:start].strip():
        return None
    if line_end and before[end:last_line].strip():
        return None
    shift = edit.new_end - edit.old_end
    if start > edit.start or end < edit.old_end:
        return None
    old = before[start:end]
    new = after[start : end + shift]
    if old == new or len(old) > MAX_PATTERN or len(new) > MAX_PATTERN or not old.strip():
        return None
    if (not _WORD.search(old) and right - left < 4) or re.search(r"\bimport\b", old + new):
        # Punctuation and short names are found everywhere and meant nowhere in particular;
        # imports are the import follow-ups' to place.
        return None
    indent = before[first_line:start]
    indent = indent[: len(indent) - len(indent.lstrip())]
    return Change(old, new, indent, line_start, line_end, edit.sequence)


def _first_token(tokens: list[tuple[int, int]], index: int) -> int:
    return tokens[index][0] if index < len(tokens) else 1 << 62


def _last_end(tokens: list[tuple[int, int]], index: int) -> int:
    return tokens[index - 1][1] if index > 0 else -1


def repeated(edits: Sequence[RecordedEdit], current: Target) -> list[NextEdit]:
    """The places of ``current`` where one of ``edits`` (recent edits of its document, oldest
    first) would be made again, as next edits."""
    changes: dict[tuple[str, str], list[Change]] = {}
    for edit in edits:
        if edit.uri != current.uri:
            continue
        change = learn(edit)
        if change is not None:
            changes.setdefault((change.old, change.new), []).append(change)
    text = current.source.text
    found: list[NextEdit] = []
    for (old, new), examples in changes.items():
        places = _places(text, examples[-1])
        if not places or len(places) > MAX_SITES:
            continue
        score = surroundings_score(examples[-1], len(examples), len(places))
        for place in places:
            source = current.source
            found.append(
                next_edit(
                    current,
                    source.byte(place),
                    source.byte(place + len(old)),
                    new,
                    label=f"`{quote(old.strip())}` → `{quote(new.strip())}`",
                    source=REPEAT,
                    score=score,
                    evidence={
                        "examples": float(len(examples)),
                        "sites": float(len(places)),
                        "sites_in_file": float(len(places)),
                        "kind_surroundings": 1.0,
                        "same_file": 1.0,
                        "lines": float(new.count("\n")),
                    },
                    origin=examples[-1].origin,
                )
            )
    return found


def surroundings_score(change: Change, examples: int, sites: int) -> float:
    """How likely a change is wanted at one more place where its surroundings stand.

    Chosen on the development replays (``benchmarks/next_edits.py --dump``, click and requests,
    100 commits each), as for the tree rewrites (``engine.repeat_score``): made twice, a change
    is a pattern being applied; made once, it is shown where its text stands at few places.
    Code deleted once, code that a place's text alone does not name (``(f):``), and several
    lines written anew were mostly not the commit's next change: they score under the bar.
    """
    if examples >= 2:
        score = 0.7
    elif not change.new.strip() or change.new.strip() in change.old:
        score = 0.35  # deleted once (as ``engine.TEXT_DELETION_ONCE``)
    elif not _WORD.search(change.old):
        score = 0.45
    elif sites == 1:
        score = 0.6
    elif sites <= 3:
        score = 0.55
    else:
        score = 0.45
    if change.new.count("\n") - change.old.count("\n") >= 2:
        score -= 0.1  # several lines written anew depend on the place more often
    return score


def _places(text: str, change: Change) -> list[int]:
    """Where ``change.old`` stands in ``text`` at token boundaries, as it stood (at its line's
    edges when it stood there; on a line indented the same for a change that spans lines), at
    most ``MAX_SITES`` + 1."""
    old = change.old
    spans_lines = "\n" in change.old or "\n" in change.new
    found: list[int] = []
    position = text.find(old)
    while position != -1 and len(found) <= MAX_SITES:
        end = position + len(old)
        line_start = text.rfind("\n", 0, position) + 1
        line_end = text.find("\n", end)
        lead = text[line_start:position]
        trail = text[end : len(text) if line_end == -1 else line_end]
        if (
            (position == 0 or not (_wordish(old[0]) and _wordish(text[position - 1])))
            and (end >= len(text) or not (_wordish(old[-1]) and _wordish(text[end])))
            and (not change.line_start or not lead.strip())
            and (not change.line_end or old.endswith("\n") or not trail.strip())
            and (not spans_lines or lead[: len(lead) - len(lead.lstrip())] == change.indent)
        ):
            found.append(position)
        position = text.find(old, position + 1)
    return found


def _wordish(char: str) -> bool:
    return char.isalnum() or char == "_"

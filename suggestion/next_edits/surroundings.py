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
than that is too common to say where the change is meant). A change to a ``def`` line whose
text is that common is followed in the ``def`` lines of the functions of the same name only
(a method's overrides). ``surroundings_score`` says how far each is trusted.
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
# Places a changed ``def`` line's text is looked for at, to find those in the ``def`` lines
# of functions of the same name.
MAX_DEFINITIONS = 200
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
_NAME = re.compile(r"[A-Za-z_]\w*")
_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(")


@dataclass(frozen=True, slots=True)
class Change:
    """``old`` (the change's surroundings and what it replaced) becomes ``new``. ``indent`` is
    the indentation of the line ``old`` begins on; ``line_start`` / ``line_end``: ``old``
    begins its line (after the indentation) / ends it, the line's edge standing for the
    tokens a line has too few of. ``function``: the name of the function whose ``def`` line
    (up to the colon) holds the change, if one does."""

    old: str
    new: str
    indent: str
    line_start: bool
    line_end: bool
    origin: int
    function: str | None = None


def learn(edit: RecordedEdit) -> Change | None:
    """What ``edit`` teaches: its text from ``CONTEXT`` tokens before the change to
    ``CONTEXT`` tokens after (within the lines the change begins and ends on), before and
    after (None when it cannot be told apart)."""
    if edit.language_id != "python" or (edit.old_end == edit.start and edit.new_end == edit.start):
        return None
    before, after = edit.before, edit.after
    # The change widened to whole words: ``grand_`` typed before ``total`` changes ``total``.
    changed = edit.new_text or edit.old_text
    change_start, change_end = edit.start, edit.old_end
    while change_start > 0 and _wordish(changed[0]) and _wordish(before[change_start - 1]):
        change_start -= 1
    while change_end < len(before) and _wordish(changed[-1]) and _wordish(before[change_end]):
        change_end += 1
    first_line = before.rfind("\n", 0, change_start) + 1
    if change_end > change_start and before[change_end - 1] == "\n":
        last_line = change_end - 1  # whole lines: the change ends its last line
    else:
        last_line = before.find("\n", change_end)
        last_line = len(before) if last_line == -1 else last_line
    window_start = before.rfind("\n", 0, max(0, change_start - WINDOW)) + 1
    window_end = before.find("\n", min(len(before), change_end + WINDOW))
    window_end = len(before) if window_end == -1 else window_end
    tokens = [match.span() for match in _TOKEN.finditer(before, window_start, window_end)]
    # The tokens the change touches: [first, last).
    first = next((i for i, (_s, end) in enumerate(tokens) if end > change_start), len(tokens))
    last = first
    while last < len(tokens) and tokens[last][0] < change_end:
        last += 1
    if last - first == 1 and _NAME.fullmatch(before[tokens[first][0] : tokens[first][1]]):
        renamed = after[tokens[first][0] : tokens[first][1] + edit.new_end - edit.old_end]
        if _NAME.fullmatch(renamed):
            return None  # a name replaced: propagation follows it, by scope
    # The surroundings: up to ``CONTEXT`` tokens each side, on the change's own lines; an
    # opening bracket comes with the name before it (an argument list is known by its function).
    left = first
    while left > first - CONTEXT and left > 0 and tokens[left - 1][0] >= first_line:
        left -= 1
    if (
        left < first
        and left > 0
        and before[tokens[left][0]] in "(["
        and tokens[left - 1][0] >= first_line
        and _NAME.fullmatch(before[tokens[left - 1][0] : tokens[left - 1][1]])
    ):
        left -= 1
    right = last
    while right < last + CONTEXT and right < len(tokens) and tokens[right][1] <= last_line:
        right += 1
    start = tokens[left][0] if left < first else min(change_start, _first_token(tokens, first))
    end = tokens[right - 1][1] if right > last else max(change_end, _last_end(tokens, last))
    line_start = left > first - CONTEXT
    line_end = right < last + CONTEXT
    if line_start and before[first_line:start].strip():
        return None
    if line_end and before[end:last_line].strip():
        return None
    shift = edit.new_end - edit.old_end
    if start > change_start or end < change_end:
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
    function = _header_of(before, window_start, start, end)
    return Change(old, new, indent, line_start, line_end, edit.sequence, function)


def _header_of(text: str, floor: int, start: int, end: int) -> str | None:
    """The name of the function whose ``def`` line holds ``text[start:end]`` (None if none)."""
    found = None
    for match in _DEF.finditer(text, floor, start):
        found = match
    if found is None:
        return None
    header_end = _header_end(text, found.end())
    return found.group(1) if header_end is not None and end <= header_end else None


def _header_end(text: str, position: int) -> int | None:
    """Where the ``def`` line whose parameter list opens before ``position`` ends (its colon),
    reading brackets and strings; None past ``MAX_PATTERN`` * 4 characters."""
    depth = 1
    limit = min(len(text), position + MAX_PATTERN * 4)
    while position < limit:
        char = text[position]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char in "\"'":
            close = text.find(char, position + 1)
            if close == -1:
                return None
            position = close
        elif char == ":" and depth == 0:
            return position
        elif char == "#":
            line_end = text.find("\n", position)
            position = len(text) if line_end == -1 else line_end
        position += 1
    return None


def _headers(text: str, name: str) -> list[tuple[int, int]]:
    """The ``def`` lines (up to the colon) of the functions named ``name``."""
    found = []
    for match in re.finditer(r"\bdef\s+" + re.escape(name) + r"\s*\(", text):
        end = _header_end(text, match.end())
        if end is not None:
            found.append((match.start(), end + 1))
    return found


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
        change = examples[-1]
        places = _places(text, change, MAX_SITES if change.function is None else MAX_DEFINITIONS)
        if change.function is not None and len(places) > MAX_SITES:
            # A ``def`` line changed, its text common: the same change in the ``def`` lines
            # of the functions of the same name (a method's overrides) only.
            headers = _headers(text, change.function)
            places = [
                place
                for place in places
                if any(start <= place and place + len(old) <= end for start, end in headers)
            ]
        if not places or len(places) > MAX_SITES:
            continue
        score = surroundings_score(change, len(examples), len(places))
        named = _headers(text, change.function) if change.function is not None else []
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
                        "same_name_definition": float(
                            any(start <= place < end for start, end in named)
                        ),
                        "same_file": 1.0,
                        "lines": float(new.count("\n")),
                    },
                    origin=change.origin,
                )
            )
    return found


def surroundings_score(change: Change, examples: int, sites: int) -> float:
    """How likely a change is wanted at one more place where its surroundings stand.

    Chosen on the development replays (``benchmarks/next_edits.py --dump``, click and requests,
    100 commits each, items shown): made twice, a change is a pattern being applied (right 19
    times of 23); made once, at 3 places or fewer, with a word of three letters and no line
    added, right 21 times of 36; made once adding a line, right 2 times of 25 (new code
    written after a statement that happens to look alike). Code deleted once, a text without
    a word of three letters (``(f):``) and one that stands at 4 places score under the bar too.
    """
    adds_lines = change.new.count("\n") > change.old.count("\n")
    if examples >= 2:
        score = 0.7
    elif not change.new.strip() or change.new.strip() in change.old:
        score = 0.35  # deleted once (as ``engine.TEXT_DELETION_ONCE``)
    elif adds_lines:
        score = 0.35
    elif not _WORD.search(change.old) or sites >= MAX_SITES:
        score = 0.4
    elif sites == 1:
        score = 0.6
    else:
        score = 0.55
    if change.new.count("\n") - change.old.count("\n") >= 2:
        score -= 0.1  # several lines written anew depend on the place more often
    return score


def _places(text: str, change: Change, limit: int) -> list[int]:
    """Where ``change.old`` stands in ``text`` at token boundaries, as it stood (at its line's
    edges when it stood there; on a line indented the same for a change that spans lines), at
    most ``limit`` + 1."""
    old = change.old
    spans_lines = "\n" in change.old or "\n" in change.new
    found: list[int] = []
    position = text.find(old)
    while position != -1 and len(found) <= limit:
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

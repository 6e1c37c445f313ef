"""Repeated statement shapes: the line being typed is the line above with other names.

Boundary: text in, text out; no I/O. Parallel assignments (``self.a = a`` then ``self.b = ``),
repeated calls with other arguments, dictionary entries: when the start of the current line
lines up token by token with the line above, identifiers swapped consistently, the rest of the
line above is proposed with the same swaps. It stops before any literal the line above has in
its rest (a string or number there is most likely different too).
"""

from __future__ import annotations

from tactful.analyzers.tokens import NORMAL, indentation, is_identifier, tokenize_line

# How often the rest of a parallel line comes out right, measured on replays of real code;
# used as the suggestion's probability.
PARALLEL_PROBABILITY = 0.55
_MIN_ALIGNED = 3


def parallel_line(
    lines: list[str], row: int, prefix: str, language_id: str
) -> tuple[str, float] | None:
    """The rest of the current line if it is the line above with names swapped, and its
    probability; None when the lines do not line up. Both lines must be code (the caller
    knows whether they start inside a string)."""
    if not prefix.strip() or not (
        prefix[-1].isspace() or (not prefix[-1].isalnum() and prefix[-1] != "_")
    ):
        return None
    above = row - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    if above < 0 or indentation(lines[above]) != indentation(prefix):
        return None
    previous, state = tokenize_line(lines[above], language_id, NORMAL)
    current, current_state = tokenize_line(prefix.rstrip(" \t"), language_id, NORMAL)
    if state != NORMAL or current_state != NORMAL or len(current) < _MIN_ALIGNED:
        return None
    if previous[0].startswith(("#", "//", "/*")):
        return None  # comments are prose, not statements
    if len(current) >= len(previous):
        return None
    mapping: dict[str, str] = {}
    swapped = False
    for mine, theirs in zip(current, previous, strict=False):
        if mine == theirs:
            if is_identifier(theirs) and mapping.get(theirs, theirs) != theirs:
                return None
            mapping.setdefault(theirs, theirs)
            continue
        if not (is_identifier(mine) and is_identifier(theirs)):
            return None
        if _spacing(mine) != _spacing(theirs) or mapping.get(theirs, mine) != mine:
            return None
        mapping[theirs] = mine
        swapped = True
    if not swapped:
        return None
    rest: list[str] = []
    trailing = prefix[len(prefix.rstrip(" \t")) :]
    carried = False
    for token in previous[len(current) :]:
        bare = token.lstrip(" \t")
        if bare[:1].isdigit() or bare[:1] in "\"'`" or bare[:1] == "#":
            break
        if is_identifier(token):
            renamed = mapping.get(bare, bare)
            carried = carried or renamed != bare
            token = token[: len(token) - len(bare)] + renamed
        rest.append(token)
    if not carried:
        # Only a rest that repeats the swap is parallel (``self.b = b``); a rest copied as it
        # was is most often another statement that merely starts alike.
        return None
    text = "".join(rest)
    if trailing:
        if not text.startswith(trailing):
            return None
        text = text[len(trailing) :]
    if not text.strip():
        return None
    return text, PARALLEL_PROBABILITY


def _spacing(token: str) -> str:
    return token[: len(token) - len(token.lstrip(" \t"))]

"""What the acceptance models look at: hashed features of the context and of a suggestion.

Boundary: pure functions over a few short strings (the cursor's line, the line above) and
numbers; they never see the whole document, so a decision costs microseconds, and what they
return — ``(index, value)`` pairs of hashed names — is what the feedback store may keep: it
says nothing readable about the code.

Gate features (before any engine is asked) come from the context alone: language, the last
characters and token, what follows the cursor, position in the line and file, the time since the
last decision and what it was, and the recent acceptance rate. Filter features add the
suggestion's own: length, lines, engine (by its source), engine score and the evidence behind
it, kind, its tokens. Whether it parses is settled before the filter: post-processing drops a
suggestion that would break a file that parsed, so every suggestion the filter sees parses as far
as that goes.

Each feature earns its place: trained on one development project's replay and tested on the
other's, a feature whose removal did not lower the held-out AUC was removed (fewer features, a
cheaper decision). That is why the filter takes only part of the context
(``filter_context``), and why neither the engine's prose flag nor the file's kind is a filter
feature.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product

from tactful.analyzers.paths import path_kind
from tactful.suggestion.types import Suggestion

__all__ = ["path_kind"]

DIMENSION = 1 << 20
BIAS = 0

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+")
# Whitespace matches no alternative, so ``findall`` skips it.
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d[\w.]*|\"|'|[^\sA-Za-z_0-9]")
_CLOSERS = frozenset(")]}\"'`,;:")


@dataclass(frozen=True, slots=True)
class Context:
    """The moment a completion could be asked for.

    ``line_prefix``/``line_suffix``: the cursor's line before and after it. History comes from
    the caller's own record: seconds since the last accept or reject (None: none yet), which it
    was, and the acceptance rate of recent shown suggestions (None: too few to tell).
    """

    language: str
    line_prefix: str
    line_suffix: str = ""
    previous_line: str = ""
    line_number: int = 0
    trigger: str = "automatic"
    since_last_s: float | None = None
    last_outcome: str = "none"
    recent_rate: float | None = None
    # Relation to the last suggestion shown (``History.along``).
    along: str = "none"
    # "test" or "src" (``path_kind``), "" when the document has no path.
    path_kind: str = ""
    # Whether the document goes on after the cursor's line (code below it: an edit inside
    # existing code) or ends there (a file typed top to bottom). Not a feature: it chooses the
    # filter's threshold (``situation``).
    continues: bool = False


# The first lines of a file typed top to bottom (``situation``): where the engine knows least.
HEAD_LINES = 100


def situation(ctx: Context) -> str:
    """Where the developer is, as the filter's threshold sees it: ``context`` (code below the
    cursor's line), ``head`` (the first ``HEAD_LINES`` lines of a document that ends at the
    cursor's line) or ``rest``."""
    if ctx.continues:
        return "context"
    return "head" if ctx.line_number < HEAD_LINES else "rest"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A suggestion as the filter sees it. ``score`` is the engine's estimate in [0, 1].

    Whether it parses is not here: post-processing settles that before the filter (see the
    module's docstring)."""

    text: str
    engine: str = ""
    score: float = 0.0
    kind: str = "text"
    origin: str = ""  # which of the engine's sources proposed it, e.g. "ngram" or "shape"
    # The engine's evidence, when it gives it: the first token's probability, its lead over the
    # runner-up, the least likely token's probability, the longest context that had seen the
    # first token, and how often (see ``tactful.suggestion.local.predict.Continuation``).
    evidence: tuple[float, float, float, int, float] | None = None

    @classmethod
    def of(cls, suggestion: Suggestion) -> Candidate:
        """A suggestion as the filter sees it, with what its engine said about it, in the
        words the prior was trained with (an LLM suggestion's origin is its engine)."""
        local = suggestion.engine == "local"
        return cls(
            suggestion.text,
            suggestion.engine,
            suggestion.score,
            suggestion.kind,
            ("shape" if suggestion.origin == "shape" else "ngram") if local else suggestion.engine,
            suggestion.evidence,
        )


class Features:
    """A feature vector: the hashed indices of the binary features present (``ones``, value 1)
    and the few features that carry a value (``values``, ``(index, value)`` pairs).

    Iterating gives every ``(index, value)`` pair, which is what the feedback store keeps.
    ``shared``: how many of ``ones`` the filter shares with the gate (for a context's vector;
    see ``filter_context``). Present-but-zero features are simply absent: they would weigh
    nothing and learn nothing.
    """

    __slots__ = ("ones", "shared", "values")

    def __init__(
        self,
        ones: list[int],
        values: tuple[tuple[int, float], ...] = (),
        shared: int | None = None,
    ) -> None:
        self.ones = ones
        self.values = values
        self.shared = len(ones) if shared is None else shared

    def __iter__(self) -> Iterator[tuple[int, float]]:
        for i in self.ones:
            yield (i, 1.0)
        yield from self.values

    def __len__(self) -> int:
        return len(self.ones) + len(self.values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Features):
            return NotImplemented
        return self.ones == other.ones and self.values == other.values

    def __hash__(self) -> int:
        return hash((tuple(self.ones), self.values))

    def __repr__(self) -> str:
        return f"Features({self.ones!r}, {self.values!r})"

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, float]]) -> Features:
        """A vector from ``(index, value)`` pairs (as the store keeps them)."""
        ones: list[int] = []
        values: list[tuple[int, float]] = []
        for i, v in pairs:
            if v == 1.0:
                ones.append(i)
            elif v:
                values.append((i, v))
        return cls(ones, tuple(values))


_crc32 = zlib.crc32


def index(name: str) -> int:
    """The hashed index of a feature name (stable across runs and machines)."""
    return _crc32(name.encode("utf-8", "surrogatepass")) % (DIMENSION - 1) + 1


_RR = index("rr")
_SCORE = index("score")
_LEAST = index("least")


def _grid(template: str, *values: Sequence[object]) -> tuple[int, ...]:
    """The indices of ``template.format(...)`` over every combination of ``values``,
    row-major: a feature over small integers is then an index into a tuple instead of a name
    to format and hash (the same names, so the same hashed indices)."""
    return tuple(index(template.format(*combination)) for combination in product(*values))


_B13 = range(13)  # what _bucket can return
_D10 = range(10)  # a probability in tenths
_WL = _grid("wl={}", range(9))
_COL = _grid("col={}", _B13)
_OPEN = _grid("open={}", range(-1, 4))
_RRB = _grid("rrb={}", range(5))
_LN = _grid("ln={}", _B13)
_Q = _grid("q={}", range(2))
_SB = _grid("sb={}", _D10)
_SB_LEN = _grid("sb={}|len={}", _D10, range(7))
_NL = _grid("nl={}", range(7))
_TN = _grid("tn={}", _B13)
_ID_PU = _grid("id={}|pu={}", range(7), range(7))
_JOIN_WL = _grid("join={}|wl={}", (False, True), range(5))
_MG = _grid("mg={}", _D10)
_LP = _grid("lp={}", _D10)
_LP_LEN = _grid("lp={}|len={}", _D10, range(7))
_SU = _grid("su={}", _B13)
_DEPTHS = 8  # the local engine's contexts are shorter
_DP = _grid("dp={}", range(_DEPTHS))
_DP_SU = _grid("dp={}|su={}", range(_DEPTHS), range(9))
_DP_FP = _grid("dp={}|fp={}", range(_DEPTHS), _D10)
_COMMENT = _grid("comment={}", (False, True))


def _tenths(p: float) -> int:
    """A probability's tenth, 0 to 9."""
    return min(int(p * 10), 9) if p > 0.0 else 0


def _bucket(n: int) -> int:
    """0, 1, 2, 3-4, 5-8, 9-16, ...: a small integer that grows with log2(n)."""
    return n if n < 3 else min(2 + (n - 1).bit_length() - 1, 12)


def _char_class(ch: str) -> str:
    if not ch:
        return "none"
    if ch.isalpha() or ch == "_":
        return "a"
    if ch.isdigit():
        return "0"
    if ch == " ":
        return "sp"
    if ch == "\t":
        return "tab"
    return ch


def _shape_of(c: str) -> str:
    return "a" if c.isalpha() or c == "_" else "0" if c.isdigit() else "_" if c.isspace() else c


_ASCII_SHAPE = str.maketrans({chr(i): _shape_of(chr(i)) for i in range(128)})


def _shape(text: str) -> str:
    """Letters as ``a``, digits as ``0``, spaces as ``_``; other characters as they are."""
    if text.isascii():
        return text.translate(_ASCII_SHAPE)
    return "".join(map(_shape_of, text))


def _trailing_word(text: str) -> str:
    end = len(text)
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return text[start:end]


def _first_word(text: str) -> str:
    match = _WORD.match(text, len(text) - len(text.lstrip()))
    return match.group(0) if match else ""


def _since(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for limit, name in ((0.5, "0.5"), (1.5, "1.5"), (4.0, "4"), (15.0, "15"), (60.0, "60")):
        if seconds < limit:
            return name
    return "long"


def context_features(ctx: Context) -> Features:
    """Features of the moment, before any engine is asked: the filter's first (``shared`` of
    them, see ``filter_context``), then the ones only the gate uses."""
    prefix = ctx.line_prefix[-200:]
    stripped = prefix.lstrip()
    last_class = _char_class(prefix[-1:]) if stripped else "bol"
    word = _trailing_word(prefix)
    before_word = prefix[: len(prefix) - len(word)].rstrip()
    prev_token = _trailing_word(before_word) or (before_word[-1:] if before_word else "^")
    suffix = ctx.line_suffix
    suffix_stripped = suffix.strip()
    if not suffix:
        after = "eol"
    elif not suffix_stripped:
        after = "ws"
    elif suffix_stripped[0] in _CLOSERS:
        after = "close"
    else:
        after = "text"
    count = prefix.count
    opens = count("(") + count("[") + count("{") - count(")") - count("]") - count("}")
    previous = ctx.previous_line.rstrip()
    prev_end = _char_class(previous[-1:]) if previous else "empty"
    shape = _shape(prefix[-3:])
    rate = ctx.recent_rate
    last_outcome = ctx.last_outcome
    along = ctx.along
    word_length = len(word)
    # the filter's and the gate's
    ones = [
        BIAS,
        index(f"L={ctx.language}"),
        index(f"sh={shape}"),
        index(f"sh2={shape[-2:]}|a={after}"),
        _WL[min(word_length, 8)],
        index(f"pt={prev_token}|wl={min(word_length, 4)}"),
        index(f"fw={_first_word(prefix)}|c1={last_class}"),
        index(f"a={after}"),
        index(f"a={after}|c1={last_class}"),
        _COL[_bucket(len(prefix))],
        _OPEN[max(-1, min(opens, 3)) + 1],
        index(f"pe={prev_end}"),
        index(f"pe={prev_end}|bol={not stripped}"),
        _COMMENT["#" in prefix or "//" in prefix],
    ]
    # Before the first verdict of a session there is no history to speak of: those features
    # are left out, so they neither weigh nor learn. (A replay starts a session once, an editor
    # every time it opens: weights trained on a replay's first few moments would be noise
    # applied to every session's start.) The same for a rate before enough verdicts.
    if last_outcome != "none":
        history = f"h={last_outcome}|{_since(ctx.since_last_s)}"
        ones.append(index(history))
        ones.append(index(f"{history}|c1={last_class}"))
    if along != "none":
        ones.append(index(f"al={along}|c1={last_class}"))
        ones.append(index(f"al={along}|h={last_outcome}"))
    if rate is None:
        values: tuple[tuple[int, float], ...] = ()
    else:
        ones.append(_RRB[min(max(int(rate * 5), 0), 4)])
        values = ((_RR, rate - 0.3),)
    shared = len(ones)
    # the gate's only
    ones.append(index(f"c1={last_class}"))
    ones.append(index(f"w={word[:24]}"))
    ones.append(index(f"pt={prev_token}"))
    ones.append(_Q[(count('"') + count("'")) % 2])
    ones.append(_LN[_bucket(ctx.line_number)])
    if along != "none":
        ones.append(index(f"al={along}"))
    ones.append(index(f"pk={ctx.path_kind}|c1={last_class}"))
    return Features(ones, values, shared)


def filter_context(context: Features) -> Features:
    """The filter's share of ``context_features``' result. Which features each stage keeps was
    measured on replays, training on one project and testing on the other: a feature that did
    not raise the held-out AUC costs time and is left out."""
    return Features(context.ones[: context.shared], context.values)


def candidate_features(
    ctx: Context, candidate: Candidate, context: Features | None = None
) -> Features:
    """Features of a generated suggestion in its context (``context``: the gate's
    ``context_features`` for this moment, reused)."""
    if context is None:
        context = context_features(ctx)
    ones = context.ones[: context.shared]
    text = candidate.text[:400]
    tokens = _TOKEN.findall(text[:160])
    first = tokens[0] if tokens else ""
    first_kind = _char_class(first[:1]) if first else "none"
    idents = sum(1 for t in tokens if t[:1].isalpha() or t[:1] == "_")
    prefix = ctx.line_prefix
    word = _trailing_word(prefix[-64:])
    joins_word = bool(word) and (first_kind in ("a", "0"))
    score = min(max(candidate.score, 0.0), 1.0)
    sb = _tenths(score)
    length = _bucket(len(text))
    short_length = min(length, 6)
    kind = candidate.kind
    before = _trailing_word(prefix[: len(prefix) - len(word)].rstrip()[-64:])
    ones += (
        index(f"o={candidate.origin}|sb={min(int(score * 5), 4)}"),
        index(f"len={length}|k={kind}"),
        index(f"t0={first[:24]}|pt={before}"),
        index(f"end={_char_class(text.rstrip()[-1:])}"),
        _NL[min(text.count("\n") + 1, 6)],
        _SB[sb],
        _SB_LEN[sb * 7 + short_length],
        _TN[min(len(tokens), 12)],
        _ID_PU[min(idents, 6) * 7 + min(len(tokens) - idents, 6)],
        _JOIN_WL[joins_word * 5 + min(len(word), 4)],
    )
    values = context.values
    evidence = candidate.evidence
    if evidence is not None:
        first_p, margin, least, depth, support = evidence
        fp = _tenths(first_p)
        lp = _tenths(least)
        su = _bucket(max(int(support), 0))
        ones += (
            index(f"fp={fp}|k={kind}"),
            _MG[_tenths(margin)],
            _LP[lp],
            _LP_LEN[lp * 7 + short_length],
        )
        if 0 <= depth < _DEPTHS:
            ones += (_DP[depth], _DP_SU[depth * 9 + min(su, 8)], _DP_FP[depth * 10 + fp])
        else:
            ones += (
                index(f"dp={depth}"),
                index(f"dp={depth}|su={min(su, 8)}"),
                index(f"dp={depth}|fp={fp}"),
            )
        ones.append(_SU[su])
        if least:
            values += ((_LEAST, least),)
    if score:
        values += ((_SCORE, score),)
    return Features(ones, values)

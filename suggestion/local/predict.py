"""Next-token probabilities from several n-gram sources, and greedy decoding of a continuation.

Boundary: pure computation on counts and tokens; no text positions, no I/O.

The model is interpolated absolute discounting (the core of Kneser-Ney) over context lengths
0..order: at each length every count loses ``discount``, and the mass taken goes to the estimate
from the shorter context, in proportion to how many different tokens the context has been
followed by. Sources are mixed by weight (the open document weighs more than the rest of the
workspace: that is the recency cache). A context seen once says little (its one count is mostly
discounted); one seen often and always followed by the same token gives a high probability; one
followed by many different tokens gives a low one. That is what lets the engine stay silent when
unsure.

When the user is in the middle of a token, the first token is drawn from those that start with
what was typed (the distribution restricted to them and renormalised).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tactful.analyzers.ngrams import NgramCounts
from tactful.analyzers.tokens import is_break, render
from tactful.suggestion.keystrokes import keystrokes

# A context followed by this many distinct tokens is not scanned for a typed prefix: it says
# little about any one of them, and scanning it would cost more than the answer is worth.
_SCAN_LIMIT = 4000
_FLOOR = 1e-4
_OPENERS = frozenset("([{")
_CLOSERS = frozenset(")]}")


@dataclass(frozen=True, slots=True)
class Source:
    """Counts and their weight. ``cap``: at most this many weighted counts in any one context
    (a prior that speaks where the other sources are silent, and gives way to a context
    they have seen only twice)."""

    counts: NgramCounts
    weight: float
    cap: float | None = None


@dataclass(frozen=True, slots=True)
class Continuation:
    """Tokens predicted after the cursor, the text they insert, and their joint probability.

    The rest says how much evidence stands behind it, for the acceptance filter: the first
    token's probability and its lead over the runner-up, the least likely token, and for the
    first token the longest context that had seen it (``depth``, in tokens) and how often
    (``support``, weighted counts).
    """

    tokens: tuple[str, ...]
    text: str
    probability: float
    first: float = 1.0
    margin: float = 1.0
    least: float = 1.0
    depth: int = 0
    support: float = 0.0


def _level(
    followers: dict[str | None, int] | None, partial: str
) -> tuple[dict[str | None, int], int, int] | None:
    """(counts, total, distinct) of a context's followers that start with ``partial``."""
    if not followers:
        return None
    if not partial:
        return followers, followers[None], len(followers) - 1
    if len(followers) > _SCAN_LIMIT:
        return None
    items: dict[str | None, int] = {
        token: count
        for token, count in followers.items()
        if token is not None and token.startswith(partial)
    }
    if not items:
        return None
    return items, sum(items.values()), len(items)


def next_tokens(
    sources: Sequence[Source],
    context: Sequence[str],
    partial: str = "",
    limit: int = 3,
    allowed: frozenset[str] | None = None,
    discount: float = 0.8,
    evidence: dict[str, tuple[int, float]] | None = None,
    width: int = 6,
) -> list[tuple[str, float]]:
    """The most likely next tokens that start with ``partial``, best first, with probabilities.

    ``allowed``, when given, restricts candidates (e.g. to names a type checker knows).
    ``evidence``, when given, receives per candidate the longest context length that had seen
    it and its weighted count there. ``width``: the candidates taken from each source at each
    of the (at most two) longest contexts that have any.
    """
    order = max((s.counts.order for s in sources), default=0)
    context = tuple(context[-order:]) if order else ()
    # levels[k]: (weight, counts, total, distinct) per source for the context of length k.
    levels: list[list[tuple[float, dict[str | None, int], int, int]]] = []
    for k in range(0, min(order, len(context)) + 1):
        key = context[len(context) - k :] if k else ()
        found = []
        for source in sources:
            if k > source.counts.order:
                continue
            if k == 0 and partial.strip():
                level = _prefix_level(source.counts, partial)
            elif k == 0:
                # The unrestricted unigram distribution: an honest floor for the first token.
                followers = source.counts.followers(())
                level = (followers, followers[None], len(followers) - 1) if followers else None
            else:
                level = _level(source.counts.followers(key), partial)
            if level is not None and level[1] > 0:
                weight = source.weight
                if source.cap is not None:
                    weight = min(weight, source.cap / level[1])
                found.append((weight, *level))
        levels.append(found)
    candidates: list[str] = []
    gathered = 0
    for k in range(len(levels) - 1, -1, -1):
        if not levels[k] or (k == 0 and not partial.strip()):
            # The most frequent tokens of the whole vocabulary, with no context and nothing
            # typed, are never a confident guess; ranking them would cost a scan.
            continue
        for _weight, counts, _total, _distinct in levels[k]:
            ranked = _top(counts, width)
            for token in ranked:
                if token not in candidates and (allowed is None or token in allowed):
                    candidates.append(token)
        gathered += 1
        if gathered >= 2 and candidates:
            break
    if allowed is not None:
        for token in allowed:
            if token not in candidates and token.startswith(partial):
                candidates.append(token)
    if not candidates:
        return []
    scored = []
    for token in candidates:
        probability = _FLOOR
        depth, support = 0, 0.0
        for k, found in enumerate(levels):
            kept = 0.0
            total = 0.0
            reserved = 0.0
            seen = 0.0
            for weight, counts, level_total, level_distinct in found:
                count = counts.get(token, 0)
                if count > discount:
                    kept += weight * (count - discount)
                seen += weight * count
                total += weight * level_total
                reserved += weight * discount * level_distinct
            if total > 0:
                probability = (kept + reserved * probability) / total
            if seen > 0:
                depth, support = k, seen
        scored.append((token, probability))
        if evidence is not None:
            evidence[token] = (depth, support)
    scored.sort(key=lambda item: item[1], reverse=True)
    return scored[:limit]


def _prefix_level(
    counts: NgramCounts, partial: str
) -> tuple[dict[str | None, int], int, int] | None:
    # A word typed after a space matches the word whether it was seen after a space or not.
    items: dict[str | None, int] = dict(counts.with_prefix(partial))
    stripped = partial.lstrip(" \t")
    if stripped != partial:
        spacing = partial[: len(partial) - len(stripped)]
        for token, count in counts.with_prefix(stripped):
            spaced = spacing + token
            items[spaced] = items.get(spaced, 0) + count
    if not items:
        return None
    return items, sum(c for c in items.values() if c), len(items)


def _top(counts: dict[str | None, int], count: int) -> list[str]:
    if len(counts) <= count + 1:
        return sorted((t for t in counts if t is not None), key=counts.__getitem__, reverse=True)
    best: list[tuple[int, str]] = []
    floor = 0
    for token, value in counts.items():
        if token is None or (value <= floor and len(best) >= count):
            continue
        best.append((value, token))
        if len(best) > count * 4:
            best.sort(reverse=True)
            del best[count:]
            floor = best[-1][0]
    best.sort(reverse=True)
    return [token for _, token in best[:count]]


def continue_tokens(
    sources: Sequence[Source],
    context: Sequence[str],
    partial: str,
    indent: str,
    *,
    threshold: float,
    max_lines: int,
    max_tokens: int = 32,
    allowed_first: frozenset[str] | None = None,
    discount: float = 0.8,
    resume: str | None = None,
    open_brackets: int = 0,
    length_decay: float = 1.0,
    doubt: float = 1.0,
) -> Continuation | None:
    """The continuation that saves the most keystrokes in expectation among those whose joint
    probability stays above ``threshold``.

    Decoding is greedy; every prefix of the greedy path is a candidate stopping point except one
    that ends with a line break (a suggestion never leaves the cursor at the start of a line).

    ``resume``: the first token of the code after the cursor on its line, when there is some.
    The suggestion must then end where that code resumes: the only stopping point is the one
    after which the decoder's next token is that token (the suggestion then closes nothing the
    code after it closes, and repeats none of it), and it never breaks the line.
    ``open_brackets``: brackets the line opened before the cursor; no line break is offered
    while any is open (inside a call's arguments the developer decides where lines break).
    ``length_decay``: where to stop weighs each token after the first by this much more than
    its probability says (the joint probability of a greedy path is over-confident the longer
    it gets: a suggestion right up to a point and wrong after it saves nothing).
    ``doubt``: where to stop weighs each token after the first by its probability to the
    power ``doubt - 1``, beyond the joint probability (1.0: not at all), so that a token the
    statistics are sure of costs nothing and an unsure one costs more than its probability.
    """
    history = list(context)
    tokens: list[str] = []
    probability = 1.0
    best: Continuation | None = None
    best_value = 0.0
    doubted = 1.0
    lines = 1
    first = margin = least = 1.0
    depth, support = 0, 0.0
    for step in range(max_tokens):
        evidence: dict[str, tuple[int, float]] | None = {} if step == 0 else None
        ranked = next_tokens(
            sources,
            history,
            partial if step == 0 else "",
            limit=2 if step == 0 else 1,
            allowed=allowed_first if step == 0 else None,
            discount=discount,
            evidence=evidence,
        )
        if not ranked:
            break
        token, p = ranked[0]
        if evidence is not None:
            first = p
            margin = p - (ranked[1][1] if len(ranked) > 1 else 0.0)
            depth, support = evidence.get(token, (0, 0.0))
        if resume is not None and token.lstrip(" \t") == resume.lstrip(" \t"):
            # The code after the cursor resumes here: the suggestion so far joins it.
            if tokens:
                text = render(tokens, indent)[len(partial) :]
                weight = length_decay ** (len(tokens) - 1) * doubted
                if weight * probability * (keystrokes(text) - 1) > best_value:
                    best = Continuation(
                        tuple(tokens), text, probability, first, margin, least, depth, support
                    )
            break
        least = min(least, p)
        if tokens:
            doubted *= p ** (doubt - 1.0)
        probability *= p
        if probability < threshold:
            break
        if is_break(token) and (resume is not None or open_brackets > 0):
            break
        tokens.append(token)
        history.append(token)
        bare = token.lstrip(" \t")
        if bare in _OPENERS:
            open_brackets += 1
        elif bare in _CLOSERS and open_brackets > 0:
            open_brackets -= 1
        if is_break(token):
            lines += 1
            if lines > max_lines:
                break
            continue
        if resume is not None:
            continue  # only where the code after the cursor resumes
        text = render(tokens, indent)[len(partial) :]
        value = length_decay ** (len(tokens) - 1) * doubted * probability * (keystrokes(text) - 1)
        if value > best_value:
            best_value = value
            best = Continuation(
                tuple(tokens), text, probability, first, margin, least, depth, support
            )
    return best


def shared_prefix(
    sources: Sequence[Source],
    context: Sequence[str],
    partial: str,
    *,
    threshold: float,
    discount: float = 0.8,
    width: int = 16,
) -> Continuation | None:
    """The next token as far as its likely candidates agree: what is certain even when no one
    of them is likely enough on its own.

    The candidates for the token at the cursor (``partial``: what is typed of it, possibly
    nothing) may split the probability between them (``'Programming Language :: Python ::
    3.7'`` and ``:: 3.8'``; ``header_part`` and ``header_validator_index``) and still share a
    longer start: that start is as likely as all of them together. Among the starts where candidates
    branch, the one that saves the most keystrokes in expectation is returned, if its
    probability is at least ``threshold``; its evidence is that of the start (its probability
    and its lead over the candidates that do not share it)."""
    evidence: dict[str, tuple[int, float]] = {}
    ranked = next_tokens(
        sources,
        context,
        partial,
        limit=width,
        discount=discount,
        evidence=evidence,
        width=width,
    )
    ranked = [(token, p) for token, p in ranked if not is_break(token)]
    if len(ranked) < 2:
        return None  # one candidate: the continuation decoder has judged it already
    best: Continuation | None = None
    best_value = 0.0
    # Where candidates branch: the common start of each pair is a place a start could end.
    starts = {_common_start(a, b) for i, (a, _) in enumerate(ranked) for b, _ in ranked[i + 1 :]}
    for start in starts:
        if len(start) < len(partial) + 2:
            continue
        sharing = [(token, p) for token, p in ranked if token.startswith(start)]
        mass = sum(p for _, p in sharing)
        if mass < threshold:
            continue
        text = start[len(partial) :]
        value = mass * (keystrokes(text) - 1)
        if value > best_value:
            outside = max((p for token, p in ranked if not token.startswith(start)), default=0.0)
            depth, support = max(evidence.get(token, (0, 0.0)) for token, _ in sharing)
            best_value = value
            best = Continuation((start,), text, mass, mass, mass - outside, mass, depth, support)
    return best


def _common_start(a: str, b: str) -> str:
    size = min(len(a), len(b))
    index = 0
    while index < size and a[index] == b[index]:
        index += 1
    return a[:index]

"""Replaying a commit's hunks and scoring the next edits proposed after each one.

Boundary: plain Python. ``replay_commit`` is the one replay of next edits: ``tactful bench
edits --next`` runs it through the server over stdio (the measure of record), and
``benchmarks/next_edits.py`` runs it against an engine in this process (quicker, for tuning).
Each of those is a ``NextEditClient``: what the edits go into and where next edits come from.

A commit's changed files are opened as they were at its parent. Its hunks (each run of changed
lines between unchanged ones, ``git diff -U0``) are made one at a time, each typed as ``bench
edits`` types it (``replay.plan_hunks`` and ``replay.next_chunk``: its old stretch deleted, its
new text typed chunk by chunk), in the order ``order`` says. After each hunk, next edits are
asked for at its end and the first item is *shown*. An item is *correct* when applying it makes
every line it touches equal to the commit's version and the remaining difference to that
version shrinks. A correct item is accepted (applied, then next edits are asked for again from
there); any other is rejected. A hunk already complete when its turn comes is not typed: it was
*covered* by accepted next edits.
"""

from __future__ import annotations

import bisect
import difflib
import keyword
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from tactful.analyzers.findings import Finding
from tactful.suggestion.next_edits.checks import undefined_name
from tactful.suggestion.next_edits.trees import Source, parse
from tactful.suggestion.replay import next_chunk, percentile, plan_hunks, ratio

# Next edits accepted in a row after one hunk, at most (a replay never loops on a proposer).
MAX_CHAIN = 12
# Sizes of the document asked about (its lines at the request), for the latency breakdown.
SIZES = ((0, "under_1000_lines"), (1000, "1000_to_4999_lines"), (5000, "5000_lines_or_more"))
# The orders hunks are made in: ``top_down`` (each file top to bottom, as ``bench edits``), or
# ``imports_last`` (a file's hunks that only change import lines after its other hunks: the use
# written first, then the import).
ORDERS = ("top_down", "imports_last")


@dataclass(frozen=True, slots=True)
class Hunk:
    """One run of changed lines of a file: ``first:last`` in the commit's version of the file,
    ``old_first:old_last`` in the parent's."""

    path: str
    first: int
    last: int
    old_first: int
    old_last: int


@dataclass(frozen=True, slots=True)
class Proposal:
    """A next edit as the client shows it: replace ``start:end`` (code points) of ``path``'s
    current text with ``new_text``. ``path`` is None for a file the replay does not follow."""

    id: str
    path: str | None
    start: int
    end: int
    new_text: str
    source: str = ""
    label: str = ""


class NextEditClient(Protocol):
    """What a replay edits, and where its next edits come from."""

    async def open(self, path: str, text: str) -> None:
        """``path`` is opened holding ``text``."""

    async def replace(self, path: str, start: int, end: int, text: str) -> None:
        """``start:end`` (code points) of ``path`` is replaced with ``text``; the cursor moves
        to the end of what went in."""

    async def next_edits(self, path: str, offset: int) -> list[Proposal]:
        """The next edits shown with the cursor at ``offset`` of ``path``, best first."""

    async def accept(self, proposal: Proposal) -> None:
        """The proposal was applied (``replace`` was sent for it) and is recorded accepted."""

    async def reject(self, proposal: Proposal) -> None:
        """The proposal is dismissed."""

    async def close(self, path: str, text: str) -> None:
        """``path`` is closed; ``text`` is its whole text."""


# ruff's findings on a text of a path, counted by ``finding_key``.
RuffRules = Callable[[str, str], Counter[str]]


def finding_key(finding: Finding) -> str:
    """What a ruff finding is counted as: its rule, and for an undefined name (F821) the name
    too (``F821 `x```), so that another use of a name the text already left undefined is told
    apart from a new undefined name."""
    name = undefined_name(finding)
    return finding.rule if name is None else f"F821 `{name}`"


@dataclass
class NextTally:
    """What a replay of next edits measured."""

    commits: int = 0
    skipped_commits: int = 0
    hunks: int = 0
    hunks_after_first: int = 0
    covered: int = 0
    requests: int = 0
    shown: int = 0
    correct: int = 0
    broken_parse: int = 0
    new_ruff: int = 0
    known_undefined: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    by_size: dict[str, list[float]] = field(default_factory=dict)
    by_source: dict[str, list[int]] = field(default_factory=dict)
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def latency(self, latency_ms: float, lines: int) -> None:
        self.latencies_ms.append(latency_ms)
        name = next(label for floor, label in reversed(SIZES) if lines >= floor)
        self.by_size.setdefault(name, []).append(latency_ms)

    def summary(self) -> dict[str, object]:
        return {
            "commits_replayed": self.commits,
            "skipped_commits": self.skipped_commits,
            "hunks": self.hunks,
            "hunks_after_first": self.hunks_after_first,
            "covered": self.covered,
            "coverage": ratio(self.covered, self.hunks_after_first),
            "requests": self.requests,
            "shown": self.shown,
            "correct": self.correct,
            "precision": ratio(self.correct, self.shown),
            "broken_parse": self.broken_parse,
            "new_ruff_findings": self.new_ruff,
            "more_uses_of_undefined_names": self.known_undefined,
            "latency_ms": _percentiles(self.latencies_ms),
            "latency_ms_by_document_size": {
                name: {"requests": len(self.by_size[name]), **_percentiles(self.by_size[name])}
                for _floor, name in SIZES
                if self.by_size.get(name)
            },
            "by_source": {
                source: {"shown": shown, "correct": correct, "precision": ratio(correct, shown)}
                for source, (shown, correct) in sorted(self.by_source.items())
            },
            "coverage_by_kind": {
                kind: {"hunks": hunks, "covered": covered, "coverage": ratio(covered, hunks)}
                for kind, (hunks, covered) in sorted(
                    self.by_kind.items(), key=lambda item: -item[1][0]
                )
            },
            "problems": self.problems,
        }


def _percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    return {
        name: percentile(ordered, share, digits=1)
        for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
    }


# -- line differences ----------------------------------------------------------------------


def lines_of(text: str) -> list[str]:
    return text.splitlines(keepends=True)


Opcode = tuple[str, int, int, int, int]


def padded(text: str, padding: str, lines: int) -> str:
    """``text`` with the padding's first lines appended until it has ``lines`` lines (the
    replay's way to measure a request in a long file with a real commit's edits)."""
    missing = lines - text.count("\n")
    if missing <= 0 or not padding:
        return text
    extra = "".join(lines_of(padding)[: missing + 1])
    return text + ("" if text.endswith("\n") or not text else "\n") + extra


def opcodes(current: str, final: str) -> list[Opcode]:
    """The line differences between two texts (``git diff -U0``'s hunks), as difflib's
    opcodes (``equal`` left out). Lines found once in each text anchor the comparison
    (patience diff), so a long file with a few changes costs a pass, not the quadratic search
    difflib makes among its many alike lines; difflib compares what lies between anchors."""
    a, b = lines_of(current), lines_of(final)
    blocks: list[tuple[int, int, int]] = []
    _match(a, b, 0, len(a), 0, len(b), blocks)
    blocks.sort()
    out: list[Opcode] = []
    i = j = 0
    for ai, bj, size in [*blocks, (len(a), len(b), 0)]:
        if i < ai and j < bj:
            out.append(("replace", i, ai, j, bj))
        elif i < ai:
            out.append(("delete", i, ai, j, bj))
        elif j < bj:
            out.append(("insert", i, ai, j, bj))
        i, j = ai + size, bj + size
    return out


def _match(
    a: list[str], b: list[str], a0: int, a1: int, b0: int, b1: int, out: list[tuple[int, int, int]]
) -> None:
    """The matching blocks of ``a[a0:a1]`` and ``b[b0:b1]``, appended to ``out``."""
    head = 0
    while a0 + head < a1 and b0 + head < b1 and a[a0 + head] == b[b0 + head]:
        head += 1
    if head:
        out.append((a0, b0, head))
        a0, b0 = a0 + head, b0 + head
    tail = 0
    while a1 - tail > a0 and b1 - tail > b0 and a[a1 - 1 - tail] == b[b1 - 1 - tail]:
        tail += 1
    if tail:
        out.append((a1 - tail, b1 - tail, tail))
        a1, b1 = a1 - tail, b1 - tail
    if a0 == a1 or b0 == b1:
        return
    anchors = _anchors(a, b, a0, a1, b0, b1)
    if not anchors:
        matcher = difflib.SequenceMatcher(None, a[a0:a1], b[b0:b1], autojunk=False)
        for i, j, size in matcher.get_matching_blocks():
            if size:
                out.append((a0 + i, b0 + j, size))
        return
    i, j = a0, b0
    for ai, bj in anchors:
        _match(a, b, i, ai, j, bj, out)
        out.append((ai, bj, 1))
        i, j = ai + 1, bj + 1
    _match(a, b, i, a1, j, b1, out)


def _anchors(
    a: list[str], b: list[str], a0: int, a1: int, b0: int, b1: int
) -> list[tuple[int, int]]:
    """Lines found once in ``a[a0:a1]`` and once in ``b[b0:b1]``, paired, the longest run of
    pairs in the same order in both."""
    seen_a: dict[str, int] = {}
    for i in range(a0, a1):
        seen_a[a[i]] = -1 if a[i] in seen_a else i
    seen_b: dict[str, int] = {}
    for j in range(b0, b1):
        seen_b[b[j]] = -1 if b[j] in seen_b else j
    pairs = sorted(
        (i, seen_b[line]) for line, i in seen_a.items() if i >= 0 and seen_b.get(line, -1) >= 0
    )
    # The longest increasing run of ``j`` (patience sorting).
    tops: list[int] = []
    links: list[int] = []
    ends: list[int] = []
    for index, (_i, j) in enumerate(pairs):
        at = bisect.bisect_left(tops, j)
        links.append(ends[at - 1] if at else -1)
        if at == len(tops):
            tops.append(j)
            ends.append(index)
        else:
            tops[at] = j
            ends[at] = index
    chain: list[tuple[int, int]] = []
    index = ends[-1] if ends else -1
    while index >= 0:
        chain.append(pairs[index])
        index = links[index]
    chain.reverse()
    return chain


def hunks_of(path: str, before: str, after: str) -> list[Hunk]:
    return [Hunk(path, j1, j2, i1, i2) for _tag, i1, i2, j1, j2 in opcodes(before, after)]


def distance(current: str, final: str) -> int:
    """Lines still to change to make ``current`` into ``final``."""
    return sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in opcodes(current, final))


def touches(op: Opcode, hunk: Hunk) -> bool:
    _, i1, i2, j1, j2 = op
    if hunk.first == hunk.last:
        # A deletion: the op must delete near that place (lines alike around a deletion let
        # the diff put it up to as many lines away as it deletes).
        return i2 > i1 and j1 - (i2 - i1) <= hunk.first <= j2 + (i2 - i1)
    if j1 == j2:
        return hunk.first < j1 < hunk.last
    return j1 < hunk.last and j2 > hunk.first


def done(hunk: Hunk, current: str, final: str) -> bool:
    """Whether the hunk's lines already stand as the commit has them."""
    return not any(touches(op, hunk) for op in opcodes(current, final))


def correct(proposal: Proposal, text: str, final: str) -> tuple[bool, str]:
    """Whether a proposal is correct on ``text`` (the commit's version being ``final``), and
    the text after it."""
    after = text[: proposal.start] + proposal.new_text + text[proposal.end :]
    if distance(after, final) >= distance(text, final):
        return False, after
    first = text.count("\n", 0, proposal.start)
    last = first + proposal.new_text.count("\n")
    different: set[int] = set()
    for _tag, i1, i2, _j1, _j2 in opcodes(after, final):
        different.update(range(i1, i2))
    count = len(lines_of(after))
    touched = [line for line in range(first, last + 1) if line < count]
    return not any(line in different for line in touched), after


def compiles(text: str) -> bool:
    try:
        compile(text, "<replay>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def is_import(hunk: Hunk, before: str, after: str) -> bool:
    """Whether every non-blank line the hunk removes or adds is an import line."""
    changed = [
        line.strip()
        for line in (
            *lines_of(before)[hunk.old_first : hunk.old_last],
            *lines_of(after)[hunk.first : hunk.last],
        )
        if line.strip()
    ]
    return bool(changed) and all(line.startswith(("import ", "from ")) for line in changed)


def ordered(hunks: list[Hunk], files: dict[str, tuple[str, str]], order: str) -> list[Hunk]:
    if order == "imports_last":
        by_file: dict[str, list[Hunk]] = {}
        for hunk in hunks:
            by_file.setdefault(hunk.path, []).append(hunk)
        out: list[Hunk] = []
        for path, part in by_file.items():
            imports = [h for h in part if is_import(h, *files[path])]
            out.extend([h for h in part if h not in imports] + imports)
        return out
    return hunks


# -- the replay ----------------------------------------------------------------------------


async def replay_commit(
    client: NextEditClient,
    files: dict[str, tuple[str, str]],
    tally: NextTally,
    *,
    rules: RuffRules | None = None,
    order: str = "imports_last",
    max_hunks: int = 50,
    max_added: int = 0,
) -> bool:
    """Replay one commit whose Python files change from ``files[path][0]`` to
    ``files[path][1]``; False when it has more than ``max_hunks`` hunks (not replayed).
    ``rules``: ruff's rules on a text of a path, counted (None: not checked)."""
    hunks = ordered(
        [h for path, (old, new) in files.items() for h in hunks_of(path, old, new)], files, order
    )
    if not hunks:
        return True
    if max_hunks and len(hunks) > max_hunks:
        tally.skipped_commits += 1
        return False
    tally.commits += 1
    tally.hunks += len(hunks)
    tally.hunks_after_first += len(hunks) - 1
    current = {path: old for path, (old, _new) in files.items()}
    for path, text in current.items():
        await client.open(path, text)
    covered: set[Hunk] = set()
    for index, hunk in enumerate(hunks):
        final = files[hunk.path][1]
        if done(hunk, current[hunk.path], final):
            continue
        path, cursor = hunk.path, await _type(client, hunk, current, final, max_added)
        for _ in range(MAX_CHAIN):
            accepted = await _ask(client, path, cursor, files, current, tally, rules)
            if accepted is None:
                break
            path, cursor = accepted
            for later in hunks[index + 1 :]:
                if later not in covered and done(later, current[later.path], files[later.path][1]):
                    covered.add(later)
    for path, (_old, new) in files.items():
        if current[path] != new:
            # A line no hunk touched differs (an accepted edit that the check let through):
            # made as the commit has it, uncounted, so the file closes as the commit wrote it.
            tally.problems.append(f"{path}: left different after the replay; pasted")
            await client.replace(path, 0, len(current[path]), new)
            current[path] = new
        await client.close(path, new)
    tally.covered += len(covered)
    kinds = hunk_kinds(hunks, files)
    for hunk, kind in list(zip(hunks, kinds, strict=True))[1:]:
        counts = tally.by_kind.setdefault(kind, [0, 0])
        counts[0] += 1
        counts[1] += hunk in covered
    return True


async def _type(
    client: NextEditClient, hunk: Hunk, current: dict[str, str], final: str, max_added: int
) -> int:
    """Make ``hunk`` in its file as ``bench edits`` types it; the cursor after it."""
    text = current[hunk.path]
    ops = [op for op in opcodes(text, final) if touches(op, hunk)]
    first_line, last_line = min(op[1] for op in ops), max(op[2] for op in ops)
    final_first, final_last = min(op[3] for op in ops), max(op[4] for op in ops)
    lines = lines_of(text)
    # Planned on the hunk's lines and one line around them (a diff of the whole of a long
    # file would cost more than the replay's request).
    first, last = max(0, first_line - 1), last_line + 1
    base = sum(len(line) for line in lines[:first])
    old = "".join(lines[first:last])
    new = "".join(
        [
            *lines[first:first_line],
            *lines_of(final)[final_first:final_last],
            *lines[last_line:last],
        ]
    )
    cursor = 0
    for planned in plan_hunks(old, new, max_added):
        edit = replace(planned, start=planned.start + base, end=planned.end + base)
        if edit.pasted:
            await client.replace(hunk.path, edit.start, edit.end, edit.typed)
            text = text[: edit.start] + edit.typed + text[edit.end :]
            cursor = edit.start + len(edit.typed)
            continue
        await client.replace(hunk.path, edit.start, edit.end, "")
        text = text[: edit.start] + text[edit.end :]
        position = edit.start
        stop = edit.start + len(edit.typed)
        goal = text[: edit.start] + edit.typed + text[edit.start :]
        while position < stop:
            chunk = next_chunk(goal, position, stop)
            await client.replace(hunk.path, position, position, chunk)
            position += len(chunk)
        text = goal
        cursor = stop
    current[hunk.path] = text
    return cursor


async def _ask(
    client: NextEditClient,
    path: str,
    cursor: int,
    files: dict[str, tuple[str, str]],
    current: dict[str, str],
    tally: NextTally,
    rules: RuffRules | None,
) -> tuple[str, int] | None:
    """Ask for next edits at ``cursor`` of ``path``; accept the first if it is correct. Where
    the cursor is after an accepted one, or None."""
    started = time.perf_counter()
    proposals = await client.next_edits(path, cursor)
    tally.latency((time.perf_counter() - started) * 1000, current[path].count("\n") + 1)
    tally.requests += 1
    if not proposals:
        return None
    shown = proposals[0]
    tally.shown += 1
    counts = tally.by_source.setdefault(shown.source or "unknown", [0, 0])
    counts[0] += 1
    if shown.path is None or shown.path not in current:
        # Another file than the commit changes: the commit does not make this edit.
        await client.reject(shown)
        return None
    text = current[shown.path]
    _check(shown, text, tally, rules)
    ok, after = correct(shown, text, files[shown.path][1])
    if not ok:
        await client.reject(shown)
        return None
    tally.correct += 1
    counts[1] += 1
    await client.replace(shown.path, shown.start, shown.end, shown.new_text)
    await client.accept(shown)
    current[shown.path] = after
    return shown.path, shown.start + len(shown.new_text)


def _check(shown: Proposal, text: str, tally: NextTally, rules: RuffRules | None) -> None:
    """Count a shown item after which a file that compiled no longer does, or ruff reports
    a rule more often than before (checked apart from the engine's own checks)."""
    assert shown.path is not None
    after = text[: shown.start] + shown.new_text + text[shown.end :]
    if compiles(text) and not compiles(after):
        tally.broken_parse += 1
        tally.problems.append(f"breaks the parse: {shown.label} ({shown.path})")
    if rules is not None:
        before_rules, after_rules = rules(text, shown.path), rules(after, shown.path)
        more = after_rules - before_rules
        # Another use of a name the text already left undefined (a use typed before its
        # import) is counted apart: the one import the developer is about to write fixes both.
        known = [key for key in more if key.startswith("F821 ") and before_rules[key]]
        added = sorted(key for key in more.elements() if key not in known)
        if added:
            tally.new_ruff += 1
            tally.problems.append(f"adds {', '.join(added)}: {shown.label} ({shown.path})")
        elif known:
            tally.known_undefined += 1


# -- what a hunk is ------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]")
_NAME = re.compile(r"[A-Za-z_]\w*")
_COMMON = frozenset({*keyword.kwlist, "self", "cls", "t", "_"})
_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(")
Change = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


def _changes(hunk: Hunk, files: dict[str, tuple[str, str]]) -> Change:
    """A hunk's change as token runs: (removed tokens, added tokens) for each run that differs."""
    before, after = files[hunk.path]
    old = "".join(lines_of(before)[hunk.old_first : hunk.old_last])
    new = "".join(lines_of(after)[hunk.first : hunk.last])
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return tuple(
        (tuple(a[i1:i2]), tuple(b[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    )


def _names_set_aside(change: Change) -> Change:
    names: dict[str, str] = {}

    def rename(tokens: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(
            names.setdefault(token, f"${len(names)}")
            if _NAME.fullmatch(token) and token not in _COMMON
            else token
            for token in tokens
        )

    return tuple((rename(old), rename(new)) for old, new in change)


def _names(change: Change) -> set[str]:
    return {
        token
        for old, new in change
        for token in (*old, *new)
        if _NAME.fullmatch(token) and token not in _COMMON
    }


def _in_strings_or_comments(hunk: Hunk, files: dict[str, tuple[str, str]]) -> bool:
    """True when every non-blank line the hunk removes or adds lies in a string or a comment."""
    for side, (first, last) in ((0, (hunk.old_first, hunk.old_last)), (1, (hunk.first, hunk.last))):
        if first == last:
            continue
        text = files[hunk.path][side]
        lines = lines_of(text)
        source = Source(text)
        tree = parse(source, "python")
        if tree is None:
            return False
        for number in range(first, last):
            line = lines[number] if number < len(lines) else ""
            if not line.strip():
                continue
            column = len(line) - len(line.lstrip())
            byte = source.byte(sum(len(item) for item in lines[:number]) + column)
            node = tree.root_node.descendant_for_byte_range(byte, byte + 1)
            while node is not None and node.type not in ("string", "comment"):
                node = node.parent
            if node is None:
                return False
    return True


def hunk_kinds(hunks: Sequence[Hunk], files: dict[str, tuple[str, str]]) -> list[str]:
    """What each hunk of one commit is, as far as the commit itself says (the first that fits):
    ``repeat`` (its change, token by token, is an earlier hunk's), ``repeat_other_names`` (the
    same once identifiers are set aside), ``rename`` (only identifiers replaced, pairs an
    earlier hunk replaced), ``call_same_file`` / ``call_other_file`` (a call of a function
    whose ``def`` line an earlier hunk changed), ``docstring_or_comment``, ``import``,
    ``test_follow`` / ``other_file_follow`` / ``same_file_follow`` (it uses an identifier an
    earlier hunk changed: in a test file, another file, the same file), ``new_code`` (lines
    only added, linked to nothing before), ``other``."""
    changes = [_changes(hunk, files) for hunk in hunks]
    kinds: list[str] = []
    for index, (hunk, change) in enumerate(zip(hunks, changes, strict=True)):
        earlier = list(zip(hunks[:index], changes[:index], strict=True))
        kinds.append(_kind(hunk, change, earlier, files))
    return kinds


def _kind(
    hunk: Hunk,
    change: Change,
    earlier: list[tuple[Hunk, Change]],
    files: dict[str, tuple[str, str]],
) -> str:
    if change and any(change == other for _, other in earlier):
        return "repeat"
    if change and any(_names_set_aside(change) == _names_set_aside(other) for _, other in earlier):
        return "repeat_other_names"
    renamed = {
        (old[0], new[0])
        for _, other in earlier
        for old, new in other
        if len(old) == len(new) == 1 and _NAME.fullmatch(old[0]) and _NAME.fullmatch(new[0])
    }
    if change and all(
        len(old) == len(new) == 1 and (old[0], new[0]) in renamed for old, new in change
    ):
        return "rename"
    before, after = files[hunk.path]
    new_text = "".join(lines_of(after)[hunk.first : hunk.last])
    old_text = "".join(lines_of(before)[hunk.old_first : hunk.old_last])
    for other, _ in earlier:
        other_before, other_after = files[other.path]
        defined = set(_DEF.findall("".join(lines_of(other_after)[other.first : other.last]))) | set(
            _DEF.findall("".join(lines_of(other_before)[other.old_first : other.old_last]))
        )
        called = any(
            re.search(r"\b" + re.escape(name) + r"\(", new_text + old_text) for name in defined
        )
        if called and not _DEF.search(new_text + old_text):
            return "call_same_file" if other.path == hunk.path else "call_other_file"
    if _in_strings_or_comments(hunk, files):
        return "docstring_or_comment"
    if is_import(hunk, before, after):
        return "import"
    names = _names(change)
    for other, other_change in earlier:
        if names & _names(other_change):
            if other.path == hunk.path:
                return "same_file_follow"
            test = "test" in hunk.path.rsplit("/", 1)[-1] or "/tests/" in "/" + hunk.path
            return "test_follow" if test else "other_file_follow"
    if hunk.old_first == hunk.old_last:
        return "new_code"
    return "other"

"""Replay a repository's real commits and score the next edits proposed after each hunk.

Offline measure of the next-edit engine (``tactful.suggestion.next_edits``), in-process, the
way ``tactful bench edits --next`` will measure it through the server:

- every commit (first parent, Python files) is replayed from its parent: each changed file is
  opened as it was, and the commit's hunks (``git diff -U0``-sized: each run of changed lines
  between unchanged ones) are applied one at a time, in file order, top to bottom, each as one
  whole-hunk edit;
- after each hunk the engine is asked for next edits at the end of it; the editor shows the
  first ``--shown`` items. An item is *correct* when applying it makes every line it touches
  equal to the commit's final version and the remaining difference to that version shrinks.
  A correct item is accepted (applied) and the engine is asked again from there; the others
  are rejected (and not shown again in that commit). A hunk that accepted items complete
  before it is typed is not typed;
- precision = correct / shown; coverage = hunks completed by accepted next edits / hunks after
  each commit's first; broken = shown items after which a file that compiled no longer
  compiles, or ruff reports a rule more often in the whole file than before (checked here
  independently of the engine's own checks); latency = the engine's answer time per request.

Coverage is broken down by what each hunk after a commit's first is, as far as the commit
itself says (``hunk_kinds``; the first kind that fits):

- ``repeat``: its change, token by token, is the change of an earlier hunk of the commit;
- ``repeat_other_names``: the same once identifiers are set aside (named consistently);
- ``rename``: it only replaces identifiers by others, pairs an earlier hunk replaced;
- ``call_same_file`` / ``call_other_file``: it changes a call of a function whose ``def``
  line an earlier hunk changed (in its file or in another);
- ``docstring_or_comment``: every line it changes is in a string or a comment;
- ``import``: it changes import lines only;
- ``test_follow``: a test file's hunk using an identifier an earlier hunk of another file
  changed; ``other_file_follow`` / ``same_file_follow``: the same outside tests;
- ``new_code``: lines only added, linked to nothing before; ``other``: the rest.

``--pad-lines N`` appends other files of the repository to every replayed file until it has
N lines (the same text before and after, so the commit's hunks are unchanged): the latency of
large files, on the same edits.

    python benchmarks/next_edits.py REPO [--commits N] [--seed S] [--max-hunks 50]
        [--pad-lines 5000] [--threshold P] [--shown 1] [--format text|json]

REPO is a git repository, e.g. one rebuilt from ../shared/data/histories/ with
../shared/tools/history_rebuild.py. ruff reads the configuration of REPO's working tree.
"""

from __future__ import annotations

import argparse
import difflib
import json
import keyword
import random
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from tree_sitter import Tree

from tactful.analyzers import ruff
from tactful.analyzers.document import TextChange
from tactful.analyzers.text import Point
from tactful.suggestion.next_edits import (
    EditHistory,
    NextEdit,
    NextEditEngine,
    NextEditOptions,
    WorkspaceFiles,
)
from tactful.suggestion.next_edits.trees import Source, parse

MAX_CHAIN = 12


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        check=False,
    )
    return done.stdout


def blobs(repo: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """Texts of files at a commit, read with one ``git cat-file --batch``."""
    request = "".join(f"{commit}:{path}\n" for path in paths)
    done = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input=request.encode(),
        capture_output=True,
        check=False,
    )
    out = done.stdout
    texts: dict[str, str] = {}
    position = 0
    for path in paths:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        texts[path] = out[position : position + size].decode("utf-8", "surrogateescape")
        position += size + 1
    return texts


@dataclass(frozen=True)
class Hunk:
    path: str
    first: int  # final-side lines [first, last)
    last: int
    old_first: int = 0  # parent-side lines [old_first, old_last)
    old_last: int = 0


@dataclass
class Tally:
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
    latencies_ms: list[float] = field(default_factory=list)
    by_source: dict[str, list[int]] = field(default_factory=dict)
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # hunks after the first, covered

    def summary(self) -> dict[str, object]:
        latencies = sorted(self.latencies_ms)
        return {
            "commits": self.commits,
            "skipped_commits": self.skipped_commits,
            "hunks": self.hunks,
            "hunks_after_first": self.hunks_after_first,
            "covered": self.covered,
            "coverage": _ratio(self.covered, self.hunks_after_first),
            "requests": self.requests,
            "shown": self.shown,
            "correct": self.correct,
            "precision": _ratio(self.correct, self.shown),
            "broken_parse": self.broken_parse,
            "new_ruff_findings": self.new_ruff,
            "latency_ms": {
                "p50": _percentile(latencies, 0.5),
                "p95": _percentile(latencies, 0.95),
                "p99": _percentile(latencies, 0.99),
                "max": round(latencies[-1], 1) if latencies else None,
            },
            "by_source": {
                source: {"shown": shown, "correct": correct, "precision": _ratio(correct, shown)}
                for source, (shown, correct) in sorted(self.by_source.items())
            },
            "coverage_by_kind": {
                kind: {"hunks": hunks, "covered": covered, "coverage": _ratio(covered, hunks)}
                for kind, (hunks, covered) in sorted(
                    self.by_kind.items(), key=lambda item: -item[1][0]
                )
            },
        }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, round(share * (len(values) - 1)))], 1)


def lines_of(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def opcodes(current: str, final: str) -> list[tuple[str, int, int, int, int]]:
    """The line differences between two texts (``git diff -U0``'s hunks), as difflib's
    opcodes; the lines both share at the start and the end are set aside first."""
    a, b = lines_of(current), lines_of(final)
    head = 0
    while head < len(a) and head < len(b) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < len(a) - head and tail < len(b) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    matcher = difflib.SequenceMatcher(
        None, a[head : len(a) - tail], b[head : len(b) - tail], autojunk=False
    )
    return [
        (tag, i1 + head, i2 + head, j1 + head, j2 + head)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def distance(current: str, final: str) -> int:
    return sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in opcodes(current, final))


def touches(op: tuple[str, int, int, int, int], hunk: Hunk) -> bool:
    _, i1, i2, j1, j2 = op
    if hunk.first == hunk.last:  # a deletion: the op must delete at that place
        return j1 <= hunk.first <= j2 and i2 > i1
    if j1 == j2:
        return hunk.first < j1 < hunk.last
    return j1 < hunk.last and j2 > hunk.first


def done(hunk: Hunk, current: str, final: str) -> bool:
    return not any(touches(op, hunk) for op in opcodes(current, final))


def correct(item: NextEdit, text: str, final: str) -> tuple[bool, str]:
    """Whether an item is correct, and the text after it."""
    source = Source(text)
    start = source.lines.offset(item.span.start, text)
    end = source.lines.offset(item.span.end, text)
    if text[start:end] != item.old_text:
        return False, text
    after = text[:start] + item.new_text + text[end:]
    if distance(after, final) >= distance(text, final):
        return False, after
    first = item.span.start.line
    last = first + item.new_text.count("\n")
    different: set[int] = set()
    for _tag, i1, i2, _j1, _j2 in opcodes(after, final):
        different.update(range(i1, i2))
    count = len(lines_of(after))
    touched = [line for line in range(first, last + 1) if line < count]
    return not any(line in different for line in touched), after


# -- what a hunk is ------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]")
_NAME = re.compile(r"[A-Za-z_]\w*")
_COMMON = frozenset({*keyword.kwlist, "self", "cls", "t", "_"})


def _changes(
    hunk: Hunk, files: dict[str, tuple[str, str]]
) -> tuple[tuple[tuple[str, ...], ...], ...]:
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


def _names_set_aside(change: tuple) -> tuple:
    names: dict[str, str] = {}

    def rename(tokens: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(
            names.setdefault(token, f"${len(names)}")
            if _NAME.fullmatch(token) and token not in _COMMON
            else token
            for token in tokens
        )

    return tuple((rename(old), rename(new)) for old, new in change)


def _names(change: tuple) -> set[str]:
    return {
        token
        for old, new in change
        for token in (*old, *new)
        if _NAME.fullmatch(token) and token not in _COMMON
    }


_TREES: dict[int, tuple[str, Source, Tree | None]] = {}


def _parsed(text: str) -> tuple[Source, Tree | None]:
    """A text's ``Source`` and tree, kept while the same text is asked about again."""
    known = _TREES.get(id(text))
    if known is not None and known[0] is text:
        return known[1], known[2]
    if len(_TREES) > 16:
        _TREES.clear()
    source = Source(text)
    tree = parse(source, "python")
    _TREES[id(text)] = (text, source, tree)
    return source, tree


def _in_strings_or_comments(hunk: Hunk, files: dict[str, tuple[str, str]]) -> bool:
    """True when every non-blank line the hunk removes or adds lies in a string or a comment."""
    for side, (first, last) in ((0, (hunk.old_first, hunk.old_last)), (1, (hunk.first, hunk.last))):
        text = files[hunk.path][side]
        lines = lines_of(text)
        if first == last:
            continue
        source, tree = _parsed(text)
        if tree is None:
            return False
        for number in range(first, last):
            line = lines[number] if number < len(lines) else ""
            if not line.strip():
                continue
            column = len(line) - len(line.lstrip())
            point = source.lines.offset(Point(number, column), text)
            byte = source.byte(point)
            node = tree.root_node.descendant_for_byte_range(byte, byte + 1)
            while node is not None and node.type not in ("string", "comment"):
                node = node.parent
            if node is None:
                return False
    return True


_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(")


def hunk_kinds(hunks: list[Hunk], files: dict[str, tuple[str, str]]) -> list[str]:
    """What each hunk of one commit is, in the words of the module's docstring."""
    changes = [_changes(hunk, files) for hunk in hunks]
    kinds: list[str] = []
    for index, (hunk, change) in enumerate(zip(hunks, changes, strict=True)):
        earlier = list(zip(hunks[:index], changes[:index], strict=True))
        kinds.append(_kind(hunk, change, earlier, files))
    return kinds


def _kind(
    hunk: Hunk, change: tuple, earlier: list[tuple[Hunk, tuple]], files: dict[str, tuple[str, str]]
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
    changed_lines = [line.strip() for line in (old_text + new_text).splitlines() if line.strip()]
    if changed_lines and all(line.startswith(("import ", "from ")) for line in changed_lines):
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


def compiles(text: str) -> bool:
    try:
        compile(text, "<replay>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


class Replay:
    def __init__(self, repo: Path, args: argparse.Namespace) -> None:
        self.repo = repo
        self.args = args
        self.tally = Tally()
        self.ruff_cache: dict[str, Counter[str]] = {}
        self.padding: list[str] = []
        self.dump = open(args.dump, "a", encoding="utf-8") if args.dump else None  # noqa: SIM115
        self.hunk_log = (
            open(args.hunk_log, "a", encoding="utf-8") if args.hunk_log else None  # noqa: SIM115
        )

    def run(self, commits: list[str]) -> Tally:
        for number, commit in enumerate(commits):
            self.commit(commit)
            if self.args.verbose and number % 20 == 0:
                print(
                    f"{number}/{len(commits)} {json.dumps(self.tally.summary())}", file=sys.stderr
                )
        return self.tally

    def _padding(self, paths: dict[str, str], exclude: set[str]) -> str:
        if not self.args.pad_lines:
            return ""
        pieces: list[str] = []
        count = 0
        for path in sorted(paths):
            if path in exclude:
                continue
            pieces.append(paths[path])
            count += paths[path].count("\n")
            if count >= self.args.pad_lines:
                break
        return "\n\n" + "\n".join(pieces)

    def commit(self, commit: str) -> None:
        parent = commit + "^"
        changed = []
        for line in git(self.repo, "diff", "--name-status", "-M", parent, commit).splitlines():
            parts = line.split("\t")
            if not parts or not parts[-1].endswith(".py") or parts[0].startswith("D"):
                continue
            old = parts[1] if parts[0].startswith("R") else parts[-1]
            changed.append((old, parts[-1]))
        if not changed:
            return
        all_paths = [
            p
            for p in git(self.repo, "ls-tree", "-r", "--name-only", parent).split("\n")
            if p.endswith(".py")
        ]
        parent_texts = blobs(self.repo, parent, all_paths)
        final_texts = blobs(self.repo, commit, [new for _, new in changed])
        pad_limit = self.args.pad_lines
        files: dict[str, tuple[str, str]] = {}
        for old, new in changed:
            before = parent_texts.get(old, "")
            after = final_texts.get(new)
            if after is None:
                continue
            if pad_limit:
                padding = self._padding(parent_texts, {old, new})
                missing = pad_limit - before.count("\n")
                if missing > 0 and padding:
                    extra = "".join(lines_of(padding)[: missing + 1])
                    before, after = _pad(before, extra), _pad(after, extra)
            files[new] = (before, after)
        hunks: list[Hunk] = []
        for path, (before, after) in files.items():
            for _tag, i1, i2, j1, j2 in opcodes(before, after):
                hunks.append(Hunk(path, j1, j2, i1, i2))
        if not hunks:
            return
        if len(hunks) > self.args.max_hunks:
            self.tally.skipped_commits += 1
            return
        self.tally.commits += 1
        self.tally.hunks += len(hunks)
        self.tally.hunks_after_first += len(hunks) - 1
        opened = {path for path, _ in files.items()}
        workspace_texts = {p: t for p, t in parent_texts.items() if p not in opened}

        def listed() -> list[tuple[str, str]]:
            return list(workspace_texts.items())

        history = EditHistory()
        workspace = WorkspaceFiles(self.repo, files=listed)
        options = NextEditOptions()
        if self.args.shown > options.limit:
            options = replace(options, limit=self.args.shown)
        if self.args.threshold is not None:
            options = replace(options, threshold=self.args.threshold)
        engine = NextEditEngine(history, workspace, root=self.repo, options=options)
        current: dict[str, str] = {}
        uris: dict[str, str] = {}
        for path, (before, _after) in files.items():
            uri = (self.repo / path).as_uri()
            uris[uri] = path
            history.open(uri, before, "python", str(self.repo / path))
            current[path] = before
        pending = list(hunks)
        rejected: set[tuple] = set()
        covered: set[Hunk] = set()
        for index, hunk in enumerate(pending):
            final = files[hunk.path][1]
            if done(hunk, current[hunk.path], final):
                continue
            cursor = self._type(history, hunk, current, final)
            uri = (self.repo / hunk.path).as_uri()
            for _ in range(MAX_CHAIN):
                accepted = self._request(engine, uri, cursor, files, current, uris, rejected)
                if accepted is None:
                    break
                uri, cursor = accepted
                for later in pending[index + 1 :]:
                    if later not in covered and done(
                        later, current[later.path], files[later.path][1]
                    ):
                        covered.add(later)
        self.tally.covered += len(covered)
        kinds = hunk_kinds(hunks, files)
        for hunk, kind in list(zip(hunks, kinds, strict=True))[1:]:
            counts = self.tally.by_kind.setdefault(kind, [0, 0])
            counts[0] += 1
            counts[1] += hunk in covered
        if self.hunk_log is not None:
            for index, hunk in enumerate(hunks):
                before, after = files[hunk.path]
                self.hunk_log.write(
                    json.dumps(
                        {
                            "commit": commit[:10],
                            "path": hunk.path,
                            "index": index,
                            "lines": [hunk.first, hunk.last],
                            "old": "".join(lines_of(before)[hunk.old_first : hunk.old_last])[:2000],
                            "new": "".join(lines_of(after)[hunk.first : hunk.last])[:2000],
                            "covered": hunk in covered,
                            "kind": kinds[index] if index else "first",
                        }
                    )
                    + "\n"
                )

    def _type(self, history: EditHistory, hunk: Hunk, current: dict[str, str], final: str) -> Point:
        text = current[hunk.path]
        ops = [op for op in opcodes(text, final) if touches(op, hunk)]
        first_line = min(op[1] for op in ops)
        last_line = max(op[2] for op in ops)
        final_first = min(op[3] for op in ops)
        final_last = max(op[4] for op in ops)
        lines = lines_of(text)
        start = sum(len(line) for line in lines[:first_line])
        end = start + sum(len(line) for line in lines[first_line:last_line])
        new = "".join(lines_of(final)[final_first:final_last])
        source = Source(text)
        change = TextChange(new, source.point(start), source.point(end))
        history.change((self.repo / hunk.path).as_uri(), [change])
        current[hunk.path] = text[:start] + new + text[end:]
        return Source(current[hunk.path]).point(start + len(new))

    def _request(
        self,
        engine: NextEditEngine,
        uri: str,
        cursor: Point,
        files: dict[str, tuple[str, str]],
        current: dict[str, str],
        uris: dict[str, str],
        rejected: set[tuple],
    ) -> tuple[str, Point] | None:
        if self.dump is not None:
            self._dump(engine, uri, cursor, files, current, uris, rejected)
        started = time.perf_counter()
        items = engine.suggest(uri, cursor, exclude=rejected)
        self.tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        if self.args.oracle:
            # The proposers' ceiling: the first correct candidate, whatever its score and rank.
            items = []
            for candidate in engine.propose(uri, cursor, exclude=rejected)[:50]:
                path = uris.get(candidate.uri)
                if path is not None and correct(candidate, current[path], files[path][1])[0]:
                    items = [candidate]
                    break
        self.tally.requests += 1
        for item in items[: self.args.shown]:
            self.tally.shown += 1
            counts = self.tally.by_source.setdefault(item.source, [0, 0])
            counts[0] += 1
            path = uris.get(item.uri)
            if self.args.check_broken:
                self._broken(item, path, current)
            if path is None:
                engine.dismiss(item)
                if self.args.verbose > 1:
                    print(f"  WRONG(other file) {item.label} {item.uri}", file=sys.stderr)
                continue
            ok, after = correct(item, current[path], files[path][1])
            if not ok:
                engine.dismiss(item)
                if self.args.verbose > 1:
                    where = f"{path}:{item.span.start.line + 1}"
                    print(
                        f"  WRONG {item.source} {item.label} {item.score} {where} "
                        f"{item.old_text!r}->{item.new_text!r}",
                        file=sys.stderr,
                    )
                continue
            if self.args.verbose > 1:
                where = f"{path}:{item.span.start.line + 1}"
                print(f"  RIGHT {item.source} {item.label} {item.score} {where}", file=sys.stderr)
            self.tally.correct += 1
            counts[1] += 1
            source = Source(current[path])
            engine.history.change(
                item.uri, [TextChange(item.new_text, item.span.start, item.span.end)]
            )
            current[path] = after
            start = source.lines.offset(item.span.start, source.text)
            return item.uri, Source(after).point(start + len(item.new_text))
        return None

    def _dump(
        self,
        engine: NextEditEngine,
        uri: str,
        cursor: Point,
        files: dict[str, tuple[str, str]],
        current: dict[str, str],
        uris: dict[str, str],
        rejected: set[tuple],
    ) -> None:
        """Every candidate (unchecked, before the threshold) with whether it was correct."""
        assert self.dump is not None
        for rank, item in enumerate(engine.propose(uri, cursor, exclude=rejected)[:15]):
            path = uris.get(item.uri)
            ok = path is not None and correct(item, current[path], files[path][1])[0]
            row = {
                "rank": rank,
                "source": item.source,
                "score": item.score,
                "label": item.label,
                "correct": ok,
                "distance": abs(item.span.start.line - cursor.line) if item.uri == uri else -1,
                **{f"f_{feature.name}": feature.value for feature in item.evidence},
            }
            self.dump.write(json.dumps(row) + "\n")

    def _broken(self, item: NextEdit, path: str | None, current: dict[str, str]) -> None:
        if path is None:
            return
        text = current[path]
        source = Source(text)
        start = source.lines.offset(item.span.start, text)
        end = source.lines.offset(item.span.end, text)
        after = text[:start] + item.new_text + text[end:]
        if compiles(text) and not compiles(after):
            self.tally.broken_parse += 1
            print(f"BROKEN PARSE {item.label} {path}:{item.span.start.line + 1}", file=sys.stderr)
        before_rules = self._rules(text, path)
        after_rules = self._rules(after, path)
        if any(after_rules[rule] > before_rules[rule] for rule in after_rules):
            self.tally.new_ruff += 1
            where = f"{path}:{item.span.start.line + 1}"
            print(
                f"NEW RUFF FINDING {item.label} {where} {after_rules - before_rules}",
                file=sys.stderr,
            )

    def _rules(self, text: str, path: str) -> Counter[str]:
        key = str(hash(text))
        if key not in self.ruff_cache:
            findings = ruff.check_text(text, self.repo / path, self.repo)
            self.ruff_cache[key] = Counter(f.rule for f in findings)
            if len(self.ruff_cache) > 64:
                self.ruff_cache.pop(next(iter(self.ruff_cache)))
        return self.ruff_cache[key]


def _pad(text: str, extra: str) -> str:
    return text + ("" if text.endswith("\n") or not text else "\n") + extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--commits", type=int, default=0, help="sample this many (0: all)")
    parser.add_argument("--only", action="append", default=[], help="replay these commits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-hunks", type=int, default=50, help="skip larger commits")
    parser.add_argument("--pad-lines", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--shown", type=int, default=1)
    parser.add_argument("--no-check-broken", dest="check_broken", action="store_false")
    parser.add_argument("--oracle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help="append every candidate and its correctness (JSON lines)")
    parser.add_argument("--hunk-log", help="append every hunk and whether it was covered")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    commits = git(repo, "rev-list", "--first-parent", "--reverse", "HEAD").split()[1:]
    if args.only:
        commits = [c for c in commits if any(c.startswith(o) for o in args.only)]
    elif args.commits and args.commits < len(commits):
        commits = sorted(random.Random(args.seed).sample(commits, args.commits), key=commits.index)
    started = time.monotonic()
    tally = Replay(repo, args).run(commits)
    summary = {"repo": str(repo), **tally.summary(), "seconds": round(time.monotonic() - started)}
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Checked before shown: a next edit is kept only if its place still holds the text it was
computed for, the file still parses as well as before, and ruff finds nothing new.

Boundary: tree-sitter and ruff (``analyzers/ruff.py``, which runs the real ruff on text through
stdin). Blocking: call it off the event loop. It never raises; a check that cannot run (no ruff
installed) does not fail the edit, and says so in the result.

Cost, designed for 5,000-line files: the parse check first parses the module-level statements
the edit touches on their own (``_region_parses``); when they parse without error in a file that
had none, the file is not re-parsed. Otherwise it re-parses incrementally from the document's
tree (not cheap after an edit that changes the structure: 35-66 ms for click's 148 kB core.py at
load 7-9) and counts errors only down the paths that hold them (tree-sitter marks ``has_error``
on every ancestor of an error). ruff runs on the current text (cached by content) and on the
text with each candidate applied alone, for at most ``ruff_runs`` candidates (the others are not
shown). A caller that needs only the first few that pass (``needed``) gets them without a run
for the others: the texts go to ruff in waves, the current text's and the first ``needed``
candidates' first, then only as many more as have failed, best first; a candidate after enough
passed is never run. The texts of a wave go to the project's ``ruff server``, kept running
(``RuffSession``): a process start of ruff costs more than checking an outline of a few thousand
lines. A finding is new when the text before had none of its rule on the same line (lines moved
by the edit followed), anywhere in the file: an edit that leaves a name undefined three lines
further down is caught too. An undefined name (F821) the text before already had, and that
nothing in the file defines, is not new: a use written before its import, repeated by a next
edit, waits for the same import.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node, Tree

from tactful.analyzers import ruff
from tactful.analyzers.findings import Finding
from tactful.analyzers.text import LineIndex
from tactful.suggestion.next_edits import python as py
from tactful.suggestion.next_edits.outline import Outliner
from tactful.suggestion.next_edits.trees import Source, edited, parse
from tactful.suggestion.next_edits.types import NextEdit

logger = logging.getLogger(__name__)

RUFF_RUNS = 3

PASSED = "passed"
STALE = "stale"  # the text at the place changed since the edit was proposed
BROKEN = "breaks the parse"
RUFF = "ruff finds something new"
UNCHECKED = "not checked"  # more candidates than ruff runs allowed
NOT_NEEDED = "not needed"  # enough candidates before it passed: never run


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checks said of one next edit: ``reason`` is ``PASSED`` when it may be shown,
    else why not (with the new ruff findings' codes, when that is why)."""

    edit: NextEdit
    reason: str
    rules: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.reason == PASSED


@dataclass(frozen=True, slots=True)
class CheckedDocument:
    """The document a group of next edits belongs to, as it is now."""

    text: str
    language_id: str
    path: str | None = None
    tree: Tree | None = None
    lines: LineIndex | None = None


class Checker:
    """Runs the checks, remembering ruff's findings on texts it has seen (a few at a time)."""

    def __init__(
        self,
        root: str | Path | None = None,
        ruff_runs: int = RUFF_RUNS,
        *,
        ruff_server: bool = True,
    ) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self.ruff_runs = ruff_runs
        # Texts of a file under the root go to one ``ruff server`` kept running (a session,
        # ``analyzers/ruff.py``) rather than to a process each; the others, or when the
        # session cannot answer, to ``ruff check`` per text.
        self.ruff_server = ruff_server
        self._lock = threading.Lock()
        self._findings: OrderedDict[str, list[Finding]] = OrderedDict()
        self._outliner = Outliner()

    def check(
        self,
        document: CheckedDocument,
        edits: Sequence[NextEdit],
        *,
        use_ruff: bool = True,
        needed: int | None = None,
    ) -> list[Verdict]:
        """A verdict for each edit (all of them edits of ``document``), in their order.

        ``needed``: only the first ``needed`` edits that pass matter; ruff is not run for the
        edits after them (their verdict is ``NOT_NEEDED``). The verdicts given otherwise are
        the same as without it: each text ruff reads is the same.
        """
        source = Source(document.text, lines=document.lines)
        tree = document.tree or parse(source, document.language_id)
        verdicts: dict[int, Verdict] = {}
        parsed: list[tuple[int, NextEdit, int, int]] = []
        errors_before = count_errors(tree.root_node) if tree is not None else 0
        for index, edit in enumerate(edits):
            start = source.lines.offset(edit.span.start, source.text)
            end = source.lines.offset(edit.span.end, source.text)
            if source.text[start:end] != edit.old_text or end < start:
                verdicts[index] = Verdict(edit, STALE)
                continue
            if tree is not None and not _region_parses(
                tree, source, start, end, edit.new_text, document.language_id
            ):
                _after, new_tree = edited(
                    tree, source, start, end, edit.new_text, document.language_id
                )
                if new_tree is None or count_errors(new_tree.root_node) > errors_before:
                    verdicts[index] = Verdict(edit, BROKEN)
                    continue
            parsed.append((index, edit, start, end))
        if parsed and use_ruff and document.language_id == "python":
            verdicts.update(self._ruff(document, source, tree, parsed, needed))
        for index, edit, _start, _end in parsed:
            verdicts.setdefault(index, Verdict(edit, PASSED))
        return [verdicts[index] for index in range(len(edits))]

    def _ruff(
        self,
        document: CheckedDocument,
        source: Source,
        tree: Tree | None,
        candidates: list[tuple[int, NextEdit, int, int]],
        needed: int | None = None,
    ) -> dict[int, Verdict]:
        verdicts: dict[int, Verdict] = {}
        chosen = candidates[: self.ruff_runs]
        for index, edit, _start, _end in candidates[self.ruff_runs :]:
            verdicts[index] = Verdict(edit, UNCHECKED)
        # ruff reads the outline of each text: the functions no candidate touches folded to
        # the module's names they use (``outline.py``), the same folds in every text.
        folded = self._outliner.outline(
            source.text,
            source.data,
            tree,
            [_lines_of(source.text, start, end) for _, _, start, end in chosen],
            [edit.new_text for _, edit, _, _ in chosen],
        )
        texts = [folded.edited(start, end, edit.new_text) for _, edit, start, end in chosen]
        # Each candidate is checked alone, as the editor applies them one at a time; the texts
        # of a wave go to ruff together (``_findings_all``). The folds depend on every chosen
        # candidate, not on the wave, so each text is the one it would be if all ran at once.
        want = len(chosen) if needed is None else max(1, needed)
        passed = 0
        at = 0
        before: list[Finding] | None = None
        while at < len(chosen) and passed < want:
            wave = range(at, min(len(chosen), at + want - passed))
            jobs = [texts[i] for i in wave]
            if before is None:
                jobs.insert(0, folded.text)
            findings = self._findings_all(jobs, document.path)
            if before is None:
                before = findings.pop(0)
            for i, after in zip(wave, findings, strict=True):
                index, edit, start, end = chosen[i]
                new = _new_findings(source.text, before, after, [(index, edit, start, end)])
                new = [f for f in new if not _undefined_before(f, before, source, tree)]
                if new:
                    verdicts[index] = Verdict(edit, RUFF, tuple(sorted({f.rule for f in new})))
                else:
                    passed += 1
            at = wave.stop
        for index, edit, _start, _end in chosen[at:]:
            verdicts[index] = Verdict(edit, NOT_NEEDED)
        return verdicts

    def _findings_all(self, texts: Sequence[str], path: str | None) -> list[list[Finding]]:
        """ruff's findings on each text (as the content of ``path``): those seen lately from
        memory, the others in one exchange with the project's ruff session, or side by side
        with a ``ruff check`` each when there is no session."""
        keys = [_key(text) for text in texts]
        found: dict[str, list[Finding]] = {}
        with self._lock:
            for key in keys:
                if key in self._findings:
                    self._findings.move_to_end(key)
                    found[key] = self._findings[key]
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            root, target = self._where(path)
            asked = [texts[keys.index(key)] for key in missing]
            answers = ruff.session(root).check_texts(asked, target) if self.ruff_server else None
            if answers is None:
                answers = list(_pool().map(lambda text: ruff.check_text(text, target, root), asked))
            with self._lock:
                for key, findings in zip(missing, answers, strict=True):
                    found[key] = self._findings[key] = findings
                while len(self._findings) > 8:
                    self._findings.popitem(last=False)
        return [found[key] for key in keys]

    def _where(self, path: str | None) -> tuple[Path, Path]:
        root = self.root or (Path(path).resolve().parent if path else Path.cwd())
        return root, Path(path) if path else root / "untitled.py"


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tactful-next-ruff")
        return _POOL


def undefined_name(finding: Finding) -> str | None:
    """The name an F821 finding ("Undefined name `x`") says is undefined, else None."""
    if finding.rule != "F821":
        return None
    start = finding.message.find("`")
    end = finding.message.find("`", start + 1)
    return finding.message[start + 1 : end] if 0 <= start < end else None


def _undefined_before(
    finding: Finding, before: Sequence[Finding], source: Source, tree: Tree | None
) -> bool:
    """True for a name left undefined that the text before already used undefined and that
    nothing in the file defines (no import, assignment, ``def`` or parameter of it): the
    developer wrote a use before its import or definition, and the next edit repeating that
    use does not make the file worse (the one import or definition fixes both). A name bound
    somewhere in the file (a parameter of other functions) is not excused: a use of it where
    it is not bound stays wrong after any import."""
    name = undefined_name(finding)
    return (
        name is not None
        and tree is not None
        and any(undefined_name(f) == name for f in before)
        and py.undefined(tree.root_node, source, name)
    )


def _region_parses(
    tree: Tree, source: Source, start: int, end: int, new_text: str, language_id: str
) -> bool:
    """True when the module-level statements that ``[start, end)`` lies in, with the edit
    applied, parse on their own without an ERROR or MISSING node.

    Then the file has no error the text before did not have (the other statements are read
    as before), and the re-parse of the whole file is spared: tree-sitter's incremental
    re-parse of a Python file is not cheap after an edit that changes its structure (core.py
    of click, 148 kB, at load 7-9: 35-66 ms after adding a bracket, a comment or a line,
    against 70-95 ms from scratch; 0.1-0.3 ms after changing a name's letters). False when
    it cannot say (not Python, a file that already had an error, an edit between statements,
    an error in the region): the whole file is re-parsed then.
    """
    root = tree.root_node
    if language_id != "python" or root.has_error:
        return False
    start_byte, end_byte = source.byte(start), source.byte(end)
    first = _statement_at(root, start_byte)
    last = _statement_at(root, max(start_byte, end_byte - 1)) if end_byte > start_byte else first
    if first is None or last is None or first.start_point[1] != 0:
        return False
    region_start, region_end = first.start_byte, last.end_byte
    if not (region_start <= start_byte and end_byte <= region_end):
        return False
    data = source.data
    text = (
        data[region_start:start_byte]
        + new_text.encode("utf-8", "surrogatepass")
        + data[end_byte:region_end]
    )
    alone = parse(Source(text.decode("utf-8", "surrogatepass"), text), language_id)
    return alone is not None and not alone.root_node.has_error


def _statement_at(root: Node, byte: int) -> Node | None:
    """The module-level statement holding ``byte`` (None between statements)."""
    node = root.descendant_for_byte_range(byte, byte)
    while node is not None and node.parent is not None and node.parent != root:
        node = node.parent
    if node is None or node == root or not (node.start_byte <= byte < node.end_byte):
        return None
    return node


def count_errors(node: Node) -> int:
    """ERROR and MISSING nodes under ``node``, visiting only the subtrees that hold some."""
    if not node.has_error:
        return 0
    total = 0
    stack = [node]
    while stack:
        current = stack.pop()
        if current.is_missing:
            total += 1
            continue
        if current.type == "ERROR":
            total += 1
        stack.extend(child for child in current.children if child.has_error)
    return total


def _lines_of(text: str, start: int, end: int) -> tuple[int, int]:
    """The first and last line of ``text[start:end]``."""
    first = text.count("\n", 0, start)
    return first, first + text.count("\n", start, end)


def _apply(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    for start, end, new_text in sorted(edits, reverse=True):
        text = text[:start] + new_text + text[end:]
    return text


def _new_findings(
    before_text: str,
    before: list[Finding],
    after: list[Finding],
    edits: Sequence[tuple[int, NextEdit, int, int]],
) -> list[Finding]:
    """Findings on the edited text that the text before did not have: matched by rule (and
    an undefined name by its name) and by line, lines moved by the edits followed; a finding
    inside an edited region matches one of the same rule in that region before."""
    regions = []  # (first old line, last old line, first new line, last new line)
    shift = 0
    for _, edit, start, end in sorted(edits, key=lambda item: item[2]):
        first_old = before_text.count("\n", 0, start)
        last_old = first_old + before_text.count("\n", start, end)
        added = edit.new_text.count("\n")
        regions.append((first_old, last_old, first_old + shift, first_old + shift + added))
        shift += added - (last_old - first_old)

    def where(line: int) -> tuple[str, int]:
        moved = 0
        for first_old, last_old, first_new, last_new in regions:
            if line < first_new:
                break
            if line <= last_new:
                return ("region", first_old)
            moved = last_new - last_old
        return ("line", line - moved)

    def where_before(line: int) -> tuple[str, int]:
        for first_old, last_old, _first_new, _last_new in regions:
            if first_old <= line <= last_old:
                return ("region", first_old)
        return ("line", line)

    # An undefined name is matched by its name too: a folded body's line names several, and
    # one left undefined by the edit is not the one the edit defined (``outline.py``).
    known = Counter((f.rule, *where_before(f.span.start.line), undefined_name(f)) for f in before)
    new: list[Finding] = []
    for finding in after:
        key = (finding.rule, *where(finding.span.start.line), undefined_name(finding))
        if known[key] > 0:
            known[key] -= 1
        else:
            new.append(finding)
    return new

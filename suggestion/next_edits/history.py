"""The recent edits of a workspace's open documents, fed from the changes an editor sends.

Boundary: plain Python over text and tree-sitter trees; the server feeds it the ``didChange``
changes it receives (as ``TextChange``s, code-point positions) and the proposers read it. It
never raises on odd input: a change outside the text is clamped as ``Document`` clamps it, an
unknown document is ignored.

Keystrokes at one place are coalesced: a change that touches the region being edited extends
it, a change elsewhere closes it. A closed region becomes a ``RecordedEdit`` trimmed to what
really changed (typing a word and deleting it leaves nothing). Nothing here parses on the
editor's thread: changes only edit the tree, which is re-parsed when a proposer asks for it.

Bounded: at most ``max_edits`` edits per document and ``max_documents`` documents (the least
recently changed one is forgotten first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from tree_sitter import Tree

from tactful.analyzers.document import Document
from tactful.analyzers.text import LineIndex, Point, TextChange
from tactful.suggestion.next_edits.types import RecordedEdit

MAX_EDITS = 16
MAX_DOCUMENTS = 64


@dataclass(frozen=True, slots=True)
class DocumentState:
    """A followed document at one moment."""

    uri: str
    path: str | None
    language_id: str
    text: str
    lines: LineIndex
    tree: Tree | None


@dataclass(slots=True)
class _Region:
    """Edits in progress at one place: the text before them (and its tree, when the document
    was parsed at that moment) and where they are now."""

    before: str
    start: int  # offsets in the current text
    end: int
    sequence: int
    before_tree: Tree | None = None


class _Tracked:
    def __init__(self, document: Document, max_edits: int) -> None:
        self.document = document
        self.closed: deque[RecordedEdit] = deque(maxlen=max_edits)
        self.region: _Region | None = None
        # The trees of the closed edits' texts before them, where known (by sequence).
        self.before_trees: dict[int, tuple[str, Tree]] = {}
        # Changes received and not yet applied to ``document`` (``EditHistory.change``).
        self.pending: _Pending | None = None


@dataclass(slots=True)
class _Pending:
    """Changes held for a document, to be applied to its text as one: the first one's range
    (code-point offsets in the document's text) replaced by the pieces, each later one an
    insertion at the end of the pieces before it (``at``, a point in the text they make).

    Applied as one, they leave what each applied as it came would: the same text, line index
    and tree edits (a tree is re-parsed only when read) and the same version (``version``,
    as each change would have set it). The edit regions follow each change as it comes
    (``EditHistory._follow``, which reads the text only when a change starts a region, and
    then nothing is held). Nothing is read in between: every reader applies them first.
    """

    start: int
    end: int
    pieces: list[str]
    at: Point
    version: int
    written: int = 0  # code points in the pieces

    def __post_init__(self) -> None:
        self.written = sum(len(piece) for piece in self.pieces)

    @property
    def end_offset(self) -> int:
        """Where the pieces end, as an offset in the text they make."""
        return self.start + self.written

    def continued_by(self, change: TextChange, region: _Region | None) -> bool:
        """True for an insertion at the end of the pieces, inside the edit region (which it
        then extends: it reads no text)."""
        return (
            change.start is not None
            and change.start == change.end == self.at
            and region is not None
            and region.start <= self.end_offset <= region.end
        )

    def add(self, text: str, version: int | None) -> None:
        self.pieces.append(text)
        self.written += len(text)
        self.at = _after(self.at, text)
        self.version = self.version + 1 if version is None else version


def _after(point: Point, text: str) -> Point:
    """Where ``text`` inserted at ``point`` ends."""
    newlines = text.count("\n")
    if not newlines:
        return Point(point.line, point.column + len(text))
    return Point(point.line + newlines, len(text) - text.rfind("\n") - 1)


class EditHistory:
    """The recent edits of the documents an editor has open, oldest first."""

    def __init__(self, max_edits: int = MAX_EDITS, max_documents: int = MAX_DOCUMENTS) -> None:
        self.max_edits = max_edits
        self.max_documents = max_documents
        self._lock = threading.RLock()
        self._documents: OrderedDict[str, _Tracked] = OrderedDict()
        self._sequence = 0

    # -- feeding -----------------------------------------------------------------------------

    def open(
        self,
        uri: str,
        text: str,
        language_id: str | None = None,
        path: str | None = None,
        version: int = 0,
    ) -> None:
        """Start following a document (opening it again starts afresh)."""
        with self._lock:
            self._documents.pop(uri, None)
            self._documents[uri] = _Tracked(
                Document(uri, text, version, language_id, path), self.max_edits
            )
            while len(self._documents) > self.max_documents:
                self._documents.popitem(last=False)

    def close(self, uri: str) -> None:
        with self._lock:
            self._documents.pop(uri, None)

    def change(self, uri: str, changes: Iterable[TextChange], version: int | None = None) -> None:
        """Apply an editor's changes, in order, as ``didChange`` sends them.

        Typing goes on where the last change ended (an insertion at the end of what it wrote):
        such changes are held and applied as one when the document is next read, so a burst
        of keystrokes costs one copy of a long text, not one each. What is read is the same
        as if each had been applied as it came (see ``_Pending``)."""
        with self._lock:
            tracked = self._documents.get(uri)
            if tracked is None:
                return
            self._documents.move_to_end(uri)
            document = tracked.document
            for change in changes:
                pending = tracked.pending
                if pending is not None and pending.continued_by(change, tracked.region):
                    self._follow(tracked, pending.end_offset, pending.end_offset, len(change.text))
                    pending.add(change.text, version)
                    continue
                self._apply_pending(tracked)
                ranged = _ranged(document, change)
                if ranged is None:
                    continue
                start, end, new_text = ranged
                self._follow(tracked, start, end, len(new_text))
                tracked.pending = _Pending(
                    start,
                    end,
                    [new_text],
                    _after(document.lines.point(start), new_text),
                    document.version + 1 if version is None else version,
                )

    def _apply_pending(self, tracked: _Tracked) -> None:
        """Apply what ``change`` held for a document, as one change."""
        pending = tracked.pending
        if pending is None:
            return
        tracked.pending = None
        document = tracked.document
        lines = document.lines
        change = TextChange(
            "".join(pending.pieces), lines.point(pending.start), lines.point(pending.end)
        )
        document.apply([change], pending.version)

    def _current(self, uri: str) -> _Tracked | None:
        """A followed document with every change applied (call under the lock)."""
        tracked = self._documents.get(uri)
        if tracked is not None:
            self._apply_pending(tracked)
        return tracked

    def _follow(self, tracked: _Tracked, start: int, end: int, inserted: int) -> None:
        region = tracked.region
        delta = inserted - (end - start)
        if region is not None and start <= region.end and end >= region.start:
            region.start = min(region.start, start)
            region.end = max(region.end, end) + delta
            return
        if region is not None:
            self._close(tracked)
        self._sequence += 1
        document = tracked.document
        # The tree of the text before the edit, if a reader had it parsed: the edit's trees
        # then need no re-parse of the text before it (never parsed here, on the editor's
        # thread).
        tracked.region = _Region(
            document.text, start, start + inserted, self._sequence, document.tree_if_parsed()
        )

    def _close(self, tracked: _Tracked) -> None:
        region = tracked.region
        recorded = _record(tracked, region)
        tracked.region = None
        if recorded is not None and region is not None:
            tracked.closed.append(recorded)
            if region.before_tree is not None:
                tracked.before_trees[region.sequence] = (region.before, region.before_tree)
            kept = {edit.sequence for edit in tracked.closed}
            for sequence in [s for s in tracked.before_trees if s not in kept]:
                del tracked.before_trees[sequence]

    # -- reading -----------------------------------------------------------------------------

    def text(self, uri: str) -> str | None:
        with self._lock:
            tracked = self._current(uri)
            return tracked.document.text if tracked is not None else None

    def tree(self, uri: str) -> Tree | None:
        """The current tree of a document (re-parsed incrementally now if edits are pending)."""
        with self._lock:
            tracked = self._current(uri)
            if tracked is None:
                return None
            tree = tracked.document.tree
            return tree.copy() if tree is not None else None

    def snapshot(self, uri: str) -> DocumentState | None:
        """The document as it is now: text, line index and tree (copies, safe to keep while
        the document changes on)."""
        with self._lock:
            tracked = self._current(uri)
            if tracked is None:
                return None
            document = tracked.document
            lines = document.lines.copy()
            tree = document.tree
            return DocumentState(
                uri,
                document.path,
                document.language_id,
                document.text,
                lines,
                tree.copy() if tree is not None else None,
            )

    def before_tree(self, edit: RecordedEdit) -> Tree | None:
        """The tree of ``edit.before`` if it was parsed when the edit began (a copy), else
        None."""
        with self._lock:
            tracked = self._current(edit.uri)
            if tracked is None:
                return None
            region = tracked.region
            if region is not None and region.sequence == edit.sequence:
                known = (region.before, region.before_tree) if region.before_tree else None
            else:
                known = tracked.before_trees.get(edit.sequence)
            if known is None or known[0] is not edit.before:
                return None
            return known[1].copy()

    def language_id(self, uri: str) -> str | None:
        with self._lock:
            tracked = self._documents.get(uri)
            return tracked.document.language_id if tracked is not None else None

    def path(self, uri: str) -> str | None:
        with self._lock:
            tracked = self._documents.get(uri)
            return tracked.document.path if tracked is not None else None

    def uris(self) -> list[str]:
        """The documents followed, the most recently changed last."""
        with self._lock:
            return list(self._documents)

    def edits(self, uri: str | None = None) -> list[RecordedEdit]:
        """The recent edits of one document (or of all), oldest first; the edit in progress
        is the last one of its document."""
        with self._lock:
            found: list[RecordedEdit] = []
            for key, tracked in self._documents.items():
                if uri is not None and key != uri:
                    continue
                self._apply_pending(tracked)
                found.extend(tracked.closed)
                current = _record(tracked, tracked.region)
                if current is not None:
                    found.append(current)
            found.sort(key=lambda edit: edit.sequence)
            return found


def _ranged(document: Document, change: TextChange) -> tuple[int, int, str] | None:
    """A change as code-point offsets into the document's text; a whole-text replacement is
    narrowed to the part that differs, so that it reads as the edit it is."""
    text = document.text
    if change.start is None or change.end is None:
        start, old_end, new_end = changed_range(text, change.text)
        if start == old_end == new_end:
            return None
        return start, old_end, change.text[start:new_end]
    first, last = sorted((change.start, change.end))
    return document.lines.offset(first, text), document.lines.offset(last, text), change.text


def changed_range(before: str, after: str) -> tuple[int, int, int]:
    """``(start, old_end, new_end)``: ``before[start:old_end]`` became ``after[start:new_end]``,
    the texts agreeing outside (the shortest such range, found by comparing slices)."""
    limit = min(len(before), len(after))
    low, high = 0, limit
    # The longest common prefix by bisection: each step compares two slices at C speed.
    while low < high:
        middle = (low + high + 1) // 2
        if before[:middle] == after[:middle]:
            low = middle
        else:
            high = middle - 1
    prefix = low
    low, high = 0, limit - prefix
    while low < high:
        middle = (low + high + 1) // 2
        if before[len(before) - middle :] == after[len(after) - middle :]:
            low = middle
        else:
            high = middle - 1
    suffix = low
    return prefix, len(before) - suffix, len(after) - suffix


def _record(tracked: _Tracked, region: _Region | None) -> RecordedEdit | None:
    if region is None:
        return None
    document = tracked.document
    after = document.text
    before = region.before
    old_region_end = region.end - (len(after) - len(before))
    if old_region_end < region.start:
        return None
    old = before[region.start : old_region_end]
    new = after[region.start : region.end]
    if old == new:
        return None
    start, old_end, new_end = changed_range(old, new)
    return RecordedEdit(
        uri=document.uri,
        path=document.path,
        language_id=document.language_id,
        sequence=region.sequence,
        before=before,
        after=after,
        start=region.start + start,
        old_end=region.start + old_end,
        new_end=region.start + new_end,
    )

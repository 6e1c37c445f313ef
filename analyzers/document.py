"""An open document: its text, version and tree-sitter tree, re-parsed incrementally on edits.

Boundary: knows text and trees, nothing of the protocol. Edits arrive in code-point points (the
server converts from the client's units); the tree is edited with byte offsets and re-parsed
from the old tree, never from scratch. Broken code is normal input: the tree then holds ERROR
nodes and nothing raises.

Parsing is lazy: an edit updates the text and edits the old tree at once (microseconds),
and the parse runs when someone next asks for the tree, so a burst of keystrokes costs one
incremental parse, not one per keystroke. A document made with ``parse=False`` waits for its
first reader for the first parse too: the server opens documents on the event loop, where a
5,000-line file's parse takes tens of milliseconds (more on a busy machine) that the messages
after it would wait for, while the readers of the tree ask for it on worker threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from tree_sitter import Point as TSPoint
from tree_sitter import Tree

from tactful.analyzers.languages import (
    PARSE_BUDGET_S,
    new_parser,
    normalize_language_id,
    parse_within,
)
from tactful.analyzers.text import DocumentEdit, LineIndex, TextChange

logger = logging.getLogger(__name__)

# Edits that insert more than this since the last parse (a big paste) are parsed from scratch,
# where the parse has a time budget, rather than incrementally.
REPARSE_INSERTED_BYTES = 64 * 1024
# Above this size a document is kept as text only: tree-sitter would cope, but the features
# built on the tree are meant for source files, not generated blobs.
MAX_PARSED_BYTES = 8 * 1024 * 1024
# Edits a snapshot carries: enough for a reader that lags a burst of keystrokes behind.
EDITS_KEPT = 64
# A document whose parse was given up is parsed again after later edits, once this long has
# passed since the try given up; each try given up again doubles the wait, up to
# RETRY_MAX_S. A try costs up to the parse budget of CPU time, so it is not made per keystroke,
# and the text that was too long to parse (a paste, a machine busy for a moment) may be gone.
RETRY_AFTER_S = 2.0
RETRY_MAX_S = 60.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable view of a document at one version, safe to hand to another thread.

    ``tree`` is the syntax tree of ``text``. A snapshot taken with ``parse=False`` has none of
    its own: its tree is parsed when first asked for, and only while the document is still at
    the snapshot's version (None after that: the snapshot is stale). A long file's parse costs
    milliseconds, and a completion needs the tree only to check some suggestions."""

    uri: str
    path: str | None
    language_id: str
    version: int
    text: str
    parsed: Tree | None
    # The latest edits, oldest first, up to this version: a reader that saw an earlier version
    # follows them instead of reading the whole text again.
    edits: tuple[DocumentEdit, ...] = ()
    document: Document | None = field(default=None, repr=False, compare=False)

    @property
    def tree(self) -> Tree | None:
        if self.parsed is not None or self.document is None:
            return self.parsed
        return self.document.tree_at(self.version)

    def line(self, number: int) -> str:
        lines = self.text.split("\n")
        return lines[number] if 0 <= number < len(lines) else ""


class Document:
    """A document as the editor has it now."""

    def __init__(
        self,
        uri: str,
        text: str,
        version: int,
        language_id: str | None,
        path: str | None = None,
        *,
        parse_budget_s: float = PARSE_BUDGET_S,
        retry_after_s: float = RETRY_AFTER_S,
        parse: bool = True,
    ) -> None:
        """``parse``: whether the text is parsed now, or when its tree is first asked for."""
        self.uri = uri
        self.path = path
        self.language_id = normalize_language_id(language_id, path)
        self.version = version
        self.text = text
        self.lines = LineIndex(text)
        self._parser = new_parser(self.language_id)
        self._lock = threading.RLock()
        self._tree: Tree | None = None
        self._stale = False
        self.edits: deque[DocumentEdit] = deque(maxlen=EDITS_KEPT)
        # A parse gave up (over its time budget): the text is read without a tree until a
        # parse tried again after later edits succeeds (see RETRY_AFTER_S).
        self.unparsable = False
        self.parse_budget_s = parse_budget_s
        self._retry_after_s = retry_after_s
        self._retry_wait_s = retry_after_s
        self._given_up_at = 0.0
        self._edited_since_given_up = False
        self._inserted = 0
        if parse:
            self._parse(None)
        else:
            # Parsed when first asked for (from scratch: there is no tree to start from).
            self._stale = self._parser is not None

    @property
    def tree(self) -> Tree | None:
        """The syntax tree of the current text (parsed now if edits are pending)."""
        with self._lock:
            if self._stale:
                self._parse(self._tree if self._inserted <= REPARSE_INSERTED_BYTES else None)
            elif self._edited_since_given_up and self._retry_due():
                self._retry()
            return self._tree

    def tree_if_parsed(self) -> Tree | None:
        """A copy of the tree of the current text if it is parsed already, else None (never
        parses: for a caller that must not wait for a parse but can use a tree it gets)."""
        with self._lock:
            if self._stale or self._tree is None:
                return None
            return self._tree.copy()

    @property
    def parsed(self) -> bool:
        return self.tree is not None

    def snapshot(self, parse: bool = True) -> Snapshot:
        """The document now; with ``parse=False`` its tree is parsed only if asked for."""
        with self._lock:
            tree = self.tree if parse else None
            return Snapshot(
                self.uri,
                self.path,
                self.language_id,
                self.version,
                self.text,
                # Tree.copy() is cheap (reference counted) and keeps the snapshot's tree immune
                # to later edits of ours.
                tree.copy() if tree is not None else None,
                tuple(self.edits),
                None if parse else self,
            )

    def tree_at(self, version: int) -> Tree | None:
        """A copy of the tree of the text at ``version``, if the document is still there."""
        with self._lock:
            if version != self.version:
                return None
            tree = self.tree
            return tree.copy() if tree is not None else None

    def apply(self, changes: list[TextChange], version: int) -> None:
        """Apply the client's changes in order; the tree is re-parsed when next asked for."""
        with self._lock:
            self.edits.append(DocumentEdit(self.version, version, tuple(changes)))
            for change in changes:
                if change.start is None or change.end is None:
                    self.text = change.text
                    self.lines = LineIndex(change.text)
                    self._tree = None  # nothing of the old tree can be reused
                    self.unparsable = False
                    self._retry_wait_s = self._retry_after_s
                else:
                    self._apply_range(change)
            self.version = version
            self._stale = self._parser is not None and not self.unparsable
            self._edited_since_given_up = self.unparsable

    def _retry_due(self) -> bool:
        return time.monotonic() - self._given_up_at >= self._retry_wait_s

    def _retry(self) -> None:
        """Parse a document given up on again, from scratch; given up again, the next try
        waits twice as long."""
        self._edited_since_given_up = False
        self.unparsable = False
        self._parse(None)
        if self.unparsable:
            self._retry_wait_s = min(2 * self._retry_wait_s, RETRY_MAX_S)
        else:
            self._retry_wait_s = self._retry_after_s

    def _apply_range(self, change: TextChange) -> None:
        assert change.start is not None and change.end is not None
        text = self.text
        # One call finds both ends (a walk of the index's blocks each) and updates the index.
        done = self.lines.edit(change.start, change.end, change.text, text)
        self.text = text[: done.start] + change.text + text[done.end :]
        self._inserted += len(change.text)
        if self._tree is not None:
            start_point, end_point = sorted((change.start, change.end))
            self._tree.edit(
                start_byte=done.start_byte,
                old_end_byte=done.end_byte,
                new_end_byte=done.new_end_byte,
                start_point=TSPoint(start_point.line, done.start_column),
                old_end_point=TSPoint(end_point.line, done.old_end_column),
                new_end_point=TSPoint(done.new_end.line, done.new_end_column),
            )

    def _parse(self, old_tree: Tree | None) -> None:
        self._stale = False
        self._inserted = 0
        if self._parser is None or self.unparsable:
            self._tree = None
            return
        source = self.text.encode("utf-8", "surrogatepass")
        if len(source) > MAX_PARSED_BYTES:
            self._tree = None
            return
        self._tree = parse_within(self._parser, source, old_tree, self.parse_budget_s)
        if self._tree is None:
            self.unparsable = True
            self._given_up_at = time.monotonic()
            logger.info(
                "%s took more than %.1f s of CPU time to parse: read as text only for now",
                self.uri,
                self.parse_budget_s,
            )

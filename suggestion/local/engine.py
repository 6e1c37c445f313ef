"""The local completion engine: offline, in milliseconds, silent when unsure.

Boundary: takes a ``CompletionRequest`` and the repository index, returns ``Suggestion``s; no
protocol types, no network. It never raises on broken code: a request it cannot read is
answered with nothing.

What it knows, mixed by ``predict.next_tokens``:

* the open document itself, kept as an n-gram cache that follows every edit and weighs
  most (what was just written is what is written next), the code below the cursor included;
* the lines most recently deleted from it (``document.DeletedLines``): a line being rewritten
  most often resembles the one it replaces, which is no longer in the document;
* the workspace's token statistics from the repository index, test files' and the others'
  apart: the other kind's weigh less (test idioms are wrong in library code);
* the statistics of the workspace modules a Python document imports (``imported``), weighed
  again beside the workspace's: what a new file imports is what it is about to use. They are
  built in the background (``count_imports``), never by a request, which takes those the
  document had until they are ready;
* the shipped language-level statistics (``language``), which speak where the workspace and
  the document say little (the first lines of a new file);
* the shape of the line above (``shapes.parallel_line``: the same statement with other names);
* inside a token whose likely completions split the probability between them, the start they
  share (``predict.shared_prefix``), taken over the decoder's continuation when it saves more
  in expectation;
* for Python, the members jedi knows after a dot (``semantic.MemberNames``), computed off the
  request path so a slow inference never delays an answer;
* inside a one-line string (one token to the statistics, so only strings seen whole would be
  completed), the words of comments and docstrings: the string's words are read as prose.

With code after the cursor on its line, a suggestion must end where that code resumes, and
none is made inside the indentation or a word; no line break is offered while a bracket the
line opened is open.

A suggestion is made only when its estimated probability of being typed is at least
``threshold``, and it is cut where the expected keystrokes saved are highest, each token after
the first weighed down by its probability to the power ``doubt - 1`` (a greedy path's joint
probability is over-confident: a suggestion right up to a point and wrong after it saves
nothing, and tokens the statistics are sure of should cost nothing) and by ``length_decay``
(1.0, off, by default).
The threshold is looser than what a developer would want shown on its own: the acceptance
filter, which sees the engine's evidence and learns from this developer, decides what is shown
(in replays, 0.25 with the filter saved more keystrokes than 0.35, 0.4 or 0.5 with it, and the
filter's lift over the unfiltered engine was higher).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from tactful.analyzers.index import RepositoryIndex
from tactful.analyzers.paths import path_kind, workspace_relative
from tactful.analyzers.text import DocumentEdit, TextChange, apply_to_lines
from tactful.analyzers.tokens import (
    NORMAL,
    indentation,
    line_break,
    prose_tokens,
    tokenize_line,
)
from tactful.suggestion.keystrokes import keystrokes
from tactful.suggestion.local.document import (
    DELETED_LINES,
    DeletedLines,
    DocumentModel,
    differing_block,
)
from tactful.suggestion.local.imported import ImportedModules
from tactful.suggestion.local.language import language_counts
from tactful.suggestion.local.predict import (
    Continuation,
    Source,
    continue_tokens,
    shared_prefix,
)
from tactful.suggestion.local.semantic import MemberNames, common_completion
from tactful.suggestion.local.shapes import parallel_line
from tactful.suggestion.types import CompletionRequest, Suggestion

logger = logging.getLogger(__name__)

NAME = "local"
# A suggestion's origin: the statistics (jedi's names, asked where they are silent, count as
# theirs: the acceptance prior was trained that way), or the shape of the line above.
NGRAM = "ngram"
SHAPE = "shape"
ORDER = 5
# Lines of an opened document read into its cache at a time, between requests (a few
# milliseconds of work each on an idle machine).
READ_SLICE = 200
# How often the completion that all of jedi's matching names share was right in replays.
SEMANTIC_PROBABILITY = 0.6
# Characters an editor inserts on its own after the cursor (closing brackets and quotes): a
# suggestion may still be made before them.
_AUTO_CLOSED = frozenset(")]}\"'`;:, ")
_OPENING = frozenset(("(", "[", "{"))
_CLOSING = frozenset((")", "]", "}"))


@dataclass(frozen=True, slots=True)
class Tuning:
    """The engine's knobs; defaults were chosen on replays of real projects."""

    threshold: float = 0.25
    discount: float = 0.8
    # The open document's own statistics against the workspace's: in replays of real commits
    # (click, requests) 8 saved more keystrokes than 4 at the same acceptance, and 12 no more.
    document_weight: float = 8.0
    workspace_weight: float = 1.0
    # The lines recently deleted from the document (``DeletedLines``): a rewritten line most
    # often resembles the one it replaces.
    deleted_weight: float = 8.0
    # Inside a one-line string (a single token to the statistics, so only strings seen whole
    # are completed), complete its words as prose, from the words of comments and docstrings
    # (the rest of a word; in-process replays of 20 commits, seed 1: requests 21.0% -> 21.7%
    # saved, click 31.3% -> 31.7%, acceptance unchanged).
    string_words: bool = True
    # The weight of test files' statistics in library code (and the reverse), relative to
    # that of files of the document's own kind.
    other_kind_weight: float = 0.3
    # The shipped language-level statistics (``language.language_counts``): their weight,
    # and the most weighted counts they bring to any one context, so that a context the
    # document or the workspace has seen a few times is theirs.
    language_weight: float = 0.3
    language_cap: float = 2.0
    # The workspace modules the document imports (``imported``): their statistics weigh this
    # much, on top of the workspace's as a whole (0: not asked). In-process replays (12 files,
    # seed 1), the first 100 lines: click 29.25% -> 29.28% saved, requests 25.07% -> 25.12%;
    # 6 saved more on requests' (25.24%) and less on click's (28.97%, whole files 29.11%).
    imported_weight: float = 2.0
    max_tokens: int = 32
    # Where a suggestion stops: each token after the first weighs this much less
    # (``predict.continue_tokens``). A wrong suggestion is often right up to a token boundary;
    # 0.6 raised acceptance at the same keystrokes saved, but cuts sure tokens as much as
    # unsure ones (``"__main__"`` without its colon): ``doubt`` does better, and this is off.
    length_decay: float = 1.0
    # Where a suggestion stops: each token after the first weighs its probability to the
    # power ``doubt - 1`` more (``predict.continue_tokens``): sure tokens cost nothing, unsure
    # ones more than their probability. In-process replays of 20 commits (seed 1, strings'
    # words on), 1 -> 5: requests 21.7% -> 22.8% saved, 20.3% -> 27.4% acceptance unfiltered;
    # click 31.7% -> 32.6%, 26.2% -> 34.4% (3: 22.6%; 8: 22.8% and 29.2% on requests).
    doubt: float = 5.0
    # Inside a token whose likely completions split the probability, suggest the start they
    # share (``predict.shared_prefix``).
    shared_prefix: bool = True
    # Ask jedi for member names after a dot (Python).
    semantic: bool = True
    # Open documents whose caches are kept (least recently used are dropped).
    documents: int = 16


class LocalEngine:
    """Suggests the rest of the token, the line or a few lines from what the workspace says.

    A ``BlockingEngine``: its work is CPU-bound, so the server runs ``suggest``, ``forget``,
    ``reading``, ``read_more``, ``count_imports`` and ``files_changed`` in the engine's own
    worker thread, one at a time (the document caches need no lock): an opened document is
    read, and the modules it imports counted, a slice per job, so a request waits for one
    slice at most, never for the whole document or module."""

    name = NAME

    def __init__(self, index: RepositoryIndex | None = None, tuning: Tuning | None = None) -> None:
        self.index = index
        self.tuning = tuning or Tuning()
        self._documents: OrderedDict[str, _Tracked] = OrderedDict()
        self._members = MemberNames()
        self._imported = ImportedModules(ORDER)

    def close(self) -> None:
        """Stop the semantic worker process."""
        self._members.close()

    def forget(self, uri: str) -> None:
        """Drop the cache of a closed document."""
        self._documents.pop(uri, None)
        self._imported.forget(uri)

    def reading(self, opened: CompletionRequest) -> None:
        """A document opened (``opened``: its text and version): its cache starts empty and is
        filled a slice at a time by ``read_more``, between requests, which are answered from the
        lines read so far (nothing below them)."""
        if self.tuning.language_weight > 0:
            language_counts(opened.language_id)  # starts reading them in their own thread
        tracked = _Tracked(DocumentModel(opened.language_id, ORDER), opened)
        tracked.open(opened)
        self._keep(opened.uri, tracked)
        if self._imports_counted(opened.language_id) and self.index is not None:
            # Noted now, so that ``count_imports`` builds them before the first request.
            self._imported.counts(self.index, opened.uri, _relative(opened), tracked.lines)

    @property
    def counting_wanted(self) -> bool:
        """Whether ``count_imports`` has work: the statistics of modules that an open document
        imports are wanted and not built yet. Read from any thread."""
        return self._imported.wanted

    def count_imports(self, stop_early: Callable[[], bool] | None = None) -> bool:
        """Build a slice of the statistics of the modules an open document imports (a few
        milliseconds of work; less when ``stop_early``, asked between its steps, says a request
        is waiting); True while more is wanted. Requests never build them: they take them once
        built (``imported``)."""
        try:
            return self._imported.count_slice(stop_early=stop_early)
        except Exception:
            logger.exception("local engine failed to count imported modules")
            self._imported = ImportedModules(ORDER)
            return False

    def files_changed(self) -> None:
        """Files of the index changed (on disk, or a document closed): the statistics of the
        modules open documents import are built again where those changed."""
        if self.index is not None and self.tuning.imported_weight > 0:
            self._imported.files_changed(self.index)

    def _imports_counted(self, language_id: str) -> bool:
        return self.tuning.imported_weight > 0 and language_id == "python"

    def read_more(self, opened: CompletionRequest) -> bool:
        """Read the next ``READ_SLICE`` lines of the document ``reading`` was told of; False
        once it is read whole, or closed or opened again since (no more to do)."""
        tracked = self._documents.get(opened.uri)
        if tracked is None or tracked.opening is not opened:
            return False
        try:
            return tracked.read_slice(READ_SLICE)
        except Exception:
            logger.exception("local engine failed to read %s", opened.uri)
            self._documents.pop(opened.uri, None)
            return False

    def _keep(self, uri: str, tracked: _Tracked) -> None:
        self._documents[uri] = tracked
        self._documents.move_to_end(uri)
        while len(self._documents) > self.tuning.documents:
            self._documents.popitem(last=False)

    def suggest(
        self, request: CompletionRequest, deadline: float | None = None
    ) -> list[Suggestion]:
        """Suggestions for ``request``, best first (at most one today)."""
        try:
            return self._suggest(request, deadline)
        except Exception:
            logger.exception("local engine failed on %s", request.uri)
            return []

    def _suggest(self, request: CompletionRequest, deadline: float | None) -> list[Suggestion]:
        row, column = request.position.line, request.position.column
        tracked = self._document(request)
        lines = tracked.lines
        if row >= tracked.ready:
            return []  # not read yet (a document being read as it opened): no wait for it
        line = lines[row]
        prefix, after = line[:column], line[column:]
        document = tracked.model
        state = document.state_before(row)
        line_tokens, state_at_cursor = tokenize_line(prefix, request.language_id, state)
        resume = None
        if any(ch not in _AUTO_CLOSED for ch in after):
            # Code after the cursor: only what joins it fits, and nothing inside the
            # indentation or in the middle of a word.
            if not prefix.strip() or (_is_word(prefix[-1:]) and _is_word(after[:1])):
                return []
            following, _ = tokenize_line(after, request.language_id, state_at_cursor)
            if not following:
                return []
            resume = following[0]
        open_brackets = 0
        for token in line_tokens:
            bare = token.lstrip(" \t")
            if bare in _OPENING:
                open_brackets += 1
            elif bare in _CLOSING:
                open_brackets = max(0, open_brackets - 1)
        indent = indentation(prefix)
        context, partial = self._context(document, lines, row, prefix, line_tokens, indent)
        if len(partial) > 1 and not partial.strip():
            return []  # spaces to align something: no statistics about that
        sources = [Source(document.counts, self.tuning.document_weight)]
        if tracked.deleted and self.tuning.deleted_weight > 0:
            sources.append(Source(tracked.deleted.counts, self.tuning.deleted_weight))
        if self.index is not None:
            # Test files' statistics weigh less in library code, and library code's in tests.
            kind = path_kind(workspace_relative(request.path, request.workspace_root)) or "src"
            for counted in ("src", "test"):
                counts = self.index.counts(request.language_id, counted)
                if counts is not None:
                    weight = 1.0 if counted == kind else self.tuning.other_kind_weight
                    sources.append(Source(counts, weight * self.tuning.workspace_weight))
            if self._imports_counted(request.language_id):
                imported = self._imported.counts(self.index, request.uri, _relative(request), lines)
                if imported is not None:
                    sources.append(Source(imported, self.tuning.imported_weight))
        if self.tuning.language_weight > 0:
            general = language_counts(request.language_id)
            if general is not None:
                sources.append(
                    Source(general, self.tuning.language_weight, self.tuning.language_cap)
                )
        with self.index.lock if self.index is not None else nullcontext():
            found = continue_tokens(
                sources,
                context,
                partial,
                indent,
                threshold=self.tuning.threshold,
                max_lines=max(1, request.max_lines),
                max_tokens=self.tuning.max_tokens,
                discount=self.tuning.discount,
                resume=resume,
                open_brackets=open_brackets,
                length_decay=self.tuning.length_decay,
                doubt=self.tuning.doubt,
            )
            if self.tuning.shared_prefix and resume is None:
                shared = shared_prefix(
                    sources,
                    context,
                    partial,
                    threshold=self.tuning.threshold,
                    discount=self.tuning.discount,
                )
                if shared is not None and (
                    found is None
                    or shared.probability * (keystrokes(shared.text) - 1)
                    > found.probability * (keystrokes(found.text) - 1)
                ):
                    found = shared
        if (
            found is None
            and self.tuning.semantic
            and request.language_id == "python"
            and self._members.applies(line_tokens, partial)
        ):
            # Only when the statistics have nothing to say: jedi costs a process's CPU.
            names = self._members.names(request, deadline, lines)
            rest = common_completion(names, partial) if names else None
            if rest is not None:
                found = Continuation((partial + rest,), rest, SEMANTIC_PROBABILITY)
        if found is None and resume is None and self.tuning.string_words:
            found = self._in_string(sources, context, partial, indent)
        previous = document.previous_nonblank(row)
        shaped = None
        if (
            resume is None
            and previous is not None
            and state == NORMAL
            and document.state_before(previous) == NORMAL
        ):
            shaped = parallel_line(lines, row, prefix, request.language_id)
        candidates: list[Suggestion] = []
        if found is not None and keystrokes(found.text) >= 2:
            kind = "lines" if "\n" in found.text else "line"
            if len(found.tokens) == 1:
                kind = "token"
            candidates.append(
                Suggestion(
                    found.text,
                    NAME,
                    found.probability,
                    kind=kind,
                    origin=NGRAM,
                    evidence=(found.first, found.margin, found.least, found.depth, found.support),
                    prose=state_at_cursor != NORMAL,
                )
            )
        if (
            shaped is not None
            and not candidates
            and keystrokes(shaped[0]) >= 2
            and shaped[1] >= self.tuning.threshold
        ):
            # Only where the statistics are silent: where they speak they were right more
            # often than the line above in replays.
            candidates.insert(0, Suggestion(shaped[0], NAME, shaped[1], kind="line", origin=SHAPE))
        return candidates[:1]

    def _in_string(
        self, sources: Sequence[Source], context: list[str], partial: str, indent: str
    ) -> Continuation | None:
        """The rest of the words of the one-line string being typed (``partial``, an unclosed
        string token), read as prose; never past the string's end nor over a line break."""
        opened = _STRING_START.match(partial)
        if opened is None:
            return None
        quote = opened.group(1)
        content = partial[opened.end() :]
        if not content or content.endswith(quote) or "\\" in content:
            return None
        words = prose_tokens(content)
        if not words:
            return None
        if not _is_word(content[-1:]) or not _is_word(words[-1].lstrip(" \t")[:1]):
            # Only the rest of a word: the next words after a space saved nothing more in
            # replays of real commits.
            return None
        before, typed = words[:-1], words[-1]
        found = continue_tokens(
            sources,
            [*context, *before],
            typed,
            indent,
            threshold=self.tuning.threshold,
            max_lines=1,
            max_tokens=self.tuning.max_tokens,
            discount=self.tuning.discount,
            open_brackets=1,  # no line break inside a one-line string
            length_decay=self.tuning.length_decay,
            doubt=self.tuning.doubt,
        )
        if found is None:
            return None
        text = found.text
        for stop in (quote, "\\", "\n"):
            if stop in text:
                text = text[: text.index(stop)]
        if keystrokes(text) < 2:
            return None
        return dataclasses.replace(found, text=text)

    def _document(self, request: CompletionRequest) -> _Tracked:
        """The engine's copy of the request's document at its version, with the cursor's line
        left out of the counts (its unfinished token would otherwise count as a word)."""
        tracked = self._documents.get(request.uri)
        if tracked is None or tracked.model.language_id != request.language_id:
            tracked = _Tracked(DocumentModel(request.language_id, ORDER))
        self._keep(request.uri, tracked)
        tracked.follow(request)
        return tracked

    @staticmethod
    def _context(
        document: DocumentModel,
        lines: Sequence[str],
        row: int,
        prefix: str,
        line_tokens: list[str],
        indent: str,
    ) -> tuple[list[str], str]:
        """The tokens before the cursor (across lines) and the unfinished token at it."""
        context = document.tokens_before(row, ORDER + 1)
        previous = document.previous_nonblank(row)
        if previous is not None:
            blank = row - previous - 1
            context.append(line_break(indentation(lines[previous]), indent, blank))
        if not line_tokens:
            return context, ""
        if prefix[-1:].isspace() and not line_tokens[-1][-1:].isspace():
            # Spaces after the last token (tokens carry the spaces before them, so only a
            # token that takes them in ends with one: a string or comment still open).
            trailing = prefix[len(prefix.rstrip(" \t")) :]
            return context + line_tokens, trailing
        return context + line_tokens[:-1], line_tokens[-1]


def _relative(request: CompletionRequest) -> str:
    """The request's document as a path in the workspace, with ``/``."""
    return Path(workspace_relative(request.path, request.workspace_root)).as_posix()


_STRING_START = re.compile(r"[ \t]*[rRbBuUfF]{0,2}([\"'])")


def _is_word(text: str) -> bool:
    return bool(text) and (text.isalnum() or text == "_")


class _Tracked:
    """An open document as the engine follows it: its lines (``lines``, the text as the editor
    has it at ``version``) and its n-gram model, which holds the first ``ready`` of them (all,
    once read) except the one the cursor was on at the last request (``blank``), left empty.

    ``follow`` brings both to a request's version through the request's edits, each costing the
    lines it touches (an edit below ``ready`` costs nothing but the lines' text); only a reader
    that fell too far behind (or a first request) reads the whole text. ``read_slice`` reads
    the next lines of a document opened (``open``) into the model: a slice costs its lines,
    whatever the document's length."""

    __slots__ = ("blank", "deleted", "lines", "model", "opening", "ready", "version")

    def __init__(self, model: DocumentModel, opening: CompletionRequest | None = None) -> None:
        self.model = model
        self.deleted = DeletedLines(model.language_id, model.order)
        self.opening = opening
        self.lines: list[str] = []
        self.ready = 0
        self.version: int | None = None
        self.blank: int | None = None

    def open(self, request: CompletionRequest) -> None:
        """Take the opened document's text, none of it read into the model yet."""
        self.lines = request.text.split("\n")
        self.version = request.version
        self.ready = 0

    def read_slice(self, size: int) -> bool:
        """Read the next ``size`` lines into the model; True while lines remain unread."""
        start = self.ready
        end = min(len(self.lines), start + max(1, size))
        if end > start:
            self.model.replace(start, start, self.lines[start:end])
            self.ready = end
        return self.ready < len(self.lines)

    def follow(self, request: CompletionRequest) -> None:
        if self.version != request.version:
            chain = self._chain(request)
            if chain is None:
                self._read(request.text)
            else:
                for edit in chain:
                    for change in edit.changes:
                        self._apply(change)
            self.version = request.version
        row = request.position.line
        if row != self.blank and row < self.ready:
            model = self.model
            if self.blank is not None and self.blank < self.ready:
                model.replace(self.blank, self.blank + 1, [self.lines[self.blank]])
            model.replace(row, row + 1, [""])
            self.blank = row

    def _chain(self, request: CompletionRequest) -> list[DocumentEdit] | None:
        """The request's edits that follow this copy's version, if they reach it unbroken."""
        if self.version is None:
            return None
        chain: list[DocumentEdit] = []
        version = self.version
        for edit in request.edits:
            if edit.version <= version:
                continue
            if edit.previous != version:
                return None
            chain.append(edit)
            version = edit.version
        return chain if version == request.version else None

    def _read(self, text: str) -> None:
        """The whole text anew: the model is brought to it by the block that differs (the
        lines read so far, for a document still being read)."""
        whole = self.ready >= len(self.lines)
        new = text.split("\n")
        self._note_deleted(self.lines, new)
        self.lines = new
        self.blank = None
        self.ready = len(self.lines) if whole else min(self.ready, len(self.lines))
        self.model.update(self.lines[: self.ready])

    def _note_deleted(self, old: list[str], new: list[str]) -> None:
        """Keep the lines of ``old`` that ``new`` no longer has, in the block that differs
        (a line only typed on, a prefix of a new line, was not deleted)."""
        if not old:
            return
        start, old_end, new_end = differing_block(old, new)
        block = new[start:new_end]
        gone = [
            line
            for line in old[max(start, old_end - DELETED_LINES) : old_end]
            if not any(kept.startswith(line) for kept in block)
        ]
        if gone:
            self.deleted.add(gone)

    def _apply(self, change: TextChange) -> None:
        if change.start is None or change.end is None:
            self._read(change.text)
            return
        blank = self.blank
        lines = self.lines
        if change.start != change.end:
            since, until = sorted((change.start, change.end))
            if until.line > since.line or until.column - since.column > 1:
                # Text selected and deleted (not a character undone): its whole lines (a
                # range ending at a line's start leaves that line as it was).
                last = (
                    until.line - 1 if until.column == 0 and until.line > since.line else until.line
                )
                self.deleted.add(lines[max(0, since.line) : last + 1])
        if (
            blank is not None
            and change.start.line == change.end.line == blank
            and "\n" not in change.text
        ):
            # A keystroke on the line left out of the model: the model does not change.
            apply_to_lines(lines, change)
            return
        ready = self.ready
        reading = ready < len(lines)
        start, old_end, new_end = apply_to_lines(lines, change)
        if reading and start >= ready:
            return  # below what the model holds yet: read when its slice comes
        # Lines up to ``ready`` are the model's; an edit reaching past them takes the lines it
        # made into the model with it.
        held_end = min(old_end, ready)
        self.ready = ready + new_end - old_end if old_end <= ready else new_end
        if blank is not None:
            if start <= blank < held_end:
                self.blank = None  # the model's copy of that line is replaced with the text
            elif blank >= held_end:
                self.blank = blank + new_end - old_end
        self.model.replace(start, held_end, lines[start:new_end])

"""Which text around the cursor a model sees, under a token budget, with secrets redacted.

Boundary: takes a ``CompletionRequest`` and a ``SnippetIndex`` and returns a ``PromptContext``;
every piece of text it returns has been through ``tactful.analyzers.secrets.redact``. It never
sends anything and never raises on unusual text.

Budget split (tokens are estimated at ``CHARS_PER_TOKEN`` characters): the code just before the
cursor gets most of it, then the code after the cursor (fill-in-the-middle only), the imports and
the headers of the enclosing scopes that fell outside the prefix, and retrieved snippets.

The prefix starts on a line that moves in steps of ``ANCHOR_LINES`` as the cursor moves down, and
the snippets chosen for an anchor are kept while it stays: consecutive prompts then share their
beginning, so a server that caches the prompt's prefix (llama.cpp's ``cache_prompt``) only reads
the new lines.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from tactful.analyzers.secrets import redact, redact_around
from tactful.suggestion.llm.prompts import PromptContext, Snippet
from tactful.suggestion.llm.retrieval import SnippetIndex
from tactful.suggestion.types import CompletionRequest

CHARS_PER_TOKEN = 3.5
ANCHOR_LINES = 16

_IMPORT = re.compile(
    r"^(?:import\s|from\s+\S+\s+import\s|use\s|package\s|#include\s|using\s|require\(|const\s+\w+\s*=\s*require\()"
)
_SCOPE = re.compile(
    r"^\s*(?:async\s+def|def|class|fn|pub\s+fn|pub\(crate\)\s+fn|impl|func|function|async\s+function"
    r"|export\s+(?:default\s+)?(?:async\s+)?(?:function|class)|interface|struct|enum|trait|mod"
    r"|(?:public|private|protected|static|final|abstract|\s)+[\w<>\[\], ]+\s+\w+\s*\()"
)


@dataclass(frozen=True, slots=True)
class Budget:
    """Tokens for the whole context and the share of each part."""

    tokens: int = 1024
    suffix_share: float = 0.15
    header_share: float = 0.10
    snippet_share: float = 0.20

    def chars(self, share: float = 1.0) -> int:
        return int(self.tokens * share * CHARS_PER_TOKEN)


def scope_headers(lines: list[str], line: int) -> list[int]:
    """Line numbers of the headers of the scopes that enclose ``line`` (outermost first).

    Indentation decides: walking up, each line less indented than everything below it that
    looks like a definition is an enclosing header. Works for any language that is indented
    conventionally, without parsing.
    """
    found: list[int] = []
    current = _indent_of_nearest(lines, line)
    for number in range(min(line, len(lines)) - 1, -1, -1):
        text = lines[number]
        if not text.strip():
            continue
        indent = len(text) - len(text.lstrip())
        if indent < current:
            if _SCOPE.match(text):
                found.append(number)
            current = indent
            if indent == 0:
                break
    return found[::-1]


def _indent_of_nearest(lines: list[str], line: int) -> int:
    for number in range(min(line, len(lines) - 1), -1, -1):
        text = lines[number]
        if text.strip():
            return len(text) - len(text.lstrip())
    return 0


def import_lines(lines: list[str], before: int) -> list[int]:
    """Line numbers of top-level import statements above ``before``."""
    return [n for n in range(min(before, len(lines))) if _IMPORT.match(lines[n])]


class ContextBuilder:
    """Builds prompt contexts for one workspace, remembering the snippets chosen per anchor."""

    def __init__(self, index: SnippetIndex, budget: Budget | None = None) -> None:
        self.index = index
        self.budget = budget or Budget()
        self._snippets: OrderedDict[tuple[str, int], tuple[Snippet, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def build(
        self, request: CompletionRequest, *, with_suffix: bool, ahead_chars: int = 0
    ) -> PromptContext:
        """The context for ``request``; ``ahead_chars`` > 0 builds it as it will start once that
        much more has been typed (to warm a server's prompt cache before the anchor moves)."""
        lines = request.text.split("\n")
        line = min(request.position.line, len(lines) - 1)
        column = min(request.position.column, len(lines[line]))
        budget = self.budget

        prefix_chars = budget.chars(1.0 - budget.header_share - budget.snippet_share)
        if with_suffix:
            prefix_chars -= budget.chars(budget.suffix_share)
        start = _anchor_start(lines, line, prefix_chars - column - ahead_chars)
        prefix = "\n".join([*lines[start:line], lines[line][:column]])
        if len(prefix) > prefix_chars:
            # One very long line: keep its end.
            prefix = prefix[-prefix_chars:]

        suffix = ""
        if with_suffix:
            after = "\n".join([lines[line][column:], *lines[line + 1 :]])
            suffix = _cut_at_line(after, budget.chars(budget.suffix_share))

        header = self._header(lines, start, budget.chars(budget.header_share))
        snippets = self._snippets_for(
            request, lines, start, line, budget.chars(budget.snippet_share)
        )
        # Redacted as one text: a secret the cursor splits in two is still found whole.
        prefix, suffix = redact_around(prefix, suffix)
        return PromptContext(
            path=_display_path(request),
            language=request.language_id,
            prefix=prefix,
            suffix=suffix,
            header=redact(header),
            snippets=snippets,
        )

    def _header(self, lines: list[str], start: int, limit: int) -> str:
        if start == 0:
            return ""
        chosen = list(import_lines(lines, start))
        chosen += [n for n in scope_headers(lines, start) if n < start]
        text = ""
        for number in sorted(set(chosen)):
            candidate = lines[number] + "\n"
            if len(text) + len(candidate) > limit:
                break
            text += candidate
        return text

    def _snippets_for(
        self, request: CompletionRequest, lines: list[str], start: int, line: int, limit: int
    ) -> tuple[Snippet, ...]:
        if limit <= 0:
            return ()
        key = (request.uri, start)
        with self._lock:
            if key in self._snippets:
                self._snippets.move_to_end(key)
                return self._snippets[key]
        query = "\n".join(lines[max(0, line - self.index.window_lines) : line + 1])
        matches = self.index.search(query, path=request.path, cursor_line=line)
        if matches is None:
            return ()  # The index is still being read: no snippets this time, none remembered.
        chosen: list[Snippet] = []
        used = 0
        for match in matches:
            text = redact(match.text)
            if used + len(text) > limit:
                text = _cut_at_line(text, limit - used)
            if not text.strip():
                break
            chosen.append(Snippet(match.path, text))
            used += len(text)
        result = tuple(chosen)
        with self._lock:
            self._snippets[key] = result
            while len(self._snippets) > 64:
                self._snippets.popitem(last=False)
        return result


def _anchor_start(lines: list[str], line: int, limit: int) -> int:
    """First line of the prefix: the earliest line that fits, rounded up to an anchor line."""
    used = 0
    start = line
    while start > 0 and used + len(lines[start - 1]) + 1 <= limit:
        start -= 1
        used += len(lines[start]) + 1
    if start == 0:
        return 0
    anchored = -(-start // ANCHOR_LINES) * ANCHOR_LINES
    return min(anchored, line)


def _cut_at_line(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    newline = cut.rfind("\n")
    return cut[: newline + 1] if newline > 0 else cut


def _display_path(request: CompletionRequest) -> str:
    if request.path is None:
        return ""
    if request.workspace_root:
        try:
            return (
                Path(request.path)
                .resolve()
                .relative_to(Path(request.workspace_root).resolve())
                .as_posix()
            )
        except (ValueError, OSError):
            pass
    return request.path.replace("\\", "/").rsplit("/", 1)[-1]

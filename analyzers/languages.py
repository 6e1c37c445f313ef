"""The languages tactful parses, and their tree-sitter grammars.

Boundary: grammar loading only. Each grammar comes from its own PyPI package and is loaded on
first use, offline; an unknown language is not an error, it is simply not parsed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache
from pathlib import PurePath

from tree_sitter import Language, Parser, Tree

logger = logging.getLogger(__name__)


def _python() -> object:
    import tree_sitter_python

    return tree_sitter_python.language()


def _javascript() -> object:
    import tree_sitter_javascript

    return tree_sitter_javascript.language()


def _typescript() -> object:
    import tree_sitter_typescript

    return tree_sitter_typescript.language_typescript()


def _tsx() -> object:
    import tree_sitter_typescript

    return tree_sitter_typescript.language_tsx()


def _go() -> object:
    import tree_sitter_go

    return tree_sitter_go.language()


def _rust() -> object:
    import tree_sitter_rust

    return tree_sitter_rust.language()


def _java() -> object:
    import tree_sitter_java

    return tree_sitter_java.language()


_GRAMMARS: dict[str, Callable[[], object]] = {
    "python": _python,
    "javascript": _javascript,
    "javascriptreact": _javascript,
    "typescript": _typescript,
    "typescriptreact": _tsx,
    "go": _go,
    "rust": _rust,
    "java": _java,
}

_EXTENSIONS = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascriptreact",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "typescriptreact",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
}

SUPPORTED = frozenset(_GRAMMARS)


def language_of_path(path: str | PurePath) -> str | None:
    """The language id (as LSP clients name it) of a file, from its extension."""
    return _EXTENSIONS.get(PurePath(path).suffix.lower())


def normalize_language_id(language_id: str | None, path: str | PurePath | None = None) -> str:
    """A language id we know, taken from the client's id or else from the file's extension."""
    if language_id:
        lowered = language_id.lower()
        if lowered in _GRAMMARS:
            return lowered
        aliases = {"py": "python", "js": "javascript", "ts": "typescript", "golang": "go"}
        if lowered in aliases:
            return aliases[lowered]
    if path is not None:
        found = language_of_path(path)
        if found:
            return found
    return (language_id or "plaintext").lower()


@cache
def grammar(language_id: str) -> Language | None:
    """The tree-sitter grammar of a language, or None when we have none."""
    loader = _GRAMMARS.get(language_id)
    if loader is None:
        return None
    try:
        return Language(loader())
    except Exception:
        logger.exception("could not load the tree-sitter grammar for %s", language_id)
        return None


def new_parser(language_id: str) -> Parser | None:
    """A parser for a language, or None when we have no grammar for it."""
    language = grammar(language_id)
    return Parser(language) if language is not None else None


# tree-sitter's error recovery can take seconds on text that is not code (a megabyte of random
# bytes: about six), and parses run where a developer waits: a parse from scratch that takes
# longer than its budget is given up and the text read without a tree. The budget is CPU time
# of the parsing thread, not the wall clock: on a busy machine a parse waits longer for the
# CPU but is given up only for its own work, so whether a text gets a tree does not depend on
# what else runs (by the wall clock, padded 5,000-line files of click, 148-163 kB, went over
# half a second now and then at load 12-15 on 2 cores, and a document given up on is read as
# text only from then on).
PARSE_BUDGET_S = 0.5
_READ_BYTES = 16 * 1024


def parse_within(
    parser: Parser,
    source: bytes,
    old_tree: Tree | None = None,
    budget_s: float = PARSE_BUDGET_S,
) -> Tree | None:
    """``parser.parse(source, old_tree)``; None when a parse from scratch takes more than
    ``budget_s`` of the calling thread's CPU time (``time.thread_time``: the parse and its
    read callback run in that thread).

    From scratch, the source is handed over in slices by a callback, which tells the parser the
    text has ended once the budget is spent: the parse then stops within one slice's work. An
    incremental parse (``old_tree`` edited to match ``source``) re-reads only around the edits
    and is given the bytes whole: py-tree-sitter 0.26 keeps the last slice a callback returned
    when the parse stops before the end of the text, which an incremental parse does, a slice
    per keystroke for good."""
    if old_tree is not None:
        try:
            return parser.parse(source, old_tree)
        except (ValueError, RuntimeError):
            return None
    deadline = time.thread_time() + budget_s
    late = False

    def read(offset: int, _point: object) -> bytes:
        nonlocal late
        if late or time.thread_time() > deadline:
            late = True
            return b""
        return source[offset : offset + _READ_BYTES]

    try:
        tree = parser.parse(read)
        if late:
            return None
        # The tree reads its nodes' text through the callback it was parsed with: a Python
        # call per slice for every ``node.text``, and empty once the deadline has passed. An
        # incremental parse of the same bytes with no edit reuses every node (well under a
        # millisecond for 5,000 lines) and gives a tree that holds the bytes themselves.
        return parser.parse(source, tree)
    except (ValueError, RuntimeError):
        return None

"""A fast lexical tokenizer for the languages we parse, line by line, with a carried state.

Boundary: plain text in, token strings out; no parsing, no I/O. It is what the statistical
completion model counts, so it must be cheap (a regular expression per language) and total: any
text, however broken, yields tokens and nothing raises.

Token conventions, shared by everything that counts or renders them:

* a token carries the horizontal whitespace that precedes it on its line (``" ="``, ``"  # x"``),
  so joining tokens gives back the line exactly; indentation is not part of the first token;
* a string on one line is a single token, so repeated keys and messages are predicted whole;
  comments, docstrings and other multi-line strings are prose: their opening delimiter is a
  token, then each word and punctuation mark, so repeated phrases in them are learned too;
* a line break is one token that starts with ``"\\n"`` (one per blank line before the next line)
  followed by how the indentation changes: ``"+"`` and the added whitespace, ``"-"`` and the
  number of characters removed, or ``"="`` and the whole new indentation when neither is a prefix
  of the other. Relative indentation lets a pattern learned at one depth apply at another.

Multi-line strings and block comments are tokenized like an editor's highlighter does: each line
starts in the state the previous line ended in (inside a triple-quoted string, a block comment,
or a template literal), and such a line's content inside the construct is a single token.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

NORMAL = 0
# Lines ``tokenize_text`` reads between two calls of its ``give_way`` (about 3 ms of CPU on
# a long Python file, as long as one of the index's stretches of counts: a 5,000-line file is
# 30 ms read at once).
GIVE_WAY_LINES = 512

_OPERATORS = (
    r"\*\*=|//=|>>>=|>>=|<<=|===|!==|\.\.\.|\.\.=|->|=>|==|!=|<=|>=|\+=|-=|\*=|/=|%=|&=|\|=|\^="
    r"|\*\*|//|<<|>>|&&|\|\||::|:=|\+\+|--|\?\?|\?\.|\.\.|[^\s\w]"
)
_WORD = r"[^\W\d]\w*"
_PROSE = re.compile(r"[ \t]*(?:\"\"\"|'''|\*/|[^\W\d]\w*|\d[\w.]*|[^\w\s])")
_PROSE_OPENER = re.compile(r"[rRbBuUfF]{0,2}(?:\"\"\"|''')|/\*|//|#|`")
_PROSE_KINDS = frozenset({"tdq", "tsq", "blk", "tpl", "com"})
_NUMBER = r"\d[\w.]*(?:[eE][+-]?\d+)?"


@dataclass(frozen=True, slots=True)
class _Syntax:
    """What one language family needs: its token pattern and its multi-line constructs."""

    pattern: re.Pattern[str]
    # Opening group name -> (state number, closing delimiter).
    openers: dict[str, tuple[int, str]]
    closers: dict[int, re.Pattern[str]]


def _python_syntax() -> _Syntax:
    prefix = r"(?:[rRbBuUfF]{0,2})"
    pattern = re.compile(
        rf"""(?P<ws>[ \t]*)(?:
            (?P<tdq>{prefix}\"\"\"(?:[^"\\]|\\.|"(?!""))*(?:\"\"\")?)
          | (?P<tsq>{prefix}'''(?:[^'\\]|\\.|'(?!''))*(?:''')?)
          | (?P<str>{prefix}"(?:[^"\\\n]|\\.)*"?|{prefix}'(?:[^'\\\n]|\\.)*'?)
          | (?P<com>\#.*)
          | (?P<tok>{_WORD}|{_NUMBER}|{_OPERATORS})
        )""",
        re.VERBOSE,
    )
    return _Syntax(
        pattern,
        {"tdq": (1, '"""'), "tsq": (2, "'''")},
        {
            1: re.compile(r'(?:[^"\\]|\\.|"(?!""))*(?:""")?'),
            2: re.compile(r"(?:[^'\\]|\\.|'(?!''))*(?:''')?"),
        },
    )


def _c_family_syntax(backtick: bool) -> _Syntax:
    template = r"|(?P<tpl>`(?:[^`\\]|\\.)*`?)" if backtick else ""
    pattern = re.compile(
        rf"""(?P<ws>[ \t]*)(?:
            (?P<blk>/\*(?:[^*]|\*(?!/))*(?:\*/)?)
          | (?P<com>//.*)
          | (?P<str>"(?:[^"\\\n]|\\.)*"?
                   |'(?:[^'\\\n]|\\.){{0,2}}'
                   |'(?=[^\W\d]\w*[^'\w]|[^\W\d]\w*$))
          {template}
          | (?P<tok>{_WORD}|{_NUMBER}|{_OPERATORS})
        )""",
        re.VERBOSE,
    )
    openers = {"blk": (3, "*/")}
    closers = {3: re.compile(r"(?:[^*]|\*(?!/))*(?:\*/)?")}
    if backtick:
        openers["tpl"] = (4, "`")
        closers[4] = re.compile(r"(?:[^`\\]|\\.)*`?")
    return _Syntax(pattern, openers, closers)


@cache
def _syntax(language_id: str) -> _Syntax:
    if language_id == "python":
        return _python_syntax()
    # Go raw strings and JavaScript/TypeScript template literals span lines with backticks.
    backtick = language_id in (
        "javascript",
        "javascriptreact",
        "typescript",
        "typescriptreact",
        "go",
    )
    return _c_family_syntax(backtick)


def tokenize_line(line: str, language_id: str, state: int = NORMAL) -> tuple[list[str], int]:
    """Tokens of one line (without its indentation and line break) and the state it ends in."""
    syntax = _syntax(language_id)
    tokens: list[str] = []
    length = len(line)
    # Indentation belongs to the line-break token, even inside a multi-line string.
    position = len(line) - len(line.lstrip(" \t"))
    if state != NORMAL:
        closer = syntax.closers.get(state)
        match = closer.match(line, position) if closer is not None else None
        end = match.end() if match else length
        piece = line[position:end]
        _prose(piece, tokens)
        if end >= length and not _closes(piece, state, syntax):
            return tokens, state
        position = end
        state = NORMAL
    pattern = syntax.pattern
    while position < length:
        match = pattern.match(line, position)
        if match is None or match.end() == position:
            # Only trailing whitespace is left (or a character no rule takes: keep it whole).
            rest = line[position:]
            if rest.strip():
                tokens.append(sys.intern(rest))
            break
        position = match.end()
        kind = match.lastgroup
        if kind in _PROSE_KINDS:
            body = match.group(kind)
            opener = _PROSE_OPENER.match(body)
            split = opener.end() if opener else 0
            tokens.append(sys.intern(match.group("ws") + body[:split]))
            _prose(body[split:], tokens)
        else:
            tokens.append(sys.intern(match.group(0)))
        if kind in syntax.openers:
            opened_state, delimiter = syntax.openers[kind]
            body = match.group(kind)
            if not _is_closed(body, delimiter):
                return tokens, opened_state
    return tokens, NORMAL


def _prose(text: str, tokens: list[str]) -> None:
    """Words and punctuation marks of text inside a comment or string, each with the
    whitespace before it (trailing whitespace is dropped, as on code lines)."""
    position = 0
    length = len(text)
    while position < length:
        match = _PROSE.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:]
            if rest.strip():
                tokens.append(sys.intern(rest))
            return
        tokens.append(sys.intern(match.group(0)))
        position = match.end()


def prose_tokens(text: str) -> list[str]:
    """``text`` read as prose (the words and punctuation marks of a comment or docstring, each
    with the whitespace before it): the tokens the words inside a one-line string would be
    if it were a docstring."""
    tokens: list[str] = []
    _prose(text, tokens)
    return tokens


def _is_closed(body: str, delimiter: str) -> bool:
    # The body starts with its (possibly prefixed) opening delimiter; closed when it also ends
    # with the closing one after at least the opening.
    start = body.find(delimiter[0])
    opening = "/*" if delimiter == "*/" else delimiter
    return len(body) >= start + len(opening) + len(delimiter) and body.endswith(delimiter)


def _closes(piece: str, state: int, syntax: _Syntax) -> bool:
    for _name, (opened_state, delimiter) in syntax.openers.items():
        if opened_state == state:
            return piece.endswith(delimiter)
    return False


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def line_break(previous_indent: str, indent: str, blank_lines: int = 0) -> str:
    """The token for a line break between lines indented ``previous_indent`` and ``indent``."""
    head = "\n" * (1 + min(blank_lines, 2))
    if indent.startswith(previous_indent):
        return sys.intern(f"{head}+{indent[len(previous_indent) :]}")
    if previous_indent.startswith(indent):
        return sys.intern(f"{head}-{len(previous_indent) - len(indent)}")
    return sys.intern(f"{head}={indent}")


def render_break(token: str, indent: str) -> tuple[str, str]:
    """Text of a line-break token after a line indented ``indent``, and the new indentation."""
    head_length = len(token) - len(token.lstrip("\n"))
    head, kind, rest = (
        token[:head_length],
        token[head_length : head_length + 1],
        token[head_length + 1 :],
    )
    if kind == "+":
        new_indent = indent + rest
    elif kind == "-":
        removed = int(rest) if rest.isdigit() else 0
        new_indent = indent[: max(0, len(indent) - removed)]
    else:
        new_indent = rest
    # Blank lines carry no indentation, as editors and formatters leave them.
    return head + new_indent, new_indent


def is_break(token: str) -> bool:
    return token.startswith("\n")


def render(tokens: Iterable[str], indent: str) -> str:
    """Text of a token sequence starting on a line indented ``indent``."""
    parts: list[str] = []
    for token in tokens:
        if token.startswith("\n"):
            text, indent = render_break(token, indent)
            parts.append(text)
        else:
            parts.append(token)
    return "".join(parts)


def stream(
    lines: list[str],
    line_tokens: list[list[str]],
    start: int = 0,
    end: int | None = None,
    owned: list[int] | None = None,
) -> list[str]:
    """The token stream of lines ``start:end``, with line-break tokens between lines.

    A line's tokens are preceded by the break that leads into it from the last non-blank line
    before it (lines before ``start`` included), so streams of adjacent ranges concatenate.
    ``owned``, when given, receives for each line the number of stream tokens it contributed.
    """
    end = len(lines) if end is None else end
    out: list[str] = []
    previous_indent: str | None = None
    blank = 0
    for index in range(start - 1, -1, -1):
        if line_tokens[index]:
            previous_indent = indentation(lines[index])
            break
        blank += 1
    for index in range(start, end):
        tokens = line_tokens[index]
        if not tokens:
            blank += 1
            if owned is not None:
                owned.append(0)
            continue
        indent = indentation(lines[index])
        if previous_indent is not None:
            out.append(line_break(previous_indent, indent, blank))
        if owned is not None:
            owned.append(len(tokens) + (previous_indent is not None))
        out.extend(tokens)
        previous_indent = indent
        blank = 0
    return out


def tokenize_text(
    text: str, language_id: str, give_way: Callable[[], None] | None = None
) -> list[str]:
    """The token stream of a whole text. ``give_way``: called after every ``GIVE_WAY_LINES``
    lines, so that a thread others wait for lets them run while it reads a long file."""
    lines = text.split("\n")
    state = NORMAL
    per_line: list[list[str]] = []
    for number, line in enumerate(lines, start=1):
        if give_way is not None and number % GIVE_WAY_LINES == 0:
            give_way()
        tokens, state = tokenize_line(line, language_id, state)
        per_line.append(tokens)
    return stream(lines, per_line)


WORD = re.compile(r"[^\W\d]\w*")


def is_identifier(token: str) -> bool:
    return WORD.fullmatch(token.lstrip(" \t")) is not None

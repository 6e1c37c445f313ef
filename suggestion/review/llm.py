"""LLM review comments: the diff of one file, with the functions that enclose the changes and
their callers and callees as context, sent to a model that answers with at most three comments,
each on an explicit line.

Boundary: builds the prompt (every text passes through ``redact``; secret files are never
read), calls the model through litellm (imported only when a review asks for it), and parses
the answer defensively. Nothing the model says is trusted: a comment whose line is not a number,
out of range or not a changed line, whose quoted code is not that line's code, or whose text is
empty, is dropped. It never raises: a model that fails, times out or answers garbage yields no
comments and one note for people.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from tactful.analyzers.diff import Diff, FileChange
from tactful.analyzers.functions import Function, functions, innermost
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.references import occurrences
from tactful.analyzers.secrets import is_secret_path, redact
from tactful.analyzers.text import Point, Span
from tactful.suggestion.llm.client import call_arguments, import_litellm
from tactful.suggestion.review.comments import LLM_COMMENT, ORIGIN_LLM, Comment
from tactful.suggestion.review.comments import normalize_line as _normalize

logger = logging.getLogger(__name__)

EMBEDDED = "embedded"
_PROSE_SUFFIXES = frozenset(
    {".md", ".rst", ".txt", ".adoc", ".csv", ".svg", ".lock", ".log", ".po", ".json"}
)
MAX_COMMENTS_PER_FILE = 3
MAX_COMMENT_CHARS = 500
# The prompt budget per file, in characters of code shown (about 3k tokens).
MAX_PROMPT_CHARS = 12_000
MAX_FUNCTION_LINES_SHOWN = 120

SYSTEM_PROMPT = """You are a careful senior engineer reviewing a code change.
You see one file of the change. Lines are shown as `<number><mark> <code>`; the mark `+` means
the line was added or changed by this change, a space means unchanged context.
Comment ONLY on lines marked `+`, and only about real problems: bugs, wrong logic, unhandled
errors, security issues, broken contracts with the callers shown. No style or formatting remarks,
no praise, no summaries. At most three comments; none is a fine answer.
Answer with JSON only, exactly in this shape:
{"comments": [{"line": <number of a + line>, "quote": "<that line's code>",
"comment": "<one or two sentences>"}]}"""


@dataclass(frozen=True, slots=True)
class LlmReviewConfig:
    """The model to ask and how long to wait (review answers are longer than completions)."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    timeout_s: float = 30.0
    max_tokens: int = 600
    max_files: int = 12


# ``complete(config, messages) -> answer text``; raises on transport errors.
Complete = Callable[[LlmReviewConfig, list[dict[str, str]]], str]


@dataclass(frozen=True, slots=True)
class LlmOutcome:
    comments: tuple[Comment, ...]
    asked: int  # files sent to the model
    dropped: int  # comments the model gave that were malformed or misplaced
    problems: tuple[str, ...] = ()


def litellm_complete(config: LlmReviewConfig, messages: list[dict[str, str]]) -> str:
    """Ask the model through litellm (imported here: it is slow to import and often unused)."""
    litellm = import_litellm()

    response = litellm.completion(messages=messages, **call_arguments(config))
    choice = response.choices[0]
    content = getattr(getattr(choice, "message", None), "content", None)
    return content if isinstance(content, str) else ""


def llm_comments(
    diff: Diff,
    config: LlmReviewConfig,
    files: Sequence[FileChange] | None = None,
    complete: Complete = litellm_complete,
    on_file: Callable[[int, int, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LlmOutcome:
    """Ask the model about each changed file (secret and unparsable files aside)."""
    targets = files_to_ask(diff, config, files)
    comments: list[Comment] = []
    dropped = 0
    problems: list[str] = []
    for index, change in enumerate(targets):
        if cancelled is not None and cancelled():
            break
        if on_file is not None:
            on_file(index, len(targets), change.path)
        messages = build_messages(diff, change)
        try:
            answer = complete(config, messages)
        except Exception as exc:  # any provider failure: no comments, one note
            logger.warning("the model could not review %s: %s", change.path, exc)
            problems.append(f"the model could not review {change.path}: {_short(exc)}")
            continue
        kept, rejected = parse_answer(answer, change)
        comments.extend(kept)
        dropped += rejected
    return LlmOutcome(tuple(comments), len(targets), dropped, tuple(problems))


def files_to_ask(
    diff: Diff, config: LlmReviewConfig, files: Sequence[FileChange] | None = None
) -> list[FileChange]:
    """The files the model is asked about, in the order it is asked: code the grammars know
    first (the prompt's call-graph context exists only for it), no prose, no secret files."""
    candidates = [
        change
        for change in (files if files is not None else diff.files)
        if change.changed_lines
        and _worth_asking(change.path)
        and not is_secret_path(diff.root, diff.root / change.path)
    ]
    candidates.sort(key=lambda change: language_of_path(change.path) is None)
    return candidates[: config.max_files]


def _worth_asking(path: str) -> bool:
    """Prose and package metadata are not worth a model's review of code."""
    pure = PurePosixPath(path)
    return bool(pure.suffix) and pure.suffix.lower() not in _PROSE_SUFFIXES


def build_messages(diff: Diff, change: FileChange) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": redact(file_prompt(diff, change))},
    ]


def file_prompt(diff: Diff, change: FileChange) -> str:
    """The changed regions of a file, numbered, widened to their enclosing functions, followed
    by the callees and callers of those functions."""
    language = language_of_path(change.path) or "text"
    found = functions(change.text, language) if language != "text" else []
    changed = sorted(change.changed_lines)
    shown: set[int] = set()
    touched: list[Function] = []
    for line in changed:
        function = innermost([f for f in found if not f.nested], line) or innermost(found, line)
        if function is not None and (
            function.lines.last - function.lines.first < MAX_FUNCTION_LINES_SHOWN
        ):
            shown.update(range(function.lines.first, function.lines.last + 1))
            if function not in touched:
                touched.append(function)
        else:
            shown.update(range(max(line - 3, 0), line + 4))
    last = len(change.lines) - (1 if change.text.endswith("\n") else 0)
    shown = {line for line in shown if 0 <= line < last}
    parts = [f"File: {change.path} ({language})"]
    if change.old_path and change.old_path != change.path:
        parts.append(f"(renamed from {change.old_path})")
    parts.append("")
    budget = MAX_PROMPT_CHARS
    previous = -2
    for line in sorted(shown):
        if line != previous + 1:
            parts.append("   ...")
        mark = "+" if line in change.changed_lines else " "
        text = f"{line + 1:5d}{mark} {change.lines[line]}"
        budget -= len(text) + 1
        if budget < 0:
            parts.append("   ... (cut)")
            break
        parts.append(text)
        previous = line
    context = _call_context(diff, change, found, touched, budget)
    if context:
        parts += ["", "Context (not part of the change; do not comment on it):", *context]
    return "\n".join(parts)


def _call_context(
    diff: Diff, change: FileChange, found: list[Function], touched: list[Function], budget: int
) -> list[str]:
    lines: list[str] = []
    names = {f.name for f in touched}
    by_name: dict[str, list[tuple[str, FileChange | None, Function]]] = {}
    for function in found:
        by_name.setdefault(function.name, []).append((change.path, change, function))
    callees = sorted({call for f in touched for call in f.calls} - names)
    for callee in callees:
        for _path, source, function in by_name.get(callee, [])[:1]:
            assert source is not None
            head = source.lines[
                function.lines.first : min(function.lines.last + 1, function.header_line + 8)
            ]
            lines.append(f"# called: {callee} ({source.path}:{function.header_line + 1})")
            lines.extend(head)
    callers_here = [f for f in found if f not in touched and f.calls & names]
    for function in callers_here[:4]:
        for line in range(function.lines.first, function.lines.last + 1):
            text = change.lines[line]
            if any(re.search(rf"\b{re.escape(n)}\s*\(", text) for n in names):
                lines.append(f"# caller: {function.qualname} ({change.path}:{line + 1})")
                lines.append(text)
                break
    if names:
        elsewhere = [
            o
            for o in occurrences(diff.root, names, max_per_word=3, max_total=12)
            if o.path != change.path
            and not is_secret_path(diff.root, diff.root / o.path)
            and re.search(rf"\b{re.escape(o.word)}\s*\(", o.text)
        ]
        for occurrence in elsewhere:
            lines.append(f"# caller of {occurrence.word}: {occurrence.path}:{occurrence.line + 1}")
            lines.append(occurrence.text.rstrip())
    kept: list[str] = []
    for entry in lines:
        budget -= len(entry) + 1
        if budget < 0:
            break
        kept.append(entry)
    return kept


def parse_answer(answer: str, change: FileChange) -> tuple[list[Comment], int]:
    """The comments of a model's answer that lie on changed lines, and how many were dropped."""
    items = _items(answer or "")
    kept: list[Comment] = []
    dropped = 0
    lines_used: set[int] = set()
    line_count = len(change.lines) - (1 if change.text.endswith("\n") else 0)
    for item in items:
        comment = _comment(item, change, line_count)
        if comment is None or comment.line in lines_used or len(kept) >= MAX_COMMENTS_PER_FILE:
            dropped += 1
            continue
        lines_used.add(comment.line)
        kept.append(comment)
    return kept, dropped


def _items(answer: str) -> list[object]:
    text = re.sub(r"```[a-zA-Z]*", "", answer)
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char not in "[{":
            continue
        try:
            value, _ = decoder.raw_decode(text, index)
        except ValueError:
            continue
        if isinstance(value, dict):
            for key in ("comments", "review", "items", "results"):
                if isinstance(value.get(key), list):
                    return list(value[key])
            if any(k in value for k in ("line", "line_number", "lineNumber")):
                return [value]
            continue
        if isinstance(value, list):
            return list(value)
    # No JSON: accept only lines that name a line explicitly ("line 12: …"), never a bare
    # numbered list, whose numbers are not line numbers.
    found: list[object] = []
    for match in re.finditer(r"(?im)^\W*line\s+(\d+)\s*[:\-–]\s*(\S.*)$", text):
        found.append({"line": int(match.group(1)), "comment": match.group(2)})
    return found


def _comment(item: object, change: FileChange, line_count: int) -> Comment | None:
    if not isinstance(item, dict):
        return None
    raw_line = next(
        (item[k] for k in ("line", "line_number", "lineNumber", "start_line") if k in item), None
    )
    if isinstance(raw_line, bool):
        return None
    if isinstance(raw_line, str) and raw_line.strip().isdigit():
        raw_line = int(raw_line.strip())
    if isinstance(raw_line, float) and raw_line.is_integer():
        raw_line = int(raw_line)
    if not isinstance(raw_line, int) or not 1 <= raw_line <= line_count:
        return None
    line = raw_line - 1
    if line not in change.changed_lines:
        return None
    body = next(
        (item[k] for k in ("comment", "body", "message", "text") if isinstance(item.get(k), str)),
        None,
    )
    if body is None:
        return None
    body = " ".join(body.split())
    if len(body) < 3:
        return None
    if len(body) > MAX_COMMENT_CHARS:
        body = body[: MAX_COMMENT_CHARS - 1].rstrip() + "…"
    text = change.lines[line]
    quote = item.get("quote") or item.get("code")
    if isinstance(quote, str) and quote.strip():
        wanted, actual = _normalize(quote), _normalize(text)
        if not actual or (wanted not in actual and actual not in wanted):
            return None
    indent = len(text) - len(text.lstrip())
    return Comment(
        path=change.path,
        span=Span(Point(line, indent), Point(line, len(text))),
        rule=LLM_COMMENT,
        message=body,
        origin=ORIGIN_LLM,
        prior=0.5,
        line_text=text,
    )


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def config_from_settings(
    model: str | None, api_base: str | None, timeout_s: float, max_tokens: int
) -> LlmReviewConfig | None:
    """Review's model settings from ``llm.*``: longer deadline and answer than a completion."""
    if not model or model == EMBEDDED:
        # The embedded model is a small base model for completions: it cannot follow review
        # instructions, so review by rules alone.
        return None
    return LlmReviewConfig(
        model=model,
        api_base=api_base,
        timeout_s=max(timeout_s, 20.0),
        max_tokens=max(max_tokens, 600),
    )

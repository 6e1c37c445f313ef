"""Next edits from the configured model, asked the way open next-edit models are asked.

Boundary: sends the recent edits (as unified diffs) and the region around the cursor to the
model the user configured (``llm.model``, through litellm, imported on first use) and nowhere
else; turns its answer into ``NextEdit``s. Blocking: call it off the event loop. It never
raises: no model, an unreachable one, or an answer that does not apply cleanly gives nothing.

The prompt is Zeta's (Zed's open next-edit model, trained on Qwen2.5-Coder): an instruction,
"User Edits" (one ``User edited "path":`` fenced diff per recent edit) and "User Excerpt", the
lines around the cursor with ``<|editable_region_start|>``/``<|editable_region_end|>`` around
the part the model may rewrite and ``<|user_cursor_is_here|>`` at the cursor. The answer is
the editable region rewritten, between the same markers. Chat models get the instruction as
the system message and the rest as the user's; other models get it all as one text prompt.

Clean application: both markers present, the rewrite different from the region yet close to
it (most lines kept, at most ``MAX_CHANGED_LINES`` changed), no redaction marker in the
changed text. Each changed block of lines becomes one next edit.

Never sent: a document whose path is secret or ignored by git (``is_secret_path``), and a
region that holds something that looks like a secret (the request is not made at all); the
diffs of recent edits go through ``redact``, and a diff of a secret file is left out.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tactful.analyzers.secrets import REDACTED, is_secret_path, redact
from tactful.analyzers.text import Point, split_lines
from tactful.suggestion.llm.client import call_arguments, import_litellm
from tactful.suggestion.llm.prompts import CHAT, prompt_style
from tactful.suggestion.next_edits.proposals import next_edit, quote
from tactful.suggestion.next_edits.targets import Target
from tactful.suggestion.next_edits.types import LLM, NextEdit, RecordedEdit

logger = logging.getLogger(__name__)

START = "<|editable_region_start|>"
END = "<|editable_region_end|>"
CURSOR = "<|user_cursor_is_here|>"
FILE_START = "<|start_of_file|>"

INSTRUCTION = (
    "You are a code completion assistant and your task is to analyze user edits and then "
    "rewrite an excerpt that the user provides, suggesting the appropriate edits within the "
    "excerpt, taking into account the cursor location."
)
# Lines of the editable region before and after the cursor's, and of read-only context
# around it.
REGION_BEFORE = 8
REGION_AFTER = 12
CONTEXT_LINES = 20
DIFF_CONTEXT = 3
MAX_EDITS = 6
MAX_CHANGED_LINES = 12
SCORE = 0.6


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Which model to ask and how (from the ``llm.*`` settings)."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    timeout_s: float = 5.0
    max_tokens: int = 512
    prompt_style: str = "auto"

    @classmethod
    def from_settings(cls, settings: Any) -> ModelConfig | None:
        """From the server's resolved settings (read by attribute); None without a model,
        and for the embedded model, whose 270M base model cannot rewrite code regions."""
        llm = settings.llm
        if not llm.model or llm.model == "embedded":
            return None
        return cls(
            model=llm.model,
            api_base=llm.api_base,
            timeout_s=max(float(llm.timeout_s), 5.0),
            prompt_style=llm.prompt_style,
        )


@dataclass(frozen=True, slots=True)
class ZetaPrompt:
    """The prompt, and the lines ``first``..``last`` (inclusive) of the editable region."""

    instruction: str
    body: str
    first: int
    last: int
    region: str

    @property
    def text(self) -> str:
        return f"### Instruction:\n{self.instruction}\n\n{self.body}"


def user_edits(edits: Sequence[RecordedEdit], root: str | Path | None = None) -> str:
    """The recent edits as Zeta's "User Edits": one fenced unified diff per edit, oldest
    first, secret files left out and every diff redacted."""
    parts: list[str] = []
    for edit in edits[-MAX_EDITS:]:
        path = edit.path or edit.uri
        if edit.path and is_secret_path(root, edit.path):
            continue
        name = _display(path, root)
        before = split_lines(edit.before, keepends=True)
        after = split_lines(edit.after, keepends=True)
        first = edit.before.count("\n", 0, edit.start)
        last_old = edit.before.count("\n", 0, edit.old_end) + 1
        last_new = edit.after.count("\n", 0, edit.new_end) + 1
        low = max(0, first - DIFF_CONTEXT)
        diff = difflib.unified_diff(
            before[low : last_old + DIFF_CONTEXT],
            after[low : last_new + DIFF_CONTEXT],
            lineterm="",
            n=DIFF_CONTEXT,
        )
        lines = [line.rstrip("\n") for line in diff][2:]  # no ---/+++ header: the path says it
        if not lines:
            continue
        # difflib counts from the window; the hunk header says where the window is.
        lines = [_shift_header(line, low) if line.startswith("@@") else line for line in lines]
        parts.append(f'User edited "{name}":\n```diff\n' + redact("\n".join(lines)) + "\n```")
    return "\n\n".join(parts)


def _shift_header(header: str, offset: int) -> str:
    def shift(match: re.Match[str]) -> str:
        return f"{match.group(1)}{int(match.group(2)) + offset}"

    return re.sub(r"([-+])(\d+)", shift, header, count=2)


def build_prompt(
    text: str,
    position: Point,
    path: str,
    edits: Sequence[RecordedEdit],
    root: str | Path | None = None,
) -> ZetaPrompt:
    """The Zeta prompt for a cursor at ``position`` of ``text`` (the file at ``path``)."""
    lines = text.split("\n")
    row = max(0, min(position.line, len(lines) - 1))
    first = max(0, row - REGION_BEFORE)
    last = min(len(lines) - 1, row + REGION_AFTER)
    context_first = max(0, first - CONTEXT_LINES)
    context_last = min(len(lines) - 1, last + CONTEXT_LINES)
    cursor_line = lines[row]
    column = max(0, min(position.column, len(cursor_line)))
    region_lines = lines[first : last + 1]
    marked = list(region_lines)
    marked[row - first] = cursor_line[:column] + CURSOR + cursor_line[column:]
    name = _display(path, root)
    excerpt = [f"```{name}"]
    if context_first == 0:
        excerpt.append(FILE_START)
    excerpt.extend(lines[context_first:first])
    excerpt.append(START)
    excerpt.extend(marked)
    excerpt.append(END)
    excerpt.extend(lines[last + 1 : context_last + 1])
    excerpt.append("```")
    body = (
        "### User Edits:\n\n"
        + (user_edits(edits, root) or "(none)")
        + "\n\n### User Excerpt:\n\n"
        # The region itself is checked for secrets before asking; the lines around it are
        # only read, so they go redacted.
        + redact("\n".join(excerpt))
        + "\n\n### Response:\n"
    )
    return ZetaPrompt(INSTRUCTION, body, first, last, "\n".join(region_lines))


def rewritten_region(answer: str) -> str | None:
    """The editable region as the model rewrote it, or None when the answer lacks a marker."""
    start = answer.find(START)
    end = answer.find(END, start + 1) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    region = answer[start + len(START) : end]
    region = region.replace(CURSOR, "")
    if region.startswith("\n"):
        region = region[1:]
    if region.endswith("\n"):
        region = region[:-1]
    return region


def changes(region: str, rewritten: str) -> list[tuple[int, int, list[str]]] | None:
    """The changed blocks between the region and its rewrite, as (first line, end line
    (exclusive), new lines) relative to the region; None when the rewrite does not apply
    cleanly (too different, or touching redacted text)."""
    old = region.split("\n")
    new = rewritten.split("\n")
    # Blank lines at the end of the region are where models differ most and mean least.
    while old and not old[-1].strip():
        old.pop()
    while new and not new[-1].strip():
        new.pop()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    blocks = [
        (i1, i2, new[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    ]
    if not blocks:
        return None
    changed = sum(max(i2 - i1, len(lines)) for i1, i2, lines in blocks)
    if changed > MAX_CHANGED_LINES or changed > max(2, len(old) // 2):
        return None
    if any(REDACTED in line for _, _, lines in blocks for line in lines):
        return None
    return blocks


def propose(
    config: ModelConfig,
    target: Target,
    position: Point,
    edits: Sequence[RecordedEdit],
    root: str | Path | None = None,
) -> list[NextEdit]:
    """The model's next edits around ``position`` of ``target`` (empty on any failure)."""
    path = target.path or target.uri
    if target.path and is_secret_path(root, target.path):
        logger.info("not asking the model about %s: it is secret or ignored by git", path)
        return []
    prompt = build_prompt(target.source.text, position, path, edits, root)
    if redact(prompt.region) != prompt.region:
        logger.info("not asking the model about %s: the region looks like it holds a secret", path)
        return []
    answer = _ask(config, prompt)
    if answer is None:
        return []
    rewritten = rewritten_region(answer)
    if rewritten is None or rewritten == prompt.region:
        return []
    blocks = changes(prompt.region, rewritten)
    if blocks is None:
        logger.debug("the model's next edit does not apply cleanly; dropped")
        return []
    return [_edit(target, prompt, block, len(blocks)) for block in blocks]


def _edit(
    target: Target, prompt: ZetaPrompt, block: tuple[int, int, list[str]], count: int
) -> NextEdit:
    first, end, lines = block
    source = target.source
    text = source.text
    line_starts = source.lines
    start = line_starts.offset(Point(prompt.first + first, 0), text)
    if end > first:
        stop = line_starts.offset(Point(prompt.first + end - 1, 0), text)
        stop = text.find("\n", stop)
        stop = len(text) if stop == -1 else stop
        replacement = "\n".join(lines)
        if not lines:
            # Whole lines removed: their line breaks go too.
            stop = min(len(text), stop + 1)
    else:
        stop = start
        replacement = "".join(line + "\n" for line in lines)
        if start == len(text) and text and not text.endswith("\n"):
            # Lines added after a last line that has no line break: the break goes before them.
            replacement = "\n" + replacement[:-1]
    old = text[start:stop]
    return next_edit(
        target,
        source.byte(start),
        source.byte(stop),
        replacement,
        label=f"`{quote(old) or '…'}` → `{quote(replacement) or '(removed)'}`",
        source=LLM,
        score=SCORE,
        evidence={"model": 1.0, "blocks": float(count), "lines": float(len(lines))},
        origin=-1,
    )


def _ask(config: ModelConfig, prompt: ZetaPrompt) -> str | None:
    try:
        litellm = import_litellm()
    except ImportError:
        logger.error("litellm is not installed: no next edits from a model")
        return None
    kwargs = call_arguments(config)
    try:
        if prompt_style(config.prompt_style, config.model) == CHAT:
            response = litellm.completion(
                messages=[
                    {"role": "system", "content": prompt.instruction},
                    {"role": "user", "content": prompt.body},
                ],
                **kwargs,
            )
            content = response.choices[0].message.content
        else:
            response = litellm.text_completion(prompt=prompt.text, **kwargs)
            content = response.choices[0].text
    except Exception as error:  # litellm raises many provider-specific types
        logger.warning("the model gave no next edit: %s", error)
        return None
    return content if isinstance(content, str) else None


def _display(path: str, root: str | Path | None) -> str:
    if root is None:
        return path
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except (ValueError, OSError):
        return path

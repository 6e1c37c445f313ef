"""Fixes proposed by an LLM for findings that neither ruff nor a recipe fixes.

Boundary: builds a prompt from the rule's documentation (``ruff rule CODE``) and the code that
encloses the finding, sends it through litellm (imported only when a model is configured), and
turns the answer into a ``Fix`` replacing that enclosing code. A refinement round adds the
previous attempt and why it failed (ruff's verdict or the failing tests' output). It never sends
a file whose path looks secret or a region that holds something that looks like a secret, and
never raises: no answer, a bad answer or an unreachable model give no fix.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from tactful.analyzers.findings import Applicability, Finding, Fix
from tactful.analyzers.languages import new_parser, parse_within
from tactful.analyzers.ruff import rule_documentation
from tactful.analyzers.secrets import is_secret_path, redact
from tactful.analyzers.text import Edit, Point, Span
from tactful.suggestion.llm.client import call_arguments, import_litellm

logger = logging.getLogger(__name__)

MAX_REGION_LINES = 80
WINDOW_LINES = 15
MAX_DOC_CHARS = 3000
# A fix request rewrites a whole function, far more than one completion: it gets at least this.
MIN_TIMEOUT_S = 30.0

SYSTEM = (
    "You fix one finding of the Python linter ruff in a piece of code. Answer with the corrected "
    "piece of code only, complete, in a single ```python fenced block, with the same "
    "indentation as the original. Change as little as possible: keep the behaviour the tests "
    "expect, do not rename public names, do not add comments about the change."
)


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """Which model to ask and how (from the ``llm.*`` settings)."""

    model: str
    api_base: str | None = None
    timeout_s: float = MIN_TIMEOUT_S
    max_tokens: int = 1024
    api_key: str | None = None


@dataclass(frozen=True, slots=True)
class Region:
    """Whole lines ``first``..``last`` (inclusive) of a file: the code the model rewrites."""

    first: int
    last: int
    text: str


def enclosing_region(text: str, line: int) -> Region:
    """The smallest function or class around ``line`` (if short enough), else a window."""
    lines = text.split("\n")
    line = max(0, min(line, len(lines) - 1))
    first, last = max(0, line - WINDOW_LINES), min(len(lines) - 1, line + WINDOW_LINES)
    parser = new_parser("python")
    if parser is not None:
        tree = parse_within(parser, text.encode("utf-8", "surrogatepass"))
        node = (
            tree.root_node.descendant_for_point_range((line, 0), (line, 0))
            if tree is not None
            else None
        )
        while node is not None:
            if node.type in ("function_definition", "class_definition", "decorated_definition"):
                start, end = node.start_point[0], node.end_point[0]
                if end - start + 1 <= MAX_REGION_LINES:
                    first, last = start, end
                    parent = node.parent
                    if parent is not None and parent.type == "decorated_definition":
                        first = parent.start_point[0]
                    break
            node = node.parent
    return Region(first, last, "\n".join(lines[first : last + 1]))


def build_prompt(
    finding: Finding, region: Region, previous: str | None = None, failure: str | None = None
) -> list[dict[str, str]]:
    """Chat messages asking for a fix (and, in a refinement round, saying what went wrong)."""
    docs = rule_documentation(finding.rule)[:MAX_DOC_CHARS]
    where = finding.span.start.line - region.first + 1
    user = (
        f"ruff reports {finding.rule} on line {where} of this code: {finding.message}\n\n"
        + (f"The rule's documentation:\n{docs}\n\n" if docs else "")
        + f"The code (from {finding.path}):\n```python\n{region.text}\n```\n"
    )
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    if previous is not None:
        messages.append({"role": "assistant", "content": f"```python\n{previous}\n```"})
        messages.append(
            {
                "role": "user",
                "content": "That fix was rejected:\n"
                f"{(failure or 'no reason given')[:4000]}\n"
                "Answer with a corrected version of the original code.",
            }
        )
    return messages


def extract_code(answer: str) -> str | None:
    """The code of the first fenced block of an answer (or the whole answer if it has none)."""
    match = re.search(r"```[a-zA-Z0-9_+-]*\n(.*?)```", answer, re.DOTALL)
    code = match.group(1) if match else answer
    code = code.rstrip("\n")
    return code if code.strip() else None


def propose(
    finding: Finding,
    text: str,
    config: LlmConfig,
    root: str | Path | None = None,
    previous: Fix | None = None,
    failure: str | None = None,
) -> list[Fix]:
    """One LLM fix for ``finding`` (or none); with ``previous`` and ``failure``, a refinement."""
    if root is not None and is_secret_path(root, finding.path):
        return []
    region = enclosing_region(text, finding.span.start.line)
    if redact(region.text) != region.text:
        logger.info("not sending %s to the model: it holds what looks like a secret", finding.path)
        return []
    previous_code = previous.edits[0].new_text.rstrip("\n") if previous and previous.edits else None
    messages = build_prompt(finding, region, previous_code, failure)
    answer = _ask(config, messages, region)
    if answer is None:
        return []
    code = extract_code(answer)
    if code is None or code == region.text:
        return []
    lines = text.split("\n")
    end = (
        Point(region.last + 1, 0)
        if region.last + 1 < len(lines)
        else Point(region.last, len(lines[region.last]))
    )
    new_text = code + "\n" if region.last + 1 < len(lines) else code
    edit = Edit(finding.path, Span(Point(region.first, 0), end), new_text)
    return [Fix(f"Fix {finding.rule} as the model proposes", (edit,), Applicability.UNSAFE, "llm")]


def _ask(config: LlmConfig, messages: list[dict[str, str]], region: Region) -> str | None:
    try:
        litellm = import_litellm()
    except ImportError:
        logger.error("litellm is not installed: no LLM fixes")
        return None
    budget = max(config.max_tokens, len(region.text) // 2 + 256)
    kwargs = call_arguments(
        config, timeout_s=max(config.timeout_s, MIN_TIMEOUT_S), max_tokens=budget
    )
    try:
        response = litellm.completion(messages=messages, **kwargs)
        content = response.choices[0].message.content
    except Exception as error:  # litellm raises many provider-specific types
        logger.warning("the model gave no fix: %s", error)
        return None
    return content if isinstance(content, str) else None

"""How to ask a model for the text at the cursor: fill-in-the-middle, plain prefix, or chat.

Boundary: pure string building. It receives context that was already chosen and redacted
(``PromptContext``) and never reads files or sends anything. Templates are the models' own
published formats; a custom template is a string with ``{prefix}`` and ``{suffix}``, filled by
plain replacement so braces in code need no escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FIM = "fim"
PREFIX = "prefix"
CHAT = "chat"


@dataclass(frozen=True, slots=True)
class FimTemplate:
    """A fill-in-the-middle format and the special tokens that end or derail its output."""

    name: str
    template: str
    stop: tuple[str, ...] = ()


TEMPLATES: dict[str, FimTemplate] = {
    "qwen": FimTemplate(
        "qwen",
        "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
        ("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|fim_prefix|>"),
    ),
    "starcoder": FimTemplate(
        "starcoder",
        "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
        ("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_pad>"),
    ),
    "deepseek": FimTemplate(
        "deepseek",
        "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
        ("<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜EOT｜>"),
    ),
    "codellama": FimTemplate(
        "codellama",
        "<PRE> {prefix} <SUF>{suffix} <MID>",
        ("<EOT>", "</s>", "<PRE>", "<SUF>"),
    ),
}

# Which template a model's name implies, checked in order (names are lower-cased).
_FIM_FAMILIES = (
    ("qwen", re.compile(r"qwen[\w.\-]*coder")),
    ("starcoder", re.compile(r"starcoder|stable-?code|refact")),
    ("deepseek", re.compile(r"deepseek[\w.\-]*coder")),
    ("codellama", re.compile(r"code-?llama")),
)
# Names of models that are chat- or instruction-tuned even though a FIM family matches them.
_CHAT_HINTS = re.compile(
    r"instruct|chat|(?:^|[-_/:])it(?:$|[-_:])|gpt|claude|gemini|o\d-|mistral-large"
)
_BASE_HINTS = re.compile(r"(?:^|[-_/:.])base(?:$|[-_:.])|gemma|gpt2|pythia|phi-?1|tinyllama")

EMBEDDED = "embedded"
# Tokens a completion may contain when a model slips out of its format: nothing after them is code.
_SPECIAL = re.compile(
    r"<\|[a-z_]+\|>|<fim_[a-z]+>|<file_sep>|<｜[^｜]*｜>|<(?:PRE|SUF|MID|EOT)>|</s>|<eos>|<bos>"
    r"|<start_of_turn>|<end_of_turn>"
)


def fim_template(setting: str, model: str | None) -> FimTemplate | None:
    """The template ``llm.fimTemplate`` names, or the one the model's name implies (``auto``).

    A custom template must contain both ``{prefix}`` and ``{suffix}``; otherwise it is not used.
    """
    if setting in TEMPLATES:
        return TEMPLATES[setting]
    if setting and setting != "auto":
        if "{prefix}" in setting and "{suffix}" in setting:
            return FimTemplate("custom", setting)
        return None
    name = (model or "").lower()
    for family, pattern in _FIM_FAMILIES:
        if pattern.search(name):
            return TEMPLATES[family]
    return None


def prompt_style(setting: str, model: str | None, fim_setting: str = "auto") -> str:
    """``fim``, ``prefix`` or ``chat``: the setting when it names one, else from the model's name.

    ``auto``: a model of a known FIM family (or any model with an explicit FIM template) gets FIM;
    a base model (or the embedded one) gets a plain prefix; everything else is asked in chat.
    """
    if setting in (FIM, PREFIX, CHAT):
        if setting == FIM and fim_template(fim_setting, model) is None:
            return PREFIX
        return setting
    name = (model or "").lower()
    if name == EMBEDDED:
        return PREFIX
    if fim_setting not in ("", "auto") and fim_template(fim_setting, model) is not None:
        return FIM
    if fim_template("auto", model) is not None:
        return FIM
    if _BASE_HINTS.search(name) and not _CHAT_HINTS.search(name):
        return PREFIX
    return CHAT


@dataclass(frozen=True, slots=True)
class Snippet:
    """Text from elsewhere in the workspace, shown to the model as a hint."""

    path: str
    text: str


@dataclass(frozen=True, slots=True)
class PromptContext:
    """Everything a prompt is made of, already cut to the budget and redacted.

    ``header`` holds lines from above ``prefix`` (imports, enclosing scope headers) that did not
    fit in it; ``snippets`` come from other places in the workspace.
    """

    path: str
    language: str
    prefix: str
    suffix: str = ""
    header: str = ""
    snippets: tuple[Snippet, ...] = ()


@dataclass(frozen=True, slots=True)
class Prompt:
    """What is sent: a text prompt or chat messages, and the stop sequences to send with it.

    ``trimmed`` is the whitespace cut from the end of the prefix: a prompt that ends in a space
    forces a tokenisation the model never saw in training (it writes `` a`` as one token, not
    ``" "`` then ``a``), so the space is left for the model to write and ``restore`` removes it
    from the answer.
    """

    style: str
    text: str | None = None
    messages: tuple[dict[str, str], ...] = ()
    stop: tuple[str, ...] = field(default=())
    trimmed: str = ""

    def restore(self, completion: str) -> str:
        """The completion as inserted at the cursor, without the whitespace already typed."""
        if self.trimmed and completion.startswith(self.trimmed):
            return completion[len(self.trimmed) :]
        return completion

    @property
    def cache_key(self) -> str:
        if self.text is not None:
            return self.text
        return "\x1e".join(m["role"] + "\x1f" + m["content"] for m in self.messages)


_COMMENT = {
    "python": "#",
    "ruby": "#",
    "shellscript": "#",
    "yaml": "#",
    "toml": "#",
    "r": "#",
    "perl": "#",
}


def comment_marker(language: str) -> str:
    return _COMMENT.get(language, "//")


def _commented(text: str, marker: str) -> str:
    return "".join(f"{marker} {line}".rstrip() + "\n" for line in text.splitlines())


def context_preamble(context: PromptContext) -> str:
    """The lines that go before the prefix: the file's path, snippets as comments, the header.

    Snippets are commented out (as neighbouring-file context is commonly given to code models),
    so a model that is not trained on multi-file formats still reads them as code it may reuse.
    """
    marker = comment_marker(context.language)
    parts = []
    for snippet in context.snippets:
        parts.append(f"{marker} Compare this snippet from {snippet.path}:\n")
        parts.append(_commented(snippet.text, marker))
    if context.path:
        parts.append(f"{marker} Path: {context.path}\n")
    if context.header:
        parts.append(context.header if context.header.endswith("\n") else context.header + "\n")
    return "".join(parts)


SYSTEM = (
    "You are a code completion engine. Reply with only the code to insert at <CURSOR>: no "
    "explanation, no repetition of the code around it, no Markdown fences. Reply with nothing "
    "when unsure."
)


def build_prompt(
    context: PromptContext, style: str, template: FimTemplate | None, line_stop: tuple[str, ...]
) -> Prompt:
    """The prompt of ``style`` for ``context``; ``line_stop`` ends the output (``"\\n"`` for one
    line, a blank line for a block)."""
    preamble = context_preamble(context)
    prefix = context.prefix.rstrip(" \t")
    trimmed = context.prefix[len(prefix) :]
    if style == FIM and template is not None:
        text = template.template.replace("{prefix}", preamble + prefix, 1)
        text = text.replace("{suffix}", context.suffix, 1)
        return Prompt(FIM, text=text, stop=_stops(template.stop, line_stop), trimmed=trimmed)
    if style == CHAT:
        fence = "```"
        user = []
        for snippet in context.snippets:
            user.append(f"Related code from {snippet.path}:\n{fence}\n{snippet.text}\n{fence}\n\n")
        user.append(f"Complete the code at <CURSOR> in {context.path or 'this file'}:\n")
        user.append(f"{fence}{context.language}\n{context.header}{context.prefix}<CURSOR>")
        user.append(f"{context.suffix}\n{fence}")
        messages = (
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "".join(user)},
        )
        return Prompt(CHAT, messages=messages, stop=())
    return Prompt(PREFIX, text=preamble + prefix, stop=_stops((), line_stop), trimmed=trimmed)


def _stops(special: tuple[str, ...], line_stop: tuple[str, ...]) -> tuple[str, ...]:
    # OpenAI-style APIs accept at most four stop sequences: the line rule first, then the
    # special tokens most likely to appear; ``clean_completion`` cuts at any others.
    return (*line_stop, *special)[:4]


_FENCE = re.compile(r"^\s*```[\w+-]*\n?|\n?```\s*$")


def clean_completion(text: str, style: str, line_prefix: str = "") -> str:
    """The model's output as insertable code: cut at special tokens, fences and echo removed.

    Returns "" for output that is not text (control characters, replacement characters).
    """
    special = _SPECIAL.search(text)
    if special:
        text = text[: special.start()]
    if style == CHAT:
        text = text.replace("<CURSOR>", "")
        if "```" in text:
            inner = re.search(r"```[\w+-]*\n(.*?)(?:```|\Z)", text, re.DOTALL)
            text = inner.group(1) if inner else _FENCE.sub("", text)
        # Chat models often repeat the line they were asked to finish.
        head = line_prefix.lstrip()
        body = text.lstrip()
        if head and body.startswith(head):
            text = body[len(head) :]
        elif head.strip() and body.startswith(head.rstrip()):
            text = body[len(head.rstrip()) :].lstrip(" \t")
    if "\ufffd" in text or any(ord(ch) < 32 and ch not in "\n\t\r" for ch in text):
        return ""
    return text.replace("\r\n", "\n")

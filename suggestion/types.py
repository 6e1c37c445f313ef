"""What the completion engines take and give.

Boundary: plain data between the server (which builds requests from LSP params) and the
engines (local, LLM); no protocol types. Positions are code-point ``Point``s.
"""

from __future__ import annotations

from dataclasses import dataclass

from tactful.analyzers.text import DocumentEdit, Point


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A request for what comes next at ``position`` of a document."""

    uri: str
    path: str | None
    language_id: str
    version: int
    text: str
    position: Point
    workspace_root: str | None = None
    max_lines: int = 8
    # Set by clients that say why they ask: "automatic" (typing) or "invoked" (a key).
    trigger: str = "automatic"
    # The document's latest edits up to ``version`` (oldest first): an engine that keeps its
    # own copy of the document follows them instead of reading ``text`` whole again.
    edits: tuple[DocumentEdit, ...] = ()

    @property
    def prefix_line(self) -> str:
        return (
            self.text.split("\n")[self.position.line][: self.position.column] if self.text else ""
        )


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Text proposed for insertion at the request's position, with what its engine knows of it.

    ``replace_prefix`` characters before the cursor on its line are replaced (0: pure insert),
    so an engine can rewrite the start of a word. Frozen all the way down: what is decided
    about a suggestion later (cleaned, judged, shown) is carried by the request's turn
    (``tactful.feedback.turn``), never written into it.
    """

    text: str
    engine: str
    score: float = 0.0
    replace_prefix: int = 0
    label: str | None = None
    kind: str = "text"  # "token", "line", "lines" or, for list completions, "name"
    # Which of the engine's sources proposed it: the local engine's "ngram" (its statistics,
    # or jedi's names where they are silent) or "shape" (the line above); the LLM engine's
    # "model", "prompt-cache" (the same prompt answered before) or "typed-ahead" (the rest of
    # its last suggestion, which the developer is typing along).
    origin: str = ""
    # The local engine's evidence for its statistics' suggestions: the first token's
    # probability, its lead over the runner-up, the least likely token's probability, the
    # longest context that had seen the first token, and how often
    # (``tactful.suggestion.local.predict.Continuation``).
    evidence: tuple[float, float, float, int, float] | None = None
    # Made inside a string or comment that spans lines (a docstring): prose, not code.
    prose: bool = False

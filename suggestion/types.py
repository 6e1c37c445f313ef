"""What the completion engines take and give.

Boundary: plain data between the server (which builds requests from LSP params) and the
engines (local, LLM); no protocol types. Positions are code-point ``Point``s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tactful.analyzers.text import Point


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

    @property
    def prefix_line(self) -> str:
        return (
            self.text.split("\n")[self.position.line][: self.position.column] if self.text else ""
        )


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Text proposed for insertion at the request's position.

    ``replace_prefix`` characters before the cursor on its line are replaced (0: pure insert),
    so an engine can rewrite the start of a word.
    """

    text: str
    engine: str
    score: float = 0.0
    replace_prefix: int = 0
    label: str | None = None
    kind: str = "text"  # "token", "line", "lines" or, for list completions, "name"
    meta: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

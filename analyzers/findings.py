"""Findings: what an analyzer says about a place in a file, with the fix it proposes, if any.

Boundary: plain data shared by the static-analysis adapters (ruff), the review commenters and
the fix proposers. Never holds protocol types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from tactful.analyzers.text import Edit, Span


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"


class Applicability(Enum):
    """How far a fix can be trusted without running anything (ruff's terms)."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True, slots=True)
class Fix:
    """Edits that resolve a finding, described for people."""

    title: str
    edits: tuple[Edit, ...]
    applicability: Applicability
    origin: str = "ruff"  # who proposed it: "ruff", "recipe", "llm"


@dataclass(frozen=True, slots=True)
class Finding:
    """One static-analysis or review finding on a span of a file (path relative to the root)."""

    path: str
    span: Span
    rule: str
    message: str
    severity: Severity = Severity.WARNING
    source: str = "ruff"
    url: str | None = None
    fixes: tuple[Fix, ...] = field(default=())

"""GitHub workflow annotations: the ``--format github`` output of ``review`` (and of ``fix``).

Boundary: string formatting only. One line per annotation, in the workflow-command syntax the
Actions runner reads from a step's output (``::warning file=…,line=…::message``), escaped as
the runner unescapes it: in the message ``%``, CR and LF; in a property also ``:`` and ``,``
(the separators of the property list). Paths are relative to the repository root, which is
where the runner resolves them, and lines and columns are 1-based.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The levels the runner knows; anything else would be printed as a plain line.
LEVELS = ("error", "warning", "notice")


def level_of(severity: str) -> str:
    """The annotation level of a finding's or comment's severity (``Severity.value``): errors
    and warnings as they are, information and hints as notices."""
    return severity if severity in ("error", "warning") else "notice"


def escape_data(text: str) -> str:
    """A message as the runner reads it back (``%`` first, so no escape is escaped twice)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: a message's escapes, plus the ``:`` and ``,`` that delimit
    properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One annotation on lines ``line``..``end_line`` of ``file`` (1-based); columns are only
    meaningful, and only written, on a single line."""

    level: str
    message: str
    file: str
    line: int
    end_line: int | None = None
    column: int | None = None
    end_column: int | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"annotation level must be one of {LEVELS}, not {self.level!r}")

    def command(self) -> str:
        end_line = self.end_line if self.end_line is not None else self.line
        properties: list[tuple[str, object]] = [("file", self.file), ("line", self.line)]
        properties.append(("endLine", end_line))
        # GitHub ignores columns on an annotation that spans several lines.
        if self.column is not None and end_line == self.line:
            properties.append(("col", self.column))
            if self.end_column is not None:
                properties.append(("endColumn", self.end_column))
        if self.title:
            properties.append(("title", self.title))
        rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties)
        return f"::{self.level} {rendered}::{escape_data(self.message)}"


def render(annotations: Iterable[Annotation]) -> str:
    """The workflow commands, one per line (empty when there is nothing to say)."""
    return "".join(annotation.command() + "\n" for annotation in annotations)

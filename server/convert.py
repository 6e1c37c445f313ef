"""Conversion between domain types and LSP types, in the client's position encoding.

Boundary: the only module that maps ``Point``/``Span``/``Edit``/``Finding`` (code-point
columns, see analyzers/text.py) to LSP ``Position``/``Range``/``TextEdit``/``Diagnostic`` and
back. Columns are converted with the text of the line they are on, so characters outside the
Basic Multilingual Plane count as two UTF-16 units, as LSP requires.
"""

from __future__ import annotations

from lsprotocol import types

from tactful.analyzers.document import Document
from tactful.analyzers.findings import Finding, Severity
from tactful.analyzers.text import (
    Edit,
    LineIndex,
    Point,
    Span,
    TextChange,
    column_from_units,
    units_from_column,
)


class Lines:
    """Line texts of one version of a document, for converting columns."""

    def __init__(self, text: str, index: LineIndex | None = None) -> None:
        self.text = text
        self.index = index or LineIndex(text)

    @classmethod
    def of(cls, document: Document) -> Lines:
        return cls(document.text, document.lines)

    def line(self, number: int) -> str:
        return self.index.line_text(number, self.text)


def to_point(position: types.Position, lines: Lines, encoding: str) -> Point:
    """The domain point of an LSP position."""
    line_text = lines.line(position.line)
    return Point(position.line, column_from_units(line_text, position.character, encoding))


def to_position(point: Point, lines: Lines, encoding: str) -> types.Position:
    line_text = lines.line(point.line)
    return types.Position(
        line=point.line, character=units_from_column(line_text, point.column, encoding)
    )


def to_range(span: Span, lines: Lines, encoding: str) -> types.Range:
    return types.Range(
        start=to_position(span.start, lines, encoding), end=to_position(span.end, lines, encoding)
    )


def to_span(range_: types.Range, lines: Lines, encoding: str) -> Span:
    return Span(to_point(range_.start, lines, encoding), to_point(range_.end, lines, encoding))


def to_text_edit(edit: Edit, lines: Lines, encoding: str) -> types.TextEdit:
    return types.TextEdit(range=to_range(edit.span, lines, encoding), new_text=edit.new_text)


def to_changes(
    events: list[types.TextDocumentContentChangeEvent], document: Document, encoding: str
) -> list[TextChange]:
    """The client's content changes as domain changes.

    Each change's range refers to the text after the previous change, so the line texts used
    for the conversion are those of a scratch copy kept up to date change by change.
    """
    changes: list[TextChange] = []
    text = document.text
    index = document.lines
    for event in events:
        if isinstance(event, types.TextDocumentContentChangeWholeDocument) or not hasattr(
            event, "range"
        ):
            changes.append(TextChange(event.text))
            text = event.text
            index = LineIndex(text)
            continue
        lines = Lines(text, index)
        start = to_point(event.range.start, lines, encoding)
        end = to_point(event.range.end, lines, encoding)
        changes.append(TextChange(event.text, start, end))
        if len(events) > 1:
            begin = index.offset(start, text)
            stop = index.offset(end, text)
            text = text[:begin] + event.text + text[stop:]
            index = LineIndex(text)
    return changes


_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


def to_diagnostic(
    finding: Finding, lines: Lines, encoding: str, source: str, data: object = None
) -> types.Diagnostic:
    return types.Diagnostic(
        range=to_range(finding.span, lines, encoding),
        message=finding.message,
        severity=_SEVERITY[finding.severity],
        code=finding.rule,
        code_description=types.CodeDescription(href=finding.url) if finding.url else None,
        source=source,
        data=data,
    )

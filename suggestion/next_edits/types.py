"""What next edits are made of: the edits a developer made, and the edits proposed to follow them.

Boundary: plain frozen data shared by the edit history, the proposers, the checks and (in the
server) the conversion to the LSP. Positions are code-point ``Point``s of the target document's
text as it is now; nothing here knows the protocol or holds a parse tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from tactful.analyzers.text import Point, Span

# Where a next edit comes from (``NextEdit.source``).
REPEAT = "repeat"  # an edit the developer made, repeated at another place it applies to
RENAME = "rename"  # a renamed definition followed at its references
SIGNATURE = "signature"  # a changed parameter list followed at the calls and in the docstring
ATTRIBUTE = "attribute"  # a renamed ``self.x`` followed at its uses in the class
IMPORT = "import"  # an import the edit left unused, removed; or one it needs, added
LLM = "llm"  # the configured model's answer
SOURCES = (REPEAT, RENAME, SIGNATURE, ATTRIBUTE, IMPORT, LLM)


@dataclass(frozen=True, slots=True)
class RecordedEdit:
    """One edit a developer made to a document: what the text was and what it became.

    Keystrokes at one place are coalesced into one edit, trimmed to the text that really
    changed: ``before[start:old_end]`` became ``after[start:new_end]`` (code-point offsets; the
    texts agree before ``start`` and after the two ends). ``sequence`` orders edits across the
    documents of a workspace.
    """

    uri: str
    path: str | None
    language_id: str
    sequence: int
    before: str
    after: str
    start: int
    old_end: int
    new_end: int

    @property
    def old_text(self) -> str:
        return self.before[self.start : self.old_end]

    @property
    def new_text(self) -> str:
        return self.after[self.start : self.new_end]

    @property
    def span_before(self) -> Span:
        return Span(_point(self.before, self.start), _point(self.before, self.old_end))

    @property
    def span_after(self) -> Span:
        return Span(_point(self.after, self.start), _point(self.after, self.new_end))


@dataclass(frozen=True, slots=True)
class NextEditRequest:
    """An editor asks for next edits at ``position`` of version ``version`` of ``uri``."""

    uri: str
    path: str | None
    language_id: str
    version: int
    position: Point
    workspace_root: str | None = None


@dataclass(frozen=True, slots=True)
class Feature:
    """One named number of the evidence behind a next edit, for people and for a learned model."""

    name: str
    value: float


@dataclass(frozen=True, slots=True)
class NextEdit:
    """A proposed edit: replace ``span`` (which now holds ``old_text``) in ``uri`` by ``new_text``.

    ``label`` says what it does in the user's words ("rename `foo` → `bar` (3 more)"); ``source``
    is one of ``SOURCES``; ``score`` is the proposer's confidence in [0, 1]; ``evidence`` holds the
    facts it rests on (how many times the developer made this edit, how many places it applies
    to, how far away it is...), which the acceptance model can read. ``origin`` is the sequence
    number of the recorded edit it follows from (-1 when none).
    """

    uri: str
    path: str | None
    span: Span
    old_text: str
    new_text: str
    label: str
    source: str
    score: float
    evidence: tuple[Feature, ...] = ()
    origin: int = -1

    @property
    def key(self) -> tuple[str, int, int, int, int, str]:
        """What makes two proposals the same proposal (the place and the text)."""
        return (
            self.uri,
            self.span.start.line,
            self.span.start.column,
            self.span.end.line,
            self.span.end.column,
            self.new_text,
        )

    def feature(self, name: str, default: float = 0.0) -> float:
        for feature in self.evidence:
            if feature.name == name:
                return feature.value
        return default


def _point(text: str, offset: int) -> Point:
    line = text.count("\n", 0, offset)
    return Point(line, offset - (text.rfind("\n", 0, offset) + 1))

"""Next edits: after one change, the follow-up changes elsewhere, checked before they are shown.

Boundary: plain Python (no protocol types); the server feeds ``EditHistory`` from ``didChange``
and calls ``NextEditEngine.suggest`` off the event loop. Sources of next edits: repeated edits
learned on the fly (``repeat.py``), propagation of renames and signature changes
(``propagate.py``) and a model when one is configured (``llm.py``); ``checks.py`` keeps only
those after which the file parses as well as before and ruff finds nothing new.
"""

from tactful.suggestion.next_edits.checks import CheckedDocument, Checker, Verdict
from tactful.suggestion.next_edits.engine import (
    THRESHOLD,
    NextEditEngine,
    NextEditOptions,
    labelled,
)
from tactful.suggestion.next_edits.history import EditHistory
from tactful.suggestion.next_edits.llm import ModelConfig
from tactful.suggestion.next_edits.targets import WorkspaceFiles
from tactful.suggestion.next_edits.types import (
    ATTRIBUTE,
    IMPORT,
    LLM,
    RENAME,
    REPEAT,
    SIGNATURE,
    SOURCES,
    Feature,
    NextEdit,
    NextEditRequest,
    RecordedEdit,
)

__all__ = [
    "ATTRIBUTE",
    "IMPORT",
    "LLM",
    "RENAME",
    "REPEAT",
    "SIGNATURE",
    "SOURCES",
    "THRESHOLD",
    "CheckedDocument",
    "Checker",
    "EditHistory",
    "Feature",
    "ModelConfig",
    "NextEdit",
    "NextEditEngine",
    "NextEditOptions",
    "NextEditRequest",
    "RecordedEdit",
    "Verdict",
    "WorkspaceFiles",
    "labelled",
]

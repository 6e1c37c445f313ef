"""Review comments, judged and spoken: the review pipeline (``pipeline.py``), what the feedback
store remembers of comments (``memory.py``) and what the tests reach (``coverage.py``).

Boundary: between the commenters of ``suggestion.review`` and the server, which turns an open
document into a review request and the comments shown into diagnostics. Nothing here knows LSP.
"""

from tactful.feedback.review.coverage import MapCoverage, coverage_map, load_coverage
from tactful.feedback.review.memory import (
    comment_detail,
    dismissal,
    load_memory,
    memory_from_events,
    resolved_comments,
)

__all__ = [
    "MapCoverage",
    "comment_detail",
    "coverage_map",
    "dismissal",
    "load_coverage",
    "load_memory",
    "memory_from_events",
    "resolved_comments",
]

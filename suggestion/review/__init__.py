"""Review comments on changed lines: rules, ruff and an LLM over a git diff, ranked and capped.

Boundary: the propose step of review; the server shows what ``review_diff`` returns and the
feedback layer supplies what the user dismissed and what the tests reach.
"""

from tactful.suggestion.review.comments import Comment, Review, Reviewer, comment_id
from tactful.suggestion.review.ranking import Memory
from tactful.suggestion.review.review import (
    Progress,
    ReviewOptions,
    review_diff,
    review_working_tree,
)

__all__ = [
    "Comment",
    "Memory",
    "Progress",
    "Review",
    "ReviewOptions",
    "Reviewer",
    "comment_id",
    "review_diff",
    "review_working_tree",
]

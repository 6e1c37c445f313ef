"""Fix proposers for static-analysis findings, and the ruff screen their candidates pass.

Boundary: proposes and screens (with ruff only); running the project's tests on a candidate is
the execution judge's job in ``tactful.feedback``. Proposers, in order: ruff's own fix, recipes
of ours (``recipes``), repairs of syntax errors (``syntax``), and an LLM (``llm``) when one is
configured. None of them raises on broken code.
"""

from __future__ import annotations

from tactful.analyzers.findings import Finding, Fix
from tactful.analyzers.ruff import SYNTAX_ERROR
from tactful.suggestion.fixes import recipes, syntax
from tactful.suggestion.fixes.screen import Rejection, Screened, dedupe, rank, screen

__all__ = ["Rejection", "Screened", "candidates", "rank", "screen"]


def candidates(finding: Finding, text: str) -> list[Fix]:
    """Every fix proposed without an LLM for ``finding`` in ``text``, ruff's first."""
    if finding.rule == SYNTAX_ERROR:
        return syntax.propose(finding, text)
    return dedupe([*finding.fixes, *recipes.propose(finding, text)])

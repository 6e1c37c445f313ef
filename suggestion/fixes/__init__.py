"""Fix proposers for static-analysis findings, and the ruff screen their candidates pass.

Boundary: proposes and screens (with ruff only); running the project's tests on a candidate is
the execution judge's job in ``tactful.feedback``. Proposers, in order: ruff's own fix, recipes
of ours (``recipes``), repairs of syntax errors (``syntax``), alternatives for when those fail
(``recipes`` too), and an LLM (``llm``) when one is configured. None of them raises on broken
code.
"""

from __future__ import annotations

from tactful.analyzers.findings import Finding, Fix
from tactful.analyzers.ruff import SYNTAX_ERROR
from tactful.suggestion.fixes.screen import Rejection, Screened, dedupe, rank, screen

__all__ = ["Rejection", "Screened", "alternatives", "candidates", "rank", "screen"]


def candidates(finding: Finding, text: str) -> list[Fix]:
    """Every fix proposed without an LLM for ``finding`` in ``text``, ruff's first."""
    # The recipes (libcst) and the syntax repairs load with the first finding to fix: the
    # server imports this package at start-up, when nothing needs them yet.
    from tactful.suggestion.fixes import recipes, syntax

    if finding.rule == SYNTAX_ERROR:
        return syntax.propose(finding, text)
    return dedupe([*finding.fixes, *recipes.propose(finding, text)])


def alternatives(finding: Finding, text: str) -> list[Fix]:
    """Fixes to judge only when no candidate survives ruff and the tests: another way to
    satisfy the rule where the usual fix cannot be taken (FA100 without the ``__future__``
    import)."""
    from tactful.suggestion.fixes import recipes

    if finding.rule == SYNTAX_ERROR:
        return []
    return recipes.propose_alternatives(finding, text)

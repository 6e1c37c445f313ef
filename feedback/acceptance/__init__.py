"""Acceptance prediction: will this developer take what we are about to show?

A cascade (DESIGN §4): ``AcceptanceModel.gate`` decides from the context alone whether to ask an
engine at all, ``AcceptanceModel.judge`` whether to show a generated suggestion; ``ItemModel``
does the same for review comments and fixes. Each starts from a prior and learns online.
"""

from tactful.feedback.acceptance.cascade import AcceptanceModel, Decision, History
from tactful.feedback.acceptance.features import Candidate, Context
from tactful.feedback.acceptance.items import Item, ItemModel
from tactful.feedback.acceptance.model import LogisticModel, Prior, Stage, shipped_prior

__all__ = [
    "AcceptanceModel",
    "Candidate",
    "Context",
    "Decision",
    "History",
    "Item",
    "ItemModel",
    "LogisticModel",
    "Prior",
    "Stage",
    "shipped_prior",
]

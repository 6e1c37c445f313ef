"""Execution feedback: an edit judged by the workspace's own tests, run in a sandboxed copy.

Boundary: the public surface of the execution judge for the fix proposers, the server and the
CLI. Nothing here runs workspace code unless the workspace is trusted. ``Sandbox`` validates edits
or unified diffs and returns a ``Verdict``; ``available_backend`` says which sandbox is in force;
``find_environment`` says which interpreter runs a workspace's tests, and why.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tactful.feedback.execution.backends import (
        BackendInfo,
        all_backends,
        available_backend,
    )
    from tactful.feedback.execution.environment import Environment, find_environment
    from tactful.feedback.execution.judge import Sandbox
    from tactful.feedback.execution.options import ValidationOptions
    from tactful.feedback.execution.patch import PatchError
    from tactful.feedback.execution.verdict import (
        ChangeCheck,
        Counterexample,
        Selection,
        Status,
        TestFailure,
        Verdict,
    )

# Each name of the surface and its module, loaded when first asked for: the server imports a
# verdict's types at start-up without the judge, its runner and its sandboxes.
_MODULES = {
    "BackendInfo": "backends",
    "ChangeCheck": "verdict",
    "Counterexample": "verdict",
    "Environment": "environment",
    "PatchError": "patch",
    "Sandbox": "judge",
    "Selection": "verdict",
    "Status": "verdict",
    "TestFailure": "verdict",
    "ValidationOptions": "options",
    "Verdict": "verdict",
    "all_backends": "backends",
    "available_backend": "backends",
    "find_environment": "environment",
}
__all__ = [
    "BackendInfo",
    "ChangeCheck",
    "Counterexample",
    "Environment",
    "PatchError",
    "Sandbox",
    "Selection",
    "Status",
    "TestFailure",
    "ValidationOptions",
    "Verdict",
    "all_backends",
    "available_backend",
    "find_environment",
]


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return vars(importlib.import_module(f"{__name__}.{module}"))[name]

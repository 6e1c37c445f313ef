"""Execution feedback: an edit judged by the workspace's own tests, run in a sandboxed copy.

Boundary: the public surface of the execution judge for the fix proposers, the server and the
CLI. Nothing here runs workspace code unless the workspace is trusted. ``Sandbox`` validates edits
or unified diffs and returns a ``Verdict``; ``available_backend`` says which sandbox is in force;
``find_environment`` says which interpreter runs a workspace's tests, and why.
"""

from tactful.feedback.execution.backends import BackendInfo, all_backends, available_backend
from tactful.feedback.execution.environment import Environment, find_environment
from tactful.feedback.execution.judge import Sandbox, ValidationOptions
from tactful.feedback.execution.patch import PatchError
from tactful.feedback.execution.verdict import Counterexample, Selection, Status, Verdict

__all__ = [
    "BackendInfo",
    "Counterexample",
    "Environment",
    "PatchError",
    "Sandbox",
    "Selection",
    "Status",
    "ValidationOptions",
    "Verdict",
    "all_backends",
    "available_backend",
    "find_environment",
]

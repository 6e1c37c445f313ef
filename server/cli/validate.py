"""``tactful validate --patch FILE [PATH] [--format text|json]``: does a diff keep the tests green?

Applies a unified diff (``git diff``, ``diff -u``; ``-`` reads it from standard input) to a
sandboxed copy of the workspace at PATH (default: the current folder), runs the tests that cover
the changed lines, and prints the verdict. The workspace itself is never written.

Exit codes: 0 the tests ran the changed code and passed (``passed``), or no test runs it and the
old and the new code behaved the same on every input tried (``equivalent``); 1 anything that
proves less or worse: the tests pass but none runs the changed code (``unexercised``), the new
code behaves differently (``different``), the tests failed, timed out or could not run; 2 a usage
or settings error: no such patch file, a diff that does not apply, an untrusted workspace
(``tactful trust``), no usable sandbox, or validation turned off. The JSON format is documented
in docs/validate-json.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tactful.feedback.execution import Status, Verdict
from tactful.server.cli import load_settings
from tactful.server.validation import sandbox_for

JSON_VERSION = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="apply a diff in a sandboxed copy and run the tests that cover it (exit 1: failed)",
        description="Apply a unified diff to a sandboxed copy of the workspace and run the "
        "tests that cover the changed lines.",
    )
    parser.add_argument(
        "--patch", required=True, metavar="FILE", help="unified diff to apply; - for stdin"
    )
    parser.add_argument("path", nargs="?", default=".", help="workspace folder (default: .)")
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="format")
    parser.set_defaults(func=run)


def _read_patch(name: str) -> str:
    """The diff as written: bytes decoded, line ends kept (a file's ``\\r\\n`` is part of the
    lines of its diff, which text mode would turn into ``\\n``)."""
    data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    return data.decode("utf-8")


def exit_code(verdict: Verdict) -> int:
    if verdict.status in (Status.PASSED, Status.EQUIVALENT):
        return 0
    if verdict.status is Status.NOT_VALIDATED:
        return 2
    return 1


def run(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.is_dir():
        print(f"tactful validate: {root} is not a folder", file=sys.stderr)
        return 2
    try:
        patch = _read_patch(args.patch)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"tactful validate: cannot read the patch: {exc}", file=sys.stderr)
        return 2
    sandbox = sandbox_for(root, load_settings(root.resolve(), "validate"))
    refused = sandbox.patch_problem(patch)
    if refused:
        print(f"tactful validate: {refused}", file=sys.stderr)
        return 2
    verdict = sandbox.validate_sync(patch=patch)
    if args.format == "json":
        payload = {"version": JSON_VERSION, "workspace": str(sandbox.root), **verdict.to_json()}
        json.dump(payload, sys.stdout, indent=2)
        print()
    else:
        _print_text(verdict)
    return exit_code(verdict)


def _print_text(verdict: Verdict) -> None:
    print(f"{verdict.status.value}: {verdict.summary()}")
    details = []
    if verdict.selection.value != "none":
        details.append(f"selection: {verdict.selection.value}")
    if verdict.backend:
        details.append(f"sandbox: {verdict.backend}")
    if verdict.duration_s:
        details.append(f"{verdict.duration_s:.1f} s")
    if verdict.cached:
        details.append("cached")
    if details:
        print("  " + ", ".join(details))
    if verdict.selection_reason:
        print(f"  tests chosen: {verdict.selection_reason}")
    if verdict.interpreter:
        print(f"  interpreter: {verdict.interpreter}")
    if verdict.reason and verdict.status is not Status.NOT_VALIDATED:
        print(f"  {verdict.reason}")
    for label in verdict.unexercised:
        print(f"  no test runs: {label}")
    if verdict.counterexample is not None:
        example = verdict.counterexample
        print(f"  {example.function}: {example.input}")
        print(f"    before the change: {example.old}")
        print(f"    after the change:  {example.new}")
    for node in verdict.failing_before[:5]:
        print(f"  set aside (fails without the change too): {node}")
    if len(verdict.failing_before) > 5:
        print(f"  … and {len(verdict.failing_before) - 5} more set aside")
    for node in verdict.failed_ids:
        print(f"  failed: {node}")
    if verdict.failures and verdict.status is not Status.PASSED:
        print()
        print(verdict.failures)

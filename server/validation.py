"""Settings to execution judge: the validation options in force and one ``Sandbox`` per workspace.

Boundary: glue shared by the language server and the CLI. It reads the resolved, frozen settings
(``validation.*`` and the editor's ``workspace.trusted``), and the interpreter the editor has
selected, and hands the judge plain options; it never decides trust itself (the judge asks the
trust list when the editor said nothing) nor which interpreter to use (the judge finds it).
``validation_of`` is the one answer to "may the tests run on a proposed edit here, and where",
for quality fixes and next edits in other files alike (``feedback/validation.py``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tactful.server.settings import Settings

if TYPE_CHECKING:
    from tactful.feedback.execution import Sandbox, ValidationOptions
    from tactful.feedback.validation import Validation
    from tactful.server.app import TactfulServer

_sandboxes: dict[tuple[Path, ValidationOptions, bool | None], Sandbox] = {}
_lock = threading.Lock()


def validation_options(settings: Settings, selected_python: str | None = None) -> ValidationOptions:
    # The judge loads when a validation is first set up, not when the server starts.
    from tactful.feedback.execution import ValidationOptions

    section = settings.validation
    return ValidationOptions(
        enabled=section.enabled,
        sandbox=section.sandbox,
        timeout_s=section.timeout_s,
        command=tuple(section.command) if section.command else None,
        # 0 is no limit anyone means: the judge's default stands
        memory_bytes=(section.memory_mb << 20) if section.memory_mb else None,
        processes=section.processes or None,
        disk_bytes=(section.disk_mb << 20) if section.disk_mb else None,
        python=section.python,
        selected_python=selected_python,
    )


def sandbox_for(
    root: str | Path,
    settings: Settings,
    editor_trust: bool | None = None,
    selected_python: str | None = None,
) -> Sandbox:
    """The workspace's sandbox for these settings and the editor's selected interpreter (kept,
    so its caches stay warm).

    ``editor_trust`` is what the editor said about trust, when it said more than the settings
    (a trust granted while the server runs); else ``workspace.trusted`` speaks for it."""
    from tactful.feedback.execution import Sandbox

    trusted = editor_trust if editor_trust is not None else settings.workspace.trusted
    key = (Path(root).resolve(), validation_options(settings, selected_python), trusted)
    with _lock:
        sandbox = _sandboxes.get(key)
        if sandbox is None:
            sandbox = Sandbox(key[0], key[1], trusted=key[2])
            _sandboxes[key] = sandbox
        return sandbox


def validation_of(server: TactfulServer) -> Validation:
    """Whether the server's workspace may run its tests on a proposed edit, and in which
    sandbox (made when first used): validation on, the workspace trusted (the editor's word,
    else the trust list), and a workspace folder."""
    from tactful.feedback.validation import Validation

    settings = server.settings
    root = server.workspace_root
    editor_trust = server.editor_trust
    selected_python = server.selected_python

    def tests() -> Sandbox:
        assert root is not None
        return sandbox_for(root, settings, editor_trust, selected_python)

    return Validation.decide(
        enabled=settings.validation.enabled,
        trusted=server.trusted,
        has_folder=root is not None,
        tests=tests,
    )

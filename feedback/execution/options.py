"""The ``validation.*`` settings as the execution judge reads them.

Boundary: data only. The server resolves the settings into one ``ValidationOptions``; the
judge and each of its parts (the runner, the warm pytest, the differential check, the coverage
map's upkeep) read it and never change it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tactful.feedback.execution.differential import GENERATED_INPUTS


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """The ``validation.*`` settings the judge needs (the server resolves them)."""

    enabled: bool = True
    sandbox: str = "auto"  # "auto", "bwrap", "unshare", "none"
    timeout_s: float = 60.0
    command: tuple[str, ...] | None = None  # None: `python -m pytest` with the project's Python
    python: str | None = None  # validation.python: the project's interpreter, chosen by the user
    selected_python: str | None = None  # the interpreter the editor has selected
    stop_at_first_failure: bool = True  # a failing edit needs one failure, not all of them
    coverage_map: bool = True  # build the coverage map in the background once trusted
    differential: bool = True  # for code no test runs, compare old and new on inputs
    inputs: int = GENERATED_INPUTS  # generated inputs per changed function
    memory_bytes: int | None = None  # resident memory of a run's processes (None: the default)
    processes: int | None = None  # processes a run may have at once (None: 512)
    disk_bytes: int | None = None  # bytes a run may write to its copy and to /tmp (None: 1 GiB)
    warm_pytest: bool = True  # fork runs from a pytest kept imported (False: a fresh one each)

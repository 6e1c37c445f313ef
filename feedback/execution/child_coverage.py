"""``sitecustomize`` for the Python processes of a validation run: it records what they run.

Boundary: copied as ``sitecustomize.py`` into the run's helper folder (on ``PYTHONPATH``); it runs
at the start of every Python process there, under the workspace's interpreter, so it imports
only the standard library and coverage, and never fails a process. Two uses:

- the coverage map (``TACTFUL_PROBE_CONTEXT`` names the test that started the process, the probe
  sets it): the process records its coverage under that test's node id, into a data file of its
  own beside the main one;
- did the tests run the change (``TACTFUL_EXERCISE_DATA``): the process measures the changed
  Python files only (``TACTFUL_EXERCISE_INCLUDE``, a JSON list), and notes, through an audit
  hook, whether it opened a changed non-Python file (``TACTFUL_EXERCISE_FILES``) or tried to
  import a deleted module (``TACTFUL_EXERCISE_MODULES``). A ``.events`` file says it started.
  At exit it notes each module of ``TACTFUL_EXERCISE_HOMES`` (a JSON file: the copy's roots and
  the workspace's modules, with their paths) that it imported from a file outside the copy.

``TACTFUL_PROBE_COVERAGE_PATH`` is a folder holding coverage alone, for interpreters without it.
Imported under another name (the warm pytest loads it into a forked run), it does nothing until
``start()`` is called. Then it hands over to the ``sitecustomize`` it shadows, if there is one.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from typing import Any

# typing.TYPE_CHECKING without importing typing at the start of every process
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType


def _coverage() -> ModuleType | None:
    try:
        import coverage
    except ImportError:
        fallback = os.environ.get("TACTFUL_PROBE_COVERAGE_PATH")
        if not fallback:
            return None
        sys.path.append(fallback)
        try:
            import coverage
        finally:
            sys.path.remove(fallback)
    return coverage


def _start_map() -> None:
    context = os.environ.get("TACTFUL_PROBE_CONTEXT")
    data_file = os.environ.get("TACTFUL_PROBE_COVERAGE")
    if not context or not data_file:
        return
    coverage = _coverage()
    if coverage is None:
        return
    cov = coverage.Coverage(
        data_file=data_file, data_suffix=True, config_file=False, context=context
    )
    cov.start()

    def save() -> None:
        cov.stop()
        cov.save()

    atexit.register(save)


def _start_exercise() -> None:
    data_file = os.environ.get("TACTFUL_EXERCISE_DATA")
    if not data_file:
        return
    events_path = f"{data_file}.{os.getpid()}.events"
    with open(events_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"started": os.getpid()}) + "\n")
    files = set(json.loads(os.environ.get("TACTFUL_EXERCISE_FILES") or "[]"))
    modules = set(json.loads(os.environ.get("TACTFUL_EXERCISE_MODULES") or "[]"))
    if files or modules:
        seen: set[tuple[str, str]] = set()

        def note(event: str, args: tuple[object, ...]) -> None:
            if event == "open" and files and args and isinstance(args[0], (str, bytes)):
                name = os.path.abspath(os.fsdecode(args[0]))
                key = ("open", name)
                if name in files and key not in seen:
                    seen.add(key)
                    with open(events_path, "a", encoding="utf-8") as out:
                        out.write(json.dumps({"open": name}) + "\n")
            elif event == "import" and modules and args and args[0] in modules:
                module = str(args[0])  # the audit event's first argument: the module's name
                key = ("import", module)
                if key not in seen:
                    seen.add(key)
                    with open(events_path, "a", encoding="utf-8") as out:
                        out.write(json.dumps({"import": module}) + "\n")

        sys.addaudithook(note)
    homes_file = os.environ.get("TACTFUL_EXERCISE_HOMES")
    if homes_file:
        with open(homes_file, encoding="utf-8") as handle:
            atexit.register(_note_elsewhere, events_path, json.load(handle))
    include = json.loads(os.environ.get("TACTFUL_EXERCISE_INCLUDE") or "[]")
    if not include:
        return
    coverage = _coverage()
    if coverage is None:
        return
    cov = coverage.Coverage(
        data_file=data_file, data_suffix=True, config_file=False, include=include, branch=False
    )
    cov.start()

    def save() -> None:
        cov.stop()
        cov.save()

    atexit.register(save)


def _note_elsewhere(events_path: str, homes: dict[str, list[Any]]) -> None:
    """Note each changed module this process imported from another file than the change's:
    the same dotted name and path tail, loaded from outside the copy."""
    inside = tuple(os.path.join(str(root), "") for root in homes.get("roots", []))
    for name, tail, paths in homes.get("modules", []):
        module = sys.modules.get(str(name))
        loaded = getattr(module, "__file__", None)
        if not isinstance(loaded, str) or not isinstance(paths, list):
            continue
        loaded = os.path.abspath(loaded)
        if loaded.startswith(inside) or not loaded.replace(os.sep, "/").endswith("/" + str(tail)):
            continue
        with open(events_path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"elsewhere": [paths[0], str(name), loaded]}) + "\n")


def start() -> None:
    """Start whatever the environment asks for (a process must start even when this cannot)."""
    with contextlib.suppress(Exception):
        _start_map()
    with contextlib.suppress(Exception):
        _start_exercise()


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    others = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if __name__ == "sitecustomize":
    start()
    _chain()

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

``TACTFUL_PROBE_COVERAGE_PATH`` is a folder holding coverage alone, for interpreters without it.
Imported under another name (the warm pytest loads it into a forked run), it does nothing until
``start()`` is called. Then it hands over to the ``sitecustomize`` it shadows, if there is one.
"""

import atexit
import contextlib
import importlib.machinery
import importlib.util
import json
import os
import sys


def _coverage():
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


def _start_map():
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

    def save():
        cov.stop()
        cov.save()

    atexit.register(save)


def _start_exercise():
    data_file = os.environ.get("TACTFUL_EXERCISE_DATA")
    if not data_file:
        return
    events_path = f"{data_file}.{os.getpid()}.events"
    with open(events_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"started": os.getpid()}) + "\n")
    files = set(json.loads(os.environ.get("TACTFUL_EXERCISE_FILES") or "[]"))
    modules = set(json.loads(os.environ.get("TACTFUL_EXERCISE_MODULES") or "[]"))
    if files or modules:
        seen = set()

        def note(event, args):
            if event == "open" and files and args and isinstance(args[0], (str, bytes)):
                name = os.path.abspath(os.fsdecode(args[0]))
                key = ("open", name)
                if name in files and key not in seen:
                    seen.add(key)
                    with open(events_path, "a", encoding="utf-8") as out:
                        out.write(json.dumps({"open": name}) + "\n")
            elif event == "import" and modules and args and args[0] in modules:
                key = ("import", args[0])
                if key not in seen:
                    seen.add(key)
                    with open(events_path, "a", encoding="utf-8") as out:
                        out.write(json.dumps({"import": args[0]}) + "\n")

        sys.addaudithook(note)
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

    def save():
        cov.stop()
        cov.save()

    atexit.register(save)


def start():
    """Start whatever the environment asks for (a process must start even when this cannot)."""
    with contextlib.suppress(Exception):
        _start_map()
    with contextlib.suppress(Exception):
        _start_exercise()


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    others = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if __name__ == "sitecustomize":
    start()
    _chain()

"""``sitecustomize`` for the processes that tests start while the coverage map is made.

Boundary: copied as ``sitecustomize.py`` into the run's helper folder (on ``PYTHONPATH``) for a
coverage-map run only; it runs at the start of every Python process there, under the workspace's
interpreter, so it imports only the standard library and coverage, and never fails a process.
A process started by a test (``TACTFUL_PROBE_CONTEXT`` names the test; the probe sets it) records
its coverage under that test's node id, into a data file of its own beside the main one. Then it
hands over to the ``sitecustomize`` it shadows, if there is one.
"""

import atexit
import contextlib
import importlib.machinery
import importlib.util
import os
import sys


def _start():
    context = os.environ.get("TACTFUL_PROBE_CONTEXT")
    data_file = os.environ.get("TACTFUL_PROBE_COVERAGE")
    if not context or not data_file:
        return
    try:
        import coverage
    except ImportError:
        fallback = os.environ.get("TACTFUL_PROBE_COVERAGE_PATH")
        if not fallback:
            return
        sys.path.append(fallback)
        import coverage
    cov = coverage.Coverage(
        data_file=data_file, data_suffix=True, config_file=False, context=context
    )
    cov.start()

    def save():
        cov.stop()
        cov.save()

    atexit.register(save)


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    others = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


with contextlib.suppress(Exception):  # a process must start even when its coverage cannot
    _start()
_chain()

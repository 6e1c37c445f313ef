"""pytest plugin that tactful loads into a validation run as ``tactful_probe``.

Boundary: this file runs inside the sandbox under the workspace's interpreter and pytest, which
may be older than tactful's, so it imports only the standard library, pytest and (when asked)
coverage, and uses hooks that pytest has had for years. It never changes what a test does. It is
driven by environment variables:

- ``TACTFUL_PROBE_REPORT``: write outcomes, failure texts and collection errors there as JSON;
- ``TACTFUL_PROBE_SELECT``: JSON ``{"only": {"ids": [...], "files": [...]} or null,
  "skip": [...]}``; a collected test is kept when ``only`` is null or lists its node id or its
  file (relative to the working folder), and ``skip`` does not list it; the rest are deselected;
- ``TACTFUL_PROBE_COVERAGE``: record coverage with the node id of each test as its context into
  this data file (the coverage map); ``TACTFUL_PROBE_COVERAGE_PATH`` is where to find the
  coverage package when the workspace's interpreter does not have it. Python processes that a
  test starts record theirs too (``child_coverage.py``); the tests that start processes are
  listed, so that those whose children were not measured can always be selected;
- ``TACTFUL_EXERCISE_BY_TEST``: the coverage that ``child_coverage.py`` records of the changed
  code in this process is labelled with the node id of the test that ran it.

A failure's report also gives its traceback entries (path relative to the working folder,
one-based line), its exception line and the test's statement that failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import coverage

_REPORT = os.environ.get("TACTFUL_PROBE_REPORT")
_SELECT = os.environ.get("TACTFUL_PROBE_SELECT")
_COVERAGE = os.environ.get("TACTFUL_PROBE_COVERAGE")
_BY_TEST = os.environ.get("TACTFUL_EXERCISE_BY_TEST")

_collected: list[list[str]] = []  # [node id, its file], in the order collected
_outcomes: dict[str, str] = {}
_failures: list[dict[str, Any]] = []
_collect_errors: list[dict[str, str]] = []
_details: dict[tuple[str, str], dict[str, Any]] = {}  # (node id, when) -> what a failure says
_cov: coverage.Coverage | None = None
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def _start_coverage() -> coverage.Coverage:
    try:
        import coverage
    except ImportError:
        fallback = os.environ.get("TACTFUL_PROBE_COVERAGE_PATH")
        if not fallback:
            raise
        sys.path.append(fallback)
        import coverage
    cov = coverage.Coverage(data_file=_COVERAGE, config_file=False, branch=False, auto_data=False)
    cov.start()
    return cov


_current = [""]
_spawning: set[str] = set()


def _runs_python(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a new process may run Python code (a pager or an editor cannot run ours)."""
    command = kwargs.get("args", args[0] if args else "")
    executable = kwargs.get("executable") or ""
    if isinstance(command, (str, bytes, os.PathLike)):
        words = [os.fsdecode(command)]
    else:
        words = [os.fsdecode(word) for word in command]
    words.append(os.fsdecode(executable))
    return any("python" in word.lower() or word == sys.executable for word in words if word)


def _watch_processes() -> None:
    """Note the tests that start Python processes: coverage does not follow them there."""
    import subprocess

    original_init = subprocess.Popen.__init__

    def init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        try:
            if _runs_python(args, kwargs):
                _spawning.add(_current[0])
        except Exception:  # never break a test over bookkeeping; count it as spawning
            _spawning.add(_current[0])
        original_init(self, *args, **kwargs)

    subprocess.Popen.__init__ = init  # type: ignore[method-assign]  # watched, then run as it was
    if hasattr(os, "fork"):
        original_fork = os.fork

        def fork() -> int:
            _spawning.add(_current[0])
            return original_fork()

        os.fork = fork


if _COVERAGE:
    _cov = _start_coverage()
    _watch_processes()


def _relative(path: object) -> str:
    try:
        return os.path.relpath(str(path), os.getcwd()).replace(os.sep, "/")
    except ValueError:
        return str(path)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    paths: dict[str, str] = {}
    for item in items:
        path = getattr(item, "path", None) or getattr(item, "fspath", None)
        paths[item.nodeid] = _relative(path) if path is not None else ""
    if _SELECT:
        with open(_SELECT, encoding="utf-8") as handle:
            wanted = json.load(handle)
        only = wanted.get("only")
        ids = None if only is None else set(only.get("ids", ()))
        files = set() if only is None else set(only.get("files", ()))
        skip = set(wanted.get("skip", ()))

        def keep(item: pytest.Item) -> bool:
            listed = ids is None or item.nodeid in ids or paths[item.nodeid] in files
            return listed and item.nodeid not in skip

        kept = [item for item in items if keep(item)]
        dropped = [item for item in items if not keep(item)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    _collected.extend([item.nodeid, paths[item.nodeid]] for item in items)


def _exercise_coverage() -> Any:
    """The coverage of the changed code this process records, when asked to label it by test."""
    if not _BY_TEST:
        return None
    coverage = sys.modules.get("coverage")
    current = getattr(getattr(coverage, "Coverage", None), "current", None)
    try:
        return current() if current is not None else None
    except Exception:
        return None


def _switch(cov: Any, context: str) -> None:
    # not started, or too old to switch: the run is then seen as a whole
    with contextlib.suppress(Exception):
        cov.switch_context(context)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    _current[0] = item.nodeid
    exercise = _exercise_coverage() if _cov is None else None
    if _cov is not None:
        _cov.switch_context(item.nodeid)
        # processes the test starts record their coverage under its name (child_coverage.py)
        os.environ["TACTFUL_PROBE_CONTEXT"] = item.nodeid
    if exercise is not None:
        _switch(exercise, item.nodeid)
    yield
    _current[0] = ""
    if _cov is not None:
        _cov.switch_context("")
        os.environ.pop("TACTFUL_PROBE_CONTEXT", None)
    if exercise is not None:
        _switch(exercise, "")


def _failure_detail(
    item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]
) -> dict[str, Any]:
    """Traceback entries, exception line and failing statement of the test ``item``."""
    own = str(getattr(item, "path", None) or getattr(item, "fspath", ""))
    entries: list[list[object]] = []
    statement = ""
    for entry in excinfo.traceback:
        try:
            path = str(entry.path)
            entries.append([_relative(path), entry.lineno + 1])
            if path == own:
                statement = " ".join(str(entry.statement).split())
        except Exception:  # a frame without source says nothing more
            continue
    try:
        message = excinfo.exconly()
    except Exception:
        message = ""
    return {"entries": entries[-50:], "message": message[:2000], "statement": statement[:2000]}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.excinfo is not None:
        with contextlib.suppress(Exception):  # never break a run over what a report says
            _details[(item.nodeid, call.when)] = _failure_detail(item, call.excinfo)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.failed or report.skipped:
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        else:
            outcome = report.outcome
        previous = _outcomes.get(report.nodeid)
        if previous is None or _RANK[outcome] > _RANK[previous]:
            _outcomes[report.nodeid] = outcome
    if report.failed:
        failure: dict[str, Any] = {
            "id": report.nodeid,
            "when": report.when,
            "text": getattr(report, "longreprtext", "") or str(report.longrepr),
        }
        failure.update(_details.pop((report.nodeid, report.when), {}))
        _failures.append(failure)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _collect_errors.append(
            {
                "id": report.nodeid,
                "text": getattr(report, "longreprtext", "") or str(report.longrepr),
            }
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    if _cov is not None:
        _cov.stop()
        _cov.save()
    if _REPORT:
        payload = {
            "exitstatus": int(exitstatus),
            "collected": _collected,
            "outcomes": _outcomes,
            "failures": _failures,
            "collect_errors": _collect_errors,
            "spawning": sorted(node for node in _spawning if node),
        }
        with open(_REPORT, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)

"""Pieces every long command shares: the ``--diff`` patch printer (its output applied by real
``git apply`` and ``patch``), work in parallel up to the CPU count, and ``--jobs``."""

from __future__ import annotations

import argparse
import subprocess
import threading

import pytest
from fixtures.workspace import Workspace

from tactful.analyzers.text import Edit, Point, Span
from tactful.server.cli.parallel import add_jobs_argument, default_jobs, in_parallel
from tactful.server.cli.patches import combine, patch, unified_diff


def edit(path: str, line: int, column: int, end_line: int, end_column: int, text: str) -> Edit:
    return Edit(path, Span(Point(line, column), Point(end_line, end_column)), text)


FILES = {
    "pkg/core.py": "import os\nimport sys\n\n\ndef main():\n    print(sys.argv)\n",
    # No newline at the end, and a change on that very line.
    "pkg/tail.py": "x = 1\ny = 2",
    "docs/ünïcode name.py": "# café\nvalue = 'é'\n",
    "untouched.py": "a = 1\n",
}
FIXES = {
    "pkg/core.py": [
        [edit("pkg/core.py", 0, 0, 1, 0, "")],  # remove `import os`
        [edit("pkg/core.py", 0, 7, 0, 9, "pathlib")],  # overlaps the first: left out
        [edit("pkg/core.py", 5, 4, 5, 9, "logging.info")],
    ],
    "pkg/tail.py": [[edit("pkg/tail.py", 1, 4, 1, 5, "3")]],
    "docs/ünïcode name.py": [[edit("docs/ünïcode name.py", 1, 9, 1, 10, "e")]],
    "untouched.py": [],
}
EXPECTED = {
    "pkg/core.py": "import sys\n\n\ndef main():\n    logging.info(sys.argv)\n",
    "pkg/tail.py": "x = 1\ny = 3",
    "docs/ünïcode name.py": "# café\nvalue = 'e'\n",
    "untouched.py": "a = 1\n",
}


@pytest.mark.parametrize("tool", ["git apply", "patch"])
def test_the_patch_applies_with_real_tools(workspace: Workspace, tool: str) -> None:
    for path, text in FILES.items():
        workspace.write(path, text)
    workspace.commit("init")
    new = {}
    for path, text in FILES.items():
        new[path], taken = combine(text, FIXES[path])
        if path == "pkg/core.py":
            assert taken == [0, 2]
    printed = patch({path: (FILES[path], new[path]) for path in FILES})

    assert new == EXPECTED
    assert "untouched.py" not in printed
    assert printed.index("a/docs/") < printed.index("a/pkg/core.py") < printed.index("a/pkg/t")
    assert "+y = 3\n\\ No newline at end of file\n" in printed
    command = ["git", "apply", "-"] if tool == "git apply" else ["patch", "-p1", "--quiet"]
    subprocess.run(command, cwd=workspace.root, input=printed.encode(), check=True)
    for path, text in EXPECTED.items():
        assert (workspace.root / path).read_bytes() == text.encode()


def test_a_diff_of_equal_texts_is_empty() -> None:
    assert unified_diff("a.py", "x\n", "x\n") == ""
    assert patch([]) == ""
    assert unified_diff("a.py", "", "x = 1\n") == (
        "--- a/a.py\n+++ b/a.py\n@@ -0,0 +1 @@\n+x = 1\n"
    )


def test_work_runs_in_parallel_up_to_the_limit_and_results_come_as_done() -> None:
    jobs = 3
    lock = threading.Lock()
    running = 0
    most = 0
    # Each of the first three waits until all three run at once: with fewer threads the
    # barrier breaks (BrokenBarrierError), so finishing proves they overlapped.
    barrier = threading.Barrier(jobs, timeout=30)
    release = threading.Event()

    def work(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            if item < jobs:
                barrier.wait()
            if item == 0:
                release.wait(timeout=30)  # the first item finishes last
            if item == 7:
                raise ValueError("item 7 fails")
            return item * item
        finally:
            with lock:
                running -= 1

    order: list[int] = []
    results: dict[int, int | None] = {}
    errors: dict[int, str] = {}
    for done in in_parallel(work, range(10), jobs=jobs):
        order.append(done.item)
        if done.error is not None:
            errors[done.item] = str(done.error)
        else:
            results[done.item] = done.result
        if len(order) == 9:
            release.set()

    assert most == jobs
    assert order[-1] == 0 and sorted(order) == list(range(10))
    assert errors == {7: "item 7 fails"}
    assert results == {i: i * i for i in range(10) if i != 7}


def test_leaving_early_cancels_what_has_not_started() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            started.append(item)
        return item

    results = in_parallel(work, range(100), jobs=2)
    first = next(results)
    results.close()  # what `break` out of a for loop, or Ctrl-C, does to the generator
    assert first.result == first.item
    assert len(started) < 100


def test_jobs_argument() -> None:
    parser = argparse.ArgumentParser()
    add_jobs_argument(parser, "tests")
    assert parser.parse_args([]).jobs is None
    assert parser.parse_args(["-j", "4"]).jobs == 4
    assert default_jobs() >= 1
    with pytest.raises(SystemExit):
        parser.parse_args(["--jobs", "0"])
    assert f"default: the number of CPUs, {default_jobs()} here" in parser.format_help()

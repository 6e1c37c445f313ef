"""The execution judge end to end: real temp projects, real pytest runs in the real sandbox."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from fixtures.listener import Listener
from fixtures.processes import processes_with
from fixtures.workspace import Workspace

from tactful.analyzers.text import Edit, Point, Span
from tactful.analyzers.userdirs import cache_dir
from tactful.feedback import trust
from tactful.feedback.execution import (
    Sandbox,
    Selection,
    Status,
    ValidationOptions,
    all_backends,
    available_backend,
)
from tactful.feedback.execution.workspace import list_files

# every sandbox that works here (bubblewrap, bundled, on Linux; Seatbelt on macOS)
SANDBOXED = sorted({info.name for info in all_backends() if info.sandboxed})
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason="no sandbox backend works here")

CALC = """\
def add(a, b):
    return a + b


def sub(a, b):
    return a - b
"""

TESTS = """\
from calc import add, sub


def test_add():
    assert add(2, 3) == 5


def test_sub():
    assert sub(5, 3) == 2
"""


# The sandboxed runs use this interpreter: its own test plugins only slow them down.
pytestmark = pytest.mark.usefixtures("plain_pytest")


def make_project(root: Path, extra: dict[str, str] | None = None) -> Workspace:
    project = Workspace(root)
    project.write("calc.py", CALC)
    project.write("tests/test_calc.py", TESTS)
    for name, text in (extra or {}).items():
        project.write(name, textwrap.dedent(text))
    project.commit("start")
    return project


def edit_add(new: str) -> list[Edit]:
    """Replace ``a + b`` on line 2 of calc.py."""
    return [Edit("calc.py", Span(Point(1, 11), Point(1, 16)), new)]


def sandbox(root: Path, backend: str = "auto", **options: object) -> Sandbox:
    trust.trust(root)
    options.setdefault("python", sys.executable)
    return Sandbox(root, ValidationOptions(sandbox=backend, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", [*SANDBOXED, "none"])
def test_a_passing_and_a_failing_edit(tmp_path: Path, backend: str) -> None:
    project = make_project(tmp_path / "project")
    judge = sandbox(project.root, backend)

    passed = judge.validate_sync(edit_add("b + a"))
    failed = judge.validate_sync(edit_add("a - b"))

    assert passed.status is Status.PASSED, passed.failures
    assert passed.backend == backend
    assert passed.cpu_s > 0
    assert "tests/test_calc.py::test_add" in passed.test_ids
    assert failed.status is Status.FAILED
    assert failed.failed_ids == ("tests/test_calc.py::test_add",)
    assert "assert -1 == 5" in failed.failures
    assert ("unsandboxed" in passed.summary()) == (backend == "none")
    # the workspace itself never sees an edit
    assert project.read("calc.py") == CALC


def test_auto_never_falls_back_to_unsandboxed() -> None:
    assert available_backend("auto").name != "none"
    assert available_backend("none").sandboxed is False


@pytest.mark.parametrize("backend", [*SANDBOXED, "none"])
def test_timeout_kills_the_whole_tree(tmp_path: Path, backend: str) -> None:
    marker = f"{time.time_ns() % 10**6}.{os.getpid()}"
    project = make_project(
        tmp_path / "project",
        {
            "tests/test_slow.py": f"""
            import subprocess, time

            def test_hangs():
                # a child in its own session, which a process-group kill would miss
                subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
                time.sleep(600)
        """,
        },
    )
    judge = sandbox(project.root, backend, timeout_s=3.0)

    started = time.monotonic()
    verdict = judge.validate_sync(everything=True)

    assert verdict.status is Status.TIMEOUT
    assert time.monotonic() - started < 15
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


@needs_sandbox
def test_cancelling_a_validation_kills_its_tree(tmp_path: Path) -> None:
    marker = f"{time.time_ns() % 10**6}.{os.getpid()}1"
    project = make_project(
        tmp_path / "project",
        {
            "tests/test_slow.py": f"""
            import subprocess

            def test_hangs():
                subprocess.run(["sleep", "{marker}"])
        """,
        },
    )
    judge = sandbox(project.root)

    async def cancel_when_running() -> None:
        task = asyncio.ensure_future(judge.validate(everything=True))
        deadline = time.monotonic() + 30
        while not processes_with(marker) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert processes_with(marker), "the test never started"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_when_running())
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


@pytest.mark.parametrize("backend", [*SANDBOXED, "none"])
def test_no_network_inside_the_sandbox(tmp_path: Path, backend: str) -> None:
    server = Listener(socket.AF_INET, ("127.0.0.1", 0))
    try:
        project = make_project(
            tmp_path / "project",
            {
                "tests/test_net.py": f"""
                import socket

                def test_connects():
                    socket.create_connection(("127.0.0.1", {server.address[1]}), timeout=2).close()
            """,
            },
        )
        verdict = sandbox(project.root, backend).validate_sync(everything=True)
    finally:
        server.close()
    if backend == "none":
        # the same test reaches the server when nothing isolates it: the check is real
        assert verdict.status is Status.PASSED, verdict.failures
        assert server.accepted == 1
    else:
        assert verdict.status is Status.FAILED
        assert "tests/test_net.py::test_connects" in verdict.failed_ids
        assert server.accepted == 0


@pytest.mark.parametrize("backend", SANDBOXED)
def test_nothing_outside_the_copy_is_writable(tmp_path: Path, backend: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    home_marker = Path.home() / f".tactful-test-{os.getpid()}"
    project = make_project(
        tmp_path / "project",
        {
            "tests/test_write.py": f"""
            from pathlib import Path

            def attempt(path):
                try:
                    Path(path).write_text("x")
                except OSError:
                    return False
                return True

            def test_writes():
                assert not attempt({str(outside / "marker")!r})
                assert not attempt({str(home_marker)!r})
                # the copy appears at the workspace's own path and is writable
                assert attempt({str(tmp_path / "project" / "written.txt")!r})
        """,
        },
    )

    judge = sandbox(project.root, backend)
    verdict = judge.validate_sync(everything=True)

    assert verdict.status is Status.PASSED, verdict.failures
    assert not (outside / "marker").exists()
    assert not home_marker.exists()
    assert not (project.root / "written.txt").exists()
    assert not (judge.warm.copy / "written.txt").exists()  # the warm copy stays clean too


@needs_sandbox
def test_secrets_and_git_stay_out_of_the_copy(tmp_path: Path) -> None:
    secrets = [
        ".env",
        ".env.local",
        "id_rsa",
        "deploy/server.pem",
        "tls.key",
        ".aws/credentials",
        ".netrc",
    ]
    project = make_project(
        tmp_path / "project",
        {
            "id_mapping.py": "IDS = {}\n",
            "tests/test_secrets.py": f"""
            from pathlib import Path

            def test_no_secrets():
                for name in {secrets!r}:
                    assert not Path(name).exists(), name
                assert not Path(".git").exists()
                assert Path("id_mapping.py").exists()
        """,
        },
    )
    for name in secrets:
        project.write(name, "secret\n")

    listed = list_files(project.root)
    verdict = sandbox(project.root).validate_sync(everything=True)

    assert not set(secrets) & set(listed)
    assert "id_mapping.py" in listed
    assert verdict.status is Status.PASSED, verdict.failures


def test_an_untrusted_workspace_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    project = make_project(
        tmp_path / "project",
        {
            "conftest.py": f"""
            from pathlib import Path
            Path({str(marker)!r}).write_text("conftest ran")
        """,
        },
    )
    # unsandboxed, so that anything that ran would leave the marker behind
    options = ValidationOptions(sandbox="none", python=sys.executable)

    untrusted = Sandbox(project.root, options).validate_sync(edit_add("b + a"))
    trust.trust(project.root)
    refused = Sandbox(project.root, options, trusted=False).validate_sync(edit_add("b + a"))

    for verdict in (untrusted, refused):
        assert verdict.status is Status.NOT_VALIDATED
        assert verdict.summary() == "not validated (workspace not trusted)"
        assert verdict.tests_run == 0
    assert not marker.exists()
    assert not (cache_dir() / "validation").exists()  # not even copied
    # once trusted, the same call runs the workspace's code: the marker check means something
    assert Sandbox(project.root, options).validate_sync(edit_add("b + a")).passed
    assert marker.exists()


def test_the_editors_trust_is_enough(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")

    options = ValidationOptions(python=sys.executable)

    verdict = Sandbox(project.root, options, trusted=True).validate_sync(edit_add("b + a"))

    assert verdict.status is Status.PASSED, verdict.failures


def test_verdicts_are_cached_by_edit_and_workspace_state(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    judge = sandbox(project.root)

    first = judge.validate_sync(edit_add("b + a"))
    again = judge.validate_sync(edit_add("b + a"))
    fresh_judge = sandbox(project.root).validate_sync(edit_add("b + a"))
    project.write("tests/test_calc.py", TESTS + "\n\ndef test_more():\n    assert add(1, 1) == 2\n")
    after_change = judge.validate_sync(edit_add("b + a"))

    assert first.status is Status.PASSED and not first.cached
    assert again.cached and again.status is Status.PASSED
    assert again.test_ids == first.test_ids
    assert fresh_judge.cached  # kept on disk, not only in memory
    assert not after_change.cached
    assert "tests/test_calc.py::test_more" in after_change.test_ids


@needs_sandbox
def test_concurrent_validations_do_not_see_each_other(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    judge = sandbox(project.root)

    async def both() -> list:
        return await asyncio.gather(
            judge.validate(edit_add("b + a")), judge.validate(edit_add("a * b"))
        )

    good, bad = asyncio.run(both())

    assert good.status is Status.PASSED, good.failures
    assert bad.status is Status.FAILED


def test_unsaved_buffers_are_validated_with_the_edit(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    judge = sandbox(project.root)
    buffer = CALC.replace("a - b", "b - a")  # unsaved, and wrong

    verdict = judge.validate_sync(edit_add("b + a"), overlays={"calc.py": buffer})

    assert verdict.status is Status.FAILED
    assert verdict.failed_ids == ("tests/test_calc.py::test_sub",)


def test_a_command_other_than_pytest_is_judged_by_its_exit_status(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    check = "import calc, sys; sys.exit(0 if calc.add(2, 3) == 5 else 3)"
    judge = sandbox(project.root, command=("python", "-c", check))

    good = judge.validate_sync(edit_add("b + a"))
    bad = judge.validate_sync(edit_add("a - b"))

    assert good.status is Status.PASSED and good.selection is Selection.COMMAND
    assert bad.status is Status.FAILED


def test_the_workspace_interpreter_is_used(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {".gitignore": ".venv/\n"})
    # a virtual environment without pytest: the run cannot start, which is an error, not a
    # verdict on the edit
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(project.root / ".venv")], check=True
    )

    trust.trust(project.root)
    verdict = Sandbox(project.root).validate_sync(edit_add("b + a"))

    assert verdict.status is Status.ERROR
    assert not verdict.validated
    assert "pytest" in verdict.reason + verdict.failures
    assert verdict.interpreter == str(project.root / ".venv" / "bin" / "python")


@pytest.mark.parametrize("git", [True, False])
def test_environments_and_caches_are_not_copied(tmp_path: Path, git: bool) -> None:
    project = Workspace(tmp_path / "project", git=git)
    project.write("pkg/build/__init__.py", "")  # a package called build: source, tracked
    if git:
        project.commit("start")
    project.write("calc.py", CALC)  # untracked, not ignored: copied
    project.write("env/pyvenv.cfg", "home = /usr/bin\n")  # an environment nobody ignored
    project.write("env/lib/site.py", "")
    project.write("pkg/__pycache__/calc.cpython-311.pyc", "")
    project.write("node_modules/x/index.js", "")

    listed = list_files(project.root)

    assert "calc.py" in listed
    assert ("pkg/build/__init__.py" in listed) == git
    assert not [name for name in listed if name.startswith(("env/", "node_modules/"))]
    assert not [name for name in listed if "__pycache__" in name]


@needs_sandbox
def test_runs_do_not_share_tmp_or_see_each_others_files(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "project",
        {
            "tests/test_state.py": """
            from pathlib import Path

            def test_starts_clean():
                for marker in (Path("/tmp/tactful-marker"), Path("left-behind.txt")):
                    assert not marker.exists()
                    marker.write_text("x")
        """,
        },
    )
    judge = sandbox(project.root)

    # three runs one after the other, each leaving files behind in /tmp and in its copy
    verdicts = [
        judge.validate_sync(edit_add(text), everything=True)
        for text in ("b + a", "(a + b)", "a + (b)")
    ]

    assert [v.status for v in verdicts] == [Status.PASSED] * 3, verdicts[-1].failures
    assert all("tests/test_state.py::test_starts_clean" in v.test_ids for v in verdicts)
    assert not (project.root / "left-behind.txt").exists()


SRC_PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "pkg"
        version = "0.1"
    """,
    "src/pkg/__init__.py": """
        def add(a, b):
            return a + b
    """,
    # as click's does: the conftest imports the package, so nothing runs if it is not found
    "tests/conftest.py": """
        from pkg import add

        assert add(1, 1) == 2
    """,
    "tests/mode.py": "WARM = None\n",
    "tests/test_pkg.py": """
        import sys

        import mode
        import pkg


        def test_the_package_comes_from_the_run_copy():
            assert pkg.add(2, 3) == 5
            assert pkg.__file__.endswith("src/pkg/__init__.py")


        def test_the_run_was_forked_from_the_warm_pytest_or_not():
            # a warm run is `pytest ARGS` in a forked process; a cold one `python -m pytest`
            assert (sys.argv[0] == "pytest") is mode.WARM
    """,
}


def editable_environment(env: Path, project: Path) -> Path:
    """``python -m venv ENV`` with the project installed editable (``pip install -e``): its
    ``.pth`` names the project's ``src``. pytest comes from this environment's site folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--prefix", str(env), "-e", str(project)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert str(project / "src") in "".join(
        path.read_text() for path in Path(site).glob("__editable__*.pth")
    )
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@needs_sandbox
@pytest.mark.parametrize("where", ["in-workspace", "linked-from-tmp", "named-in-tmp"])
def test_an_editable_install_in_the_workspaces_environment(tmp_path: Path, where: str) -> None:
    """The project installed editable in a virtual environment: in the workspace's ``.venv``,
    in one elsewhere under /tmp that ``.venv`` links to, or in one under /tmp that the test
    command names. Its ``.pth`` names the workspace's ``src``, which a run sees in its copy."""
    project = make_project(tmp_path / "project", {".gitignore": ".venv\n", **SRC_PACKAGE})
    # no validation.python: the project's environment is found (its .venv) or named
    options: dict[str, object] = {"python": None}
    if where == "in-workspace":
        editable_environment(project.root / ".venv", project.root)
    else:
        outside = Path(tempfile.mkdtemp(prefix="tactful-env-", dir="/tmp"))
        python = editable_environment(outside / "env", project.root)
        if where == "linked-from-tmp":
            (project.root / ".venv").symlink_to(outside / "env")
        else:
            options["command"] = (str(python), "-m", "pytest")
    try:
        for warm in (True, False):
            judge = sandbox(project.root, warm_pytest=warm, **options)
            try:
                # the edit tells the tests which way they run (and makes each a new verdict)
                verdict = judge.validate_sync(
                    everything=True, overlays={"tests/mode.py": f"WARM = {warm}\n"}
                )
            finally:
                judge.close()
            assert verdict.status is Status.PASSED, (warm, verdict.reason, verdict.failures)
            assert {
                "tests/test_pkg.py::test_the_package_comes_from_the_run_copy",
                "tests/test_pkg.py::test_the_run_was_forked_from_the_warm_pytest_or_not",
            } <= set(verdict.test_ids)
    finally:
        if where != "in-workspace":
            shutil.rmtree(outside)

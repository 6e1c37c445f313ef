"""Hostile tests against the validation sandbox: every escape fails, every limit bites.

Each attack is a test file of a hostile workspace, validated through ``Sandbox.validate_sync``
(the path ``tactful validate`` and the server take) on every sandbox that works here, warm
(forked from a kept pytest) and cold (a fresh pytest). A hostile test *passes* when its attack
failed, and checks the error it met; the host side checks that nothing of the host was read,
reached or written, and that nothing of the run is left running. Limits are checked by the
verdict's reason, which must say what stopped the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from fixtures.listener import Listener
from fixtures.processes import processes_with
from fixtures.workspace import Workspace

from tactful.feedback.execution import Sandbox, Status, ValidationOptions, all_backends

SANDBOXED = sorted({info.name for info in all_backends() if info.sandboxed})
MODES = [
    pytest.param((backend, warm), id=f"{backend}-{'warm' if warm else 'cold'}")
    for backend in SANDBOXED
    for warm in (True, False)
]
CANARY = "tactful-canary-7f3a9c"
TAG = sys.implementation.cache_tag


# The sandboxed runs use this interpreter: its own test plugins only slow them down.
pytestmark = pytest.mark.usefixtures("plain_pytest")


def test_bubblewrap_works_on_linux() -> None:
    """The suite below never skips where Linux runs: bubblewrap comes with tactful there."""
    if sys.platform == "linux":
        assert "bwrap" in SANDBOXED, [info.to_json() for info in all_backends()]


class Host:
    """Things of the host a run must not see, reach or change."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.home = tmp_path / "home"
        (self.home / ".ssh").mkdir(parents=True)
        self.ssh_key = self.home / ".ssh" / "id_ed25519"
        self.ssh_key.write_text(f"PRIVATE KEY {CANARY}\n")
        monkeypatch.setenv("HOME", str(self.home))
        self.store = Path(os.environ["XDG_DATA_HOME"]) / "tactful" / "feedback.sqlite3"
        self.store.parent.mkdir(parents=True, exist_ok=True)
        self.store.write_text(f"store {CANARY}\n")
        self.file = tmp_path / "host-file.txt"  # under the host's /tmp
        self.file.write_text(f"host {CANARY}\n")
        self.written = tmp_path / "written-by-a-test"
        for name in ("AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "DATABASE_URL", "LC_PASSWORD"):
            monkeypatch.setenv(name, f"postgres://user:{CANARY}@db/app")
        self.listeners = {
            "ipv4": Listener(socket.AF_INET, ("127.0.0.1", 0)),
            "unix": Listener(socket.AF_UNIX, str(tmp_path / "host.sock")),
            "abstract": Listener(socket.AF_UNIX, f"\0tactful-{os.getpid()}-{time.time_ns()}"),
        }
        if socket.has_ipv6:
            # no IPv6 loopback on some machines: nothing to reach there
            with contextlib.suppress(OSError):
                self.listeners["ipv6"] = Listener(socket.AF_INET6, ("::1", 0))

    def addresses(self) -> dict[str, object]:
        return {name: listener.address for name, listener in self.listeners.items()}

    def reached(self) -> dict[str, int]:
        return {name: listener.accepted for name, listener in self.listeners.items()}

    def close(self) -> None:
        for listener in self.listeners.values():
            listener.close()


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    made = Host(tmp_path, monkeypatch)
    yield made
    made.close()


def gone(marker: str, within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not processes_with(marker)


HELPERS = """
import ctypes, errno, os, socket, subprocess

libc = ctypes.CDLL(None, use_errno=True)


def fails(call, *args):
    \"\"\"The errno a libc call failed with; an attack that worked fails the test.\"\"\"
    result = call(*args)
    assert result != 0, f"{call.__name__}{args} succeeded"
    return ctypes.get_errno()


def unreadable(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return exc.errno
    raise AssertionError(f"read {path}: {data[:60]!r}")


def unwritable(path):
    try:
        with open(path, "w") as handle:
            handle.write("escaped")
    except OSError as exc:
        return exc.errno
    raise AssertionError(f"wrote {path}")
"""


def escape_tests(host: Host, marker: str) -> dict[str, str]:
    """The hostile workspace's test files: one attack each."""
    addresses = host.addresses()
    return {
        "tests/hostile.py": HELPERS,
        "tests/test_mounts.py": f"""
            from hostile import *

            def test_no_user_namespace():
                # capabilities again, in a namespace of its own: refused (a seccomp filter,
                # or bubblewrap's limit of namespaces)
                assert fails(libc.unshare, 0x10000000) in (errno.EPERM, errno.ENOSPC)
                assert fails(libc.unshare, 0x10000000 | 0x00020000) in (errno.EPERM, errno.ENOSPC)
                done = subprocess.run(["unshare", "-r", "true"], capture_output=True)
                assert done.returncode != 0

            def test_no_capabilities_and_no_new_privileges():
                # given up by the sandbox before any of the workspace's code ran
                status = dict(
                    line.split(":", 1) for line in open("/proc/self/status").read().splitlines()
                )
                for key in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
                    assert int(status[key], 16) == 0, (key, status[key])
                assert status["NoNewPrivs"].strip() == "1"

            def test_umount_tmp_shows_nothing_of_the_host():
                # a user namespace of its own first, were one allowed
                libc.unshare(0x10000000 | 0x00020000)
                assert fails(libc.umount2, b"/tmp", 2) in (errno.EPERM, errno.EINVAL)
                assert unreadable({str(host.file)!r}) == errno.ENOENT

            def test_remount_root_writable():
                assert fails(libc.mount, None, b"/", None, 0x20 | 0x1000, None) in (
                    errno.EPERM, errno.EINVAL, errno.EACCES)
                for path in ("/usr/escaped", "/etc/escaped", "/escaped", "/proc/1/root/escaped"):
                    assert unwritable(path) in (errno.EROFS, errno.ENOENT, errno.EACCES)
                # the host's path, which the sandbox may have a /tmp folder of its own for:
                # the host checks that nothing arrived there
                try:
                    open({str(host.written)!r}, "w").write("escaped")
                except OSError:
                    pass
        """,
        "tests/test_reach.py": f"""
            from hostile import *
            import pytest

            ADDRESSES = {addresses!r}

            @pytest.mark.parametrize("name", sorted(ADDRESSES))
            def test_host_listeners_are_out_of_reach(name):
                families = {{"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}}
                family = families.get(name, socket.AF_UNIX)
                address = ADDRESSES[name]
                if isinstance(address, list):
                    address = tuple(address)
                with socket.socket(family, socket.SOCK_STREAM) as sock:
                    sock.settimeout(2)
                    with pytest.raises(OSError):
                        sock.connect(address)
        """,
        "tests/test_files.py": f"""
            from hostile import *
            import os, sys

            def test_proc_1_root():
                refused = (errno.ENOENT, errno.EACCES)
                assert unreadable("/proc/1/root" + {str(host.file)!r}) in refused
                assert unreadable("/proc/self/root" + {str(host.ssh_key)!r}) in refused

            def test_home_and_store_are_not_there():
                for path in ({str(host.ssh_key)!r}, {str(host.store)!r}, {str(host.file)!r}):
                    assert unreadable(path) == errno.ENOENT
                assert not os.path.exists({str(host.home)!r})

            def test_links_out_of_the_workspace():
                for target in ({str(host.ssh_key)!r}, {str(host.file)!r}):
                    try:
                        os.link(target, "stolen")
                    except OSError as exc:
                        assert exc.errno in (errno.ENOENT, errno.EXDEV, errno.EPERM)
                    else:
                        raise AssertionError("hard link made")
                    os.symlink(target, "pointer")
                    assert unreadable("pointer") == errno.ENOENT
                    os.unlink("pointer")
                # files the run can see outside the copy: no hard link to them in it
                for target in ("/etc/passwd", os.path.realpath(sys.executable)):
                    try:
                        os.link(target, "stolen")
                    except OSError as exc:
                        assert exc.errno in (errno.EXDEV, errno.EPERM, errno.EACCES)
                    else:
                        raise AssertionError(f"hard link to {{target}} made")
                # a link the repository itself holds, out of the workspace: never copied
                assert not os.path.lexists("leak")

            def test_secrets_of_the_environment():
                leaked = [k for k, v in os.environ.items() if {CANARY!r} in v]
                assert leaked == []
        """,
        "tests/test_processes.py": f"""
            from hostile import *
            import os

            def test_ptrace_of_the_parent():
                for pid in {{os.getppid(), 1}} - {{0, os.getpid()}}:
                    if libc.ptrace(16, pid, 0, 0) == 0:
                        libc.ptrace(17, pid, 0, 0)
                        raise AssertionError(f"attached to {{pid}}")

            def test_daemon_survives():
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        os.execvp("sleep", ["sleep", "{marker}"])
                    os._exit(0)
                os.wait()

            def test_bytecode_links():
                import calc, other  # compiled now, then replaced by links
                os.makedirs("__pycache__", exist_ok=True)
                for name, target in (("calc", "/etc/passwd"), ("other", "/dev/zero")):
                    path = f"__pycache__/{{name}}.{TAG}.pyc"
                    if os.path.lexists(path):
                        os.unlink(path)
                    os.symlink(target, path)
        """,
    }


def hostile_project(root: Path, files: dict[str, str], host: Host | None = None) -> Workspace:
    project = Workspace(root)
    project.write("calc.py", "def add(a, b):\n    return a + b\n")
    project.write("other.py", "VALUE = 1\n")
    for name, text in files.items():
        project.write(name, textwrap.dedent(text))
    if host is not None:
        os.symlink(host.ssh_key, root / "leak")
    project.commit("hostile")
    return project


@pytest.mark.parametrize("mode", MODES)
def test_escapes_fail(tmp_path: Path, host: Host, mode: tuple[str, bool]) -> None:
    backend, warm = mode
    marker = f"{time.time_ns() % 10**6}.{os.getpid()}"
    # a listener of the host's inside the workspace's .venv, which runs see read-only
    venv = tmp_path / "project" / ".venv"
    venv.mkdir(parents=True)
    host.listeners["unix-in-venv"] = Listener(socket.AF_UNIX, str(venv / "s"))
    files = {".gitignore": ".venv/\n", **escape_tests(host, marker)}
    project = hostile_project(tmp_path / "project", files, host)
    # the project's interpreter named as a user names it (validation.python)
    options = ValidationOptions(
        sandbox=backend, warm_pytest=warm, stop_at_first_failure=False, python=sys.executable
    )
    judge = Sandbox(project.root, options, trusted=True)
    try:
        started = time.monotonic()
        verdict = judge.validate_sync(everything=True)
        took = time.monotonic() - started
        # the same again: the bytecode kept from the first run is what this one starts from
        again = judge.validate_sync(everything=True, patch=None, overlays={"other.py": "V = 2\n"})
    finally:
        judge.close()

    assert verdict.status is Status.PASSED, verdict.failures
    assert verdict.backend == backend
    expected = {
        "tests/test_mounts.py::test_no_user_namespace",
        "tests/test_mounts.py::test_no_capabilities_and_no_new_privileges",
        "tests/test_mounts.py::test_umount_tmp_shows_nothing_of_the_host",
        "tests/test_mounts.py::test_remount_root_writable",
        "tests/test_files.py::test_proc_1_root",
        "tests/test_files.py::test_home_and_store_are_not_there",
        "tests/test_files.py::test_links_out_of_the_workspace",
        "tests/test_files.py::test_secrets_of_the_environment",
        "tests/test_processes.py::test_ptrace_of_the_parent",
        "tests/test_processes.py::test_daemon_survives",
        "tests/test_processes.py::test_bytecode_links",
        *(
            f"tests/test_reach.py::test_host_listeners_are_out_of_reach[{n}]"
            for n in host.listeners
        ),
    }
    assert expected <= set(verdict.test_ids)
    assert again.status is Status.PASSED, again.failures
    assert host.reached() == dict.fromkeys(host.listeners, 0)
    assert not host.written.exists()
    assert gone(marker), processes_with(marker)
    assert took < 60  # a link to /dev/zero was not copied forever
    for name in ("calc", "other"):
        kept = judge.warm.copy / "__pycache__" / f"{name}.{TAG}.pyc"
        assert not kept.is_symlink()
        if kept.exists():
            assert b"root:" not in kept.read_bytes()
            assert kept.stat().st_size < 1 << 20
    assert CANARY not in verdict.failures + again.failures


def test_unsandboxed_the_same_attacks_work(tmp_path: Path, host: Host) -> None:
    """The checks above mean something: without a sandbox, the host is there to be read."""
    marker = f"{time.time_ns() % 10**6}.{os.getpid()}u"
    project = hostile_project(tmp_path / "project", escape_tests(host, marker))
    options = ValidationOptions(sandbox="none", stop_at_first_failure=False, python=sys.executable)

    verdict = Sandbox(project.root, options, trusted=True).validate_sync(everything=True)

    assert verdict.status is Status.FAILED
    assert "tests/test_files.py::test_home_and_store_are_not_there" in verdict.failed_ids
    assert "tests/test_mounts.py::test_no_capabilities_and_no_new_privileges" in verdict.failed_ids
    assert "tests/test_reach.py::test_host_listeners_are_out_of_reach[ipv4]" in verdict.failed_ids
    assert host.reached()["ipv4"] == 1


def test_the_former_unshare_setting_runs_under_bubblewrap(tmp_path: Path, host: Host) -> None:
    """``validation.sandbox = "unshare"`` (util-linux's, which left tests their capabilities)
    is not used: the run is bubblewrap's, and its tests hold no capability and cannot gain one."""
    if "bwrap" not in SANDBOXED:
        pytest.skip("no bubblewrap on this system")  # test_bubblewrap_works_on_linux fails
    marker = f"{time.time_ns() % 10**6}.{os.getpid()}x"
    files = escape_tests(host, marker)
    project = hostile_project(
        tmp_path / "project", {"tests/hostile.py": files["tests/hostile.py"],
                               "tests/test_mounts.py": files["tests/test_mounts.py"]}
    )  # fmt: skip
    options = ValidationOptions(
        sandbox="unshare", stop_at_first_failure=False, python=sys.executable
    )
    judge = Sandbox(project.root, options, trusted=True)
    try:
        verdict = judge.validate_sync(everything=True)
    finally:
        judge.close()
    assert verdict.status is Status.PASSED, verdict.failures
    assert verdict.backend == "bwrap"
    assert "tests/test_mounts.py::test_no_capabilities_and_no_new_privileges" in verdict.test_ids
    assert not host.written.exists()


FORK_BOMB = """
    import os, time

    def test_fork_bomb():
        while True:
            try:
                if os.fork() == 0:
                    os.execvp("sleep", ["sleep", "{marker}"])
            except OSError:
                time.sleep(0.001)
"""
# Children that stay copies of the test process (pytest and all it imported): in a warm run
# they are forked from the zygote, and their shared pages must not count as memory of each.
FORK_BOMB_NO_EXEC = """
    import os, time

    def test_fork_bomb_without_exec():
        while True:
            try:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
            except OSError:
                time.sleep(0.001)
"""
MEMORY_BOMB = """
    def test_memory_bomb():
        held = []
        while True:
            held.append(b"x" * (16 << 20))
"""
COPY_WRITER = """
    def test_runaway_writer():
        with open("big.bin", "wb") as handle:
            while True:
                handle.write(b"x" * (1 << 20))
"""
TMP_WRITER = """
    import os

    def test_runaway_writer_in_tmp():
        for n in range(10**6):
            with open(f"/tmp/big-{{n}}.bin", "wb") as handle:
                handle.write(b"x" * (1 << 20))
"""
LIMITS = [
    pytest.param(FORK_BOMB, "stopped: more than 64 processes", id="fork-bomb"),
    pytest.param(FORK_BOMB_NO_EXEC, "stopped: more than 64 processes", id="fork-bomb-no-exec"),
    pytest.param(MEMORY_BOMB, "stopped: memory limit (256 MB)", id="memory-bomb"),
    pytest.param(COPY_WRITER, "stopped: wrote more than 64 MB", id="writer-copy"),
    pytest.param(TMP_WRITER, "stopped: wrote more than 64 MB", id="writer-tmp"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("attack", "reason"), LIMITS)
def test_limits_stop_the_run_and_say_so(
    tmp_path: Path, mode: tuple[str, bool], attack: str, reason: str
) -> None:
    backend, warm = mode
    marker = f"{time.time_ns() % 10**6}.{os.getpid()}b"
    project = hostile_project(
        tmp_path / "project", {"tests/test_bomb.py": attack.format(marker=marker)}
    )
    options = ValidationOptions(
        sandbox=backend,
        warm_pytest=warm,
        timeout_s=60,
        processes=64,
        memory_bytes=256 << 20,
        disk_bytes=64 << 20,
        python=sys.executable,
    )
    judge = Sandbox(project.root, options, trusted=True)
    try:
        started = time.monotonic()
        verdict = judge.validate_sync(everything=True)
        took = time.monotonic() - started
    finally:
        judge.close()

    assert verdict.status is Status.FAILED, (verdict.reason, verdict.failures)
    assert verdict.reason == reason
    assert reason in verdict.summary()
    assert took < 30
    assert gone(marker), processes_with(marker)


@pytest.fixture
def shared_tmp():
    """A folder another user can reach (pytest's own are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="tactful-nobody-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_run_as_an_unprivileged_user(shared_tmp: Path) -> None:
    """The same sandbox for a user without privileges: a host file stays unwritten, a fork
    bomb is stopped (there the kernel's per-user process limit holds too)."""
    if os.getuid() != 0:
        pytest.skip("runs as root to become another user")
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    seen = subprocess.run(
        [*as_nobody, sys.executable, "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if seen.stdout.strip() != sys.base_prefix:
        pytest.skip(f"this interpreter's installation ({sys.base_prefix}) is private to root")
    tmp_path = shared_tmp
    script = textwrap.dedent(
        f"""
        import json, os, sys
        os.environ["XDG_CACHE_HOME"] = {str(tmp_path / "cache")!r}
        os.environ["XDG_DATA_HOME"] = {str(tmp_path / "data")!r}
        from tactful.feedback.execution import Sandbox, ValidationOptions
        options = ValidationOptions(
            processes=64, stop_at_first_failure=False, python=sys.executable
        )
        verdict = Sandbox(sys.argv[1], options, trusted=True).validate_sync(everything=True)
        print(json.dumps(verdict.to_json()))
        """
    )
    written = tmp_path / "nobody-wrote-this"
    files = {
        "tests/test_write.py": f"""
            def test_write_host():
                try:
                    open({str(written)!r}, "w").write("x")
                except OSError:
                    return
                raise AssertionError("wrote")
        """,
        "tests/test_bomb.py": FORK_BOMB.format(marker=f"{os.getpid()}.nobody"),
    }
    project = hostile_project(tmp_path / "project", files)
    subprocess.run(["chown", "-R", "65534:65534", str(tmp_path)], check=True)
    (tmp_path / "run.py").write_text(script)
    done = subprocess.run(
        [*as_nobody, sys.executable, "-P", str(tmp_path / "run.py"), str(project.root)],
        capture_output=True, text=True, timeout=120, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("XDG_")} | {"HOME": "/"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["backend"] == "bwrap"
    assert "tests/test_write.py::test_write_host" in verdict["test_ids"]
    assert "tests/test_write.py::test_write_host" not in verdict["failed_ids"]
    assert verdict["reason"] == "stopped: more than 64 processes"
    assert not written.exists()
    assert gone(f"{os.getpid()}.nobody")

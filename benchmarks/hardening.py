"""The validation sandbox under attack: escapes that succeed, and how fast limits stop a run.

A hostile workspace (made in a temporary folder) holds one test per escape: undoing the
sandbox's mounts, writing a host file, reading a host file through ``/proc/1/root`` and
directly, reaching host listeners (TCP on IPv4 and IPv6 loopback, a Unix socket path, an
abstract Unix socket, a Unix socket inside the workspace's ``.venv``), tracing the parent,
making a user namespace, holding a capability or lacking no-new-privileges, reading
``~/.ssh`` and the tactful store, finding a secret in the environment, hard-linking a file from
outside the copy into it. Each test *fails* when its attack worked. It is
validated through ``Sandbox.validate_sync`` on every sandbox that works here, warm (forked from
a kept pytest) and cold, and then unsandboxed (``none``), where the attacks are expected to
work: that row shows the count means something. A row whose run did not run every attack
(``complete`` false: the sandbox or pytest could not start) counts no escape for it: the
benchmark then exits 1. Then a fork bomb, a memory bomb and runaway
writers (into the copy and into ``/tmp``) are validated with small limits, and the wall time
from the start of the validation to its verdict (the sandbox's and pytest's start included) is
reported with the verdict's reason.
Printed as JSON:

    python -P benchmarks/hardening.py
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

# The host's listeners are the sandbox tests' own (tests/fixtures/listener.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures.listener import Listener

ATTACKS = """
import ctypes, os, socket

libc = ctypes.CDLL(None, use_errno=True)
HOST_FILE = {host_file!r}
WRITTEN = {written!r}
ADDRESSES = {addresses!r}
SECRETS = {secrets!r}
CANARY = {canary!r}


def test_user_namespace():
    # capabilities again, in a user namespace of its own (in a child: this process stays as
    # it is for the attacks below)
    pid = os.fork()
    if pid == 0:
        os._exit(0 if libc.unshare(0x10000000) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) != 0


def test_umount_tmp():
    libc.unshare(0x10000000 | 0x00020000)
    libc.umount2(b"/tmp", 2)
    assert not os.path.exists(HOST_FILE)


def test_remount_root_and_write():
    libc.mount(None, b"/", None, 0x20 | 0x1000, None)
    for path in ("/usr/escaped", "/escaped", WRITTEN):
        try:
            open(path, "w").write("escaped")
        except OSError:
            pass


def test_read_host_file():
    for path in (HOST_FILE, "/proc/1/root" + HOST_FILE):
        assert not os.path.exists(path), path


def test_no_capabilities():
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    for key in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
        assert int(status[key], 16) == 0, (key, status[key])
    assert status["NoNewPrivs"].strip() == "1"


def test_read_home_and_store():
    for path in SECRETS:
        for where in (path, "/proc/1/root" + path):
            assert not os.path.exists(where), where


def test_secrets_in_environment():
    assert [key for key, value in os.environ.items() if CANARY in value] == []


def test_hard_link_out():
    for target in [*SECRETS, "/etc/passwd"]:
        try:
            os.link(target, "stolen")
        except OSError:
            continue
        raise AssertionError(target)


def test_ptrace_parent():
    for pid in {{os.getppid(), 1}} - {{0, os.getpid()}}:
        if libc.ptrace(16, pid, 0, 0) == 0:
            libc.ptrace(17, pid, 0, 0)
            raise AssertionError(pid)


def _connect(family, address):
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(tuple(address) if isinstance(address, list) else address)
        except OSError:
            return
    raise AssertionError(address)


def test_listener_ipv4():
    _connect(socket.AF_INET, ADDRESSES["ipv4"])


def test_listener_ipv6():
    if "ipv6" in ADDRESSES:
        _connect(socket.AF_INET6, ADDRESSES["ipv6"])


def test_listener_unix_path():
    _connect(socket.AF_UNIX, ADDRESSES["unix"])


def test_listener_unix_abstract():
    _connect(socket.AF_UNIX, ADDRESSES["abstract"])


def test_listener_unix_in_venv():
    _connect(socket.AF_UNIX, ADDRESSES["unix-in-venv"])

"""

ATTACK_COUNT = ATTACKS.count("\ndef test_")
CANARY = "tactful-bench-canary-51d0"
SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "DATABASE_URL")

BOMBS = {
    "fork_bomb": """
        import os, time

        def test_bomb():
            while True:
                try:
                    if os.fork() == 0:
                        time.sleep(600)
                        os._exit(0)
                except OSError:
                    time.sleep(0.001)
    """,
    "memory_bomb": """
        def test_bomb():
            held = []
            while True:
                held.append(b"x" * (16 << 20))
    """,
    "runaway_writer_copy": """
        def test_bomb():
            with open("big.bin", "wb") as handle:
                while True:
                    handle.write(b"x" * (1 << 20))
    """,
    "runaway_writer_tmp": """
        def test_bomb():
            for n in range(10**6):
                with open(f"/tmp/big-{n}.bin", "wb") as handle:
                    handle.write(b"x" * (1 << 20))
    """,
}


def project(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    subprocess.run(["git", "-C", str(folder), "add", "."], check=True)
    return folder


def modes() -> list[tuple[str, bool]]:
    from tactful.feedback.execution import all_backends

    sandboxed = sorted({info.name for info in all_backends() if info.sandboxed})
    return [(backend, warm) for backend in sandboxed for warm in (True, False)]


def escapes(base: Path) -> dict[str, dict]:
    from tactful.feedback.execution import Sandbox, ValidationOptions

    host_file = base / "host-file.txt"
    host_file.write_text("host\n")
    # the user's secrets, where the run's user would look for them
    ssh_key = Path(os.environ["HOME"]) / ".ssh" / "id_ed25519"
    ssh_key.parent.mkdir(parents=True)
    ssh_key.write_text(f"PRIVATE KEY {CANARY}\n")
    store = Path(os.environ["XDG_DATA_HOME"]) / "tactful" / "feedback.sqlite3"
    store.parent.mkdir(parents=True)
    store.write_text(f"store {CANARY}\n")
    listeners = {
        "ipv4": Listener(socket.AF_INET, ("127.0.0.1", 0)),
        "unix": Listener(socket.AF_UNIX, str(base / "host.sock")),
        "abstract": Listener(socket.AF_UNIX, f"\0tactful-bench-{os.getpid()}"),
    }
    with contextlib.suppress(OSError):  # a machine without IPv6 loopback has nothing to reach
        listeners["ipv6"] = Listener(socket.AF_INET6, ("::1", 0))
    rows: dict[str, dict] = {}
    for backend, warm in [*modes(), ("none", False)]:
        name = backend if backend == "none" else f"{backend}-{'warm' if warm else 'cold'}"
        written = base / f"written-{name}"
        # a host listener inside the workspace's .venv, which runs see read-only
        (base / f"escape-{name}" / ".venv").mkdir(parents=True)
        in_venv = Listener(socket.AF_UNIX, str(base / f"escape-{name}" / ".venv" / "s"))
        listeners["unix-in-venv"] = in_venv
        attacks = ATTACKS.format(
            host_file=str(host_file),
            written=str(written),
            addresses={key: listener.address for key, listener in listeners.items()},
            secrets=[str(ssh_key), str(store)],
            canary=CANARY,
        )
        files = {"tests/test_attacks.py": attacks, ".gitignore": ".venv/\n"}
        root = project(base / f"escape-{name}", files)
        before = {key: listener.accepted for key, listener in listeners.items()}
        # the project's interpreter named as a user names it (validation.python)
        options = ValidationOptions(
            sandbox=backend, warm_pytest=warm, stop_at_first_failure=False, python=sys.executable
        )
        judge = Sandbox(root, options, trusted=True)
        verdict = judge.validate_sync(everything=True)
        judge.close()
        complete = verdict.tests_run == ATTACK_COUNT and verdict.status.value in (
            "passed",
            "failed",
        )
        rows[name] = {
            "attacks": verdict.tests_run,
            "complete": complete,
            "escapes_succeeded": len(verdict.failed_ids) if complete else None,
            "escapes": sorted(node.split("::")[-1] for node in verdict.failed_ids),
            "host_listeners_reached": sum(
                listener.accepted - before[key] for key, listener in listeners.items()
            ),
            "host_files_written": int(written.exists()),
            "status": verdict.status.value,
            **({} if complete else {"reason": verdict.reason}),
        }
        in_venv.close()
    for listener in listeners.values():
        listener.close()
    return rows


def stops(base: Path) -> dict[str, dict]:
    from tactful.feedback.execution import Sandbox, ValidationOptions

    rows: dict[str, dict] = {}
    for backend, warm in modes():
        mode = f"{backend}-{'warm' if warm else 'cold'}"
        for attack, text in BOMBS.items():
            root = project(base / f"{attack}-{mode}", {"tests/test_bomb.py": text})
            options = ValidationOptions(
                sandbox=backend,
                warm_pytest=warm,
                processes=256,
                memory_bytes=512 << 20,
                disk_bytes=256 << 20,
                python=sys.executable,
            )
            judge = Sandbox(root, options, trusted=True)
            started = time.monotonic()
            verdict = judge.validate_sync(everything=True)
            took = time.monotonic() - started
            judge.close()
            rows[f"{attack}/{mode}"] = {
                "stopped_after_s": round(took, 3),
                "status": verdict.status.value,
                "reason": verdict.reason,
            }
    return rows


def main() -> int:
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    with tempfile.TemporaryDirectory(prefix="tactful-hardening-") as scratch:
        base = Path(scratch)
        for name in ("CACHE", "DATA", "CONFIG"):
            os.environ[f"XDG_{name}_HOME"] = str(base / "xdg" / name.lower())
        os.environ["HOME"] = str(base / "home")
        for variable in SECRET_VARIABLES:
            os.environ[variable] = f"postgres://user:{CANARY}@db/app"
        report = {
            "limits": {"processes": 256, "memory_mb": 512, "disk_mb": 256},
            "escapes": escapes(base),
            "stops": stops(base),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
    print(json.dumps(report, indent=2))
    sandboxed = [row for name, row in report["escapes"].items() if name != "none"]
    stopped = [row for row in report["stops"].values() if row["status"] == "failed"]
    measured = all(row["complete"] for row in report["escapes"].values())
    return 0 if measured and sandboxed and len(stopped) == len(report["stops"]) else 1


if __name__ == "__main__":
    sys.exit(main())

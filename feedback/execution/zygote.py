"""A warm test process: pytest imported once inside the sandbox, forked for each validation run.

Boundary: started by ``warm_pytest.WarmPytest`` as ``bwrap … -- PYTHON -I zygote.py SPEC`` with
the *workspace's* interpreter (pytest runs in-process), so it imports only the standard library
and ``jail.py`` (loaded by path). It runs with no capability, like any sandboxed run, and never
runs a test itself: it imports pytest and then, for each request read from standard input,
forks a run (which starts the run's own ``sitecustomize``, as a fresh process would):

- the run process makes a user and a mount namespace of its own (every mount it inherits comes
  locked: neither it nor the tests can undo one), mounts a size-capped tmpfs for the run's
  writes and an overlay of them over the warm copy at the workspace's path, lays the edit's
  files in, binds the virtual environments and its helper folder read-only, mounts a ``/tmp``
  of its own (binding again the interpreters and environments that live under the zygote's)
  and hides the runs folder;
- it then starts a PID namespace whose first process (dying with it) gives up every
  capability, sets the limits, points standard output at the run's output folder (a tmpfs),
  puts on ``sys.path`` what the environment's ``.pth`` files name inside the copy (absent
  when the zygote started) and calls ``pytest.main``. ``/proc`` stays the zygote's: the
  kernel lets no new one be mounted under bubblewrap's, so the tests see the zygote's
  processes there (those of this workspace only), though they can signal none outside their
  own namespace;
- the run process watches it like ``jail.py`` does (processes, memory, full disks, deadline),
  then writes through a descriptor of the host's output folder what it measured, the files the
  run left in its output folder and the bytecode it compiled.

A run that outlives its deadline, or that tactful cancels (``{"op": "kill"}``), is killed with its
whole PID namespace. Requests and answers are JSON lines; the zygote exits when its standard
input closes, killing every run it started.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import select
import signal
import sys
import time

_spec = importlib.util.spec_from_file_location(
    "tactful_jail", os.path.join(os.path.dirname(os.path.abspath(__file__)), "jail.py")
)
assert _spec is not None and _spec.loader is not None
jail = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jail)

_CLONE_NEWPID = 0x20000000
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_REMOUNT = 0x20
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
SHM_BYTES = 64 << 20
OUT_BYTES = 1 << 30


def _say(message: dict) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _under(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def add_site_paths() -> list[str]:
    """The folders the environment's ``.pth`` files name that ``site`` left out; which ones.

    ``site`` read them when the zygote started, when the workspace's path held nothing but its
    virtual environments: an editable install's ``.pth`` naming the project's ``src`` (which
    exists only in a run's copy) was skipped as a folder that does not exist. A fresh
    interpreter in the run would have put it on the path, in this order: after its site
    folder and the entries before it. Lines that import are not run again (they ran at start).
    """
    import site

    added: list[str] = []
    for sitedir in site.getsitepackages():
        if sitedir not in sys.path or not os.path.isdir(sitedir):
            continue
        position = sys.path.index(sitedir) + 1
        try:
            names = sorted(name for name in os.listdir(sitedir) if name.endswith(".pth"))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(sitedir, name), encoding="utf-8-sig") as handle:
                    lines = handle.read().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                if not line.strip() or line.startswith(("#", "import ", "import\t")):
                    continue
                folder = os.path.abspath(os.path.join(sitedir, line.rstrip()))
                if folder in sys.path:
                    position = max(position, sys.path.index(folder) + 1)
                elif os.path.exists(folder):
                    sys.path.insert(position, folder)
                    position += 1
                    added.append(folder)
    return added


def _grandchild(libc, request: dict, spec: dict) -> None:
    """The first process of the run's PID namespace: the tests, in-process."""
    root = spec["root"]
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD, signal.SIGTERM})
    for number in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    output = os.open(
        os.path.join(spec["out_at"], "output.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
    )
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.closerange(3, 1 << 16)
    os.chdir(root)
    jail.drop_privileges(libc)
    # Readable by its watcher again. Forked, not executed, the tests keep the zygote's
    # non-dumpable flag, which closes their smaps to a watcher without capabilities: their
    # memory was then counted at resident size, every forked copy of pytest in full, and a
    # fork bomb was stopped as "memory limit" long before its process count said what it was.
    # The watcher and the zygote stay non-dumpable; the tests gain nothing by this.
    libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    jail.set_limits(request.get("limits", {}))
    os.environ.clear()
    os.environ.update(request["env"])
    # as `python -m pytest` with PYTHONPATH=helper would have it
    sys.path[0:0] = [root, request["helper"]]
    add_site_paths()
    sys.argv = ["pytest", *request["args"]]
    importlib.invalidate_caches()
    # what the run's sitecustomize would have started in a fresh process: the record of
    # which changed code the tests run (child_coverage.py)
    site = os.path.join(request["helper"], "sitecustomize.py")
    if os.path.exists(site):
        found = importlib.util.spec_from_file_location("tactful_run_site", site)
        if found is not None and found.loader is not None:
            module = importlib.util.module_from_spec(found)
            found.loader.exec_module(module)
            module.start()
    import pytest

    code = 4
    try:
        code = int(pytest.main(list(request["args"])))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(code)


def _child(libc, spec: dict, request: dict) -> int:
    """One run: its namespaces, its view, its tests, and what it left for tactful."""
    root = spec["root"]
    limits = request.get("limits", {})
    disk_bytes = int(limits.get("disk_bytes", 1 << 30))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    out_fd = os.open(request["out"], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        jail.enter_run_namespaces(libc)
        # held before the overlay and the cover hide them
        held = [
            (os.open(os.path.join(root, rel), os.O_PATH | os.O_DIRECTORY), os.path.join(root, rel))
            for rel in spec.get("venvs", [])
            if os.path.isdir(os.path.join(root, rel))
        ]
        helper = os.open(request["helper"], os.O_PATH | os.O_DIRECTORY)
        # interpreters and environments that live under /tmp: the run's own /tmp hides them
        under_tmp = [
            (os.open(path, os.O_PATH | os.O_DIRECTORY), path)
            for path in spec.get("under_tmp", [])
            if _under(path, "/tmp") and os.path.isdir(path)
        ]
        jail.mount_copy(
            libc,
            spec["warm_at"],
            spec["scratch_at"],
            root,
            disk_bytes,
            os.path.join(request["helper"], "changes"),
        )
        for fd, target in held:
            jail.bind_fd(libc, fd, target, readonly=True)
        copy = os.open(root, os.O_PATH | os.O_DIRECTORY)
        # the runs folder (every run's helper and output folders on the host) goes out of
        # sight, under an empty tmpfs or under the run's own /tmp
        runs = spec["runs"]
        covered = not _under(runs, "/tmp")
        if covered:
            jail.tmpfs(libc, runs, 1 << 20)
        jail.tmpfs(libc, "/tmp", disk_bytes)
        for fd, path in under_tmp:
            jail.bind_fd(libc, fd, path, readonly=True)
        if os.path.isdir("/dev/shm"):
            jail.tmpfs(libc, "/dev/shm", SHM_BYTES)
        jail.tmpfs(libc, spec["out_at"], OUT_BYTES)
        if _under(root, "/tmp"):
            jail.bind_fd(libc, copy, root, readonly=False)
        jail.bind_fd(libc, helper, request["helper"], readonly=True)
        if covered:
            flags = _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
            jail.mount(libc, None, runs, None, flags, "mode=0755,size=1048576")
    except (jail.SetupError, OSError) as exc:
        jail.write_usage(out_fd, None, limits)
        with jail._write_out(out_fd, "output.txt") as handle:
            handle.write(f"tactful-jail: sandbox setup failed: {exc}\n".encode())
        return jail.SETUP_FAILED
    jail.unshare(libc, _CLONE_NEWPID)
    deadline = time.monotonic() + float(request["deadline_s"])
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _grandchild(libc, request, spec)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException as exc:  # a run must end with a status, whatever happened
            os.write(2, f"tactful-jail: the test run failed to start: {exc!r}\n".encode())
            code = jail.SETUP_FAILED
        # what `python -m pytest` does on its way out: exit handlers, flushed output
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    watch = jail.Watch({"limits": limits, "disks": ["/tmp", "/dev/shm", spec["scratch_at"]]})
    status, stopped = jail.supervise(pid, watch, deadline, jail.WATCH_S)
    # the PID namespace goes with its first process
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)
    if stopped is None and any(jail.full(path) for path in ("/tmp", spec["scratch_at"])):
        stopped = "disk"
    jail.write_usage(out_fd, stopped, limits)
    with contextlib.suppress(OSError):
        jail.collect_outputs(spec["out_at"], out_fd, OUT_BYTES)
        jail.collect_bytecode(os.path.join(spec["scratch_at"], "upper"), out_fd)
    if stopped == "deadline":
        return jail.TIMED_OUT
    if status is None:
        return 128 + signal.SIGKILL
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def self_test(libc, spec: dict) -> str | None:
    """Whether a run's namespaces and overlay can be made here (None: they can)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            jail.enter_run_namespaces(libc)
            jail.mount_copy(libc, spec["warm_at"], spec["scratch_at"], spec["root"], 1 << 20, None)
        except BaseException as exc:  # reported through the exit status
            os.write(2, f"tactful-zygote: {exc}\n".encode())
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    return "a run's namespaces or overlay cannot be made here"


def serve(spec: dict) -> int:
    libc = jail._libc()
    # no ptrace of the zygote, no reading its memory, by the runs it forks
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    problem = self_test(libc, spec)
    if problem is not None:
        _say({"error": problem})
        return jail.SETUP_FAILED
    try:
        for name in spec.get("preload", []):
            __import__(name)
    except Exception as exc:  # a workspace without pytest: tactful runs it the usual way
        _say({"error": f"cannot import {exc}"})
        return 1
    # what every run's sitecustomize would import again (coverage, which records what the tests
    # run), from a folder holding it alone; a run without it imports it itself
    extra = spec.get("warm_path")
    for name in spec.get("warm_imports", []):
        if extra:
            sys.path.append(extra)
        try:
            __import__(name)
        except Exception:  # only a warm start lost: the run imports it itself
            pass
        finally:
            if extra and extra in sys.path:
                sys.path.remove(extra)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    runs: dict[int, str] = {}
    sys.stdout.flush()
    _say({"ready": True, "pid": os.getpid()})
    pending = b""
    while True:
        try:
            readable, _, _ = select.select([0, wake_read], [], [])
        except InterruptedError:
            continue
        if wake_read in readable:
            os.read(wake_read, 4096)
            while runs:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                code = (
                    128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                )
                _say({"done": runs.pop(pid, ""), "code": code})
        if 0 in readable:
            chunk = os.read(0, 65536)
            if not chunk:
                for pid in runs:
                    os.kill(pid, signal.SIGKILL)
                return 0
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                if request.get("op") == "kill":
                    for pid, name in runs.items():
                        if name == request["id"]:
                            os.kill(pid, signal.SIGKILL)
                    continue
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM})
                    code = jail.SETUP_FAILED
                    try:
                        code = _child(libc, spec, request)
                    except BaseException as exc:  # said in the log; never back into the loop
                        with contextlib.suppress(OSError):
                            os.write(2, f"tactful-zygote: run {request['id']}: {exc!r}\n".encode())
                    os._exit(code)
                runs[pid] = request["id"]


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    return serve(spec)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

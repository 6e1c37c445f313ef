"""A warm test process: pytest imported once inside the sandbox, forked for each validation run.

Boundary: started by ``warm_pytest.WarmPytest`` as ``unshare … -- PYTHON -I zygote.py SPEC``
with the *workspace's* interpreter (pytest runs in-process), so it imports only the standard
library and ``jail.py`` (loaded by path). It never runs a test itself and never imports
workspace code: it builds the sandbox's base view (as ``jail.py`` does, plus the warm copy
bound at a private path), imports pytest, and then, for each request read from standard input,
forks a run (which starts the run's own ``sitecustomize``, as a fresh process would):

- the run process takes a mount namespace of its own, mounts the run's overlay (its edits over
  the warm copy) at the workspace's path, binds the virtual environments, its helper and output
  folders, drops the warm copy's private path and mounts a ``/tmp`` of its own, so the tests can
  write only to the overlay, that ``/tmp`` and the output folder;
- it then starts a PID namespace whose first process (dying with it) mounts a fresh ``/proc``,
  sets the limits, points standard output at the output folder and calls ``pytest.main``.

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

_CLONE_NEWNS = 0x00020000
_CLONE_NEWPID = 0x20000000
_MNT_DETACH = 2
_PR_SET_PDEATHSIG = 1


def _say(message: dict) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _unshare(libc, flags: int) -> None:
    if libc.unshare(flags) != 0:
        import ctypes

        raise jail.SetupError(f"unshare: {os.strerror(ctypes.get_errno())}")


def _bind(libc, source: str, target: str, readonly: bool) -> None:
    os.makedirs(target, exist_ok=True)
    jail._mount(libc, source, target, None, jail._MS_BIND | jail._MS_REC)
    if readonly:
        jail._mount(libc, None, target, None, jail._MS_REMOUNT | jail._MS_BIND | jail._MS_RDONLY)


def _grandchild(libc, request: dict, root: str, helper: str) -> None:
    """The first process of the run's PID namespace: the tests, in-process."""
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    for number in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)
    jail._mount(libc, "proc", "/proc", "proc", jail._MS_NOSUID | jail._MS_NODEV | jail._MS_NOEXEC)
    null = os.open(os.devnull, os.O_RDONLY)
    output = os.open(
        os.path.join(request["out"], "output.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
    )
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.closerange(3, 1 << 16)
    os.chdir(root)
    jail._set_limits(request.get("limits", {}))
    os.environ.clear()
    os.environ.update(request["env"])
    # as `python -m pytest` with PYTHONPATH=helper would have it
    sys.path[0:0] = [root, helper]
    sys.argv = ["pytest", *request["args"]]
    importlib.invalidate_caches()
    # what the run's sitecustomize would have started in a fresh process: the record of
    # which changed code the tests run (child_coverage.py)
    site = os.path.join(helper, "sitecustomize.py")
    if os.path.exists(site):
        spec = importlib.util.spec_from_file_location("tactful_run_site", site)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.start()
    import pytest

    code = 4
    try:
        code = int(pytest.main(list(request["args"])))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(code)


def _child(libc, spec: dict, venvs: list[str], request: dict) -> int:
    """One run: its own mount namespace with the overlay at the workspace's path."""
    root, home, home_at = spec["root"], spec["home"], spec["home_at"]

    def private(path: str) -> str:
        return os.path.join(home_at, os.path.relpath(path, home))

    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    _unshare(libc, _CLONE_NEWNS)
    jail._mount(libc, None, "/", None, jail._MS_REC | jail._MS_PRIVATE)
    run = private(request["run"])
    options = "lowerdir={},upperdir={},workdir={},userxattr".format(
        os.path.join(home_at, "copy"), os.path.join(run, "upper"), os.path.join(run, "work")
    )
    # the environments (bound into the zygote's view at their own paths), held before the
    # overlay covers them; a descriptor from the zygote's namespace would not bind here
    held_venvs = [
        (os.open(os.path.join(root, relative), os.O_PATH | os.O_DIRECTORY), relative)
        for relative in venvs
        if os.path.isdir(os.path.join(root, relative))
    ]
    os.makedirs(root, exist_ok=True)
    jail._mount(libc, "overlay", root, "overlay", 0, options)
    for fd, relative in held_venvs:
        _bind(libc, f"/proc/self/fd/{fd}", os.path.join(root, relative), readonly=True)
    _bind(libc, private(request["helper"]), request["helper"], readonly=True)
    _bind(libc, private(request["out"]), request["out"], readonly=False)
    # a /tmp and /dev/shm of the run's own (not the zygote's, which every run would share);
    # what they cover is held by descriptor and bound again
    held = [
        (os.open(path, os.O_PATH | os.O_DIRECTORY), path, readonly)
        for path, readonly in ((root, False), (request["helper"], True), (request["out"], False))
    ]
    if libc.umount2(home_at.encode(), _MNT_DETACH) != 0:
        raise jail.SetupError("could not hide the warm copy")
    for target in ("/tmp", "/dev/shm"):
        if os.path.isdir(target):
            jail._mount(
                libc, "tmpfs", target, "tmpfs", jail._MS_NOSUID | jail._MS_NODEV, "mode=1777"
            )
    for fd, path, readonly in held:
        if not os.path.isdir(path):
            _bind(libc, f"/proc/self/fd/{fd}", path, readonly)
        os.close(fd)
    _unshare(libc, _CLONE_NEWPID)
    deadline = time.monotonic() + float(request["deadline_s"])
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _grandchild(libc, request, root, request["helper"])
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
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.setitimer(signal.ITIMER_REAL, max(0.01, deadline - time.monotonic()))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    jail.write_usage(os.path.join(request["out"], "usage.json"))
    if time.monotonic() >= deadline:
        return jail.TIMED_OUT
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _report_failure(spec: dict, request: dict, exc: BaseException) -> None:
    """Say why a run could not start, in its output file (by either of its paths)."""
    private = os.path.join(spec["home_at"], os.path.relpath(request["out"], spec["home"]))
    for folder in (private, request["out"]):
        try:
            with open(os.path.join(folder, "output.txt"), "a", encoding="utf-8") as handle:
                handle.write(f"tactful-jail: sandbox setup failed: {exc}\n")
            return
        except OSError:
            continue


def serve(spec: dict) -> int:
    libc = jail._libc()
    venvs = [relative for _source, relative in spec.get("venvs", [])]
    try:
        jail.build_view(spec["mounts"])
    except (jail.SetupError, OSError) as exc:
        _say({"error": f"sandbox setup failed: {exc}"})
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
                    code = jail.SETUP_FAILED
                    try:
                        code = _child(libc, spec, venvs, request)
                    except BaseException as exc:  # report, never fall back into the loop
                        _report_failure(spec, request, exc)
                    os._exit(code)
                runs[pid] = request["id"]


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    return serve(spec)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

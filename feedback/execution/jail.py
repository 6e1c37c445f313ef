"""The first process inside a validation sandbox: it builds the view, sets limits, runs the tests.

Boundary: started by ``runner`` as ``python -I jail.py SPEC`` with tactful's own interpreter,
inside the namespaces that ``unshare`` or ``bwrap`` made (or none, for the limits-only backend).
It imports nothing but the standard library, because it runs before and around the workspace's
code; it never touches a path outside the run folder except to make it read-only, and it never
outlives its deadline: at the deadline, or on SIGTERM, it kills every process it started,
including those that left its process group.

What it does, in order:

1. with ``mounts`` (the ``unshare`` backend): mounts fresh tmpfs on ``/tmp`` and ``/dev/shm``,
   binds again what they hid and the run needs, binds the run copy over the workspace's own
   path (so absolute paths, editable installs included, resolve to the edited copy) and the
   workspace's virtual environment into it, then remounts every other mount read-only;
2. becomes a child subreaper, so no descendant can escape it by double-forking or ``setsid``;
3. forks the command with CPU, memory, file-size and core limits set between fork and exec;
4. reaps everything and exits with the command's status (128+N when a signal N ended it).

Exit status 125 means the sandbox itself could not be built; the reason is on stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import resource
import signal
import sys
import time

SETUP_FAILED = 125
OVERLAY = "<overlay>"  # a bind whose source is the run's overlay (see backends.jail_mounts)
TIMED_OUT = 124

_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_REMOUNT = 0x20
_MS_NOATIME = 0x400
_MS_NODIRATIME = 0x800
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MS_RELATIME = 1 << 21
_MS_STRICTATIME = 1 << 24

# Flags a remount must repeat: in a user namespace the kernel locks them on inherited mounts
# and refuses a remount that would drop one.
_KEPT_FLAGS = {
    "nosuid": _MS_NOSUID,
    "nodev": _MS_NODEV,
    "noexec": _MS_NOEXEC,
    "noatime": _MS_NOATIME,
    "nodiratime": _MS_NODIRATIME,
    "relatime": _MS_RELATIME,
    "strictatime": _MS_STRICTATIME,
}

_PR_SET_CHILD_SUBREAPER = 36


class SetupError(Exception):
    pass


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mount(
    libc: ctypes.CDLL,
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    data: str | None = None,
) -> None:
    result = libc.mount(
        source.encode() if source is not None else None,
        target.encode(),
        fstype.encode() if fstype is not None else None,
        ctypes.c_ulong(flags),
        data.encode() if data is not None else None,
    )
    if result != 0:
        err = ctypes.get_errno()
        raise SetupError(f"mount {source} on {target}: {os.strerror(err)}")


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field[i + 1 : i + 4]) == 3 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mount_points() -> list[tuple[str, str]]:
    """(mount point, per-mount options) of every mount in this namespace, parents first."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            points.append((_unescape(fields[4]), fields[5]))
    return points


def build_view(mounts: dict) -> None:
    """Make the filesystem view of the ``unshare`` backend (see the module docstring)."""
    libc = _libc()
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    # Hold every source by descriptor first: the tmpfs on /tmp and the copy bound over the
    # workspace hide some of their paths.
    held: list[list] = []
    for source, target, writable in mounts["binds"]:
        if source == OVERLAY:
            held.append([None, target, writable])
        elif os.path.isdir(source):
            held.append([os.open(source, os.O_PATH | os.O_DIRECTORY), target, writable])
    overlay = mounts.get("overlay")
    for entry in held:
        if entry[0] is None and overlay:
            # the run's view: its writes in `upper` over the unchanged warm copy; mounted
            # where it goes, then held like the other sources
            options = "lowerdir={lower},upperdir={upper},workdir={work},userxattr".format(**overlay)
            _mount(libc, "overlay", entry[1], "overlay", 0, options)
            entry[0] = os.open(entry[1], os.O_PATH | os.O_DIRECTORY)
    held = [entry for entry in held if entry[0] is not None]
    keep_writable = {target for _fd, target, writable in held if writable}
    for target in mounts.get("tmpfs", []):
        if os.path.isdir(target):
            _mount(libc, "tmpfs", target, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777")
            keep_writable.add(target)
    for fd, target, _writable in held:
        os.makedirs(target, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", target, None, _MS_BIND | _MS_REC)
        os.close(fd)
    for point, options in _mount_points():
        if point in keep_writable:
            continue
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY
        for option in options.split(","):
            flags |= _KEPT_FLAGS.get(option, 0)
        try:
            _mount(libc, None, point, None, flags)
        except SetupError as exc:
            # A mount hidden under another one at the same point cannot be reached by path,
            # and so cannot be written either.
            if not os.path.exists(point):
                continue
            raise SetupError(f"could not make {point} read-only ({exc})") from exc


def _set_limits(limits: dict) -> None:
    pairs = [
        (resource.RLIMIT_CPU, limits.get("cpu_s")),
        (resource.RLIMIT_AS, limits.get("memory_bytes")),
        (resource.RLIMIT_FSIZE, limits.get("file_bytes")),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in pairs:
        if value is None:
            continue
        _soft, hard = resource.getrlimit(which)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def _descendants(ancestor: int) -> list[int]:
    if not os.path.isdir("/proc"):
        return []
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ')'
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [ancestor]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree() -> None:
    """SIGKILL every descendant; repeated because a process may fork while we look."""
    for _ in range(20):
        victims = _descendants(os.getpid())
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def write_usage(path: str | None) -> None:
    """CPU seconds of this process and of every process it waited for, as JSON at ``path``."""
    if not path:
        return
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    with contextlib.suppress(OSError), open(path, "w", encoding="utf-8") as handle:
        json.dump({"cpu_s": round(seconds, 4)}, handle)


def run(spec: dict) -> int:
    if spec.get("mounts"):
        try:
            build_view(spec["mounts"])
        except (SetupError, OSError) as exc:
            sys.stderr.write(f"tactful-jail: sandbox setup failed: {exc}\n")
            return SETUP_FAILED
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    deadline = time.monotonic() + float(spec["deadline_s"])
    stopped: dict[str, int | None] = {"reason": None}

    def stop(signum: int, _frame: object) -> None:
        stopped["reason"] = signum
        kill_tree()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, deadline - time.monotonic()))

    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            os.chdir(spec["cwd"])
            _set_limits(spec.get("limits", {}))
            os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
        except OSError as exc:
            os.write(2, f"tactful-jail: cannot run {spec['argv'][0]}: {exc}\n".encode())
            os._exit(127)
    status = None
    while True:
        try:
            child, raw = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if child == pid:
            status = raw
            # The command is done; whatever it left behind goes with it.
            signal.setitimer(signal.ITIMER_REAL, 0)
            kill_tree()
    write_usage(spec.get("usage"))
    if stopped["reason"] == signal.SIGALRM:
        return TIMED_OUT
    if status is None:
        return SETUP_FAILED
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        return run(spec)
    except OSError as exc:
        if exc.errno == errno.EPERM:
            sys.stderr.write(f"tactful-jail: not permitted: {exc}\n")
        else:
            sys.stderr.write(f"tactful-jail: {exc}\n")
        return SETUP_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv))

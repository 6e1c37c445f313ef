"""The execution judge: a workspace's own tests, run on a sandboxed copy with an edit applied.

Boundary: the one entry point of execution feedback. ``Sandbox.validate`` takes edits (or a
unified diff) and returns a ``Verdict``; it never raises on broken user code, a diff that does
not apply or a test command that does not start: those are verdicts too. Nothing from the
workspace runs — not its tests, its conftest, its plugins or its interpreter — unless the
workspace is trusted (``tactful trust``, or the editor's trust passed by the caller); an untrusted
call returns "not validated (workspace not trusted)" at once.

A validation: sync the warm copy; make the changes; look the verdict up by (changes, workspace
state, command, backend); select the tests (coverage map, import graph, whole suite); lay the
changes over the warm copy (an overlay the sandbox mounts, or where it cannot, a copy it
makes of it); run the tests there in the sandbox (forked from a warm pytest under bubblewrap,
else a fresh process); read the probe's report and what stopped the run, if a limit did. The
coverage map is built and updated in the background, once the workspace is trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tactful.analyzers.text import Edit
from tactful.feedback.execution.backends import (
    OUT_AT,
    SCRATCH_AT,
    WARM_AT,
    BackendInfo,
    Layout,
    available_backend,
    base_view,
    overlay_layer,
    overlay_runs_work,
    readonly_binds,
    readonly_view,
)
from tactful.feedback.execution.cgroup import RunGroup, join_command
from tactful.feedback.execution.coverage_map import (
    CONFIG_FILES,
    CoverageMap,
    child_contexts,
    read_coverage_data,
    tracked,
)
from tactful.feedback.execution.jail import TIMED_OUT
from tactful.feedback.execution.patch import (
    Change,
    PatchError,
    changes_from_edits,
    changes_from_patch,
)
from tactful.feedback.execution.runner import (
    JAIL_GRACE_S,
    MEMORY_MARGIN,
    PROCESS_MARGIN,
    Limits,
    RunOutcome,
    read_output,
    read_usage,
    run_command,
    stop_reason,
)
from tactful.feedback.execution.selection import ImportGraph, TestPlan, is_test_file, plan_tests
from tactful.feedback.execution.verdict import (
    Selection,
    Status,
    Verdict,
    not_validated,
    trim_failures,
)
from tactful.feedback.execution.warm_pytest import ZYGOTE, WarmPytest, ZygoteGone
from tactful.feedback.execution.workspace import (
    VENV_NAMES,
    WarmCopy,
    WorkspaceState,
    apply_changes,
    inside,
    interpreter_folders,
    workspace_interpreter,
)
from tactful.feedback.trust import is_trusted

logger = logging.getLogger(__name__)

PROBE = Path(__file__).with_name("probe.py")
CHILD_COVERAGE = Path(__file__).with_name("child_coverage.py")
ZYGOTE_TMP_BYTES = 64 << 20  # the zygote's own /tmp; each run mounts one of its own
MEMORY_CACHE = 512
DISK_CACHE = 2000
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


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """The ``validation.*`` settings the judge needs (the server resolves them)."""

    enabled: bool = True
    sandbox: str = "auto"  # "auto", "bwrap", "unshare", "none"
    timeout_s: float = 60.0
    command: tuple[str, ...] | None = None  # None: `python -m pytest` with the workspace's Python
    stop_at_first_failure: bool = True  # a failing edit needs one failure, not all of them
    coverage_map: bool = True  # build the coverage map in the background once trusted
    memory_bytes: int | None = None  # resident memory of a run's processes (None: the default)
    processes: int | None = None  # processes a run may have at once (None: 512)
    disk_bytes: int | None = None  # bytes a run may write to its copy and to /tmp (None: 1 GiB)
    warm_pytest: bool = True  # fork runs from a pytest kept imported (False: a fresh one each)


def _env_allowed(name: str) -> bool:
    upper = name.upper()
    if upper not in _ENV_ALLOWED and not upper.startswith(_ENV_ALLOWED_PREFIXES):
        return False
    return not any(word in upper for word in _SECRET_WORDS)


def _is_pytest(argv: Sequence[str]) -> bool:
    if not argv:
        return False
    if Path(argv[0]).name in ("pytest", "py.test"):
        return True
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[i + 1] in ("pytest", "py.test"):
            return True
    return False


class Sandbox:
    """Validation for one workspace: its warm copy, coverage map and verdict cache."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        options: ValidationOptions | None = None,
        *,
        trusted: bool | None = None,
        cache: Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.options = options or ValidationOptions()
        self._trusted = trusted
        self.warm = WarmCopy(self.root, cache)
        self._graph = ImportGraph()
        self._verdicts: OrderedDict[str, Verdict] = OrderedDict()
        self._verdicts_lock = threading.Lock()  # validate_sync may run in several threads
        self._map: CoverageMap | None = None
        self._map_loaded = False
        self._map_task: asyncio.Task[CoverageMap | None] | None = None
        self._map_failed_for: str | None = None
        self._warm_pytest: WarmPytest | None = None
        self._warm_pytest_key = ""
        self._warm_pytest_failures = 0
        self._warm_pytest_lock = threading.Lock()

    # Gates ---------------------------------------------------------------------------------

    def trusted(self) -> bool:
        """The editor's trust when the caller passed it, else the trust list."""
        return self._trusted if self._trusted is not None else is_trusted(self.root)

    def _closed_reason(self) -> str | None:
        if not self.options.enabled:
            return "validation is off"
        if not self.trusted():
            return "workspace not trusted"
        return None

    async def backend(self) -> BackendInfo:
        return await asyncio.to_thread(available_backend, self.options.sandbox)

    # The command ---------------------------------------------------------------------------

    def interpreter(self) -> Path:
        """The Python the tests run with: the one the configured command names, else the
        workspace's (its ``.venv``), else tactful's."""
        program = self._program()
        if program is not None and program.name.startswith("python"):
            return program
        return workspace_interpreter(self.root)

    def _program(self) -> Path | None:
        """The program a configured command starts (None: ``python``, or not found)."""
        command = self.options.command
        if not command or command[0] in ("python", "python3"):
            return None
        name = command[0]
        if "/" in name:
            path = Path(name) if os.path.isabs(name) else self.root / name
        else:
            found = shutil.which(name)
            if found is None:
                return None
            path = Path(found)
        return path if path.exists() else None

    def _environment_folders(self) -> list[Path]:
        """Host folders the test command needs to start, wherever they are (``/tmp`` too):
        its interpreter's environment and base installation, and those of the program the
        command names. Those inside the workspace come with the copy."""
        folders: list[Path] = []
        for program in (self.interpreter(), self._program()):
            if program is None:
                continue
            for folder in interpreter_folders(program):
                if not folder.is_relative_to(self.root) and folder not in folders:
                    folders.append(folder)
        return folders

    def command(self) -> list[str]:
        interpreter = str(self.interpreter())
        if self.options.command is None:
            return [interpreter, "-m", "pytest"]
        argv = list(self.options.command)
        if argv and argv[0] in ("python", "python3"):
            argv[0] = interpreter
        return argv

    def _environment_stamp(self) -> str:
        """Changes when packages are installed into the workspace's environment."""
        interpreter = self.interpreter()
        stamps = [str(interpreter)]
        venv = interpreter.parent.parent
        for site in sorted(venv.glob("lib/python*/site-packages")):
            with contextlib.suppress(OSError):
                stamps.append(f"{site}:{site.stat().st_mtime_ns}")
        return "|".join(stamps)

    # Validation ----------------------------------------------------------------------------

    async def validate(
        self,
        edits: Sequence[Edit] = (),
        *,
        patch: str | None = None,
        overlays: Mapping[str, str] | None = None,
        everything: bool = False,
    ) -> Verdict:
        """Run the tests that cover ``edits`` (or ``patch``) on a sandboxed copy.

        ``overlays`` are texts of files that differ from the disk (unsaved editor buffers) by
        path relative to the root; edits are positioned in them. ``everything`` runs the whole
        suite instead of selecting. The first validation of a trusted workspace also starts
        building the coverage map in the background, on this event loop.
        """
        return await self._validate(edits, patch, overlays or {}, everything, background=True)

    def validate_sync(
        self,
        edits: Sequence[Edit] = (),
        *,
        patch: str | None = None,
        overlays: Mapping[str, str] | None = None,
        everything: bool = False,
    ) -> Verdict:
        """``validate`` for callers without an event loop (the CLI, worker threads).

        It starts no background work: the loop it runs on ends with the call.
        """
        return asyncio.run(
            self._validate(edits, patch, overlays or {}, everything, background=False)
        )

    async def _validate(
        self,
        edits: Sequence[Edit],
        patch: str | None,
        overlays: Mapping[str, str],
        everything: bool,
        background: bool,
    ) -> Verdict:
        reason = self._closed_reason()
        if reason:
            return not_validated(reason)
        backend = await self.backend()
        if not backend.available:
            return not_validated(f"no sandbox: {backend.detail}")
        state = await asyncio.to_thread(self.warm.sync)
        try:
            changes, unmappable = self._changes(edits, patch, overlays)
        except PatchError as exc:
            return Verdict(Status.ERROR, reason=str(exc), backend=backend.name or "")
        argv = self.command()
        pytest = _is_pytest(argv)
        key = self._key(changes, state, argv, backend, everything)
        cached = self._cached(key)
        if cached is not None:
            return cached
        cmap = await asyncio.to_thread(self._load_map) if pytest else None
        if not pytest:
            plan = TestPlan(Selection.COMMAND, why="the test command is not pytest")
        elif everything:
            plan = TestPlan(Selection.ALL, why="asked for the whole suite")
        else:
            plan = await asyncio.to_thread(
                plan_tests, changes, state.files, self.warm.read, self._graph, cmap, unmappable
            )
        verdict = await self._run(backend, changes, plan, argv, cmap)
        self._remember(key, verdict)
        if background and pytest and self.options.coverage_map:
            self.start_coverage_map()
        return verdict

    def patch_problem(self, patch: str) -> str | None:
        """Why a unified diff does not apply to the workspace as it is on disk (None: it does)."""

        def read(path: str) -> str | None:
            try:
                relative = self._relative(path)
                with (self.root / relative).open(
                    encoding="utf-8", errors="surrogateescape", newline=""
                ) as handle:
                    return handle.read()
            except OSError:
                return None

        try:
            for change in changes_from_patch(patch, read):
                self._relative(change.path)
        except PatchError as exc:
            return str(exc)
        return None

    def _relative(self, path: str) -> str:
        candidate = Path(path)
        if candidate.is_absolute():
            try:
                return candidate.resolve().relative_to(self.root).as_posix()
            except ValueError as exc:
                raise PatchError(f"{path} is outside the workspace") from exc
        if not inside(self.root, path):
            raise PatchError(f"{path} is outside the workspace")
        return Path(path).as_posix()

    def _changes(
        self, edits: Sequence[Edit], patch: str | None, overlays: Mapping[str, str]
    ) -> tuple[list[Change], set[str]]:
        texts = {self._relative(path): text for path, text in overlays.items()}

        def read(path: str) -> str | None:
            return texts[path] if path in texts else self.warm.read(path)

        if patch is not None:
            changes = changes_from_patch(patch, lambda p: read(self._relative(p)))
        else:
            edits = [replace(edit, path=self._relative(edit.path)) for edit in edits]
            changes = changes_from_edits(edits, read)
        changes = [replace(change, path=self._relative(change.path)) for change in changes]
        touched = {change.path for change in changes}
        # unsaved buffers go in too; their lines no longer match the map, so they are unmappable
        unmappable = {path for path, text in texts.items() if text != self.warm.read(path)}
        for path in sorted(unmappable - touched):
            changes.append(Change(path, texts[path], ((0, texts[path].count("\n")),)))
        return changes, unmappable

    # Cache ---------------------------------------------------------------------------------

    def _key(
        self,
        changes: list[Change],
        state: WorkspaceState,
        argv: list[str],
        backend: BackendInfo,
        everything: bool,
    ) -> str:
        payload = {
            "changes": sorted(
                (
                    c.path,
                    None
                    if c.new_text is None
                    else hashlib.sha256(c.new_text.encode("utf-8", "surrogateescape")).hexdigest(),
                )
                for c in changes
            ),
            "state": state.digest,
            "argv": argv,
            "backend": backend.name,
            "everything": everything,
            "first_failure": self.options.stop_at_first_failure,
            "environment": self._environment_stamp(),
            # a verdict reached within looser limits says nothing of one within tighter ones
            "limits": [
                self.options.timeout_s,
                self.options.memory_bytes,
                self.options.processes,
                self.options.disk_bytes,
            ],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _cached(self, key: str) -> Verdict | None:
        with self._verdicts_lock:
            if key in self._verdicts:
                self._verdicts.move_to_end(key)
                return self._verdicts[key].with_cached()
        path = self.warm.home / "verdicts" / f"{key}.json"
        try:
            verdict = Verdict.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with self._verdicts_lock:
            self._verdicts[key] = verdict
        return verdict.with_cached()

    def _remember(self, key: str, verdict: Verdict) -> None:
        # errors and timeouts may be the machine's fault, not the edit's: never cached
        if verdict.status not in (Status.PASSED, Status.FAILED):
            return
        with self._verdicts_lock:
            self._verdicts[key] = verdict
            while len(self._verdicts) > MEMORY_CACHE:
                self._verdicts.popitem(last=False)
        folder = self.warm.home / "verdicts"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{key}.tmp"
            tmp.write_text(json.dumps(verdict.to_json()), encoding="utf-8")
            os.replace(tmp, folder / f"{key}.json")
            entries = list(folder.glob("*.json"))
            if len(entries) > DISK_CACHE:
                entries.sort(key=lambda p: p.stat().st_mtime)
                for old in entries[: len(entries) - DISK_CACHE * 4 // 5]:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            logger.info("could not store a verdict in %s: %s", folder, exc)

    # Running -------------------------------------------------------------------------------

    def _limits(self, timeout: float) -> Limits:
        options = self.options
        return Limits.for_timeout(
            timeout, options.memory_bytes, options.processes, options.disk_bytes
        )

    def _readonly(self, helper: Path) -> list[Path]:
        """Host folders a run reads: its helper folder and the interpreter's installation."""
        return [helper, *self._environment_folders()]

    def _layout(self, backend: str, run: Path, helper: Path, limits: Limits) -> Layout:
        into_copy = tuple(
            (self.root / name, name) for name in VENV_NAMES if (self.root / name).is_dir()
        )
        sandboxed = backend == "bwrap"
        overlay = sandboxed and overlay_runs_work()
        return Layout(
            root=self.root,
            copy=self.warm.copy if sandboxed else run / "copy",
            readonly=tuple(self._readonly(helper)),
            into_copy=into_copy,
            # an overlay's tmpfs holds the run's writes only; a copy's, the warm copy too
            copy_bytes=limits.disk_bytes + (0 if overlay else self.warm.size()),
            tmp_bytes=limits.disk_bytes,
            empty=overlay_layer(run) if sandboxed else None,
            overlay=overlay,
        )

    def _env(self, backend: str, test_root: Path, run: Path, helper: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if _env_allowed(k)}
        python_path = [str(helper)]
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
        interpreter = self.interpreter()
        venv = interpreter.parent.parent
        if (venv / "pyvenv.cfg").exists():
            env["VIRTUAL_ENV"] = str(venv)
            env["PATH"] = os.pathsep.join([str(interpreter.parent), env.get("PATH", "")])
        return env

    async def _run(
        self,
        backend: BackendInfo,
        changes: list[Change],
        plan: TestPlan,
        argv: list[str],
        cmap: CoverageMap | None,
    ) -> Verdict:
        name = backend.name or "none"
        try:
            return await self._run_once(name, changes, plan, argv, cmap, warm=True)
        except ZygoteGone as gone:
            logger.info("the warm pytest of %s is gone (%s): running cold", self.root, gone)
            return await self._run_once(name, changes, plan, argv, cmap, warm=False)

    async def _run_once(
        self,
        name: str,
        changes: list[Change],
        plan: TestPlan,
        argv: list[str],
        cmap: CoverageMap | None,
        warm: bool,
    ) -> Verdict:
        run: Path | None = None
        try:
            # sandboxed, the warm copy is copied (or overlaid) inside the sandbox
            run = await asyncio.to_thread(
                self.warm.new_empty_run if name == "bwrap" else self.warm.new_run
            )
            assert run is not None
            verdict, _report = await self._run_in(name, run, changes, plan, argv, cmap, warm=warm)
            changed = {change.path for change in changes}
            await asyncio.to_thread(self.warm.keep_bytecode, run, changed)
            return verdict
        finally:
            if run is not None:
                await asyncio.to_thread(self.warm.discard_run, run)

    async def _run_in(
        self,
        backend: str,
        run: Path,
        changes: list[Change],
        plan: TestPlan,
        argv: list[str],
        cmap: CoverageMap | None,
        coverage_file: str | None = None,
        timeout_s: float | None = None,
        warm: bool = False,
    ) -> tuple[Verdict, dict | None]:
        helper, out = run / "helper", run / "out"
        helper.mkdir()
        out.mkdir()
        sandboxed = backend == "bwrap"
        edited = helper / "changes"
        written = [change for change in changes if change.new_text is not None]
        deleted = [change.path for change in changes if change.new_text is None]
        if sandboxed:
            await asyncio.to_thread(apply_changes, edited, written)
        else:
            await asyncio.to_thread(apply_changes, run / "copy", changes)
        timeout = timeout_s if timeout_s is not None else self.options.timeout_s
        limits = self._limits(timeout)
        # the first call probes the machine for overlays (a bwrap run): off the event loop
        layout = await asyncio.to_thread(self._layout, backend, run, helper, limits)
        test_root = layout.test_root(backend)
        env = self._env(backend, test_root, run, helper)
        # where the tests write their results: a tmpfs the jail copies out, or the host's folder
        results = Path(OUT_AT) if sandboxed else out
        pytest = plan.method is not Selection.COMMAND
        command = list(argv)
        if pytest:
            shutil.copyfile(PROBE, helper / "tactful_probe.py")
            env["TACTFUL_PROBE_REPORT"] = str(results / "report.json")
            command += ["-p", "tactful_probe", "-q"]
            if self.options.stop_at_first_failure and coverage_file is None:
                command.append("-x")
            # tests that fail with no edit applied say nothing about the edit
            skip = sorted(cmap.failing) if cmap is not None else []
            if plan.node_ids is not None or skip:
                only = None
                if plan.node_ids is not None:
                    only = {"ids": sorted(plan.node_ids), "files": list(plan.whole_files)}
                (helper / "select.json").write_text(
                    json.dumps({"only": only, "skip": skip}), encoding="utf-8"
                )
                env["TACTFUL_PROBE_SELECT"] = str(helper / "select.json")
            command += list(plan.files)
            if coverage_file is not None:
                shutil.copyfile(CHILD_COVERAGE, helper / "sitecustomize.py")
                env["TACTFUL_PROBE_COVERAGE"] = str(results / coverage_file)
                with contextlib.suppress(ImportError):
                    import coverage

                    env["TACTFUL_PROBE_COVERAGE_PATH"] = str(Path(coverage.__file__).parent.parent)
        outcome = None
        if (
            warm
            and self.options.warm_pytest
            and pytest
            and coverage_file is None
            and sandboxed
            and not deleted
            and command[:3] == [str(self.interpreter()), "-m", "pytest"]
        ):
            zygote = await asyncio.to_thread(self._warm_pytest_for)
            if zygote is not None:
                outcome = await self._run_warm(zygote, run, command[3:], env, timeout, limits)
        if outcome is None:
            held = await asyncio.to_thread(self.warm.hold) if sandboxed else None

            def release() -> None:
                nonlocal held
                if held is not None:
                    self.warm.release(held)
                    held = None

            try:
                outcome = await run_command(
                    backend,
                    layout,
                    command,
                    env,
                    timeout,
                    limits,
                    helper,
                    out,
                    changes=edited if sandboxed else None,
                    deleted=deleted,
                    # an overlay reads the warm copy until the run ends: held until then
                    on_copied=None if layout.overlay else release,
                )
            finally:
                release()
        report = _read_report(out / "report.json") if pytest else None
        verdict = _verdict(outcome, report, plan, backend, cmap, limits)
        return replace(verdict, cpu_s=outcome.cpu_s), report

    # Warm pytest -----------------------------------------------------------------------------

    def _warm_pytest_for(self) -> WarmPytest | None:
        """The zygote for this workspace's interpreter and environment, started on first use."""
        key = self._environment_stamp()
        with self._warm_pytest_lock:
            current = self._warm_pytest
            if current is not None and current.alive and self._warm_pytest_key == key:
                return current
            if current is not None:
                current.close()
                self._warm_pytest = None
            if self._warm_pytest_failures >= 2:
                return None
            interpreter = self.interpreter()
            readonly = self._environment_folders()
            venvs = [name for name in VENV_NAMES if (self.root / name).is_dir()]
            runs = self.warm.runs
            runs.mkdir(parents=True, exist_ok=True)
            spec = {
                "venvs": venvs,
                "root": str(self.root),
                "warm_at": WARM_AT,
                "scratch_at": SCRATCH_AT,
                "out_at": OUT_AT,
                "runs": str(runs),
                # each run mounts a /tmp of its own: what lives under the zygote's is bound again
                "under_tmp": [
                    str(path)
                    for path in readonly_binds(readonly)
                    if path.is_relative_to("/tmp") and path != self.root
                ],
                "preload": ["pytest"],
            }
            empty = overlay_layer(self.warm.home)
            argv = base_view(readonly, ZYGOTE_TMP_BYTES, nested=True, empty=empty)
            argv += ["--ro-bind", str(self.warm.copy), WARM_AT, "--bind", str(runs), str(runs)]
            argv += ["--dir", SCRATCH_AT, "--dir", OUT_AT, "--dir", str(self.root)]
            for name in venvs:
                argv += readonly_view(str(self.root / name), str(self.root / name), empty)
            spec_path = runs / "zygote.json"
            argv += ["--remount-ro", "/", "--", str(interpreter), "-I", str(ZYGOTE), str(spec_path)]
            limits = self._limits(self.options.timeout_s)
            # a ceiling for the zygote and the runs it forks together, where the machine has
            # control groups; each run is also watched and limited on its own (zygote.py)
            group = RunGroup.create(
                f"tactful-zygote-{os.getpid()}-{id(self):x}",
                2 * (limits.processes + PROCESS_MARGIN),
                2 * (limits.memory_bytes + 3 * limits.disk_bytes) + MEMORY_MARGIN,
            )
            zygote = WarmPytest(
                join_command(group, argv), spec, spec_path, self.warm.home / "zygote.log", group
            )
            if not zygote.start():
                self._warm_pytest_failures += 1
                logger.info("no warm pytest for %s: %s", self.root, zygote.failure)
                return None
            self._warm_pytest, self._warm_pytest_key = zygote, key
            # a sandbox dropped without close() does not leave its zygote behind
            weakref.finalize(self, zygote.close)
            return zygote

    async def _run_warm(
        self,
        zygote: WarmPytest,
        run: Path,
        args: list[str],
        env: dict[str, str],
        timeout: float,
        limits: Limits,
    ) -> RunOutcome:
        """One run forked from the warm pytest; ZygoteGone when it could not be done there."""
        out = run / "out"
        request = {
            "id": run.name,
            "helper": str(run / "helper"),
            "out": str(out),
            "args": args,
            "env": env,
            "limits": limits.to_jail(True),
            "deadline_s": timeout,
        }
        started = time.monotonic()
        # the warm copy lies under the run's overlay: it must not change meanwhile
        held = await asyncio.to_thread(self.warm.hold)
        try:
            finished = asyncio.wrap_future(zygote.submit(request))
            timed_out = False
            code: int | None = None
            try:
                code = await asyncio.wait_for(asyncio.shield(finished), timeout + JAIL_GRACE_S)
            except TimeoutError:
                timed_out = True
                zygote.kill(run.name)
                with contextlib.suppress(TimeoutError, ZygoteGone):
                    await asyncio.wait_for(finished, JAIL_GRACE_S)
            except asyncio.CancelledError:
                # killed before re-raising, so nothing of the run outlives the cancellation
                zygote.kill(run.name)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(finished, JAIL_GRACE_S)
                raise
        finally:
            self.warm.release(held)
        usage = await asyncio.to_thread(read_usage, out)
        stopped = usage.get("stopped")
        if stopped == "deadline" or code == TIMED_OUT:
            timed_out = True
        if stopped not in ("processes", "memory", "disk"):
            stopped = zygote.stopped() or ("cpu" if code == 128 + signal.SIGXCPU else None)
        output = read_output(out / "output.txt")
        duration = time.monotonic() - started
        return RunOutcome(
            None if timed_out else code,
            output,
            duration,
            timed_out,
            stopped,
            float(usage.get("cpu_s", 0.0)),
        )

    def close(self) -> None:
        """Stop the warm pytest, if one runs (it also stops when this process ends)."""
        with self._warm_pytest_lock:
            if self._warm_pytest is not None:
                self._warm_pytest.close()
                self._warm_pytest = None

    # Coverage map --------------------------------------------------------------------------

    def _map_path(self) -> Path:
        return self.warm.home / "coverage-map.json"

    def _load_map(self) -> CoverageMap | None:
        if not self._map_loaded:
            self._map = CoverageMap.load(self._map_path())
            self._map_loaded = True
        return self._map

    def start_coverage_map(self) -> None:
        """Build or update the coverage map in the background (trusted workspaces only)."""
        if self._closed_reason() or (self._map_task is not None and not self._map_task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._map_task = loop.create_task(self._update_map())

    async def update_coverage_map(self) -> CoverageMap | None:
        """Make the coverage map current for the workspace as it is now; None when it cannot.

        A build already running in the background is waited for, never started twice.
        """
        while self._map_task is not None and not self._map_task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._map_task)
        self._map_task = asyncio.ensure_future(self._update_map())
        return await asyncio.shield(self._map_task)

    async def _update_map(self) -> CoverageMap | None:
        if self._closed_reason() or not _is_pytest(self.command()):
            return None
        backend = await self.backend()
        if not backend.available:
            return None
        state = await asyncio.to_thread(self.warm.sync)
        cmap = await asyncio.to_thread(self._load_map)
        if self._map_failed_for == state.digest:
            return cmap
        current = {path: digest for path, digest in state.files.items() if tracked(path)}
        if cmap is not None and cmap.files == current:
            return cmap
        plan, changed = self._map_plan(cmap, state)
        started = time.monotonic()
        run = await asyncio.to_thread(self.warm.new_run)
        try:
            timeout = max(600.0, self.options.timeout_s * 10)
            verdict, report = await self._run_in(
                backend.name or "none",
                run,
                [],
                plan,
                self.command(),
                None,
                "coverage.sqlite",
                timeout,
            )
            data_file = run / "out" / "coverage.sqlite"
            if report is None or not data_file.exists() or verdict.status is Status.ERROR:
                logger.info("coverage map not made: %s", verdict.reason or verdict.status.value)
                self._map_failed_for = state.digest
                return cmap
            test_root = self.root if backend.name == "bwrap" else run / "copy"
            measured = await asyncio.to_thread(read_coverage_data, data_file, test_root)
            # a test whose Python children were measured is seen like any other
            opaque = set(report.get("spawning", [])) - await asyncio.to_thread(
                child_contexts, data_file
            )
            await asyncio.to_thread(self.warm.keep_bytecode, run, set())
        finally:
            await asyncio.to_thread(self.warm.discard_run, run)
        fresh = cmap if cmap is not None and plan.method is not Selection.ALL else CoverageMap()
        fresh.merge_run(
            report.get("collected", []),
            report.get("outcomes", {}),
            measured,
            state.files,
            changed,
            opaque,
        )
        await asyncio.to_thread(fresh.save, self._map_path())
        self._map = fresh
        logger.info(
            "coverage map %s for %d tests in %.1f s",
            "made" if plan.method is Selection.ALL else "updated",
            len(fresh.tests),
            time.monotonic() - started,
        )
        return fresh

    @staticmethod
    def _map_plan(cmap: CoverageMap | None, state: WorkspaceState) -> tuple[TestPlan, set[str]]:
        """The tests to re-run for the map, and the files whose old lines are stale."""
        everything = TestPlan(Selection.ALL, why="making the coverage map")
        if cmap is None:
            return everything, set(state.files)
        now = {path: digest for path, digest in state.files.items() if tracked(path)}
        changed = {p for p in set(now) | set(cmap.files) if now.get(p) != cmap.files.get(p)}
        if any(Path(p).name in CONFIG_FILES for p in changed):
            return everything, set(state.files)
        known = cmap.test_files()
        new_tests = {p for p in changed if p in now and is_test_file(p) and p not in known}
        rerun = cmap.tests_touching(changed) | {
            node for node, path in zip(cmap.tests, cmap.test_paths, strict=True) if path in changed
        }
        if len(rerun) * 2 > len(cmap.tests):
            return everything, set(state.files)
        files = sorted({cmap.file_of(node) for node in rerun} | new_tests)
        files = [f for f in files if f in now]
        plan = TestPlan(
            Selection.COVERAGE,
            tuple(files),
            tuple(sorted(rerun)),
            whole_files=tuple(sorted(new_tests)),
            why="updating the coverage map",
        )
        return plan, changed

    async def aclose(self) -> None:
        """Stop background work (the coverage map build) and the warm pytest."""
        await asyncio.to_thread(self.close)
        if self._map_task is not None and not self._map_task.done():
            self._map_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._map_task


def _read_report(path: Path) -> dict | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def _verdict(
    outcome: RunOutcome,
    report: dict | None,
    plan: TestPlan,
    backend: str,
    cmap: CoverageMap | None,
    limits: Limits,
) -> Verdict:
    base = Verdict(
        Status.ERROR, duration_s=outcome.duration_s, backend=backend, selection=plan.method
    )
    tail = trim_failures(outcome.output)
    if outcome.setup_failed:
        line = next((ln for ln in outcome.output.splitlines() if "tactful-jail" in ln), tail)
        return replace(base, reason=line.replace("tactful-jail: ", ""))
    outcomes: dict[str, str] = dict(report.get("outcomes", {})) if report else {}
    ran = [node for node, result in outcomes.items() if result != "skipped"]
    failed = [node for node, result in outcomes.items() if result in ("failed", "error")]
    texts = [f"{f['id']} ({f['when']})\n{f['text']}" for f in (report or {}).get("failures", [])]
    texts += [
        f"{e['id']} (collection)\n{e['text']}" for e in (report or {}).get("collect_errors", [])
    ]
    counted = replace(base, tests_run=len(ran), test_ids=tuple(ran), failed_ids=tuple(failed))
    stopped = outcome.stopped
    if stopped is None and "MemoryError" in outcome.output and outcome.exit_code != 0:
        # an allocation past the address-space limit fails in the process that asked
        stopped = "memory"
    if stopped == "cpu":
        return replace(
            counted, status=Status.TIMEOUT, failures=tail, reason=stop_reason(stopped, limits)
        )
    if stopped is not None:
        # the edit's tests went past a limit: that is what they do with it
        return replace(
            counted, status=Status.FAILED, failures=tail, reason=stop_reason(stopped, limits)
        )
    if outcome.timed_out:
        return replace(
            counted,
            status=Status.TIMEOUT,
            failures=tail,
            reason=f"the tests did not finish in {outcome.duration_s:.0f} s",
        )
    code = outcome.exit_code
    if plan.method is Selection.COMMAND:
        status = Status.PASSED if code == 0 else Status.FAILED
        return replace(counted, status=status, failures="" if code == 0 else tail)
    if report is None:
        return replace(base, failures=tail, reason=_first_error_line(outcome.output, code))
    exitstatus = report.get("exitstatus", code)
    already = set(cmap.failing) if cmap is not None else set()
    new_failures = [node for node in failed if node not in already]
    collect_errors = report.get("collect_errors", [])
    failures = trim_failures("\n\n".join(texts)) if texts else tail
    if code is not None and code > 128:
        signal_number = code - 128
        return replace(
            counted,
            status=Status.FAILED,
            failures=tail,
            reason=f"the test process was killed by signal {signal_number}",
        )
    if exitstatus == 0 or (exitstatus == 1 and not new_failures and not collect_errors and ran):
        if not ran:
            return replace(counted, reason="no tests ran", failures=tail)
        return replace(counted, status=Status.PASSED)
    if exitstatus in (1, 2) and (new_failures or collect_errors):
        return replace(counted, status=Status.FAILED, failures=failures)
    if exitstatus == 5:
        return replace(counted, reason="no tests ran", failures=tail)
    return replace(counted, failures=failures, reason=_first_error_line(outcome.output, exitstatus))


def _first_error_line(output: str, code: int | None) -> str:
    for line in output.splitlines():
        if line.startswith("tactful-jail: "):
            return line.removeprefix("tactful-jail: ")[:300]
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith(("ERROR:", "Error", "error:")) or "Error:" in stripped:
            return stripped[:300]
    return f"the test command exited with status {code}"

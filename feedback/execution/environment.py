"""The project's own Python: which interpreter runs a workspace's tests, and why that one.

Boundary: reads settings, the process environment and the file system, and runs nothing of the
workspace. It asks the project tools people use (poetry, pdm, hatch) only when they are
installed, only for a trusted workspace, with a timeout and no input. It never falls back to
tactful's own interpreter silently: when nothing is found, ``Environment.interpreter`` is None
and ``why`` says how to choose one.

The order is the one an editor or a project tool follows, most explicit first:

1. ``validation.command``, when its program is a Python interpreter, or a script whose ``#!``
   line names one (``pytest`` of an environment); ``python``/``python3`` alone means "the
   project's Python" and goes on down the list;
2. ``validation.python`` (user settings or the editor's initialization options);
3. the interpreter the editor has selected (VS Code's Python extension, sent by the extension);
4. an activated ``VIRTUAL_ENV``, or ``CONDA_PREFIX`` other than conda's ``base``, that is not
   tactful's own environment;
5. ``.venv`` or ``venv`` in the workspace;
6. what poetry, pdm or hatch report for the project (when it uses them), or uv's
   ``UV_PROJECT_ENVIRONMENT``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tactful.feedback.execution.workspace import VENV_NAMES

logger = logging.getLogger(__name__)

TOOL_TIMEOUT_S = 15.0
# A project tool's answer is kept this long (asking poetry costs about a second).
TOOL_ANSWER_TTL_S = 300.0
_PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$")
NONE_FOUND = (
    "no Python environment found for this project: set validation.python in your user "
    "settings (or select an interpreter in your editor), activate its virtual environment, "
    "or create .venv in the workspace"
)


@dataclass(frozen=True, slots=True)
class Environment:
    """The interpreter chosen for a workspace, where the choice came from, and why."""

    interpreter: Path | None
    source: str = ""  # "validation.command", "validation.python", "editor", "VIRTUAL_ENV", …
    why: str = NONE_FOUND

    @property
    def found(self) -> bool:
        return self.interpreter is not None

    @property
    def prefix(self) -> Path | None:
        """The environment's folder: a virtual environment or a conda prefix."""
        if self.interpreter is None:
            return None
        return _prefix_of(self.interpreter)

    def folders(self) -> list[Path]:
        """Folders a run needs to see, read-only, for this interpreter to start and import
        what is installed in it: the environment, its base installation, and the folders
        its ``.pth`` files add (editable installs of other projects)."""
        if self.interpreter is None:
            return []
        folders = interpreter_folders(self.interpreter)
        for site in site_packages(self.interpreter):
            for extra in _pth_folders(site):
                if extra not in folders:
                    folders.append(extra)
        return folders

    def fingerprint(self) -> str:
        """Changes when the interpreter or what is installed in it changes."""
        if self.interpreter is None:
            return "none"
        digest = hashlib.sha256(str(self.interpreter).encode())
        with contextlib.suppress(OSError):
            digest.update(str(self.interpreter.resolve()).encode())
            target = self.interpreter.resolve().stat()
            digest.update(f"{target.st_size}:{target.st_mtime_ns}".encode())
        prefix = self.prefix
        if prefix is not None:
            with contextlib.suppress(OSError):
                digest.update((prefix / "pyvenv.cfg").read_bytes())
        for site in site_packages(self.interpreter):
            try:
                names = sorted(
                    entry.name
                    for entry in os.scandir(site)
                    if entry.name.endswith((".dist-info", ".egg-info", ".pth", ".egg-link"))
                )
                digest.update(f"{site}:{site.stat().st_mtime_ns}".encode())
            except OSError:
                continue
            for name in names:
                digest.update(name.encode("utf-8", "surrogateescape"))
                if name.endswith(".pth"):
                    with contextlib.suppress(OSError):
                        digest.update((site / name).read_bytes())
        return digest.hexdigest()

    def to_json(self) -> dict[str, object]:
        """For ``tactful doctor --format json``."""
        return {
            "interpreter": str(self.interpreter) if self.interpreter else None,
            "source": self.source or None,
            "why": self.why,
        }


def _prefix_of(interpreter: Path) -> Path:
    folder = interpreter.parent
    return folder.parent if folder.name in ("bin", "Scripts") else folder


def interpreter_folders(interpreter: Path) -> list[Path]:
    """Folders an interpreter needs to start: its virtual environment and its base install."""
    folders: list[Path] = []
    venv = _prefix_of(interpreter)
    config = venv / "pyvenv.cfg"
    if config.exists():
        folders.append(venv)
        with contextlib.suppress(OSError):
            for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "home" and value.strip():
                    folders.append(Path(value.strip()).resolve().parent)
    with contextlib.suppress(OSError):
        folders.append(interpreter.resolve().parent.parent)
    if Path(interpreter).absolute() == Path(sys.executable).absolute():
        folders.extend(Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix))
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique and str(folder) != "/":
            unique.append(folder)
    return unique


def site_packages(interpreter: Path) -> list[Path]:
    """The ``site-packages`` folders of an interpreter's environment (POSIX and Windows)."""
    prefix = _prefix_of(interpreter)
    found = sorted(prefix.glob("lib/python*/site-packages"))
    found += [p for p in (prefix / "Lib" / "site-packages",) if p.is_dir()]
    return found


def _pth_folders(site: Path) -> list[Path]:
    """Absolute folders named by a site folder's ``.pth`` files (not their ``import`` lines)."""
    found: list[Path] = []
    try:
        files = sorted(site.glob("*.pth"))
    except OSError:
        return found
    for pth in files:
        try:
            lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            path = Path(line)
            if path.is_absolute() and path.is_dir():
                found.append(path.resolve())
    return found


def _is_python_program(word: str) -> bool:
    return bool(_PYTHON_NAME.match(Path(word).name))


def _shebang(program: Path) -> Path | None:
    """The interpreter a script's ``#!`` line names, when it is a Python."""
    try:
        with program.open("rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    if words and Path(words[0]).name == "env" and len(words) > 1:
        words = words[1:]
    if words and _is_python_program(words[0]) and os.path.isabs(words[0]):
        return Path(words[0])
    return None


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _plain(path: Path) -> Path:
    """``path`` absolute, its folders resolved (no ``..``, no links) and its own name kept: a
    virtual environment's ``bin/python`` is a link whose location is what makes it that
    environment, while the sandbox binds resolved folders and cannot follow a ``..`` through
    one it does not bind."""
    path = path.absolute()
    return path.parent.resolve() / path.name


def _in_prefix(prefix: Path) -> Path | None:
    for candidate in (prefix / "bin" / "python", prefix / "Scripts" / "python.exe"):
        if _runnable(candidate):
            return _plain(candidate)
    return None


def _named(value: str, root: Path) -> Path | None:
    """An interpreter named by a setting: a file, an environment's folder, or a command."""
    path = Path(os.path.expanduser(value))
    if not path.is_absolute() and (os.sep in value or value.startswith(".")):
        path = root / path
    if path.is_dir():
        return _in_prefix(path)
    if _runnable(path):
        return _plain(path)
    if not path.is_absolute() and os.sep not in value:
        which = shutil.which(value)
        return _plain(Path(which)) if which else None
    return None


def _own(prefix: Path) -> bool:
    """Whether ``prefix`` is the environment tactful itself runs in."""
    with contextlib.suppress(OSError):
        return prefix.resolve() in {Path(sys.prefix).resolve(), Path(sys.exec_prefix).resolve()}
    return False


def _pyproject(root: Path) -> dict[str, Any]:
    try:
        with (root / "pyproject.toml").open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


_tool_answers: dict[tuple[str, str, int], tuple[float, Path | None]] = {}


def _ask(tool: str, argv: Sequence[str], root: Path) -> str | None:
    """A project tool's answer (its first line of output), or None."""
    program = shutil.which(tool)
    if program is None:
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    try:
        done = subprocess.run(
            [program, *argv],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.info("%s did not answer for %s: %s", tool, root, exc)
        return None
    if done.returncode != 0:
        return None
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[-1] if lines else None


def _from_tool(tool: str, root: Path) -> Path | None:
    """The interpreter a project tool reports for ``root`` (answers kept a few minutes)."""
    try:
        stamp = (root / "pyproject.toml").stat().st_mtime_ns
    except OSError:
        stamp = 0
    key = (tool, str(root), stamp)
    known = _tool_answers.get(key)
    if known is not None and time.monotonic() - known[0] < TOOL_ANSWER_TTL_S:
        return known[1]
    found: Path | None = None
    if tool == "poetry":
        answer = _ask("poetry", ["env", "info", "--executable", "--no-interaction"], root)
        found = Path(answer) if answer else None
    elif tool == "pdm":
        answer = _ask("pdm", ["info", "--python"], root)
        found = Path(answer) if answer else None
    elif tool == "hatch":
        answer = _ask("hatch", ["env", "find"], root)
        found = _in_prefix(Path(answer)) if answer else None
    if found is not None and not _runnable(found):
        found = None
    _tool_answers[key] = (time.monotonic(), found)
    return found


def _project_tools(root: Path) -> list[str]:
    """The tools a project shows signs of using, in the order they are asked."""
    tool = _pyproject(root).get("tool", {})
    tools = []
    if "poetry" in tool or (root / "poetry.lock").exists():
        tools.append("poetry")
    if "pdm" in tool or (root / "pdm.lock").exists():
        tools.append("pdm")
    if "hatch" in tool or (root / "hatch.toml").exists():
        tools.append("hatch")
    return tools


def find_environment(
    root: Path,
    *,
    command: Sequence[str] | None = None,
    python: str | None = None,
    selected: str | None = None,
    environ: Mapping[str, str] | None = None,
    trusted: bool = True,
) -> Environment:
    """The interpreter for ``root``'s tests, in the order of the module docstring.

    ``python`` is ``validation.python``; ``selected`` is the editor's selected interpreter;
    ``environ`` is the environment tactful was started in (default: this process's).
    ``trusted`` allows asking the project tools, which read the project's configuration.
    """
    environ = os.environ if environ is None else environ
    if command:
        program = command[0]
        if program not in ("python", "python3") and _is_python_program(program):
            found = _named(program, root)
            if found is None:
                return Environment(
                    None,
                    "validation.command",
                    f"{program} (validation.command) is not an interpreter that exists here",
                )
            return Environment(found, "validation.command", "the program of validation.command")
        script = _named(program, root) if program not in ("python", "python3") else None
        named = _shebang(script) if script is not None else None
        if named is not None and _runnable(named):
            return Environment(
                named, "validation.command", f"the interpreter of {program} (validation.command)"
            )
    if python:
        found = _named(python, root)
        if found is None:
            return Environment(
                None,
                "validation.python",
                f"validation.python = {python!r} is not an interpreter "
                "or an environment that exists here",
            )
        return Environment(found, "validation.python", "set by validation.python")
    if selected:
        found = _named(selected, root)
        if found is not None:
            return Environment(found, "editor", "the interpreter selected in the editor")
        logger.info("the editor's interpreter %s does not exist: looking further", selected)
    virtual_env = environ.get("VIRTUAL_ENV")
    if virtual_env and not _own(Path(virtual_env)):
        found = _in_prefix(Path(virtual_env))
        if found is not None:
            return Environment(found, "VIRTUAL_ENV", f"the activated VIRTUAL_ENV {virtual_env}")
    conda = environ.get("CONDA_PREFIX")
    if conda and environ.get("CONDA_DEFAULT_ENV") != "base" and not _own(Path(conda)):
        found = _in_prefix(Path(conda))
        if found is not None:
            return Environment(found, "CONDA_PREFIX", f"the activated conda environment {conda}")
    for name in VENV_NAMES:
        found = _in_prefix(root / name)
        if found is not None:
            return Environment(found, name, f"{name} in the workspace")
    if trusted:
        for tool in _project_tools(root):
            found = _from_tool(tool, root)
            if found is not None:
                return Environment(found, tool, f"the environment {tool} reports for the project")
        uv_env = environ.get("UV_PROJECT_ENVIRONMENT")
        if uv_env:
            found = _in_prefix(root / uv_env if not Path(uv_env).is_absolute() else Path(uv_env))
            if found is not None:
                return Environment(found, "uv", f"uv's UV_PROJECT_ENVIRONMENT {uv_env}")
    return Environment(None)

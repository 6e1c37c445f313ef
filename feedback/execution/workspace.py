"""The warm copy of a workspace that validations start from, and the run copies made of it.

Boundary: file system work under tactful's cache directory only; it reads the workspace and never
writes to it. The copy holds the workspace's tracked and non-ignored files (``git ls-files``; a
folder walk that skips the usual build, cache and virtual-environment folders outside git), never
``.git`` and never secrets. It is kept in sync incrementally: a file is re-read only when its
size or modification time changed, and re-copied only when its content hash changed. Each
validation applies its edit to a fresh run copy, so concurrent validations never see each other's
edits and the warm copy stays as the workspace is.

The only program run here is ``git`` (``ls-files``, with ``core.fsmonitor`` off so a repository's
configuration cannot make it start anything) and ``cp``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tactful.analyzers.folders import is_tool_dir, project_files
from tactful.analyzers.userdirs import cache_dir
from tactful.feedback.execution.patch import Change

logger = logging.getLogger(__name__)

SECRET_DIRS = frozenset({".aws", ".ssh", ".gnupg", ".docker", ".kube"})
SECRET_NAMES = frozenset({".netrc", "_netrc", ".git-credentials", ".pypirc", ".npmrc"})
SECRET_SUFFIXES = frozenset({".pem", ".key", ".p12", ".pfx", ".keystore", ".jks"})
# A file bigger than this is data, not code a test needs; copying it would slow every sync.
LARGEST_FILE = 64 * 1024 * 1024
VENV_NAMES = (".venv", "venv")
STALE_RUN_S = 6 * 3600
BYTECODE_FILE = 16 << 20  # no compiled module is bigger


def is_secret(relative: str) -> bool:
    """True for files that must never leave the workspace, even into a sandbox."""
    parts = PurePosixPath(relative).parts
    if any(part in SECRET_DIRS for part in parts[:-1]):
        return True
    name = parts[-1] if parts else ""
    suffix = PurePosixPath(name).suffix.lower()
    if name.startswith(".env") or name in SECRET_NAMES or suffix in SECRET_SUFFIXES:
        return True
    # ssh keys (id_rsa, id_ed25519.pub, …); id_mapping.py is code, not a key
    return name.startswith("id_") and suffix in ("", ".pub")


def _walk_files(root: Path, base: str = "") -> list[str]:
    found: list[str] = []
    start = root / base if base else root
    for folder, dirs, files in os.walk(start):
        dirs[:] = [
            d for d in dirs if not is_tool_dir(d) and not (Path(folder) / d / "pyvenv.cfg").exists()
        ]
        rel_folder = Path(folder).relative_to(root)
        for name in files:
            found.append((rel_folder / name).as_posix())
    return sorted(found)


def list_files(root: Path) -> list[str]:
    """The workspace files a sandbox copies: relative POSIX paths, secrets left out."""
    listed = project_files(root)
    if not listed:
        # outside git, or a folder that an enclosing repository ignores as a whole
        listed = _walk_files(root)
    else:
        expanded = []
        for name in listed:
            # a submodule is listed as one entry: its folder
            if (root / name).is_dir() and not (root / name).is_symlink():
                expanded.extend(_walk_files(root, name))
            else:
                expanded.append(name)
        listed = expanded
    return [
        name
        for name in listed
        if not is_secret(name)
        and not any(part in (".git", "__pycache__") for part in PurePosixPath(name).parts)
    ]


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_link(target: str) -> str:
    return "link:" + hashlib.sha256(target.encode("utf-8", "surrogateescape")).hexdigest()


def content_mtime_ns(text: str) -> int:
    """A modification time derived from content, for files a run writes.

    Compiled-bytecode caches are keyed by (mtime, size); two runs that write different contents
    of the same size at the same second must not share one, and the same content may.
    """
    seconds = (
        1_000_000_000
        + int(hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12], 16)
        % 1_000_000_000
    )
    return seconds * 1_000_000_000


@dataclass(frozen=True, slots=True)
class WorkspaceState:
    """What the warm copy holds: a hash of every file's content, and what changed last sync."""

    digest: str
    files: dict[str, str]  # relative path -> content hash
    changed: frozenset[str]


class WarmCopy:
    """The synced copy of one workspace under the cache directory, and its run copies."""

    def __init__(self, root: str | os.PathLike[str], cache: Path | None = None) -> None:
        self.root = Path(root).resolve()
        key = hashlib.sha256(str(self.root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
        self.home = (cache or cache_dir()) / "validation" / key
        self.copy = self.home / "copy"
        self.runs = self.home / "runs"
        self._manifest_path = self.home / "manifest.json"

    # Locking: a sync changes the warm copy (exclusive); taking a run copy reads it (shared).
    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "lock").open("a") as handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_manifest(self) -> dict[str, list[int | str]]:
        try:
            raw = json.loads(self._manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict) or raw.get("root") != str(self.root):
            return {}
        files = raw.get("files")
        return files if isinstance(files, dict) else {}

    def _write_manifest(self, files: dict[str, list[int | str]]) -> None:
        payload = json.dumps({"version": 1, "root": str(self.root), "files": files})
        fd, tmp = tempfile.mkstemp(dir=self.home, prefix=".manifest-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, self._manifest_path)

    def sync(self) -> WorkspaceState:
        """Bring the warm copy up to date with the workspace; returns its state.

        A look without the lock comes first: when nothing changed (the usual case) the warm
        copy is not written, so runs reading it (which hold the shared lock) do not hold this up.
        """
        state = self._sync(dry=True)
        if state is not None:
            return state
        with self._locked(fcntl.LOCK_EX):
            state = self._sync(dry=False)
        assert state is not None
        return state

    def _sync(self, dry: bool) -> WorkspaceState | None:
        """The state after syncing; with ``dry``, None as soon as anything would be written."""
        if not dry:
            self.copy.mkdir(parents=True, exist_ok=True)
            (self.home / "root.txt").write_text(str(self.root) + "\n", encoding="utf-8")
        elif not self.copy.is_dir():
            return None
        old = self._read_manifest()
        new: dict[str, list[int | str]] = {}
        changed: set[str] = set()
        for name in list_files(self.root):
            source = self.root / name
            try:
                info = source.lstat()
            except OSError:
                continue  # listed by git but deleted since
            target = self.copy / name
            if stat.S_ISLNK(info.st_mode):
                link = os.readlink(source)
                resolved = source.resolve()
                if not resolved.is_relative_to(self.root) or resolved.is_dir():
                    continue  # a link out of the workspace could expose what was left out
                entry: list[int | str] = [0, 0, _hash_link(link)]
                if old.get(name) != entry or not target.is_symlink():
                    if dry:
                        return None
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with contextlib.suppress(FileNotFoundError):
                        target.unlink()
                    os.symlink(link, target)
                    changed.add(name)
                new[name] = entry
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_size > LARGEST_FILE:
                continue
            previous = old.get(name)
            same_stat = previous is not None and previous[:2] == [info.st_size, info.st_mtime_ns]
            if same_stat and previous is not None and target.exists() and not target.is_symlink():
                new[name] = previous
                continue
            if dry:
                return None
            try:
                digest = _hash_file(source)
                if previous is None or previous[2] != digest or not target.exists():
                    changed.add(name)
                self._copy_file(source, target)
            except OSError as exc:
                logger.info("not copying %s into the sandbox: %s", name, exc)
                continue
            new[name] = [info.st_size, info.st_mtime_ns, digest]
        if dry and set(old) - set(new):
            return None
        for name in set(old) - set(new):
            changed.add(name)
            with contextlib.suppress(OSError):
                (self.copy / name).unlink()
            _prune_empty(self.copy, (self.copy / name).parent)
        if new != old:
            self._write_manifest(new)
        # an entry is [size, mtime_ns, content hash]
        files = {name: str(entry[2]) for name, entry in new.items()}
        state = hashlib.sha256()
        for name in sorted(files):
            state.update(f"{name}\0{files[name]}\n".encode("utf-8", "surrogateescape"))
        return WorkspaceState(state.hexdigest(), files, frozenset(changed))

    @staticmethod
    def _copy_file(source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.is_dir():
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        tmp = target.with_name(f".{target.name}.tactful-tmp")
        shutil.copy2(source, tmp)
        os.replace(tmp, target)

    def read(self, relative: str) -> str | None:
        """Text of a file in the warm copy (None when it is not there)."""
        path = self.copy / relative
        try:
            with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
                return handle.read()
        except (OSError, ValueError):
            return None

    def new_run(self) -> Path:
        """A fresh run folder holding ``copy/``, a copy of the warm copy."""
        run = self._fresh_run()
        with self._locked(fcntl.LOCK_SH):
            _copy_tree(self.copy, run / "copy")
        return run

    def _fresh_run(self) -> Path:
        self.runs.mkdir(parents=True, exist_ok=True)
        # a run interrupted between its copy and its cleanup leaves a folder: old ones go
        stale = time.time() - STALE_RUN_S
        for old in self.runs.iterdir():
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < stale:
                    _remove_tree(old)
        return Path(tempfile.mkdtemp(dir=self.runs, prefix="run-"))

    def new_empty_run(self) -> Path:
        """A fresh, empty run folder: for a sandbox that overlays (or copies) the warm copy.

        The caller holds the shared lock (``hold``) while the sandbox reads the warm copy.
        """
        return self._fresh_run()

    def size(self) -> int:
        """Bytes the warm copy's files take in a tmpfs (whole pages each), from its manifest."""
        page = 4096
        return sum((int(entry[0]) // page + 2) * page for entry in self._read_manifest().values())

    def hold(self) -> int:
        """Take the shared lock on the warm copy (blocking); ``release`` gives it back."""
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.home / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        return fd

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)

    def keep_bytecode(self, run: Path, changed: set[str]) -> None:
        """Keep the bytecode a run compiled (``out/bytecode.tar``) in the warm copy for later runs.

        Only for sources the run did not change, and only what is plainly bytecode: regular
        members named ``…/__pycache__/NAME.pyc``, no bigger than ``BYTECODE_FILE``, whose source
        is a regular file of the warm copy; written without following a link. Bytecode is
        checked against its source's modification time and size when loaded, so a file synced
        since is simply recompiled.
        """
        try:
            archive = tarfile.open(run / "out" / "bytecode.tar")  # noqa: SIM115 (closed below)
        except (OSError, tarfile.TarError):
            return
        with archive:
            wanted = []
            try:
                for member in archive:
                    path = PurePosixPath(member.name)
                    if (
                        not member.isreg()
                        or member.size > BYTECODE_FILE
                        or path.is_absolute()
                        or ".." in path.parts
                        or len(path.parts) < 2
                        or path.parent.name != "__pycache__"
                        or path.suffix != ".pyc"
                    ):
                        continue
                    source = path.parent.parent / (path.name.split(".", 1)[0] + ".py")
                    if source.as_posix() not in changed:
                        wanted.append((member, path, source))
            except tarfile.TarError:
                return
            if not wanted:
                return
            with self._locked(fcntl.LOCK_EX):
                for member, path, source in wanted:
                    with contextlib.suppress(OSError, tarfile.TarError):
                        self._keep_one(archive, member, path, source)

    def _keep_one(
        self,
        archive: tarfile.TarFile,
        member: tarfile.TarInfo,
        path: PurePosixPath,
        source: PurePosixPath,
    ) -> None:
        folder = self.copy / path.parent.parent
        # the source a regular file, and the folders on the way real ones inside the copy
        if not stat.S_ISREG((self.copy / source).lstat().st_mode):
            return
        expected = os.path.join(os.path.realpath(self.copy), *path.parent.parent.parts)
        if os.path.realpath(folder) != expected:
            return
        cache = folder / "__pycache__"
        with contextlib.suppress(FileExistsError):
            cache.mkdir()
        if not stat.S_ISDIR(cache.lstat().st_mode):
            return
        handle = archive.extractfile(member)
        if handle is None:
            return
        data = handle.read(BYTECODE_FILE + 1)
        if len(data) > BYTECODE_FILE:
            return
        target = cache / path.name
        with contextlib.suppress(OSError):
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as existing:
                if existing.read(16) == data[:16]:
                    return  # the same source version: nothing new
        tmp = cache / f".{path.name}.tactful-tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as written:
            written.write(data)
        os.replace(tmp, target)

    @staticmethod
    def discard_run(run: Path) -> None:
        _remove_tree(run)


def _remove_tree(folder: Path) -> None:
    """Remove a run folder, including what a test or overlayfs left unwritable (mode 000)."""

    def retry(function: Callable[[str], object], path: str, _info: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), 0o700)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
                shutil.rmtree(path, ignore_errors=True)
            else:
                function(path)

    shutil.rmtree(folder, onerror=retry)


def _copy_tree(source: Path, target: Path) -> None:
    if shutil.which("cp"):
        done = subprocess.run(
            ["cp", "-a", "--reflink=auto", f"{source}/.", str(target)],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return
        shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True)


def _prune_empty(top: Path, folder: Path) -> None:
    while folder != top and folder.is_relative_to(top):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def apply_changes(copy: Path, changes: list[Change]) -> None:
    """Write the changed files into a run copy."""
    for change in changes:
        target = copy / change.path
        if change.new_text is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        with target.open("w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            handle.write(change.new_text)
        stamp = content_mtime_ns(change.new_text)
        os.utime(target, ns=(stamp, stamp))


def inside(root: Path, relative: str) -> bool:
    """True when ``relative`` names a path inside ``root`` (no ``..`` escape, not absolute)."""
    if not relative or PurePosixPath(relative).is_absolute():
        return False
    return (root / relative).resolve().is_relative_to(root.resolve())

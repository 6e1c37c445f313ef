"""Real projects for the benchmarks: source distributions fetched with pip, the one way.

    python benchmarks/corpora.py            # click 8.1.8 and requests 2.32.3
    python benchmarks/corpora.py NAME==VER  # any other source distribution

Source distributions only (``pip download --no-binary :all: --no-deps``): they carry the tests
and the rest of the source tree, as a developer's checkout would. ``fetch`` unpacks one into
``benchmarks/corpora/NAME-VERSION`` (git-ignored; an existing folder is left as it is),
``download`` keeps just the archive, ``unpack`` puts an archive's tree where a benchmark wants
it, and ``project_python`` gives an unpacked project a virtual environment holding its test
requirements and the project itself (editable), as a developer of it has one. Every benchmark
that needs a real project gets it here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = HERE / "corpora"
DEFAULT = ["click==8.1.8", "requests==2.32.3"]
_SUFFIXES = (".tar.gz", ".tgz", ".zip")


def _archive(folder: Path, name: str, version: str) -> Path | None:
    for stem in dict.fromkeys((name, name.replace("-", "_"))):
        for suffix in _SUFFIXES:
            candidate = folder / f"{stem}-{version}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def download(requirement: str, into: Path = CORPORA) -> Path:
    """The source distribution of ``requirement`` (``NAME==VERSION``), an archive in ``into``,
    downloaded once."""
    name, _, version = requirement.partition("==")
    found = _archive(into, name, version)
    if found is not None:
        return found
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--quiet",
            "--dest",
            str(into),
            requirement,
        ],
        check=True,
    )
    found = _archive(into, name, version)
    if found is None:
        raise FileNotFoundError(f"pip downloaded no source distribution of {requirement}")
    return found


def unpack(archive: Path, target: Path) -> Path:
    """The tree of ``archive`` (whose one top folder is dropped) as the folder ``target``."""
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(scratch)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(scratch, filter="data")
        (top,) = [child for child in Path(scratch).iterdir() if child.is_dir()]
        top.rename(target)
    return target


def fetch(requirement: str) -> Path:
    """``requirement`` unpacked in ``benchmarks/corpora/NAME-VERSION`` (made on first use)."""
    name, _, version = requirement.partition("==")
    folder = CORPORA / f"{name}-{version}"
    if not folder.is_dir():
        unpack(download(requirement), folder)
    return folder


def project_python(root: Path, requirements: tuple[str, ...]) -> Path:
    """The interpreter of ``root/.venv`` (made on first use), holding ``requirements`` and the
    project itself, editable and without its dependencies."""
    python = root / ".venv" / "bin" / "python"
    if python.exists():
        return python
    shutil.rmtree(root / ".venv", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(root / ".venv")], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *requirements], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(root)], check=True)
    return python


def main(argv: list[str]) -> int:
    for requirement in argv or DEFAULT:
        print(fetch(requirement))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

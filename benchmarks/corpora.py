"""Fetch the development corpora into benchmarks/corpora/ (git-ignored).

    python benchmarks/corpora.py            # click 8.1.8 and requests 2.32.3
    python benchmarks/corpora.py NAME==VER  # any other source distribution

Source distributions only (``pip download --no-binary :all: --no-deps``): they carry the tests
and the rest of the source tree, as a developer's checkout would. Each is unpacked next to its
archive; an existing folder is left as it is.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA = HERE / "corpora"
DEFAULT = ["click==8.1.8", "requests==2.32.3"]


def fetch(requirement: str) -> Path:
    name, _, version = requirement.partition("==")
    folder = CORPORA / f"{name}-{version}"
    if folder.is_dir():
        return folder
    CORPORA.mkdir(parents=True, exist_ok=True)
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
            str(CORPORA),
            requirement,
        ],
        check=True,
    )
    archives = sorted(CORPORA.glob(f"{name}-{version}.*")) + sorted(
        CORPORA.glob(f"{name.replace('-', '_')}-{version}.*")
    )
    for archive in archives:
        if archive.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(archive) as bundle:
                bundle.extractall(CORPORA, filter="data")
        elif archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(CORPORA)
        else:
            continue
        unpacked = CORPORA / archive.name.removesuffix(".tar.gz").removesuffix(".tgz").removesuffix(
            ".zip"
        )
        if unpacked.is_dir() and unpacked != folder:
            unpacked.rename(folder)
        break
    return folder


def main(argv: list[str]) -> int:
    for requirement in argv or DEFAULT:
        print(fetch(requirement))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""A git history made of a project's released source distributions, one commit a release: a
held-out history for ``tactful bench edits`` when the project's own repository is out of reach.

    python benchmarks/sdist_history.py TARGET NAME VERSION [VERSION ...]
    python benchmarks/sdist_history.py /tmp/tenacity-history tenacity 8.0.1 8.1.0 8.2.0 \\
        8.2.1 8.2.2 8.2.3 8.3.0 8.4.0

Each release is fetched with pip (``corpora.download``), unpacked, and committed over the one
before it (files gone from a release are removed), oldest first, with the message
``NAME VERSION``. A release is coarser than a developer's commit: ``bench edits`` then pastes
hunks that add more than ``--max-added`` lines and types the rest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from corpora import CORPORA, download, unpack

_IDENTITY = ["-c", "user.name=sdist history", "-c", "user.email=history@localhost"]


def build(target: Path, name: str, versions: list[str]) -> Path:
    if target.exists():
        raise FileExistsError(f"{target} exists")
    target.mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", str(target)], check=True)
    for version in versions:
        archive = download(f"{name}=={version}", CORPORA)
        with tempfile.TemporaryDirectory() as scratch:
            tree = unpack(archive, Path(scratch) / "tree")
            for child in target.iterdir():
                if child.name != ".git":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            for child in tree.iterdir():
                shutil.move(str(child), target / child.name)
        subprocess.run(["git", "add", "--all"], cwd=target, check=True)
        subprocess.run(
            ["git", *_IDENTITY, "commit", "--quiet", "--allow-empty", "-m", f"{name} {version}"],
            cwd=target,
            check=True,
        )
    return target


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    print(build(Path(argv[0]), argv[1], argv[2:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

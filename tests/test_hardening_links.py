"""A file reached through links inside the workspace is learned once."""

from __future__ import annotations

from fixtures.workspace import Workspace

from tactful.analyzers.index import RepositoryIndex, source_files
from tactful.suggestion.replay import sample_files

CODE = "def normalise_header_name(name):\n    return name.strip().lower()\n"


def test_a_link_to_a_listed_file_is_neither_indexed_nor_replayed_twice(
    workspace: Workspace,
) -> None:
    workspace.write("pkg/core.py", CODE)
    workspace.write("pkg/other.py", "value = 1\n")
    # Two links to the same file, one of them listed before it (git lists paths sorted).
    (workspace.root / "pkg" / "alias.py").symlink_to("core.py")
    (workspace.root / "a_link.py").symlink_to(workspace.root / "pkg" / "core.py")
    # A link to a file that is not listed itself (git ignores its folder) is its only path.
    workspace.write(".gitignore", "generated/\n")
    workspace.write("generated/made.py", "generated_value = 2\n")
    (workspace.root / "pkg" / "built.py").symlink_to("../generated/made.py")
    workspace.commit("links")

    assert source_files(workspace.root) == ["pkg/built.py", "pkg/core.py", "pkg/other.py"]
    assert sorted(sample_files(workspace.root)) == ["pkg/built.py", "pkg/core.py", "pkg/other.py"]

    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    assert index.file_count == 3
    counts = index.counts("python")
    assert counts is not None and counts.count(" normalise_header_name") == 1


def test_a_link_in_a_plain_folder_is_learned_once_too(
    plain_folder: Workspace,
) -> None:
    plain_folder.write("pkg/a.py", "a = 1\n")
    plain_folder.write("pkg/b.py", "b = 2\n")
    (plain_folder.root / "pkg" / "c.py").symlink_to("b.py")
    assert source_files(plain_folder.root) == ["pkg/a.py", "pkg/b.py"]

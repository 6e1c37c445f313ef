"""A Python file in another encoding than UTF-8 (its PEP 263 coding cookie says which) is learned
and replayed as it reads, never with replacement characters."""

from __future__ import annotations

import pytest
from fixtures.workspace import Workspace

from tactful.analyzers.index import RepositoryIndex, decode_source, encode_source
from tactful.suggestion.replay import source_text

LATIN = (
    "# -*- coding: latin-1 -*-\ndef créer_facture(montant):\n    return f'{montant} € déjà payé'\n"
)


def test_the_index_learns_a_latin_1_file_as_it_declares(workspace: Workspace) -> None:
    (workspace.root / "facture.py").write_bytes(LATIN.replace("€", "EUR").encode("latin-1"))
    workspace.commit("a latin-1 module")

    index = RepositoryIndex(workspace.root, persist=False)
    index.build()
    counts = index.counts("python")
    assert counts is not None
    assert counts.count(" créer_facture") == 1
    assert counts.count(" cr\ufffder_facture") == 0


def test_a_replay_types_a_latin_1_file_as_it_declares(workspace: Workspace) -> None:
    path = workspace.root / "facture.py"
    path.write_bytes(LATIN.replace("€", "EUR").encode("latin-1"))
    assert source_text(path) == LATIN.replace("€", "EUR")


@pytest.mark.parametrize(
    ("text", "written"),
    [
        # the cookie's encoding, a character it lacks as "?"
        (LATIN, LATIN.replace("€", "?").encode("latin-1")),
        ("x = 'déjà'\n", "x = 'déjà'\n".encode()),
        ("\ufeffx = 'é'\n", "\ufeffx = 'é'\n".encode()),  # one byte order mark, not two
    ],
)
def test_a_typed_file_is_written_back_as_it_was_read(text: str, written: bytes) -> None:
    assert encode_source(text, "python") == written
    assert decode_source(written, "python") == text.replace("€", "?")

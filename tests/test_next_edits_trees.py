"""A text's offsets in code points and in UTF-8 bytes (what tree-sitter counts in) converted
both ways, and counted once a text."""

from __future__ import annotations

import pytest

from tactful.suggestion.next_edits.trees import Source, parse

TEXTS = [
    "x = 1\n",
    "s = 'é'  # café\n",
    "emoji = '😀'\nnext = 'ok'\n",
    "a = 'ü😀\\u00e9'\n\n\n" * 40
    + "b = '\ud800'\n",  # a lone surrogate, kept as the editor sent it
    "",
    # Wide characters on both sides of the 4,096-character blocks searched apart.
    ("# " + "ab" * 2046 + "é😀\n") * 3,
]


@pytest.mark.parametrize("text", TEXTS)
def test_offsets_convert_between_code_points_and_bytes_as_encoding_the_prefix_does(
    text: str,
) -> None:
    source = Source(text)
    for offset in range(len(text) + 1):
        byte = len(text[:offset].encode("utf-8", "surrogatepass"))
        assert source.byte(offset) == byte
        assert source.char(byte) == offset


def test_a_nodes_bytes_convert_back_to_its_text() -> None:
    text = "def f(é):\n    return '😀' + é  # ü\n\n\nclass C:\n    name = 'ß'\n"
    source = Source(text)
    tree = parse(source, "python")
    assert tree is not None
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        start, end = source.char(node.start_byte), source.char(node.end_byte)
        assert text[start:end] == source.of(node)
        stack.extend(node.children)


def test_counts_are_those_of_the_bytes() -> None:
    source = Source("import os\nfrom x import *\nos.path, os.sep  # é os\n")
    assert source.count("os") == 4
    assert source.count("import *") == 1
    assert source.count("é") == 1
    assert source.count("absent") == 0

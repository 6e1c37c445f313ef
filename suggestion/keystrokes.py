"""How many keystrokes a piece of text costs to type, the unit of "keystrokes saved".

Boundary: arithmetic on text only. One keystroke per character, except that a line break and
the indentation after it are one keystroke (Enter, with the editor's auto-indent), as a
developer types them. Accepting a suggestion costs one keystroke (Tab), so a suggestion saves
``keystrokes(text) - 1``.
"""

from __future__ import annotations

import re

_BREAK = re.compile(r"\n[ \t]*")


def keystrokes(text: str) -> int:
    """Keystrokes needed to type ``text``."""
    if "\n" not in text:
        return len(text)
    return len(_BREAK.sub("\n", text))


def saved(text: str) -> int:
    """Keystrokes saved by accepting ``text`` with one keystroke."""
    return max(0, keystrokes(text) - 1)

"""The replays' in-process completer: each file is typed by a fresh engine, and the engine
before it goes with its semantic worker (a training replay types hundreds of files)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tactful.suggestion.replay import LocalCompleter, type_file

# Members the statistics cannot know (each file is left out of the index while it is typed, and
# no other file names them): the engine asks jedi.
TEXTS = {
    "a.py": "import fractions\n\n\ndef ratio():\n    return fractions.Fraction.limit_denominator\n",
    "b.py": "import zipfile\n\n\ndef pack():\n    return zipfile.ZipInfo.from_file\n",
    "c.py": "import fractions\n\n\ndef half():\n    return fractions.Fraction.from_float\n",
}


def _jedi_workers() -> int:
    """Live child processes of this one that run the jedi worker."""
    count = 0
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"jedi_worker" in command:
                count += 1
    return count


def test_each_file_typed_leaves_no_worker_behind(tmp_path: Path) -> None:
    for name, text in TEXTS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    before = _jedi_workers()
    completer = LocalCompleter(tmp_path)
    alive: list[int] = []

    async def type_all() -> None:
        for name, text in TEXTS.items():
            await type_file(completer, name, text, "python")
            alive.append(_jedi_workers() - before)

    asyncio.run(type_all())
    # Every file asked jedi; only the engine of the file being typed keeps a worker.
    assert alive == [1, 1, 1]
    completer.engine.close()
    assert _jedi_workers() == before

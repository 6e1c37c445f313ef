"""The replays' in-process completer: each file is typed by a fresh engine, and the engine
before it goes with its semantic worker (a training replay types hundreds of files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Members the statistics cannot know (each file is left out of the index while it is typed, and
# no other file names them): the engine asks jedi.
TEXTS = {
    "a.py": "import fractions\n\n\ndef ratio():\n    return fractions.Fraction.limit_denominator\n",
    "b.py": "import zipfile\n\n\ndef pack():\n    return zipfile.ZipInfo.from_file\n",
    "c.py": "import fractions\n\n\ndef half():\n    return fractions.Fraction.from_float\n",
}

# Run in a process of its own, so that only its own children are counted.
TYPIST = """
import asyncio, json, os, sys, time
from pathlib import Path

from tactful.suggestion.replay import LocalCompleter, type_file


def jedi_workers():
    found = 0
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            found += b"jedi_worker" in command
    return found


root = Path(sys.argv[1])
names = sys.argv[2:]
completer = LocalCompleter(root)
alive = []


async def type_all():
    for name in names:
        await type_file(completer, name, (root / name).read_text(), "python")
        alive.append(jedi_workers())


asyncio.run(type_all())
completer.engine.close()
# A worker still busy when told to stop is killed, and is gone a moment later.
deadline = time.monotonic() + 10
while jedi_workers() and time.monotonic() < deadline:
    time.sleep(0.1)
print(json.dumps({"alive": alive, "after_close": jedi_workers()}))
"""


def test_each_file_typed_leaves_no_worker_behind(tmp_path: Path) -> None:
    for name, text in TEXTS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-P", "-c", TYPIST, str(tmp_path), *TEXTS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    # Every file asked jedi; only the engine of the file being typed keeps a worker.
    assert report == {"alive": [1, 1, 1], "after_close": 0}

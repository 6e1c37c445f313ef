"""The acceptance prior's training replay: the local engine is asked about the text as typed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TRAINING = Path(__file__).resolve().parent.parent / "benchmarks" / "train_acceptance.py"

# Three files of the same handlers: typing one, the engine has the others in its index.
HANDLERS = "".join(
    f"def handle_{name}(request, response):\n"
    f"    response.status = request.status\n"
    f"    response.headers = request.headers\n"
    f"    return response\n\n\n"
    for name in ("get", "put", "post", "delete")
)


def _training() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_acceptance_under_test", TRAINING)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_training_replay_asks_the_engine_about_the_text_as_typed(tmp_path: Path) -> None:
    project = tmp_path / "handlers"
    project.mkdir()
    for stem in ("first", "second", "third"):
        (project / f"{stem}.py").write_text(HANDLERS, encoding="utf-8")

    records = _training().replay(project)

    shown = [r for r in records if r.text]
    accepted = [r for r in shown if r.accepted]
    # An engine never told of the typing answers every request of a file with what it found for
    # the first (one accept a file at most, the same text offered after the line has moved on).
    assert len(accepted) > 3 * 3
    assert sum(r.saved for r in accepted) > 3 * len(HANDLERS) // 10
    per_file = {r.file: {s.text for s in shown if s.file == r.file} for r in shown}
    assert all(len(texts) > 3 for texts in per_file.values())

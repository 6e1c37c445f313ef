"""Language-level token statistics shipped with tactful: what library code in a language looks
like in general, for the first lines of a new file in a workspace that says little yet.

Boundary: reads one data file of the package (``python_tokens.jsonl.gz``, made by
``benchmarks/train_language_model.py`` from permissively licensed projects' library code);
no other I/O. The file is read a line (one context) at a time: a large buffer freed at once
would raise the allocator's threshold for mapping big blocks and leave later big messages'
memory in the heap. Reading it takes a second or so, in a thread of its own started by the first
request for it: until it is read, the engine goes without (a request never waits for it). A
missing or unreadable file means no such statistics, never an error.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from pathlib import Path

from tactful.analyzers.ngrams import NgramCounts

logger = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).with_name("python_tokens.jsonl.gz")
_MODELS = {"python": MODEL_PATH}

_lock = threading.Lock()
_loaded: dict[str, NgramCounts | None] = {}
_loading: dict[str, threading.Thread] = {}


def language_counts(language_id: str, wait: bool = False) -> NgramCounts | None:
    """The shipped statistics of ``language_id``: None when there are none, or (unless
    ``wait``) while they are still being read."""
    if language_id in _loaded:
        return _loaded[language_id]
    path = _MODELS.get(language_id)
    if path is None:
        return None
    with _lock:
        thread = _loading.get(language_id)
        if thread is None:
            thread = threading.Thread(
                target=_load, args=(language_id, path), name="tactful-language", daemon=True
            )
            _loading[language_id] = thread
            thread.start()
    if wait:
        thread.join()
    return _loaded.get(language_id)


def _load(language_id: str, path: Path) -> None:
    counts = None
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines))
            counts = NgramCounts.from_rows(int(header["order"]), map(json.loads, lines))
    except (OSError, EOFError, StopIteration, ValueError, KeyError, TypeError):
        logger.warning("the shipped %s token statistics are unreadable", language_id, exc_info=True)
    _loaded[language_id] = counts

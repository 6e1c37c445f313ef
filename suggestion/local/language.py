"""Language-level token statistics shipped with tactful: what library code in a language looks
like in general, for the first lines of a new file in a workspace that says little yet.

Boundary: reads one data file of the package (``python_tokens.json.gz``, made by
``benchmarks/train_language_model.py`` from permissively licensed projects' library code);
no other I/O. Loaded once, when first asked for (a second or so: the local engine asks in its
own worker when a document opens); a missing or unreadable file means no such statistics,
never an error.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
from pathlib import Path

from tactful.analyzers.ngrams import NgramCounts

logger = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).with_name("python_tokens.json.gz")
_MODELS = {"python": MODEL_PATH}


@functools.cache
def language_counts(language_id: str) -> NgramCounts | None:
    """The shipped statistics of ``language_id`` (None when there are none)."""
    path = _MODELS.get(language_id)
    if path is None:
        return None
    try:
        model = json.loads(gzip.decompress(path.read_bytes()))
        return NgramCounts.from_rows(int(model["order"]), model["tables"])
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("the shipped %s token statistics are unreadable", language_id, exc_info=True)
        return None

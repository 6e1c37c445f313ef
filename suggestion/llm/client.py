"""The one way tactful imports litellm.

Boundary: every model call (completion, review, fixes, ``tactful doctor``) gets litellm from
here, imported on first use only (it costs seconds and hundreds of MB), with the cost map read
locally rather than fetched at import, and with its help banners off: they go to stdout, which
is the LSP stream.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

_IMPORT_LOCK = threading.Lock()


def import_litellm() -> Any:
    with _IMPORT_LOCK:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        litellm.drop_params = True
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)
        return litellm

"""The one way tactful imports litellm.

Boundary: every model call (completion, review, fixes, ``tactful doctor``) gets litellm from
here, imported on first use only (it costs seconds and hundreds of MB), with the cost map read
locally rather than fetched at import, and with its help banners off: they go to stdout, which
is the LSP stream.

The import leaves some 350,000 objects that live as long as the process (its modules, model
tables, pydantic schemas). The cyclic garbage collector would walk them at every full
collection, which then takes 170-1,600 ms instead of 16 ms (measured on the 2-core development
machine under load) and stops every thread of the server, the event loop included; they are
moved out of its sight once imported (``gc.freeze``).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from typing import Any

_IMPORT_LOCK = threading.Lock()
_frozen = False


def import_litellm() -> Any:
    global _frozen
    with _IMPORT_LOCK:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        litellm.drop_params = True
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)
        if not _frozen:
            _frozen = True
            gc.freeze()
        return litellm

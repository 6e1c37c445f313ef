"""Where tactful keeps a user's files: configuration, data (feedback store, trust list) and caches.

Boundary: path arithmetic only. Linux honours ``XDG_CONFIG_HOME``, ``XDG_DATA_HOME`` and
``XDG_CACHE_HOME``, so a test or a user isolates tactful by setting them.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "tactful"


def config_dir() -> Path:
    """Folder of the user's ``config.toml``."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    """Folder of the feedback store and the trust list."""
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """Folder of indexes, sandboxes and logs: everything that can be rebuilt."""
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def log_file() -> Path:
    return cache_dir() / "log" / "tactful.log"

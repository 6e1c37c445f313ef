"""``python -m tactful.server``: the same as the ``tactful`` console script.

Boundary: the entry point of a module run. ``-m`` puts the working directory first on
``sys.path``, and an editor starts the server in the project it edits: a project's own
``logging.py`` (rich has one) would then shadow the standard library's for the whole server.
The entry is dropped before anything else is imported, as pip's ``__main__`` does; ``-P``
(which never adds it) makes this a no-op.
"""

import os
import sys

if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

# Imported only once the path is clean.
from tactful.server.cli import main

raise SystemExit(main())

"""``python -m tactful.server``: the same as the ``tactful`` console script."""

from tactful.server.cli import main

raise SystemExit(main())

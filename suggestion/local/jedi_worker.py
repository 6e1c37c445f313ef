"""The jedi worker process: ``python -m tactful.suggestion.local.jedi_worker``.

Boundary: reads one JSON request per line on stdin (``id``, ``text``, ``path``, ``root``,
``line``, ``column``) and writes one JSON answer per line on stdout (``id``, ``names``: the
attribute names jedi completes there, or null). Static analysis only: jedi reads files, it never
imports or runs the user's code. It exits when stdin closes.
"""

from __future__ import annotations

import json
import sys


def names_at(
    text: str, path: str | None, root: str | None, line: int, column: int
) -> list[str] | None:
    try:
        import jedi

        project = jedi.Project(root) if root else None
        script = jedi.Script(code=text, path=path, project=project)
        return sorted({c.name for c in script.complete(line, column) if c.name}) or None
    except Exception:
        return None


def main() -> int:
    for raw in sys.stdin:
        try:
            request = json.loads(raw)
        except json.JSONDecodeError:
            continue
        names = names_at(
            request.get("text", ""),
            request.get("path"),
            request.get("root"),
            int(request.get("line", 1)),
            int(request.get("column", 0)),
        )
        sys.stdout.write(json.dumps({"id": request.get("id"), "names": names}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

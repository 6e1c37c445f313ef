"""Which modules a Python document imports, and which of the workspace's files they are.

Boundary: pure functions over a document's lines and a list of workspace paths; no I/O. Broken
or unfinished import lines are normal input: what cannot be read as an import is skipped.

Only the lines that start an import statement are read (``import a.b as c``, ``from .m import
x``): the module names are on that first line, so a parenthesised list of names running over
several lines needs nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from posixpath import dirname

# The top of a file holds its imports; past this many lines a scan would cost more than the few
# imports made later (inside functions) are worth.
SCANNED_LINES = 300

_DOTTED = r"\.*[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*|\.+"
_FROM = re.compile(rf"from[ \t]+({_DOTTED})[ \t]+import[ \t(]+([A-Za-z_0-9, \t]*)")
_IMPORT = re.compile(r"import[ \t]+([A-Za-z_0-9., \t]+)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*")


def imported_modules(lines: Sequence[str]) -> tuple[str, ...]:
    """The modules imported by the first ``SCANNED_LINES`` of ``lines``, in order of first
    import, each once: dotted names, relative ones with their leading dots. ``from a import
    b`` gives ``a`` and ``a.b`` (``b`` may be a module of package ``a``)."""
    found: dict[str, None] = {}
    for line in lines[:SCANNED_LINES]:
        stripped = line.lstrip(" \t")
        if stripped.startswith("from"):
            match = _FROM.match(stripped)
            if match is None:
                continue
            module = match.group(1)
            found[module] = None
            for part in match.group(2).split(","):
                words = part.split()
                if words and _NAME.fullmatch(words[0]):
                    name = words[0]
                    found[module + name if module.endswith(".") else f"{module}.{name}"] = None
        elif stripped.startswith("import"):
            match = _IMPORT.match(stripped)
            if match is None:
                continue
            for part in match.group(1).split(","):
                words = part.split()
                if words and _NAME.fullmatch(words[0]):
                    found[words[0]] = None
    return tuple(found)


def module_paths(modules: Sequence[str], importer: str, paths: Sequence[str]) -> list[str]:
    """The workspace files (of ``paths``, relative and with ``/``) that ``modules`` name, as
    imported from the file ``importer``: a relative name from ``importer``'s package, an
    absolute one from the workspace's root or a folder at its top (``src/``, ``tests/``), as
    Python's own search path would find it (``import types`` in a package with a ``types.py``
    is the standard library's). The importer itself is never one of them."""
    wanted: set[str] = set()
    # Each path as seen from the folder at the top that holds it.
    below_top: dict[str, list[str]] = {}
    for path in paths:
        below_top.setdefault(path.partition("/")[2], []).append(path)
    package = dirname(importer)
    for module in modules:
        dots = len(module) - len(module.lstrip("."))
        name = module[dots:].replace(".", "/")
        if dots:
            base = package
            for _ in range(dots - 1):
                base = dirname(base)
            stem = "/".join(part for part in (base, name) if part)
            wanted.add(f"{stem}/__init__.py")
            if name:
                wanted.add(f"{stem}.py")
        elif name:
            for ending in (f"{name}.py", f"{name}/__init__.py"):
                wanted.add(ending)
                # Under one folder at the top: that folder is what the search path holds.
                wanted.update(below_top.get(ending, ()))
    return [path for path in paths if path != importer and path in wanted]

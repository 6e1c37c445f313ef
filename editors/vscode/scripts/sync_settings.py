"""Write the extension's `contributes.configuration` from tactful's own settings schema.

The server's schema (`tactful.server.settings`) is the single source of the settings' names,
defaults and descriptions; this script copies it into `package.json` so VS Code's settings editor
shows the same thing `tactful doctor` does. The settings only the user may set (`USER_ONLY`) are
`machine`-scoped and listed in `capabilities.untrustedWorkspaces.restrictedConfigurations`, so a
repository's `.vscode/settings.json` never sets them. Run it with the interpreter tactful is
installed in:

    .venv/bin/python editors/vscode/scripts/sync_settings.py          # rewrite package.json
    .venv/bin/python editors/vscode/scripts/sync_settings.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from tactful.server.settings import SCHEMA, camel, describe, user_only

PACKAGE_JSON = Path(__file__).resolve().parent.parent / "package.json"

# Sent by the extension from VS Code's own workspace trust, never typed by a user.
FROM_EDITOR = {"workspace.trusted"}

# Settings of the extension itself; the server never sees them.
EXTENSION_OWN: dict[str, dict[str, Any]] = {
    "tactful.path": {
        "type": "string",
        "default": "",
        "scope": "machine",
        "markdownDescription": (
            "Path of the `tactful` executable. Empty: the one installed in the Python "
            "environment selected with the Python extension, then the first on `PATH`. "
            "Executables inside an untrusted workspace are never started."
        ),
    },
    "tactful.trace.server": {
        "type": "string",
        "enum": ["off", "messages", "verbose"],
        "default": "off",
        "scope": "window",
        "markdownDescription": "Log the messages between VS Code and the tactful server.",
    },
}


def _json_type(kind: Any) -> dict[str, Any]:
    """JSON-schema fragment of one settings type (as VS Code's settings editor reads it)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [o for o in typing.get_args(kind) if o is not type(None)]
        (inner,) = options
        fragment = _json_type(inner)
        names = fragment["type"] if isinstance(fragment["type"], list) else [fragment["type"]]
        return {**fragment, "type": [*names, "null"]}
    if origin is Literal:
        return {"type": "string", "enum": list(typing.get_args(kind))}
    if origin is list:
        # The server also takes one string and splits it like a shell command.
        return {"type": ["array", "string"], "items": {"type": "string"}}
    simple = {bool: {"type": "boolean"}, str: {"type": "string"}}
    if kind in simple:
        return dict(simple[kind])
    if kind is int:
        return {"type": "integer", "minimum": 0}
    if kind is float:
        return {"type": "number", "minimum": 0}
    raise ValueError(f"no JSON schema for settings type {kind!r}")


def configuration() -> dict[str, Any]:
    """The whole `contributes.configuration` block."""
    properties: dict[str, Any] = dict(EXTENSION_OWN)
    docs = {wire: (default, doc) for wire, default, doc in describe()}
    for order, (key, (kind, _default, _doc)) in enumerate(SCHEMA.items()):
        if key in FROM_EDITOR:
            continue
        wire = camel(key)
        default, doc = docs[wire]
        entry = _json_type(kind)
        entry["default"] = default
        entry["markdownDescription"] = doc
        # Keys that decide what runs, where code is sent or how safe a run is: user settings
        # only, never `.vscode/settings.json`, as the server never takes them from a workspace.
        entry["scope"] = "machine" if user_only(key) else "window"
        entry["order"] = order
        properties[f"tactful.{wire}"] = entry
    return {"title": "tactful", "properties": properties}


def restricted(configuration: dict[str, Any]) -> list[str]:
    """The settings VS Code must not take from an untrusted workspace: every machine-scoped one."""
    return [
        name
        for name, entry in configuration["properties"].items()
        if entry.get("scope") in ("machine", "application")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if package.json is stale")
    args = parser.parse_args(argv)
    manifest = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    wanted = configuration()
    contributes = manifest.setdefault("contributes", {})
    trust = manifest.setdefault("capabilities", {}).setdefault("untrustedWorkspaces", {})
    if args.check:
        stale = [
            what
            for what, found, expected in (
                ("contributes.configuration", contributes.get("configuration"), wanted),
                (
                    "capabilities.untrustedWorkspaces.restrictedConfigurations",
                    trust.get("restrictedConfigurations"),
                    restricted(wanted),
                ),
            )
            if found != expected
        ]
        if stale:
            sys.stderr.write(
                f"{PACKAGE_JSON}: {', '.join(stale)} differs from the settings schema; "
                f"run {Path(__file__).name} to update it\n"
            )
            return 1
        return 0
    contributes["configuration"] = wanted
    trust["restrictedConfigurations"] = restricted(wanted)
    PACKAGE_JSON.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

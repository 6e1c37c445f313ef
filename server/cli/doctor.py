"""``tactful doctor``: what is installed, which settings are in force and where each came from,
which sandbox backend validation would use, which interpreter runs the project's tests and why,
and whether the configured LLM answers."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = [
    "tactful",
    "pygls",
    "lsprotocol",
    "tree-sitter",
    "tree-sitter-python",
    "tree-sitter-javascript",
    "tree-sitter-typescript",
    "tree-sitter-go",
    "tree-sitter-rust",
    "tree-sitter-java",
    "gitpython",
    "ruff",
    "jedi",
    "litellm",
]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        description="Versions of tactful and its parts, the settings in force and where each "
        "came from, the sandbox backend validation would use, and whether the configured LLM "
        "answers.",
    )
    parser.add_argument("path", nargs="?", default=".", help="workspace folder (default: .)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--no-llm-check", action="store_true", help="do not send a request to the LLM"
    )
    parser.set_defaults(func=run)


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _sandbox(setting: str) -> dict[str, Any]:
    from tactful.feedback.execution import available_backend

    info = available_backend(setting)
    return {
        "setting": info.setting,
        "backend": info.name or "none usable",
        "sandboxed": info.sandboxed,
        "detail": info.describe(),
    }


def _interpreter(root: Path, settings: Any, trusted: bool) -> dict[str, Any]:
    """The interpreter validation would use for ``root``, found as the judge finds it (project
    tools such as poetry are asked only when the workspace is trusted)."""
    from tactful.feedback.execution import find_environment

    section = settings.validation
    found = find_environment(
        root,
        command=tuple(section.command) if section.command else None,
        python=section.python,
        trusted=trusted,
    )
    report = found.to_json()
    if not trusted:
        report["note"] = "poetry, pdm and hatch are asked only in a trusted workspace"
    return report


def _llm_check(llm: Any) -> dict[str, Any]:
    """The configured LLM asked one small request, within 3 s, its outcome labelled
    (``tactful.suggestion.llm.probe``)."""
    model = llm.model

    if not model:
        return {"configured": False, "detail": "no llm.model set: the local engine is used"}
    if model == "embedded":
        from tactful.suggestion.llm.embedded import available

        missing = available()
        return {
            "configured": True,
            "model": model,
            "reachable": missing is None,
            "label": "ok" if missing is None else "not installed",
            "detail": missing or "embedded model installed; started on first use",
        }
    import asyncio

    from tactful.suggestion.llm.probe import check

    result = asyncio.run(
        check(model, llm.api_base, style=llm.prompt_style, fim_template=llm.fim_template)
    )
    return result.as_json()


def run(args: argparse.Namespace) -> int:
    from tactful.analyzers.userdirs import cache_dir, config_dir, data_dir, log_file
    from tactful.feedback import trust as trust_list
    from tactful.server import settings as settings_mod

    root = Path(args.path).resolve()
    resolved = settings_mod.load(root)
    settings = resolved.settings
    report: dict[str, Any] = {
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}},
        "paths": {
            "workspace": str(root),
            "user_config": str(settings_mod.user_config_file()),
            "config_dir": str(config_dir()),
            "data_dir": str(data_dir()),
            "cache_dir": str(cache_dir()),
            "log": str(log_file()),
        },
        "trusted": trust_list.is_trusted(root),
        "settings": {
            settings_mod.camel(key): {
                "value": _shown(
                    key, getattr(getattr(settings, key.split(".")[0]), key.split(".")[1])
                ),
                "source": resolved.sources[key],
            }
            for key in settings_mod.SCHEMA
        },
        "problems": list(resolved.problems),
        "sandbox": _sandbox(settings.validation.sandbox),
        "interpreter": _interpreter(root, settings, trust_list.is_trusted(root)),
        "llm": {"configured": bool(settings.llm.model), "model": settings.llm.model}
        if args.no_llm_check
        else _llm_check(settings.llm),
    }
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
        return 2 if resolved.problems else 0
    print("tactful doctor\n")
    print("versions")
    for name, value in report["versions"].items():
        print(f"  {name:24} {value or 'not installed'}")
    print("\npaths")
    for name, value in report["paths"].items():
        print(f"  {name:24} {value}")
    print(f"\nworkspace trusted        {'yes' if report['trusted'] else 'no (tactful trust PATH)'}")
    print("\nsettings (value, and where it came from)")
    for key, entry in report["settings"].items():
        print(f"  {key:26} {json.dumps(entry['value'], default=str):28} {entry['source']}")
    if report["problems"]:
        print("\nproblems")
        for problem in report["problems"]:
            print(f"  - {problem}")
    print("\nsandbox")
    for key, value in report["sandbox"].items():
        print(f"  {key:24} {value}")
    print("\ninterpreter (runs the project's tests)")
    chosen = report["interpreter"]
    print(f"  {'interpreter':24} {chosen['interpreter'] or 'none found'}")
    print(f"  {'why':24} {chosen['why']}")
    if chosen.get("note"):
        print(f"  {'note':24} {chosen['note']}")
    print("\nllm")
    for line in _llm_lines(report["llm"]):
        print(f"  {line}")
    return 2 if resolved.problems else 0


def _llm_lines(llm: dict[str, Any]) -> list[str]:
    """The LLM check as text: what was asked, the label, and the provider's whole answer."""
    if not llm.get("configured"):
        return [str(llm.get("detail", "no llm.model set"))]
    lines = [f"{'model':24} {llm['model']}"]
    if "label" not in llm:
        return [*lines, f"{'check':24} not run (--no-llm-check)"]
    if "asked" in llm:
        lines.append(f"{'asked':24} {llm['asked']} (within {llm['deadline_s']:g} s)")
    status = f" (HTTP {llm['status']})" if llm.get("status") is not None else ""
    elapsed = f", {llm['elapsed_ms']} ms" if "elapsed_ms" in llm else ""
    lines.append(f"{'result':24} {llm['label']}{status}{elapsed}")
    # The provider's error in full: its first line here, the rest indented below.
    detail = str(llm.get("detail", "")).splitlines() or [""]
    lines.append(f"{'detail':24} {detail[0]}")
    lines.extend(f"{'':24} {rest}" for rest in detail[1:])
    return lines


def _shown(key: str, value: object) -> object:
    """A setting's value as doctor prints it: a team store's password never."""
    if key == "feedback.team" and isinstance(value, str):
        from tactful.feedback.team.schema import redact

        return redact(value)
    return value

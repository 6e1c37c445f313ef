"""Settings: one schema, merged from four layers, resolved into a frozen object.

Layers, lowest first: built-in defaults, the user file (``config.toml`` in the user config
directory), the workspace (``[tool.tactful]`` in ``pyproject.toml`` or ``.tactful.toml``), then the
client (``initializationOptions`` and ``workspace/didChangeConfiguration``). Wire names are
camelCase, TOML names snake_case; both are accepted everywhere.

Keys that decide what runs, where code is sent or how safe a run is (``USER_ONLY``: ``llm.*``,
``validation.command|python|sandbox|timeoutS|memoryMb|processes|diskMb``, ``feedback.*``,
``workspace.trusted``) are taken
only from the user file and ``initializationOptions``. A *restricted* layer — the workspace's files
and ``workspace/didChangeConfiguration``, which editors feed from per-project files (Eglot from
``.dir-locals.el``, VS Code from ``.vscode/settings.json``) — may not set them: a cloned repository
must not be able to point tactful at its own server, make it run its own command, loosen its
sandbox or move the feedback store. Such a key is reported by name and dropped alone; repeating
the value already in force is no attempt to change it and passes silently.

A bad value never stops anything: it is reported (naming the key and its source), and that key
alone falls back to the value of the layer below.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tactful.analyzers.userdirs import config_dir

logger = logging.getLogger(__name__)


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True, kw_only=True)
class CompletionSettings:
    enabled: bool = field(default=True, metadata=_doc("Offer inline and list completions."))
    engine: Literal["auto", "local", "llm"] = field(
        default="auto",
        metadata=_doc(
            "`local`, `llm`, or `auto` (the LLM when one is configured and answers in time, "
            "the local engine otherwise)."
        ),
    )
    max_lines: int = field(default=8, metadata=_doc("Longest multi-line suggestion, in lines."))
    debounce_ms: int = field(
        default=60, metadata=_doc("Wait this long after the last keystroke before asking an LLM.")
    )


@dataclass(frozen=True, kw_only=True)
class LlmSettings:
    model: str | None = field(
        default=None,
        metadata=_doc(
            "A litellm model string, e.g. `openai/gpt-4o-mini` or `ollama/qwen2.5-coder:1.5b`; "
            "`embedded` runs the bundled Gemma 3 270M model (extra `tactful[local-llm]`). "
            "Unset: no hosted model."
        ),
    )
    api_base: str | None = field(default=None, metadata=_doc("Base URL of the model's API."))
    timeout_s: float = field(default=2.0, metadata=_doc("Deadline of one completion request."))
    max_tokens: int = field(default=128, metadata=_doc("Most tokens a completion may generate."))
    prompt_style: Literal["auto", "fim", "prefix", "chat"] = field(
        default="auto",
        metadata=_doc(
            "How to ask the model: fill-in-the-middle, plain prefix (base models) or chat; "
            "`auto` picks from the model's name."
        ),
    )
    fim_template: str = field(
        default="auto",
        metadata=_doc(
            "Fill-in-the-middle template: `auto`, `qwen`, `starcoder`, `deepseek`, `codellama`, "
            "or a custom string with `{prefix}` and `{suffix}`."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class FilterSettings:
    enabled: bool = field(
        default=True,
        metadata=_doc("Hide suggestions whose predicted acceptance is below the threshold."),
    )
    threshold: float | None = field(
        default=None,
        metadata=_doc(
            "Probability of acceptance below which a suggestion is hidden; unset: tuned, then "
            "moved per workspace while learning so that hiding costs about 4% of the keystrokes "
            "suggestions save."
        ),
    )
    explore: float = field(
        default=0.05,
        metadata=_doc(
            "Share of would-be-hidden suggestions still shown, so learning sees both sides "
            "(none while filter.learn is off)."
        ),
    )
    learn: bool = field(
        default=True,
        metadata=_doc(
            "Learn from your own accepts and rejects, per workspace; off: the shipped prior only."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class NextEditsSettings:
    enabled: bool = field(
        default=True,
        metadata=_doc("Answer `tactful/nextEdits`: the follow-up edits of the edits just made."),
    )
    limit: int = field(default=2, metadata=_doc("Most next edits one request returns."))


@dataclass(frozen=True, kw_only=True)
class ReviewSettings:
    enabled: bool = field(default=True, metadata=_doc("Review the lines that changed."))
    base: str = field(default="HEAD", metadata=_doc("Git ref to compare the working tree with."))
    llm: bool | None = field(
        default=None, metadata=_doc("Ask the LLM for review comments; unset: when one is set.")
    )
    run_tests: bool = field(
        default=True,
        metadata=_doc(
            "After a save, run the tests that cover the functions changed since `review.base` "
            "and comment on the changed line that breaks one (only in trusted workspaces, with "
            "`validation.enabled`)."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class QualitySettings:
    enabled: bool = field(default=True, metadata=_doc("Show static-analysis findings and fixes."))
    select: list[str] | None = field(
        default=None,
        metadata=_doc("ruff rule selection; unset: ruff's defaults and the project's."),
    )
    scope: Literal["changed", "baseline", "all"] = field(
        default="changed",
        metadata=_doc(
            "Which findings to show: `changed` (on lines changed since `review.base`, whole "
            "new files, and findings the change caused elsewhere in its file), `baseline` "
            "(those not in the baseline `tactful baseline` recorded), or `all`."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ValidationSettings:
    enabled: bool = field(
        default=True, metadata=_doc("Run the tests for each fix (only in trusted workspaces).")
    )
    timeout_s: float = field(default=60.0, metadata=_doc("Deadline of one validation run."))
    sandbox: Literal["auto", "bwrap", "unshare", "none"] = field(
        default="auto",
        metadata=_doc("Sandbox backend; `none` runs with limits only and says so."),
    )
    command: list[str] | None = field(
        default=None,
        metadata=_doc(
            "Test command, a string split like a shell command or a list, run from the workspace "
            "root; unset: `python -m pytest` with the project's interpreter (`python` at its "
            "start means that interpreter)."
        ),
    )
    python: str | None = field(
        default=None,
        metadata=_doc(
            "The project's Python: an interpreter, or an environment's folder. Unset: found "
            "like the tools you use find it: `validation.command`'s interpreter, the one the "
            "editor selected, an activated VIRTUAL_ENV or conda environment, `.venv` or `venv` "
            "in the workspace, then poetry, pdm or hatch; never tactful's own silently."
        ),
    )
    memory_mb: int | None = field(
        default=None,
        metadata=_doc(
            "Resident memory all of a validation run's processes may use together, in MB; more "
            "stops the run. Unset: half the machine's memory, at most 4096."
        ),
    )
    processes: int = field(
        default=512,
        metadata=_doc("Processes a validation run may have at once; more stops the run."),
    )
    disk_mb: int = field(
        default=1024,
        metadata=_doc(
            "What a validation run may write, in MB, to its copy of the workspace and to its "
            "`/tmp`; more stops the run."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class FeedbackSettings:
    store: str | None = field(
        default=None, metadata=_doc("Path of the SQLite feedback store; unset: user data dir.")
    )
    store_code: bool = field(
        default=False,
        metadata=_doc("Keep the text of suggestions in the store, not only its hash."),
    )
    team: str | None = field(
        default=None,
        metadata=_doc(
            "A PostgreSQL URL (`postgresql://host/db`): events are also shipped to this team "
            "store and the team's models fetched from it. Keep the password in `~/.pgpass`."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class WorkspaceSettings:
    trusted: bool | None = field(
        default=None,
        metadata=_doc(
            "The editor's workspace trust; unset: the trust list kept by `tactful trust`."
        ),
    )
    max_document_mb: float = field(
        default=5.0,
        metadata=_doc(
            "Largest document tactful reads, in MB of text (millions of characters); a bigger "
            "one is left alone (no completions, review or fixes in it), and said so once."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class LogSettings:
    level: Literal["error", "warning", "info", "debug"] = field(
        default="info", metadata=_doc("Least severe log message sent to the client.")
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    filter: FilterSettings = field(default_factory=FilterSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    feedback: FeedbackSettings = field(default_factory=FeedbackSettings)
    workspace: WorkspaceSettings = field(default_factory=WorkspaceSettings)
    log: LogSettings = field(default_factory=LogSettings)
    next_edits: NextEditsSettings = field(default_factory=NextEditsSettings)


# Keys only the user file and initializationOptions may set: they decide what runs, where code
# is sent or how safe a run is. A name ending in "." covers its whole section.
USER_ONLY = (
    "llm.",
    "validation.command",
    "validation.python",
    "validation.sandbox",
    "validation.timeout_s",
    "validation.memory_mb",
    "validation.processes",
    "validation.disk_mb",
    "feedback.",
    "workspace.trusted",
)


def user_only(key: str) -> bool:
    """True for a dotted snake_case key that only the user may set (``USER_ONLY``)."""
    return any(key == f or (f.endswith(".") and key.startswith(f)) for f in USER_ONLY)


DEFAULT = "default"


@dataclass(frozen=True)
class Layer:
    """One source of settings: its name for people (``user file /…/config.toml``) and values.

    ``restricted``: a source a repository can write (workspace files, per-project editor
    settings), which may not set ``USER_ONLY`` keys."""

    source: str
    values: Mapping[str, Any]
    restricted: bool = False


@dataclass(frozen=True)
class Resolved:
    """The settings in force, where each value came from, and what was wrong on the way."""

    settings: Settings
    sources: Mapping[str, str]
    problems: tuple[str, ...] = ()


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel(name: str) -> str:
    """Wire (camelCase) spelling of a dotted snake_case key."""
    return ".".join(
        part.split("_")[0] + "".join(w.title() for w in part.split("_")[1:])
        for part in name.split(".")
    )


def _schema() -> dict[str, tuple[Any, Any, str]]:
    """Every leaf key: (type, default, doc)."""
    leaves: dict[str, tuple[Any, Any, str]] = {}
    root = Settings()
    for section in dataclasses.fields(Settings):
        section_type = type(getattr(root, section.name))
        hints = typing.get_type_hints(section_type)
        for leaf in dataclasses.fields(section_type):
            default = getattr(getattr(root, section.name), leaf.name)
            leaves[f"{section.name}.{leaf.name}"] = (
                hints[leaf.name],
                default,
                leaf.metadata.get("doc", ""),
            )
    return leaves


SCHEMA = _schema()


def describe() -> list[tuple[str, Any, str]]:
    """(wire key, default, doc) of every setting, for docs and editors."""
    return [(camel(key), default, doc) for key, (_, default, doc) in SCHEMA.items()]


def _table(value: Any) -> Mapping[str, Any] | None:
    """``value`` as a table of settings, or None when it is a value.

    An empty list is an empty table: Lua has one kind of table, and Neovim encodes an empty one
    as ``[]``, so ``setup({})`` and ``{ review = {} }`` arrive as lists.
    """
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list) and not value:
        return {}
    return None


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested or dotted mappings, camelCase or snake_case, to ``{"section.key": value}``."""
    if not prefix and set(values) == {"tactful"}:
        inner = _table(values["tactful"])
        if inner is not None:
            values = inner
    flat: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = ".".join(_snake(part) for part in str(raw_key).split("."))
        full = f"{prefix}{key}"
        table = None if full in SCHEMA else _table(value)
        if table is not None:
            flat.update(flatten(table, full + "."))
        else:
            flat[full] = value
    return flat


class _Invalid(ValueError):
    pass


def _coerce(value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option)
            except _Invalid as exc:
                errors.append(str(exc))
        raise _Invalid(" or ".join(errors))
    if origin is Literal:
        allowed = typing.get_args(kind)
        if value in allowed:
            return value
        raise _Invalid("one of " + ", ".join(repr(a) for a in allowed))
    if origin is list:
        if isinstance(value, str):
            import shlex

            try:
                value = shlex.split(value)
            except ValueError as exc:
                raise _Invalid(f"a command line ({exc})") from exc
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise _Invalid("a list of strings")
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise _Invalid("true or false")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise _Invalid("a whole number >= 0")
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        raise _Invalid("a number >= 0")
    if kind is str:
        if isinstance(value, str):
            return value
        raise _Invalid("a string")
    raise _Invalid(f"a {kind}")


_RANGES = {"filter.threshold": (0.0, 1.0), "filter.explore": (0.0, 1.0)}


def _same(raw: Any, kind: Any, current: Any) -> bool:
    """Whether ``raw`` says what is already in force (an editor echoing the user's value)."""
    try:
        return bool(_coerce(raw, kind) == current)
    except _Invalid:
        return False


def resolve(layers: Iterable[Layer]) -> Resolved:
    """Merge layers (lowest first) into frozen settings, keeping the valid part of each."""
    values: dict[str, Any] = {key: default for key, (_, default, _doc) in SCHEMA.items()}
    sources: dict[str, str] = dict.fromkeys(SCHEMA, DEFAULT)
    problems: list[str] = []
    for layer in layers:
        for key, raw in flatten(layer.values).items():
            wire = camel(key)
            if key not in SCHEMA:
                problems.append(f"unknown setting {wire!r} in {layer.source}: ignored")
                continue
            kind = SCHEMA[key][0]
            if layer.restricted and user_only(key):
                if not _same(raw, kind, values[key]):
                    problems.append(
                        f"setting {wire!r} in {layer.source} is ignored: it decides what runs, "
                        "where code is sent or how safe a run is, so only your user file "
                        f"({user_config_file()}) or the editor's initializationOptions may set it"
                    )
                continue
            try:
                value = _coerce(raw, kind)
                low, high = _RANGES.get(key, (None, None))
                if value is not None and low is not None and not (low <= value <= high):
                    raise _Invalid(f"a number between {low} and {high}")
            except _Invalid as exc:
                problems.append(
                    f"setting {wire!r} = {raw!r} in {layer.source} is invalid (expected {exc}); "
                    f"keeping {values[key]!r}"
                )
                continue
            values[key] = value
            sources[key] = layer.source
    sections: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        section, leaf = key.split(".", 1)
        sections.setdefault(section, {})[leaf] = value
    hints = typing.get_type_hints(Settings)
    settings = Settings(**{name: hints[name](**leaves) for name, leaves in sections.items()})
    return Resolved(settings, sources, tuple(problems))


def user_config_file() -> Path:
    return config_dir() / "config.toml"


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"settings file {path} could not be read ({exc}); ignored")
        return None


def file_layers(workspace_root: Path | None) -> tuple[list[Layer], list[str]]:
    """The user file and the workspace's files as layers, with problems reading them."""
    problems: list[str] = []
    layers: list[Layer] = []
    user = user_config_file()
    data = _read_toml(user, problems)
    if data is not None:
        layers.append(Layer(f"user file {user}", data))
    if workspace_root is not None:
        pyproject = workspace_root / "pyproject.toml"
        data = _read_toml(pyproject, problems)
        if data is not None:
            table = data.get("tool", {}).get("tactful")
            if isinstance(table, dict):
                layers.append(Layer(f"workspace file {pyproject}", table, restricted=True))
        own = workspace_root / ".tactful.toml"
        data = _read_toml(own, problems)
        if data is not None:
            layers.append(Layer(f"workspace file {own}", data, restricted=True))
    return layers, problems


def load(workspace_root: Path | None, client: Iterable[Layer] = ()) -> Resolved:
    """Resolve the settings for a workspace: files first, then what the client sent."""
    layers, problems = file_layers(workspace_root)
    resolved = resolve([*layers, *client])
    return Resolved(resolved.settings, resolved.sources, (*problems, *resolved.problems))

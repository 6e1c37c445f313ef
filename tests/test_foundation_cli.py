"""The ``tactful`` command line: version, doctor (settings and their sources), trust."""

from __future__ import annotations

import json

from fixtures.fake_llm import Reply
from fixtures.lsp import tactful
from fixtures.workspace import Workspace

from tactful.analyzers.userdirs import config_dir


def test_version_and_usage_errors() -> None:
    assert tactful("--version").stdout.startswith("tactful ")
    assert tactful("no-such-command").returncode == 2
    assert tactful().returncode == 2


def test_doctor_says_where_each_setting_came_from(workspace: Workspace) -> None:
    user = config_dir() / "config.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text("[completion]\nmax_lines = 4\n")
    workspace.write(".tactful.toml", '[review]\nbase = "main"\n[llm]\nmodel = "openai/x"\n')
    result = tactful("doctor", str(workspace.root), "--format", "json", "--no-llm-check")
    report = json.loads(result.stdout)
    assert result.returncode == 2  # the workspace tried to set llm.model: a settings problem
    settings = report["settings"]
    assert settings["completion.maxLines"] == {"value": 4, "source": f"user file {user}"}
    assert settings["review.base"]["source"].endswith(".tactful.toml")
    assert settings["llm.model"] == {"value": None, "source": "default"}
    assert any("llm.model" in p for p in report["problems"])
    assert report["versions"]["pygls"] == "2.1.1"
    assert report["sandbox"]["backend"]
    assert report["trusted"] is False


def test_doctor_reaches_the_configured_llm(workspace: Workspace, fake_llm) -> None:
    fake_llm.script(Reply("OK"))
    user = config_dir() / "config.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text(f'[llm]\nmodel = "openai/fake"\napi_base = "{fake_llm.url}"\n')
    result = tactful("doctor", str(workspace.root), "--format", "json")
    report = json.loads(result.stdout)
    assert report["llm"]["reachable"] is True, report["llm"]
    assert result.returncode == 0
    assert fake_llm.requests


def test_trust_and_untrust(workspace: Workspace) -> None:
    assert tactful("trust", str(workspace.root)).returncode == 0
    report = json.loads(
        tactful("doctor", str(workspace.root / "sub"), "--format", "json", "--no-llm-check").stdout
    )
    assert report["trusted"] is True  # a folder inside a trusted one is trusted
    assert tactful("untrust", str(workspace.root)).returncode == 0
    report = json.loads(
        tactful("doctor", str(workspace.root), "--format", "json", "--no-llm-check").stdout
    )
    assert report["trusted"] is False
    assert tactful("trust", str(workspace.root / "missing")).returncode == 2

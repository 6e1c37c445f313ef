"""The project's own interpreter, found as the tools people use find it: one end-to-end run of
``tactful validate`` per setup, each proving from inside the sandbox which interpreter ran the
tests (a test that checks ``sys.prefix``), plus ``tactful doctor`` saying which and why, and the
editor's selection over LSP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from fixtures.lsp import code_actions, init_params, open_document
from fixtures.pyenv import make_env, site_packages
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.analyzers.userdirs import config_dir
from tactful.feedback import trust
from tactful.feedback.execution import Sandbox, ValidationOptions

CALC = "def add(a, b):\n    return a + b\n"
NEW_CALC = "def add(a, b):\n    return b + a\n"
TESTS_OF_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


@pytest.fixture(autouse=True)
def plain_environment(plain_pytest: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # the environment these tests run in is not the one a user's editor was started from
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)


def project(workspace: Workspace, prefix: Path | None) -> str:
    """A project whose test passes only under the interpreter of ``prefix``; its patch."""
    expected = repr(str(prefix)) if prefix is not None else "None"
    workspace.write("calc.py", CALC)
    workspace.write(
        "tests/test_calc.py",
        "import sys\n\nfrom calc import add\n\n\n"
        "def test_add():\n"
        f"    assert sys.prefix == {expected}\n"
        "    assert add(2, 3) == 5\n",
    )
    workspace.write(".gitignore", ".venv/\nvenv/\n")
    workspace.commit("start")
    workspace.write("calc.py", NEW_CALC)
    patch = workspace.git("diff")
    workspace.write("calc.py", CALC)
    trust.trust(workspace.root)
    return patch


def validate(workspace: Workspace, patch: str, **env: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "tactful.server", "validate", "--patch", "-", "--format", "json"],
        cwd=workspace.root,
        input=patch,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def user_settings(text: str) -> None:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")


def test_a_venv_in_the_workspace(workspace: Workspace) -> None:
    python = make_env(workspace.root / ".venv")
    patch = project(workspace, workspace.root / ".venv")

    code, report = validate(workspace, patch)

    assert (code, report["status"]) == (0, "passed"), report
    assert report["interpreter"] == str(python)


def test_an_environment_outside_the_workspace_named_by_virtual_env(
    workspace: Workspace, tmp_path: Path
) -> None:
    prefix = tmp_path / "envs" / "calc"
    python = make_env(prefix)
    make_env(workspace.root / ".venv")  # an activated environment comes first
    patch = project(workspace, prefix)

    code, report = validate(workspace, patch, VIRTUAL_ENV=str(prefix))

    assert (code, report["status"]) == (0, "passed"), report
    assert report["interpreter"] == str(python)


def test_an_interpreter_under_tmp_named_by_the_test_command(workspace: Workspace) -> None:
    # the sandbox mounts a /tmp of its own: the interpreter's folders are bound again inside it
    prefix = Path(tempfile.mkdtemp(prefix="tactful-env-", dir="/tmp"))
    python = make_env(prefix)
    patch = project(workspace, prefix)
    user_settings(f'[validation]\ncommand = ["{python}", "-m", "pytest"]\n')

    code, report = validate(workspace, patch)

    assert (code, report["status"]) == (0, "passed"), report
    assert report["interpreter"] == str(python)
    assert report["sandboxed"] is True


def test_validation_python_in_the_user_settings(workspace: Workspace, tmp_path: Path) -> None:
    prefix = tmp_path / "chosen"
    python = make_env(prefix)
    make_env(workspace.root / ".venv")  # the setting comes first
    patch = project(workspace, prefix)
    user_settings(f'[validation]\npython = "{prefix}"\n')  # an environment's folder will do

    code, report = validate(workspace, patch)

    assert (code, report["status"]) == (0, "passed"), report
    assert report["interpreter"] == str(python)


def test_a_path_with_dot_dot_in_validation_python(workspace: Workspace, tmp_path: Path) -> None:
    # a path written the way people write them: the sandbox binds resolved folders, so the
    # interpreter it starts must be named without ".." through folders it does not bind
    prefix = tmp_path / "chosen"
    python = make_env(prefix)
    (tmp_path / "elsewhere").mkdir()
    patch = project(workspace, prefix)
    user_settings(f'[validation]\npython = "{tmp_path}/elsewhere/../chosen/bin/python"\n')

    code, report = validate(workspace, patch)

    assert (code, report["status"]) == (0, "passed"), report
    assert report["interpreter"] == str(python)


def test_uv_project_environment(workspace: Workspace, tmp_path: Path) -> None:
    prefix = tmp_path / "uv-env"
    python = make_env(prefix)
    patch = project(workspace, prefix)

    code, report = validate(workspace, patch, UV_PROJECT_ENVIRONMENT=str(prefix))

    assert (code, report["status"]) == (0, "passed"), report
    assert report["interpreter"] == str(python)


def test_none_found_is_an_error_that_says_how_to_choose_one(workspace: Workspace) -> None:
    patch = project(workspace, None)
    own_prefix = sys.prefix

    # tactful's own environment, even activated, is never taken for the project's
    code, report = validate(workspace, patch, VIRTUAL_ENV=own_prefix)
    doctor = subprocess.run(
        [sys.executable, "-m", "tactful.server", "doctor", "--no-llm-check", "--format", "json"],
        cwd=workspace.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert (code, report["status"]) == (1, "error"), report
    assert report["tests_run"] == 0
    assert "set validation.python" in report["reason"]
    chosen = json.loads(doctor.stdout)["interpreter"]
    assert chosen["interpreter"] is None and "set validation.python" in chosen["why"]


def test_doctor_says_which_interpreter_and_why(workspace: Workspace) -> None:
    python = make_env(workspace.root / ".venv")
    project(workspace, workspace.root / ".venv")

    done = subprocess.run(
        [sys.executable, "-m", "tactful.server", "doctor", "--no-llm-check"],
        cwd=workspace.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert f"interpreter              {python}" in done.stdout
    assert "why                      .venv in the workspace" in done.stdout


async def test_the_interpreter_the_editor_selected(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path
) -> None:
    prefix = tmp_path / "selected"
    python = make_env(prefix)
    workspace.write("pyproject.toml", "[tool.ruff.lint]\nselect = ['F401']\n")
    module = "import os\n\n\ndef add(a, b):\n    return a + b\n"
    workspace.write("calc.py", module)
    workspace.write(
        "tests/test_calc.py",
        "import sys\n\nfrom calc import add\n\n\n"
        f"def test_add():\n    assert sys.prefix == {str(prefix)!r}\n"
        "    assert add(2, 3) == 5\n",
    )
    workspace.commit("start")
    # The module is unchanged since the commit: only the scope `all` shows its finding.
    options = {"workspace": {"trusted": True}, "quality": {"scope": "all"}}
    await lsp.initialize_session(init_params(workspace.root, options))
    uri = workspace.uri("calc.py")
    open_document(lsp, uri, module)

    async def title() -> str:
        for _ in range(600):
            found = await code_actions(lsp, uri, only=[types.CodeActionKind.QuickFix])
            titles = [a.title for a in found]
            if titles and "still running" not in titles[0]:
                return titles[0]
            await asyncio.sleep(0.2)
        raise AssertionError("the fix was never judged")

    # nothing selected yet, no .venv: the fix is offered, unvalidated, saying how to choose one
    before = await title()
    lsp.protocol.notify("tactful/selectedPython", {"python": str(python)})
    for _ in range(100):
        after = await title()
        if after != before:
            break
        await asyncio.sleep(0.2)

    assert "not validated (error: no Python environment found" in before
    assert after == "Remove unused import: `os` (F401) — 1 test passed"


# -- the order, on real environments -------------------------------------------------------------


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("envs")
    root = base / "proj"
    root.mkdir()
    found = {
        "root": root,
        ".venv": make_env(root / ".venv", with_packages=False),
        "active": make_env(base / "active", with_packages=False),
        "conda": make_env(base / "conda", with_packages=False),
        "chosen": make_env(base / "chosen", with_packages=False),
        "tool": make_env(base / "tool", with_packages=False),
    }
    script = base / "tool" / "bin" / "pytest"
    script.write_text(f"#!{found['tool']}\nimport sys\n")
    script.chmod(0o755)
    found["script"] = script
    return found


@pytest.mark.parametrize(
    ("given", "expected", "why"),
    [
        ({}, ".venv", ".venv in the workspace"),
        ({"environ": {"VIRTUAL_ENV": "active"}}, "active", "the activated VIRTUAL_ENV"),
        ({"environ": {"VIRTUAL_ENV": "own"}}, ".venv", ".venv in the workspace"),
        (
            {"environ": {"CONDA_PREFIX": "conda", "CONDA_DEFAULT_ENV": "base"}},
            ".venv",
            ".venv in the workspace",
        ),
        (
            {"environ": {"CONDA_PREFIX": "conda", "CONDA_DEFAULT_ENV": "work"}},
            "conda",
            "the activated conda environment",
        ),
        (
            {"selected": "chosen", "environ": {"VIRTUAL_ENV": "active"}},
            "chosen",
            "the interpreter selected in the editor",
        ),
        ({"python": "active", "selected": "chosen"}, "active", "set by validation.python"),
        (
            {"command": ["chosen", "-m", "pytest"], "python": "active"},
            "chosen",
            "the program of validation.command",
        ),
        ({"command": ["python", "-m", "pytest"]}, ".venv", ".venv in the workspace"),
        ({"command": ["script", "-x"]}, "tool", "the interpreter of"),
    ],
)
def test_the_order_of_discovery(
    envs: dict[str, Path], given: dict, expected: str, why: str
) -> None:
    from tactful.feedback.execution import find_environment

    def named(value: str) -> str:
        if value == "own":
            return sys.prefix
        if value in envs:
            path = envs[value]
            # environments are named by their folder, interpreters by their file
            return str(path.parent.parent) if value in ("active", "conda") else str(path)
        return value

    found = find_environment(
        envs["root"],
        command=[named(w) for w in given["command"]] if "command" in given else None,
        python=named(given["python"]) if "python" in given else None,
        selected=named(given["selected"]) if "selected" in given else None,
        environ={k: named(v) for k, v in given.get("environ", {}).items()},
    )

    assert found.interpreter == envs[expected]
    assert found.why.startswith(why)


def test_a_named_interpreter_that_does_not_exist_is_an_error(envs: dict[str, Path]) -> None:
    from tactful.feedback.execution import find_environment

    missing = find_environment(envs["root"], python="/nowhere/bin/python", environ={})
    nothing = find_environment(envs["root"].parent / "chosen", environ={})

    # a wrong setting is said, not passed over for the workspace's .venv
    assert missing.interpreter is None and "/nowhere/bin/python" in missing.why
    assert nothing.interpreter is None and "set validation.python" in nothing.why


def two_checkouts(tmp_path: Path) -> tuple[Workspace, Path]:
    """A src-layout project and a second checkout of it (a worktree, say) whose tests, run with
    the first one's environment (the package installed there in development mode), import the
    first checkout's code."""
    first = Workspace(tmp_path / "first")
    first.write("src/calc/__init__.py", CALC)
    first.write("tests/test_calc.py", TESTS_OF_CALC)
    first.write(".gitignore", ".venv/\n")
    first.commit("start")
    make_env(first.root / ".venv")
    (site_packages(first.root / ".venv") / "calc.pth").write_text(
        str(first.root / "src") + "\n", encoding="utf-8"
    )
    second = tmp_path / "second"
    subprocess.run(["git", "clone", "-q", str(first.root), str(second)], check=True)
    trust.trust(second)
    return first, second


def test_tests_that_import_the_change_from_another_checkout_judge_nothing(
    tmp_path: Path,
) -> None:
    first, second = two_checkouts(tmp_path)
    (second / "src/calc/__init__.py").write_text(CALC.replace("a + b", "a * b"), encoding="utf-8")
    patch = subprocess.run(
        ["git", "diff"], cwd=second, capture_output=True, text=True, check=True
    ).stdout
    (second / "src/calc/__init__.py").write_text(CALC, encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-m", "tactful.server", "validate", "--patch", "-", "--format", "json"],
        cwd=second,
        input=patch,
        env={**os.environ, "VIRTUAL_ENV": str(first.root / ".venv")},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    # not "no test runs this code", nor a verdict of the old and new code alone: the tests
    # ran, on another copy of the module
    report = json.loads(done.stdout)
    assert (done.returncode, report["status"]) == (1, "error"), report
    assert report["reason"].startswith(
        f"the tests imported calc from {first.root / 'src/calc/__init__.py'}, not from this "
        "workspace"
    )


def test_review_does_not_call_code_untested_that_the_tests_run_from_another_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_checkouts(tmp_path)
    monkeypatch.setenv("VIRTUAL_ENV", str(first.root / ".venv"))
    # the coverage map of the second checkout, made by its real test run
    sandbox = Sandbox(second, ValidationOptions(), trusted=True)
    cmap = asyncio.run(sandbox.update_coverage_map())
    assert cmap is not None and cmap.elsewhere == {"src/calc/__init__.py"}
    (second / "src/calc/__init__.py").write_text(NEW_CALC, encoding="utf-8")
    asyncio.run(sandbox.update_coverage_map())  # the map made for the changed text

    done = subprocess.run(
        [sys.executable, "-m", "tactful.server", "review", "--no-llm", "--format", "json"],
        cwd=second,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    # test_add runs `add`, of the first checkout: which tests run this copy's is unknown
    rules = [c["rule"] for c in json.loads(done.stdout)["comments"]]
    assert "untested-change" not in rules, done.stdout

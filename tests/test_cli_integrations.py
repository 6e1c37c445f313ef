"""CI and hooks as people use them: the pre-commit hooks run by real ``pre-commit try-repo`` on
a temp repository, and the composite GitHub Action's steps run as the runner would run them
on a pull request's shallow checkout.

Both build tactful into an environment of their own, as users get it: pre-commit through the
pre-commit-uv plugin and the action through ``uv tool install``, with the constraints CI tests
(``UV_CONSTRAINT``) so the versions are the lower bounds of pyproject's ranges.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fixtures.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / ".ci" / "constraints.txt"
BASE = 'def greet(name):\n    """Say hello."""\n    return "hello " + name\n'
CHANGED = (
    'import os\n\n\ndef greet(name):\n    """Say hello."""\n    print(name)\n'
    '    return "hello " + name\n'
)


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """uv's download cache, shared by this module's tests (each test's own XDG_CACHE_HOME
    would make every environment build download everything again)."""
    return tmp_path_factory.mktemp("uv-cache")


def tool_env(tmp_path: Path, uv_cache: Path) -> dict[str, str]:
    """The environment of a tool run: our interpreter's folder first on PATH (uv, git's
    helpers), uv's cache shared by the tests here, everything else in ``tmp_path``."""
    env = dict(os.environ)
    env["UV_CACHE_DIR"] = str(uv_cache)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["UV_CONSTRAINT"] = str(CONSTRAINTS)
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit")
    env["UV_TOOL_DIR"] = str(tmp_path / "uv-tools")
    env["UV_TOOL_BIN_DIR"] = str(tmp_path / "uv-bin")
    env.pop("VIRTUAL_ENV", None)
    return env


def test_pre_commit_hooks_by_try_repo(workspace: Workspace, tmp_path: Path, uv_cache: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [hook["id"] for hook in hooks] == ["tactful-review", "tactful-fix"]
    assert all(hook["language"] == "python" for hook in hooks)

    workspace.write("greet.py", BASE)
    workspace.write("notes.md", "# notes\n")
    workspace.commit("init")
    workspace.write("greet.py", CHANGED)
    workspace.git("add", "greet.py")
    # Not staged: pre-commit sets it aside while the hooks run, and --staged ignores it.
    workspace.write("notes.md", "# notes\nprint(1)\n")

    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "--verbose"],
        cwd=workspace.root,
        env=tool_env(tmp_path, uv_cache),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "Using pre-commit with uv" in out  # the environment was built by uv
    review = out.split("tactful review...", 1)[1].split("tactful fix...", 1)[0]
    assert re.match(r"\.+Failed\n- hook id: tactful-review\n", review), review
    assert "greet.py:1:8: warning [F401] `os` imported but unused" in review
    assert "greet.py:6:5: warning [debug-leftover]" in review
    assert "(1 staged file reviewed against HEAD" in review
    fix = out.split("tactful fix...", 1)[1]
    assert re.match(r"\.+Failed\n- hook id: tactful-fix\n", fix), fix
    assert "greet.py:1:8: F401 `os` imported but unused" in fix
    # The workspace is not trusted: nothing ran, nothing was written.
    assert "not validated (workspace not trusted)" in fix
    assert workspace.read("greet.py") == CHANGED
    assert workspace.read("notes.md") == "# notes\nprint(1)\n"


_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def evaluate(text: str, context: dict[str, str]) -> str:
    """The ``${{ … }}`` expressions the action uses, replaced as the runner would (a context
    path; an unknown one is a test failure, not an empty string)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in context, f"the action uses {name}, which the test does not provide"
        return context[name]

    return _EXPRESSION.sub(value, text)


def pull_request(tmp_path: Path) -> tuple[Path, str]:
    """An origin repository with a pull request (base, head and GitHub's merge commit under
    ``refs/pull/1/merge``), and a workspace checked out as actions/checkout does it: the merge
    commit alone, depth 1. Returns the workspace and the base commit."""
    origin = Workspace(tmp_path / "origin")
    origin.write("pkg/greet.py", BASE)
    base = origin.commit("base")
    origin.git("checkout", "-q", "-b", "feature")
    origin.write("pkg/greet.py", CHANGED)
    origin.write("pkg/odd, name.py", "x = 1  # TODO later\n")
    origin.commit("change")
    origin.git("checkout", "-q", "main")
    origin.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")
    origin.git("update-ref", "refs/pull/1/merge", "HEAD")
    origin.git("reset", "-q", "--hard", base)
    origin.git("config", "uploadpack.allowReachableSHA1InWant", "true")

    checkout = Workspace(tmp_path / "workspace")
    checkout.git("remote", "add", "origin", origin.root.as_uri())
    checkout.git("fetch", "-q", "--no-tags", "--depth=1", "origin", "refs/pull/1/merge")
    checkout.git("checkout", "-q", "--detach", "FETCH_HEAD")
    with pytest.raises(subprocess.CalledProcessError):
        checkout.git("cat-file", "-e", f"{base}^{{commit}}")  # shallow: the base is missing
    return checkout.root, base


def run_action(
    workspace: Path, base: str, tmp_path: Path, uv_cache: Path, inputs: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    """Run action.yml's steps as the runner runs a composite action: ``uses`` steps are other
    actions (setup-uv provides the uv that is already on PATH here), ``run`` steps go to
    ``bash --noprofile --norc -eo pipefail`` in the workspace, with the step's env evaluated,
    and lines written to ``$GITHUB_PATH`` put first on PATH for the steps after."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    github = {
        "github.action_path": str(ROOT),
        "github.workspace": str(workspace),
        "github.event.pull_request.base.sha": base,
    }
    values = {}
    for name, spec in action["inputs"].items():
        given = inputs.get(name)
        values[f"inputs.{name}"] = (
            given if given is not None else evaluate(str(spec.get("default", "")), github)
        )
    unknown = set(inputs) - set(action["inputs"])
    assert not unknown, unknown
    context = {**github, **values}
    env = tool_env(tmp_path, uv_cache)
    env["GITHUB_WORKSPACE"] = str(workspace)
    env["GITHUB_ACTION_PATH"] = str(ROOT)
    path_file = tmp_path / "github-path"
    path_file.write_text("")
    env["GITHUB_PATH"] = str(path_file)
    results = []
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("astral-sh/setup-uv@"), step
            assert shutil.which("uv", path=env["PATH"])
            continue
        # Inputs reach a script through its env only: no expression inside the script itself.
        assert "${{" not in step["run"], step["name"]
        assert step["shell"] == "bash"
        script = tmp_path / "step.sh"
        script.write_text(step["run"], encoding="utf-8")
        step_env = {**env, **{k: evaluate(str(v), context) for k, v in step["env"].items()}}
        added = [line for line in path_file.read_text().splitlines() if line]
        step_env["PATH"] = os.pathsep.join([*reversed(added), env["PATH"]])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=evaluate(step.get("working-directory", "${{ github.workspace }}"), context),
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        results.append(done)
        if done.returncode != 0:
            break
    return results


def test_github_action_annotates_a_pull_request(tmp_path: Path, uv_cache: Path) -> None:
    workspace, base = pull_request(tmp_path)

    install, review = run_action(workspace, base, tmp_path, uv_cache, {})

    assert install.returncode == 0, install.stderr
    assert (tmp_path / "uv-bin" / "tactful").exists()
    assert review.returncode == 1, review.stderr  # comments, and fail-on-comments is "true"
    assert review.stdout.splitlines() == [
        "::warning file=pkg/greet.py,line=1,endLine=1,col=8,endColumn=10,title=tactful (F401)::"
        "`os` imported but unused",
        "::warning file=pkg/greet.py,line=6,endLine=6,col=5,endColumn=16,"
        "title=tactful (debug-leftover)::`print` looks like a debugging leftover: remove it or "
        "use logging.",
        "::notice file=pkg/odd%2C name.py,line=1,endLine=1,col=8,endColumn=20,"
        "title=tactful (todo-added)::new TODO: resolve it before merging or track it in an "
        "issue and reference it here.",
    ]

    # Inputs: paths, more arguments, and annotations without failing the check.
    _, review = run_action(
        workspace,
        base,
        tmp_path,
        uv_cache,
        {"paths": "pkg/greet.py", "args": "--ignore F401", "fail-on-comments": "false"},
    )
    assert review.returncode == 0, review.stderr
    assert [line.split("::")[1].split(" ")[0] for line in review.stdout.splitlines()] == ["warning"]
    assert "title=tactful (debug-leftover)" in review.stdout

    # Outside a pull request there is no base: a clear error, not a review of nothing.
    _, review = run_action(workspace, base, tmp_path, uv_cache, {"base": ""})
    assert review.returncode == 2
    assert review.stdout.startswith("::error title=tactful::no base revision")

"""``tactful fix`` on real projects: ruff, recipes, the sandboxed tests, and the JSON it prints."""

from __future__ import annotations

import json

from fixtures.lsp import tactful
from fixtures.pyenv import make_env
from fixtures.workspace import Workspace

MODULE = """import os


def parse(value):
    if not isinstance(value, str):
        raise ValueError("not text")
    l = value.strip()
    return l
"""

TESTS = """import pytest

from mod import parse


def test_parse():
    assert parse(" a ") == "a"


def test_parse_rejects_numbers():
    with pytest.raises(ValueError):
        parse(1)
"""


def project(workspace: Workspace) -> Workspace:
    workspace.write("pyproject.toml", "[tool.ruff.lint]\nselect = ['F', 'E741', 'TRY004']\n")
    workspace.write("mod.py", MODULE)
    workspace.write("tests/test_mod.py", TESTS)
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("start")
    make_env(workspace.root / ".venv")  # the project's environment, as a developer has it
    return workspace


def test_untrusted_fixes_are_listed_not_validated(workspace: Workspace) -> None:
    project(workspace)
    done = tactful("fix", "--format", "json", cwd=workspace.root)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["version"] == 1 and report["validated"] is False
    rules = {item["rule"]: item for item in report["findings"]}
    assert set(rules) == {"F401", "E741", "TRY004"}
    f401 = rules["F401"]
    assert f401["start"] == {"line": 1, "column": 8}
    assert f401["fix"]["applicability"] == "safe" and f401["fix"]["origin"] == "ruff"
    assert f401["fix"]["title"].endswith("— safe fix, not validated (workspace not trusted)")
    assert f401["verdict"]["status"] == "not-validated"
    assert rules["E741"]["fix"]["origin"] == "recipe"
    assert "+    length = value.strip()" in rules["E741"]["fix"]["diff"]
    assert report["summary"] == {
        "findings": 3,
        "with_fix": 3,
        "validated": 0,
        "unexercised": 0,
        "equivalent": 0,
        "applied": 0,
        "remaining": 3,
    }
    # Asking to validate in an untrusted workspace is a usage error, and nothing was written.
    refused = tactful("fix", "--validate", cwd=workspace.root)
    assert refused.returncode == 2 and "tactful trust" in refused.stderr
    assert workspace.read("mod.py") == MODULE


def test_validated_fixes_are_applied_and_failing_ones_withheld(workspace: Workspace) -> None:
    project(workspace)
    assert tactful("trust", str(workspace.root), cwd=workspace.root).returncode == 0
    done = tactful("fix", "--apply", "--format", "json", cwd=workspace.root)
    report = json.loads(done.stdout)
    rules = {item["rule"]: item for item in report["findings"]}
    assert rules["F401"]["verdict"]["status"] == "passed"
    assert rules["F401"]["fix"]["title"].endswith("— 2 tests passed")
    # The test expects ValueError: raising TypeError instead fails it, so no fix is offered.
    assert rules["TRY004"]["fix"] is None
    assert rules["TRY004"]["verdict"]["status"] == "failed"
    assert rules["F401"]["applied"] and rules["E741"]["applied"]
    text = workspace.read("mod.py")
    assert "import os" not in text and "length = value.strip()" in text
    assert 'raise ValueError("not text")' in text
    assert report["summary"]["remaining"] == 1 and done.returncode == 1


def test_an_alternative_fix_is_judged_when_the_usual_one_fails(workspace: Workspace) -> None:
    # FA100's fix adds `from __future__ import annotations`, which this project's tests forbid;
    # the alternative writes the annotations as the import would have made them, and passes.
    workspace.write(
        "pyproject.toml",
        '[tool.ruff]\ntarget-version = "py38"\n[tool.ruff.lint]\nselect = ["FA100"]\n',
    )
    workspace.write(
        "mod.py",
        "import typing as t\n\n\n"
        "def first(items: t.List[str]) -> t.Optional[str]:\n"
        "    return items[0] if items else None\n",
    )
    workspace.write(
        "tests/test_mod.py",
        "import mod\n\n\n"
        "def test_first():\n"
        '    assert mod.first(["a"]) == "a"\n\n\n'
        "def test_no_future_import():\n"
        '    assert not hasattr(mod, "annotations")\n',
    )
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("start")
    make_env(workspace.root / ".venv")
    assert tactful("trust", str(workspace.root), cwd=workspace.root).returncode == 0
    done = tactful("fix", "--apply", "--format", "json", cwd=workspace.root)
    report = json.loads(done.stdout)
    assert [item["rule"] for item in report["findings"]] == ["FA100", "FA100"]
    first = report["findings"][0]
    assert first["fix"]["origin"] == "recipe"
    assert first["verdict"]["status"] == "passed"
    assert workspace.read("mod.py") == (
        "import typing as t\n\n\n"
        'def first(items: "list[str]") -> "str | None":\n'
        "    return items[0] if items else None\n"
    )
    assert report["summary"]["remaining"] == 0 and done.returncode == 0


def test_fixes_no_test_runs_are_written_only_when_asked(workspace: Workspace) -> None:
    helper = "\n\ndef shout(value):\n    l = value.strip()\n    return l.upper()\n"
    project(workspace)
    workspace.write("mod.py", MODULE + helper)
    workspace.commit("an untested helper")
    assert tactful("trust", str(workspace.root), cwd=workspace.root).returncode == 0

    cautious = tactful("fix", "--apply", "--format", "json", cwd=workspace.root)
    after_cautious = workspace.read("mod.py")
    bold = tactful("fix", "--apply", "--include-unexercised", cwd=workspace.root)

    report = json.loads(cautious.stdout)
    shout = next(i for i in report["findings"] if i["rule"] == "E741" and i["start"]["line"] == 12)
    # no test calls shout(): the rename behaved the same on every input tried, which is not
    # "tests passed", so a plain --apply leaves it
    assert shout["verdict"]["status"] == "equivalent", shout["verdict"]
    assert shout["fix"]["title"].endswith(f"same behaviour on {shout['verdict']['inputs']} inputs")
    assert not shout["applied"]
    assert report["summary"]["equivalent"] == 1
    assert "length = value.strip()\n    return length\n" in after_cautious  # parse(): tested
    assert "def shout(value):\n    l = value.strip()" in after_cautious
    assert bold.returncode == 1, bold.stderr  # TRY004 stays: its fix fails the tests
    shout_now = workspace.read("mod.py").split("def shout(value):\n", 1)[1]
    assert not shout_now.startswith("    l = ") and ".strip()" in shout_now


def test_a_fix_that_compiles_to_the_same_code_is_not_said_to_have_been_tried(
    workspace: Workspace,
) -> None:
    # COM812 adds a trailing comma: the untested function compiles to the same code, so the
    # verdict needs no input and none is tried; the summary must not speak of inputs
    workspace.write("pyproject.toml", "[tool.ruff.lint]\nselect = ['COM812']\n")
    workspace.write(
        "mod.py", 'def shout(value):\n    return " ".join(\n        [value, "!"]\n    )\n'
    )
    workspace.write("tests/test_other.py", "def test_nothing_here():\n    assert True\n")
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("start")
    make_env(workspace.root / ".venv")
    assert tactful("trust", str(workspace.root), cwd=workspace.root).returncode == 0

    text = tactful("fix", "--validate", cwd=workspace.root)
    report = json.loads(tactful("fix", "--validate", "--format", "json", cwd=workspace.root).stdout)

    (item,) = report["findings"]
    assert item["verdict"]["status"] == "equivalent", item["verdict"]
    assert item["verdict"]["inputs"] == 0
    assert item["fix"]["title"].endswith("same code once compiled")
    summary = text.stdout.rstrip().splitlines()[-1]
    assert "1 compiling to the same code as before (no test runs them)" in summary, summary
    assert "generated inputs" not in summary

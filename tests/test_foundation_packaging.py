"""The wheel installs the one ``tactful`` namespace and serves from it; dependencies are ranges
whose lower bound is what CI installs and tests; the license and changelog ship."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    "pyproject.toml",
    "LICENSE",
    "setup.py",
    "README.md",
    "server",
    "analyzers",
    "suggestion",
    "feedback",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        elif source.exists():
            shutil.copy(source, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (found,) = out.glob("tactful-*.whl")
    return found


def test_wheel_holds_one_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("tactful-")}
    assert top == {"tactful"}
    for package in ("server", "analyzers", "suggestion", "feedback"):
        assert f"tactful/{package}/__init__.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tactful = tactful.server.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_imports_and_serves(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    # Dependencies come from this environment's site-packages, appended after the wheel's
    # (a plain path: .pth files there, such as an editable install's finder, are not run).
    (target / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = (
        "import json, tactful.server, tactful.server.app as app; "
        "print(json.dumps([tactful.server.__file__, app.__version__]))"
    )
    out = subprocess.run(
        [str(python), "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONNOUSERSITE": "1"},
    )
    location, _version = json.loads(out.stdout)
    assert location.startswith(str(target))
    message = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"capabilities": {}, "processId": None},
        }
    ).encode()
    exit_ = json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode()
    stream = b"".join(b"Content-Length: %d\r\n\r\n%s" % (len(m), m) for m in (message, exit_))
    served = subprocess.run(
        [str(python), "-m", "tactful.server", "serve"],
        input=stream,
        capture_output=True,
        timeout=60,
    )
    assert b'"serverInfo": {"name": "tactful"' in served.stdout
    assert served.stdout.startswith(b"Content-Length:")


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in ("local-llm", "plot"):
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


def _constraints() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[name.strip().lower()] = Version(pinned.strip())
    return pins


def test_dependencies_are_ranges_whose_lower_bound_ci_tests() -> None:
    pins = _constraints()
    requirements = _requirements()
    assert sorted(pins) == sorted(r.name.lower() for r in requirements)
    for requirement in requirements:
        name = requirement.name.lower()
        specs = {spec.operator: Version(spec.version) for spec in requirement.specifier}
        if name == "litellm":
            assert set(specs) == {"=="}, requirement  # pinned exactly, on purpose
        else:
            assert ">=" in specs and "==" not in specs, requirement
            assert set(specs) <= {">=", "<"}, requirement
            if "<" in specs:
                assert specs["<"] > specs.get(">=", specs.get("==")), requirement
        lowest = specs.get("==", specs.get(">="))
        assert pins[name] == lowest, f"{name}: constraints pin {pins[name]}, range starts {lowest}"
        # What is installed here is what CI installs: the lower bound itself.
        assert Version(version(requirement.name)) == lowest, name


def _fenced(markdown: str, heading: str) -> list[str]:
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_ci_runs_exactly_the_readmes_install_and_test_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install, test = _fenced(readme, "Develop and test")
    assert "-c .ci/constraints.txt" in install
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line for line in script.splitlines() if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands == [install, test]
    # Users install a tool, not into their project's environment.
    assert "pipx install tactful" in _fenced(readme, "Install")[0]
    assert "uv tool install tactful" in _fenced(readme, "Install")[0]


def test_license_and_changelog(wheel: Path) -> None:
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License\n")
    assert re.search(r"Copyright \(c\) \d{4} the tactful authors", license_text)
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "keepachangelog.com" in changelog
    headings = re.findall(r"^## \[(.+?)\]", changelog, re.M)
    assert headings[0] == "Unreleased"
    unreleased = changelog.split("## [Unreleased]", 1)[1].split("\n## [", 1)[0]
    assert "### Added" in unreleased

"""The VS Code extension: its settings agree with the server's schema, it builds with its own
scripts, its unit tests pass, and it packages into a .vsix holding the compiled extension.

The build is real (`npm ci`, `tsc`, node's test runner, `vsce package`); `npm ci` runs only when
package-lock.json changed since the last run, so a warm checkout takes seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tactful.server.settings import describe

EXTENSION = Path(__file__).resolve().parent.parent / "editors" / "vscode"
NPM = shutil.which("npm")


def _manifest() -> dict:
    return json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))


def test_contributed_settings_agree_with_the_server_schema():
    result = subprocess.run(
        [sys.executable, str(EXTENSION / "scripts" / "sync_settings.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    properties = _manifest()["contributes"]["configuration"]["properties"]
    for wire, default, doc in describe():
        if wire == "workspace.trusted":
            # Sent from VS Code's own workspace trust, not a user setting.
            assert f"tactful.{wire}" not in properties
            continue
        entry = properties[f"tactful.{wire}"]
        assert entry["default"] == default
        assert entry["markdownDescription"] == doc


def test_manifest_declares_limited_trust_and_user_only_settings():
    manifest = _manifest()
    trust = manifest["capabilities"]["untrustedWorkspaces"]
    assert trust["supported"] == "limited"
    properties = manifest["contributes"]["configuration"]["properties"]
    for key in (
        "tactful.path",
        "tactful.llm.model",
        "tactful.llm.apiBase",
        "tactful.validation.command",
        "tactful.validation.sandbox",
        "tactful.validation.timeoutS",
        "tactful.feedback.store",
        "tactful.feedback.storeCode",
        "tactful.validation.python",
    ):
        assert properties[key]["scope"] == "machine", key
        assert key in trust["restrictedConfigurations"]
    # Everything a workspace may not set is restricted, and nothing else is.
    machine = {k for k, v in properties.items() if v["scope"] == "machine"}
    assert set(trust["restrictedConfigurations"]) == machine
    commands = {c["command"] for c in manifest["contributes"]["commands"]}
    assert {"tactful.review", "tactful.stats", "tactful.trust"} <= commands
    # The server's own commands are registered by vscode-languageclient; ours must not clash.
    assert not commands & {
        "tactful.acceptSuggestion",
        "tactful.rejectSuggestion",
        "tactful.dismissComment",
        "tactful.reviewChanges",
    }


def test_apply_next_edit_is_bound_to_tab_only_while_a_next_edit_shows():
    contributes = _manifest()["contributes"]
    commands = {c["command"]: c for c in contributes["commands"]}
    apply = commands["tactful.applyNextEdit"]
    assert f"{apply['category']}: {apply['title']}" == "tactful: Apply Next Edit"
    assert commands["tactful.dismissNextEdit"]["title"] == "Dismiss Next Edit"
    bindings = {(b["command"], b["key"]): b["when"] for b in contributes["keybindings"]}
    when = bindings[("tactful.applyNextEdit", "tab")]
    conditions = {part.strip() for part in when.split("&&")}
    # The context key the extension sets while a next edit shows; ghost text and the suggest
    # widget keep Tab.
    assert "tactful.nextEditShown" in conditions
    assert {"!inlineSuggestionVisible", "!suggestWidgetVisible"} <= conditions
    assert "tactful.nextEditShown" in bindings[("tactful.dismissNextEdit", "escape")]
    source = (EXTENSION / "src" / "nextEdits.ts").read_text(encoding="utf-8")
    assert 'SHOWN_CONTEXT = "tactful.nextEditShown"' in source


def _npm(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    assert NPM is not None
    result = subprocess.run(
        [NPM, *args], cwd=EXTENSION, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@contextlib.contextmanager
def _build_lock():
    # pytest-xdist may run this module in several workers; one build at a time.
    lock = EXTENSION / "out" / ".build.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@pytest.mark.skipif(NPM is None, reason="npm is not installed, so the extension cannot be built")
@pytest.mark.timeout(900)
def test_extension_builds_passes_its_unit_tests_and_packages():
    with _build_lock():
        lock_hash = hashlib.sha256((EXTENSION / "package-lock.json").read_bytes()).hexdigest()
        stamp = EXTENSION / "node_modules" / ".tactful-package-lock.sha256"
        if not stamp.is_file() or stamp.read_text() != lock_hash:
            _npm("ci", "--no-audit", "--no-fund", timeout=600)
            stamp.write_text(lock_hash)
        _npm("run", "compile", timeout=180)
        tests = _npm("test", timeout=180)
        assert "# fail 0" in tests.stdout
        assert "# pass 0" not in tests.stdout
        vsix = EXTENSION / "tactful.vsix"
        vsix.unlink(missing_ok=True)
        _npm("run", "package", timeout=300)

    assert vsix.is_file()
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        packaged = json.loads(archive.read("extension/package.json"))
    assert "extension/out/extension.js" in names
    assert {
        "extension/out/settings.js",
        "extension/out/serverPath.js",
        "extension/out/status.js",
        "extension/out/verdicts.js",
        "extension/out/inline.js",
        "extension/out/nextEdits.js",
    } <= names
    # The language client ships inside the .vsix: nothing is fetched when it is installed.
    assert "extension/node_modules/vscode-languageclient/lib/node/main.js" in names
    assert not any(n.startswith(("extension/src/", "extension/out/test/")) for n in names)
    assert packaged["main"] == "./out/extension.js"
    assert packaged["contributes"] == _manifest()["contributes"]

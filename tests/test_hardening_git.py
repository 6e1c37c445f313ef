"""A repository's git configuration runs nothing: each program-valued key of ``.git/config`` is
set to a script that leaves a marker, then ``tactful review`` and a whole editor session over
stdio (review, quality, completion with retrieval, indexing, a trusted workspace copy) run on
the repository, and no marker appears. The control: plain git, given the same repository, runs
every one of those scripts."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fixtures.fake_llm import FakeLLM, Reply
from fixtures.lsp import init_params, open_document, wait_for
from fixtures.pyenv import make_env
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.server.cli import main

OLD = 'def greet(name):\n    """Say hello."""\n    return "hello " + name\n'
NEW = (
    'import os\n\n\ndef greet(name):\n    """Say hello."""\n    print(name)\n'
    '    return "hi " + name\n'
)
HOOKS = (
    "post-index-change",
    "pre-auto-gc",
    "post-checkout",
    "reference-transaction",
    "pre-commit",
    "post-commit",
    "post-rewrite",
    "fsmonitor-watchman",
)
# What each script does after leaving its marker, so that git (in the control) goes on.
BEHAVIOUR = {
    "cat": "cat",  # clean/smudge filters, pagers: content in, content out
    "cat-file": 'cat "$1"',  # textconv: the file named, as is
    "ok": "exit 0",
    "fail": "exit 1",  # ssh, gpg, a filter process: refuse at once, never hang
}


@dataclass(frozen=True)
class Key:
    """A configuration that makes git run a program, and a plain git command that runs it."""

    name: str
    config: tuple[tuple[str, str], ...]
    behaviour: str
    control: tuple[str, ...]
    control_input: str | None = None
    control_tty: bool = False
    setup: Callable[[Workspace], None] | None = field(default=None, compare=False)


def _untracked(workspace: Workspace) -> None:
    workspace.write("pkg/extra.py", "EXTRA = 1\n")


def _partial_clone(workspace: Workspace) -> None:
    """A partial clone missing HEAD's blob of the changed file: reading it fetches from the
    promisor remote over ssh."""
    blob = workspace.git("rev-parse", "HEAD:pkg/greet.py").strip()
    (workspace.root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    workspace.git("config", "core.repositoryformatversion", "1")
    workspace.git("config", "extensions.partialClone", "origin")
    workspace.git("config", "remote.origin.url", "ssh://git.example.invalid/repo")
    workspace.git("config", "remote.origin.promisor", "true")


def _signed_head(workspace: Workspace) -> None:
    """HEAD becomes a commit with a (fake) signature, which ``log.showSignature`` verifies."""
    tree = workspace.git("rev-parse", "HEAD^{tree}").strip()
    parent = workspace.git("rev-parse", "HEAD").strip()
    commit = (
        f"tree {tree}\nparent {parent}\n"
        "author Dev <dev@example.com> 1700000000 +0000\n"
        "committer Dev <dev@example.com> 1700000000 +0000\n"
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAd\n -----END PGP SIGNATURE-----\n"
        "\nsigned\n"
    )
    sha = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=workspace.root,
        input=commit.encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    workspace.git("update-ref", "HEAD", sha.strip())


CREDENTIAL = "protocol=https\nhost=example.com\n\n"
SCRIPT = "@SCRIPT@"  # replaced by the path of the key's marker-writing script

KEYS = (
    Key("core.fsmonitor", (("core.fsmonitor", SCRIPT),), "ok", ("status",)),
    Key(
        "core.hooksPath",
        (("core.hooksPath", SCRIPT),),
        "ok",
        ("add", "-N", "pkg/extra.py"),
        setup=_untracked,
    ),
    Key(".git/hooks", (), "ok", ("add", "-N", "pkg/extra.py"), setup=_untracked),
    Key("diff.external", (("diff.external", SCRIPT),), "ok", ("diff", "HEAD")),
    Key("diff.<driver>.command", (("diff.evil.command", SCRIPT),), "ok", ("diff", "HEAD")),
    Key("diff.<driver>.textconv", (("diff.evil.textconv", SCRIPT),), "cat-file", ("diff", "HEAD")),
    Key("filter.<driver>.clean", (("filter.evil.clean", SCRIPT),), "cat", ("diff", "HEAD")),
    Key(
        "filter.<driver>.smudge",
        (("filter.evil.smudge", SCRIPT),),
        "cat",
        ("checkout", "--", "pkg/greet.py"),
    ),
    Key("filter.<driver>.process", (("filter.evil.process", SCRIPT),), "fail", ("diff", "HEAD")),
    Key("core.pager", (("core.pager", SCRIPT),), "cat", ("log", "-1"), control_tty=True),
    Key("pager.<command>", (("pager.log", SCRIPT),), "cat", ("log", "-1"), control_tty=True),
    Key(
        "core.sshCommand",
        (("core.sshCommand", SCRIPT),),
        "fail",
        ("diff", "HEAD"),
        setup=_partial_clone,
    ),
    Key(
        "credential.helper",
        (("credential.helper", SCRIPT),),
        "ok",
        ("credential", "fill"),
        control_input=CREDENTIAL,
    ),
    Key(
        "core.askPass",
        (("core.askPass", SCRIPT),),
        "ok",
        ("credential", "fill"),
        control_input=CREDENTIAL,
    ),
    Key(
        "gpg.program",
        (("gpg.program", SCRIPT), ("log.showSignature", "true")),
        "fail",
        ("log", "-1"),
        setup=_signed_head,
    ),
)


def hostile_repository(workspace: Workspace, bin_dir: Path, markers: Path, keys: tuple[Key, ...]):
    """A repository with a change to review and each key's script configured."""
    workspace.write(".gitattributes", "*.py filter=evil diff=evil merge=evil\n")
    workspace.write("pkg/greet.py", OLD)
    workspace.write(".gitignore", ".venv/\n")
    workspace.commit("init")
    make_env(workspace.root / ".venv")  # the project's interpreter, for the coverage map
    workspace.write("pkg/greet.py", NEW)
    # An older modification time than the index: git must read (and filter) the file again.
    os.utime(workspace.root / "pkg" / "greet.py", (1_000_000_000, 1_000_000_000))
    bin_dir.mkdir(parents=True, exist_ok=True)
    markers.mkdir(parents=True, exist_ok=True)
    # Set-ups run git themselves: before any script is configured.
    for key in keys:
        if key.setup is not None:
            key.setup(workspace)
    for key in keys:
        script = _script(bin_dir, markers, key)
        if key.name == ".git/hooks":
            _hooks(workspace.root / ".git" / "hooks", script)
        for name, value in key.config:
            if value == SCRIPT and name == "core.hooksPath":
                hooks = bin_dir / "hooks"
                _hooks(hooks, script)
                value = str(hooks)
            elif value == SCRIPT:
                value = str(script)
            workspace.git("config", name, value)


def _script(bin_dir: Path, markers: Path, key: Key) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", key.name).strip("_")
    path = bin_dir / slug
    marker = markers / slug
    path.write_text(f'#!/bin/sh\necho "$0 $*" >> "{marker}"\n{BEHAVIOUR[key.behaviour]}\n')
    path.chmod(0o755)
    return path


def _hooks(folder: Path, script: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for hook in HOOKS:
        target = folder / hook
        target.unlink(missing_ok=True)
        target.write_text(f'#!/bin/sh\nexec "{script}" "$@"\n')
        target.chmod(0o755)


def ran(markers: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in markers.iterdir()} if markers.exists() else {}


def plain_git(root: Path, key: Key) -> None:
    """The control: git as a user's shell runs it, with the repository's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SSH_ASKPASS"))}
    env.pop("PAGER", None)
    command = ["git", *key.control]
    if key.control_tty:
        leader, follower = pty.openpty()
        try:
            subprocess.run(
                command, cwd=root, env=env, stdin=follower, stdout=follower, stderr=follower,
                timeout=30, check=False,
            )  # fmt: skip
        finally:
            os.close(leader)
            os.close(follower)
        return
    subprocess.run(
        command,
        cwd=root,
        env=env,
        input=(key.control_input or "").encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("key", KEYS, ids=[key.name for key in KEYS])
def test_tactful_review_runs_no_program_the_repository_configures(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str], key: Key
) -> None:
    markers = tmp_path / "ran"
    hostile_repository(workspace, tmp_path / "bin", markers, (key,))

    code = main(["review", str(workspace.root), "--format", "json"])
    capsys.readouterr()
    assert code in (0, 1, 2)
    assert ran(markers) == {}

    plain_git(workspace.root, key)
    assert ran(markers), f"the control did not run {key.name}'s program: the test proves nothing"


async def test_an_editor_session_runs_no_program_the_repository_configures(
    lsp: LanguageClient, workspace: Workspace, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    # Every key at once, but for the partial clone (its missing blob would stop the review
    # before blame and grep run).
    keys = tuple(k for k in KEYS if k.setup is not _partial_clone)
    markers = tmp_path / "ran"
    hostile_repository(workspace, tmp_path / "bin", markers, keys)
    fake_llm.default = Reply('{"comments": []}')
    options = {
        "llm": {"model": "openai/fake", "apiBase": fake_llm.url, "timeoutS": 20},
        "completion": {"engine": "llm", "debounceMs": 0},
        "workspace": {"trusted": True},
    }
    await lsp.initialize_session(init_params(workspace.root, options))
    lsp.initialized(types.InitializedParams())
    uri = workspace.uri("pkg/greet.py")
    open_document(lsp, uri, NEW)
    # Quality findings (ruff) and review comments on the changed lines arrive.
    await wait_for(lambda: {d.source for d in lsp.diagnostics.get(uri, [])} >= {
        "tactful.quality", "tactful.review"
    }, timeout=60)  # fmt: skip
    result = await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tactful.reviewChanges")
    )
    assert result["files"] >= 1
    lsp.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    # A completion asks the model with snippets retrieved from the workspace's files.
    deadline = time.monotonic() + 60
    while not any("senior engineer" not in prompt for prompt in fake_llm.prompts()):
        assert time.monotonic() < deadline, fake_llm.prompts()
        await lsp.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=6, character=4),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        )
    # Background work is done: the index (git ls-files) and, trusted, the coverage map made on
    # a copy of the workspace (git ls-files again).
    logged = lambda text: any(text in m.message for m in lsp.log_messages)  # noqa: E731
    await wait_for(lambda: logged("index ready") and logged("coverage map"), timeout=120)

    assert ran(markers) == {}
    # The control: the same repository, in plain git, runs the scripts.
    plain_git(workspace.root, KEYS[0])
    assert "core_fsmonitor" in ran(markers)


SOURCES = Path(__file__).resolve().parent.parent
RUNS_GIT = re.compile(r"""\[\s*["']git["']|\bgit\.(?:Repo|Git)\(|\bRepo\.(?:init|clone_from)\(""")


def test_git_runs_only_through_git_safety() -> None:
    """Every git process goes through analyzers/git_safety.py (run_git, open_repo)."""
    offenders = [
        f"{path.relative_to(SOURCES)}:{number}"
        for folder in ("analyzers", "suggestion", "feedback", "server")
        for path in sorted((SOURCES / folder).rglob("*.py"))
        if path.name != "git_safety.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if RUNS_GIT.search(line)
    ]
    assert offenders == []

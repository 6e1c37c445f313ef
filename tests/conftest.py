"""Shared fixtures: isolated user directories, real workspaces and git repositories, and a
language client driving ``tactful serve`` over real stdio (pytest-lsp)."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from fixtures.lsp import CONFIG, read_code_actions_as_sent
from fixtures.workspace import Workspace
from pytest_lsp import LanguageClient


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own config, data and cache directories (inherited by servers)."""
    base = tmp_path / "xdg"
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        folder = base / name.lower()
        folder.mkdir(parents=True)
        monkeypatch.setenv(f"XDG_{name}_HOME", str(folder))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return base


@pytest.fixture
def plain_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest without the plugins of this interpreter, which the sandboxed runs use: the
    plugins only slow them down (a module takes it with ``pytest.mark.usefixtures``)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """An empty git repository in a temp folder."""
    return Workspace(tmp_path / "project")


@pytest.fixture
def plain_folder(tmp_path: Path) -> Workspace:
    """A folder that is not a git repository."""
    return Workspace(tmp_path / "folder", git=False)


@pytest_lsp.fixture(config=CONFIG)
async def lsp(lsp_client: LanguageClient):
    """A started server; the test initializes it with ``init_params(root, options)``."""
    read_code_actions_as_sent(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def fake_llm():
    """A scripted OpenAI-compatible server on 127.0.0.1 (see tests/fixtures/fake_llm.py)."""
    from fixtures.fake_llm import FakeLLM

    server = FakeLLM()
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (see tests/fixtures/postgres.py)."""
    from fixtures.postgres import Postgres

    server = Postgres()
    yield server
    server.close()


@pytest.fixture
def team_url(postgres) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL (started again first if
    a fault test before left it stopped)."""
    postgres.start()
    return postgres.new_database()


@pytest.fixture
def feedback_loop(tmp_path: Path):
    """A feedback loop on a real store in a temp folder, without exploration: what its models
    would hide stays hidden, so a test knows what is shown."""
    from tactful.feedback.loop import FeedbackLoop, FilterOptions
    from tactful.feedback.store import FeedbackStore

    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    yield FeedbackLoop(store, FilterOptions(explore=0.0))
    store.close()

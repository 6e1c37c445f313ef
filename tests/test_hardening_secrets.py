"""Secrets never reach a model: the redactor's table of real secret forms (fake values in their
real shapes), what it must leave alone, files that lead out of the workspace, and the prompts a
model receives over a real editor session."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fixtures.fake_llm import FakeLLM, Reply
from fixtures.lsp import init_params, open_document
from fixtures.workspace import Workspace
from lsprotocol import types
from pytest_lsp import LanguageClient

from tactful.analyzers.index import source_files
from tactful.analyzers.secrets import (
    REDACTED,
    in_workspace,
    is_secret_path,
    redact,
    redact_around,
    workspace_files,
)

# (form, text as it appears in code or config, the secret values in it)
FORMS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "azure storage AccountKey",
        'conn = "DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey='
        "q5F3pZ8vXy2LmN0aB7cD9eF1gH3iJ5kL7mN9oP1qR3sT5uV7wX9yZ1aB3cD5eF7gH9iJ1kL3mN5oP7qR9sT1uV3w"
        '==;EndpointSuffix=core.windows.net"',
        ("q5F3pZ8vXy2LmN0aB7cD9eF1gH3iJ5kL7mN9oP1qR3sT5uV7wX9yZ1a",),
    ),
    (
        "azure SAS signature",
        'url = "https://acmeprod.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=sco&sp=rl'
        '&se=2025-01-01T00:00:00Z&spr=https&sig=Zx8%2Bq3LmN7pQrT5vW9yA1bC3dE5fG7hJ9kL1mN3pQ5r%3D"',
        ("Zx8%2Bq3LmN7pQrT5vW9yA1bC3dE5fG7hJ9kL1mN3pQ5r",),
    ),
    (
        "Bearer header",
        'headers = {"Authorization": "Bearer 9f8e7d6c5b4a39281726354a5b6c7d8e9f0a1b2c"}',
        ("9f8e7d6c5b4a39281726354a5b6c7d8e9f0a1b2c",),
    ),
    (
        "Basic header",
        'curl -H "Authorization: Basic YWRtaW46UzNjcjN0LVBhc3N3MHJk" https://api.example.com/v1',
        ("YWRtaW46UzNjcjN0LVBhc3N3MHJk",),
    ),
    (
        "requests auth=(user, password)",
        'r = requests.get(url, auth=("admin", "Tr0ub4dor&3x"))',
        ("Tr0ub4dor&3x",),
    ),
    ("DB_PASS assignment", 'DB_PASS = "n7Qw!x2Lp"', ("n7Qw!x2Lp",)),
    (
        "?token= in a URL",
        'resp = fetch("https://api.example.com/v2/export?format=csv&token='
        'a8f5f167f44f4964e6c998dee827110c")',
        ("a8f5f167f44f4964e6c998dee827110c",),
    ),
    (
        "SendGrid API key",
        'SENDGRID = "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"',
        ("ngeVfQFYQlKU0ufo8x5d1A", "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"),
    ),
    (
        "DigitalOcean token",
        'DO = "dop_v1_4f7c2b9e8a1d6f3c5b0e9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"',
        ("4f7c2b9e8a1d6f3c5b0e9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b",),
    ),
    (
        "mysql -p password",
        'os.system("mysql -u root -pHunter2Xy9 production < dump.sql")',
        ("Hunter2Xy9",),
    ),
    (
        ".pgpass line",
        "localhost:5432:*:postgres:trust\ndb.internal.example.com:5432:orders:app_user:Wq9!zL2#pR7t",
        ("Wq9!zL2#pR7t",),
    ),
    (
        "token split into joined literals",
        'API_TOKEN = "ghp_4xR9mT2vB7nQ8wL3" + "kP6jH1gF5dS0aZ9cVbNm"',
        ("ghp_4xR9mT2vB7nQ8wL3", "kP6jH1gF5dS0aZ9cVbNm"),
    ),
    (
        "password split into adjacent literals",
        'PASSWORD = ("S3cr3t-P4" "ssw0rd-2024")',
        ("S3cr3t-P4", "ssw0rd-2024"),
    ),
    ("AWS access key id", "aws_access_key_id = AKIAQ3EGRV7XJ5LMN2PD", ("AKIAQ3EGRV7XJ5LMN2PD",)),
    (
        "AWS secret access key",
        "aws_secret_access_key = 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",
        ("9drTJvcXLB89kPzQx7Lm2Nb3Vc4Xz5Aq6Sw8Ed1R",),
    ),
    (
        "GitHub personal access token",
        'token = "ghp_R8aPqL2mX9vN4tK7wB3cY6dF1hJ5gS0eZ2uI"',
        ("ghp_R8aPqL2mX9vN4tK7wB3cY6dF1hJ5gS0eZ2uI",),
    ),
    (
        "GitHub fine-grained token",
        "GH = github_pat_11ABCDEFG0aBcDeFgHiJkL_MnOpQrStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsTuV",
        ("github_pat_11ABCDEFG0aBcDeFgHiJkL_MnOpQrStUvWxYz0123456789",),
    ),
    (
        "Slack bot token",
        'SLACK = "xoxb-2415336783-4928152034871-Qz8RmT3vX7nB2wL5kP9jH4gF"',
        ("xoxb-2415336783-4928152034871-Qz8RmT3vX7nB2wL5kP9jH4gF",),
    ),
    (
        "Slack webhook",
        "post('https://hooks.slack.com/services/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')",
        ("B07QX9K3M2N/qW8eR7tY6uI5oP4aS3dF2gH1",),
    ),
    (
        "Stripe live key",
        'stripe.api_key = "sk_live_51H8xQ2LmN7pQrT5vW9yA1bC3dE5fG7hJ9k"',
        ("sk_live_51H8xQ2LmN7pQrT5vW9yA1bC3dE5fG7hJ9k",),
    ),
    (
        "JWT",
        "session = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MjQyIiwibmFtZSI6IkphbmUifQ"
        ".Qm5nZ2xS3vT7wX9yZ1aB3cD5eF7gH9iJ1kL3mN5oP7q'",
        ("eyJzdWIiOiI0MjQyIiwibmFtZSI6IkphbmUifQ", "Qm5nZ2xS3vT7wX9yZ1aB3cD5eF7gH9iJ1kL3mN5oP7q"),
    ),
    (
        "private key block",
        "-----BEGIN RSA PRIVATE KEY-----\n"
        "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
        "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
        "-----END RSA PRIVATE KEY-----",
        ("MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",),
    ),
    (
        "private key escaped in JSON (service account)",
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
        'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n"}',
        ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",),
    ),
    (
        "Google API key",
        'MAPS_KEY = "AIzaSyD4pQ8rT2vX6zB1nM5kL9jH3gF7dS0aW2e"',
        ("AIzaSyD4pQ8rT2vX6zB1nM5kL9jH3gF7dS0aW2e",),
    ),
    ("password= in a config file", "[db]\nhost=db1\npassword=Kj8#mQ2$vL\n", ("Kj8#mQ2$vL",)),
    (
        "user:password@ in a URL",
        'DATABASE_URL = "postgres://orders:Xk9mQ2pL7vR4@db.internal:5432/orders"',
        ("Xk9mQ2pL7vR4",),
    ),
    (
        "OpenAI project key",
        "OPENAI_API_KEY=sk-proj-Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7",
        ("Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7",),
    ),
    (
        "Anthropic key",
        'client = Anthropic(api_key="sk-ant-api03-Zq8RmT3vX7nB2wL5kP9jH4gFdS1aQ0eW")',
        ("Zq8RmT3vX7nB2wL5kP9jH4gFdS1aQ0eW",),
    ),
    (
        ".netrc line",
        "machine api.heroku.com login jane@example.com\n"
        "  password 7c3b5e9a-1d2f-4a6b-8c0e-9f1a2b3c4d5e",
        ("7c3b5e9a-1d2f-4a6b-8c0e-9f1a2b3c4d5e",),
    ),
    (
        "curl -u user:password",
        "curl -u deploy:Vz7pQ2mX9kL4 https://ci.example.com/api/build",
        ("Vz7pQ2mX9kL4",),
    ),
    (
        "Twilio API key",
        'TWILIO_KEY_SID = "SK2a8f5f167f44f4964e6c998dee827110"',
        ("SK2a8f5f167f44f4964e6c998dee827110",),
    ),
    (
        "npm token in .npmrc",
        "//registry.npmjs.org/:_authToken=npm_aB3cD5eF7gH9iJ1kL3mN5oP7qR9sT1uV3wX5y",
        ("npm_aB3cD5eF7gH9iJ1kL3mN5oP7qR9sT1uV3wX5y",),
    ),
    (
        "Hugging Face token",
        'login(token="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")',
        ("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",),
    ),
    (
        "Django SECRET_KEY",
        "SECRET_KEY = 'django-insecure-7x$k2q!m9v@p4l#w8z%r3t^y6u&i1o'",
        ("7x$k2q!m9v@p4l#w8z%r3t^y6u&i1o",),
    ),
    (
        "Azure AD client secret",
        'cred = ClientSecretCredential(tenant, app, "Xq58Q~aBcDeFgHiJkLmNoPqRsTuVwXyZ012345")',
        ("aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",),
    ),
    (
        "Telegram bot token",
        'bot = Bot("5812345678:AAHk9fQ2mX7vL4pR8tW3zB6nC1yD5gJ0eKs")',
        ("AAHk9fQ2mX7vL4pR8tW3zB6nC1yD5gJ0eKs",),
    ),
    (
        "Mailgun key",
        'requests.post(url, data=form, headers={"X-Key": "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"})',
        ("3ax6xnjp29jd6fds4gc373sgvjxteol0",),
    ),
    (
        "sshpass -p",
        "sshpass -p 'Dr0wssap!9' ssh deploy@build.example.com",
        ("Dr0wssap!9",),
    ),
    (
        "Password= in an ADO.NET connection string",
        'cs = "Server=tcp:db.example.com,1433;Database=orders;User ID=app;Password=Zx9!mQ2pL7;"',
        ("Zx9!mQ2pL7",),
    ),
    (
        "Docker registry auth",
        '{"auths": {"registry.example.com": {"auth": "ZGVwbG95OlZ6N3BRMm1YOWtMNA=="}}}',
        ("ZGVwbG95OlZ6N3BRMm1YOWtMNA==",),
    ),
]


@pytest.mark.parametrize(("text", "secrets"), [f[1:] for f in FORMS], ids=[f[0] for f in FORMS])
def test_redact_catches_every_form(text: str, secrets: tuple[str, ...]) -> None:
    redacted = redact(text)
    for secret in secrets:
        assert secret not in redacted, redacted
    assert REDACTED in redacted


def test_the_table_holds_at_least_25_forms() -> None:
    assert len(FORMS) >= 25


@pytest.mark.parametrize(
    "text",
    [
        'headers = {"Authorization": f"Bearer {self.token}"}',
        "Basic authentication is disabled for this endpoint",
        'url = f"{base}/export?token={token}"',
        "bypass_cache = compute_bypass(request)",
        'compass_heading = "north-north-west"',
        'password = input("Password: ")',
        'greeting = "Hello, " + "world"',
        'parts = ("alpha" "beta")',
        "os.system('mysql -u root -p production')",
        'token_type = "bearer"',
        "pass_rate = passed / total",
        "def login(user, password):\n    return session.post(url, auth=(user, password))",
        'db_url = "postgres://localhost:5432/orders"',
        "ratio = 3:2:1:0:5",
    ],
)
def test_redact_leaves_ordinary_code_alone(text: str) -> None:
    assert redact(text) == text


def test_a_secret_the_cursor_splits_goes_from_both_sides() -> None:
    before, after = redact_around('KEY = "AKIAQ3EGRV7X', 'J5LMN2PD"\nprint(KEY)\n')
    assert "AKIA" not in before and "J5LMN2PD" not in after
    assert before == f'KEY = "{REDACTED}' and after == f'{REDACTED}"\nprint(KEY)\n'
    assert redact_around("x = 1\n", "y = 2\n") == ("x = 1\n", "y = 2\n")


@pytest.fixture
def linked(workspace: Workspace, tmp_path: Path) -> Workspace:
    """A repository with a tracked link to a credentials file outside it, a link to a FIFO,
    and a link that stays inside."""
    outside = tmp_path / "home" / ".aws"
    outside.mkdir(parents=True)
    (outside / "credentials.py").write_text('AWS_SECRET = "CANARY-outside-the-workspace"\n')
    os.mkfifo(tmp_path / "home" / "pipe")
    workspace.write("app.py", "import os\n")
    (workspace.root / "creds.py").symlink_to(outside / "credentials.py")
    (workspace.root / "pipe.py").symlink_to(tmp_path / "home" / "pipe")
    (workspace.root / "alias.py").symlink_to(workspace.root / "app.py")
    workspace.commit("links")
    return workspace


def test_files_that_lead_out_of_the_workspace_are_never_listed_or_read(
    linked: Workspace,
) -> None:
    root = linked.root
    assert is_secret_path(root, root / "creds.py")
    assert is_secret_path(root, "creds.py")
    assert not is_secret_path(root, root / "app.py")
    assert not in_workspace(root, "creds.py") and not in_workspace(root, "pipe.py")
    assert in_workspace(root, "alias.py") and in_workspace(root, "app.py")
    listed = sorted(p.name for p in workspace_files(root))
    assert listed == ["alias.py", "app.py"]
    # alias.py is app.py again: learned once, under its own name.
    assert source_files(root) == ["app.py"]


def test_a_file_opened_from_elsewhere_is_judged_by_its_name(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    scratch = tmp_path / "scratch.py"
    scratch.write_text("x = 1\n")
    assert not is_secret_path(root, scratch)
    assert is_secret_path(root, tmp_path / ".env")


SECRETS_PY = "\n".join(text for _, text, _ in FORMS if "\n" not in text) + "\n"


def _every_secret() -> list[str]:
    return [secret for _, _, secrets in FORMS for secret in secrets]


async def test_no_prompt_holds_a_secret_or_a_file_outside_the_workspace(
    lsp: LanguageClient, workspace: Workspace, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    """Completion (with snippets retrieved from the workspace) and review (of a changed file
    full of secrets, with its callers) ask the model; none of their prompts holds a secret."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    canary = "CANARY-7f3e-outside"
    shape = "def connect_orders(host, port):\n    client = make_client(host, port)\n"
    (outside / "orders_client.py").write_text(shape + f'    return client.login("{canary}")\n')
    workspace.write("visible_client.py", shape + '    return client.login("VISIBLE-7f3e")\n')
    (workspace.root / "linked_client.py").symlink_to(outside / "orders_client.py")
    workspace.write("settings.py", "DEBUG = False\n")
    workspace.commit("start")
    workspace.write("settings.py", "DEBUG = False\n" + SECRETS_PY)
    fake_llm.default = Reply('{"comments": []}')
    options = {
        "llm": {"model": "openai/fake", "apiBase": fake_llm.url, "timeoutS": 20},
        "completion": {"engine": "llm", "debounceMs": 0},
    }
    await lsp.initialize_session(init_params(workspace.root, options))
    lsp.initialized(types.InitializedParams())

    result = await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tactful.reviewChanges")
    )
    assert result["files"] >= 1
    assert any("settings.py" in prompt for prompt in fake_llm.prompts())

    # The cursor's lines are like the workspace's clients (so retrieval shows one of them), and
    # the secrets follow the cursor.
    uri = workspace.uri("new_client.py")
    before = shape + "    return client."
    open_document(lsp, uri, before + "\n\n" + SECRETS_PY)
    lines = before.split("\n")
    deadline = time.monotonic() + 90
    while not any("VISIBLE-7f3e" in prompt for prompt in fake_llm.prompts()):
        assert time.monotonic() < deadline, fake_llm.prompts()[-1:]
        await lsp.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=len(lines) - 1, character=len(lines[-1])),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        )

    prompts = fake_llm.prompts()
    assert any("DB_PASS" in p for p in prompts)  # the code around the secrets was sent
    leaked = [s for s in [*_every_secret(), canary] if any(s in p for p in prompts)]
    assert leaked == []

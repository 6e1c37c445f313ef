"""Secrets never go into a prompt: which files are secret, and which strings are redacted."""

from __future__ import annotations

import pytest

from tactful.analyzers.secrets import REDACTED, is_secret_path, redact, workspace_files


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        (".env", True),
        (".env.production", True),
        ("config/.env.local", True),
        ("certs/server.pem", True),
        ("tls/private.key", True),
        ("id_rsa", True),
        ("keys/id_ed25519.pub", True),
        (".netrc", True),
        (".aws/credentials", True),
        ("home/.ssh/config", True),
        ("src/app.py", False),
        ("id_generator.py", False),
        ("docs/environment.md", False),
        ("keyboard.py", False),
    ],
)
def test_secret_file_names(workspace, path, secret):
    assert is_secret_path(workspace.root, path) is secret


def test_files_git_ignores_are_secret_and_never_listed(workspace):
    workspace.write(".gitignore", "local_settings.py\nbuild/\n")
    workspace.write("app.py", "x = 1\n")
    workspace.write("local_settings.py", "DB = 'prod'\n")
    workspace.write("build/out.py", "y = 2\n")
    workspace.write(".env", "TOKEN=abc\n")
    workspace.commit("init")
    workspace.write("new_module.py", "z = 3\n")

    assert is_secret_path(workspace.root, workspace.root / "local_settings.py")
    assert is_secret_path(workspace.root, "build/out.py")
    assert not is_secret_path(workspace.root, workspace.root / "app.py")
    assert not is_secret_path(workspace.root, "new_module.py")  # untracked but not ignored
    listed = {
        p.relative_to(workspace.root.resolve()).as_posix() for p in workspace_files(workspace.root)
    }
    assert listed == {".gitignore", "app.py", "new_module.py"}


def test_outside_git_only_names_decide(plain_folder):
    plain_folder.write("main.py", "x = 1\n")
    plain_folder.write(".env", "A=1\n")
    plain_folder.write(".venv/lib/site.py", "y = 2\n")
    assert is_secret_path(plain_folder.root, ".env")
    assert not is_secret_path(plain_folder.root, "main.py")
    names = [p.name for p in workspace_files(plain_folder.root)]
    assert names == ["main.py"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"', "AKIAIOSFODNN7EXAMPLE"),
        ('aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "wJalrXUtnFEMI/K7MDENG"),
        (
            "auth = 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789'",
            "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        ),
        ("GITLAB = 'glpat-abcdefghij0123456789'", "glpat-abcdefghij0123456789"),
        ('client = OpenAI(api_key="sk-proj-abcdefghijklmnopqrstuvwx1234")', "sk-proj-abcdefghij"),
        ('hook = "xoxb-123456789012-abcdefghijkl"', "xoxb-123456789012"),
        (
            "t = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3'",
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
            "-----END OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAAA",
        ),
        ("PASSWORD=hunter2secret", "hunter2secret"),
        ('db = "postgres://admin:s3cr3tP4ss@db.example.com/app"', "s3cr3tP4ss"),
        ('{"apiKey": "AbC123dEf456GhI789jKl"}', "AbC123dEf456GhI789jKl"),
    ],
)
def test_redact_removes_keys_and_tokens(text, secret):
    redacted = redact(text)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    "text",
    [
        "token = self.next_token()",
        "password = get_password(user)",
        'api_key: "${API_KEY}"',
        'token_type = "bearer"',
        'password = "changeme"',
        "secret_sauce = compute(1, 2)",
        "def authenticate(user, password):\n    return check(password)",
        "keys = sorted(mapping.keys())",
    ],
)
def test_redact_leaves_code_alone(text):
    assert redact(text) == text


def test_redact_keeps_the_code_around_a_secret():
    text = 'import os\nKEY = "AKIAIOSFODNN7EXAMPLE"\nprint(KEY)\n'
    assert redact(text) == f'import os\nKEY = "{REDACTED}"\nprint(KEY)\n'

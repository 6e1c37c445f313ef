"""What may never be sent to a model: secret files, ignored files, and strings that look like keys.

Boundary: every prompt builder (completion, review, fixes) passes each file it reads through
``is_secret_path`` and each text it sends through ``redact``. This module only reads file names
and asks git which files it ignores; it never reads a file's content and never raises. The name
rules always apply; where git cannot answer (no git, not a work tree) they alone decide.

Files excluded: ``.env*``, ``*.pem``, ``*.key``, ``id_*`` (SSH keys), ``.netrc``, anything under
``.aws/``, ``.ssh/``, ``.gnupg/`` or ``.git/``, a few other credential stores, and anything git
ignores (an ignored file is where a project keeps what must not be shared).

Strings redacted: AWS access key ids, GitHub/GitLab/Slack/OpenAI/Anthropic/Google/Stripe-style
tokens, JWTs, private key blocks, passwords in URLs, and high-entropy values assigned to names like
``password``, ``secret``, ``token`` or ``api_key``.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path, PurePath

from tactful.analyzers.git_safety import run_git

logger = logging.getLogger(__name__)

REDACTED = "<REDACTED>"

_SECRET_NAMES = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".htpasswd",
    "credentials",
    "credentials.json",
    "*.tfstate",
    "*.tfvars",
)
_SECRET_DIRS = frozenset({".aws", ".ssh", ".gnupg", ".git", ".docker", ".kube"})
# ``id_*`` is where SSH keys live (id_rsa, id_ed25519.pub); a source file that happens to start
# with ``id_`` (id_generator.py) is code, not a key.
_CODE_SUFFIXES = frozenset(
    (
        *(".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".rs", ".java"),
        *(".c", ".h", ".cc", ".cpp", ".hpp", ".rb", ".md", ".txt", ".json", ".toml", ".yaml"),
        *(".yml", ".html", ".css"),
    )
)


def is_secret_name(path: str | PurePath) -> bool:
    """True when a path's name or one of its folders marks it as a secret, whatever git says."""
    pure = PurePath(path)
    if any(part in _SECRET_DIRS for part in pure.parts[:-1]):
        return True
    name = pure.name
    if not name:
        return False
    lowered = name.lower()
    if any(fnmatch.fnmatchcase(lowered, pattern) for pattern in _SECRET_NAMES):
        return True
    return lowered.startswith("id_") and pure.suffix.lower() not in _CODE_SUFFIXES


class _IgnoreCache:
    """Which files git ignores under a root, asked once per root and refreshed every few seconds.

    One ``git ls-files`` per root lists the files that are *not* ignored (tracked, or untracked and
    not excluded); anything else under the root is ignored. A root that is not a git work tree has
    no ignore rules.
    """

    TTL_S = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[float, frozenset[str] | None]] = {}

    def visible(self, root: Path) -> frozenset[str] | None:
        """Relative POSIX paths git does not ignore, or None when git cannot say."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(root)
            if entry is not None and now - entry[0] < self.TTL_S:
                return entry[1]
        listed = _git_visible_files(root)
        with self._lock:
            self._entries[root] = (time.monotonic(), listed)
        return listed


def _git_visible_files(root: Path) -> frozenset[str] | None:
    try:
        completed = run_git(
            root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", timeout=10
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("git ls-files failed in %s: %s", root, exc)
        return None
    if completed.returncode != 0:
        return None
    names = completed.stdout.decode("utf-8", "surrogateescape").split("\0")
    return frozenset(name for name in names if name)


_IGNORED = _IgnoreCache()


def _relative(root: Path, path: str | Path) -> PurePath | None:
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        return candidate.resolve(strict=False).relative_to(root)
    except (ValueError, OSError):
        return None


def is_secret_path(root: str | Path | None, path: str | Path) -> bool:
    """True when the file at ``path`` must never be read into a prompt.

    ``root`` is the workspace root (a git work tree or not; None when unknown). A path outside the
    root is judged by its name alone.
    """
    if is_secret_name(path):
        return True
    if root is None:
        return False
    root_path = Path(root).resolve(strict=False)
    relative = _relative(root_path, path)
    if relative is None:
        return False
    if is_secret_name(relative):
        return True
    visible = _IGNORED.visible(root_path)
    if visible is None or relative.as_posix() in visible:
        return False
    # Not listed: ignored, or newer than the listing (a file just created, an unsaved buffer).
    return _git_ignores(root_path, relative.as_posix())


def _git_ignores(root: Path, relative: str) -> bool:
    try:
        completed = run_git(root, "check-ignore", "-q", "--", relative, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("git check-ignore failed in %s: %s", root, exc)
        return False
    return completed.returncode == 0


def workspace_files(root: str | Path) -> list[Path]:
    """Files under ``root`` a prompt may quote: not ignored by git and not secret, sorted.

    Outside a git work tree every file that is not secret by name is listed, skipping hidden
    folders and the usual build and environment folders.
    """
    root_path = Path(root).resolve(strict=False)
    visible = _IGNORED.visible(root_path)
    if visible is not None:
        names = sorted(visible)
        return [root_path / name for name in names if not is_secret_name(name)]
    found: list[Path] = []
    skip = {"node_modules", "__pycache__", "build", "dist", "venv", "target"}
    try:
        for path in sorted(root_path.rglob("*")):
            relative = path.relative_to(root_path)
            if any(part.startswith(".") or part in skip for part in relative.parts[:-1]):
                continue
            if path.is_file() and not is_secret_name(relative):
                found.append(path)
    except OSError as exc:
        logger.debug("could not list %s: %s", root_path, exc)
    return found


# --- strings -------------------------------------------------------------------------------------

_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_TOKENS = re.compile(
    "|".join(
        (
            r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",  # AWS key ids
            r"\bgh[pousr]_[A-Za-z0-9]{30,255}\b",  # GitHub tokens
            r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b",
            r"\bglpat-[A-Za-z0-9_\-]{20,}",  # GitLab
            r"\bgl(?:dt|ptt|rt|cbt|soat|ffct|agent|imt)-[A-Za-z0-9_\-]{20,}",
            r"\bxox[abposre]-[A-Za-z0-9-]{10,}",  # Slack
            r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+",
            r"\bsk-(?:proj-|ant-|live-|svcacct-)?[A-Za-z0-9_\-]{20,}",  # OpenAI, Anthropic
            r"\bAIza[0-9A-Za-z_\-]{35}",  # Google API keys
            r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}",  # Stripe
            r"\bhf_[A-Za-z0-9]{30,}",  # Hugging Face
            r"\bnpm_[A-Za-z0-9]{36}\b",
            r"\bpypi-[A-Za-z0-9_\-]{50,}",
            r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWTs
        )
    )
)
# user:password@ in a URL: the password goes, the rest stays readable.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@'\"]+:)[^@\s/'\"]+(?=@)")
_SECRET_WORDS = (
    r"passw(?:or)?d|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|auth[_\-]?key"
    r"|private[_\-]?key|client[_\-]?secret|credentials?|session[_\-]?key|signing[_\-]?key|salt"
)
# NAME = "value", NAME: 'value', "NAME": "value", NAME=value (env and ini files).
_ASSIGNMENT = re.compile(
    r"(?P<name>[A-Za-z_][\w.\-]*(?:" + _SECRET_WORDS + r")[\w.\-]*|(?:" + _SECRET_WORDS + r"))"
    r"(?P<close>['\"]?)\s*(?P<op>:=|=|:|=>)\s*"
    r"(?:(?P<quote>['\"`])(?P<quoted>[^'\"`\n]{6,})(?P=quote)|(?P<bare>[A-Za-z0-9+/=_\-.~!@#$%^&*]{12,})(?=\s|$|[,;]))",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"^(?:x+|\*+|\.+|<[^>]*>|\$\{?[\w.]+\}?|%\(?\w+\)?s?|\{\{?[^}]*\}\}?|changeme|example\w*|dummy\w*"
    r"|placeholder|your[_\-\w]*|none|null|true|false|redacted)$",
    re.IGNORECASE,
)


def _entropy(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def looks_secret(value: str, *, password_like: bool = False) -> bool:
    """True when a value assigned to a secret-sounding name is likely a real secret.

    Placeholders (``xxx``, ``<token>``, ``${TOKEN}``, ``changeme``) and values that read like code
    (a dotted call, a path, words with spaces) are not; short passwords are, when the name says so.
    """
    if _PLACEHOLDER.match(value) or REDACTED in value:
        return False
    if " " in value or "(" in value or value.startswith(("/", "./", "http://", "https://")):
        return False
    if password_like and len(value) >= 6:
        return True
    if len(value) < 12:
        return False
    classes = sum(
        bool(re.search(pattern, value))
        for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    return _entropy(value) >= 3.0 and classes >= 2


def _replace_assignment(match: re.Match[str]) -> str:
    value = match.group("quoted") or match.group("bare") or ""
    name = match.group("name").lower()
    password_like = bool(re.search(r"passw(?:or)?d|passwd|pwd|secret", name))
    if not looks_secret(value, password_like=password_like):
        return match.group(0)
    start, end = match.span("quoted") if match.group("quoted") else match.span("bare")
    whole_start = match.start()
    text = match.group(0)
    return text[: start - whole_start] + REDACTED + text[end - whole_start :]


def redact(text: str) -> str:
    """``text`` with every string that looks like a key, token or password replaced by a marker.

    Private key blocks go whole; tokens with a known shape go wherever they appear; values
    assigned to secret-sounding names go when they look like secrets. The rest of the text is
    left exactly as it was, so the model still sees the code's shape.
    """
    if not text:
        return text
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _TOKENS.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    return _ASSIGNMENT.sub(_replace_assignment, text)

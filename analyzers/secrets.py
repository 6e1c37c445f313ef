"""What may never be sent to a model: secret files, ignored files, and strings that look like keys.

Boundary: every prompt builder (completion, review, fixes) passes each file it reads through
``is_secret_path`` and each text it sends through ``redact``; the index and retrieval read only
what ``workspace_files`` / ``in_workspace`` allow. This module only reads file names and asks
git which files it ignores; it never reads a file's content and never raises. The name rules
always apply; where git cannot answer (no git, not a work tree) they alone decide.

Files excluded: ``.env*``, ``*.pem``, ``*.key``, ``id_*`` (SSH keys), ``.netrc``, anything under
``.aws/``, ``.ssh/``, ``.gnupg/`` or ``.git/``, a few other credential stores, anything git
ignores (an ignored file is where a project keeps what must not be shared), and any path of the
workspace that leads out of it once links are followed (a tracked link to ``~/.aws/credentials``
is a file of the repository by name only) or to something that is not a regular file.

Strings redacted (``redact``; the forms are listed with the detectors below): private key blocks;
tokens with a known shape (AWS, GitHub, GitLab, Slack, OpenAI, Anthropic, Google, Stripe,
SendGrid, DigitalOcean, Twilio, Mailgun, Shopify, Telegram, Azure AD, npm, PyPI, Hugging Face,
JWTs); values after a marker (``Bearer``/``Basic`` headers, ``AccountKey=`` and SAS ``sig=``,
``?token=`` in URLs, ``user:password@``, ``auth=(user, password)``, ``mysql -p…``,
``curl -u``, ``.netrc`` and ``.pgpass`` lines, ``Password=`` in connection strings); values
assigned to names like ``password``, ``DB_PASS``, ``secret``, ``token`` or ``api_key`` when they
look like secrets, also when split into several joined literals.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import os
import re
import stat
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


def in_workspace(root: str | Path, path: str | Path) -> bool:
    """True when ``path`` is a regular file inside ``root`` once every link is followed: what
    tactful may read of a workspace. A link out of it, a folder, a FIFO or a device is not."""
    root_path = Path(os.path.realpath(root))
    candidate = Path(path) if Path(path).is_absolute() else Path(root) / path
    real = Path(os.path.realpath(candidate))
    if not real.is_relative_to(root_path):
        return False
    try:
        return stat.S_ISREG(real.stat().st_mode)
    except OSError:
        return False


def _lexically_inside(root: str | Path, path: str | Path) -> bool:
    candidate = Path(path) if Path(path).is_absolute() else Path(root) / path
    normal = Path(os.path.normpath(os.path.abspath(candidate)))
    return any(
        normal.is_relative_to(base)
        for base in (Path(os.path.normpath(os.path.abspath(root))), Path(os.path.realpath(root)))
    )


def is_secret_path(root: str | Path | None, path: str | Path) -> bool:
    """True when the file at ``path`` must never be read into a prompt.

    ``root`` is the workspace root (a git work tree or not; None when unknown). A path of the
    workspace that leads out of it once links are followed is secret: it may be any file of the
    machine. A path outside the root (a file the editor opened from elsewhere) is judged by its
    name alone.
    """
    if is_secret_name(path):
        return True
    if root is None:
        return False
    root_path = Path(root).resolve(strict=False)
    relative = _relative(root_path, path)
    if relative is None:
        return _lexically_inside(root, path)
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
        return [
            root_path / name
            for name in names
            if not is_secret_name(name) and in_workspace(root_path, root_path / name)
        ]
    found: list[Path] = []
    skip = {"node_modules", "__pycache__", "build", "dist", "venv", "target"}
    try:
        for folder, dirs, files in os.walk(root_path):  # never into linked folders
            relative_folder = Path(folder).relative_to(root_path)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in skip)
            for name in sorted(files):
                path = Path(folder) / name
                if not is_secret_name(relative_folder / name) and in_workspace(root_path, path):
                    found.append(path)
    except OSError as exc:
        logger.debug("could not list %s: %s", root_path, exc)
    return found


# --- strings -------------------------------------------------------------------------------------
#
# Each detector finds the *spans* of secret values in a text; ``redact`` replaces the merged
# spans, so one pass sees the original text whatever the order of detectors, and the text around
# a secret (its name, the quotes, the rest of a URL) stays as it was.

_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
# Each regular expression runs only when one of its hints (plain substrings, looked for in the
# text as is, or lowered for the case-blind ones) is in the text: a text without ``AKIA`` cannot
# hold an AWS key id, and ``in`` costs microseconds where a regular expression over a prompt
# costs a millisecond.
# A pattern that starts with ``\b`` is compiled without it and its matches checked instead: a
# leading ``\b`` stops the regular expression engine from scanning for the literal prefix, which
# costs ten times as much.
_Hinted = tuple[tuple[str, ...], "re.Pattern[str]", bool]


def _hinted(rows: tuple[tuple[tuple[str, ...], str, int], ...]) -> tuple[_Hinted, ...]:
    return tuple(
        (hints, re.compile(pattern.removeprefix(r"\b"), flags), pattern.startswith(r"\b"))
        for hints, pattern, flags in rows
    )


# Tokens whose shape alone says what they are, wherever they appear (hints: case as written).
_AWS = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")
_GITLAB = tuple(
    f"gl{kind}-" for kind in ("pat", "dt", "ptt", "rt", "cbt", "soat", "ffct", "agent", "imt")
)
_TOKEN_ROWS: tuple[tuple[tuple[str, ...], str, int], ...] = (
    (_AWS, r"\b(?:" + "|".join(_AWS) + r")[0-9A-Z]{16}\b", 0),  # AWS key ids
    (
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        r"\bgh[pousr]_[A-Za-z0-9]{30,255}\b",
        0,
    ),  # GitHub tokens
    (("github_pat_",), r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b", 0),
    (_GITLAB, r"\bgl(?:pat|dt|ptt|rt|cbt|soat|ffct|agent|imt)-[A-Za-z0-9_\-]{20,}", 0),  # GitLab
    (("xox",), r"\bxox[abposre]-[A-Za-z0-9-]{10,}", 0),  # Slack
    (("hooks.slack.com",), r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+", 0),
    (("sk-",), r"\bsk-(?:proj-|ant-|live-|svcacct-)?[A-Za-z0-9_\-]{20,}", 0),  # OpenAI, Anthropic
    (("AIza",), r"\bAIza[0-9A-Za-z_\-]{35}", 0),  # Google API keys
    (("GOCSPX-",), r"\bGOCSPX-[A-Za-z0-9_\-]{28}", 0),  # Google OAuth client secrets
    (("_live_", "_test_"), r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}", 0),  # Stripe
    (("whsec_",), r"\bwhsec_[A-Za-z0-9+/=]{24,}", 0),  # Stripe webhook secrets
    (("hf_",), r"\bhf_[A-Za-z0-9]{30,}", 0),  # Hugging Face
    (("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b", 0),
    (("pypi-",), r"\bpypi-[A-Za-z0-9_\-]{50,}", 0),
    (("SG.",), r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b", 0),  # SendGrid
    (("_v1_",), r"\bdo[opr]_v1_[a-f0-9]{64}\b", 0),  # DigitalOcean
    (("SK",), r"\bSK[0-9a-fA-F]{32}\b", 0),  # Twilio API keys
    (("key-",), r"\bkey-[0-9a-zA-Z]{32}\b", 0),  # Mailgun
    (("shp",), r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", 0),  # Shopify
    ((":AA",), r"\b\d{8,10}:AA[0-9A-Za-z_\-]{33}\b", 0),  # Telegram bots
    (("Q~",), r"[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}", 0),  # Azure AD client secrets
    (("eyJ",), r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", 0),  # JWTs
)
_TOKENS = _hinted(_TOKEN_ROWS)
# Values after a marker that says what follows is secret: group "value" is the secret
# (hints: lowered).
_MARKED = _hinted(
    (
        # user:password@ in a URL: the password goes, the rest stays readable.
        (("://",), r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@'\"]+:(?P<value>[^@\s/'\"]+)(?=@)", 0),
        # Azure and other connection strings: AccountKey=…; SharedAccessKey=…;
        (
            ("accountkey", "sharedaccess", "sharedsecret"),
            r"\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|SharedSecretValue)"
            r"\s*=\s*(?P<value>[^;'\"\s]{4,})",
            re.IGNORECASE,
        ),
        # ...; Password=…; in ADO.NET and ODBC connection strings
        (
            ("password=", "pwd="),
            r"(?:;|^|['\"])\s*(?:Password|Pwd)=(?P<value>[^;'\"\n]{3,})",
            re.IGNORECASE | re.MULTILINE,
        ),
        # Secrets in a URL's query: ?token=…, &sig=… (Azure SAS), ?api_key=…
        (
            ("token=", "key=", "sig=", "signature=", "secret=", "pass", "pwd=", "auth="),
            r"[?&](?:access_?token|token|api_?key|apikey|sig|signature|secret|"
            r"client_secret|password|passwd|pwd|auth)=(?P<value>[^&\s'\"#<>]{8,})",
            re.IGNORECASE,
        ),
        # requests' auth=("user", "password") and HTTPBasicAuth("user", "password")
        (
            ("auth",),
            r"(?:\bauth\s*=\s*\(|\bHTTP(?:Basic|Digest)Auth\()\s*(['\"])[^'\"\n]*\1\s*,\s*"
            r"(['\"])(?P<value>[^'\"\n]{3,})\2",
            0,
        ),
        # mysql -pPASSWORD (no space: a space would make it a prompt)
        (
            ("mysql", "mariadb"),
            r"\b(?:mysql|mysqldump|mysqladmin|mariadb|mysqlimport)\b[^\n]*?\s-p"
            r"(?P<q>['\"]?)(?P<value>[^\s'\"]+)(?P=q)",
            0,
        ),
        # curl -u user:password, --user user:password
        (
            ("-u ", "-u\t", "-u=", "--user"),
            r"(?:\s-u|--user)[ \t=]+(['\"]?)[^\s:'\"]+:(?P<value>[^\s'\"]+)\1",
            0,
        ),
        # sshpass -p password
        (("sshpass",), r"\bsshpass\s+-p\s*(['\"]?)(?P<value>[^\s'\"]+)\1", 0),
        # .netrc: machine host login user password secret
        (("machine",), r"\bmachine\s+\S+\s+login\s+\S+\s+password\s+(?P<value>\S+)", 0),
        # .pgpass: host:port:database:user:password
        ((":",), r"^[^:\s#]+:(?:\d+|\*):[^:\s]+:[^:\s]+:(?P<value>\S+)$", re.MULTILINE),
    )
)
# NAME = "value", NAME: 'value', "NAME": "value", NAME=value (env and ini files); whether NAME
# speaks of a secret is ``_name_kind``'s call. Run only over lines with a hint.
_ASSIGNMENT = re.compile(
    r"(?<![\w.\-])(?P<name>[A-Za-z_][\w.\-]*)"
    r"['\"]?\s*(?::=|=|:|=>)\s*"
    r"(?:(?P<quote>['\"`])(?P<quoted>[^'\"`\n]{4,})(?P=quote)"
    r"|(?P<bare>[A-Za-z0-9+/=_\-.~!@#$%^&*]{6,})(?=\s|$|[,;]))",
)
_NAME_HINTS = ("pass", "pw", "secret", "token", "key", "auth", "credential", "salt")
# Two or more string literals joined by + or written side by side (one value split in pieces),
# and the name before them, if any.
_LITERAL = r"(?:\"[^\"\n]*\"|'[^'\n]*')"
_SPLIT = re.compile(_LITERAL + r"(?:\s*\+?\s*" + _LITERAL + r")+")
_SPLIT_NAME = re.compile(r"(?<![\w.\-])(?P<name>[A-Za-z_][\w.\-]*)['\"]?\s*(?:[:=]\s*)?\(?\s*\Z")
_PIECE = re.compile(_LITERAL)
_PLACEHOLDER = re.compile(
    r"^(?:x+|\*+|\.+|<[^>]*>|\$\{?[\w.]+\}?|%\(?\w+\)?s?|\{\{?[^}]*\}\}?|changeme|example\w*|dummy\w*"
    r"|placeholder|your[_\-\w]*|none|null|true|false|redacted)$",
    re.IGNORECASE,
)
# Name parts that say the value is a password: short values are secret too.
_PASSWORD_PARTS = frozenset(
    {"password", "passwd", "pwd", "pass", "pw", "passphrase", "passcode", "secret"}
)
# Name parts that say the value is a credential of some other kind.
_SECRET_PARTS = frozenset({"token", "auth", "credential", "credentials", "salt", "apikey"})
_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


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
    if "{" in value and "}" in value:
        return False  # a template: f"Bearer {token}", "${SECRET}"
    if password_like and len(value) >= 6:
        return True
    if len(value) < 12:
        return False
    classes = sum(
        bool(re.search(pattern, value))
        for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    return _entropy(value) >= 3.0 and classes >= 2


def _name_kind(name: str) -> str | None:
    """``password`` or ``secret`` when a name says its value is one, else None (``bypass``,
    ``compass``, ``token_type``'s value is no secret)."""
    lowered = name.lower()
    parts = {p.lower() for p in _NAME_PARTS.findall(name)} | set(re.split(r"[_\-.]+", lowered))
    if parts & _PASSWORD_PARTS or re.search(r"passw(?:or)?d|passwd", lowered):
        return "password"
    if parts & {"type", "kind", "name", "url", "endpoint", "file", "path", "len", "length"}:
        return None
    if parts & _SECRET_PARTS or re.search(
        r"api[_\-]?key|access[_\-]?key|auth[_\-]?key|private[_\-]?key|client[_\-]?secret"
        r"|session[_\-]?key|signing[_\-]?key|secret|token",
        lowered,
    ):
        return "secret"
    return None


def _hits(rows: tuple[_Hinted, ...], text: str, lowered: str | None = None) -> list[re.Match[str]]:
    haystack = text if lowered is None else lowered
    return [
        match
        for hints, pattern, word_start in rows
        if any(hint in haystack for hint in hints)
        for match in pattern.finditer(text)
        if not (word_start and _word_before(text, match))
    ]


def _word_before(text: str, match: re.Match[str]) -> bool:
    """Whether the match begins inside a word (where ``\b`` would not have let it start)."""
    start = match.start()
    if start == 0:
        return False
    before, first = text[start - 1], text[start]
    return (before.isalnum() or before == "_") == (first.isalnum() or first == "_")


def _marked_spans(text: str, lowered: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _PRIVATE_KEY.finditer(text)] if "PRIVATE KEY" in text else []
    spans += [m.span() for m in _hits(_TOKENS, text)]
    for match in _hits(_MARKED, text, lowered):
        value = match.group("value")
        if _PLACEHOLDER.match(value) or "(" in value or ("{" in value and "}" in value):
            continue  # a placeholder, a call or a template, not a value
        spans.append(match.span("value"))
    return spans


# HTTP authorization: Bearer …, Basic …, Token … (prose says "Basic authentication": the value
# must look like a credential).
_AUTHORIZATION = re.compile(r"\b(?:Bearer|Basic|Token)[ \t]+(?P<value>[A-Za-z0-9\-._~+/]{12,}=*)")
_IDENTIFIER = re.compile(r"[a-z_]+|[A-Z_]+|[A-Za-z][a-z]+(?:[A-Z][a-z]+)*")


def _authorization_spans(text: str) -> list[tuple[int, int]]:
    if not any(word in text for word in ("Bearer", "Basic", "Token")):
        return []
    return [
        m.span("value") for m in _AUTHORIZATION.finditer(text) if looks_secret(m.group("value"))
    ]


def _hinted_lines(text: str, lowered: str, hints: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of every line that holds one of ``hints``, in order, each once."""
    starts: set[int] = set()
    for hint in hints:
        at = lowered.find(hint)
        while at >= 0:
            starts.add(text.rfind("\n", 0, at) + 1)
            at = lowered.find(hint, at + len(hint))
    lines = []
    for start in sorted(starts):
        end = text.find("\n", start)
        lines.append((start, len(text) if end < 0 else end))
    return lines


def _assignment_spans(text: str, lowered: str) -> list[tuple[int, int]]:
    spans = []
    for start, end in _hinted_lines(text, lowered, _NAME_HINTS):
        for match in _ASSIGNMENT.finditer(text, start, end):
            kind = _name_kind(match.group("name"))
            if kind is None:
                continue
            group = "quoted" if match.group("quoted") is not None else "bare"
            value = match.group(group)
            if group == "bare" and _IDENTIFIER.fullmatch(value):
                continue  # `pass_rate = passed`: unquoted, a plain name reads as code
            if looks_secret(value, password_like=kind == "password"):
                spans.append(match.span(group))
    return spans


def _split_spans(text: str) -> list[tuple[int, int]]:
    """Pieces of a value split into several literals: each piece goes when the joined value
    is a token, or is a secret assigned to a secret-sounding name."""
    spans = []
    for match in _SPLIT.finditer(text):
        pieces = list(_PIECE.finditer(text, match.start(), match.end()))
        joined = "".join(p.group(0)[1:-1] for p in pieces)
        named = _SPLIT_NAME.search(text, max(0, match.start() - 120), match.start())
        kind = _name_kind(named.group("name")) if named else None
        if not (
            _hits(_TOKENS, joined)
            or "PRIVATE KEY" in joined
            or (kind is not None and looks_secret(joined, password_like=kind == "password"))
        ):
            continue
        spans += [(p.start() + 1, p.end() - 1) for p in pieces if p.end() - p.start() > 2]
    return spans


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where the secrets of ``text`` are: sorted, merged (start, end) offsets."""
    if not text:
        return []
    lowered = text.lower()
    if len(lowered) != len(text):
        # A few letters lower to two (İ): keep offsets aligned with the text.
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    spans = sorted(
        _marked_spans(text, lowered)
        + _authorization_spans(text)
        + _assignment_spans(text, lowered)
        + _split_spans(text)
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def redact(text: str) -> str:
    """``text`` with every string that looks like a key, token or password replaced by a marker.

    Private key blocks go whole; tokens with a known shape go wherever they appear; values after
    a marker (``Bearer``, ``AccountKey=``, ``?token=``, ``-p``, ``user:password@``) and values
    assigned to secret-sounding names go when they look like secrets, also when written as
    several literals joined. The rest of the text is left exactly as it was, so the model still
    sees the code's shape.
    """
    spans = secret_spans(text)
    return _replace(text, spans) if spans else text


def redact_around(before: str, after: str) -> tuple[str, str]:
    """``before`` and ``after`` a cursor, each redacted as part of one text: a secret the
    cursor splits is found whole, and goes from both sides."""
    text = before + after
    cut = len(before)
    spans = secret_spans(text)
    if not spans:
        return before, after
    left: list[tuple[int, int]] = []
    right: list[tuple[int, int]] = []
    for start, end in spans:
        if start < cut:
            left.append((start, min(end, cut)))
        if end > cut:
            right.append((max(start, cut) - cut, end - cut))
    return _replace(before, left), _replace(after, right)


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out)

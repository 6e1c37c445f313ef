"""One ``ruff server`` for many texts (``RuffSession``): the same findings as ``ruff check`` on
each text, the project's configuration followed, and a changed configuration seen."""

from __future__ import annotations

import subprocess
import time

from tactful.analyzers import ruff
from tactful.analyzers.ruff import RuffSession

CONFIG = """
[tool.ruff]
extend-exclude = ["pkg/skipped.py"]

[tool.ruff.lint]
extend-select = ["B", "I", "UP"]
per-file-ignores = {"pkg/ignored.py" = ["F401"]}
"""

TEXTS = [
    "import os\nx = undefined\n",
    "import sys\nimport os\n\n\ndef f(x=[]):\n    return sys.argv\n",
    "def f(:\n    pass\nimport os\n",
    "s = 'é—ü'  ; import os\nt = \"\U0001f600\" + undefined_name\n",
    "from typing import List\n\n\ndef f(a: List[int]) -> None:\n    print(a)\n",
    "",
]


def _same(found, expected) -> bool:
    def rows(findings):
        return sorted((f.rule, f.span.start, f.span.end, f.path) for f in findings)

    return rows(found) == rows(expected)


def _project(tmp_path):
    (tmp_path / "pyproject.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_a_session_finds_what_ruff_check_finds(tmp_path) -> None:
    root = _project(tmp_path)
    session = RuffSession(root)
    try:
        for name in ("pkg/mod.py", "pkg/ignored.py", "pkg/skipped.py", "top.py"):
            found = session.check_texts(TEXTS, root / name)
            assert found is not None, name
            assert len(found) == len(TEXTS)
            for text, findings in zip(TEXTS, found, strict=True):
                expected = ruff.check_text(text, root / name, root)
                assert _same(findings, expected), (name, text)
        # The cases mean something: findings, ignored ones, excluded files, syntax errors.
        mod = session.check_texts(TEXTS[:3], "pkg/mod.py")
        assert mod is not None
        assert {"F401", "F821"} <= {f.rule for f in mod[0]}
        assert "B006" in {f.rule for f in mod[1]}
        assert ruff.SYNTAX_ERROR in {f.rule for f in mod[2]}
        ignored = session.check_texts(TEXTS[:1], "pkg/ignored.py")
        assert ignored is not None and "F401" not in {f.rule for f in ignored[0]}
        assert session.check_texts(TEXTS[:1], "pkg/skipped.py") == [[]]
    finally:
        session.close()


def test_a_changed_configuration_is_seen(tmp_path) -> None:
    root = _project(tmp_path)
    session = RuffSession(root)
    try:
        text = "def f(x=[]):\n    return x\n"
        first = session.check_texts([text], "pkg/mod.py")
        assert first is not None and "B006" in {f.rule for f in first[0]}
        time.sleep(0.01)
        (root / "pyproject.toml").write_text(
            CONFIG.replace("[tool.ruff.lint]\n", '[tool.ruff.lint]\nignore = ["B006"]\n'),
            encoding="utf-8",
        )
        second = session.check_texts([text], "pkg/mod.py")
        assert second is not None and "B006" not in {f.rule for f in second[0]}
        assert _same(second[0], ruff.check_text(text, root / "pkg/mod.py", root))
    finally:
        session.close()


def test_a_file_outside_the_root_is_not_checked_by_the_session(tmp_path) -> None:
    (tmp_path / "project").mkdir()
    root = _project(tmp_path / "project")
    session = RuffSession(root)
    try:
        assert session.check_texts(["x = 1\n"], tmp_path / "elsewhere.py") is None
    finally:
        session.close()


def test_a_session_that_died_is_started_again(tmp_path) -> None:
    root = _project(tmp_path)
    session = RuffSession(root)
    try:
        assert session.check_texts(["import os\n"], "pkg/mod.py") is not None
        process = session._process
        assert process is not None
        process.kill()
        process.wait()
        # The exchange with the dead process fails (None: the caller runs ruff check), and
        # the next one starts a new server.
        answers = [session.check_texts(["import os\n"], "pkg/mod.py") for _ in range(2)]
        assert answers[-1] is not None and "F401" in {f.rule for f in answers[-1][0]}
        assert session._process is not None and session._process is not process
    finally:
        session.close()
    assert session._process is None


def test_each_text_gets_its_own_findings(tmp_path) -> None:
    # Many texts in one exchange, each leaving a different name undefined: each answer is
    # the one of its text, not of the text opened before or after it.
    root = _project(tmp_path)
    texts = [
        "import os\n\n\ndef f():\n" + "    x = 1\n" * 400 + f"    return undefined_{n}\n"
        for n in range(40)
    ]
    session = RuffSession(root)
    try:
        found = session.check_texts(texts, "pkg/mod.py")
        assert found is not None
        for n, findings in enumerate(found):
            undefined = [f.message for f in findings if f.rule == "F821"]
            assert undefined == [f"Undefined name `undefined_{n}`"], (n, undefined)
    finally:
        session.close()

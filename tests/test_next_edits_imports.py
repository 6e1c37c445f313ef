"""Import follow-ups: the edit that removed an imported name's last use → that import goes."""

from __future__ import annotations

from fixtures.next_edits import applied, opened

from tactful.suggestion.next_edits import IMPORT

MOD = """\
import os
import sys
from shutil import copy, move, rmtree


def clean(path):
    rmtree(path)
    print(sys.argv, os.sep)


def place(a, b):
    move(a, b)
"""


def imports_proposed(current, path, cursor):
    return [item for item in current.proposed(path, cursor) if item.source == IMPORT]


def test_the_import_of_a_name_whose_last_use_was_removed_is_removed(tmp_path):
    current = opened(tmp_path, {"mod.py": MOD})
    cursor = current.edit("mod.py", "    print(sys.argv, os.sep)\n", "    print(os.sep)\n")
    (item,) = imports_proposed(current, "mod.py", cursor)
    assert item.label == "remove the unused import `sys`"
    assert applied(current.text("mod.py"), item).startswith("import os\nfrom shutil import")
    # It passes the checks (the file parses, ruff finds nothing new) and is shown.
    assert [shown.label for shown in current.suggested("mod.py", cursor)] == [item.label]


def test_a_name_among_others_is_taken_out_of_its_import_with_its_comma(tmp_path):
    current = opened(tmp_path, {"mod.py": MOD})
    cursor = current.edit("mod.py", "    move(a, b)\n", "    return a, b\n")
    (item,) = imports_proposed(current, "mod.py", cursor)
    assert "from shutil import copy, rmtree\n" in applied(current.text("mod.py"), item)
    # Not taken yet, it is still proposed beside the next one.
    cursor = current.edit("mod.py", "    rmtree(path)\n", "    del path\n")
    assert sorted(
        line
        for item in imports_proposed(current, "mod.py", cursor)
        for line in applied(current.text("mod.py"), item).splitlines()
        if line.startswith("from shutil")
    ) == ["from shutil import copy, move", "from shutil import copy, rmtree"]


def test_an_import_still_used_elsewhere_or_exported_stays(tmp_path):
    text = MOD + "\n\ndef again():\n    return sys.path\n"
    current = opened(tmp_path, {"mod.py": text, "pkg/__init__.py": MOD})
    cursor = current.edit("mod.py", "    print(sys.argv, os.sep)\n", "    print(os.sep)\n")
    assert imports_proposed(current, "mod.py", cursor) == []
    # A package's __init__ exports what it imports.
    cursor = current.edit("pkg/__init__.py", "    print(sys.argv, os.sep)\n", "    print(os.sep)\n")
    assert imports_proposed(current, "pkg/__init__.py", cursor) == []
    # A name listed in __all__ is exported too.
    exported = '__all__ = ["sys"]\n' + MOD
    current = opened(tmp_path / "other", {"mod.py": exported})
    cursor = current.edit("mod.py", "    print(sys.argv, os.sep)\n", "    print(os.sep)\n")
    assert imports_proposed(current, "mod.py", cursor) == []


def test_lines_cut_away_leave_their_imports_alone(tmp_path):
    # Cut to be pasted elsewhere, uses and all: the import will be needed again.
    current = opened(tmp_path, {"mod.py": MOD})
    cursor = current.edit("mod.py", "\n\ndef place(a, b):\n    move(a, b)\n", "")
    assert imports_proposed(current, "mod.py", cursor) == []


CORE = "class Context:\n    pass\n\n\nclass Group:\n    pass\n"
OTHER = """\
import os
import typing as t

from .core import Context


def run(ctx: Context) -> t.Any:
    return os.getcwd()
"""
USER = """\
import sys

from .core import Group


def main() -> None:
    print(sys.argv, Group)
"""


def test_a_name_used_before_its_import_gets_the_import_other_files_write(tmp_path):
    files = {"pkg/core.py": CORE, "pkg/other.py": OTHER, "pkg/user.py": USER}
    current = opened(tmp_path, files, ("pkg/user.py",))
    cursor = current.edit(
        "pkg/user.py", "    print(sys.argv, Group)\n", "    print(sys.argv, Group, Context())\n"
    )
    (item,) = imports_proposed(current, "pkg/user.py", cursor)
    assert item.label == "import `Context`: `from .core import Context`"
    # Joined to the import of the same module, where ruff's import sorting puts it.
    assert applied(current.text("pkg/user.py"), item).startswith(
        "import sys\n\nfrom .core import Context, Group\n\n\ndef main"
    )
    assert [shown.label for shown in current.suggested("pkg/user.py", cursor)] == [item.label]
    # A one-letter name (`import typing as t`, `_`) is left alone: too many things bind it.
    cursor = current.edit(
        "pkg/user.py", "    print(sys.argv", "    t.cast(int, 1)\n    print(sys.argv"
    )
    assert [i for i in imports_proposed(current, "pkg/user.py", cursor) if "`t`" in i.label] == []


def test_a_standard_module_used_before_its_import_is_imported(tmp_path):
    files = {"pkg/core.py": CORE, "pkg/user.py": USER}
    current = opened(tmp_path, files, ("pkg/user.py",))
    cursor = current.edit(
        "pkg/user.py", "    print(sys.argv", "    logging.info(1)\n    print(sys.argv"
    )
    (item,) = imports_proposed(current, "pkg/user.py", cursor)
    assert applied(current.text("pkg/user.py"), item).startswith(
        "import logging\nimport sys\n\nfrom .core import Group\n"
    )
    # A module the file imports already (at its top as `import os.path`, or in a function).
    for imported in ("import os.path\n", "def g():\n    import os\n\n\n"):
        again = opened(tmp_path, {**files, "pkg/user.py": imported + USER}, ("pkg/user.py",))
        cursor = again.edit(
            "pkg/user.py", "    print(sys.argv", "    logging.info(os.sep)\n    print(sys.argv"
        )
        assert [i.label for i in imports_proposed(again, "pkg/user.py", cursor)] == [
            "import `logging`: `import logging`"
        ]
    # A name that is no module of the standard library, or not used as one: nothing.
    cursor = current.edit("pkg/user.py", "    logging.info(1)\n", "    x = shutil\n")
    assert imports_proposed(current, "pkg/user.py", cursor) == []


def test_no_import_is_proposed_without_one_to_copy_or_a_sorted_block(tmp_path):
    files = {"pkg/core.py": CORE, "pkg/other.py": OTHER, "pkg/user.py": USER, "lib/far.py": OTHER}
    current = opened(tmp_path, files, ("pkg/user.py", "lib/far.py"))
    # Nothing in the workspace imports `Missing`.
    cursor = current.edit("pkg/user.py", "Group)\n", "Group, Missing)\n")
    assert imports_proposed(current, "pkg/user.py", cursor) == []
    # A relative import written in another package means another module.
    far = "import os\n\n\ndef far():\n    return os.sep\n"
    current = opened(tmp_path, {**files, "lib/far.py": far}, ("lib/far.py",))
    cursor = current.edit("lib/far.py", "    return os.sep\n", "    return os.sep, Context()\n")
    assert imports_proposed(current, "lib/far.py", cursor) == []
    # Imports that ruff would sort otherwise: where the line goes is not known.
    unsorted = USER.replace("import sys\n", "import sys\nimport abc\n")
    current = opened(tmp_path, {**files, "pkg/user.py": unsorted}, ("pkg/user.py",))
    cursor = current.edit("pkg/user.py", "Group)\n", "Group, Context())\n")
    assert imports_proposed(current, "pkg/user.py", cursor) == []


def test_the_first_import_of_its_section_comes_with_the_blank_line_that_opens_it(tmp_path):
    test_a = "import pytest\n\nfrom pkg.core import Group\n\n\ndef test_a():\n    assert Group\n"
    test_b = (
        "import sys\n\nfrom pkg.core import Group\n\n\ndef test_b():\n    print(sys.argv, Group)\n"
    )
    files = {"pkg/__init__.py": "", "pkg/core.py": CORE, "test_a.py": test_a, "test_b.py": test_b}
    current = opened(tmp_path, files, ("test_b.py",))
    cursor = current.edit("test_b.py", "def test_b():", "@pytest.mark.slow\ndef test_b():")
    (item,) = imports_proposed(current, "test_b.py", cursor)
    assert item.label == "import `pytest`: `import pytest`"
    # A third-party import between the standard library's and the project's: a section of
    # its own, as ruff's import sorting (and the developer) writes it.
    assert applied(current.text("test_b.py"), item).startswith(
        "import sys\n\nimport pytest\n\nfrom pkg.core import Group\n\n\n@pytest.mark.slow\n"
    )
    assert [shown.label for shown in current.suggested("test_b.py", cursor)] == [item.label]


def test_in_a_block_of_another_style_an_import_goes_where_it_sorts_among_its_section(tmp_path):
    # One name per line, as the file was written before the project's ruff configuration
    # asked for another style: ruff would rewrite the whole block, so it cannot place the line.
    user = (
        "import os\nimport sys\n\nfrom .core import Context\nfrom .core import Group\n\n\n"
        "def main() -> None:\n    print(sys.argv, os.sep, Group, Context)\n"
    )
    files = {"pkg/core.py": CORE, "pkg/user.py": user}
    current = opened(tmp_path, files, ("pkg/user.py",))
    cursor = current.edit(
        "pkg/user.py", "    print(sys.argv", "    logging.info(1)\n    print(sys.argv"
    )
    (item,) = imports_proposed(current, "pkg/user.py", cursor)
    assert item.label == "import `logging`: `import logging`"
    assert item.feature("beside_its_kind") == 1.0
    assert applied(current.text("pkg/user.py"), item).startswith(
        "import logging\nimport os\nimport sys\n\nfrom .core import Context\n"
    )
    cursor = current.edit("pkg/user.py", "    logging.info(1)\n", "    print(re.escape('.'))\n")
    (item,) = imports_proposed(current, "pkg/user.py", cursor)
    assert applied(current.text("pkg/user.py"), item).startswith(
        "import os\nimport re\nimport sys\n"
    )
    # A section that is not sorted itself: where the line goes is not known.
    unsorted = user.replace("import os\nimport sys\n", "import sys\nimport os\n")
    current = opened(tmp_path, {**files, "pkg/user.py": unsorted}, ("pkg/user.py",))
    cursor = current.edit(
        "pkg/user.py", "    print(sys.argv", "    logging.info(1)\n    print(sys.argv"
    )
    assert imports_proposed(current, "pkg/user.py", cursor) == []

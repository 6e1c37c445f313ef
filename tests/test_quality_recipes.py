"""Fix recipes and syntax repairs, judged by the real ruff: the finding goes, nothing new comes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tactful.analyzers.ruff import RuffOptions, check_text
from tactful.suggestion.fixes import (
    Rejection,
    alternatives,
    candidates,
    rank,
    recipes,
    screen,
)

SELECT = (
    "E",
    "F",
    "B",
    "UP",
    "SIM",
    "PERF",
    "RUF",
    "S110",
    "BLE001",
    "TRY004",
    "PLC0205",
    "I",
    "PYI034",
    "PYI063",
    "PLW0602",
    "TRY002",
    "TRY203",
)


def fixed(
    tmp_path: Path, source: str, rule: str, select=SELECT, propose=candidates, path="mod.py"
) -> str:
    """The text after the best surviving non-LLM fix for the first ``rule`` finding."""
    source = textwrap.dedent(source)
    options = RuffOptions(select=select)
    before = check_text(source, path, tmp_path, options)
    finding = next(f for f in before if f.rule == rule)
    outcomes = [
        screen(fix, finding, source, tmp_path, before, options) for fix in propose(finding, source)
    ]
    survivors = [o for o in outcomes if not isinstance(o, Rejection)]
    assert survivors, [o.reason for o in outcomes if isinstance(o, Rejection)]
    return rank(survivors)[0].text


@pytest.mark.parametrize(
    ("rule", "source", "expected"),
    [
        (
            "B904",
            """
            def f(d):
                try:
                    return d["k"]
                except KeyError:
                    raise ValueError("missing")
            """,
            """
            def f(d):
                try:
                    return d["k"]
                except KeyError as err:
                    raise ValueError("missing") from err
            """,
        ),
        (
            "B904",
            """
            def f(d):
                try:
                    return d["k"]
                except KeyError as exc:
                    if d:
                        raise ValueError("missing")
                    return None
            """,
            """
            def f(d):
                try:
                    return d["k"]
                except KeyError as exc:
                    if d:
                        raise ValueError("missing") from exc
                    return None
            """,
        ),
        (
            "E741",
            """
            def total(rows):
                l = 0
                for row in rows:
                    l += len(row)
                return l
            """,
            """
            def total(rows):
                length = 0
                for row in rows:
                    length += len(row)
                return length
            """,
        ),
        (
            "E741",
            """
            def show(rows):
                for l in rows:
                    print(l.strip(), end=l)
            """,
            """
            def show(rows):
                for item in rows:
                    print(item.strip(), end=item)
            """,
        ),
        (
            "B006",
            '''
            def add(item, seen: list = []):
                """Add it."""
                seen.append(item)
                return seen
            ''',
            '''
            def add(item, seen: list | None = None):
                """Add it."""
                if seen is None:
                    seen = []
                seen.append(item)
                return seen
            ''',
        ),
        (
            "SIM117",
            """
            def f(a, b):
                with open(a) as x:
                    with open(b) as y:
                        return x.read() + y.read()
            """,
            """
            def f(a, b):
                with open(a) as x, open(b) as y:
                    return x.read() + y.read()
            """,
        ),
        (
            "SIM108",
            """
            def f(flag):
                if flag:
                    value = "on"
                else:
                    value = "off"
                return value
            """,
            """
            def f(flag):
                value = "on" if flag else "off"
                return value
            """,
        ),
        (
            "SIM108",
            """
            def f(flag, a, b):
                if flag:
                    value = a  # type: ignore
                else:
                    value = b
                return value
            """,
            """
            def f(flag, a, b):
                value = a if flag else b  # type: ignore
                return value
            """,
        ),
        (
            "TRY004",
            """
            def f(x):
                if not isinstance(x, int):
                    raise ValueError("not an int")
                return x
            """,
            """
            def f(x):
                if not isinstance(x, int):
                    raise TypeError("not an int")
                return x
            """,
        ),
        (
            "PLC0205",
            """
            class Point:
                __slots__ = "x"
            """,
            """
            class Point:
                __slots__ = ("x",)
            """,
        ),
        (
            "PERF402",
            """
            def copy(items):
                out = []
                for item in items:
                    out.append(item)
                return out
            """,
            """
            def copy(items):
                out = []
                out.extend(items)
                return out
            """,
        ),
        (
            "SIM105",
            """
            import os


            def remove(path):
                try:
                    os.remove(path)
                except Exception:
                    pass
            """,
            """
            import contextlib
            import os


            def remove(path):
                with contextlib.suppress(Exception):
                    os.remove(path)
            """,
        ),
        (
            "RUF012",
            """
            class Config:
                names = ["a"]
            """,
            """
            from typing import ClassVar


            class Config:
                names: ClassVar[list] = ["a"]
            """,
        ),
        (
            "SIM115",
            """
            def read(path):
                f = open(path)
                data = f.read()
                f.close()
                return data
            """,
            """
            def read(path):
                with open(path) as f:
                    data = f.read()
                return data
            """,
        ),
        (
            "SIM115",
            """
            def size(path):
                f = open(path)
                try:
                    return len(f.read())
                finally:
                    f.close()
            """,
            """
            def size(path):
                with open(path) as f:
                    return len(f.read())
            """,
        ),
        (
            "E722",
            """
            def f(g):
                try:
                    g()
                except:
                    print("no")
            """,
            """
            def f(g):
                try:
                    g()
                except Exception:
                    print("no")
            """,
        ),
        (
            "BLE001",
            """
            import logging

            log = logging.getLogger(__name__)


            def ready(stream):
                try:
                    stream.read(0)
                except Exception:
                    # closed
                    return False
                return True
            """,
            """
            import logging

            log = logging.getLogger(__name__)


            def ready(stream):
                try:
                    stream.read(0)
                except Exception:
                    # closed
                    log.debug("caught an exception", exc_info=True)
                    return False
                return True
            """,
        ),
        (
            "BLE001",
            """
            def ready(stream):
                try:
                    stream.read(0)
                except Exception: return False
                return True
            """,
            """
            def ready(stream):
                try:
                    stream.read(0)
                except Exception:
                    import logging
                    logging.getLogger(__name__).debug("caught an exception", exc_info=True)
                    return False
                return True
            """,
        ),
        (
            "PYI063",
            """
            def add(__x, y=1):
                return __x + y
            """,
            """
            def add(x, /, y=1):
                return x + y
            """,
        ),
        (
            "PYI063",
            """
            class Table:
                def get(
                    self,
                    __key: str,
                    __default: int,
                ) -> int:
                    return self.rows.get(__key, __default)
            """,
            """
            class Table:
                def get(
                    self,
                    key: str,
                    default: int,
                    /,
                ) -> int:
                    return self.rows.get(key, default)
            """,
        ),
        (
            "B018",
            """
            def check(obj):
                obj.name
            """,
            """
            def check(obj):
                _ = obj.name
            """,
        ),
        (
            "B015",
            """
            def test_equal(a):
                a == a
                return a
            """,
            """
            def test_equal(a):
                _ = a == a
                return a
            """,
        ),
        (
            "PLW0602",
            """
            count = 0


            def read():
                global count
                return count
            """,
            """
            count = 0


            def read():
                return count
            """,
        ),
        (
            "TRY203",
            """
            def load(read):
                try:
                    return read()
                except OSError:
                    raise
            """,
            """
            def load(read):
                return read()
            """,
        ),
        (
            "B023",
            """
            def adders(steps):
                out = []
                for step in steps:
                    out.append(lambda x: x + step)
                return out
            """,
            """
            def adders(steps):
                out = []
                for step in steps:
                    out.append(lambda x, step=step: x + step)
                return out
            """,
        ),
        (
            "RUF001",
            """
            RANGE = f"1–{9}"
            """,
            """
            RANGE = f"1\\N{EN DASH}{9}"
            """,
        ),
        (
            "RUF003",
            """
            x = 1  # one – the first
            """,
            """
            x = 1  # one - the first
            """,
        ),
        (
            "B007",
            """
            def every_other(pairs):
                for index, item in pairs[::2]:
                    yield item
                for index, item in enumerate(pairs):
                    if index % 2:
                        yield item
            """,
            """
            def every_other(pairs):
                for _index, item in pairs[::2]:
                    yield item
                for index, item in enumerate(pairs):
                    if index % 2:
                        yield item
            """,
        ),
        (
            "TRY002",
            """
            import os


            def load_config(path):
                if not os.path.exists(path):
                    raise Exception(path)
                return path
            """,
            """
            import os


            class LoadConfigError(Exception):
                \"\"\"Raised by `load_config`.\"\"\"


            def load_config(path):
                if not os.path.exists(path):
                    raise LoadConfigError(path)
                return path
            """,
        ),
        (
            "RUF005",
            """
            def prepend(seq):
                return [30, 40] + seq  # the new head first
            """,
            """
            def prepend(seq):
                return [30, 40, *seq]  # the new head first
            """,
        ),
        (
            "SIM105",
            """
            import os


            def remove(path):
                try:
                    os.remove(path)
                except OSError:
                    pass  # already gone
            """,
            """
            import contextlib
            import os


            def remove(path):
                with contextlib.suppress(OSError):  # already gone
                    os.remove(path)
            """,
        ),
    ],
)
def test_recipe(tmp_path: Path, rule: str, source: str, expected: str) -> None:
    select = tuple(s for s in SELECT if s != "BLE001") if rule == "E722" else SELECT
    assert fixed(tmp_path, source, rule, select) == textwrap.dedent(expected)


def test_b028_stacklevel_from_ruff_or_recipe(tmp_path: Path) -> None:
    source = 'import warnings\n\nwarnings.warn("old", DeprecationWarning)\n'
    assert fixed(tmp_path, source, "B028") == (
        'import warnings\n\nwarnings.warn("old", DeprecationWarning, stacklevel=2)\n'
    )


def test_e741_declines_parameters_and_module_names(tmp_path: Path) -> None:
    for source in ("def f(l):\n    return l\n", "l = 1\nprint(l)\n"):
        before = check_text(source, "mod.py", tmp_path, RuffOptions(select=("E741",)))
        finding = next(f for f in before if f.rule == "E741")
        assert candidates(finding, source) == []


def test_a_fix_that_makes_new_findings_is_rejected(tmp_path: Path) -> None:
    # Naming the class a bare `except:` catches is right, unless the project also forbids
    # catching `Exception` blindly (BLE001): then that fix trades one finding for another, and
    # only the fixes that also log the exception caught survive.
    source = "def f(g):\n    try:\n        g()\n    except:\n        print(1)\n"
    options = RuffOptions(select=("E722", "BLE001"))
    before = check_text(source, "mod.py", tmp_path, options)
    finding = next(f for f in before if f.rule == "E722")
    outcomes = [
        screen(c, finding, source, tmp_path, before, options) for c in candidates(finding, source)
    ]
    rejected = [o for o in outcomes if isinstance(o, Rejection)]
    assert rejected
    assert all("BLE001" in o.reason for o in rejected)
    survivors = [o for o in outcomes if not isinstance(o, Rejection)]
    assert survivors
    assert all("except Exception:" in o.text and "exc_info=True" in o.text for o in survivors)


def test_follow_up_safe_fixes_settle_an_import(tmp_path: Path) -> None:
    # Adding `import contextlib` above `import os` leaves the block unsorted (I001); ruff's safe
    # fix for that is applied as a follow-up, and the candidate says so.
    source = (
        "import os\nimport sys\n\ntry:\n    os.remove(sys.argv[1])\nexcept Exception:\n    pass\n"
    )
    options = RuffOptions(select=("S110", "I001", "SIM105"))
    before = check_text(source, "mod.py", tmp_path, options)
    finding = next(f for f in before if f.rule == "SIM105")
    survivors = [
        o
        for o in (
            screen(c, finding, source, tmp_path, before, options)
            for c in candidates(finding, source)
        )
        if not isinstance(o, Rejection)
    ]
    assert survivors
    best = rank(survivors)[0]
    assert best.text.startswith("import contextlib\nimport os\nimport sys\n")
    assert check_text(best.text, "mod.py", tmp_path, options) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(:\n    return 1\n", "def f():\n    return 1\n"),
        ("x = (1,\n", "x = (1,)\n"),
        ("if x\n    pass\n", "if x:\n    pass\n"),
        ("x = [1 2]\n", "x = [1, 2]\n"),
        ('s = "abc\n', 's = "abc"\n'),
        ("def f():\nreturn 1\n", "def f():\n    return 1\n"),
    ],
)
def test_syntax_repairs(tmp_path: Path, source: str, expected: str) -> None:
    before = check_text(source, "mod.py", tmp_path, RuffOptions(select=("E9",)))
    finding = before[0]
    assert finding.rule == "invalid-syntax"
    assert fixed(tmp_path, source, "invalid-syntax", ("E9",)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            # Parameters, returns and class attributes are evaluated: they become strings, as
            # the __future__ import would make them; a local variable's annotation is never
            # evaluated, so it is only respelled. The import left unused goes (ruff's follow-up).
            """
            import typing as t
            from typing import List


            class Node:
                children: t.Dict[str, t.Optional["Node"]] = {}

                def find(self, name: t.Optional[str], default: t.Any) -> t.Union[int, "Node", None]:
                    seen: List[int] = []
                    return self
            """,
            """
            import typing as t


            class Node:
                children: "dict[str, Node | None]" = {}

                def find(self, name: "str | None", default: t.Any) -> "int | Node | None":
                    seen: list[int] = []
                    return self
            """,
        ),
        (
            # deque is spelled as the module imports it; `te` is left unused, and goes.
            """
            import typing as t
            from collections import deque

            if t.TYPE_CHECKING:
                import typing_extensions as te


            def first(queue: "te.Deque[int]") -> t.Optional[int]:
                return queue[0] if queue else None
            """,
            """
            import typing as t
            from collections import deque

            if t.TYPE_CHECKING:
                pass


            def first(queue: "deque[int]") -> "int | None":
                return queue[0] if queue else None
            """,
        ),
        (
            # A Literal's strings are values, and a multi-line annotation becomes one line.
            """
            import typing as t


            def mode(
                value: t.Optional[
                    t.Literal["r", "w"]
                ],
            ) -> t.Tuple[int, ...]:
                return ()
            """,
            """
            import typing as t


            def mode(
                value: "t.Literal['r', 'w'] | None",
            ) -> "tuple[int, ...]":
                return ()
            """,
        ),
    ],
)
def test_fa100_alternative_quotes_modern_annotations(
    tmp_path: Path, source: str, expected: str
) -> None:
    # FA100 only speaks for projects that still support Python 3.9 or older.
    (tmp_path / "ruff.toml").write_text('target-version = "py38"\n')
    assert fixed(
        tmp_path, source, "FA100", ("FA", "UP", "F", "RUF"), propose=alternatives
    ) == textwrap.dedent(expected)


def test_fa100_alternative_keeps_a_rebound_builtin(tmp_path: Path) -> None:
    # `list` means something else in this module: `List[int]` cannot become `list[int]`.
    (tmp_path / "ruff.toml").write_text('target-version = "py38"\n')
    source = "import typing as t\n\nlist = t.List\n\n\ndef f(x: t.List[int]) -> None: ...\n"
    before = check_text(source, "mod.py", tmp_path, RuffOptions(select=("FA100",)))
    finding = next(f for f in before if f.rule == "FA100")
    assert alternatives(finding, source) == []


def test_pyi034_self_is_imported_for_type_checkers_only(tmp_path: Path) -> None:
    # ruff's own fix imports `Self` from typing_extensions when the program runs, which fails
    # where that package is not installed; the recipe keeps the import for type checkers.
    (tmp_path / "ruff.toml").write_text('target-version = "py38"\n')
    source = textwrap.dedent(
        """
        import typing as t


        class Resource:
            def __enter__(self) -> "Resource":
                return self
        """
    )
    expected = textwrap.dedent(
        """
        import typing as t

        if t.TYPE_CHECKING:
            from typing_extensions import Self


        class Resource:
            def __enter__(self) -> "Self":
                return self
        """
    )
    assert fixed(tmp_path, source, "PYI034", propose=recipes.propose) == expected


def test_b015_in_a_test_asserts_the_comparison(tmp_path: Path) -> None:
    # In library code the comparison is kept for its effect (`_ = a == a`, above); in a test it
    # is most likely an `assert` left out.
    source = "def test_equal(a):\n    a == a\n    return a\n"
    assert fixed(tmp_path, source, "B015", path="tests/test_mod.py") == (
        "def test_equal(a):\n    assert a == a\n    return a\n"
    )


def test_b007_keeps_a_variable_read_after_the_loop(tmp_path: Path) -> None:
    source = "def last(rows):\n    for i, row in rows:\n        print(row)\n    return i\n"
    before = check_text(source, "mod.py", tmp_path, RuffOptions(select=("B007",)))
    finding = next(f for f in before if f.rule == "B007")
    assert recipes.propose(finding, source) == []


def test_try002_in_a_test_raises_assertion_error(tmp_path: Path) -> None:
    source = "def test_read(data):\n    if not data:\n        raise Exception('empty')\n"
    assert fixed(tmp_path, source, "TRY002", path="tests/test_read.py") == (
        "def test_read(data):\n    if not data:\n        raise AssertionError('empty')\n"
    )


def test_findings_that_share_a_fix_settle_it_once(tmp_path: Path) -> None:
    # Every FA100 finding of a file proposes the same `__future__` import: ruff settles it once.
    (tmp_path / "ruff.toml").write_text('target-version = "py38"\n')
    source = "import typing as t\n\n\ndef f(a: t.Optional[int], b: t.List[int]) -> None: ...\n"
    options = RuffOptions(select=("FA100", "UP", "F401"))
    before = check_text(source, "mod.py", tmp_path, options)
    findings = [f for f in before if f.rule == "FA100"]
    assert len(findings) == 2
    memo: dict = {}
    outcomes = [screen(f.fixes[0], f, source, tmp_path, before, options, memo) for f in findings]
    assert len(memo) == 1
    alone = screen(findings[1].fixes[0], findings[1], source, tmp_path, before, options)
    assert not isinstance(alone, Rejection)
    assert [o.text for o in outcomes] == [alone.text, alone.text]
    assert alone.text.startswith("from __future__ import annotations\n")
    assert "a: int | None, b: list[int]" in alone.text


def test_dtz003_asks_for_utc_and_keeps_a_naive_value(tmp_path: Path) -> None:
    source = "import datetime\n\nSTARTED = datetime.datetime.utcnow()\n"
    assert fixed(tmp_path, source, "DTZ003", ("DTZ",)) == (
        "import datetime\n\n"
        "STARTED = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)\n"
    )


@pytest.mark.parametrize(
    ("rule", "source", "expected"),
    [
        (
            "SIM115",
            """
            import json


            def show(path, key):
                data = json.load(open(path))
                print(data[key])
            """,
            """
            import json


            def show(path, key):
                with open(path) as file:
                    data = json.load(file)
                    print(data[key])
            """,
        ),
        (
            "SIM115",
            """
            def head(path):
                text = open(path).read()
                return text[:10]
            """,
            """
            def head(path):
                with open(path) as file:
                    text = file.read()
                return text[:10]
            """,
        ),
        (
            "SIM115",
            """
            def check(path, expected):
                fo = open(path)
                first = fo.readline()
                assert first == expected
            """,
            """
            def check(path, expected):
                with open(path) as fo:
                    first = fo.readline()
                    assert first == expected
            """,
        ),
        (
            "B008",
            """
            def key(args, fast=frozenset([int, type(None)])):
                return type(args) in fast
            """,
            """
            _DEFAULT_FAST = frozenset([int, type(None)])


            def key(args, fast=_DEFAULT_FAST):
                return type(args) in fast
            """,
        ),
        (
            "B008",
            """
            def joiner(src):
                def join(parts, sep=type(src)()):
                    return sep.join(parts)

                return join
            """,
            """
            def joiner(src):
                default_sep = type(src)()
                def join(parts, sep=default_sep):
                    return sep.join(parts)

                return join
            """,
        ),
        (
            "RUF001",
            """
            import re

            TAG = re.compile(r"(?:^|\\s)[＃#](\\w+)")
            """,
            """
            import re

            TAG = re.compile(r"(?:^|\\s)[" "\\N{FULLWIDTH NUMBER SIGN}" r"#](\\w+)")
            """,
        ),
        (
            "PLC0206",
            """
            def show(**options):
                for key in options:
                    print(key, options[key])
            """,
            """
            def show(**options):
                for key, value in options.items():
                    print(key, value)
            """,
        ),
    ],
)
def test_recipes_for_files_defaults_and_items(
    tmp_path: Path, rule: str, source: str, expected: str
) -> None:
    assert fixed(tmp_path, source, rule, (*SELECT, "PLC0206")) == textwrap.dedent(expected)


@pytest.mark.parametrize(
    ("rule", "source"),
    [
        # the file outlives the function: stored, returned, used after the block
        ("SIM115", "class Log:\n    def start(self, path):\n        self.out = open(path)\n"),
        ("SIM115", "def reader(path):\n    f = open(path)\n    it = iter(f)\n    return it\n"),
        (
            "SIM115",
            "def f(path, on):\n    if on:\n        fo = open(path)\n        fo.read()\n"
            "    return fo\n",
        ),
        # a call evaluated before the file is opened would come after it
        ("SIM115", "def f(path, g):\n    x = g(), open(path).read()\n    return x\n"),
        # in a class body the name would become a class attribute; a decorator runs first
        ("B008", "class C:\n    def m(self, x=make()):\n        return x\n"),
        ("B008", "import functools\n\n\n@functools.cache\ndef f(x=make()):\n    return x\n"),
        # a raw triple-quoted string would be cut into pieces across its lines
        ("RUF001", 'PATTERN = r"""\n  a–b  # range\n"""\n'),
        # the loop changes what `d[k]` reads
        ("PLC0206", "def f(**d):\n    for k in d:\n        d[k] = 1\n        print(d[k])\n"),
        ("PLC0206", "def f(**d):\n    for k in d:\n        d.update(a=1)\n        print(d[k])\n"),
    ],
)
def test_recipes_decline_what_would_change_behaviour(
    tmp_path: Path, rule: str, source: str
) -> None:
    before = check_text(source, "mod.py", tmp_path, RuffOptions(select=(rule,)))
    finding = next(f for f in before if f.rule == rule)
    assert recipes.propose(finding, source) == []

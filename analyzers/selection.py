"""Which rules and which files a run covers: ``--select``/``--ignore`` and paths, as ruff has them.

Boundary: pure functions over rule ids and repository-relative paths; no I/O, no git. The CLI
builds a ``RuleSelection`` and a ``PathSelection`` from its arguments, and review and fix apply
them before ranking, so that what is left out never takes the place of what was asked for.

Rules follow ruff's command line. A selector is ``ALL``, a rule id, or a prefix of one: a code
prefix for ruff's codes (``F`` selects ``F401``, ``E4`` selects ``E401``) and whole words for
tactful's named rules (``function`` selects ``function-too-large`` and ``function-too-complex``).
When several selectors match a rule, the most specific decides, and on a tie ``--ignore`` wins:
``--select E --ignore E501`` keeps every ``E`` rule but ``E501``, while
``--select E501 --ignore E`` keeps ``E501`` alone. Without ``--select`` everything is selected.
A syntax error or an unreadable file (``E902``) is kept whatever ``--select`` says: it means the
file's other rules were not checked.

Paths follow ruff too: the files named and the files under the folders named, less those
matching an ``--exclude`` pattern (gitignore syntax: ``migrations/``, ``*_pb2.py``,
``docs/**/*.py``), matched against the path from the project root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath

import pathspec

ALL = "ALL"
# Findings that say a file was not checked at all (ruff could not parse it, or not read it):
# reported whatever ``--select`` chooses, lest "no findings" be read as "checked and clean";
# only an ``--ignore`` that names them leaves them out.
NOT_CHECKED = ("invalid-syntax", "E902")
_CODE = re.compile(r"[A-Z]+[0-9]*")


class SelectionError(ValueError):
    """A selector or pattern that cannot mean anything (message for people)."""


def split_selectors(values: Iterable[str] | None) -> tuple[str, ...]:
    """Selectors from repeated, comma-separated command-line values (``F401,E4``), in order,
    each once."""
    found: list[str] = []
    for value in values or ():
        for part in value.split(","):
            selector = part.strip()
            if selector and selector not in found:
                found.append(selector)
    return tuple(found)


def _is_code(text: str) -> bool:
    """A code or code prefix, as ruff spells them (upper case: ``F``, ``E4``, ``F401``)."""
    return _CODE.fullmatch(text) is not None


def matches(selector: str, rule: str) -> bool:
    """Whether ``selector`` names ``rule``: ``ALL``, the rule itself, a code prefix of a code,
    or leading whole words of a named rule."""
    if selector in (ALL, rule):
        return True
    if _is_code(selector) and _is_code(rule):
        return rule.startswith(selector)
    return rule.startswith(selector + "-")


def _specificity(selector: str) -> int:
    return 0 if selector == ALL else len(selector)


@dataclass(frozen=True)
class RuleSelection:
    """``--select`` (None: every rule) and ``--ignore`` selectors."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        select: Iterable[str] | None,
        ignore: Iterable[str] | None,
        known: Iterable[str] | None = None,
    ) -> RuleSelection:
        """From command-line values; with ``known`` rule ids, a selector that names none of
        them is a ``SelectionError`` (a typo would otherwise silently select nothing)."""
        chosen = split_selectors(select) if select else None
        ignored = split_selectors(ignore)
        if known is not None:
            rules = tuple(known)
            for selector in (*(chosen or ()), *ignored):
                if not any(matches(selector, rule) for rule in rules):
                    raise SelectionError(
                        f"unknown rule selector {selector!r}: not a rule id or prefix of one "
                        "(ruff's codes such as F401 or E4, tactful's rules such as "
                        "debug-leftover, or ALL)"
                    )
        return cls(chosen, ignored)

    @property
    def everything(self) -> bool:
        return self.select is None and not self.ignore

    def selects(self, rule: str) -> bool:
        """Whether ``rule`` is in: its most specific ``--select`` match outranks its most
        specific ``--ignore`` match (``--ignore`` wins a tie). A finding that a file was not
        checked (``NOT_CHECKED``) is in unless ``--ignore`` names it."""
        if rule in NOT_CHECKED:
            return not self.ignores(rule)
        chosen = (
            0
            if self.select is None
            else max((_specificity(s) for s in self.select if matches(s, rule)), default=-1)
        )
        if chosen < 0:
            return False
        ignored = max((_specificity(s) for s in self.ignore if matches(s, rule)), default=-1)
        return chosen > ignored

    def ignores(self, rule: str) -> bool:
        """Whether an ``--ignore`` selector names ``rule``."""
        return any(matches(s, rule) for s in self.ignore)

    def among(self, rules: Iterable[str]) -> tuple[str, ...]:
        """The rules of ``rules`` that are selected, in their order."""
        return tuple(rule for rule in rules if self.selects(rule))

    def code_selectors(self) -> tuple[str, ...] | None:
        """The ``--select`` selectors that are codes (or ``ALL``), for a tool that only knows
        codes such as ruff; None when ``--select`` was not given."""
        if self.select is None:
            return None
        return tuple(s for s in self.select if s == ALL or _is_code(s))


def relative_posix(path: str) -> str:
    """A repository-relative path in one spelling: forward slashes, no ``./``, no trailing
    slash; ``.`` for the root itself."""
    parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in (".", "")]
    return "/".join(parts) or "."


@dataclass(frozen=True)
class PathSelection:
    """Files named or under folders named (``.`` for everything), less ``--exclude`` patterns;
    every path is relative to the project root."""

    paths: tuple[str, ...] = (".",)
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, paths: Sequence[str], exclude: Iterable[str] = ()) -> PathSelection:
        named = tuple(dict.fromkeys(relative_posix(p) for p in paths)) or (".",)
        return cls(named, tuple(pattern for pattern in exclude if pattern.strip()))

    @cached_property
    def _spec(self) -> pathspec.GitIgnoreSpec:
        return pathspec.GitIgnoreSpec.from_lines(self.exclude)

    @property
    def everything(self) -> bool:
        return "." in self.paths and not self.exclude

    def named(self, path: str) -> bool:
        """Whether ``path`` is a named file, or lies under a named folder."""
        path = relative_posix(path)
        return any(
            named == "." or path == named or path.startswith(named + "/") for named in self.paths
        )

    def excluded(self, path: str) -> bool:
        """Whether an ``--exclude`` pattern matches ``path`` or a folder it lies in."""
        return bool(self.exclude) and self._spec.match_file(relative_posix(path))

    def selects(self, path: str) -> bool:
        return self.named(path) and not self.excluded(path)

    def among(self, paths: Iterable[str]) -> list[str]:
        return [path for path in paths if self.selects(path)]

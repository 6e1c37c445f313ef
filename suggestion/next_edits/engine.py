"""The next-edit engine: from the recent edits of a workspace to the few checked next edits
worth showing at a cursor.

Boundary: plain Python; the server calls ``NextEditEngine.suggest`` from one handler, off the
event loop (it parses, runs ruff and may ask a model). It never raises on broken code or odd
input: what it cannot place, it does not propose.

Per request: the recent edits (those of the document first) are turned into candidates by the
proposers — repeated edits (``repeat.py``), propagation of renames and signature changes
(``propagate.py``), imports the edits left unused (``imports.py``) and, when a model is
configured, the model (``llm.py``) — then scored, ranked (best first, nearest to the cursor
first among equals, this document before others), cut at the score threshold, checked
(``checks.py``) and labelled. Work on other files is bounded by a time budget and a number of
files parsed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tree_sitter import Node

from tactful.analyzers.languages import language_of_path
from tactful.analyzers.text import Point, Span
from tactful.suggestion.next_edits import imports, llm, repeat, surroundings
from tactful.suggestion.next_edits import python as py
from tactful.suggestion.next_edits.checks import NOT_NEEDED, CheckedDocument, Checker, Verdict
from tactful.suggestion.next_edits.history import EditHistory
from tactful.suggestion.next_edits.llm import ModelConfig
from tactful.suggestion.next_edits.propagate import map_offset, propagate
from tactful.suggestion.next_edits.proposals import Budget, Elsewhere, by_line, next_edit, quote
from tactful.suggestion.next_edits.targets import Target, WorkspaceFiles
from tactful.suggestion.next_edits.trees import EditTrees, Source, TreeCache
from tactful.suggestion.next_edits.types import REPEAT, NextEdit, RecordedEdit

logger = logging.getLogger(__name__)

# The lowest score shown; tuned on replays of real commits (benchmarks/next_edits.py).
THRESHOLD = 0.5
# Places one repeated edit is proposed at, at most (the nearest first), in its file and beyond.
MAX_SITES = 30
# A rewrite that applies to more places than this is too general to follow from its shape.
SPECIFIC_SITES = 6
# The score of a deletion made once and repeated as text: under the threshold (see
# ``repeat_score``).
TEXT_DELETION_ONCE = 0.35
# A rewrite with this many places left in its file or fewer is looked for in other files too.
ELSEWHERE_AFTER = 2
# The score of a ``def`` line's change proposed in functions of other names (the header
# rewrites of ``repeat.py`` whose function's name is a hole): under the threshold. On click's
# development history (``benchmarks/next_edits.py --commits 100 --seed 1 --dump``, in a
# version that showed them) they were right 2 times of 7 shown (a test fixture added to some
# of the tests that look alike); in functions of the same name (overrides, overloads) they
# are scored as other rewrites.
HEADER_OTHER_NAMES = 0.45
# Rounds of checks a request may spend finding ``limit`` next edits that pass.
CHECK_ROUNDS = 3
# How much a change's score shrinks each time one of its places is turned down.
DISMISSED_FACTOR = 0.5
_MORE = re.compile(r" \(\d+ more\)$")


@dataclass(frozen=True, slots=True)
class NextEditOptions:
    """How many next edits to show and how much work to spend finding them.

    ``limit``: items returned; ``threshold``: lowest score shown; ``learn_from``: how many of
    the latest edits teach; ``search_s`` and ``max_files``: the time and the number of other
    files a request may spend searching; ``ruff_runs``: ruff runs per document beyond the
    first two; ``repeat_elsewhere``: whether a repeated edit is also looked for in other
    files (off: on the development histories' replays, click and requests, 100 commits each,
    the repeated edits proposed in other files were the commit's next edit 7 times of 670
    candidates and 1 of the 8 that would have been shown, and that search is the largest
    part of a request's time; renames and signature changes still reach other files).
    """

    limit: int = 2
    threshold: float = THRESHOLD
    learn_from: int = 8
    search_s: float = 0.12
    max_files: int = 12
    ruff_runs: int = 3
    check: bool = True
    repeat_elsewhere: bool = False


class NextEditEngine:
    """Next edits for the documents an ``EditHistory`` follows."""

    def __init__(
        self,
        history: EditHistory,
        workspace: WorkspaceFiles | None = None,
        *,
        root: str | Path | None = None,
        options: NextEditOptions | None = None,
        model: ModelConfig | None = None,
    ) -> None:
        self.history = history
        self.workspace = workspace
        self.model = model
        self.root = (
            Path(root).resolve()
            if root is not None
            else (workspace.root if workspace is not None else None)
        )
        self.options = options or NextEditOptions()
        self.checker = Checker(self.root, self.options.ruff_runs)
        self._trees = TreeCache()
        self._rules_lock = threading.Lock()
        self._rules: OrderedDict[tuple[str, int], tuple[str, list[repeat.Rewrite]]] = OrderedDict()
        # What the developer turned down: those edits, and how often each change was (a change
        # is the edit it follows and its label): its other places rank lower from then on.
        self._dismissed: OrderedDict[tuple[str, int, int, int, int, str], None] = OrderedDict()
        self._dismissed_changes: Counter[tuple[int, str]] = Counter()

    def dismiss(self, item: NextEdit) -> None:
        """The developer turned ``item`` down: it is not proposed again, and the other places of
        the same change are proposed less readily."""
        self._dismissed[item.key] = None
        while len(self._dismissed) > 512:
            self._dismissed.popitem(last=False)
        self._dismissed_changes[_change_of(item)] += 1

    # -- the one call a handler makes ------------------------------------------------------

    def suggest(
        self,
        uri: str,
        position: Point,
        *,
        exclude: Collection[tuple[str, int, int, int, int, str]] = (),
        use_model: bool = True,
    ) -> list[NextEdit]:
        """The checked next edits worth showing at ``position`` of ``uri``, best first.

        ``exclude``: keys (``NextEdit.key``) of edits not to propose again (``dismiss``
        remembers those the developer turned down). With a model configured and
        ``use_model``, its next edits join the local ones (a network call: a handler that
        wants the local answer at once asks with ``use_model=False`` first).
        """
        candidates = self.propose(uri, position, exclude=exclude)
        if use_model and self.model is not None:
            candidates = self.joined(
                candidates, self.model_edits(uri, position), uri, position, exclude=exclude
            )
        shown = [c for c in candidates if c.score >= self.options.threshold]
        if self.options.check:
            shown = self.checked(shown, self.options.limit)
        return labelled(shown[: self.options.limit], candidates)

    def joined(
        self,
        candidates: Sequence[NextEdit],
        asked: Sequence[NextEdit],
        uri: str,
        position: Point,
        *,
        exclude: Collection[tuple[str, int, int, int, int, str]] = (),
    ) -> list[NextEdit]:
        """The local candidates and the model's, as one ranked list (the model's edits that
        were turned down before left out; one proposed by both counts once)."""
        excluded = set(exclude) | set(self._dismissed)
        return _rank(
            _merged([*candidates, *(e for e in asked if e.key not in excluded)]), uri, position
        )

    def document(self, uri: str, path: str | None) -> CheckedDocument | None:
        """The current text of the document a next edit is in (open, or a workspace file)."""
        return self._document(uri, path)

    def checked(self, candidates: Sequence[NextEdit], limit: int) -> list[NextEdit]:
        """The candidates that pass the checks, in their order, until ``limit`` have passed."""
        return [verdict.edit for verdict in self.check(candidates, limit) if verdict.passed]

    def check(self, candidates: Sequence[NextEdit], limit: int) -> list[Verdict]:
        """The verdicts on the candidates checked, in their order, until ``limit`` have passed.

        Candidates are checked best first, a few at a time (a parse each, ruff side by side),
        so the cost follows what is shown, not how much was proposed; within a round, ruff
        runs for a candidate only while fewer than ``limit`` have passed before it (those
        after are left without a verdict: they would not be shown).
        """
        passed: list[NextEdit] = []
        given: list[Verdict] = []
        pending = list(candidates)
        for _round in range(CHECK_ROUNDS):
            if not pending or len(passed) >= limit:
                break
            size = limit - len(passed) + 1
            batch, pending = pending[:size], pending[size:]
            groups: dict[str, list[NextEdit]] = {}
            for candidate in batch:
                groups.setdefault(candidate.uri, []).append(candidate)
            verdicts: dict[tuple[str, int, int, int, int, str], Verdict] = {}
            for uri, group in groups.items():
                document = self._document(uri, group[0].path)
                if document is None:
                    continue
                needed = limit - len(passed)
                for checked in self.checker.check(document, group, needed=needed):
                    if checked.reason != NOT_NEEDED:
                        verdicts[checked.edit.key] = checked
            for candidate in batch:
                verdict = verdicts.get(candidate.key)
                if verdict is None:
                    continue
                if verdict.passed:
                    if len(passed) >= limit:
                        continue
                    passed.append(candidate)
                else:
                    logger.debug("next edit dropped (%s): %s", verdict.reason, candidate.label)
                given.append(verdict)
        return given

    # -- proposing -------------------------------------------------------------------------

    def model_edits(self, uri: str, position: Point) -> list[NextEdit]:
        """The configured model's next edits around ``position`` (unchecked; empty without a
        model or when its answer does not apply cleanly)."""
        if self.model is None:
            return []
        target = self._target(uri)
        if target is None:
            return []
        try:
            return llm.propose(self.model, target, position, self.history.edits(), self.root)
        except Exception:
            logger.exception("asking the model for next edits failed")
            return []

    def propose(
        self,
        uri: str,
        position: Point,
        *,
        exclude: Collection[tuple[str, int, int, int, int, str]] = (),
    ) -> list[NextEdit]:
        """Every candidate the local proposers find, scored and ranked, unchecked."""
        current = self._target(uri)
        if current is None:
            return []
        budget = Budget.for_seconds(self.options.search_s, self.options.max_files)
        edits = self.history.edits()
        if not edits:
            return []
        recent = edits[-self.options.learn_from :]
        found: list[NextEdit] = []
        learned: list[tuple[list[repeat.Rewrite], RecordedEdit]] = []
        support: Counter[repeat.Signature] = Counter()
        homes: dict[str, Target] = {uri: current}
        # Each home's places of a rewrite, found once in this request.
        places_in: dict[str, repeat.SitesIn] = {}
        trees_by_edit = self._edit_trees(edits, homes)
        others: dict[str, _Remembered] = {}

        def elsewhere_of(home: Target) -> Elsewhere:
            if home.uri not in others:
                others[home.uri] = _Remembered(self._others(home.uri))
            return Elsewhere(others[home.uri], budget)

        by_shape: dict[repeat.Shape, list[tuple[repeat.Rewrite, RecordedEdit]]] = {}
        for edit in edits:
            trees = trees_by_edit.get((edit.uri, edit.sequence))
            rules = self._rules_of(edit, trees) if trees is not None else []
            # Two edits that one rewrite explains (at any level) are two examples of it.
            for signature in {rule.signature for rule in rules}:
                support[signature] += 1
            for rule in rules:
                by_shape.setdefault(repeat.shape(rule), []).append((rule, edit))
            if rules and edit in recent:
                learned.append((rules, edit))
        learned = [
            (self._with_two_examples(rules, edit, by_shape, support), edit)
            for rules, edit in learned
        ]
        for edit in recent:
            trees = trees_by_edit.get((edit.uri, edit.sequence))
            home = homes.get(edit.uri)
            if trees is None or home is None:
                continue
            later = [e for e in edits if e.uri == edit.uri and e.sequence > edit.sequence]
            try:
                found.extend(propagate(edit, trees, home, later, elsewhere_of(home)))
            except Exception:
                logger.exception("propagating an edit failed")
        found.extend(imports.unused_after(recent, trees_by_edit, current))
        try:
            found.extend(imports.missing(recent, current, elsewhere_of(current), self.root))
        except Exception:
            logger.exception("looking for a missing import failed")
        for rules, edit in learned:
            home = homes.get(edit.uri)
            if home is None:
                continue
            try:
                later = [e for e in edits if e.uri == edit.uri and e.sequence > edit.sequence]
                if home.tree is None:
                    continue
                if edit.uri not in places_in:
                    places_in[edit.uri] = repeat.SitesIn(home.source, home.tree.root_node)
                found.extend(
                    self._repeat(
                        rules,
                        edit,
                        support,
                        home,
                        places_in[edit.uri],
                        later,
                        elsewhere_of(home),
                        search_elsewhere=self.options.repeat_elsewhere and edit is edits[-1],
                    )
                )
            except Exception:
                logger.exception("repeating an edit failed")
        try:
            found = _joined_where_agreeing(
                surroundings.repeated(recent, current), found, current.source.text
            )
        except Exception:
            logger.exception("repeating an edit in its surroundings failed")
        # Where each document's latest edit wrote (found once: a span costs a count of lines).
        latest = {e.uri: e for e in edits}
        fresh = {uri: e.span_after for uri, e in latest.items()}
        excluded = set(exclude) | set(self._dismissed)
        kept = []
        for item in found:
            if item.key in excluded or _inside_latest(item, fresh.get(item.uri)):
                continue
            turned_down = self._dismissed_changes.get(_change_of(item), 0)
            if turned_down:
                item = replace(item, score=round(item.score * DISMISSED_FACTOR**turned_down, 4))
            kept.append(item)
        return _rank(_merged(kept), uri, position)

    def _edit_trees(
        self, edits: Sequence[RecordedEdit], homes: dict[str, Target]
    ) -> dict[tuple[str, int], EditTrees]:
        found: dict[tuple[str, int], EditTrees] = {}
        by_uri: dict[str, list[RecordedEdit]] = {}
        for edit in edits:
            by_uri.setdefault(edit.uri, []).append(edit)
        for uri, own in by_uri.items():
            home = homes.get(uri) or self._target(uri)
            if home is None:
                continue
            homes[uri] = home
            for edit, trees in zip(
                own,
                self._trees.trees(own, home.source, home.tree, self.history.before_tree),
                strict=True,
            ):
                if trees is not None:
                    found[(edit.uri, edit.sequence)] = trees
        return found

    def _with_two_examples(
        self,
        rules: list[repeat.Rewrite],
        edit: RecordedEdit,
        by_shape: dict[repeat.Shape, list[tuple[repeat.Rewrite, RecordedEdit]]],
        support: Counter[repeat.Signature],
    ) -> list[repeat.Rewrite]:
        """An edit's rewrites, preceded by those it shares with another edit of the same
        shape (the constants where the two differ become holes)."""
        joined: dict[repeat.Signature, tuple[repeat.Rewrite, set[int]]] = {}
        for rule in rules:
            for other, other_edit in by_shape.get(repeat.shape(rule), ()):
                if other_edit.sequence == edit.sequence:
                    continue
                unified = repeat.unify(rule, other)
                if unified is not None:
                    joined.setdefault(unified.signature, (unified, {edit.sequence}))[1].add(
                        other_edit.sequence
                    )
        for signature, (_rule, examples) in joined.items():
            support[signature] = max(support[signature], len(examples))
        return [*(rule for rule, _ in joined.values()), *rules]

    def _rules_of(self, edit: RecordedEdit, trees: EditTrees) -> list[repeat.Rewrite]:
        key = (edit.uri, edit.sequence)
        with self._rules_lock:
            known = self._rules.get(key)
            if known is not None and known[0] is edit.after:
                return known[1]
        try:
            rules = repeat.learn(edit, trees)
        except Exception:
            logger.exception("learning from an edit failed")
            rules = []
        with self._rules_lock:
            self._rules[key] = (edit.after, rules)
            while len(self._rules) > 256:
                self._rules.popitem(last=False)
        return rules

    def _repeat(
        self,
        rules: Sequence[repeat.Rewrite],
        edit: RecordedEdit,
        support: Counter[repeat.Signature],
        home: Target,
        home_sites: repeat.SitesIn,
        later: Sequence[RecordedEdit],
        elsewhere: Elsewhere,
        search_elsewhere: bool = True,
    ) -> list[NextEdit]:
        """The places the most specific of an edit's rewrites applies to (in this document,
        or when it applies nowhere there and ``search_elsewhere``, in other files), as next
        edits."""
        tree = home.tree
        if tree is None:
            return []
        chosen: repeat.Rewrite | None = None
        places: list[tuple[Target, repeat.Site]] = []
        near = home.source.byte(map_offset(edit.new_end, later) or 0)
        for rule in rules:
            places = [
                (home, site) for site in self._home_sites(rule, home, home_sites, later, near)
            ]
            if places:
                chosen = rule
                break
        if chosen is None and search_elsewhere:
            for rule in rules:
                if rule.scope == repeat.LOCAL:
                    continue
                places = self._sites_elsewhere(rule, elsewhere)
                if places:
                    chosen = rule
                    break
        if chosen is None:
            return []
        rule = chosen
        dangling = self._dangling(rule, home)
        if dangling:
            places = [place for place in places if place[0] is home]
        # How general the rewrite is, judged where it was made: the places in other files come
        # after this file's, and a change that goes on in this file is followed here first.
        counted = len(places)
        if (
            search_elsewhere
            and not dangling
            and places
            and places[0][0] is home
            and rule.scope != repeat.LOCAL
            and counted <= ELSEWHERE_AFTER
        ):
            places.extend(self._sites_elsewhere(rule, elsewhere))
        places.sort(key=lambda place: (place[0] is not home, abs(place[1].start - near)))
        places = places[: 2 * MAX_SITES]
        examples = support[rule.signature]
        label = f"`{quote(rule.before)}` → `{quote(rule.after)}`"
        in_file = sum(1 for target, _ in places if target is home)
        contexts = {(id(target), site.start): site.context for target, site in places}
        per_target: dict[int, tuple[Target, list[tuple[int, int, str]]]] = {}
        for target, site in places:
            per_target.setdefault(id(target), (target, []))[1].append(
                (site.start, site.end, site.text)
            )
        score_of = repeat_score(rule, examples, counted, dangling)
        # What the rewrite says of every place, counted once (walks of its pattern), not per
        # place: a rewrite in a long file has dozens.
        of_rule = {
            "examples": float(examples),
            "sites": float(len(places)),
            "sites_in_file": float(in_file),
            "holes": float(rule.holes),
            "pattern_size": float(rule.size),
            "level": float(rule.level),
            "climb": float(rule.climb),
            "kind_" + rule.kind: 1.0,
            "scope_" + rule.scope: 1.0,
            "dangling": float(dangling),
            "removes": float(len(rule.removed)),
            "extends": float(rule.extends),
        }
        found: list[NextEdit] = []
        for target, replacements in per_target.values():
            for start, end, text in by_line(target.source, replacements):
                same_context = (
                    rule.kind == "text" or contexts.get((id(target), start)) == rule.context
                )
                evidence = {
                    **of_rule,
                    "same_context": float(same_context),
                    "same_file": float(target is home),
                    "lines": float(text.count("\n")),
                }
                found.append(
                    next_edit(
                        target,
                        start,
                        end,
                        text,
                        label=label,
                        source=REPEAT,
                        score=score_of
                        - (0.0 if same_context else 0.05)
                        # Several lines rewritten at once are right less often.
                        - (0.1 if text.count("\n") >= 2 else 0.0),
                        evidence=evidence,
                        origin=edit.sequence,
                    )
                )
        return found

    def _home_sites(
        self,
        rule: repeat.Rewrite,
        home: Target,
        home_sites: repeat.SitesIn,
        later: Sequence[RecordedEdit],
        near: int,
    ) -> list[repeat.Site]:
        area = (0, len(home.source.data))
        if rule.scope == repeat.LOCAL:
            function = _scope_function(rule, home, later)
            if function is None:
                return []
            area = (function.start_byte, function.end_byte)
        return [
            site for site in home_sites(rule, near) if area[0] <= site.start and site.end <= area[1]
        ]

    def _sites_elsewhere(
        self, rule: repeat.Rewrite, elsewhere: Elsewhere
    ) -> list[tuple[Target, repeat.Site]]:
        places: list[tuple[Target, repeat.Site]] = []
        for target in elsewhere.containing(rule.anchor):
            if target.tree is None or target.language_id != rule.language_id:
                continue
            root = target.tree.root_node
            if rule.scope == repeat.MODULE and not py.bound_at_module(
                root, target.source, rule.anchor
            ):
                continue
            places.extend((target, site) for site in repeat.sites(rule, target.source, root))
            if len(places) >= 2 * MAX_SITES:
                break
        return places

    def _dangling(self, rule: repeat.Rewrite, home: Target) -> bool:
        """True for a renamed use whose old name is now defined nowhere in its file: the
        other uses of it are broken until they follow."""
        if rule.kind != "name" or rule.language_id != "python" or home.tree is None:
            return False
        return py.undefined(home.tree.root_node, home.source, rule.before)

    # -- documents -------------------------------------------------------------------------

    def _target(self, uri: str) -> Target | None:
        state = self.history.snapshot(uri)
        if state is None:
            return None
        return Target(
            uri,
            state.path,
            state.language_id,
            Source(state.text, lines=state.lines),
            _tree=state.tree,
            _parsed=True,
        )

    def _others(self, uri: str) -> Iterator[Target]:
        """Documents other than ``uri``: the open ones (most recently changed first), then the
        workspace's files that are not open."""
        opened: set[str] = set()
        for other in reversed(self.history.uris()):
            path = self.history.path(other)
            if path is not None:
                opened.add(_relative(path, self.root))
            if other == uri:
                continue
            target = self._target(other)
            if target is not None:
                yield target
        if self.workspace is None:
            return
        for path, text in self.workspace.items():
            if path in opened:
                continue
            language = language_of_path(path)
            if language is None:
                continue
            yield Target(
                self.workspace.uri(path),
                path,
                language,
                self.workspace.source(path, text),
                _cache=self.workspace.parses,
            )

    def _document(self, uri: str, path: str | None) -> CheckedDocument | None:
        state = self.history.snapshot(uri)
        if state is not None:
            return CheckedDocument(state.text, state.language_id, path, state.tree, state.lines)
        if self.workspace is None or path is None:
            return None
        for candidate, content in self.workspace.items():
            if candidate == path:
                source = self.workspace.source(path, content)
                language = language_of_path(path) or "plaintext"
                tree = self.workspace.parses.tree(source, language)
                return CheckedDocument(content, language, _absolute(path, self.root), tree)
        return None


class _Remembered:
    """An iterator of targets that can be walked again: what it already gave is given again
    (with the trees already parsed), then it goes on."""

    def __init__(self, targets: Iterator[Target]) -> None:
        self._targets = targets
        self._seen: list[Target] = []

    def __call__(self) -> Iterator[Target]:
        index = 0
        while True:
            if index < len(self._seen):
                yield self._seen[index]
                index += 1
                continue
            try:
                target = next(self._targets)
            except StopIteration:
                return
            self._seen.append(target)


def repeat_score(rule: repeat.Rewrite, examples: int, sites: int, dangling: bool) -> float:
    """How likely a repeated edit is wanted at one more place.

    Measured on replayed commits (benchmarks/next_edits.py): what decides is how specific the
    rewrite is. One that applies to a handful of places is most often an API the developer is
    moving off; one that applies to dozens is a local change that happens to have a common
    shape. Made twice, an edit is a pattern the developer is applying; a name renamed at one
    use whose old name is now defined nowhere leaves the other uses broken until they follow.
    Of the generalisations, the one that abstracts attribute names under a removed name
    (``Base.method(self)`` → ``super().method()``) was right 27 times in 28 on click's
    history, and the one that abstracts a kept run of list elements half the time; those that
    abstract every name or literal from one example a few times in a hundred.
    """
    if dangling:
        score = 0.8
    elif rule.kind == "text" and examples < 2 and not rule.after.strip():
        # Lines deleted once, repeated as text where the same text stands: on the development
        # histories (click and requests, 100 commits each, ``benchmarks/next_edits.py``) the
        # commit deleted the copy shown 2 times in 16 (29 of 186 candidates); the copies are
        # mostly code that looks alike, not a pattern being removed. Made twice, such a
        # deletion is shown as before.
        score = TEXT_DELETION_ONCE
    elif sites > SPECIFIC_SITES:
        score = 0.45 if examples >= 3 and rule.kind not in ("node", "header") else 0.3
    elif examples >= 2 or rule.level == repeat.ATTRIBUTES:
        score = 0.7
    else:
        score = 0.55
    if rule.level == repeat.RUNS:
        score += 0.05
    elif (
        rule.level in (repeat.NAMES, repeat.LITERALS)
        and examples < 2
        and not dangling
        and not rule.removed
    ):
        # Every name abstracted, from one example, and no API it moves off to say where.
        score -= 0.05
    if rule.extends:
        score -= 0.1  # code added around what was there depends on the place more often
    if rule.other_functions:
        # A ``def`` line's change in functions of other names: which functions take it was
        # said by the name, now a hole (tests given one more fixture, of the several that
        # look alike). Under the bar: see ``HEADER_OTHER_NAMES``.
        score = min(score, HEADER_OTHER_NAMES)
    return score


def _scope_function(
    rule: repeat.Rewrite, home: Target, later: Sequence[RecordedEdit]
) -> Node | None:
    """The function a local name's rename stays in, found again in the current text."""
    offset = map_offset(rule.scope_at, later)
    tree = home.tree
    if offset is None or tree is None:
        return None
    byte = home.source.byte(offset)
    node = tree.root_node.descendant_for_byte_range(byte, byte)
    functions = []
    while node is not None:
        if node.type in ("function_definition", "lambda"):
            functions.append(node)
        node = node.parent
    return functions[rule.scope_depth] if rule.scope_depth < len(functions) else None


def _change_of(item: NextEdit) -> tuple[int, str]:
    """The change an item is one place of: the edit it follows and its label. For a repeated
    edit, its rewrite alone (the label says it), whichever example it was learned from: on the
    development histories' replays (click and requests, 100 commits each,
    ``benchmarks/next_edits.py``), a rewrite shown again after the developer had turned it down
    and then made it once more by hand was wrong 5 times in 5."""
    return (-1 if item.source == REPEAT else item.origin, _MORE.sub("", item.label))


def _joined_where_agreeing(
    items: Sequence[NextEdit], others: list[NextEdit], text: str
) -> list[NextEdit]:
    """``others`` with the repeated edits in the same surroundings joined: where another
    candidate of the document makes a line what one of them makes it, that candidate stays
    (what its proposer knows, its source, its label and what was turned down, stays with the
    line) scored as the better of the two; where another makes the line something else, the
    other stays alone; elsewhere the item is added."""
    if not items:
        return others
    starts = [0, *(match.end() for match in re.finditer("\n", text))]

    def offset(point: Point) -> int:
        return starts[min(point.line, len(starts) - 1)] + point.column

    def result(item: NextEdit, start: int, end: int) -> str:
        return (
            text[start : offset(item.span.start)]
            + item.new_text
            + text[offset(item.span.end) : end]
        )

    joined = list(others)
    for item in items:
        lines = range(item.span.start.line, item.span.end.line + 1)
        touching = [
            index
            for index, other in enumerate(joined)
            if other.uri == item.uri
            and other.span.start.line <= lines[-1]
            and other.span.end.line >= lines[0]
        ]
        if not touching:
            joined.append(item)
            continue
        for index in touching:
            other = joined[index]
            start = starts[min(item.span.start.line, other.span.start.line)]
            last = max(item.span.end.line, other.span.end.line)
            end = text.find("\n", starts[min(last, len(starts) - 1)])
            end = len(text) if end == -1 else end
            if result(item, start, end) == result(other, start, end) and other.score < item.score:
                joined[index] = replace(other, score=item.score)
    return joined


def _inside_latest(item: NextEdit, region: Span | None) -> bool:
    """True for an edit inside the region its document's latest edit just wrote."""
    if region is None:
        return False
    return region.start <= item.span.start and item.span.end <= region.end


def _merged(items: Sequence[NextEdit]) -> list[NextEdit]:
    """One item per place and text; proposed by several proposers, it keeps the best score
    and its evidence says how many agreed."""
    best: dict[tuple[str, int, int, int, int, str], NextEdit] = {}
    agreeing: Counter[tuple[str, int, int, int, int, str]] = Counter()
    for item in items:
        if item.old_text == item.new_text:
            continue
        agreeing[item.key] += 1
        known = best.get(item.key)
        if known is None or item.score > known.score:
            best[item.key] = item
    merged = []
    for key, item in best.items():
        if agreeing[key] > 1:
            bonus = min(0.1, 0.05 * (agreeing[key] - 1))
            item = replace(item, score=round(min(1.0, item.score + bonus), 4))
        merged.append(item)
    return merged


def _rank(items: Sequence[NextEdit], uri: str, position: Point) -> list[NextEdit]:
    def key(item: NextEdit) -> tuple[float, int, int, int]:
        same = item.uri == uri
        distance = abs(item.span.start.line - position.line) if same else 1_000_000
        after_cursor = 0 if (not same or item.span.start >= position) else 1
        return (-round(item.score, 1), 0 if same else 1, distance, after_cursor)

    return sorted(items, key=key)


def labelled(shown: Sequence[NextEdit], candidates: Sequence[NextEdit]) -> list[NextEdit]:
    """Each shown item's label says how many more places the same change would go to (among
    ``candidates``)."""
    groups: Counter[tuple[int, str]] = Counter((c.origin, c.label) for c in candidates)
    labelled = []
    for item in shown:
        more = groups[(item.origin, item.label)] - 1
        if more > 0:
            item = replace(item, label=f"{item.label} ({more} more)")
        labelled.append(item)
    return labelled


def _relative(path: str, root: Path | None) -> str:
    if root is None:
        return path
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return path


def _absolute(path: str, root: Path | None) -> str:
    return str(root / path) if root is not None and not Path(path).is_absolute() else path


__all__ = ["THRESHOLD", "NextEditEngine", "NextEditOptions", "labelled", "map_offset"]

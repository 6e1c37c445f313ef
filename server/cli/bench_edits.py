"""``tactful bench edits REPO``: replay a repository's real commits as edits through the server.

Boundary: part of the bench command (a language client, like ``bench completion``). It clones
REPO into a temporary workspace, starts ``tactful serve`` over stdio there with its own user
directories, and for each sampled commit checks out the commit's parent (the server told of
every file that changed on disk with ``workspace/didChangeWatchedFiles``), then makes the
commit's changes as a developer would: each changed file opened as it was at the parent, each
hunk's old stretch deleted and its new text typed where it belongs, chunk by chunk, with a
ranged ``didChange`` for every chunk and an ``inlineCompletion`` request after it
(``tactful.suggestion.replay.edit_file``, the typing loop of ``bench completion``); files the
commit adds are typed top to bottom as new files. Renamed, copied and deleted files are left out.

Output (``--format json``, documented in docs/bench.md): per engine, the in-context edits'
summary at the top level (the shape of ``bench completion``'s), then ``new_files`` and
``new_files_first_100_lines``, and latency by the size of the file typed into.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lsprotocol import types

from tactful.analyzers.git_safety import run_git
from tactful.analyzers.index import decode_source
from tactful.analyzers.languages import language_of_path
from tactful.server.cli.bench import add_shared_options, parse_settings, session
from tactful.server.cli.bench_filter import filter_runs, filter_text, interval_text, part_effects
from tactful.suggestion.next_replay import ORDERS
from tactful.suggestion.replay import HEAD_LINES, Step, Tally, edit_file, type_file

# Sizes of the file typed into (its lines at the request), for the latency breakdown.
SIZES = ((0, "under_1000_lines"), (1000, "1000_to_4999_lines"), (5000, "5000_lines_or_more"))


class BenchError(Exception):
    """The repository cannot be replayed (not a repository, no commits to replay)."""


def add_parser(kinds: argparse._SubParsersAction) -> None:
    edits = kinds.add_parser(
        "edits", help="replay a git repository's commits as edits and measure inline completions"
    )
    edits.add_argument("repository", type=Path, help="a git repository (a checkout)")
    add_shared_options(edits)
    edits.add_argument(
        "--commits", type=int, default=20, help="replay a sample of N commits (0: all)"
    )
    edits.add_argument("--seed", type=int, default=0, help="seed of the commit sample")
    edits.add_argument(
        "--max-added",
        type=int,
        default=40,
        help="a hunk adding more lines than this is pasted, not typed (0: no limit)",
    )
    edits.add_argument(
        "--details",
        type=Path,
        default=None,
        metavar="FILE",
        help="write one JSON line per inline completion request to FILE (the line before the "
        "cursor, the text still to type, the text the hunk removed, what was shown, whether "
        "it was accepted)",
    )
    edits.add_argument(
        "--next",
        action="store_true",
        help="measure next edits (tactful/nextEdits after each hunk) instead of completions",
    )
    edits.add_argument(
        "--order",
        choices=ORDERS,
        default="imports_last",
        help="with --next: the order of a file's hunks (imports_last, the default: a file's "
        "import lines after its other hunks; top_down: as the file reads)",
    )
    edits.add_argument(
        "--max-hunks",
        type=int,
        default=50,
        help="with --next: leave out commits with more hunks than this (0: no limit)",
    )
    edits.add_argument(
        "--pad-lines",
        type=int,
        default=0,
        help="with --next: append other files of the repository to each replayed file until "
        "it has N lines (the latency of large files on the same edits)",
    )
    edits.add_argument(
        "--no-ruff-check",
        dest="check_ruff",
        action="store_false",
        help="with --next: do not run ruff on the shown items (the parse is still checked)",
    )
    edits.set_defaults(func=run)


# -- the repository -------------------------------------------------------------------------


def _git(repository: Path, *args: str, allow: str = "") -> str:
    """``git args`` in ``repository``, its configured programs off (git_safety.run_git) and
    no transport but ``allow``."""
    result = run_git(repository, *args, timeout=120, extra_env={"GIT_ALLOW_PROTOCOL": allow})
    if result.returncode != 0:
        raise BenchError(result.stderr.decode("utf-8", "replace").strip() or f"git {args[0]}")
    return result.stdout.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit to replay: its id, its first parent, and the files it changes that can be
    typed: ``modified`` (edited in place) and ``added`` (typed as new files)."""

    id: str
    parent: str
    modified: tuple[str, ...]
    added: tuple[str, ...]


def commits(repository: Path, count: int, seed: int) -> list[Commit]:
    """A seeded sample of ``count`` first-parent commits (0: all) that modify or add source
    files, oldest first."""
    listed = _git(repository, "rev-list", "--first-parent", "--parents", "HEAD").split("\n")
    found: list[Commit] = []
    for line in listed:
        ids = line.split()
        if len(ids) < 2:
            continue  # the root commit has no parent to start from
        commit, parent = ids[0], ids[1]
        fields = _git(
            repository, "diff", "--name-status", "--find-renames", "-z", parent, commit
        ).split("\0")
        modified, added = [], []
        position = 0
        while position + 1 < len(fields):
            kind, path = fields[position][:1], fields[position + 1]
            # A rename or a copy names two paths: the file moved, it was not written.
            position += 3 if kind in ("R", "C") else 2
            if not language_of_path(path):
                continue
            if kind == "M":
                modified.append(path)
            elif kind == "A":
                added.append(path)
        if modified or added:
            found.append(Commit(commit, parent, tuple(modified), tuple(added)))
    found.reverse()
    if count > 0 and count < len(found):
        chosen = set(random.Random(seed).sample(range(len(found)), count))
        found = [c for i, c in enumerate(found) if i in chosen]
    return found


def show(repository: Path, commit: str, path: str) -> str:
    """The text of ``path`` at ``commit``, decoded as the file declares (a Python file's coding
    cookie; UTF-8 otherwise), with ``\r\n`` line ends as ``\n``."""
    data = _git(repository, "show", f"{commit}:{path}").encode("utf-8", "surrogateescape")
    return decode_source(data, language_of_path(path)).replace("\r\n", "\n")


# -- what one run measured ------------------------------------------------------------------


@dataclass(slots=True)
class EditsTally:
    """In-context edits, new files, the first lines of new files, and latency by file size."""

    edits: Tally = field(default_factory=Tally)
    new_files: Tally = field(default_factory=Tally)
    new_files_head: Tally = field(default_factory=Tally)
    commits: int = 0
    by_size: dict[str, list[float]] = field(default_factory=dict)
    # Each replayed commit's in-context keystrokes and keystrokes saved, for the interval.
    by_commit: list[tuple[int, int]] = field(default_factory=list)

    def watch(self, step: Step) -> None:
        lines = step.typed.count("\n") + step.after.count("\n") + 1
        name = next(label for floor, label in reversed(SIZES) if lines >= floor)
        self.by_size.setdefault(name, []).append(step.latency_ms)

    def summary(self) -> dict[str, Any]:
        out = self.edits.summary()
        out["commits"] = self.commits
        out["keystrokes_saved_rate_interval"] = commit_interval(self.by_commit)
        out["new_files"] = self.new_files.summary()
        out[f"new_files_first_{HEAD_LINES}_lines"] = self.new_files_head.summary()
        by_size: dict[str, dict[str, Any]] = {}
        for _floor, name in SIZES:
            latencies = self.by_size.get(name)
            if latencies:
                part = Tally(latencies_ms=latencies).summary()["latency_ms"]
                assert isinstance(part, dict)  # the percentiles, by name
                by_size[name] = {"requests": len(latencies), **part}
        out["latency_ms_by_file_size"] = by_size
        return out


# The share of resampled commit sets whose rate falls inside the interval, how many are drawn,
# and the seed (the same commits give the same interval).
INTERVAL_LEVEL = 0.95
INTERVAL_DRAWS = 2000
INTERVAL_SEED = 0


def commit_interval(by_commit: list[tuple[int, int]]) -> dict[str, Any] | None:
    """How much the share of keystrokes saved rests on a few of the commits replayed: a
    percentile bootstrap over them (``by_commit``: each one's keystrokes and keystrokes saved),
    resampled whole, ``INTERVAL_LEVEL`` of the draws between ``low`` and ``high``. It speaks of
    these commits only: another sample of the history may fall outside it. None with fewer
    than two commits that typed anything."""
    parts = [(typed, saved) for typed, saved in by_commit if typed > 0]
    if len(parts) < 2:
        return None
    draw = random.Random(INTERVAL_SEED)
    rates = []
    for _ in range(INTERVAL_DRAWS):
        sample = draw.choices(parts, k=len(parts))
        rates.append(sum(saved for _, saved in sample) / sum(typed for typed, _ in sample))
    rates.sort()
    tail = (1 - INTERVAL_LEVEL) / 2
    return {
        "level": INTERVAL_LEVEL,
        "commits": len(parts),
        "low": round(rates[int(tail * (INTERVAL_DRAWS - 1))], 4),
        "high": round(rates[int((1 - tail) * (INTERVAL_DRAWS - 1))], 4),
    }


def clone_at(repository: Path, root: Path, commit: str) -> None:
    """A clone of ``repository`` in ``root``, checked out at ``commit``: the workspace a replay
    starts from. The repository named on the command line is the one transport let through
    (git_safety turns every transport off)."""
    _git(
        repository,
        *("clone", "--quiet", "--no-checkout", str(repository), str(root)),
        allow="file",
    )
    _git(root, "checkout", "--quiet", "--detach", commit)


async def _replay(
    repository: Path,
    chosen: list[Commit],
    engine: str,
    options: dict[str, Any],
    max_added: int,
    inspect: Any = None,
    details: TextIO | None = None,
) -> EditsTally:
    tally = EditsTally()
    run = _run_name(options)
    where = {"commit": "", "new_file": False}

    def watch(step: Step) -> None:
        tally.watch(step)
        if details is not None:
            details.write(json.dumps(_detail(engine, run, where, step)) + "\n")

    def setup(root: Path) -> None:
        clone_at(repository, root, chosen[0].parent)

    async def work(server: Any, root: Path) -> EditsTally:
        checked_out = chosen[0].parent
        touched: set[str] = set()
        for commit in chosen:
            touched |= _checkout(root, checked_out, commit.parent)
            server.watched(_file_events(root, touched))
            checked_out = commit.parent
            touched = set()
            where.update(commit=commit.id, new_file=False)
            typed, saved = tally.edits.keystrokes_total, tally.edits.keystrokes_saved
            for path in commit.modified:
                old = show(repository, commit.parent, path)
                new = show(repository, commit.id, path)
                language = language_of_path(path) or "plaintext"
                part = await edit_file(
                    server, path, old, new, language, max_added=max_added, watch=watch
                )
                tally.edits.merge(part)
                touched.add(path)
            tally.by_commit.append(
                (tally.edits.keystrokes_total - typed, tally.edits.keystrokes_saved - saved)
            )
            where["new_file"] = True
            for path in commit.added:
                new = show(repository, commit.id, path)
                language = language_of_path(path) or "plaintext"
                typist = await type_file(
                    server, path, new, language, watch=watch, head_lines=HEAD_LINES
                )
                tally.new_files.merge(typist.tally)
                if typist.head is not None:
                    tally.new_files_head.merge(typist.head)
                touched.add(path)
            tally.commits += 1
        return tally

    return await session(setup, engine, options, work, inspect, hide_typed=False)


# Characters of the text still to type and of the removed text kept in a detail line.
DETAIL_CHARS = 400


def _run_name(options: dict[str, Any]) -> str:
    """Which filter run ``options`` make (``off``, ``prior``, ``online``), as ``--filter``
    names them; ``default`` without ``--filter``."""
    setting = options.get("filter")
    if not isinstance(setting, dict) or "enabled" not in setting:
        return "default"
    if not setting["enabled"]:
        return "off"
    return "online" if setting.get("learn", True) else "prior"


def _detail(engine: str, run: str, where: dict[str, Any], step: Step) -> dict[str, Any]:
    """One request as ``--details`` writes it."""
    line_start = step.typed.rfind("\n") + 1
    return {
        "engine": engine,
        "run": run,
        "commit": where["commit"],
        "new_file": where["new_file"],
        "path": step.path,
        "row": step.typed.count("\n"),
        "line_before": step.typed[line_start:],
        "line_after": step.after.split("\n", 1)[0],
        "coming": step.coming[:DETAIL_CHARS],
        "removed": step.removed[:DETAIL_CHARS],
        "shown": step.offer.text if step.offer is not None else None,
        "accepted": step.accepted,
        "latency_ms": round(step.latency_ms, 3),
    }


def _checkout(root: Path, current: str, target: str) -> set[str]:
    """Check out ``target`` over whatever the replay wrote; the paths that differ."""
    changed = set()
    if current != target:
        names = _git(root, "diff", "--name-only", "-z", current, target).split("\0")
        changed = {name for name in names if name}
    _git(root, "checkout", "--quiet", "--force", "--detach", target)
    _git(root, "clean", "-q", "-f", "-d")
    return changed


def _file_events(root: Path, paths: set[str]) -> list[tuple[Path, types.FileChangeType]]:
    return [
        (
            root / path,
            types.FileChangeType.Changed
            if (root / path).exists()
            else types.FileChangeType.Deleted,
        )
        for path in sorted(paths)
    ]


# -- the command ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    repository: Path = args.repository.resolve()
    try:
        options = parse_settings(args.setting)
        if not (repository / ".git").exists():
            raise BenchError(f"{args.repository} is not a git repository")
        chosen = commits(repository, args.commits if not args.next else 0, args.seed)
        if args.next:
            if args.filter or args.engine:
                raise BenchError("--next measures the local next edits: no --filter, --engine")
            chosen = [c for c in chosen if any(language_of_path(p) == "python" for p in c.modified)]
            if 0 < args.commits < len(chosen):
                picked = set(random.Random(args.seed).sample(range(len(chosen)), args.commits))
                chosen = [c for i, c in enumerate(chosen) if i in picked]
        if not chosen:
            raise BenchError(f"no commit of {args.repository} changes source files")
    except Exception as error:  # a usage error or git's own complaint
        print(f"tactful bench: {error}", file=sys.stderr)
        return 2
    if args.next:
        from tactful.server.cli.bench_next import run_next

        return run_next(args, repository, chosen, options)
    with args.details.open("w", encoding="utf-8") if args.details else nullcontext() as details:
        return _run_completions(args, repository, chosen, options, details)


def _run_completions(
    args: argparse.Namespace,
    repository: Path,
    chosen: list[Commit],
    options: dict[str, Any],
    details: TextIO | None,
) -> int:
    report: dict[str, Any] = {
        "repository": str(args.repository),
        "commits": [c.id for c in chosen],
        "engines": {},
    }
    for engine in args.engine or ["local"]:

        def one(opts: dict[str, Any], inspect: Any = None, engine: str = engine) -> EditsTally:
            return asyncio.run(
                _replay(repository, chosen, engine, opts, args.max_added, inspect, details)
            )

        if args.filter:
            runs = filter_runs(args.filter, one, options)
            report["engines"][engine] = part_effects(runs, f"new_files_first_{HEAD_LINES}_lines")
        else:
            report["engines"][engine] = one(options).summary()
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for engine, summary in report["engines"].items():
        if args.filter:
            print(filter_text(engine, summary, f"new_files_first_{HEAD_LINES}_lines"))
            continue
        print(_text(engine, summary))
    return 0


def _text(engine: str, summary: dict[str, Any]) -> str:
    def line(name: str, part: dict[str, Any]) -> str:
        if not part["requests"]:
            # Nothing of this kind in the commits replayed: no rate, no latency to speak of.
            return f"  {name}: none typed"
        latency = part["latency_ms"]
        return (
            f"  {name}: {part['keystrokes']} keystrokes, saved "
            f"{100 * part['keystrokes_saved_rate']:.1f}%, acceptance "
            f"{100 * part['acceptance_rate']:.1f}% of {part['shown']} shown, latency p50 "
            f"{latency['p50']} ms p99 {latency['p99']} ms"
        )

    lines = [f"{engine}: {summary['commits']} commits"]
    lines.append(line("in-context edits", summary))
    interval = summary.get("keystrokes_saved_rate_interval")
    if interval is not None:
        lines.append(f"    {interval_text(interval)}")
    lines.append(line("new files", summary["new_files"]))
    head = f"new_files_first_{HEAD_LINES}_lines"
    lines.append(line(f"first {HEAD_LINES} lines of new files", summary[head]))
    for name, latency in summary["latency_ms_by_file_size"].items():
        lines.append(
            f"  latency in files of {name.replace('_', ' ')}: {latency['requests']} requests, "
            f"p50 {latency['p50']} ms p99 {latency['p99']} ms"
        )
    return "\n".join(lines)

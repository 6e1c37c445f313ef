"""Replay a repository's real commits against the next-edit engine in this process.

The replay of record is ``tactful bench edits REPO --next`` (through the server over stdio).
This runs the same replay (``tactful.suggestion.next_replay.replay_commit``: the same hunks,
typing, scoring and tallies) against a ``NextEditEngine`` made here for each commit, without
the server's pipeline (no item model, no feedback store, no review beside it): quicker, for
tuning a proposer. ``--oracle`` shows, instead of the engine's answer, the first correct
candidate among the 50 best the proposers found, whatever its score: the proposers' ceiling.

    python -P benchmarks/next_edits.py REPO [--commits N] [--seed S] [--max-hunks 50]
        [--pad-lines 5000] [--order top_down|imports_last] [--threshold P] [--oracle]
        [--format text|json]

REPO is a git repository, e.g. one rebuilt from ../shared/data/histories/ with
../shared/tools/history_rebuild.py. ruff reads the configuration of REPO's working tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tactful.analyzers import ruff
from tactful.analyzers.text import Point, TextChange
from tactful.feedback.acceptance.cascade import Decision
from tactful.feedback.acceptance.next_edits import NextEditItem, NextEditModel
from tactful.feedback.next_edits import JUDGED
from tactful.suggestion.next_edits import (
    EditHistory,
    NextEdit,
    NextEditEngine,
    NextEditOptions,
    WorkspaceFiles,
)
from tactful.suggestion.next_replay import (
    ORDERS,
    Hunk,
    NextTally,
    Proposal,
    correct,
    finding_key,
    hunk_kinds,
    hunks_of,
    opcodes,
    ordered,
    padded,
    replay_commit,
    touches,
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        check=False,
    )
    return done.stdout


def blobs(repo: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """Texts of files at a commit, read with one ``git cat-file --batch``."""
    request = "".join(f"{commit}:{path}\n" for path in paths)
    done = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input=request.encode(),
        capture_output=True,
        check=False,
    )
    out = done.stdout
    texts: dict[str, str] = {}
    position = 0
    for path in paths:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        texts[path] = out[position : position + size].decode("utf-8", "surrogateescape")
        position += size + 1
    return texts


def point(text: str, offset: int) -> Point:
    return Point(text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1))


def offset(text: str, at: Point) -> int:
    start = 0
    for _ in range(at.line):
        start = text.index("\n", start) + 1
    return start + at.column


class EngineNextEdits:
    """A ``NextEditClient`` over an engine in this process, for one commit."""

    def __init__(
        self,
        repo: Path,
        workspace_texts: dict[str, str],
        args: argparse.Namespace,
        model: NextEditModel | None = None,
    ):
        self.repo = repo
        # ``--item-model``: the server's item model for next edits, judging and learning as the
        # server's pipeline does (one model for the whole replay, as one workspace's).
        self.model = model
        self.decisions: dict[str, Decision] = {}
        self.args = args
        self.history = EditHistory()
        options = NextEditOptions(limit=1)
        if args.threshold is not None:
            options = replace(options, threshold=args.threshold)
        workspace = WorkspaceFiles(repo, files=lambda: list(workspace_texts.items()))
        self.engine = NextEditEngine(self.history, workspace, root=repo, options=options)
        self.texts: dict[str, str] = {}
        self.finals: dict[str, str] = {}
        self.shown: dict[str, NextEdit] = {}
        self.rejected: set[tuple[str, int, int, int, int, str]] = set()
        # ``--why``: the commit's hunks, what each request offered for each hunk still to
        # make, and the hunks accepted next edits completed.
        self.hunks: list[Hunk] = []
        self.seen: dict[Hunk, list[dict[str, object]]] = {}
        self.pending: list[Hunk] = []
        self.covered: set[Hunk] = set()

    def uri(self, path: str) -> str:
        return (self.repo / path).as_uri()

    async def open(self, path: str, text: str) -> None:
        self.texts[path] = text
        self.history.open(self.uri(path), text, "python", str(self.repo / path))

    async def replace(self, path: str, start: int, end: int, text: str) -> None:
        old = self.texts[path]
        change = TextChange(text, point(old, start), point(old, end))
        self.texts[path] = old[:start] + text + old[end:]
        self.history.change(self.uri(path), [change])

    async def next_edits(self, path: str, at: int) -> list[Proposal]:
        uri, cursor = self.uri(path), point(self.texts[path], at)
        if self.args.oracle:
            items = []
            for candidate in self.engine.propose(uri, cursor, exclude=self.rejected)[:50]:
                found = self._proposal(candidate)
                if (
                    found.path is not None
                    and correct(found, self.texts[found.path], self.finals[found.path])[0]
                ):
                    items = [candidate]
                    break
        elif self.model is not None:
            items = self._judged(uri, cursor)
        else:
            items = self.engine.suggest(uri, cursor, exclude=self.rejected)
        if self.args.dump:
            self._dump(uri, cursor, items)
        if self.args.why:
            self._observe(uri, cursor, items)
        return [self._proposal(item) for item in items]

    def _judged(self, uri: str, cursor: Point) -> list[NextEdit]:
        """As the server's pipeline: the best candidates judged by the item model (one
        exploration draw an answer), the kept ones then the explored one checked, best first."""
        assert self.model is not None
        kept: list[NextEdit] = []
        explored: list[NextEdit] = []
        drawn = False
        self.decisions = {}
        for candidate in self.engine.propose(uri, cursor, exclude=self.rejected)[:JUDGED]:
            item = NextEditItem(
                candidate.source,
                candidate.score,
                tuple((f.name, f.value) for f in candidate.evidence),
                "python",
            )
            decision = self.model.judge(item, not drawn)
            drawn = drawn or decision.explored or not decision.show
            if decision.show:
                (explored if decision.explored else kept).append(candidate)
                self.decisions[candidate.key] = decision
        return self.engine.checked(kept + explored, 1)[:1]

    def _done(self, hunk: Hunk) -> bool:
        ops = opcodes(self.texts[hunk.path], self.finals[hunk.path])
        return not any(touches(op, hunk) for op in ops)

    def _observe(self, uri: str, cursor: Point, shown: list[NextEdit]) -> None:
        """For each hunk still to make, the best candidate that would make it (applied alone,
        the hunk's lines stand as the commit has them), how it scored and what the checks said
        of it."""
        self.pending = [h for h in self.hunks if not self._done(h)]
        if not self.pending:
            return
        shown_key = shown[0].key if shown else None
        found: dict[Hunk, dict[str, object]] = {}
        for rank, item in enumerate(self.engine.propose(uri, cursor, exclude=self.rejected)):
            if rank >= 50 or len(found) == len(self.pending):
                break
            proposal = self._proposal(item)
            if proposal.path is None:
                continue
            text, final = self.texts[proposal.path], self.finals[proposal.path]
            after = text[: proposal.start] + proposal.new_text + text[proposal.end :]
            ops = opcodes(after, final)
            for hunk in self.pending:
                if hunk in found or hunk.path != proposal.path:
                    continue
                if any(touches(op, hunk) for op in ops):
                    continue
                ok = correct(proposal, text, final)[0]
                verdict = ""
                if item.score >= self.engine.options.threshold and item.key != shown_key:
                    verdicts = self.engine.check([item], 1)
                    verdict = " ".join([verdicts[0].reason, *verdicts[0].rules]) if verdicts else ""
                found[hunk] = {
                    "rank": rank,
                    "score": item.score,
                    "source": item.source,
                    "label": item.label,
                    "correct": ok,
                    "shown": item.key == shown_key,
                    "verdict": verdict,
                    "request_in": Path(uri).name,
                    "shown_instead": shown[0].label if shown and item.key != shown_key else "",
                }
        for hunk in self.pending:
            self.seen.setdefault(hunk, []).append(found.get(hunk, {}))

    def _dump(self, uri: str, cursor: Point, shown: list[NextEdit]) -> None:
        """The best candidates (unchecked, before the threshold), each with its evidence, and
        whether it was correct and shown: what a bar for a source is tuned on."""
        keys = {item.key for item in shown[:1]}
        with open(self.args.dump, "a", encoding="utf-8") as out:
            for rank, item in enumerate(self.engine.propose(uri, cursor, exclude=self.rejected)):
                if rank >= 8:
                    break
                found = self._proposal(item)
                ok = (
                    found.path is not None
                    and correct(found, self.texts[found.path], self.finals[found.path])[0]
                )
                verdict = ""
                if item.score >= self.engine.options.threshold and rank < 3:
                    # Why a candidate good enough to show was (or was not) shown.
                    verdicts = self.engine.check([item], 1)
                    verdict = " ".join([verdicts[0].reason, *verdicts[0].rules]) if verdicts else ""
                row = {
                    "rank": rank,
                    "verdict": verdict,
                    "source": item.source,
                    "score": item.score,
                    "label": item.label,
                    "correct": ok,
                    "shown": item.key in keys,
                    "same_file": item.uri == uri,
                    **{f"f_{feature.name}": feature.value for feature in item.evidence},
                }
                out.write(json.dumps(row) + "\n")

    def _proposal(self, item: NextEdit) -> Proposal:
        path = next((p for p in self.texts if self.uri(p) == item.uri), None)
        key = str(len(self.shown))
        self.shown[key] = item
        if path is None:
            return Proposal(key, None, 0, 0, item.new_text, item.source, item.label)
        text = self.texts[path]
        return Proposal(
            key,
            path,
            offset(text, item.span.start),
            offset(text, item.span.end),
            item.new_text,
            item.source,
            item.label,
        )

    async def accept(self, proposal: Proposal) -> None:
        self._learn(proposal, True)
        if self.args.why:
            self.covered.update(h for h in self.pending if self._done(h))

    async def reject(self, proposal: Proposal) -> None:
        self._learn(proposal, False)
        item = self.shown[proposal.id]
        self.rejected.add(item.key)
        self.engine.dismiss(item)

    def _learn(self, proposal: Proposal, accepted: bool) -> None:
        decision = self.decisions.get(self.shown[proposal.id].key)
        if self.model is not None and decision is not None:
            self.model.learn(decision, accepted)

    async def close(self, path: str, text: str) -> None:
        self.history.close(self.uri(path))


class Rules:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.known: dict[tuple[str, str], Counter[str]] = {}

    def __call__(self, text: str, path: str) -> Counter[str]:
        if (path, text) not in self.known:
            findings = ruff.check_text(text, self.repo / path, self.repo)
            self.known[(path, text)] = Counter(finding_key(f) for f in findings)
            if len(self.known) > 32:
                self.known.pop(next(iter(self.known)))
        return self.known[(path, text)]


def _padding(texts: dict[str, str], exclude: set[str], lines: int) -> str:
    pieces: list[str] = []
    count = 0
    for path in sorted(texts):
        if path in exclude:
            continue
        pieces.append(texts[path])
        count += texts[path].count("\n")
        if count >= lines:
            break
    return "\n\n" + "\n".join(pieces)


async def replay(repo: Path, commits: list[str], args: argparse.Namespace) -> NextTally:
    tally = NextTally()
    rules = Rules(repo) if args.check_ruff else None
    model = None
    if args.item_model:
        weight = {} if args.explored_weight is None else {"explored_weight": args.explored_weight}
        model = NextEditModel(explore=args.explore, seed=1, **weight)
    for number, commit in enumerate(commits):
        parent = commit + "^"
        changed = [
            line.split("\t")[-1]
            for line in git(repo, "diff", "--name-status", parent, commit).splitlines()
            if line.startswith("M") and line.endswith(".py")
        ]
        if not changed:
            continue
        listed = git(repo, "ls-tree", "-r", "--name-only", parent).split("\n")
        parent_texts = blobs(repo, parent, [p for p in listed if p.endswith(".py")])
        final_texts = blobs(repo, commit, changed)
        files = {p: (parent_texts[p], final_texts[p]) for p in changed if p in final_texts}
        if args.pad_lines:
            padding = _padding(parent_texts, set(files), args.pad_lines)
            files = {
                p: (padded(old, padding, args.pad_lines), padded(new, padding, args.pad_lines))
                for p, (old, new) in files.items()
            }
        others = {p: t for p, t in parent_texts.items() if p not in files}
        client = EngineNextEdits(repo, others, args, model)
        client.finals = {p: new for p, (_old, new) in files.items()}
        if args.why:
            client.hunks = ordered(
                [h for path, (old, new) in files.items() for h in hunks_of(path, old, new)],
                files,
                args.order,
            )
        replayed = await replay_commit(
            client, files, tally, rules=rules, order=args.order, max_hunks=args.max_hunks
        )
        if args.why and replayed and client.hunks:
            _why(client, files, commit, args.why)
        if args.verbose and number % 20 == 0:
            print(f"{number}/{len(commits)} {json.dumps(tally.summary())}", file=sys.stderr)
    return tally


def why_not(seen: list[dict[str, object]]) -> str:
    """Why a hunk no accepted next edit completed, from what the requests before it was made
    offered for it: the nearest a request came to showing it."""
    if not seen:
        return "no request while it was still to make"
    offered = [s for s in seen if s]
    if not offered:
        return "no candidate"
    if any(s["shown"] and not s["correct"] for s in offered):
        return "shown, not correct by the replay's rule"
    above = [s for s in offered if s["verdict"]]
    if any(s["verdict"] == "passed" for s in above):
        return "a candidate, another shown first"
    if above:
        return "rejected by the checks: " + str(above[0]["verdict"])
    return "a candidate, under the bar"


def _why(
    client: EngineNextEdits, files: dict[str, tuple[str, str]], commit: str, out_path: str
) -> None:
    kinds = hunk_kinds(client.hunks, files)
    with open(out_path, "a", encoding="utf-8") as out:
        for hunk, kind in list(zip(client.hunks, kinds, strict=True))[1:]:
            seen = client.seen.get(hunk, [])
            offered = [s for s in seen if s]
            row = {
                "commit": commit[:10],
                "path": hunk.path,
                "lines": [hunk.first, hunk.last],
                "kind": kind,
                "covered": hunk in client.covered,
                "requests": len(seen),
                "why": "" if hunk in client.covered else why_not(seen),
                "best": max(offered, key=lambda s: float(str(s["score"]))) if offered else None,
            }
            out.write(json.dumps(row) + "\n")
    client.seen.clear()


def _modifies_python(repo: Path, commit: str) -> bool:
    listed = git(repo, "diff", "--name-status", "--find-renames", commit + "^", commit)
    return any(line.startswith("M") and line.endswith(".py") for line in listed.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--commits", type=int, default=0, help="sample this many (0: all)")
    parser.add_argument("--only", action="append", default=[], help="replay these commits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-hunks", type=int, default=50, help="skip larger commits")
    parser.add_argument("--pad-lines", type=int, default=0)
    parser.add_argument("--order", choices=ORDERS, default="imports_last")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--no-ruff-check", dest="check_ruff", action="store_false")
    parser.add_argument("--oracle", action="store_true")
    parser.add_argument("--dump", help="append the best candidates of every request (JSON lines)")
    parser.add_argument(
        "--item-model",
        action="store_true",
        help="judge the candidates with the server's item model for next edits, learning",
    )
    parser.add_argument("--explore", type=float, default=0.05, help="with --item-model")
    parser.add_argument(
        "--explored-weight", type=float, default=None, help="with --item-model (default: its own)"
    )
    parser.add_argument(
        "--why", help="append each hunk after a commit's first, and why no next edit made it"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    commits = git(repo, "rev-list", "--first-parent", "--reverse", "HEAD").split()[1:]
    if args.only:
        commits = [c for c in commits if any(c.startswith(o) for o in args.only)]
    else:
        # The commits that modify Python files, sampled as ``bench edits --next`` samples them.
        commits = [c for c in commits if _modifies_python(repo, c)]
        if 0 < args.commits < len(commits):
            picked = set(random.Random(args.seed).sample(range(len(commits)), args.commits))
            commits = [c for i, c in enumerate(commits) if i in picked]
    started = time.monotonic()
    tally = asyncio.run(replay(repo, commits, args))
    summary = {"repo": str(repo), **tally.summary(), "seconds": round(time.monotonic() - started)}
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

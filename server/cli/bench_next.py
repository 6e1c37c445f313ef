"""``tactful bench edits REPO --next``: next edits measured on real commits, through the server.

Boundary: part of the bench command (a language client). It starts ``tactful serve`` over stdio
in a clone of REPO, as ``bench edits`` does, and for each sampled commit checks out its parent
and replays the commit's changes to its modified Python files with
``tactful.suggestion.next_replay.replay_commit``: each file opened as it was (``didOpen``), each
hunk typed chunk by chunk (one ranged ``didChange`` each), then ``tactful/nextEdits`` asked at
its end. The first item is what the editor shows: a correct one is applied (``didChange``) and
``tactful.acceptSuggestion`` run, any other ``tactful.rejectSuggestion``. Inline completions are
not asked for: only next edits are measured. Latency is the client's round trip.

Output (``--format json``, documented in docs/bench.md): the replay's summary
(``NextTally.summary``) with the repository, the commits and the options of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from lsprotocol import types

from tactful.analyzers import ruff
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.text import column_from_units
from tactful.server.cli.bench import session
from tactful.server.cli.bench_edits import _checkout, _file_events, _git, clone_at, show
from tactful.server.features.inline_completion import ACCEPT, REJECT
from tactful.server.features.next_edits import METHOD
from tactful.suggestion.next_replay import (
    NextTally,
    Proposal,
    finding_key,
    padded,
    replay_commit,
)

# Who commits the padded files in the workspace (a scratch clone).
_IDENTITY = ("-c", "user.name=tactful bench", "-c", "user.email=bench@localhost")


class _Document:
    """The client's copy of one open document: its text and version."""

    def __init__(self, uri: str, text: str) -> None:
        self.uri = uri
        self.text = text
        self.version = 1

    def position(self, offset: int) -> types.Position:
        start = self.text.rfind("\n", 0, offset) + 1
        line = self.text.count("\n", 0, offset)
        return types.Position(line=line, character=_utf16(self.text[start:offset]))

    def offset(self, line: int, character: int) -> int:
        start = 0
        for _ in range(line):
            found = self.text.find("\n", start)
            if found < 0:
                return len(self.text)
            start = found + 1
        end = self.text.find("\n", start)
        end = len(self.text) if end < 0 else end
        return start + column_from_units(self.text[start:end], character, "utf-16")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class ServerNextEdits:
    """The server as the replay's ``NextEditClient``: edits, requests, accepts and dismissals
    sent as an editor sends them."""

    def __init__(self, client: Any, root: Path) -> None:
        self.client = client
        self.root = root
        self.documents: dict[str, _Document] = {}
        self.paths: dict[str, str] = {}

    async def open(self, path: str, text: str) -> None:
        uri = (self.root / path).as_uri()
        self.documents[path] = _Document(uri, text)
        self.paths[uri] = path
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )

    async def replace(self, path: str, start: int, end: int, text: str) -> None:
        document = self.documents[path]
        first, last = document.position(start), document.position(end)
        document.text = document.text[:start] + text + document.text[end:]
        document.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=document.uri, version=document.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=first, end=last), text=text
                    )
                ],
            )
        )

    async def next_edits(self, path: str, offset: int) -> list[Proposal]:
        document = self.documents[path]
        position = document.position(offset)
        answer = await self.client.protocol.send_request_async(
            METHOD,
            {
                "textDocument": {"uri": document.uri},
                "position": {"line": position.line, "character": position.character},
            },
        )
        proposals = []
        for item in answer.items:
            target = self.paths.get(item.uri)
            start = end = 0
            if target is not None:
                shown = self.documents[target]
                start = shown.offset(item.range.start.line, item.range.start.character)
                end = shown.offset(item.range.end.line, item.range.end.character)
            proposals.append(
                Proposal(
                    str(item.id),
                    target,
                    start,
                    end,
                    item.newText,
                    str(getattr(item, "source", "") or ""),
                    str(item.label),
                )
            )
        return proposals

    async def accept(self, proposal: Proposal) -> None:
        await self._command(ACCEPT, proposal.id)

    async def reject(self, proposal: Proposal) -> None:
        await self._command(REJECT, proposal.id)

    async def _command(self, name: str, suggestion: str) -> None:
        await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[suggestion])
        )

    async def close(self, path: str, text: str) -> None:
        document = self.documents.pop(path)
        self.paths.pop(document.uri, None)
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=document.uri)
            )
        )


class RuffRules:
    """ruff's rules on a text, counted, with the project's configuration; the latest texts'
    counts kept (a text is asked about before and after each shown item)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.known: dict[tuple[str, str], Counter[str]] = {}

    def __call__(self, text: str, path: str) -> Counter[str]:
        key = (path, text)
        if key not in self.known:
            findings = ruff.check_text(text, self.root / path, self.root)
            self.known[key] = Counter(finding_key(f) for f in findings)
            if len(self.known) > 32:
                self.known.pop(next(iter(self.known)))
        return self.known[key]


def _padding(root: Path, exclude: set[str], lines: int) -> str:
    """Other Python files of the checkout, joined, up to ``lines`` lines."""
    listed = _git(root, "ls-files", "-z", "--", "*.py")
    pieces: list[str] = []
    count = 0
    for path in sorted(name for name in listed.split("\0") if name and name not in exclude):
        text = (root / path).read_text(encoding="utf-8", errors="replace")
        pieces.append(text)
        count += text.count("\n")
        if count >= lines:
            break
    return "\n\n" + "\n".join(pieces)


async def replay_next(
    repository: Path,
    chosen: list[Any],
    options: dict[str, Any],
    args: argparse.Namespace,
) -> NextTally:
    """Replay the chosen commits (``bench_edits.Commit``) through a fresh server."""
    tally = NextTally()

    def setup(root: Path) -> None:
        clone_at(repository, root, chosen[0].parent)

    async def work(server: Any, root: Path) -> NextTally:
        client = ServerNextEdits(server.client, root)
        rules = RuffRules(root) if args.check_ruff else None
        checked_out = chosen[0].parent
        touched: set[str] = set()
        for commit in chosen:
            touched |= _checkout(root, checked_out, commit.parent)
            server.watched(_file_events(root, touched))
            checked_out = commit.parent
            paths = [p for p in commit.modified if language_of_path(p) == "python"]
            files = {
                p: (show(repository, commit.parent, p), show(repository, commit.id, p))
                for p in paths
            }
            if args.pad_lines and files:
                padding = _padding(root, set(files), args.pad_lines)
                files = {
                    p: (
                        padded(old, padding, args.pad_lines),
                        padded(new, padding, args.pad_lines),
                    )
                    for p, (old, new) in files.items()
                }
                # The padded files are committed in the workspace, so that what the server
                # sees changed (review, the changed lines) is the commit's hunks, as for a
                # developer editing a large file, not the padding.
                for path, (old, _new) in files.items():
                    (root / path).write_text(old, encoding="utf-8")
                _git(
                    root,
                    *_IDENTITY,
                    "commit",
                    "--quiet",
                    "--no-verify",
                    "--allow-empty",
                    "-a",
                    "-m",
                    "padded",
                )
                checked_out = _git(root, "rev-parse", "HEAD").strip()
                server.watched(_file_events(root, set(files)))
            await replay_commit(
                client,
                files,
                tally,
                rules=rules,
                order=args.order,
                max_hunks=args.max_hunks,
                max_added=args.max_added,
            )
            # The files as the commit has them, on disk (what the next checkout starts from).
            for path in paths:
                (root / path).write_text(show(repository, commit.id, path), encoding="utf-8")
            touched = set(paths)
            server.watched(_file_events(root, touched))
        return tally

    return await session(setup, "local", options, work, hide_typed=False)


def run_next(
    args: argparse.Namespace, repository: Path, chosen: list[Any], options: dict[str, Any]
) -> int:
    tally = asyncio.run(replay_next(repository, chosen, options, args))
    report: dict[str, Any] = {
        "repository": str(args.repository),
        "commits": [c.id for c in chosen],
        "order": args.order,
        "pad_lines": args.pad_lines,
        "max_hunks": args.max_hunks,
        **tally.summary(),
    }
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(_text(report))
    return 0


def _text(report: dict[str, Any]) -> str:
    latency = report["latency_ms"]
    lines = [
        f"next edits: {report['commits_replayed']} commits replayed "
        f"({report['skipped_commits']} skipped: more than {report['max_hunks']} hunks), "
        f"{report['hunks_after_first']} hunks after a commit's first",
        f"  precision {100 * report['precision']:.1f}% ({report['correct']} correct of "
        f"{report['shown']} shown, {report['requests']} requests)",
        f"  coverage {100 * report['coverage']:.2f}% ({report['covered']} hunks completed by "
        "accepted next edits)",
        f"  shown items that break the parse: {report['broken_parse']}, that add a ruff "
        f"finding: {report['new_ruff_findings']}",
        f"  latency p50 {latency['p50']} ms p95 {latency['p95']} ms p99 {latency['p99']} ms"
        if report["requests"]
        else "  no request made",
    ]
    for name, part in report["latency_ms_by_document_size"].items():
        lines.append(
            f"  latency in documents of {name.replace('_', ' ')}: {part['requests']} requests, "
            f"p50 {part['p50']} ms p95 {part['p95']} ms"
        )
    for source, part in report["by_source"].items():
        lines.append(
            f"  {source}: {part['correct']} correct of {part['shown']} shown "
            f"({100 * part['precision']:.1f}%)"
        )
    lines.extend(f"  {problem}" for problem in report["problems"])
    return "\n".join(lines)

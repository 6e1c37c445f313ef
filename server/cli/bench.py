"""``tactful bench completion CORPUS``: replay real files as typing through the real server.

Boundary: a language client. It copies CORPUS to a temporary workspace, starts ``tactful serve``
over stdio with its own user directories (so nothing reaches the user's feedback store or
caches), waits for the index, then types sampled files top to bottom with the replay's typing
loop (``suggestion/replay.py``), the server being the ``Completer``: each typed file is deleted
from the workspace copy first (and the server told with ``workspace/didChangeWatchedFiles``) so
it cannot leak into its own suggestions; every chunk is a ``didChange``; an
``inlineCompletion`` request follows each chunk; an item is accepted when the text that follows
starts with it, then inserted as one edit and ``tactful.acceptSuggestion`` is executed, as an
editor does. Latency is the client's round trip.

Output (``--format json``, documented in docs/bench.md): one summary per engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from tactful.analyzers.index import encode_source
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.text import column_from_units
from tactful.server.cli import UsageError
from tactful.server.cli.bench_filter import filter_runs, filter_text, merged, part_effects
from tactful.server.features.status import METHOD as STATUS
from tactful.suggestion.replay import HEAD_LINES, Offer, Tally, replay, sample_files

ENGINES = ("local", "llm", "auto")
HEAD = f"first_{HEAD_LINES}_lines"
T = TypeVar("T")
INDEX_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 60.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench")
    kinds = parser.add_subparsers(dest="bench", metavar="KIND")
    completion = kinds.add_parser(
        "completion", help="replay files as typing and measure inline completions"
    )
    completion.add_argument("corpus", type=Path, help="a folder of source code")
    add_shared_options(completion)
    completion.add_argument("--files", type=int, default=0, help="type at most N files (0: all)")
    completion.add_argument(
        "--max-seconds", type=float, default=0.0, help="stop typing after this long per engine"
    )
    completion.add_argument("--seed", type=int, default=0, help="seed of the file sample")
    completion.add_argument(
        "--language", action="append", help="only files of this language (e.g. python)"
    )
    completion.set_defaults(func=run)
    # Imported here: it builds on this module's server session.
    from tactful.server.cli import bench_edits

    bench_edits.add_parser(kinds)
    parser.set_defaults(func=lambda args: _usage(parser))


def add_shared_options(parser: argparse.ArgumentParser) -> None:
    """The options every kind of bench takes: engines, output, the filter, settings."""
    parser.add_argument(
        "--engine",
        action="append",
        choices=ENGINES,
        help="engine to measure (repeat for several; default: local)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--filter",
        choices=("on", "off", "compare"),
        help="the acceptance filter: on (prior and online learning), off (show everything), or "
        "compare: replay off, on with the prior only, and on with online learning, and report "
        "what the filter hid, lost and cost",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="a server setting for the run, e.g. completion.maxLines=4",
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    corpus: Path = args.corpus
    if not corpus.is_dir():
        print(f"tactful bench: {corpus} is not a folder", file=sys.stderr)
        return 2
    try:
        options = parse_settings(args.setting)
    except UsageError as error:
        print(f"tactful bench: {error}", file=sys.stderr)
        return 2
    files = sample_files(corpus.resolve(), args.files, args.seed, args.language)
    if not files:
        print(f"tactful bench: no source files in {corpus}", file=sys.stderr)
        return 2
    report: dict[str, Any] = {"corpus": str(corpus), "files": files, "engines": {}}
    for engine in args.engine or ["local"]:
        if args.filter:

            def replay_engine(
                opts: dict[str, Any], inspect: Callable[[Path], None], e: str = engine
            ) -> FilesTally:
                return asyncio.run(
                    _replay(corpus.resolve(), files, e, opts, args.max_seconds, inspect)
                )

            runs = filter_runs(args.filter, replay_engine, options)
            report["engines"][engine] = part_effects(runs, HEAD)
            continue
        tally = asyncio.run(_replay(corpus.resolve(), files, engine, options, args.max_seconds))
        report["engines"][engine] = tally.summary()
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for engine, summary in report["engines"].items():
            if args.filter:
                print(filter_text(engine, summary, HEAD))
                continue
            latency = summary["latency_ms"]
            head = summary[HEAD]
            print(
                f"{engine}: {summary['files']} files, {summary['keystrokes']} keystrokes, "
                f"saved {100 * summary['keystrokes_saved_rate']:.1f}%, "
                f"acceptance {100 * summary['acceptance_rate']:.1f}% of "
                f"{summary['shown']} shown, latency p50 {latency['p50']} ms "
                f"p99 {latency['p99']} ms; first {HEAD_LINES} lines of each file: "
                f"{head['keystrokes']} keystrokes, saved "
                f"{100 * head['keystrokes_saved_rate']:.1f}%, acceptance "
                f"{100 * head['acceptance_rate']:.1f}% of {head['shown']} shown"
            )
    return 0


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--setting expects KEY=VALUE, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = options
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return options


class ReplayError(Exception):
    """The server was sent something other than what the replay measures (a defect of the
    bench, never of the server)."""


class _Client(LanguageClient):
    """A client that follows ``$/progress`` so the bench can wait for the index, and
    ``tactful/status`` so it can wait for a configured LLM to start."""

    def __init__(self) -> None:
        super().__init__("tactful-bench", "1")
        self.titles: dict[str, str] = {}
        self.finished: set[str] = set()
        self.llm_state: str | None = None

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.feature(types.PROGRESS)
        def on_progress(params: types.ProgressParams) -> None:
            value = params.value
            kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
            token = str(params.token)
            if kind == "begin":
                title = (
                    value.get("title") if isinstance(value, dict) else getattr(value, "title", "")
                )
                self.titles[token] = str(title)
            elif kind == "end" and "index" in self.titles.get(token, ""):
                self.finished.add(token)

        @self.feature(types.WINDOW_LOG_MESSAGE)
        def log(params: types.LogMessageParams) -> None:
            return None

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def show(params: types.ShowMessageParams) -> None:
            return None

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics(params: types.PublishDiagnosticsParams) -> None:
            return None

        @self.feature(STATUS)
        def status(params: object) -> None:
            llm = getattr(params, "llm", None)
            self.llm_state = getattr(llm, "state", None) if llm is not None else None


@dataclass(slots=True)
class FilesTally:
    """New files typed top to bottom, and the first ``HEAD_LINES`` lines of each of them."""

    files: Tally = field(default_factory=Tally)
    head: Tally = field(default_factory=Tally)

    def summary(self) -> dict[str, Any]:
        out = self.files.summary()
        out[HEAD] = self.head.summary()
        return out


async def _replay(
    corpus: Path,
    files: list[str],
    engine: str,
    options: dict[str, Any],
    max_seconds: float,
    inspect: Callable[[Path], None] | None = None,
) -> FilesTally:
    async def work(server: _Server, root: Path) -> FilesTally:
        tally = FilesTally()
        tally.files = await replay(server, root, files, seconds=max_seconds, head=tally.head)
        return tally

    def copy(root: Path) -> None:
        shutil.copytree(corpus, root, symlinks=True)

    return await session(copy, engine, options, work, inspect)


async def session(
    setup: Callable[[Path], None],
    engine: str,
    options: dict[str, Any],
    work: Callable[[_Server, Path], Awaitable[T]],
    inspect: Callable[[Path], None] | None = None,
    *,
    hide_typed: bool = True,
) -> T:
    """Run ``work`` against a fresh ``tactful serve`` over stdio in a temporary workspace that
    ``setup`` fills, with private user directories; ``inspect`` reads those once the server
    exited. ``hide_typed``: a file opened for typing leaves the workspace first (new files)."""
    with tempfile.TemporaryDirectory(prefix="tactful-bench-") as scratch:
        base = Path(scratch)
        root = base / "workspace"
        setup(root)
        env = dict(os.environ)
        for name in ("CONFIG", "DATA", "CACHE", "STATE"):
            folder = base / "xdg" / name.lower()
            folder.mkdir(parents=True)
            env[f"XDG_{name}_HOME"] = str(folder)
        client = _Client()
        # ``-P``: the corpus is the working directory, and its own modules (a ``logging.py``)
        # must not shadow the standard library's in the server.
        await client.start_io(
            sys.executable, "-P", "-m", "tactful.server", "serve", env=env, cwd=root
        )
        drain = asyncio.ensure_future(_drain(client))
        try:
            settings = merged(options, {"completion": {"engine": engine}})
            await client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(
                        window=types.WindowClientCapabilities(work_done_progress=True),
                        text_document=types.TextDocumentClientCapabilities(
                            inline_completion=types.InlineCompletionClientCapabilities()
                        ),
                    ),
                    root_uri=root.as_uri(),
                    workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="bench")],
                    initialization_options=settings,
                )
            )
            client.initialized(types.InitializedParams())
            await _wait_for_index(client)
            await _wait_for_llm(client)
            result = await work(_Server(client, root, hide_typed=hide_typed), root)
            await client.shutdown_async(None)
            client.exit(None)
            if inspect is not None:
                # The server's own user data (its feedback store), before it is deleted, once
                # the server has written it out and exited (a loaded machine may take a while).
                try:
                    await asyncio.wait_for(client.stop(), STOP_TIMEOUT_S)
                except TimeoutError:
                    print(
                        f"tactful bench: the server did not exit within {STOP_TIMEOUT_S:.0f} s; "
                        "stopped it and read what its store holds",
                        file=sys.stderr,
                    )
                    server = getattr(client, "_server", None)
                    if server is not None and server.returncode is None:
                        server.kill()
                inspect(base / "xdg" / "data")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.stop(), 10)
            server = getattr(client, "_server", None)
            if server is not None and server.returncode is None:
                server.kill()
            drain.cancel()
    return result


async def _wait_for_llm(client: _Client) -> None:
    """Until a configured LLM engine has started (or failed to): typing is measured with the
    engines as they are once started, not while litellm imports beside them."""
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    while client.llm_state == "starting" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _drain(client: LanguageClient) -> None:
    """Read the server's stderr so a chatty server never blocks on a full pipe."""
    server = getattr(client, "_server", None)
    stream = server.stderr if server is not None else None
    if stream is None:
        return
    while await stream.read(65536):
        pass


async def _wait_for_index(client: _Client) -> None:
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    while not client.finished and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


class _Server:
    """The server as the replay's ``Completer``: the typed file's edits, requests and accepts,
    sent as an editor sends them."""

    def __init__(self, client: LanguageClient, root: Path, *, hide_typed: bool = True) -> None:
        self.client = client
        self.root = root
        self.hide_typed = hide_typed
        self.uri = ""
        self.version = 0
        self.editor = _Editor("")
        self.item: types.InlineCompletionItem | None = None

    def watched(self, changes: list[tuple[Path, types.FileChangeType]]) -> None:
        """Tell the server about files that changed on disk (as an editor's watcher does)."""
        if changes:
            self.client.workspace_did_change_watched_files(
                types.DidChangeWatchedFilesParams(
                    changes=[
                        types.FileEvent(uri=path.as_uri(), type=kind) for path, kind in changes
                    ]
                )
            )

    async def open(self, path: str, language: str, text: str) -> None:
        file = self.root / path
        self.uri = file.as_uri()
        if self.hide_typed and file.exists():
            # The file leaves the workspace before it is typed, so its own text cannot be
            # suggested.
            file.unlink()
            self.watched([(file, types.FileChangeType.Deleted)])
        self.version = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=self.uri, language_id=language, version=self.version, text=text
                )
            )
        )
        self.editor = _Editor(text)

    async def replace(self, start: int, end: int, text: str) -> None:
        self.version += 1
        self.client.text_document_did_change(
            self.editor.replace(self.uri, self.version, start, end, text)
        )

    async def move(self, offset: int) -> None:
        self.editor.move(offset)

    async def type(self, chunk: str) -> None:
        self.version += 1
        self.client.text_document_did_change(self.editor.insert(self.uri, self.version, chunk))

    async def suggest(self, typed: str, after: str = "") -> Offer | None:
        answer = await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri),
                position=self.editor.position(),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
        )
        self.item = _first_item(answer)
        offered = self.editor.inserted_text(self.item) if self.item is not None else None
        return Offer(offered) if offered else None

    async def accept(self, offer: Offer) -> None:
        await self.type(offer.text)
        command = self.item.command if self.item is not None else None
        if command is not None:
            await self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
            )

    async def close(self, path: str, text: str) -> None:
        if self.editor.text != text:
            # What was sent does not add up to the file: the figures would be of another text.
            raise ReplayError(f"the edits sent for {path} do not make the file the replay typed")
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri)
            )
        )
        file = self.root / path
        existed = file.exists()
        file.parent.mkdir(parents=True, exist_ok=True)
        # in the encoding it was read in (a latin-1 file's cookie says so), to be read back alike
        file.write_bytes(encode_source(text, language_of_path(file)))
        kind = types.FileChangeType.Changed if existed else types.FileChangeType.Created
        self.watched([(file, kind)])


def _first_item(answer: Any) -> types.InlineCompletionItem | None:
    items = answer.items if isinstance(answer, types.InlineCompletionList) else answer
    if not items:
        return None
    return items[0]


class _Editor:
    """The client's copy of the document and its cursor, kept as an editor keeps them: the
    cursor's line and where it starts are followed edit by edit, so a request's position costs
    the same however long the file."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cursor = len(text)
        self._locate()

    def _locate(self) -> None:
        self.line = self.text.count("\n", 0, self.cursor)
        self.line_start = self.text.rfind("\n", 0, self.cursor) + 1

    def move(self, offset: int) -> None:
        self.cursor = offset
        self._locate()

    def position(self) -> types.Position:
        return types.Position(
            line=self.line, character=_utf16(self.text[self.line_start : self.cursor])
        )

    def _position_of(self, offset: int) -> types.Position:
        line = self.text.count("\n", 0, offset)
        start = self.text.rfind("\n", 0, offset) + 1
        return types.Position(line=line, character=_utf16(self.text[start:offset]))

    def insert(self, uri: str, version: int, chunk: str) -> types.DidChangeTextDocumentParams:
        at = self.position()
        cursor = self.cursor
        self.text = self.text[:cursor] + chunk + self.text[cursor:]
        self.cursor = cursor + len(chunk)
        if "\n" in chunk:
            self.line += chunk.count("\n")
            self.line_start = cursor + chunk.rfind("\n") + 1
        return _change(uri, version, at, at, chunk)

    def replace(
        self, uri: str, version: int, start: int, end: int, text: str
    ) -> types.DidChangeTextDocumentParams:
        first, last = self._position_of(start), self._position_of(end)
        self.text = self.text[:start] + text + self.text[end:]
        self.cursor = start + len(text)
        self._locate()
        return _change(uri, version, first, last, text)

    def inserted_text(self, item: types.InlineCompletionItem) -> str | None:
        """What accepting ``item`` adds at the cursor (its text minus what it replaces)."""
        text = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
        last = self.text[self.line_start : self.cursor]
        cursor = len(last)
        start = cursor
        if item.range is not None:
            start = column_from_units(last, item.range.start.character, "utf-16")
        replaced = last[start:cursor]
        if not text.startswith(replaced):
            return None
        return text[len(replaced) :] or None


def _change(
    uri: str, version: int, start: types.Position, end: types.Position, text: str
) -> types.DidChangeTextDocumentParams:
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[
            types.TextDocumentContentChangePartial(
                range=types.Range(start=start, end=end), text=text
            )
        ],
    )


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2

"""Replay typing against the LLM engine in-process, with the embedded model or any litellm model.

``tactful bench completion`` is the measure of record (through the real server over stdio); this
script runs the same typing loop (``tactful.suggestion.replay``) straight against ``LlmEngine``,
so the model's own figures and where its time goes can be read without the server.
The corpus is copied to a temp folder and the file being typed is removed from the copy, so
retrieval cannot find the answer on disk.

    python benchmarks/replay_llm.py CORPUS [--files N] [--max-lines L] [--model embedded]

Prints the Tally summary as JSON, plus the model's timings (from llama.cpp's response) when the
model is the embedded one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tactful.analyzers.languages import language_of_path
from tactful.analyzers.userdirs import cache_dir
from tactful.suggestion.llm import LlmConfig, LlmEngine
from tactful.suggestion.replay import Offer, Step, Tally, request_at_end, source_text, type_file


class _Model:
    """The replay's ``Completer``: the LLM engine in this process; the typed file is out of the
    corpus copy while it is typed, so retrieval cannot find it."""

    def __init__(self, engine: LlmEngine, root: Path, max_lines: int) -> None:
        self.engine = engine
        self.root = root
        self.max_lines = max_lines
        self.path = ""
        self.language = "plaintext"
        self.version = 0
        self.original = ""

    async def open(self, path: str, language: str, text: str) -> None:
        self.path, self.language, self.version = path, language, 0
        self.original = source_text(self.root / path)
        (self.root / path).unlink()

    async def replace(self, start: int, end: int, text: str) -> None:
        self.version += 1

    async def move(self, offset: int) -> None:
        return None

    async def type(self, chunk: str) -> None:
        self.version += 1

    async def suggest(self, typed: str, after: str = "") -> Offer | None:
        request = request_at_end(
            self.root, self.path, self.language, typed, self.version, self.max_lines, after
        )
        found = await self.engine.complete(request, deadline=time.monotonic() + 30)
        return Offer(found[0].text, found[0]) if found else None

    async def accept(self, offer: Offer) -> None:
        return None

    async def close(self, path: str, text: str) -> None:
        (self.root / path).write_text(self.original, encoding="utf-8")


async def replay(
    corpus: Path, files: list[str], config: LlmConfig, max_lines: int, limit_chars: int
) -> tuple[Tally, Counter[str]]:
    total = Tally()
    sources: Counter[str] = Counter()

    def watch(step: Step) -> None:
        suggestion = step.offer.suggestion if step.offer is not None else None
        sources[suggestion.origin if suggestion is not None else "none"] += 1

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / corpus.name
        shutil.copytree(corpus, root)
        engine = LlmEngine(config, workspace_root=str(root))
        engine.start().result(timeout=300)
        model = _Model(engine, root, max_lines)
        try:
            for relative in files:
                text = source_text(root / relative)
                text = text[:limit_chars] if limit_chars else text
                language = language_of_path(relative) or "plaintext"
                tally = (await type_file(model, relative, text, language, watch=watch)).tally
                total.merge(tally)
                print(relative, json.dumps(tally.summary()), file=sys.stderr, flush=True)
        finally:
            engine.close()
    return total, sources


_TIMING = re.compile(r"(prompt eval|\| +eval) time =\s+([\d.]+) ms /\s+(\d+) tokens")


def model_time(log: str) -> dict[str, float]:
    """Where the model's time went, from llama.cpp's per-request timing lines."""
    totals = {"prompt eval": [0.0, 0], "eval": [0.0, 0]}
    calls = 0
    for found, ms, count in _TIMING.findall(log):
        kind = "prompt eval" if found == "prompt eval" else "eval"
        totals[kind][0] += float(ms)
        totals[kind][1] += int(count)
        calls += kind == "prompt eval"
    prompt_ms, prompt_tokens = totals["prompt eval"]
    eval_ms, eval_tokens = totals["eval"]
    return {
        "calls": calls,
        "prompt_tokens_per_call": round(prompt_tokens / calls, 1) if calls else 0.0,
        "prompt_ms_per_call": round(prompt_ms / calls, 1) if calls else 0.0,
        "prompt_ms_per_token": round(prompt_ms / prompt_tokens, 2) if prompt_tokens else 0.0,
        "generated_tokens_per_call": round(eval_tokens / calls, 1) if calls else 0.0,
        "generate_ms_per_call": round(eval_ms / calls, 1) if calls else 0.0,
        "generate_ms_per_token": round(eval_ms / eval_tokens, 2) if eval_tokens else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--max-lines", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--context-tokens", type=int, default=0)
    parser.add_argument(
        "--min-token-prob", type=float, default=LlmConfig(model="embedded").min_token_prob
    )
    parser.add_argument(
        "--limit-chars", type=int, default=0, help="type only the start of each file"
    )
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    # The package's own modules (src/ when the project has one), as the developer writes them.
    base = corpus / "src" if (corpus / "src").is_dir() else corpus
    candidates = sorted(
        str(p.relative_to(corpus)) for p in base.rglob("*.py") if p.name != "__init__.py"
    )
    random.Random(args.seed).shuffle(candidates)
    config = LlmConfig(
        model=args.model,
        api_base=args.api_base,
        timeout_s=args.timeout,
        context_tokens=args.context_tokens,
        min_token_prob=args.min_token_prob,
        debounce_ms=0,
    )
    log = cache_dir() / "log" / "embedded-llm.log"
    log_start = log.stat().st_size if log.exists() else 0
    started = time.monotonic()
    tally, sources = asyncio.run(
        replay(corpus, candidates[: args.files], config, args.max_lines, args.limit_chars)
    )
    summary = tally.summary()
    summary["engine"] = f"llm:{args.model}"
    summary["files_typed"] = candidates[: args.files]
    summary["options"] = {k: v for k, v in vars(args).items() if k != "corpus"}
    summary["answered_from"] = dict(sources)
    summary["wall_s"] = round(time.monotonic() - started, 1)
    if args.model == "embedded" and log.exists():
        with log.open("rb") as handle:
            handle.seek(log_start)
            summary["model_time"] = model_time(handle.read().decode("utf-8", "replace"))
    json.dump(summary, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

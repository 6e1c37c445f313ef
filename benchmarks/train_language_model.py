"""Train the shipped Python token model: what library code looks like in general, for the local
engine's first lines in a new file, before the workspace and the document say much.

    python benchmarks/train_language_model.py [--min-context N] [--min-count N]

The code is that of permissively licensed projects' source distributions (``SOURCES``, fetched
by ``corpora.py``; MIT, BSD or Apache licensed), none of them a project the benchmarks develop
on (click, requests) or check on (dateutil, boltons, the projects of ``bench edits``' other
histories). Only their library code is counted: test files repeat idioms that are wrong in a
library (``self.assertEqual(``), and a test file's own workspace statistics carry those.

Counts are the engine's own token n-grams (``tactful.analyzers.tokens``, order 5), pruned:
contexts seen fewer than ``--min-context`` times and followers seen fewer than ``--min-count``
times after their context are dropped (a context's total keeps what was dropped, so the
model stays as unsure as the full counts were). Written to
``suggestion/local/python_tokens.jsonl.gz`` (``tactful.suggestion.local.language`` reads it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from corpora import fetch

from tactful.analyzers.index import read_source, source_files
from tactful.analyzers.languages import language_of_path
from tactful.analyzers.ngrams import NgramCounts
from tactful.analyzers.paths import path_kind
from tactful.analyzers.tokens import tokenize_text

# name==version: licence
SOURCES = {
    "attrs==23.2.0": "MIT",
    "packaging==24.0": "Apache-2.0 or BSD-2-Clause",
    "pyparsing==3.1.2": "MIT",
    "more-itertools==10.2.0": "MIT",
    "toolz==0.12.1": "BSD-3-Clause",
    "cachetools==5.3.3": "MIT",
    "pluggy==1.5.0": "MIT",
    "marshmallow==3.21.1": "MIT",
    "tabulate==0.9.0": "MIT",
    "humanize==4.9.0": "MIT",
    "idna==3.7": "BSD-3-Clause",
    "six==1.16.0": "MIT",
}
ORDER = 5
# The source tree's copy (an installed package's is read-only, or a link to this one).
MODEL_PATH = (
    Path(__file__).resolve().parent.parent / "suggestion" / "local" / "python_tokens.jsonl.gz"
)


def count(sources: list[str]) -> tuple[NgramCounts, dict[str, int]]:
    counts = NgramCounts(ORDER)
    files: dict[str, int] = {}
    for requirement in sources:
        root = fetch(requirement)
        counted = 0
        for relative in source_files(root):
            if language_of_path(relative) != "python" or path_kind(relative) != "src":
                continue
            if "/docs/" in f"/{relative}" or "/examples/" in f"/{relative}":
                continue
            text = read_source(root / relative)
            if text is None:
                continue
            counts.add(tokenize_text(text.replace("\r\n", "\n"), "python"))
            counted += 1
        files[requirement] = counted
    return counts, files


def pruned(counts: NgramCounts, min_context: int, min_count: int) -> list[list[list[object]]]:
    """Per context length, ``[context tokens, {follower: count}, total]`` rows."""
    tables: list[list[list[object]]] = []
    for k, table in enumerate(counts.tables):
        rows: list[list[object]] = []
        for context, followers in table.items():
            total = followers[None]
            if k > 0 and total < min_context:
                continue
            kept = {
                token: n for token, n in followers.items() if token is not None and n >= min_count
            }
            if kept:
                rows.append([list(context), kept, total])
        tables.append(rows)
    return tables


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-context", type=int, default=6)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--output", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)
    counts, files = count(list(SOURCES))
    tables = pruned(counts, args.min_context, args.min_count)
    model = {
        "order": ORDER,
        "language": "python",
        "sources": {name: {"licence": SOURCES[name], "files": n} for name, n in files.items()},
        "tokens_counted": counts.tokens_counted,
        "min_context": args.min_context,
        "min_count": args.min_count,
    }
    # A header line, then one line a context: the engine reads it a line at a time.
    lines = [json.dumps(model, separators=(",", ":"))]
    for k, rows in enumerate(tables):
        lines.extend(json.dumps([k, *row], separators=(",", ":")) for row in rows)
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    args.output.write_bytes(gzip.compress(data, 9, mtime=0))
    print(
        f"{args.output}: {counts.tokens_counted} tokens from {sum(files.values())} files, "
        f"{sum(len(t) for t in tables)} contexts kept, {args.output.stat().st_size} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

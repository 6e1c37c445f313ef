"""Does a completion cost more in a longer file? Type the same lines into files of 100 to
10,000 lines through the real server, and plot the round trip of each request against the size.

    python benchmarks/document_size.py [--sizes 100,1000,2500,5000,10000] [--plot docs/x.png]

The file is real code: the Python sources of a corpus (click 8.1.8 by default, fetched by
``corpora.py``) one after the other until there are enough lines. One server over stdio, as
``tactful bench`` starts it; for each size a document of that many lines is opened and the
same real snippet (the last ``--snippet`` lines of the corpus's ``testing.py``, which the
workspace does not hold) is typed in its middle, after an existing line, with the typing loop
of ``tactful bench edits`` (a ranged ``didChange`` per chunk, an ``inlineCompletion`` request
after each). Printed: per size, the requests and the p50/p90/p99 round trip in ms, and the
machine's load average (1 minute) before and after (JSON); the plot shows p50 and p90 against
the number of lines, its title the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from corpora import fetch

from tactful.server.cli.bench import session
from tactful.suggestion.replay import Step, Tally, edit_file

HERE = Path(__file__).resolve().parent
DEFAULT_PLOT = HERE.parent / "docs" / "document_size.png"


def filler(corpus: Path, lines: int, leave_out: str) -> list[str]:
    """At least ``lines`` lines of the corpus's Python code, file after file."""
    found: list[str] = []
    sources = sorted(p for p in corpus.rglob("*.py") if p.name != leave_out)
    while len(found) < lines:
        for path in sources:
            found.extend(path.read_text(encoding="utf-8").split("\n"))
            if len(found) >= lines:
                break
    return found[:lines]


async def measure(corpus: Path, sizes: list[int], snippet_lines: int) -> dict[int, list[float]]:
    snippet_source = next(corpus.rglob("testing.py"))
    snippet = "\n".join(snippet_source.read_text(encoding="utf-8").split("\n")[-snippet_lines:])
    snippet = snippet.strip("\n") + "\n"
    lines = filler(corpus, max(sizes), snippet_source.name)
    latencies: dict[int, list[float]] = {}

    def setup(root: Path) -> None:
        root.mkdir(parents=True)
        (root / "helpers.py").write_text("\n".join(lines[:2000]) + "\n", encoding="utf-8")

    async def work(server: Any, root: Path) -> None:
        for size in sizes:
            old = "\n".join(lines[:size]) + "\n"
            middle = old.split("\n")
            # After a line that ends a statement at the top level or in a block, as an
            # insertion of new lines would be made.
            at = size // 2
            new = "\n".join([*middle[:at], snippet.rstrip("\n"), *middle[at:]])
            found: list[float] = []

            def watch(step: Step, found: list[float] = found) -> None:
                found.append(step.latency_ms)

            await edit_file(server, f"size_{size}.py", old, new, "python", watch=watch)
            latencies[size] = found

    await session(setup, "local", {}, work, hide_typed=False)
    return latencies


def plot(figures: dict[int, dict[str, Any]], target: Path, load: tuple[float, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    sizes = sorted(figures)
    figure = Figure(figsize=(6.4, 3.6), dpi=110, layout="constrained")
    axes = figure.subplots()
    for key, colour in (("p50", "#2f6fb3"), ("p90", "#e76f51")):
        axes.plot(
            sizes,
            [figures[s]["latency_ms"][key] for s in sizes],
            marker="o",
            color=colour,
            label=f"{key} round trip",
        )
    axes.set_xscale("log")
    axes.set_xticks(sizes, [f"{s:,}" for s in sizes])
    axes.set_ylim(bottom=0)
    axes.set_xlabel("lines in the file typed into")
    axes.set_ylabel("ms per inline completion request")
    axes.set_title(
        "The same lines typed into files of growing size (local engine)\n"
        f"load average {load[0]:.1f} before, {load[1]:.1f} after, on {os.cpu_count()} cores",
        fontsize=9,
    )
    axes.legend()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="click==8.1.8", help="a corpus for corpora.fetch")
    parser.add_argument("--sizes", default="100,500,1000,2500,5000,10000")
    parser.add_argument("--snippet", type=int, default=40, help="lines typed into each file")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="where the PNG goes")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    corpus = fetch(args.corpus)
    before = os.getloadavg()[0]
    latencies = asyncio.run(measure(corpus, sizes, args.snippet))
    load = (before, os.getloadavg()[0])
    figures = {
        size: {
            "requests": len(found),
            "latency_ms": Tally(latencies_ms=found).summary()["latency_ms"],
        }
        for size, found in latencies.items()
    }
    printed: dict[str, Any] = {str(size): figure for size, figure in figures.items()}
    printed["load_average"] = {"before": load[0], "after": load[1], "cores": os.cpu_count()}
    json.dump(printed, sys.stdout, indent=2)
    sys.stdout.write("\n")
    plot(figures, args.plot, load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

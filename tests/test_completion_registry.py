"""Engine selection and the registry of shown suggestions with its hooks and filter."""

from __future__ import annotations

import pytest

from tactful.analyzers.text import Point
from tactful.suggestion.engine import CompletionEngine, EngineRegistry
from tactful.suggestion.local.engine import LocalEngine
from tactful.suggestion.registry import SuggestionRegistry
from tactful.suggestion.types import CompletionRequest, Suggestion


@pytest.mark.parametrize(
    ("choice", "expected"), [("local", ["local"]), ("auto", ["local"]), ("llm", [])]
)
def test_selection_without_an_llm(choice: str, expected: list[str]) -> None:
    engines = EngineRegistry()
    local = LocalEngine()
    assert isinstance(local, CompletionEngine)
    engines.register(local)
    assert [e.name for e in engines.select(choice)] == expected
    assert engines.unregister("local") is local
    assert engines.select("auto") == []


def test_shown_suggestions_reach_the_hooks_and_the_filter_decides() -> None:
    registry = SuggestionRegistry(limit=2)
    events: list[tuple] = []
    registry.on_shown.append(lambda shown: events.append(("shown", shown.text, shown.offset)))
    registry.on_accepted.append(lambda shown, length: events.append(("accepted", shown.id, length)))
    registry.on_rejected.append(lambda shown, explicit: events.append(("rejected", explicit)))
    request = CompletionRequest(
        "file:///a.py", None, "python", 3, "x = 1\nvalue = ex", Point(1, 10)
    )
    suggestion = Suggestion("ample", "local", 0.9)
    assert registry.keep(request, suggestion)
    registry.filter = lambda req, s: s.score > 0.95
    assert not registry.keep(request, suggestion)
    registry.filter = lambda req, s: 1 / 0
    assert registry.keep(request, suggestion)  # a broken filter hides nothing

    shown = registry.show(request, suggestion)
    assert registry.get(shown.id) is shown and shown.offset == len("x = 1\nvalue = ex")
    assert registry.accepted(shown.id, 3) and registry.rejected(shown.id, explicit=False)
    assert not registry.accepted("unknown")
    assert events == [
        ("shown", "ample", 16),
        ("accepted", shown.id, 3),
        ("rejected", False),
    ]
    # A bounded memory: the oldest shown suggestions are forgotten.
    later = [registry.show(request, suggestion) for _ in range(2)]
    assert registry.get(shown.id) is None and all(registry.get(s.id) for s in later)

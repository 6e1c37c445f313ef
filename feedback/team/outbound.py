"""What leaves the machine: one local event as a row of the team store.

Boundary: the one place that decides what a developer's events tell the team. A row carries the
acceptance models' hashed features, the outcome (kind, length, explicit, explored, probability),
hashes of code, the item's id, the language, the repository's id and the developer's random id.
Never the workspace's path, never code — unless the team's settings opt in (``share_code``) and
the developer's own store kept it (``feedback.storeCode``) — and of an event's detail only the
keys below, with numbers, booleans and short names as values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tactful.feedback.events import Event

# Detail keys that may leave the machine: how a suggestion was made and judged, what a review
# comment or fix was (rule, source, severity, verdict) and what its tests did.
DETAIL_KEYS = frozenset(
    {
        "engine",
        "kind",
        "threshold",
        "full",
        "keystrokes",
        "rule",
        "source",
        "severity",
        "verdict",
        "language",
        "tests",
        "failed",
        "duration_s",
        "selection",
        "cached",
        "decision_us",
        "decision_cpu_us",
        "gate_us",
        "gate_cpu_us",
        "context_features",
    }
)
MAX_NAME = 64

COLUMNS = (
    "uid",
    "developer",
    "repository",
    "time",
    "kind",
    "item_id",
    "language",
    "length",
    "explicit",
    "explored",
    "probability",
    "code_hash",
    "code",
    "ones",
    "valued",
    "vals",
    "context_ones",
    "context_valued",
    "context_vals",
    "detail",
)


def outbound_detail(detail: Mapping[str, object]) -> dict[str, object]:
    """The part of an event's detail that may leave the machine."""
    kept: dict[str, object] = {}
    for key, value in detail.items():
        if key not in DETAIL_KEYS:
            continue
        short_name = isinstance(value, str) and len(value) <= MAX_NAME
        if short_name or value is None or isinstance(value, bool | int | float):
            kept[key] = value
    return kept


def split_features(
    pairs: Iterable[tuple[int, float]],
) -> tuple[list[int], list[int], list[float]]:
    """``(index, value)`` pairs as the team store keeps them: binary ones, then the rest."""
    ones: list[int] = []
    valued: list[int] = []
    values: list[float] = []
    for i, v in pairs:
        if v == 1.0:
            ones.append(int(i))
        elif v:
            valued.append(int(i))
            values.append(float(v))
    return ones, valued, values


def outbound_row(
    event: Event, developer: str, repository: str, *, share_code: bool
) -> tuple[Any, ...]:
    """The team store's row for ``event`` (in ``COLUMNS`` order; ``detail`` as a dict)."""
    ones, valued, values = split_features(event.features)
    c_ones, c_valued, c_values = split_features(event.context)
    return (
        event.uid,
        developer,
        repository,
        event.time,
        event.kind,
        event.item_id[:64],
        event.language[:MAX_NAME],
        event.length,
        event.explicit,
        event.explored,
        event.probability,
        event.code_hash[:64],
        event.code if share_code else None,
        ones,
        valued,
        values,
        c_ones,
        c_valued,
        c_values,
        outbound_detail(event.detail),
    )

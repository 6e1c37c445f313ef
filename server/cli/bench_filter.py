"""``tactful bench completion --filter on|off|compare``: the acceptance filter on a replay.

Boundary: part of the bench command (not a command of its own). Each run replays the same files
through the real server with different ``filter.*`` settings and then reads that server's own
feedback store (in the bench's private user directories): what it hid, skipped, and recorded.

- ``off``: everything shown (``filter.enabled=false``); the store still records the probabilities
  the online model gave, so the filter's AUC is measured on the whole unfiltered stream — for the
  online model as it learned, and for the shipped prior alone on the same stored features.
- ``on``: the filter as shipped, learning online during the replay.
- ``compare``: ``off``, then ``on`` with the prior only (``filter.learn=false``), then ``on``
  with online learning; each filtered run is compared with the unfiltered one: share of
  would-be-rejected suggestions hidden, of would-be-accepted suggestions and of saved keystrokes
  lost, acceptance lift, engine calls skipped by the gate. Each run follows its own trajectory (a
  hidden suggestion means the developer types on), which is what a developer would live through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from tactful.feedback.acceptance import shipped_prior
from tactful.feedback.acceptance.evaluation import compare_runs, store_report
from tactful.feedback.store import StoreUnavailable, read_events

RUNS: dict[str, dict[str, Any]] = {
    "off": {"filter": {"enabled": False, "learn": True}},
    "prior": {"filter": {"enabled": True, "learn": False}},
    "online": {"filter": {"enabled": True, "learn": True}},
}
MODES = {"off": ["off"], "on": ["online"], "compare": ["off", "prior", "online"]}


class Summarised(Protocol):
    """A replay's tally: what ``summary`` reports of it."""

    def summary(self) -> dict[str, Any]: ...


Replay = Callable[[dict[str, Any], Callable[[Path], None]], Summarised]


def merged(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Settings ``top`` over ``base``, tables merged key by key."""
    result = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def filter_runs(mode: str, replay: Replay, options: dict[str, Any]) -> dict[str, Any]:
    """Replay once per run of ``mode`` and report each, plus the filtered runs' effect."""
    out: dict[str, Any] = {}
    for name in MODES[mode]:
        found: dict[str, Any] = {}

        def inspect(data_dir: Path, found: dict[str, Any] = found) -> None:
            store = data_dir / "tactful" / "feedback.sqlite3"
            try:
                found.update(store_report(read_events(store), shipped_prior()))
            except StoreUnavailable as exc:
                found["problem"] = str(exc)

        summary = replay(merged(options, RUNS[name]), inspect).summary()
        summary["filter"] = found
        out[name] = summary
    if "off" in out:
        for name in ("prior", "online"):
            if name in out:
                out[f"effect_{name}"] = compare_runs(out["off"], out[name])
    return out


def part_effects(runs: dict[str, Any], part: str) -> dict[str, Any]:
    """``runs`` with each filtered run's effect on the summaries' ``part`` too (the first lines
    of new files): ``effect_prior_<part>``, ``effect_online_<part>``."""
    for name in ("prior", "online"):
        if "off" in runs and name in runs:
            effect = compare_runs(runs["off"][part], runs[name][part])
            # The store counts the gate's skips for the whole run, not by part.
            effect["engine_calls_skipped_share"] = None
            runs[f"effect_{name}_{part}"] = effect
    return runs


def _pct(value: object) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, int | float) else "—"


def interval_text(interval: Mapping[str, Any]) -> str:
    """A ``keystrokes_saved_rate_interval`` (``bench edits``) as text."""
    return (
        f"resampling these {interval['commits']} commits (bootstrap): "
        f"{100 * interval['level']:.0f}% of resamples saved {_pct(interval['low'])} to "
        f"{_pct(interval['high'])}"
    )


def filter_text(engine: str, runs: Mapping[str, Any], part: str | None = None) -> str:
    """The runs of one engine as text; ``part``: a part of each summary (see ``part_effects``)
    reported too."""
    lines = [f"{engine}:"]
    for name in ("off", "prior", "online"):
        run = runs.get(name)
        if not isinstance(run, Mapping):
            continue
        store = run.get("filter", {})
        us = store.get("decision_us", {})
        cpu = store.get("decision_cpu_us", {})
        lines.append(
            f"  {name:<7} saved {_pct(run['keystrokes_saved_rate'])} of keystrokes, acceptance "
            f"{_pct(run['acceptance_rate'])} of {run['shown']} shown; hidden "
            f"{store.get('hidden', 0)}, requests skipped {store.get('requests_skipped', 0)}; "
            f"decision p99 gate {us.get('gate_p99')} µs, filter {us.get('filter_p99')} µs "
            f"(CPU {cpu.get('gate_p99')} µs, {cpu.get('filter_p99')} µs)"
        )
        interval = run.get("keystrokes_saved_rate_interval")
        if isinstance(interval, Mapping):
            lines.append(f"          {interval_text(interval)}")
        if name == "off":
            lines.append(
                f"          AUC of the filter on everything shown: online "
                f"{store.get('auc_recorded')}, prior only {store.get('auc_prior')}"
            )
    for suffix in ("", f"_{part}") if part else ("",):
        for name in ("prior", "online"):
            effect = runs.get(f"effect_{name}{suffix}")
            if isinstance(effect, Mapping):
                where = f"{name}, {part.replace('_', ' ')}" if suffix and part else name
                lines.append(
                    f"  effect ({where}): hid {_pct(effect['would_be_rejected_hidden_share'])} "
                    f"of would-be-rejected, lost {_pct(effect['would_be_accepted_lost_share'])} "
                    f"of would-be-accepted and {_pct(effect['saved_keystrokes_lost_share'])} of "
                    f"saved keystrokes; acceptance x{effect['acceptance_lift']}; engine calls "
                    f"skipped {_pct(effect['engine_calls_skipped_share'])}"
                )
    return "\n".join(lines)

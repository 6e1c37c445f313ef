"""``tactful stats``: figures from a real store, as text, JSON and charts (HTML and PNG): days
binned by day at first and by week later, hidden suggestions typed by hand, axes of whole
numbers."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tactful.feedback import events as ev
from tactful.feedback.chart import count_ticks, render_html
from tactful.feedback.events import Event
from tactful.feedback.stats import render_text, summarize, week_of
from tactful.feedback.store import FeedbackStore

WEEK = 7 * 86400
NOW = time.time()


def history() -> list[Event]:
    """Three weeks of use: python and go; partial and full accepts, both kinds of rejection."""
    events: list[Event] = []
    for week in range(3):
        t = NOW - (2 - week) * WEEK
        for i in range(10):
            sid = f"w{week}-{i}"
            lang = "python" if i < 7 else "go"
            events.append(Event(ev.SUGGESTION_SHOWN, sid, lang, length=12, time=t + i))
            if i < 3 + week:  # acceptance grows week by week
                length = 6 if i == 0 else 12  # the first is a partial accept
                events.append(
                    Event(
                        ev.SUGGESTION_ACCEPTED,
                        sid,
                        lang,
                        length=length,
                        detail={"keystrokes": length - 1},
                        time=t + i + 0.5,
                    )
                )
            elif i % 2:
                events.append(Event(ev.SUGGESTION_REJECTED, sid, lang, explicit=True, time=t + i))
            else:
                events.append(Event(ev.SUGGESTION_REJECTED, sid, lang, time=t + i + 0.5))
        events.append(Event(ev.SUGGESTION_HIDDEN, f"h{week}", "python", time=t + 20))
        events.append(Event(ev.REQUEST_SKIPPED, "", "python", time=t + 21))
    events.append(Event(ev.COMMENT_SHOWN, "c1", "python", time=NOW))
    events.append(Event(ev.COMMENT_DISMISSED, "c1", "python", time=NOW))
    events.append(Event(ev.FIX_OFFERED, "f1", "python", time=NOW))
    events.append(Event(ev.FIX_APPLIED, "f1", "python", time=NOW))
    events.append(Event(ev.FIX_OFFERED, "f2", "python", time=NOW))
    events.append(Event(ev.FIX_IGNORED, "f2", "python", time=NOW))
    events.append(
        Event(ev.VALIDATION_VERDICT, "f1", "python", detail={"verdict": "passed"}, time=NOW)
    )
    events.append(
        Event(ev.VALIDATION_VERDICT, "f2", "python", detail={"verdict": "unexercised"}, time=NOW)
    )
    return events


def test_summary_counts_each_suggestion_once() -> None:
    events = history()
    # A second accept of the same suggestion (a longer partial accept) adds only the difference.
    events.append(
        Event(ev.SUGGESTION_ACCEPTED, "w2-0", "python", length=9, detail={"keystrokes": 8})
    )
    # An accept after an inferred rejection (editor inserted first) turns it into an accept.
    events.append(Event(ev.SUGGESTION_ACCEPTED, "w2-6", "python", length=12, time=NOW))
    s = summarize(events)
    t = s.total
    assert t.shown == 30
    assert t.accepted == 3 + 4 + 5 + 1
    assert t.chars_accepted == (6 + 2 * 12) + (6 + 3 * 12) + (9 + 4 * 12) + 12
    assert t.keystrokes_saved == (5 + 2 * 11) + (5 + 3 * 11) + (8 + 4 * 11) + 11
    assert t.rejected_explicit + t.rejected_inferred + t.accepted == 30
    assert (t.hidden, t.skipped) == (3, 3)
    assert set(s.languages) == {"python", "go"}
    assert s.languages["go"].shown == 9
    weeks = [s.weeks[week_of(NOW - k * WEEK)] for k in (2, 1, 0)]
    assert [w.accepted for w in weeks] == [3, 4, 6]
    assert s.comments.dismissed == 1 and s.fixes.used == 1 and s.verdicts["passed"] == 1


def test_stats_command_reads_the_store_as_json_text_and_chart(tmp_path: Path) -> None:
    store_file = tmp_path / "fb.sqlite3"
    with FeedbackStore(store_file) as store:
        assert store.record_many(history(), wait=True)
    cli = [
        sys.executable,
        "-c",
        "import sys; from tactful.server.cli import main; sys.exit(main())",
    ]
    done = subprocess.run(
        [*cli, "stats", "--store", str(store_file), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["format"] == 1
    assert data["completions"]["shown"] == 30
    assert data["completions"]["accepted"] == 12
    assert data["completions"]["acceptance_rate"] == round(12 / 30, 4)
    assert data["languages"]["go"]["shown"] == 9
    assert [w["accepted"] for w in data["weeks"]] == [3, 4, 5]
    assert data["fixes"]["used"] == 1
    assert data["fixes"]["dismissed"] == 1
    assert data["fixes"]["shown"] == 2
    assert data["verdicts"] == {"passed": 1, "unexercised": 1}
    text = subprocess.run(
        [*cli, "stats", "--store", str(store_file)], capture_output=True, text=True, timeout=60
    ).stdout
    # a fix whose tests never ran it is not counted among the tests that passed
    assert "     1  tests passed (they ran the fixed code)" in text
    assert "     1  tests pass, but none runs the fixed code" in text

    plot = tmp_path / "stats.html"
    done = subprocess.run(
        [*cli, "stats", "--store", str(store_file), "--plot", str(plot)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "keystrokes saved" in done.stdout and "python" in done.stdout
    page = plot.read_text(encoding="utf-8")
    assert page.count("<svg") == 3
    assert page.count("<rect") > 3 * 3  # bars for three weeks
    assert "<polyline" in page  # the acceptance-rate line
    assert "40.0%" in page  # the overall acceptance rate, 12 of 30


def test_stats_on_an_empty_or_missing_store(tmp_path: Path) -> None:
    cli = [
        sys.executable,
        "-c",
        "import sys; from tactful.server.cli import main; sys.exit(main())",
    ]
    done = subprocess.run(
        [*cli, "stats", "--store", str(tmp_path / "none.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    # a --store that names no file is named back, not taken for an empty history
    assert done.stdout == (
        "No feedback recorded yet: there is no feedback store at "
        f"{tmp_path / 'none.sqlite3'} (check --store).\n"
    )
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"garbage" * 1000)
    done = subprocess.run(
        [*cli, "stats", "--store", str(bad), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot be read" in done.stderr


DAY = 86400


def _use(days: list[int], end: float = NOW) -> list[Event]:
    """Two suggestions shown (one accepted, 10 keystrokes) and one hidden then typed by hand
    (6 keystrokes) on each of ``days`` (days before ``end``)."""
    events: list[Event] = []
    for back in days:
        t = end - back * DAY
        events += [
            Event(ev.SUGGESTION_SHOWN, f"a{back}", "python", length=11, time=t),
            Event(
                ev.SUGGESTION_ACCEPTED,
                f"a{back}",
                "python",
                11,
                detail={"keystrokes": 10},
                time=t + 1,
            ),
            Event(ev.SUGGESTION_SHOWN, f"b{back}", "python", length=5, time=t + 2),
            Event(ev.SUGGESTION_HIDDEN, "", "python", time=t + 3),
            Event(ev.SUGGESTION_HIDDEN_TYPED, "", "python", detail={"keystrokes": 6}, time=t + 4),
        ]
    return events


def test_the_first_weeks_are_binned_by_day_then_by_week() -> None:
    early = summarize(_use([0, 2, 3]))  # four days of history, one without use
    assert early.unit == "day"
    timeline = early.timeline()
    assert [key for key, _ in timeline] == [
        (dt.date.fromtimestamp(NOW) - dt.timedelta(days=back)).isoformat() for back in (3, 2, 1, 0)
    ]
    assert [t.shown for _, t in timeline] == [2, 2, 0, 2]  # the empty day is a bin too
    assert [t.hidden_typed_keystrokes for _, t in timeline] == [6, 6, 0, 6]
    data = early.to_json()
    assert data["timeline"] == "day" and len(data["days"]) == 3
    assert data["completions"]["hidden_then_typed"] == 3
    assert data["completions"]["hidden_then_typed_keystrokes"] == 18
    text = render_text(early)
    assert "per day " in text and "per week" not in text
    assert "then typed by hand         3   (exactly as predicted: 18 keystrokes" in text

    later = summarize(_use([0, 1, 40]))  # six weeks: weekly, the weeks between included
    assert later.unit == "week" and later.to_json()["timeline"] == "week"
    weeks = [key for key, _ in later.timeline()]
    assert weeks[0] == week_of(NOW - 40 * DAY) and weeks[-1] == week_of(NOW)
    assert len(weeks) in (6, 7) and len(set(weeks)) == len(weeks)
    assert sum(t.shown for _, t in later.timeline()) == 6
    assert "per week" in render_text(later)


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (5, [0, 1, 2, 3, 4, 5]),
        (6, [0, 2, 4, 6]),
        (17, [0, 5, 10, 15, 20]),
        (99, [0, 20, 40, 60, 80, 100]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_count_axes_have_whole_round_ticks(peak: int, ticks: list[int]) -> None:
    assert count_ticks(peak) == ticks


def test_charts_of_a_little_data_read_sensibly(tmp_path: Path) -> None:
    summary = summarize(_use([0]))  # one day, two suggestions
    page = render_html(summary)
    labels = re.findall(r'text-anchor="end" class="axis">([^<]*)<', page)
    assert labels == ["0", "1", "2", "3", "0", "5", "10", "15", "20"]  # 3 generated, 16 keys
    assert "Suggestions per day" in page and "hidden, then typed" in page
    assert dt.date.fromtimestamp(NOW).strftime("%b") in page  # a day's label, e.g. "Nov 3"

    store_file = tmp_path / "fb.sqlite3"
    with FeedbackStore(store_file) as store:
        assert store.record_many(_use([0, 1, 3]), wait=True)

    def plot(target: Path) -> subprocess.CompletedProcess[str]:
        command = ["stats", "--store", str(store_file), "--plot", str(target)]
        return subprocess.run(
            [sys.executable, "-P", "-m", "tactful.server", *command],
            capture_output=True,
            text=True,
            timeout=120,
        )

    image = tmp_path / "stats.png"
    done = plot(image)
    assert done.returncode == 0, done.stderr
    assert f"Charts written to {image}" in done.stdout
    from matplotlib.image import imread

    pixels = imread(image)
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pixels.shape[0] > 400 and pixels.shape[1] > 600

    done = plot(tmp_path / "stats.pdf")
    assert done.returncode == 2 and "FILE.html or FILE.png" in done.stderr

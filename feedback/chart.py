"""``tactful stats --plot``: the summary as one self-contained HTML page with inline SVG charts.

Boundary: string building only — no scripts, no fonts or styles fetched from anywhere, so the
file opens anywhere, offline, and can be mailed or attached to an issue. Every number shown is
also in ``tactful stats --format json``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence

from tactful.feedback.stats import Summary, Tally

INK = "#1f2933"
MUTED = "#7b8794"
SHOWN = "#c5d5ea"
ACCEPTED = "#2f6fb3"
SAVED = "#2a9d8f"
RATE = "#e76f51"
HIDDEN = "#b8b8b8"
MISSED = "#f4a261"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def count_ticks(peak: float, most: int = 5) -> list[int]:
    """Ticks for an axis of counts: whole numbers from 0 to a round top at or above ``peak``,
    at most ``most`` steps of 1, 2 or 5 times a power of ten (3 suggestions: 0, 1, 2, 3; not
    0, 1.25, 2.5, 3.75, 5)."""
    top = max(1, math.ceil(peak))
    step = 1
    for power in range(0, 19):
        step = next((m * 10**power for m in (1, 2, 5) if top / (m * 10**power) <= most), 0)
        if step:
            break
    top = math.ceil(top / step) * step
    return list(range(0, top + 1, step))


def bin_label(key: str, unit: str) -> str:
    """A bin's label on the time axis: ``Nov 3`` for a day, ``W45`` for an ISO week."""
    if unit == "day":
        day = dt.date.fromisoformat(key)
        return f"{day:%b} {day.day}"
    return key[5:]


def _label_every(count: int, most: int = 12) -> int:
    return max(1, math.ceil(count / most))


def _gridlines(ticks: Sequence[int], left: int, right: int, top: int, plot_h: int) -> list[str]:
    """A horizontal line and its label on the left axis for each tick, the last at the top."""
    peak = ticks[-1]
    parts = []
    for value in ticks:
        y = top + plot_h - plot_h * value / peak
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e4e7eb"/><text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" '
            f'class="axis">{value}</text>'
        )
    return parts


def _timeline(bins: Sequence[tuple[str, Tally]], unit: str) -> str:
    """Bars of generated, shown and accepted suggestions per day or week, with the acceptance
    rate as a line on the right axis."""
    width, height = 760, 320
    left, right, top, bottom = 64, 64, 24, 72
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = count_ticks(max((t.shown + t.hidden for _, t in bins), default=0))
    peak = ticks[-1]
    slot = plot_w / max(len(bins), 1)
    bar = min(36.0, slot * 0.7)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Suggestions per {unit}">',
    ]
    parts.extend(_gridlines(ticks, left, width - right, top, plot_h))
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<text x="{width - right + 8}" y="{y + 4:.1f}" class="axis">{25 * i}%</text>')
    parts.append(
        f'<text transform="translate(16 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle" '
        'class="axis">suggestions</text>'
        f'<text transform="translate({width - 12} {top + plot_h / 2:.0f}) rotate(90)" '
        'text-anchor="middle" class="axis">acceptance rate</text>'
    )
    points = []
    every = _label_every(len(bins))
    for i, (key, t) in enumerate(bins):
        x = left + slot * i + (slot - bar) / 2
        for value, color, label in (
            (t.shown + t.hidden, HIDDEN, "generated (incl. hidden)"),
            (t.shown, SHOWN, "shown"),
            (t.accepted, ACCEPTED, "accepted"),
        ):
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{_esc(key)}: {value} {label}'
                "</title></rect>"
            )
        rate = t.acceptance_rate
        if rate is not None:
            points.append((x + bar / 2, top + plot_h - plot_h * min(rate, 1.0)))
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                f'class="axis">{_esc(bin_label(key, unit))}</text>'
            )
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{RATE}" stroke-width="2.5"/>')
    parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{RATE}"/>' for x, y in points)
    parts.append(
        f'<text x="{left}" y="{height - 14}" class="legend">'
        f'<tspan fill="{ACCEPTED}">■</tspan> accepted  '
        f'<tspan fill="{SHOWN}">■</tspan> shown  '
        f'<tspan fill="{HIDDEN}">■</tspan> hidden by the filter  '
        f'<tspan fill="{RATE}">●</tspan> acceptance rate (right axis)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _saved(bins: Sequence[tuple[str, Tally]], unit: str) -> str:
    """Keystrokes saved per day or week, and (stacked above, hatched) what the suggestions the
    filter hid, then typed by hand, would have saved."""
    width, height = 760, 230
    left, right, top, bottom = 64, 64, 16, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = count_ticks(
        max((t.keystrokes_saved + t.hidden_typed_keystrokes for _, t in bins), default=0)
    )
    peak = ticks[-1]
    slot = plot_w / max(len(bins), 1)
    bar = min(36.0, slot * 0.7)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Keystrokes saved">']
    parts.extend(_gridlines(ticks, left, width - right, top, plot_h))
    parts.append(
        f'<text transform="translate(16 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle" '
        'class="axis">keystrokes</text>'
    )
    every = _label_every(len(bins))
    for i, (key, t) in enumerate(bins):
        x = left + slot * i + (slot - bar) / 2
        h = plot_h * t.keystrokes_saved / peak
        missed = plot_h * t.hidden_typed_keystrokes / peak
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{SAVED}"><title>{_esc(key)}: {t.keystrokes_saved} keystrokes saved'
            "</title></rect>"
            f'<rect x="{x:.1f}" y="{top + plot_h - h - missed:.1f}" width="{bar:.1f}" '
            f'height="{missed:.1f}" fill="{MISSED}"><title>{_esc(key)}: '
            f"{t.hidden_typed_keystrokes} keystrokes typed by hand for {t.hidden_typed} hidden "
            "suggestions</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                f'class="axis">{_esc(bin_label(key, unit))}</text>'
            )
    parts.append(
        f'<text x="{left}" y="{height - 12}" class="legend">'
        f'<tspan fill="{SAVED}">■</tspan> saved by accepted suggestions  '
        f'<tspan fill="{MISSED}">■</tspan> typed by hand for suggestions the filter hid</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _languages(languages: Sequence[tuple[str, Tally]]) -> str:
    """One horizontal bar per language: its acceptance rate, with counts beside it."""
    row = 34
    width, height = 760, 24 + row * max(len(languages), 1)
    left, right = 130, 250
    plot_w = width - left - right
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Per language">']
    for i, (name, t) in enumerate(languages):
        y = 12 + row * i
        rate = t.acceptance_rate or 0.0
        parts.append(
            f'<text x="{left - 10}" y="{y + 17}" text-anchor="end" class="label">{_esc(name)}'
            f'</text><rect x="{left}" y="{y + 4}" width="{plot_w}" height="18" fill="#eef2f7"/>'
            f'<rect x="{left}" y="{y + 4}" width="{plot_w * min(rate, 1.0):.1f}" height="18" '
            f'fill="{ACCEPTED}"/><text x="{left + plot_w + 10}" y="{y + 17}" class="label">'
            f"{_pct(t.acceptance_rate)} of {t.shown} · {t.keystrokes_saved} keys saved</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(summary: Summary, title: str = "tactful: what you took, what it saved") -> str:
    t = summary.total
    data = summary.to_json()
    bins = summary.timeline()
    unit = summary.unit
    languages = sorted(summary.languages.items(), key=lambda kv: -kv[1].shown)
    cards = [
        ("acceptance rate", _pct(t.acceptance_rate), f"{t.accepted} of {t.shown} shown"),
        ("keystrokes saved", f"{t.keystrokes_saved:,}", f"{t.chars_accepted:,} characters taken"),
        ("hidden by the filter", f"{t.hidden:,}", f"{_pct(t.hidden_share)} of generated"),
        (
            "hidden, then typed",
            f"{t.hidden_typed:,}",
            f"by hand, as predicted: {t.hidden_typed_keystrokes:,} keystrokes",
        ),
        ("requests skipped", f"{t.skipped:,}", "unpromising moments, no engine asked"),
    ]
    card_html = "".join(
        f'<div class="card"><div class="big">{_esc(v)}</div><div class="name">{_esc(k)}</div>'
        f'<div class="sub">{_esc(s)}</div></div>'
        for k, v, s in cards
    )
    c, f = summary.comments, summary.fixes
    period = f"{data['period']['first'] or '—'} to {data['period']['last'] or '—'}"
    body = [
        f"<h1>{_esc(title)}</h1><p class='muted'>{_esc(period)}</p>",
        f'<div class="cards">{card_html}</div>',
    ]
    if bins:
        body += [
            f"<h2>Suggestions per {unit}</h2>",
            _timeline(bins, unit),
            f"<h2>Keystrokes saved per {unit}</h2>",
            _saved(bins, unit),
        ]
    else:
        body.append("<p>No suggestions recorded yet.</p>")
    if languages:
        body += ["<h2>Per language</h2>", _languages(languages)]
    body.append(
        "<h2>Review comments and fixes</h2>"
        f"<p>{c.shown} comments shown, {c.hidden} hidden, {c.dismissed} dismissed, {c.used} "
        f"acted on · {f.shown} fixes offered, {f.hidden} hidden, {f.used} applied</p>"
    )
    style = (
        f"body{{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:{INK};"
        "max-width:820px;margin:32px auto;padding:0 16px}"
        "h1{font-size:24px;margin-bottom:4px}h2{font-size:17px;margin:28px 0 8px}"
        f".muted{{color:{MUTED};margin-top:0}}"
        ".cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin:20px 0}"
        ".card{background:#f5f7fa;border-radius:10px;padding:14px}"
        f".big{{font-size:26px;font-weight:650;color:{ACCEPTED}}}.name{{font-weight:600}}"
        f".sub{{color:{MUTED};font-size:13px}}svg{{width:100%;height:auto;display:block}}"
        f".axis{{font-size:11px;fill:{MUTED}}}.legend{{font-size:12px;fill:{INK}}}"
        f".label{{font-size:13px;fill:{INK}}}"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_esc(title)}</title><style>{style}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def render_png(summary: Summary, title: str = "tactful: what you took, what it saved") -> bytes:
    """The per-day or per-week charts of ``render_html`` as one PNG image.

    Needs matplotlib (``pip install 'tactful[plot]'``); raises ``ImportError`` without it.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display: draw into memory
    from matplotlib.figure import Figure

    bins = summary.timeline()
    unit = summary.unit
    figure = Figure(figsize=(9, 6.4), dpi=110, layout="constrained")
    figure.suptitle(title, fontsize=13, color=INK)
    counts, saved = figure.subplots(2, 1, height_ratios=(3, 2))
    if not bins:
        counts.text(0.5, 0.5, "No suggestions recorded yet.", ha="center", va="center")
        counts.set_axis_off()
        saved.set_axis_off()
    else:
        positions = list(range(len(bins)))
        every = _label_every(len(bins))
        labels = [bin_label(key, unit) if i % every == 0 else "" for i, (key, _) in enumerate(bins)]
        width = 0.7 if len(bins) > 1 else 0.35
        tallies = [t for _, t in bins]
        counts.bar(
            positions,
            [t.shown + t.hidden for t in tallies],
            width,
            color=HIDDEN,
            label="hidden by the filter",
        )
        counts.bar(positions, [t.shown for t in tallies], width, color=SHOWN, label="shown")
        counts.bar(
            positions, [t.accepted for t in tallies], width, color=ACCEPTED, label="accepted"
        )
        ticks = count_ticks(max(t.shown + t.hidden for t in tallies))
        counts.set_yticks(ticks)
        counts.set_ylim(0, ticks[-1])
        counts.set_ylabel("suggestions")
        rate = counts.twinx()
        rated = [
            (x, r)
            for x, t in zip(positions, tallies, strict=True)
            if (r := t.acceptance_rate) is not None
        ]
        if rated:
            rate.plot(
                [x for x, _ in rated],
                [r * 100 for _, r in rated],
                color=RATE,
                marker="o",
                linewidth=2 if len(rated) > 1 else 0,
                label="acceptance rate",
            )
        rate.set_ylim(0, 100)
        rate.set_yticks([0, 25, 50, 75, 100], [f"{v}%" for v in (0, 25, 50, 75, 100)])
        rate.set_ylabel("acceptance rate")
        handles = counts.get_legend_handles_labels()
        extra = rate.get_legend_handles_labels()
        counts.legend(
            handles[0] + extra[0],
            handles[1] + extra[1],
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=4,
            fontsize=8,
            frameon=False,
        )
        counts.set_title(f"Suggestions per {unit}", fontsize=11, loc="left")

        kept = [t.keystrokes_saved for t in tallies]
        missed = [t.hidden_typed_keystrokes for t in tallies]
        saved.bar(positions, kept, width, color=SAVED, label="saved by accepted suggestions")
        saved.bar(
            positions,
            missed,
            width,
            bottom=kept,
            color=MISSED,
            label="typed by hand for suggestions the filter hid",
        )
        ticks = count_ticks(max(k + m for k, m in zip(kept, missed, strict=True)))
        saved.set_yticks(ticks)
        saved.set_ylim(0, ticks[-1])
        saved.set_ylabel("keystrokes")
        saved.legend(
            loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize=8, frameon=False
        )
        saved.set_title(f"Keystrokes saved per {unit}", fontsize=11, loc="left")
        for axes in (counts, saved):
            axes.set_xticks(positions, labels)
            axes.set_xlim(-0.75, len(bins) - 0.25)
            axes.spines[["top"]].set_visible(False)
            axes.tick_params(colors=MUTED, labelsize=8)
        saved.set_xlabel("day" if unit == "day" else "ISO week")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()

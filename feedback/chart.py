"""``tactful stats --plot``: the summary as one self-contained HTML page with inline SVG charts.

Boundary: string building only — no scripts, no fonts or styles fetched from anywhere, so the
file opens anywhere, offline, and can be mailed or attached to an issue. Every number shown is
also in ``tactful stats --format json``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from tactful.feedback.stats import Summary, Tally

INK = "#1f2933"
MUTED = "#7b8794"
SHOWN = "#c5d5ea"
ACCEPTED = "#2f6fb3"
SAVED = "#2a9d8f"
RATE = "#e76f51"
HIDDEN = "#b8b8b8"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return factor * step
    return 10 * step


def _weekly(weeks: Sequence[tuple[str, Tally]]) -> str:
    """Bars of shown and accepted per week, with the acceptance rate as a line."""
    width, height = 760, 300
    left, right, top, bottom = 56, 56, 24, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((t.shown + t.hidden for _, t in weeks), default=1))
    slot = plot_w / max(len(weeks), 1)
    bar = min(36.0, slot * 0.7)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Suggestions per week">',
    ]
    for i in range(5):
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e4e7eb"/><text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" '
            f'class="axis">{value:g}</text>'
            f'<text x="{width - right + 8}" y="{y + 4:.1f}" class="axis">{25 * i}%</text>'
        )
    points = []
    for i, (week, t) in enumerate(weeks):
        x = left + slot * i + (slot - bar) / 2
        for value, color, label in (
            (t.shown + t.hidden, HIDDEN, "generated (incl. hidden)"),
            (t.shown, SHOWN, "shown"),
            (t.accepted, ACCEPTED, "accepted"),
        ):
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{_esc(week)}: {value} {label}'
                "</title></rect>"
            )
        rate = t.acceptance_rate
        if rate is not None:
            points.append((x + bar / 2, top + plot_h - plot_h * min(rate, 1.0)))
        if len(weeks) <= 16 or i % max(1, len(weeks) // 12) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 18}" text-anchor="middle" '
                f'class="axis">{_esc(week[5:])}</text>'
            )
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{RATE}" stroke-width="2.5"/>')
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{RATE}"/>' for x, y in points
        )
    parts.append(
        f'<text x="{left}" y="{height - 12}" class="legend">'
        f'<tspan fill="{ACCEPTED}">■</tspan> accepted  '
        f'<tspan fill="{SHOWN}">■</tspan> shown  '
        f'<tspan fill="{HIDDEN}">■</tspan> hidden by the filter  '
        f'<tspan fill="{RATE}">━</tspan> acceptance rate (right axis)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _saved(weeks: Sequence[tuple[str, Tally]]) -> str:
    """Keystrokes saved per week."""
    width, height = 760, 200
    left, right, top, bottom = 56, 56, 16, 32
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((t.keystrokes_saved for _, t in weeks), default=1))
    slot = plot_w / max(len(weeks), 1)
    bar = min(36.0, slot * 0.7)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Keystrokes saved">']
    for i in range(3):
        y = top + plot_h - plot_h * i / 2
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e4e7eb"/><text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" '
            f'class="axis">{peak * i / 2:g}</text>'
        )
    for i, (week, t) in enumerate(weeks):
        x = left + slot * i + (slot - bar) / 2
        h = plot_h * t.keystrokes_saved / peak
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{SAVED}" rx="2"><title>{_esc(week)}: {t.keystrokes_saved} keystrokes saved'
            "</title></rect>"
        )
        if len(weeks) <= 16 or i % max(1, len(weeks) // 12) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 12}" text-anchor="middle" '
                f'class="axis">{_esc(week[5:])}</text>'
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
    weeks = sorted(summary.weeks.items())
    languages = sorted(summary.languages.items(), key=lambda kv: -kv[1].shown)
    cards = [
        ("acceptance rate", _pct(t.acceptance_rate), f"{t.accepted} of {t.shown} shown"),
        ("keystrokes saved", f"{t.keystrokes_saved:,}", f"{t.chars_accepted:,} characters taken"),
        ("hidden by the filter", f"{t.hidden:,}", f"{_pct(t.hidden_share)} of generated"),
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
    if weeks:
        body += [
            "<h2>Suggestions per week</h2>",
            _weekly(weeks),
            "<h2>Keystrokes saved per week</h2>",
            _saved(weeks),
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
        ".cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:20px 0}"
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

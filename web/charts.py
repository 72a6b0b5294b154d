"""Server-side SVG charts: pure functions from numbers to markup, no script and no CDN.

Colours are SVG presentation attributes (not style attributes) so the page's strict Content Security
Policy needs no 'unsafe-inline'. Every bar carries a <title>, which browsers show as a tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
)  # fmt: skip
OTHER = "other"
MAX_SERIES = len(PALETTE) - 1  # the rest is folded into "other"


def nice_max(v: float) -> float:
    """A round axis maximum at or above ``v`` (1, 2, 5 times a power of ten)."""
    if v <= 0:
        return 1.0
    p = 1.0
    while p * 10 <= v:
        p *= 10
    while p > v:
        p /= 10
    for m in (1, 2, 5, 10):
        if m * p >= v:
            return m * p
    return 10 * p


def axis_ticks(v: float, want: int = 4) -> list[int]:
    """Whole-number axis ticks from 0 to at least ``v``, about ``want`` steps: alerts come in ones."""
    step = max(1, int(nice_max(max(v, 1) / want)))
    top = step * max(1, -(-int(v) // step))
    return list(range(0, top + 1, step))


def fold_series(series: Mapping[str, Sequence[int]]) -> dict[str, list[int]]:
    """Keep the biggest series and sum the rest into 'other', so the legend stays readable."""
    ranked = sorted(series.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    out = {k: list(v) for k, v in ranked[:MAX_SERIES]}
    rest = ranked[MAX_SERIES:]
    if rest:
        out[OTHER] = [sum(col) for col in zip(*(v for _, v in rest), strict=True)]
    return out


def colour_map(keys: Sequence[str]) -> dict[str, str]:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}


def stacked_days(days: Sequence[date], series: Mapping[str, Sequence[int]], title: str) -> Markup:
    """Alerts per day, stacked by series; series values are per day, aligned with ``days``."""
    # The viewBox is about the size the page shows it at, so text keeps its intended size.
    w, h, left, bottom, top = 1300, 280, 44, 28, 12
    plot_w, plot_h = w - left - 10, h - bottom - top
    folded = fold_series(series)
    colours = colour_map(list(folded))
    totals = [sum(v[i] for v in folded.values()) for i in range(len(days))]
    ticks = axis_ticks(max(totals, default=0))
    ymax = ticks[-1]
    n = max(1, len(days))
    slot = plot_w / n
    bar = max(1.0, slot * 0.75)
    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in ticks:
        y = top + plot_h * (1 - tick / ymax)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - 10}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{tick}</text>')
    label_every = max(1, n // 15)
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for key, values in folded.items():
            v = values[i]
            if v <= 0:
                continue
            bh = plot_h * v / ymax
            y -= bh
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{bh:.1f}" fill="{colours[key]}">'
                f"<title>{escape(d.isoformat())} {escape(key)}: {v}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{h - 8}" class="axis" '
                f'text-anchor="middle">{d.strftime("%m-%d")}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend-item"><svg width="12" height="12" aria-hidden="true"><rect width="12" '
        f'height="12" fill="{c}"/></svg>{escape(k)}</span>'
        for k, c in colours.items()
    )
    return Markup("".join(parts) + f'<div class="legend">{legend}</div>')


def rate_bars(rows: Sequence[tuple[str, int, int]], title: str) -> Markup:
    """Horizontal bars of the false-alarm rate: rows of (name, false alarms, alerts with a verdict).

    Bars for fewer than 5 verdicts are drawn hatched-pale: a rate from 2 verdicts is a hint, not a
    measurement, and people tuning zones should see that at a glance.
    """
    row_h, left, right, top = 26, 170, 110, 6
    w = 640
    h = top + row_h * max(1, len(rows)) + 6
    plot_w = w - left - right
    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    if not rows:
        parts.append(f'<text x="{left}" y="{top + 18}" class="axis">No verdicts in this period yet.</text>')
    for i, (name, fa, reviewed) in enumerate(rows):
        y = top + i * row_h
        rate = fa / reviewed if reviewed else 0.0
        cls = "rate-bar" + (" rate-weak" if reviewed < 5 else "") + (" rate-high" if rate >= 0.5 else "")
        parts.append(f'<text x="{left - 8}" y="{y + 17}" class="label" text-anchor="end">{escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{plot_w}" height="{row_h - 8}" class="rate-track"/>')
        if reviewed:
            parts.append(
                f'<rect x="{left}" y="{y + 4}" width="{plot_w * rate:.1f}" height="{row_h - 8}" class="{cls}">'
                f"<title>{escape(name)}: {fa} false alarms of {reviewed} judged</title></rect>"
            )
        text = f"{rate:.0%} of {reviewed}" if reviewed else "no verdicts"
        parts.append(f'<text x="{left + plot_w + 8}" y="{y + 17}" class="axis">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

"""Hand-written inline SVG charts (no plotting dependency): grouped bars with a text alternative.

Every chart comes with the numbers it shows as text (`alt`), used as the SVG's aria-label and
the figure's caption, so a reader without the picture (or `pdftotext`) gets the same facts.
A missing or suppressed value draws no bar but a '–' on the axis where its bar would stand,
and the legend says what '–' means, so it never reads as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from etl.report import fmt

COLOURS = ("#1f5f8b", "#e07b39", "#5a9e6f", "#8e6bb0")
#: A series' colour by the direction in which its measure is better (dim_measure.better).
DIRECTION_COLOURS = {"higher": "#2e7d32", "neutral": "#8a8a8a", "lower": "#b3261e"}
MISSING_LEGEND = "– ikke offentliggjort (færre end 5) eller ikke opgjort"


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    alt: str


def bar_chart(title: str, categories: list[str], series: list[tuple[str, list[float | None]]], unit: str,
              width: int = 480, height: int = 210, colours: list[str] | None = None) -> Chart:
    """Grouped bars: one group per category (e.g. a quarter), one bar per series (`colours`: one
    per series, default the palette)."""
    colours = list(colours) if colours else [COLOURS[s % len(COLOURS)] for s in range(len(series))]
    left, right, top, bottom = 44, 8, 10, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if not fmt.is_missing(v)]
    peak = max(values) if values else 0.0
    scale_max = _nice(peak if unit not in fmt.SHARE_UNITS else min(1.0, peak) or 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{{ALT}}" font-family="sans-serif" font-size="9">']
    for i in range(5):  # grid and axis labels
        v = scale_max * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" fill="#555">'
                     f'{escape(fmt.axis(v, unit))}</text>')
    n_cat, n_ser = max(len(categories), 1), max(len(series), 1)
    missing = False
    group_w = plot_w / n_cat
    bar_w = min(28.0, group_w * 0.8 / n_ser)
    for c, category in enumerate(categories):
        x0 = left + c * group_w + (group_w - bar_w * n_ser) / 2
        for s, (_, vs) in enumerate(series):
            v = vs[c] if c < len(vs) else None
            if fmt.is_missing(v):
                missing = True
                parts.append(f'<text x="{x0 + (s + 0.5) * bar_w:.1f}" y="{top + plot_h - 2:.1f}" text-anchor="middle" '
                             f'fill="{colours[s]}" font-weight="bold">{fmt.SUPPRESSED}</text>')
                continue
            if scale_max <= 0:
                continue
            h = plot_h * max(float(v), 0.0) / scale_max
            parts.append(f'<rect x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                         f'height="{h:.1f}" fill="{colours[s]}"/>')
        parts.append(f'<text x="{left + (c + 0.5) * group_w:.1f}" y="{top + plot_h + 12}" text-anchor="middle" '
                     f'fill="#333">{escape(category)}</text>')
    legend_y = height - 8
    x = left
    for s, (name, _) in enumerate(series):
        parts.append(f'<rect x="{x}" y="{legend_y - 8}" width="9" height="9" fill="{colours[s]}"/>')
        parts.append(f'<text x="{x + 12}" y="{legend_y}" fill="#333">{escape(name)}</text>')
        x += 18 + 6 * len(name)
    if missing:
        parts.append(f'<text x="{x}" y="{legend_y}" fill="#333">{escape(MISSING_LEGEND)}</text>')
    parts.append("</svg>")
    alt = _sentence(f"{title}: " + "; ".join(
        f"{category}: " + ", ".join(f"{name} {fmt.figure(vs[c] if c < len(vs) else None, unit)}" for name, vs in series)
        for c, category in enumerate(categories))) if categories else f"{title}: ingen tal."
    svg = "".join(parts).replace("{ALT}", escape(alt, quote=True))
    return Chart(title, svg, alt)


def _sentence(text: str) -> str:
    """End with one full stop (a figure in 'mio. kr.' already has it)."""
    return text if text.endswith(".") else text + "."


def _nice(peak: float) -> float:
    """A round axis maximum at or above `peak`."""
    if peak <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(peak))) / 10 if peak >= 1 else 0.1
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if peak <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def hbar_chart(title: str, categories: list[str], values: list[float | None], unit: str, width: int = 480,
               label_width: int = 170, row: int = 13) -> Chart:
    """Horizontal bars, one per category (long category names, e.g. case types)."""
    top, right = 4, 40
    height = top + row * max(len(categories), 1) + 4
    known = [v for v in values if not fmt.is_missing(v)]
    scale_max = _nice(max(known)) if known else 1.0
    plot_w = width - label_width - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{{ALT}}" font-family="sans-serif" font-size="8.5">']
    for i, (category, v) in enumerate(zip(categories, values)):
        y = top + i * row
        name = category if len(category) <= 34 else category[:33] + "…"
        parts.append(f'<text x="{label_width - 4}" y="{y + row - 4}" text-anchor="end" fill="#333">{escape(name)}</text>')
        if not fmt.is_missing(v):
            w = plot_w * max(float(v), 0.0) / scale_max
            parts.append(f'<rect x="{label_width}" y="{y + 1}" width="{w:.1f}" height="{row - 3}" fill="{COLOURS[0]}"/>')
            parts.append(f'<text x="{label_width + w + 3:.1f}" y="{y + row - 4}" fill="#333">{escape(fmt.figure(v, unit))}</text>')
        else:  # a suppressed category: its dash where the bar would start, never an empty row read as 0
            parts.append(f'<text x="{label_width + 3}" y="{y + row - 4}" fill="#333">{fmt.SUPPRESSED}</text>')
    parts.append("</svg>")
    alt = (_sentence(f"{title}: " + "; ".join(f"{c}: {fmt.figure(v, unit)}" for c, v in zip(categories, values)))
           if categories else f"{title}: ingen tal.")
    return Chart(title, "".join(parts).replace("{ALT}", escape(alt, quote=True)), alt)

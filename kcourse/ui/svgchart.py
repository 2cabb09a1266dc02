"""Step-line charts as SVG text, for panels that redraw after every click.

A matplotlib figure takes 50-100 ms to draw on these machines (more than a whole click may
take, benchmarks/panel_speed.py); this draws the same series (from kcourse.charts' data
builders: refcount_series, MemoryTimeline) in well under a millisecond, and the browser
scales it. Lines are drawn "steps-post" like kcourse.charts, NaN leaves a gap, and the colours
are matplotlib's tab10 so a panel and a lesson's figure look alike.
"""

from __future__ import annotations

import math
from html import escape

TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
         "#7f7f7f", "#bcbd22", "#17becf")
MARKERS_UP_TO = 120  # points per series that still get a dot


def nice_ticks(high: float, integer: bool, count: int = 4) -> list[float]:
    """0 .. high in 1-2-5 steps (whole numbers only when `integer`)."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1.0, round(step))
    ticks, value = [], 0.0
    while value < high + step * 0.999:
        ticks.append(value)
        value += step
    return ticks


def _fmt(value: float) -> str:
    if abs(value) >= 1 << 20:
        return f"{value / (1 << 20):g} MiB"
    if abs(value) >= 1 << 10 and value % 1024 == 0:
        return f"{value / 1024:g} KiB"
    return f"{value:g}"


def step_chart(series: dict[str, list[float]], title: str = "", ylabel: str = "",
               xlabels: list[str] | None = None, xlabel: str = "", integer: bool = True,
               width: int = 560, height: int = 200, css_class: str = "kc-svgchart",
               dashed: tuple[str, ...] = (), xticks: bool = True) -> str:
    """One axes of step lines; a legend on the right. `xlabels` name the x positions; series
    named in `dashed` are drawn dashed; `xticks=False` leaves the x axis unlabelled."""
    left, right, top = 58, 120, 22 if title else 8
    bottom = 58 if xlabels else (34 if xlabel else 20) if xticks else 8
    pw, ph = width - left - right, height - top - bottom
    n = max((len(v) for v in series.values()), default=0)
    finite = [y for ys in series.values() for y in ys if not math.isnan(y)]
    ticks = nice_ticks(max(finite, default=1.0), integer)
    ymax = ticks[-1] or 1.0

    def sx(i: float) -> float:
        return left + (i + 0.5) * pw / max(n, 1)

    def sy(v: float) -> float:
        return top + ph - v / ymax * ph

    out = [f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="100%" '
           f'style="max-width:{width}px" viewBox="0 0 {width} {height}" font-family="sans-serif" '
           f'font-size="11">', f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" '
           'fill="white" stroke="#444"/>']
    if title:
        out.append(f'<text x="{left + pw / 2:.0f}" y="14" text-anchor="middle" '
                   f'font-size="12">{escape(title)}</text>')
    for tick in ticks:
        y = sy(tick)
        out.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#444"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    if ylabel:
        out.append(f'<text transform="translate(12 {top + ph / 2:.0f}) rotate(-90)" '
                   f'text-anchor="middle">{escape(ylabel)}</text>')
    every = max(1, math.ceil(n / 16))
    for i in range(0, n if xticks else 0, every):
        x = sx(i)
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" '
                   'stroke="#444"/>')
        if xlabels:
            out.append(f'<text transform="translate({x + 3:.1f} {top + ph + 10}) rotate(40)" '
                       f'font-size="10">{escape(xlabels[i])}</text>')
        else:
            out.append(f'<text x="{x:.1f}" y="{top + ph + 15}" text-anchor="middle">{i}</text>')
    if xlabel:
        out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 4}" text-anchor="middle">'
                   f"{escape(xlabel)}</text>")
    for k, (name, ys) in enumerate(series.items()):
        colour = TAB10[k % len(TAB10)]
        out.append(f'<g class="kc-series" data-name="{escape(name)}">')
        path, dots = [], []
        for i, y in enumerate(ys):
            if math.isnan(y):
                continue
            x0, yy = sx(i), sy(y)
            x1 = sx(i + 1) if i + 1 < n else x0
            if i == 0 or math.isnan(ys[i - 1]):
                path.append(f"M{x0:.1f},{yy:.1f}")
            else:
                path.append(f"V{yy:.1f}")
            path.append(f"H{x1:.1f}")
            if len(ys) <= MARKERS_UP_TO:
                dots.append(f'<circle cx="{x0:.1f}" cy="{yy:.1f}" r="2.5" fill="{colour}"/>')
        if path:
            dash = ' stroke-dasharray="6 3"' if name in dashed else ""
            out.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.6"{dash}/>')
        out.extend(dots)
        out.append("</g>")
        ly = top + 10 + 16 * k
        out.append(f'<line x1="{left + pw + 10}" y1="{ly}" x2="{left + pw + 28}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"/><text x="{left + pw + 32}" '
                   f'y="{ly + 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)

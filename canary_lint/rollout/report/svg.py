"""A small line chart as inline SVG: axes with round ticks, one polyline per series (a gap where a value is
missing), a legend, a <title> for screen readers. Every text is escaped; nothing but numbers computed here
reaches an attribute."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Line:
    name: str  # legend text
    css: str  # class: canary | baseline | limit
    points: list[tuple[float, float | None]]  # (x, y); y None is a gap
    dashed: bool = False


STYLE = {  # stroke colour and dash per class, inline so the SVG stands alone
    "canary": ("#d9480f", ""),
    "baseline": ("#1c7ed6", ""),
    "limit": ("#495057", "6 4"),
}


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: 0, 0.5, 1, 1.5 ..."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(1, count - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t < hi + step * 0.999:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e6 else f"{v:.3g}"


def line_chart(
    title: str,
    lines: list[Line],
    *,
    x_label: str = "",
    y_label: str = "",
    width: int = 640,
    height: int = 260,
    chart_id: str = "chart",
    from_zero: bool = False,
) -> str:
    """`from_zero`: the y axis starts at 0 (rates, shares, latencies); otherwise it spans the values (a
    gauge near its level). Lines are drawn last to first, so the first (the canary) lies on top."""
    left, right, top, bottom = 64, 16, 36, 64
    pw, ph = width - left - right, height - top - bottom
    xs = [x for ln in lines for x, _ in ln.points]
    ys = [y for ln in lines for _, y in ln.points if y is not None and math.isfinite(y)]
    x0, x1 = (min(0.0, min(xs)), max(xs)) if xs else (0.0, 1.0)
    if x1 <= x0:
        x1 = x0 + 1.0
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if lo >= 0 and (from_zero or hi <= 0 or lo < 0.5 * hi):
        lo = 0.0
    yt = nice_ticks(lo, hi)
    y0, y1 = yt[0], yt[-1]
    xt = nice_ticks(x0, x1, 6)
    xt = [t for t in xt if x0 - 1e-9 <= t <= x1 + 1e-9] or [x0]

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + ph - (y - y0) / ((y1 - y0) or 1.0) * ph

    tid = escape(chart_id, quote=True)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{tid}" role="img" '
        f'aria-labelledby="{tid}-title" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="12">',
        f'<title id="{tid}-title">{escape(title)}</title>',
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
        '<g class="axis y-axis" stroke="#ced4da">',
    ]
    for t in yt:
        y = py(t)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" stroke="none" fill="#495057">'
                   f"{escape(_fmt(t))}</text>")
    out.append("</g>")
    out.append('<g class="axis x-axis" stroke="#868e96">')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    for t in xt:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 4}"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle" stroke="none" fill="#495057">'
                   f"{escape(_fmt(t))}</text>")
    out.append("</g>")
    if x_label:
        out.append(f'<text class="x-label" x="{left + pw / 2:.1f}" y="{top + ph + 32}" text-anchor="middle">'
                   f"{escape(x_label)}</text>")
    if y_label:
        out.append(f'<text class="y-label" x="14" y="{top + ph / 2:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 14 {top + ph / 2:.1f})">{escape(y_label)}</text>')
    for ln in reversed(lines):
        colour, dash = STYLE.get(ln.css, ("#000000", ""))
        dash = dash or ("6 4" if ln.dashed else "")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        css = escape(ln.css, quote=True)
        for run in _runs(ln.points):
            pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            if len(run) == 1:
                x, y = run[0]
                out.append(f'<circle class="point {css}" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}"/>')
            else:
                out.append(f'<polyline class="line {css}" fill="none" stroke="{colour}" stroke-width="2"'
                           f'{dash_attr} points="{pts}"/>')
    out.append('<g class="legend">')
    lx = left
    for ln in lines:
        colour, dash = STYLE.get(ln.css, ("#000000", ""))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        ly = height - 12
        out.append(f'<line x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
                   f'stroke-width="2"{dash_attr}/>')
        out.append(f'<text x="{lx + 22}" y="{ly}">{escape(ln.name)}</text>')
        lx += 30 + 7 * len(ln.name)
    out.append("</g></svg>")
    return "\n".join(out)


def _runs(points: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """The points split at missing values."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None or not math.isfinite(y):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]

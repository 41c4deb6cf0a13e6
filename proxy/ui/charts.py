"""Charts as inline SVG, drawn on the server: no chart library, nothing to load, readable offline.

Colours come from the stylesheet (classes s0, s1, s2); every label is escaped; every mark has a
<title>, so hovering shows its value and screen readers get the figure's name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 220, 56, 28, 12


def _number(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 10 else f"{value:.2f}"


def _frame(title: str, body: list[str], names: Sequence[str], height: int = HEIGHT) -> Markup:
    legend = (
        "".join(f'<tspan class="t{k}" dx="{12 if k else 0}">■ {escape(name)}</tspan>' for k, name in enumerate(names))
        if len(names) > 1
        else ""
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f'<title>{escape(title)}</title><text class="legend" x="{LEFT}" y="10">{legend}</text>{"".join(body)}</svg>'
    )


def _nice(top: float) -> float:
    """A round axis top at or above `top` (1, 2, 2.5, 5 times a power of ten), so ticks read well."""
    if top <= 0:
        return 1
    power = 10.0 ** math.floor(math.log10(top))
    return next(m * power for m in (1, 2, 2.5, 4, 5, 8, 10) if m * power >= top)


def _axis(top: float, unit: str) -> list[str]:
    out = []
    for k in range(5):
        y = TOP + (HEIGHT - TOP - BOTTOM) * (1 - k / 4)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_number(top * k / 4))}{escape(unit)}</text>"
        )
    return out


def _x_labels(labels: Sequence[str], step: float) -> list[str]:
    every = max(1, len(labels) // 8)
    return [
        f'<text class="tick" x="{LEFT + step * (i + 0.5):.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(label[5:] if len(label) == 10 else label)}</text>"
        for i, label in enumerate(labels)
        if i % every == 0
    ]


def bars(title: str, labels: Sequence[str], series: dict[str, Sequence[float]], unit: str = "") -> Markup:
    """Grouped vertical bars: one group per label (a day), one bar per series."""
    if not labels:
        return Markup('<p class="empty">nothing recorded in this window</p>')
    top = _nice(max((max(v) for v in series.values() if v), default=0))
    step = (WIDTH - LEFT) / len(labels)
    width = min(step * 0.8 / len(series), 28)
    offset = (step - width * len(series)) / 2
    body = _axis(top, unit)
    for s, (name, values) in enumerate(series.items()):
        for i, value in enumerate(values):
            h = (HEIGHT - TOP - BOTTOM) * value / top
            x = LEFT + step * i + offset + width * s
            body.append(
                f'<rect class="s{s}" x="{x:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" '
                f'width="{max(width - 1, 1):.1f}" height="{h:.1f}">'
                f"<title>{escape(labels[i])} {escape(name)}: {escape(_number(value))}{escape(unit)}</title></rect>"
            )
    return _frame(title, body + _x_labels(labels, step), list(series))


def lines(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], unit: str = "") -> Markup:
    """One polyline per series over the labels (days), with a dot per point."""
    if not labels:
        return Markup('<p class="empty">nothing recorded in this window</p>')
    top = _nice(max((v for values in series.values() for v in values if v is not None), default=0))
    step = (WIDTH - LEFT) / len(labels)
    body = _axis(top, unit)
    for s, (name, values) in enumerate(series.items()):
        points = []
        for i, value in enumerate(values):
            if value is None:
                continue
            x, y = LEFT + step * (i + 0.5), HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / top
            points.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle class="s{s}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{escape(labels[i])} {escape(name)}: {escape(_number(value))}{escape(unit)}</title></circle>"
            )
        if len(points) > 1:
            body.append(f'<polyline class="line s{s}" points="{" ".join(points)}"/>')
    return _frame(title, body + _x_labels(labels, step), list(series))


def hbars(title: str, rows: Sequence[tuple[str, Sequence[float]]], names: Sequence[str], unit: str = "") -> Markup:
    """Horizontal stacked bars, one row per label (a model, a tool), longest first."""
    if not rows:
        return Markup('<p class="empty">nothing recorded in this window</p>')
    label_w, row_h = 200, 22
    height = TOP + 8 + row_h * len(rows)
    top = max(sum(values) for _, values in rows) or 1
    body = []
    for r, (label, values) in enumerate(rows):
        y = TOP + 8 + r * row_h
        short = label if len(label) <= 30 else "…" + label[-29:]
        body.append(
            f'<text class="tick" x="{label_w - 6}" y="{y + 14}" text-anchor="end">'
            f"{escape(short)}<title>{escape(label)}</title></text>"
        )
        x = float(label_w)
        for s, value in enumerate(values):
            w = (WIDTH - label_w - 60) * value / top
            body.append(
                f'<rect class="s{s}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}">'
                f"<title>{escape(label)} {escape(names[s])}: {escape(_number(value))}{escape(unit)}</title></rect>"
            )
            x += w
        body.append(
            f'<text class="tick" x="{x + 4:.1f}" y="{y + 14}">{escape(_number(sum(values)))}{escape(unit)}</text>'
        )
    return _frame(title, body, names, height)

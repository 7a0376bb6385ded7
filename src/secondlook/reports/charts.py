"""Score trajectories as SVG: dated scores of one instrument on its full scale, with a shaded
meaningful-change band around the first score (changes inside it are not meaningful) and a goal
line. Plain SVG with presentation attributes only (no script, no inline CSS), so it is safe under
a strict Content-Security-Policy and renders the same in a browser and in WeasyPrint."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

WIDTH = 480
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 28, 36


def _fmt(value: float) -> str:
    return f"{value:g}"


def trajectory_svg(
    *,
    title: str,
    points: Sequence[tuple[dt.date, float]],
    min_score: float,
    max_score: float,
    meaningful_points: float | None = None,
    goal: float | None = None,
    goal_label: str = "goal",
) -> str:
    """An SVG chart (a string) of `points`. Higher scores are worse on every instrument here.
    `goal_label` names the dashed goal line ("goal", or "plan goal" for a care plan's target)."""
    if not points:
        raise ValueError("a trajectory needs at least one point")
    points = sorted(points)
    span = (max_score - min_score) or 1.0
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    first_day = points[0][0]
    days = max((points[-1][0] - first_day).days, 1)

    def x(day: dt.date) -> float:
        if len(points) == 1:
            return LEFT + plot_w / 2
        return LEFT + plot_w * (day - first_day).days / days

    def y(score: float) -> float:
        clipped = min(max(score, min_score), max_score)
        return TOP + plot_h * (1 - (clipped - min_score) / span)

    summary = ", ".join(f"{d.isoformat()}: {_fmt(s)}" for d, s in points)
    description = f"{title}. Scores (higher is worse): {summary}."
    if goal is not None:
        description += f" {goal_label.capitalize()}: {_fmt(goal)} or less."
    if meaningful_points is not None:
        description += f" Changes smaller than {_fmt(meaningful_points)} points are not meaningful."
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(description)}" '
        f'class="chart">',
        f"<title>{escape(description)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-family="sans-serif" fill="#1a1a1a" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    if meaningful_points is not None:
        base = points[0][1]
        top, bottom = y(base + meaningful_points), y(base - meaningful_points)
        out.append(
            f'<rect x="{LEFT}" y="{top:.1f}" width="{plot_w}" height="{bottom - top:.1f}" '
            f'fill="#dbe7f3"><title>meaningful-change band: first score ± '
            f"{_fmt(meaningful_points)}</title></rect>"
        )
    for tick in _ticks(min_score, max_score):
        ty = y(tick)
        out.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" '
            f'stroke="#d0d0d0" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" font-size="11" font-family="sans-serif" '
            f'text-anchor="end" fill="#333333">{_fmt(tick)}</text>'
        )
    if goal is not None:
        gy = y(goal)
        out.append(
            f'<line x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}" '
            f'stroke="#1b6e2f" stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{WIDTH - RIGHT}" y="{gy - 4:.1f}" font-size="11" font-family="sans-serif" '
            f'text-anchor="end" fill="#1b6e2f">{escape(goal_label)} {_fmt(goal)}</text>'
        )
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(s):.1f}" for i, (d, s) in enumerate(points)
    )
    out.append(f'<path d="{path}" fill="none" stroke="#0b3d91" stroke-width="2"/>')
    for d, s in points:
        out.append(
            f'<circle cx="{x(d):.1f}" cy="{y(s):.1f}" r="4" fill="#0b3d91">'
            f"<title>{d.isoformat()}: {_fmt(s)}</title></circle>"
        )
    label_days = [points[0][0]] if len(points) == 1 else [points[0][0], points[-1][0]]
    for i, day in enumerate(label_days):
        anchor = "middle" if len(label_days) == 1 else ("start" if i == 0 else "end")
        out.append(
            f'<text x="{x(day):.1f}" y="{HEIGHT - 12}" font-size="11" font-family="sans-serif" '
            f'text-anchor="{anchor}" fill="#333333">{day.isoformat()}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _ticks(low: float, high: float) -> list[float]:
    span = high - low
    step = (
        next((s for s in (1, 2, 5, 10, 20, 25, 50) if span / s <= 6), span / 5) if span > 0 else 1
    )
    value = low
    ticks = []
    while value <= high + 1e-9:
        ticks.append(value)
        value += step
    return ticks

"""Charts drawn on the server as SVG geometry: no JavaScript library, no CDN.

The functions return plain numbers and strings for a template
(``wagtail_journeys/analytics/chart_*.html``) to draw; every label is
escaped there like any other text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils.formats import date_format

#: Drawing area of the line chart, in SVG units.
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 44, 24, 10


@dataclass
class Series:
    label: str
    css_class: str
    points: str
    total: int


@dataclass
class LineChart:
    """A daily time series: one polyline per metric over the days."""

    series: list[Series] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_labels: list[tuple[float, int]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM
    empty: bool = True


def _nice_ceiling(value: int) -> int:
    """1, 2, 5, 10, 20, 50... at or above ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def line_chart(days: list[tuple[date, object]], metrics: list[tuple[str, str, str]]) -> LineChart:
    """``days`` as ``reports.daily`` gives them; ``metrics`` as (attribute, label, CSS class)."""
    chart = LineChart()
    if not days:
        return chart
    values = {name: [getattr(totals, name) for _day, totals in days] for name, *_ in metrics}
    highest = max((max(numbers) for numbers in values.values()), default=0)
    # Four even steps of a round size: 0, 5, 10, 15, 20 rather than 0, 4, 9, 13, 18.
    tick = _nice_ceiling(-(-highest // 4))
    top = tick * 4
    plot_width = WIDTH - LEFT - 10
    plot_height = HEIGHT - BOTTOM - TOP
    step = plot_width / max(len(days) - 1, 1)

    def x(index: int) -> float:
        return round(LEFT + index * step, 1)

    def y(value: int) -> float:
        return round(TOP + plot_height - value / top * plot_height, 1)

    for name, label, css_class in metrics:
        points = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values[name]))
        chart.series.append(Series(label, css_class, points, sum(values[name])))
    every = max(1, len(days) // 6)
    chart.x_labels = [
        (x(i), date_format(day, "M j")) for i, (day, _totals) in enumerate(days) if i % every == 0
    ]
    chart.y_labels = [(y(tick * n), tick * n) for n in range(5)]
    chart.empty = not any(series.total for series in chart.series)
    return chart


@dataclass
class FunnelStage:
    label: str
    count: int
    #: Width of the bar, in per cent of the first stage.
    percent: float
    #: Share of the stage before it (None for the first).
    of_previous: float | None


def funnel(stages: list[tuple[str, int]]) -> list[FunnelStage]:
    """Bars for a funnel: entered → sent → opened → clicked → converted."""
    first = stages[0][1] if stages else 0
    result = []
    previous = None
    for label, count in stages:
        result.append(
            FunnelStage(
                label,
                count,
                round(100 * count / first, 1) if first else 0.0,
                (count / previous) if previous else None,
            )
        )
        previous = count
    return result

"""Line charts as inline SVG geometry, computed on the server: no JavaScript chart library,
no database. A view builds a `Chart` from numbers; `simulator/_chart.html` draws it.

A chart is one or more panels stacked over a shared x axis, each with its own y scale
(VIX and a market level do not share units, so they get a panel each).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH = 600
PANEL_HEIGHT = 150
PANEL_GAP = 40
MARGIN_LEFT = 52
MARGIN_RIGHT = 16
MARGIN_TOP = 20
MARGIN_BOTTOM = 26


@dataclass(frozen=True)
class SeriesSpec:
    """One line: its name (for the legend), a CSS class, and its (x, y) points."""

    name: str
    css: str
    points: Sequence[tuple[float, float]]
    dots: bool = False


@dataclass(frozen=True)
class PanelSpec:
    label: str
    series: Sequence[SeriesSpec]
    y_format: Callable[[float], str] = lambda v: f"{v:g}"


@dataclass(frozen=True)
class Tick:
    at: float  # pixels
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    path: str  # "x,y x,y ..." for a polyline
    dots: tuple[Dot, ...] = ()


@dataclass(frozen=True)
class Panel:
    label: str
    top: float
    bottom: float
    y_ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]

    @property
    def label_y(self) -> float:
        return self.top - 5


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    width: int
    height: float
    left: float
    right: float
    panels: tuple[Panel, ...]
    x_ticks: tuple[Tick, ...]
    legend: tuple[tuple[str, str], ...] = field(default=())  # (name, css)
    empty: bool = False

    @property
    def axis_y(self) -> float:
        return self.panels[-1].bottom if self.panels else self.height - MARGIN_BOTTOM

    @property
    def plot_top(self) -> float:
        return self.panels[0].top if self.panels else MARGIN_TOP

    @property
    def y_label_x(self) -> float:
        return self.left - 6

    @property
    def x_label_y(self) -> float:
        return self.axis_y + 16


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round numbers spanning [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(high) * 0.01 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks and ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    return lambda v: out_lo + (v - lo) / span * (out_hi - out_lo)


def line_chart(
    *,
    title: str,
    description: str,
    panels: Sequence[PanelSpec],
    x_ticks: Sequence[tuple[float, str]] = (),
    x_transform: Callable[[float], float] = lambda v: v,
    x_range: tuple[float, float] | None = None,
    width: int = WIDTH,
    panel_height: int = PANEL_HEIGHT,
) -> Chart:
    """Lay out `panels` (stacked, sharing x) in pixels. `x_transform` bends the x axis
    (a square root spreads the short end of a yield curve)."""
    xs = [x_transform(x) for p in panels for s in p.series for x, _ in s.points]
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    if not xs:
        return Chart(title, description, width, 60, left, right, (), (), empty=True)
    x_lo, x_hi = (
        (x_transform(x_range[0]), x_transform(x_range[1])) if x_range else (min(xs), max(xs))
    )
    to_x = _scale(x_lo, x_hi, left, right)

    laid: list[Panel] = []
    top = MARGIN_TOP
    for spec in panels:
        bottom = top + panel_height
        ys = [y for s in spec.series for _, y in s.points if math.isfinite(y)]
        ticks = nice_ticks(min(ys), max(ys)) if ys else []
        y_lo, y_hi = (ticks[0], ticks[-1]) if ticks else (0.0, 1.0)
        to_y = _scale(y_lo, y_hi, bottom, top)
        lines = []
        for s in spec.series:
            pts = [(to_x(x_transform(x)), to_y(y)) for x, y in s.points if math.isfinite(y)]
            dots = (
                tuple(
                    Dot(round(px, 1), round(py, 1), f"{s.name}: {spec.y_format(y)}")
                    for (px, py), (_, y) in zip(
                        pts, [p for p in s.points if math.isfinite(p[1])], strict=True
                    )
                )
                if s.dots
                else ()
            )
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            lines.append(Line(s.name, s.css, path, dots))
        laid.append(
            Panel(
                spec.label,
                top,
                bottom,
                tuple(Tick(round(to_y(t), 1), spec.y_format(t)) for t in ticks),
                tuple(lines),
            )
        )
        top = bottom + PANEL_GAP
    height = laid[-1].bottom + MARGIN_BOTTOM
    legend = tuple(dict.fromkeys((s.name, s.css) for p in panels for s in p.series))
    return Chart(
        title,
        description,
        width,
        height,
        left,
        right,
        tuple(laid),
        tuple(Tick(round(to_x(x_transform(x)), 1), label) for x, label in x_ticks),
        legend if len(legend) > 1 else (),
    )


# --- the market page's two charts --------------------------------------------------------

CURVE_TICKS = ((0.25, "3M"), (1.0, "1Y"), (2.0, "2Y"), (5.0, "5Y"), (10.0, "10Y"), (30.0, "30Y"))


def _percent(value: float) -> str:
    return f"{value:.2f}%"


def curve_chart(
    today: Sequence[tuple[float, float]],
    previous: Sequence[tuple[float, float]] = (),
    *,
    today_label: str = "Today",
    previous_label: str = "Previous session",
) -> Chart:
    """Par yields (fractions) by tenor (years), today over the previous session's close.
    The x axis is a square root of the tenor, so the short end is not crushed."""
    series = []
    if previous:
        series.append(
            SeriesSpec(previous_label, "line-previous", [(t, y * 100) for t, y in previous])
        )
    series.append(SeriesSpec(today_label, "line-main", [(t, y * 100) for t, y in today], True))
    tenors = [t for t, _ in today] + [t for t, _ in previous]
    return line_chart(
        title="Treasury par curve",
        description="Par yields in percent by tenor"
        + (" with the previous close" if previous else ""),
        panels=[PanelSpec("Par yield", series, _percent)],
        x_ticks=[
            (t, label) for t, label in CURVE_TICKS if tenors and min(tenors) <= t <= max(tenors)
        ],
        x_transform=math.sqrt,
        x_range=(min(tenors), max(tenors)) if tenors else None,
    )


def market_chart(history: Sequence[dict]) -> Chart:
    """VIX and the market factor (cumulated, rebased to 100) over the given snapshots,
    oldest first; session dates mark the x axis."""
    level = 100.0
    vix_points, level_points, x_ticks = [], [], []
    last_date = None
    for index, row in enumerate(history):
        level *= math.exp(float(row["market_return"]))
        vix_points.append((float(index), float(row["vix"])))
        level_points.append((float(index), level))
        if row["sim_date"] != last_date:
            x_ticks.append((float(index), row["sim_date"].strftime("%d %b")))
            last_date = row["sim_date"]
    if len(x_ticks) > 8:  # keep the axis readable: every n-th session
        step = math.ceil(len(x_ticks) / 8)
        x_ticks = x_ticks[::step]
    return line_chart(
        title="VIX and the market",
        description=f"VIX and the market factor rebased to 100, last {len(history)} ticks",
        panels=[
            PanelSpec("VIX", [SeriesSpec("VIX", "line-vix", vix_points)], lambda v: f"{v:g}"),
            PanelSpec(
                "Market (rebased 100)",
                [SeriesSpec("Market", "line-main", level_points)],
                lambda v: f"{v:.1f}",
            ),
        ],
        x_ticks=x_ticks,
        x_range=(0.0, float(max(len(history) - 1, 1))),
        panel_height=110,
    )

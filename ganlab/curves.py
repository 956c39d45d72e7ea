"""The live training curves as one small picture: losses, D's outputs and gradient norms.

Drawn with Pillow (the bands with numpy) on the server in a few milliseconds; the live view redraws it
at most once a second, when the history has grown (ganlab.live.previews). Three interactive line plots
redrawn in the browser cost the browser's share of a 2-core machine far more than one picture does
(bench/bench_streaming.py).

When a series has more points than its panel has pixel columns, each column shows the range of
the values that fall in it (a light band) and their mean (the line): an oscillating loss stays
visibly oscillating instead of being thinned into a misleading smooth curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REAL_COLOUR = (31, 119, 180)  # the blue and red of the 2D view (ganlab.plots): D / real, G / generated
FAKE_COLOUR = (214, 39, 40)
GUIDE_COLOUR = (136, 136, 136)
AXIS_COLOUR = (90, 90, 90)
GRID_COLOUR = (232, 232, 232)
BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class Series:
    label: str
    values: np.ndarray
    colour: tuple[int, int, int]
    dashed: bool = False
    steps: np.ndarray | None = None  # its own steps (a few measurements) on the shared axis; None: the figure's


@dataclass(frozen=True)
class Panel:
    title: str
    series: tuple[Series, ...]
    y_range: tuple[float, float] | None = None  # fixed (D's probabilities), else fitted to the data
    log: bool = False  # a log y axis (FID falls a hundredfold in a run; the last tenfold matters as much)


@lru_cache(maxsize=4)
def label_font(size: int) -> ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels (no system font needed)."""
    return ImageFont.load_default(size=size)


def training_panels(history: dict[str, np.ndarray], probability: bool) -> list[Panel]:
    """The three panels of a run's history (as RunSnapshot.history holds it)."""
    d = "D" if probability else "critic"
    outputs = [
        Series(f"{d}(x) real", history["d_real"], REAL_COLOUR),
        Series(f"{d}(G(z)) generated", history["d_fake"], FAKE_COLOUR),
    ]
    if probability:  # 0.5 = D cannot tell them apart: where a healthy game settles
        outputs.append(Series("0.5", np.full(len(history["step"]), 0.5), GUIDE_COLOUR, dashed=True))
    return [
        Panel("Losses", (Series("D loss", history["d_loss"], REAL_COLOUR), Series("G loss", history["g_loss"], FAKE_COLOUR))),
        Panel(f"{d}'s output (mean)", tuple(outputs), (0.0, 1.0) if probability else None),
        Panel(
            "Gradient norms", (Series("D", history["d_grad_norm"], REAL_COLOUR), Series("G", history["g_grad_norm"], FAKE_COLOUR))
        ),
    ]


def quality_panels(quality: Any, steps: np.ndarray) -> list[Panel]:
    """The quality panels of a run (``quality``: a ganlab.live.quality.QualityHistory) on the figure's
    ``steps``: G's samples measured every few seconds (points), the real data's own value (dashed)."""

    def pair(name: str) -> tuple[Series, Series]:
        real = np.full(len(steps), quality.reference.get(name, np.nan))  # NaN until the first measurement
        return (
            Series("G's samples", quality.values[name], FAKE_COLOUR, steps=quality.step),
            Series("real data", real, REAL_COLOUR, dashed=True),
        )

    if quality.kind == "images":
        return [
            Panel(f"FID to real images, N={quality.samples} (lower is better; log)", pair("fid"), log=True),
            Panel("Inception Score (higher is better)", pair("inception_score")),
        ]
    modes = max(1, quality.num_modes)
    return [
        Panel(f"Modes covered (of {modes})", pair("modes_covered"), (0.0, modes + 0.5)),
        Panel("High-quality share (within 3 std of a mode)", pair("high_quality"), (0.0, 1.05)),
    ]


LEFT, RIGHT, TOP, BOTTOM = 46, 10, 20, 18  # room for the y labels, each title line, the step labels
PANEL_HEIGHT = 147  # the default figure's: three panels in 460 pixels


def curves_height(panels: int) -> int:
    """The figure's height for ``panels`` panels: 460 pixels for three, each more as tall as those."""
    return 460 + PANEL_HEIGHT * max(0, panels - 3)


def draw_curves(steps: np.ndarray, panels: list[Panel], *, width: int = 520, height: int = 460) -> np.ndarray:
    """RGB uint8 (height, width, 3): the panels stacked, sharing the step axis."""
    layout = _layout(len(panels), width, height)
    pixels = np.array(
        _frame(tuple((p.title, tuple((s.label, s.colour) for s in p.series)) for p in panels), width, height)
    )  # a copy to draw on
    small = label_font(11)
    steps = np.asarray(steps, dtype=np.float64)
    x_lo, x_hi = (float(steps[0]), float(steps[-1])) if len(steps) else (0.0, 1.0)
    if x_hi <= x_lo:
        x_hi = x_lo + 1
    plot_width = width - LEFT - RIGHT

    def columns_of(x: np.ndarray) -> np.ndarray:
        return np.clip(
            ((np.asarray(x, dtype=np.float64) - x_lo) / (x_hi - x_lo) * (plot_width - 1)).astype(int), 0, plot_width - 1
        )

    columns = columns_of(steps)
    ranges, reductions = [], []
    for panel, (y0, y1) in zip(panels, layout):
        values = [_scaled(s.values, panel.log) for s in panel.series]
        lo, hi = _scaled(np.array(panel.y_range), panel.log) if panel.y_range else _fit_range(values, from_zero=not panel.log)
        reduced = []
        for series, v in zip(panel.series, values):
            if series.steps is not None:  # a few measurements: each drawn where it was made, gaps kept
                reduced.append((columns_of(series.steps), v, None, None))
            else:
                reduced.append(_per_column(columns, v) if len(steps) else (np.array([], dtype=int), np.array([]), None, None))
        for series, (used, _, lows, highs) in zip(panel.series, reduced):  # every band under every line
            if lows is not None:
                _fill_band(pixels, LEFT + used, _to_y(lows, lo, hi, y0, y1), _to_y(highs, lo, hi, y0, y1), series)
        ranges.append((lo, hi))
        reductions.append(reduced)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for panel, (y0, y1), (lo, hi), reduced in zip(panels, layout, ranges, reductions):
        for fraction in (0.0, 0.5, 1.0):
            value = lo + fraction * (hi - lo)
            draw.text(
                (LEFT - 4, y1 - fraction * (y1 - y0)),
                _format(10**value if panel.log else value),
                fill=AXIS_COLOUR,
                font=small,
                anchor="rm",
            )
        for series, (used, means, _, _) in zip(panel.series, reduced):
            ys = _to_y(means, lo, hi, y0, y1)
            if series.steps is not None:
                _draw_measurements(draw, LEFT + used, ys, series)
            else:
                _draw_line(draw, LEFT + used, ys, series)
    last = layout[-1][1] if layout else height - BOTTOM
    draw.text((LEFT, last + 3), f"step {x_lo:,.0f}", fill=AXIS_COLOUR, font=small, anchor="lt")
    draw.text((width - RIGHT, last + 3), f"step {x_hi:,.0f}", fill=AXIS_COLOUR, font=small, anchor="rt")
    return np.asarray(image)


def _scaled(values: np.ndarray, log: bool) -> np.ndarray:
    """The values as the y axis reads them: log10 on a log axis (values <= 0 sit at its floor)."""
    values = np.asarray(values, dtype=np.float64)
    if not log:
        return values
    with np.errstate(invalid="ignore"):
        return np.log10(np.clip(values, 1e-3, None))  # NaN stays NaN: a gap


def _layout(count: int, width: int, height: int) -> list[tuple[int, int]]:
    """(top, bottom) pixel rows of each panel's plot area."""
    panel_height = (height - BOTTOM) // max(1, count)
    return [(i * panel_height + TOP, (i + 1) * panel_height - 6) for i in range(count)]


@lru_cache(maxsize=8)
def _frame(panels: tuple, width: int, height: int) -> Image.Image:
    """What does not change between two pictures of a run: titles, legends, boxes and grid lines
    (text is the dearest thing to draw, so it is drawn once)."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font, small = label_font(13), label_font(11)
    for (title, legend), (y0, y1) in zip(panels, _layout(len(panels), width, height)):
        _title_and_legend(draw, title, legend, LEFT, y0 - TOP + 3, width - RIGHT, font, small)
        draw.rectangle([LEFT, y0, width - RIGHT, y1], outline=AXIS_COLOUR)
        middle = (y0 + y1) / 2
        draw.line([(LEFT + 1, middle), (width - RIGHT - 1, middle)], fill=GRID_COLOUR)
    return image


def _title_and_legend(
    draw: ImageDraw.ImageDraw,
    title: str,
    legend: tuple,
    x: int,
    y: int,
    x_end: int,
    font: ImageFont.ImageFont,
    small: ImageFont.ImageFont,
) -> None:
    draw.text((x, y), title, fill=(20, 20, 20), font=font)
    cursor = x_end
    for label, colour in reversed(legend):  # right-aligned: a coloured swatch, then the label
        cursor -= draw.textlength(label, font=small)
        draw.text((cursor, y + 1), label, fill=AXIS_COLOUR, font=small)
        cursor -= 18
        draw.line([(cursor, y + 8), (cursor + 14, y + 8)], fill=colour, width=3)
        cursor -= 10


def _fit_range(arrays: list[np.ndarray], *, from_zero: bool = True) -> tuple[float, float]:
    values = np.concatenate(arrays) if arrays else np.array([])
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    # The first steps can be far off the rest: fit the 1st-99th percentiles, so they do not flatten
    # the whole run into a line (the off-range points are drawn at the edge).
    if len(values) >= 50:
        k = len(values) // 100
        ordered = np.partition(values, [k, len(values) - 1 - k])  # two order statistics, no full sort
        lo, hi = float(ordered[k]), float(ordered[len(values) - 1 - k])
    else:
        lo, hi = float(values.min()), float(values.max())
    if from_zero and 0 <= lo < 0.25 * hi:
        lo = 0.0  # non-negative numbers near zero (norms, losses): show zero, it is the reference
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.06 * (hi - lo)
    return (lo if lo == 0.0 else lo - pad), hi + pad


def _per_column(columns: np.ndarray, values: np.ndarray) -> tuple:
    """(used columns, mean, min, max) per pixel column; min/max are None when no column holds two values."""
    finite = np.isfinite(values)
    columns, values = columns[finite], values[finite]
    if not len(values):
        return np.array([], dtype=int), np.array([]), None, None
    used, start = np.unique(columns, return_index=True)
    counts = np.diff(np.append(start, len(columns)))
    means = np.add.reduceat(values, start) / counts
    if (counts > 1).any():
        return used, means, np.minimum.reduceat(values, start), np.maximum.reduceat(values, start)
    return used, means, None, None


def _to_y(values: np.ndarray, lo: float, hi: float, y0: int, y1: int) -> np.ndarray:
    return y1 - 1 - (np.clip(values, lo, hi) - lo) / (hi - lo) * (y1 - y0 - 2)


def _fill_band(pixels: np.ndarray, xs: np.ndarray, low_y: np.ndarray, high_y: np.ndarray, series: Series) -> None:
    """Each pixel column from its lowest to its highest value, in the series' colour three-quarters faded
    (painted on the array: Pillow filled the same band as a polygon of a thousand corners ~4x slower)."""
    if len(xs) < 2:
        return
    band = np.array([int(c * 0.25 + 255 * 0.75) for c in series.colour], dtype=np.uint8)
    columns = np.arange(xs[0], xs[-1] + 1)  # columns without a value between two that have one: interpolated
    top, bottom = np.round(np.interp(columns, xs, high_y)), np.round(np.interp(columns, xs, low_y))
    first, last = int(top.min()), int(bottom.max())
    rows = np.arange(first, last + 1)[:, None]
    pixels[first : last + 1, columns[0] : columns[-1] + 1][(rows >= top) & (rows <= bottom)] = band


def _draw_line(draw: ImageDraw.ImageDraw, xs: np.ndarray, ys: np.ndarray, series: Series) -> None:
    points = list(zip(xs.tolist(), ys.tolist()))
    if not points:
        return
    if len(points) == 1:
        x, y = points[0]
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=series.colour)
    elif series.dashed:
        for i in range(0, len(points) - 1, 8):  # 4 px on, 4 px off (points are about a pixel apart)
            draw.line(points[i : i + 5], fill=series.colour, width=1)
    else:
        draw.line(points, fill=series.colour, width=2)


def _draw_measurements(draw: ImageDraw.ImageDraw, xs: np.ndarray, ys: np.ndarray, series: Series) -> None:
    """Measurements as dots joined by lines; a missing one (NaN: G's samples were not finite) leaves a gap."""
    finite = np.isfinite(ys)
    for i in range(len(xs) - 1):
        if finite[i] and finite[i + 1]:
            draw.line([(xs[i], ys[i]), (xs[i + 1], ys[i + 1])], fill=series.colour, width=2)
    for x, y in zip(xs[finite].tolist(), ys[finite].tolist()):
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=series.colour)


def _format(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.0f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.1f}"
    return f"{value:.2f}" if magnitude >= 0.01 else f"{value:.0e}"

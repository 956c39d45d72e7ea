"""Static figures (matplotlib, no GUI backend): what the CLI writes and the app shows for 2D data."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # never open a window; safe in servers and threads
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ganlab.data.toy import ToyDistribution  # noqa: E402

REAL_COLOUR = "#1f77b4"
FAKE_COLOUR = "#d62728"


def points_figure(data: ToyDistribution | None, samples: np.ndarray, *, size: float = 4.0) -> plt.Figure:
    """Real data (blue) and generated samples (red) on equal axes."""
    figure, axes = plt.subplots(figsize=(size, size), dpi=100)
    if data is not None:
        real = data.sample_numpy(len(samples), seed=1)
        axes.scatter(real[:, 0], real[:, 1], s=3, c=REAL_COLOUR, alpha=0.5, label="real")
        xmin, xmax, ymin, ymax = data.bounds()
        axes.set_xlim(xmin, xmax)
        axes.set_ylim(ymin, ymax)
    axes.scatter(samples[:, 0], samples[:, 1], s=3, c=FAKE_COLOUR, alpha=0.5, label="generated")
    axes.set_aspect("equal")
    axes.legend(loc="upper right", markerscale=4, fontsize=8)
    figure.tight_layout()
    return figure


def save_points_figure(data: ToyDistribution | None, samples: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = points_figure(data, samples)
    figure.savefig(path)
    plt.close(figure)
    return path


# -- the GAN Lab view of a 2D run ------------------------------------------------------------------
# Drawn with matplotlib's object API (Figure + Agg canvas, no pyplot state), so a figure can live
# in one run and be redrawn from any thread while only its artists' data change: much cheaper
# than building a new figure twice a second.

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from ganlab.curves import label_font  # noqa: E402

MANIFOLD_COLOUR = "#d62728"
ARROW_COLOUR = "#222222"
HEAT_CMAP = "PRGn"  # purple = "fake" side, green = "real" side (as in GAN Lab)
MAX_ARROWS = 96


class GanLabFigure:
    """One GAN Lab figure: D's heat map behind real (blue) and generated (red) points, G's manifold
    and the gradient arrows G receives. Axes stay fixed at the data bounds so nothing jumps.

    ``render(view)`` updates the artists and returns an RGB uint8 picture (H, W, 3). The static
    parts (axes, ticks, legend, colour bar) are drawn once and restored each frame ("blitting"):
    only the moving artists are redrawn, about 4x cheaper than a full draw.
    Not thread-safe: use one instance per run, from one thread at a time.
    """

    def __init__(self, bounds: tuple[float, float, float, float], *, size: float = 4.6, dpi: int = 90) -> None:
        self.bounds = bounds
        self.figure = Figure(figsize=(size, size), dpi=dpi)
        FigureCanvasAgg(self.figure)
        axes = self.figure.add_axes((0.06, 0.1, 0.78, 0.82))
        colour_axes = self.figure.add_axes((0.86, 0.1, 0.03, 0.82))
        xmin, xmax, ymin, ymax = bounds
        self.span = max(xmax - xmin, ymax - ymin)
        self.heat = axes.imshow(
            np.zeros((2, 2)),
            extent=bounds,
            origin="lower",
            cmap=HEAT_CMAP,
            vmin=0,
            vmax=1,
            interpolation="bilinear",
            alpha=0.8,
            zorder=0,
        )
        self.colourbar = self.figure.colorbar(self.heat, cax=colour_axes)
        self.colourbar.ax.tick_params(labelsize=7)
        self.manifold = LineCollection([], colors=MANIFOLD_COLOUR, linewidths=0.7, alpha=0.35, zorder=1)
        axes.add_collection(self.manifold)
        empty = np.zeros((0, 2))
        self.fake = axes.scatter(empty[:, 0], empty[:, 1], s=7, c=FAKE_COLOUR, alpha=0.75, zorder=2, linewidths=0)
        # Real points on top: toy modes are tight clusters that generated points would hide.
        self.real = axes.scatter(empty[:, 0], empty[:, 1], s=6, c=REAL_COLOUR, alpha=0.6, zorder=3, linewidths=0)
        self.arrows = None  # a Quiver needs its number of arrows up front: made on first render
        self.axes = axes
        axes.set_xlim(xmin, xmax)
        axes.set_ylim(ymin, ymax)
        axes.set_aspect("equal")
        axes.tick_params(labelsize=7)
        handles = [
            Line2D([], [], marker="o", linestyle="None", color=REAL_COLOUR, label="real data"),
            Line2D([], [], marker="o", linestyle="None", color=FAKE_COLOUR, label="generated G(z)"),
            Line2D([], [], color=MANIFOLD_COLOUR, alpha=0.6, label="G's manifold"),
            Line2D([], [], marker=r"$\rightarrow$", markersize=11, linestyle="None", color=ARROW_COLOUR, label="G's gradient"),
        ]
        axes.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0.0, -0.035),
            ncol=4,
            fontsize=6.5,
            frameon=False,
            handletextpad=0.2,
            columnspacing=0.8,
        )
        # The two changing labels ("step N" above, the mean gradient inside the bottom right corner) are
        # written with Pillow onto the finished picture: matplotlib's text layout cost 7 of a frame's 26 ms.
        self.note_text = ""
        for artist in (self.heat, self.manifold, self.fake, self.real):
            artist.set_animated(True)  # drawn per frame, not into the static background
        self._background = None
        self._background_key: tuple = ()
        self._arrow_reference = 0.0

    def render(self, view) -> np.ndarray:  # view: ganlab.views2d.View2D
        self.heat.set_data(view.heatmap)
        self.manifold.set_segments(view.manifold)
        self.real.set_offsets(view.real)
        self.fake.set_offsets(view.fake)
        self._draw_arrows(view.fake[:MAX_ARROWS], view.arrows[:MAX_ARROWS])
        canvas = self.figure.canvas
        key = (self._rounded_range(view.heat_range), view.heat_label)
        if self._background is None or key != self._background_key:
            # The colour bar is part of the static background: redraw it only when its range changes.
            self.heat.set_clim(*key[0])
            self.colourbar.set_label(view.heat_label, fontsize=7)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._background_key = key
        canvas.restore_region(self._background)
        for artist in (self.heat, self.manifold, self.fake, self.real, self.arrows):
            self.figure.draw_artist(artist)
        picture = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
        draw = ImageDraw.Draw(picture)
        # Axes corners in picture pixels (matplotlib's display y runs upwards).
        x0, y0, x1, y1 = self.axes.get_window_extent().extents
        height = picture.height
        draw.text(((x0 + x1) / 2, height - y1 - 4), f"step {view.step:,}", fill="#000000", font=label_font(12), anchor="md")
        draw.text((x1 - 4, height - y0 - 3), self.note_text, fill="#333333", font=label_font(10), anchor="rd")
        return np.asarray(picture)

    @staticmethod
    def _rounded_range(heat_range: tuple[float, float]) -> tuple[float, float]:
        """The colour range on a coarse grid, so a slowly drifting critic range does not force a full
        redraw every frame."""
        low, high = heat_range
        if (low, high) == (0.0, 1.0):
            return low, high
        step = 10 ** np.floor(np.log10(max(high - low, 1e-9))) / 2
        return float(np.floor(low / step) * step), float(np.ceil(high / step) * step)

    def _draw_arrows(self, points: np.ndarray, arrows: np.ndarray) -> None:
        lengths = np.linalg.norm(arrows, axis=1) if len(arrows) else np.zeros(0)
        finite = np.isfinite(lengths)
        typical = float(np.percentile(lengths[finite], 90)) if finite.any() else 0.0
        # A slowly decaying reference length, not per-frame normalisation: when G's gradients
        # vanish (saturating loss, perfect D) the arrows visibly shrink instead of being rescaled.
        self._arrow_reference = max(typical, 0.97 * self._arrow_reference, 1e-12)
        scaled = np.where(finite[:, None], arrows, 0.0) * (0.12 * self.span / self._arrow_reference)
        if self.arrows is None or self.arrows.N != len(points):
            if self.arrows is not None:
                self.arrows.remove()
            self.arrows = self.axes.quiver(
                points[:, 0],
                points[:, 1],
                scaled[:, 0],
                scaled[:, 1],
                angles="xy",
                scale_units="xy",
                scale=1,
                width=0.004,
                color=ARROW_COLOUR,
                alpha=0.7,
                zorder=4,
                animated=True,
            )
        else:
            self.arrows.set_offsets(points)
            self.arrows.set_UVC(scaled[:, 0], scaled[:, 1])
        mean = float(lengths[finite].mean()) if finite.any() else float("nan")
        self.note_text = f"mean |gradient| = {mean:.2g}"

    def close(self) -> None:
        self.figure.clear()
        self._background = None

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

"""2D toy distributions for live teaching.

Every toy is an equal-weight mixture of isotropic Gaussians, so each one knows its modes (centres
and standard deviation) and mode coverage can be measured exactly. The ring and the grid use the
literature's settings so that numbers compare with published tables:

* ring of 8: radius 2, std 0.02 (Metz et al. 2017, Unrolled GAN; Srivastava et al. 2017, VEEGAN)
* grid of 25: centres {-4,-2,0,2,4}^2, std 0.05 (VEEGAN; Lin et al. 2018, PacGAN)

The curves (moons, spiral, line, circles) are chains of Gaussians spaced closer than their width,
so they look continuous while still having countable modes.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganlab.data.errors import DataError

MAX_USER_POINTS = 100_000
MAX_CSV_BYTES = 20_000_000  # a CSV of MAX_USER_POINTS points needs a few MB


@dataclass(frozen=True)
class ToyDistribution:
    """A 2D mixture of Gaussians: where the data lives and how to sample it."""

    name: str
    modes: np.ndarray  # (K, 2) mode centres, used for coverage metrics
    std: float  # standard deviation of each mode
    description: str = ""
    # Sampling centres; the modes themselves unless the user gave raw points.
    centres: np.ndarray | None = field(default=None, repr=False)
    sample_std: float | None = None
    title: str = ""  # what people call a built-in toy, e.g. "Ring of 8 Gaussians"

    @property
    def num_modes(self) -> int:
        return len(self.modes)

    def sample(self, n: int, *, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        """Draw ``n`` points as a float32 tensor (n, 2)."""
        centres = torch.as_tensor(self.centres if self.centres is not None else self.modes, dtype=torch.float32)
        std = self.sample_std if self.sample_std is not None else self.std
        index = torch.randint(len(centres), (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator) * std
        return (centres[index] + noise).to(device)

    def sample_numpy(self, n: int, seed: int = 0) -> np.ndarray:
        return self.sample(n, generator=torch.Generator().manual_seed(seed)).numpy()

    def bounds(self, margin: float = 0.15) -> tuple[float, float, float, float]:
        """A square (xmin, xmax, ymin, ymax) that frames the data, for plots and heat maps."""
        points = self.centres if self.centres is not None else self.modes
        low = points.min(axis=0) - 3 * self.std
        high = points.max(axis=0) + 3 * self.std
        centre = (low + high) / 2
        half = float((high - low).max()) / 2 * (1 + margin) + 1e-3
        return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


def ring8(radius: float = 2.0, std: float = 0.02, num_modes: int = 8) -> ToyDistribution:
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    modes = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    description = f"{num_modes} Gaussians on a ring of radius {radius:g}, std {std:g}"
    return ToyDistribution("ring8", modes, std, description, title=f"Ring of {num_modes} Gaussians")


def grid25(spacing: float = 2.0, std: float = 0.05, per_side: int = 5) -> ToyDistribution:
    coords = (np.arange(per_side) - (per_side - 1) / 2) * spacing
    modes = np.array([(x, y) for x in coords for y in coords])
    description = f"{per_side}x{per_side} grid of Gaussians, spacing {spacing:g}, std {std:g}"
    return ToyDistribution("grid25", modes, std, description, title=f"Grid of {per_side**2} Gaussians")


def _chain(points: np.ndarray, std: float) -> np.ndarray:
    """Resample a polyline so that neighbouring modes are 1.5 std apart (reads as a curve)."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    count = max(2, int(math.ceil(arc[-1] / (1.5 * std))) + 1)
    targets = np.linspace(0.0, arc[-1], count)
    return np.stack([np.interp(targets, arc, points[:, 0]), np.interp(targets, arc, points[:, 1])], axis=1)


def moons(std: float = 0.08) -> ToyDistribution:
    t = np.linspace(0, np.pi, 200)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    modes = np.concatenate([_chain(upper, std), _chain(lower, std)]) - np.array([0.5, 0.25])
    return ToyDistribution("moons", modes * 1.5, std * 1.5, "two interleaving half circles", title="Two moons")


def spiral(std: float = 0.08, turns: float = 1.75) -> ToyDistribution:
    t = np.linspace(0.25, 1.0, 400)
    angle = 2 * np.pi * turns * t
    points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) * 2.0
    return ToyDistribution("spiral", _chain(points, std), std, f"an Archimedean spiral of {turns:g} turns", title="Spiral")


def line(std: float = 0.05) -> ToyDistribution:
    points = np.array([[-1.5, -1.0], [1.5, 1.0]])
    return ToyDistribution("line", _chain(points, std), std, "a single straight segment", title="Line")


def circles(std: float = 0.05) -> ToyDistribution:
    t = np.linspace(0, 2 * np.pi, 400)
    unit = np.stack([np.cos(t), np.sin(t)], axis=1)
    modes = np.concatenate([_chain(unit * 0.8, std)[:-1], _chain(unit * 2.0, std)[:-1]])
    return ToyDistribution("circles", modes, std, "two concentric circles (radii 0.8 and 2)", title="Two circles")


def from_points(points: np.ndarray | list, *, name: str = "points", max_modes: int = 16) -> ToyDistribution:
    """A distribution from user-given (N, 2) points: samples are the points with a little jitter.

    Modes for coverage metrics are found by k-means (at most ``max_modes``), and their std is the
    typical distance of points to their mode.
    """
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"points must be numbers in an (N, 2) array: {error}") from None
    if array.ndim != 2 or array.shape[1] != 2:
        raise DataError(f"points must have shape (N, 2); got {array.shape}")
    if len(array) < 2:
        raise DataError(f"need at least 2 points to learn a distribution; got {len(array)}")
    if len(array) > MAX_USER_POINTS:
        raise DataError(f"at most {MAX_USER_POINTS:,} points are allowed; got {len(array):,}")
    if not np.isfinite(array).all():
        raise DataError("points contain NaN or infinite values")
    scale = float(np.ptp(array, axis=0).max()) or 1.0
    jitter = 0.01 * scale
    modes, spread = _kmeans(array, min(max_modes, len(np.unique(array, axis=0))))
    return ToyDistribution(name, modes, max(spread, jitter), f"{len(array):,} user points", centres=array, sample_std=jitter)


def _kmeans(points: np.ndarray, k: int, iterations: int = 25) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(0)
    centres = points[rng.choice(len(points), size=k, replace=False)]
    for _ in range(iterations):
        labels = np.argmin(((points[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        for j in range(k):
            members = points[labels == j]
            if len(members):
                centres[j] = members.mean(axis=0)
    labels = np.argmin(((points[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    spread = math.sqrt(float(((points - centres[labels]) ** 2).sum(-1).mean()) / 2)
    return centres, spread


def read_points_csv(source: str | Path | bytes) -> np.ndarray:
    """Read x,y points from a CSV file path or its bytes; a header row is allowed.

    At most MAX_CSV_BYTES are read, and reading stops past MAX_USER_POINTS rows: an upload to the
    server costs a fraction of a second whatever it holds.
    """
    if isinstance(source, bytes):
        data, label = source, "the uploaded CSV"
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"CSV file not found: {path}")
        label = path.name
        with open(path, "rb") as f:
            data = f.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise DataError(f"{label} is larger than {MAX_CSV_BYTES / 1e6:.0f} MB; give at most {MAX_USER_POINTS:,} points")
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="")
    rows = []
    for number, row in enumerate(csv.reader(text), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(rows) == MAX_USER_POINTS:
            raise DataError(f"{label} holds more than {MAX_USER_POINTS:,} points; give at most {MAX_USER_POINTS:,}")
        if len(row) < 2:
            raise DataError(f"{label}, line {number}: expected two columns x,y; got {row!r}")
        try:
            rows.append((float(row[0]), float(row[1])))
        except ValueError:
            if rows or number > 1:
                raise DataError(f"{label}, line {number}: x and y must be numbers; got {row[:2]!r}") from None
            continue  # a header row
    if not rows:
        raise DataError(f"{label} holds no x,y points")
    return np.array(rows)


def from_csv(source: str | Path | bytes) -> ToyDistribution:
    return from_points(read_points_csv(source), name="csv")


TOY_DISTRIBUTIONS = {
    "ring8": ring8,
    "grid25": grid25,
    "moons": moons,
    "spiral": spiral,
    "line": line,
    "circles": circles,
}


def make_toy(name: str) -> ToyDistribution:
    """A built-in toy distribution by name (see ``TOY_DISTRIBUTIONS``)."""
    try:
        return TOY_DISTRIBUTIONS[name]()
    except KeyError:
        raise DataError(f"unknown 2D dataset {name!r}; choose one of {', '.join(TOY_DISTRIBUTIONS)}") from None

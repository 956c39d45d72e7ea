"""What GAN Lab shows for 2D data, computed as plain numpy arrays.

Each view answers one teaching question:

* **heat map**: where does D think the data is?  D's output on a grid over the data's bounds
  (P(real) = sigmoid(logit) for the probabilistic losses, the raw score for WGAN and LSGAN).
* **manifold**: how does G warp the noise?  The image under G of a grid of lines in z-space
  (noise_dim 2), of one line (noise_dim 1), or of a 2D slice z = (a, b, 0, ..., 0) (noise_dim > 2).
* **gradient arrows**: where does D tell each fake point to move?  -dL_G/dx at every generated
  point x, the signal that G's update follows (backpropagated further into G's weights).
* **metrics**: how much of the data does G cover?  Mode coverage, share of high-quality samples,
  and a histogram KL/JS estimate (from ganlab.metrics.modes).

A model trained on k-means clusters of the points (ganlab.clusters) is a conditional GAN on the
clusters: D judges every point of the plane as a member of its nearest centre's cluster (so the
heat map is drawn cell by cell), each generated point carries the cluster it was drawn for, and
the manifold is one small grid of noise lines per cluster.

The functions take modules (or a Trainer) and return arrays; ganlab.plots draws them. Callers
that share a Trainer with a training thread should hold the Trainer's lock (RunManager does).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ganlab.clusters import assign
from ganlab.data.errors import DataError
from ganlab.data.toy import ToyDistribution
from ganlab.losses import Objective
from ganlab.metrics.modes import histogram_divergences, mode_coverage

if TYPE_CHECKING:
    from ganlab.training import Trainer

HEATMAP_RESOLUTION = 48  # cells per side; drawn with bilinear smoothing, so 48 looks smooth
DRAW_BOUNDS = (-2.0, 2.0, -2.0, 2.0)  # the square a drawing canvas maps to


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Evaluate in eval mode and restore the previous mode: looking must not change the model
    (spectral norm's power iteration and batch-norm statistics update in train mode)."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)


def grid_points(bounds: tuple[float, float, float, float], resolution: int = HEATMAP_RESOLUTION) -> np.ndarray:
    """Cell centres of a resolution x resolution grid over bounds, row-major with row 0 at ymin."""
    xmin, xmax, ymin, ymax = bounds
    dx, dy = (xmax - xmin) / resolution, (ymax - ymin) / resolution
    xs = xmin + dx * (np.arange(resolution) + 0.5)
    ys = ymin + dy * (np.arange(resolution) + 0.5)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


@torch.no_grad()
def discriminator_heatmap(
    discriminator: nn.Module,
    bounds: tuple[float, float, float, float],
    resolution: int = HEATMAP_RESOLUTION,
    objective: Objective | None = None,
    centres: torch.Tensor | None = None,
) -> np.ndarray:
    """D's output on a grid over ``bounds``: (resolution, resolution), row 0 at ymin.

    With cluster ``centres`` (a D conditioned on clusters), each point is judged in its nearest centre's cluster.

    With an objective, the output is read as that objective reads it (``Objective.d_score``:
    sigmoid for minimax/non-saturating/hinge, raw score for WGAN and LSGAN); without, the logit.
    """
    if resolution < 2:
        raise ValueError(f"heat map resolution must be >= 2; got {resolution}")
    device = _device(discriminator)
    points = torch.from_numpy(grid_points(bounds, resolution)).to(device)
    labels = assign(points, centres.to(device)) if centres is not None else None
    with eval_mode(discriminator):
        logits = discriminator(points, labels).float()
    scores = objective.d_score(logits) if objective is not None else logits
    return scores.cpu().numpy().reshape(resolution, resolution)


def noise_extent(generator: nn.Module) -> float:
    """How far the noise grid reaches: +-2 std for normal noise, the whole [-1, 1] for uniform."""
    return 1.0 if generator.config.noise_distribution == "uniform" else 2.0


@torch.no_grad()
def generator_manifold(generator: nn.Module, *, lines: int = 11, points_per_line: int = 48) -> tuple[list[np.ndarray], str]:
    """The image under G of lines in noise space: (polylines, what they are).

    noise_dim 2: ``lines`` horizontal and ``lines`` vertical grid lines; noise_dim 1: one line;
    noise_dim > 2: the same grid in the plane of the first two noise coordinates (the rest 0).
    A G conditioned on clusters gets a coarser grid (``lines`` // 2) for each cluster it draws.
    Every polyline is a (points_per_line, 2) array of generated points.
    """
    noise_dim = generator.config.noise_dim
    classes = _drawn_classes(generator)
    if classes:
        lines = max(2, lines // 2)
    r = noise_extent(generator)
    t = torch.linspace(-r, r, points_per_line)
    if noise_dim == 1:
        z = t[:, None]
        what = f"G applied to the noise line z in [-{r:g}, {r:g}]"
        polylines_z = [z]
    else:
        levels = torch.linspace(-r, r, lines)
        polylines_z = []
        for level in levels:
            horizontal = torch.zeros(points_per_line, noise_dim)
            horizontal[:, 0], horizontal[:, 1] = t, level
            vertical = torch.zeros(points_per_line, noise_dim)
            vertical[:, 0], vertical[:, 1] = level, t
            polylines_z += [horizontal, vertical]
        what = (
            f"G applied to a grid of noise lines over [-{r:g}, {r:g}]^2"
            if noise_dim == 2
            else f"G applied to a grid in the (z1, z2) plane of its {noise_dim}-D noise (other coordinates 0)"
        )
    device = _device(generator)
    z = torch.cat(polylines_z)
    labels = None
    if classes:
        labels = torch.tensor(classes).repeat_interleave(len(z))
        z = z.repeat(len(classes), 1)
        what += f", for each of its {len(classes)} clusters" if generator.config.clustered else ", for each class"
    with eval_mode(generator):
        points = generator(z.to(device), labels.to(device) if labels is not None else None).float().cpu().numpy()
    return [points[i : i + points_per_line] for i in range(0, len(points), points_per_line)], what


def _drawn_classes(generator: nn.Module) -> list[int]:
    """The classes (or clusters) a conditional G draws: all classes, the clusters with a share > 0."""
    config = generator.config
    shares = config.cluster_prior or [1.0] * config.num_classes
    return [c for c, share in enumerate(shares) if share > 0]


def generator_gradients(
    discriminator: nn.Module,
    objective: Objective,
    points: torch.Tensor | np.ndarray,
    labels: torch.Tensor | None = None,
) -> np.ndarray:
    """-dL_G/dx for every generated point x (N, 2): the direction D tells each fake point to move.

    L_G is the objective's generator loss of that point alone (not divided by the batch size),
    so a point D already accepts gets a short arrow, and with the saturating minimax loss a point D
    confidently rejects gets almost none (vanishing gradients). A conditional D judges each point
    in its ``labels`` (the cluster it was generated for).
    """
    device = _device(discriminator)
    x = (
        torch.as_tensor(np.asarray(points) if not isinstance(points, torch.Tensor) else points, dtype=torch.float32)
        .detach()
        .to(device)
        .requires_grad_(True)
    )
    with torch.enable_grad(), eval_mode(discriminator):
        logits = discriminator(x, labels.to(device) if labels is not None else None)
        loss = objective.g_loss(logits) * len(x)  # sum of per-point losses
        (grad,) = torch.autograd.grad(loss, x)  # only w.r.t. x: D's .grad stays untouched
    return (-grad).cpu().numpy()


def mode_metrics(samples: np.ndarray, data: ToyDistribution, data_samples: np.ndarray | None = None) -> dict[str, float]:
    """Modes covered, high-quality share, and KL/JS for generated 2D points (see ganlab.metrics.modes)."""
    samples = np.asarray(samples, dtype=np.float64)
    finite = np.isfinite(samples).all(axis=1)
    if not finite.any():
        return {
            "modes_covered": 0,
            "num_modes": data.num_modes,
            "high_quality": 0.0,
            "kl": float("nan"),
            "js": float("nan"),
            "n": 0,
        }
    samples = samples[finite]
    covered, quality = mode_coverage(samples, data.modes, data.std)
    if data_samples is None:
        data_samples = data.sample_numpy(len(samples), seed=12345)
    kl, js = histogram_divergences(data_samples, samples, bins=30)
    return {
        "modes_covered": int(covered.value),
        "num_modes": int(data.num_modes),
        "high_quality": float(quality.value),
        "kl": float(kl.value),
        "js": float(js.value),
        "n": int(len(samples)),
    }


@dataclass
class View2D:
    """Everything the GAN Lab figure draws, in data coordinates."""

    bounds: tuple[float, float, float, float]
    heatmap: np.ndarray  # (R, R), row 0 at ymin
    heat_range: tuple[float, float]
    heat_label: str
    real: np.ndarray  # (N, 2)
    fake: np.ndarray  # (M, 2)
    arrows: np.ndarray  # (M, 2): -dL_G/dx at each fake point
    manifold: list[np.ndarray] = field(default_factory=list)
    manifold_label: str = ""
    step: int = 0


def heat_reading(objective: Objective, heatmap: np.ndarray) -> tuple[tuple[float, float], str]:
    """The colour range and legend text for D's output under this objective."""
    if objective.d_output == "probability":
        return (0.0, 1.0), "D(x): probability of real"
    if objective.name == "lsgan":
        return (-0.25, 1.25), "D(x): score (1 real, 0 fake)"
    finite = heatmap[np.isfinite(heatmap)]
    centre = float(np.median(finite)) if finite.size else 0.0
    half = float(np.percentile(np.abs(finite - centre), 98)) if finite.size else 1.0
    half = max(half, 1e-6)
    return (centre - half, centre + half), "critic score (higher = more real)"


def compute_view(
    trainer: Trainer,
    real: np.ndarray,
    noise: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    resolution: int = HEATMAP_RESOLUTION,
    with_manifold: bool = True,
) -> View2D:
    """The GAN Lab view of a 2D Trainer: fixed real points, G(noise), D's heat map, arrows, manifold.
    ``labels``: the cluster of every noise vector, for a Trainer on clusters (``trainer.clusters``)."""
    data = trainer.data
    if not isinstance(data, ToyDistribution):
        raise ValueError("the 2D view needs a 2D dataset")
    bounds = data.bounds()
    generator, discriminator, objective = trainer.generator, trainer.discriminator, trainer.objective
    clusters = trainer.clusters
    heat = discriminator_heatmap(discriminator, bounds, resolution, objective, clusters.centres if clusters is not None else None)
    device = _device(generator)
    labels = labels.to(device) if labels is not None else None
    with torch.no_grad(), eval_mode(generator):
        fake_t = generator(noise.to(device), labels).float()
    arrows = generator_gradients(discriminator, objective, fake_t, labels)
    manifold, manifold_label = generator_manifold(generator) if with_manifold else ([], "")
    heat_range, heat_label = heat_reading(objective, heat)
    return View2D(
        bounds=bounds,
        heatmap=heat,
        heat_range=heat_range,
        heat_label=heat_label,
        real=np.asarray(real),
        fake=fake_t.cpu().numpy(),
        arrows=arrows,
        manifold=manifold,
        manifold_label=manifold_label,
        step=trainer.step_count,
    )


def drawing_to_points(
    image: np.ndarray,
    bounds: tuple[float, float, float, float] = DRAW_BOUNDS,
    *,
    max_points: int = 3000,
    seed: int = 0,
) -> np.ndarray:
    """Turn strokes on a canvas into 2D points: every inked pixel becomes a point.

    ``image`` is (H, W), (H, W, 3) or (H, W, 4) uint8; ink is a dark pixel (and, with an alpha
    channel, an opaque one). Pixel (row 0, col 0) is the top-left corner of ``bounds`` (y points up).
    At most ``max_points`` pixels are kept (a seeded random subset).
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0:
        raise DataError(f"a drawing must be an image array (H, W[, C]); got shape {array.shape}")
    array = array.astype(np.float32)
    if array.ndim == 2:
        ink = array < 128
    else:
        luminance = array[..., :3].mean(axis=-1) if array.shape[-1] >= 3 else array[..., 0]
        ink = luminance < 128
        if array.shape[-1] in (2, 4):
            ink &= array[..., -1] > 128
    rows, cols = np.nonzero(ink)
    if len(rows) < 10:
        raise DataError("the drawing is empty: draw the shape of your data (at least a few strokes) first")
    h, w = ink.shape
    xmin, xmax, ymin, ymax = bounds
    x = xmin + (cols + 0.5) / w * (xmax - xmin)
    y = ymax - (rows + 0.5) / h * (ymax - ymin)
    points = np.stack([x, y], axis=1)
    if len(points) > max_points:
        keep = np.random.default_rng(seed).choice(len(points), size=max_points, replace=False)
        points = points[np.sort(keep)]
    return points


def _device(module: nn.Module) -> torch.device:
    try:
        return next(module.parameters()).device
    except StopIteration:
        return torch.device("cpu")

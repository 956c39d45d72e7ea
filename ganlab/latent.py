"""Walking the latent space of a trained generator: interpolation, truncation, principal directions.

Everything here works on the noise vector z that a generator turns into an image:

* ``lerp`` / ``slerp`` / ``interpolate``: a straight line between two latents, or the great-circle
  path (White 2016, "Sampling generative networks"), which keeps the norm that Gaussian noise
  concentrates on (about sqrt(d)), so midpoints do not fade towards the "average" image.
* ``truncate``: pull z towards the mean of the prior (scale, as in StyleGAN) or clip each
  coordinate (as in BigGAN): fewer odd samples, less variety.
* ``principal_directions``: GANSpace (Härkönen et al. 2020), the latent directions that move the
  generator's first hidden layer along its principal axes (``ganlab.latent_directions`` says how).
* ``LatentExplorer``: one user's position in latent space (z, class label, slider values) over a
  shared generator; ``render`` turns it into a uint8 picture.
* ``NeighbourIndex``: the training images nearest to a generated one, in the domain classifier's
  feature space (``ganlab.metrics.classifier``), or in pixel space when no classifier exists.
* ``LatentCache``: keeps generators, their directions and the neighbour indexes loaded between
  requests (keyed by checkpoint path and modification time), so a slider move only costs one
  forward pass.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.imaging import make_grid, save_gif, to_hwc, to_uint8, upscale
from ganlab.latent_directions import (  # re-exported: callers import these from ganlab.latent
    DIRECTIONS_FILE,
    LatentDirections,
    first_hidden_activations,  # noqa: F401
    load_directions,
    principal_directions,
    save_directions,
)
from ganlab.latent_neighbours import (  # re-exported: callers import these from ganlab.latent
    NeighbourIndex,
    build_neighbour_index,  # noqa: F401
    neighbour_index_for_dataset,
)
from ganlab.models import Generator

INTERPOLATION_METHODS = ("linear", "spherical")
TRUNCATION_MODES = ("scale", "clamp")


# -- interpolation ----------------------------------------------------------------------------
def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """The point a fraction ``t`` of the way from ``a`` to ``b`` on the straight line."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, *, eps: float = 1e-4) -> torch.Tensor:
    """Spherical interpolation: sin((1-t)w)/sin(w) a + sin(tw)/sin(w) b, w the angle between a and b.

    For two latents of equal norm every point on the path keeps that norm. When a and b are
    (nearly) parallel or opposite, sin(w) is ~0 and the formula divides by ~0; we then fall back
    to the straight line, which for parallel vectors is the same path.
    """
    if a.shape != b.shape:
        raise ValueError(f"cannot interpolate between latents of shapes {tuple(a.shape)} and {tuple(b.shape)}")
    a64, b64 = a.double(), b.double()
    norms = a64.norm() * b64.norm()
    if norms < 1e-12:
        return lerp(a, b, t)
    cos = (a64.flatten() @ b64.flatten()) / norms
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    if sin.abs() < eps:
        return lerp(a, b, t)
    mixed = (torch.sin((1 - t) * omega) / sin) * a64 + (torch.sin(t * omega) / sin) * b64
    return mixed.to(a.dtype)


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int, method: str = "linear") -> list[torch.Tensor]:
    """``steps`` latents from ``a`` to ``b`` inclusive, on a line ("linear") or arc ("spherical")."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps (both ends); got {steps}")
    if method not in INTERPOLATION_METHODS:
        raise ValueError(f"interpolation method must be 'linear' or 'spherical'; got {method!r}")
    step = lerp if method == "linear" else slerp
    return [step(a, b, i / (steps - 1)) for i in range(steps)]


# -- truncation -------------------------------------------------------------------------------
def truncate(z: torch.Tensor, psi: float, *, mode: str = "scale", mean: torch.Tensor | None = None) -> torch.Tensor:
    """Pull ``z`` towards the prior's mean (zero unless ``mean`` is given).

    mode "scale": mean + psi (z - mean); psi = 1 leaves z alone, psi = 0 gives the mean.
    mode "clamp": clip every coordinate of z - mean to [-psi, psi] (BigGAN's truncation trick).
    """
    if mode not in TRUNCATION_MODES:
        raise ValueError(f"truncation mode must be 'scale' or 'clamp'; got {mode!r}")
    if psi < 0:
        raise ValueError(f"truncation must be >= 0; got {psi}")
    centre = torch.zeros_like(z) if mean is None else mean.to(z)
    offset = z - centre
    offset = offset * psi if mode == "scale" else offset.clamp(-psi, psi)
    return centre + offset


def prior_std(generator: Generator) -> float:
    """Standard deviation of one coordinate of the generator's noise: 1 (normal) or 1/sqrt(3) (uniform)."""
    return 1 / math.sqrt(3) if generator.config.noise_distribution == "uniform" else 1.0


# -- one user's position in latent space ------------------------------------------------------
class _SingleThreaded:
    """Run small forward passes on one CPU thread, then restore the thread count.

    A batch of one image is far too small to split across threads, and on a busy machine the
    second OpenMP thread may wait for a core for tens of milliseconds: one thread is both faster
    and steadier. torch.set_num_threads is process-wide, so overlapping users are counted and the
    last one out restores the previous setting.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 1

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = torch.get_num_threads()
                if self._saved > 1:
                    torch.set_num_threads(1)
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved > 1:
                torch.set_num_threads(self._saved)


single_threaded = _SingleThreaded()


class LatentExplorer:
    """A generator plus where one user stands in its latent space.

    The latent actually rendered is ``latent()``:
        z with its first dims replaced by the dim sliders,
        + sum_j offset_j * prior_std * direction_j   (offsets in prior standard deviations),
        then truncated towards the mean with ``truncation`` (1 = none).
    The generator is shared between explorers (read-only, eval mode); everything else is per user.
    """

    def __init__(
        self,
        generator: Generator,
        directions: LatentDirections | None = None,
        *,
        seed: int = 0,
        num_dims: int = 8,
        name: str = "",
    ) -> None:
        if not generator.config.is_image:
            raise ValueError("this generator makes 2D points, not images; the latent explorer shows image generators")
        self.generator = generator.eval()
        self.directions = directions
        self.name = name
        self.num_dims = min(num_dims, generator.config.noise_dim)
        self.num_classes = generator.config.num_classes
        names = list(generator.config.class_names)
        self.class_names = names if len(names) == self.num_classes else [str(i) for i in range(self.num_classes)]
        self.label: int | None = 0 if self.num_classes else None
        self.truncation = 1.0
        self.offsets = np.zeros(directions.k if directions is not None else 0)
        self.seed = int(seed)
        self.z = self.noise(self.seed)

    # the noise prior
    @property
    def noise_dim(self) -> int:
        return self.generator.config.noise_dim

    @property
    def dim_range(self) -> float:
        """Slider range for one noise coordinate: +-4 std for normal noise, +-1 for uniform."""
        return 1.0 if self.generator.config.noise_distribution == "uniform" else 4.0

    def noise(self, seed: int) -> torch.Tensor:
        """The latent (noise_dim,) that ``seed`` gives, with the slider dims clipped to the slider range."""
        z = self.generator.sample_noise(1, generator=torch.Generator().manual_seed(int(seed)), device="cpu")[0]
        z[: self.num_dims] = z[: self.num_dims].clamp(-self.dim_range, self.dim_range)
        return z

    # moving around
    def set_seed(self, seed: int) -> None:
        """Start again from the latent of ``seed``, with every offset at zero."""
        self.seed = int(seed)
        self.z = self.noise(self.seed)
        self.offsets = np.zeros_like(self.offsets)

    def reset(self) -> None:
        """Undo slider moves: back to the seed's latent, no offsets, no truncation."""
        self.set_seed(self.seed)
        self.truncation = 1.0

    def set_label(self, label: int | None) -> None:
        if not self.num_classes:
            self.label = None
            return
        if label is None or not 0 <= int(label) < self.num_classes:
            raise ValueError(f"class must be a number in 0..{self.num_classes - 1}; got {label!r}")
        self.label = int(label)

    def set_sliders(self, dims: Sequence[float] = (), offsets: Sequence[float] = (), truncation: float | None = None) -> None:
        """Set the first ``len(dims)`` coordinates of z, the direction offsets and the truncation."""
        dims = list(dims)[: self.num_dims]
        if dims:
            z = self.z.clone()
            z[: len(dims)] = torch.tensor([float(v) for v in dims], dtype=z.dtype)
            self.z = z
        offsets = list(offsets)[: len(self.offsets)]
        if offsets:
            new = self.offsets.copy()
            new[: len(offsets)] = [float(v) for v in offsets]
            self.offsets = new
        if truncation is not None:
            if truncation < 0:
                raise ValueError(f"truncation must be >= 0; got {truncation}")
            self.truncation = float(truncation)

    def dim_values(self) -> list[float]:
        return [round(float(v), 4) for v in self.z[: self.num_dims]]

    def latent(self) -> torch.Tensor:
        """The latent (noise_dim,) that the current sliders describe."""
        z = self.z.clone()
        if self.directions is not None and np.any(self.offsets):
            shift = torch.from_numpy(self.offsets.astype(np.float32)) @ self.directions.directions
            z = z + shift * prior_std(self.generator)
        return truncate(z, self.truncation) if self.truncation != 1.0 else z

    # pictures
    @torch.inference_mode()
    def images(self, latents: torch.Tensor, labels: torch.Tensor | Sequence[int] | None = None) -> np.ndarray:
        """uint8 images (N, C, H, W) of latents (N, noise_dim); labels default to the current class."""
        latents = latents.reshape(-1, self.noise_dim).to(self.generator.device)
        if self.num_classes:
            if labels is None:
                labels = [self.label if self.label is not None else 0] * len(latents)
            labels = torch.as_tensor(labels, dtype=torch.long, device=self.generator.device)
        else:
            labels = None
        with single_threaded:
            return to_uint8(self.generator(latents, labels))

    def render(self, z: torch.Tensor | None = None, label: int | None = None, *, scale: int = 1) -> np.ndarray:
        """One picture, uint8 (H, W) or (H, W, 3), enlarged ``scale`` times with crisp pixels."""
        z = self.latent() if z is None else z
        labels = None if not self.num_classes else [self.label if label is None else int(label)]
        image = self.images(z[None], labels)[0]
        return upscale(to_hwc(image), scale)

    def all_classes(self, z: torch.Tensor | None = None) -> np.ndarray:
        """The same latent rendered as every class: uint8 (K, C, H, W). Conditional generators only."""
        if not self.num_classes:
            raise ValueError("this generator is unconditional: it has no classes to sweep")
        z = self.latent() if z is None else z
        return self.images(z[None].expand(self.num_classes, -1), list(range(self.num_classes)))

    def interpolation(self, z_a: torch.Tensor, z_b: torch.Tensor, steps: int = 8, method: str = "linear") -> np.ndarray:
        """Images (steps, C, H, W) along the path from z_a to z_b, in the current class."""
        return self.images(torch.stack(interpolate(z_a, z_b, steps, method)))


def strip(images: np.ndarray, scale: int = 3, columns: int | None = None) -> np.ndarray:
    """Images (N, C, H, W) side by side in one row (or ``columns`` per row), enlarged ``scale`` times."""
    return upscale(make_grid(images, columns=columns or len(images), padding=2, background=255), scale)


def gif_bytes(images: np.ndarray, *, scale: int = 4, frame_ms: int = 120, bounce: bool = True) -> bytes:
    """An animated GIF (looping; forth and back when ``bounce``) of uint8 images (N, C, H, W)."""
    import io

    frames = list(to_hwc(images))
    if bounce and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    buffer = io.BytesIO()
    save_gif(frames, buffer, frame_ms=frame_ms, scale=scale)
    return buffer.getvalue()


# -- keeping things loaded between requests ---------------------------------------------------
@dataclass
class LoadedGenerator:
    generator: Generator
    directions: LatentDirections
    path: Path
    dataset: str | None
    metadata: dict[str, Any]


class LatentCache:
    """Generators, their principal directions and neighbour indexes, loaded once and shared.

    Keys are (resolved checkpoint folder, weights mtime), so a checkpoint saved again under the
    same name is reloaded. Directions of checkpoints outside the shipped folder are also written
    beside them as ``latent_directions.npz`` (a few KB of plain numbers) to skip the PCA next time.
    """

    def __init__(self, *, k: int = 8, n_samples: int = 5000, max_generators: int = 8) -> None:
        self.k = k
        self.n_samples = n_samples
        self.max_generators = max_generators
        self._generators: dict[tuple[str, float], LoadedGenerator] = {}
        self._neighbours: dict[str, NeighbourIndex] = {}
        self._lock = threading.Lock()
        self._neighbour_lock = threading.Lock()

    def load(self, path: str | Path) -> LoadedGenerator:
        """The generator in checkpoint folder ``path`` with its directions (raises CheckpointError)."""
        from ganlab.checkpoints import SHIPPED_DIR, WEIGHTS_FILE, load_model, resolve_checkpoint

        folder = resolve_checkpoint(path).resolve()
        weights = folder / WEIGHTS_FILE
        mtime = weights.stat().st_mtime if weights.is_file() else 0.0
        key = (str(folder), mtime)
        with self._lock:
            if key in self._generators:
                return self._generators[key]
            generator = load_model(folder, kind="generator", device="cpu")
            if not isinstance(generator, Generator):
                raise ValueError(f"{folder} holds a {type(generator).__name__}, not a ganlab Generator")
            cache_file = folder / DIRECTIONS_FILE
            shipped = SHIPPED_DIR.resolve() in folder.parents
            directions = load_directions(cache_file, noise_dim=generator.config.noise_dim, k=self.k, source_mtime=mtime)
            if directions is None:
                directions = principal_directions(generator, self.k, n_samples=self.n_samples)
                if not shipped:
                    try:
                        save_directions(directions, cache_file, source_mtime=mtime)
                    except OSError:
                        pass  # a read-only folder only costs the PCA again next time
            metadata = dict(getattr(generator, "checkpoint_metadata", {}) or {})
            loaded = LoadedGenerator(generator, directions, folder, metadata.get("dataset"), metadata)
            # Drop older versions of this folder and keep the cache small.
            for old in [k for k in self._generators if k[0] == key[0]]:
                del self._generators[old]
            while len(self._generators) >= self.max_generators:
                del self._generators[next(iter(self._generators))]
            self._generators[key] = loaded
            return loaded

    def explorer(self, path: str | Path, *, seed: int = 0, num_dims: int = 8, name: str = "") -> LatentExplorer:
        """A fresh explorer (one user's position) over the cached generator of ``path``."""
        loaded = self.load(path)
        return LatentExplorer(loaded.generator, loaded.directions, seed=seed, num_dims=num_dims, name=name or loaded.path.name)

    def neighbours(self, dataset: str) -> NeighbourIndex:
        """The neighbour index of a dataset's training split, built on first use (seconds)."""
        with self._neighbour_lock:
            if dataset not in self._neighbours:
                self._neighbours[dataset] = neighbour_index_for_dataset(dataset)
            return self._neighbours[dataset]

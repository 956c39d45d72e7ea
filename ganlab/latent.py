"""Walking the latent space of a trained generator: interpolation, truncation, principal directions.

Everything here works on the noise vector z that a generator turns into an image:

* ``lerp`` / ``slerp`` / ``interpolate``: a straight line between two latents, or the great-circle
  path (White 2016, "Sampling generative networks"), which keeps the norm that Gaussian noise
  concentrates on (about sqrt(d)), so midpoints do not fade towards the "average" image.
* ``truncate``: pull z towards the mean of the prior (scale, as in StyleGAN) or clip each
  coordinate (as in BigGAN): fewer odd samples, less variety.
* ``principal_directions``: GANSpace (Härkönen et al. 2020). We sample many z, record the
  generator's first hidden layer (after its nonlinearity), run PCA on those activations, and
  regress z on the PCA coordinates: the regression weights are the latent directions that move
  the activations along each principal axis. We then orthonormalise them (QR, in order of
  variance), so that each slider moves z by a known amount and sliders do not double count.
  Why the first hidden layer and not z itself: z is isotropic noise, so PCA of z has no preferred
  axes; the first layer is where the generator has already mixed z into features it uses. For a
  generator with no hidden layer this is its output.
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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganlab.imaging import make_grid, save_gif, to_hwc, to_uint8, upscale
from ganlab.latent_neighbours import (  # re-exported: callers import these from ganlab.latent
    NeighbourIndex,
    build_neighbour_index,  # noqa: F401
    neighbour_index_for_dataset,
)
from ganlab.models import Generator
from ganlab.models.layers import ACTIVATIONS

INTERPOLATION_METHODS = ("linear", "spherical")
TRUNCATION_MODES = ("scale", "clamp")
DIRECTIONS_FILE = "latent_directions.npz"
DIRECTIONS_FORMAT = 1


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


# -- principal directions (GANSpace) ----------------------------------------------------------
@dataclass
class LatentDirections:
    """Orthonormal latent directions (k, noise_dim), most important first.

    ``explained`` is the share of the first-layer activation variance along each principal axis.
    """

    directions: torch.Tensor  # (k, noise_dim), float32, orthonormal rows
    explained: np.ndarray  # (k,)
    layer: str  # which activations the PCA ran on, for people
    n_samples: int
    seed: int
    seconds: float = 0.0

    @property
    def k(self) -> int:
        return int(self.directions.shape[0])


class _StopForward(Exception):
    """Raised by a forward hook to end a forward pass once the layer we want has run."""


def first_hidden_layer(generator: Generator) -> nn.Module | None:
    """The generator's first activation function that has a weight layer after it, or None.

    DCGAN: dense -> reshape -> batch norm -> **ReLU** -> transposed convs; MLP: dense -> **act** -> ...
    """
    layers = list(generator.body)
    activations = tuple(type(make()) for make in ACTIVATIONS.values())
    for index, module in enumerate(layers):
        if isinstance(module, activations) and any(
            isinstance(later, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) for later in layers[index + 1 :]
        ):
            return module
    return None


@torch.inference_mode()
def first_hidden_activations(
    generator: Generator, z: torch.Tensor, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, str]:
    """Activations (N, F) of the generator's first hidden layer, and a name for that layer.

    The generator's own forward pass runs (so conditioning works as in training) and is cut short
    by a hook right after ``first_hidden_layer``. A generator without a hidden layer (an MLP of
    depth 0) gives its output instead.
    """
    layer = first_hidden_layer(generator)
    if layer is None:
        return generator(z, labels).flatten(1), "the generator's output"
    captured: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        captured.append(output)
        raise _StopForward

    handle = layer.register_forward_hook(keep)
    try:
        generator(z, labels)
    except _StopForward:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError("the generator's forward pass never reached its first hidden layer")
    activations = captured[0]
    name = f"the first hidden layer ({activations[0].numel():,} units after its {type(layer).__name__})"
    return activations.flatten(1), name


def principal_directions(
    generator: Generator, k: int = 8, *, n_samples: int = 5000, seed: int = 0, batch_size: int = 1000
) -> LatentDirections:
    """The top ``k`` GANSpace directions of a generator (see the module docstring).

    Deterministic for a given seed. Cost: ``n_samples`` passes through the first layer, a
    randomised PCA (``torch.pca_lowrank``) and a k x k least-squares fit; under a second for the
    shipped DCGANs on two CPU cores.
    """
    start = time.perf_counter()
    d = generator.config.noise_dim
    k = min(k, d)
    if k < 1:
        raise ValueError(f"need at least one direction; got k={k}")
    if n_samples < 2 * k:
        raise ValueError(f"need at least {2 * k} samples for {k} directions; got {n_samples}")
    rng = torch.Generator().manual_seed(seed)
    z = generator.sample_noise(n_samples, generator=rng, device="cpu")
    labels = None
    if generator.config.num_classes:
        labels = torch.arange(n_samples) % generator.config.num_classes
    device = generator.device
    parts, layer = [], "output"
    was_training = generator.training
    generator.eval()
    try:
        for begin in range(0, n_samples, batch_size):
            batch_labels = labels[begin : begin + batch_size].to(device) if labels is not None else None
            acts, layer = first_hidden_activations(generator, z[begin : begin + batch_size].to(device), batch_labels)
            parts.append(acts.float().cpu())
    finally:
        generator.train(was_training)
    activations = torch.cat(parts)
    centred = activations - activations.mean(dim=0)
    total_variance = centred.pow(2).sum() / (n_samples - 1)
    q = min(k + 8, *centred.shape)  # a few extra components make the randomised PCA accurate
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, singular, axes = torch.pca_lowrank(centred, q=q, center=False, niter=6)
    k = min(k, axes.shape[1])
    coordinates = centred @ axes[:, :k]  # (N, k) PCA coordinates of every sample
    # Regress z on the coordinates: z ~ coordinates @ B; row i of B is the latent change that
    # moves the activations one unit along principal axis i.
    weights = torch.linalg.lstsq(coordinates.double(), z.double()).solution  # (k, d)
    q_matrix, r_matrix = torch.linalg.qr(weights.T)  # orthonormal columns, same nested spans
    signs = torch.sign(torch.diagonal(r_matrix))
    signs[signs == 0] = 1
    directions = (q_matrix * signs).T.float().contiguous()
    explained = (singular[:k].double() ** 2 / (n_samples - 1) / max(float(total_variance), 1e-12)).numpy()
    return LatentDirections(directions, explained, layer, n_samples, seed, time.perf_counter() - start)


def save_directions(directions: LatentDirections, path: str | Path, *, source_mtime: float) -> Path:
    """Store directions as a plain .npz (numbers only, loadable without pickle)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        format_version=np.array(DIRECTIONS_FORMAT),
        directions=directions.directions.numpy(),
        explained=np.asarray(directions.explained, dtype=np.float64),
        n_samples=np.array(directions.n_samples),
        seed=np.array(directions.seed),
        source_mtime=np.array(source_mtime, dtype=np.float64),
        layer=np.frombuffer(directions.layer.encode("utf-8"), dtype=np.uint8),
    )
    tmp.replace(path)
    return path


def load_directions(path: str | Path, *, noise_dim: int, k: int, source_mtime: float) -> LatentDirections | None:
    """Directions stored by ``save_directions``, or None if missing, stale or not for this model."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format_version"]) != DIRECTIONS_FORMAT:
                return None
            if not math.isclose(float(data["source_mtime"]), source_mtime, abs_tol=1e-3):
                return None  # the checkpoint was overwritten since
            directions = torch.from_numpy(np.array(data["directions"], dtype=np.float32))
            if directions.ndim != 2 or directions.shape[1] != noise_dim or directions.shape[0] < min(k, noise_dim):
                return None
            keep = min(k, noise_dim)
            return LatentDirections(
                directions[:keep].contiguous(),
                np.array(data["explained"])[:keep],
                bytes(data["layer"]).decode("utf-8"),
                int(data["n_samples"]),
                int(data["seed"]),
            )
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache file is recomputed, never trusted


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

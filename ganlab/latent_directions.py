"""Principal directions of a generator's latent space: GANSpace (Härkönen et al. 2020).

We sample many z, record the generator's first hidden layer (after its nonlinearity), run PCA on those
activations, and regress z on the PCA coordinates: the regression weights are the latent directions that
move the activations along each principal axis. We then orthonormalise them (QR, in order of variance),
so that each slider moves z by a known amount and sliders do not double count.

Why the first hidden layer and not z itself: z is isotropic noise, so PCA of z has no preferred axes; the
first layer is where the generator has already mixed z into features it uses. For a generator with no
hidden layer this is its output.

``save_directions`` / ``load_directions`` keep them as a plain .npz beside a checkpoint, so that
``ganlab.latent.LatentCache`` can skip the PCA the next time it loads that checkpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganlab.models import Generator
from ganlab.models.layers import ACTIVATIONS

DIRECTIONS_FILE = "latent_directions.npz"
DIRECTIONS_FORMAT = 1


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

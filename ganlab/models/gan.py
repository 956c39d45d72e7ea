"""Generator and discriminator: a dataclass config plus a module, for every architecture.

``arch`` picks the body ("mlp" or "dcgan"); ``num_classes > 0`` makes the model conditional
(Mirza & Osindero 2014): G sees its noise concatenated with the class (a learned embedding or a
one-hot vector) and D sees the image with one-hot class maps stacked as extra channels (or the
one-hot vector concatenated to the flattened input for the MLP), or, with projection
conditioning (Miyato & Koyama 2018), adds the inner product of a class embedding with its last
features to its logit: cheap for many classes.

The "classes" may be clusters found without labels (ganlab.clusters): then G's config carries
``cluster_prior``, the share of the training images in each cluster, and sampling without a
label draws the cluster from it, so the model is unconditional to its users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.models.dcgan import dcgan_discriminator_body, dcgan_generator_body, upsampling_steps
from ganlab.models.mlp import mlp_discriminator_body, mlp_generator_body

ARCHITECTURES = ("mlp", "dcgan")
NOISE_DISTRIBUTIONS = ("normal", "uniform")
CONDITIONINGS = ("embedding", "onehot")
D_CONDITIONINGS = ("channels", "projection")


def _check_common(arch: str, data_shape: tuple[int, ...], num_classes: int, width: int, depth: int) -> None:
    if arch not in ARCHITECTURES:
        raise ValueError(f"model architecture must be one of {', '.join(ARCHITECTURES)}; got {arch!r}")
    if len(data_shape) not in (1, 3) or any(d < 1 for d in data_shape):
        raise ValueError(f"data_shape must be (D,) for points or (C, H, W) for images; got {data_shape}")
    if arch == "dcgan":
        if len(data_shape) != 3 or data_shape[0] not in (1, 3) or data_shape[1] != data_shape[2]:
            raise ValueError(f"DCGAN needs square 1- or 3-channel images; got data shape {data_shape}")
        upsampling_steps(data_shape[1])
    if num_classes < 0:
        raise ValueError(f"num_classes must be >= 0 (0 = unconditional); got {num_classes}")
    if not 1 <= width <= 4096:
        raise ValueError(f"model width must be between 1 and 4096; got {width}")
    if not 0 <= depth <= 16:
        raise ValueError(f"model depth must be between 0 and 16; got {depth}")


@dataclass
class GeneratorConfig:
    arch: str = "mlp"
    data_shape: tuple[int, ...] = (2,)  # (D,) for points, (C, H, W) for images
    noise_dim: int = 64
    noise_distribution: str = "normal"
    num_classes: int = 0  # > 0 makes G conditional
    conditioning: str = "embedding"
    width: int = 128  # MLP hidden units, or DCGAN channels of the last hidden stage
    depth: int = 2  # MLP hidden layers (DCGAN depth follows from the image size)
    activation: str = "relu"
    refine: int = 0  # DCGAN: extra 3x3 conv layers per hidden resolution (0 = the classic DCGAN)
    class_names: list[str] = field(default_factory=list)
    cluster_prior: list[float] = field(default_factory=list)  # the classes are unsupervised clusters drawn this often

    def __post_init__(self) -> None:
        self.data_shape = tuple(int(d) for d in self.data_shape)
        _check_common(self.arch, self.data_shape, self.num_classes, self.width, self.depth)
        if not 1 <= self.noise_dim <= 4096:
            raise ValueError(f"noise dimension must be between 1 and 4096; got {self.noise_dim}")
        if self.noise_distribution not in NOISE_DISTRIBUTIONS:
            raise ValueError(f"noise distribution must be 'normal' or 'uniform'; got {self.noise_distribution!r}")
        if not 0 <= self.refine <= 8:
            raise ValueError(f"refine layers must be between 0 and 8; got {self.refine}")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be 'embedding' or 'onehot'; got {self.conditioning!r}")
        if self.cluster_prior:
            self.cluster_prior = [float(p) for p in self.cluster_prior]
            if (
                len(self.cluster_prior) != self.num_classes
                or min(self.cluster_prior) < 0
                or not math.isclose(sum(self.cluster_prior), 1.0, abs_tol=1e-4)
            ):
                raise ValueError(f"cluster_prior must give a share >= 0 to each of the {self.num_classes} clusters, summing to 1")

    @property
    def is_image(self) -> bool:
        return len(self.data_shape) == 3

    @property
    def clustered(self) -> bool:
        """Conditioned on clusters found without labels: unconditional to its users."""
        return bool(self.cluster_prior)

    @property
    def conditional(self) -> bool:
        """Conditioned on real classes: a caller may choose the class and check it."""
        return self.num_classes > 0 and not self.cluster_prior


class Generator(nn.Module):
    """Maps noise z (and a class label, when conditional) to a sample."""

    KIND = "generator"
    Config = GeneratorConfig

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        in_features = config.noise_dim
        if config.num_classes:
            if config.conditioning == "embedding":
                self.label_embedding = nn.Embedding(config.num_classes, config.num_classes)
            in_features += config.num_classes
        if config.arch == "mlp":
            self.body = mlp_generator_body(
                in_features, config.data_shape, config.width, config.depth, config.activation, config.is_image
            )
        else:
            channels, size = config.data_shape[0], config.data_shape[1]
            self.body = dcgan_generator_body(in_features, channels, size, config.width, config.activation, refine=config.refine)

    def sample_labels(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Random labels for ``n`` samples (on the CPU): clusters drawn by their share of the data, classes
        uniformly; None when the model has no classes."""
        if self.config.cluster_prior:
            prior = torch.tensor(self.config.cluster_prior, dtype=torch.float64)
            return torch.multinomial(prior, n, replacement=True, generator=generator)
        if self.config.num_classes:
            return torch.randint(self.config.num_classes, (n,), generator=generator)
        return None

    def sample_noise(
        self, n: int, *, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Noise from the prior p(z): standard normal, or uniform on [-1, 1]."""
        device = device if device is not None else self.device
        shape = (n, self.config.noise_dim)
        if self.config.noise_distribution == "uniform":
            z = torch.rand(shape, generator=generator) * 2 - 1
        else:
            z = torch.randn(shape, generator=generator)
        return z.to(device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.num_classes:
            if labels is None:
                raise ValueError("this generator is conditional: give a class label for every noise vector")
            if self.config.conditioning == "embedding":
                z = torch.cat([z, self.label_embedding(labels)], dim=1)
            else:
                z = torch.cat([z, F.one_hot(labels, self.config.num_classes).to(z.dtype)], dim=1)
        return self.body(z)


@dataclass
class DiscriminatorConfig:
    arch: str = "mlp"
    data_shape: tuple[int, ...] = (2,)
    num_classes: int = 0
    width: int = 128
    depth: int = 2
    activation: str = "leaky_relu"
    spectral_norm: bool = False
    batch_norm: bool = True  # DCGAN only
    minibatch_std: bool = False  # DCGAN only: let D see the spread of each small group of samples
    conditioning: str = "channels"  # "channels": one-hot maps as input; "projection": class embedding . features

    def __post_init__(self) -> None:
        self.data_shape = tuple(int(d) for d in self.data_shape)
        _check_common(self.arch, self.data_shape, self.num_classes, self.width, self.depth)
        if self.conditioning not in D_CONDITIONINGS:
            raise ValueError(f"D conditioning must be 'channels' or 'projection'; got {self.conditioning!r}")


class Discriminator(nn.Module):
    """Maps a sample (and its class, when conditional) to one real-vs-fake logit."""

    KIND = "discriminator"
    Config = DiscriminatorConfig

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        projection = config.num_classes > 0 and config.conditioning == "projection"
        k = 0 if projection else config.num_classes  # one-hot input channels
        if config.arch == "mlp":
            in_features = math.prod(config.data_shape) + k
            self.body = mlp_discriminator_body(in_features, config.width, config.depth, config.activation, config.spectral_norm)
        else:
            channels, size = config.data_shape[0], config.data_shape[1]
            self.body = dcgan_discriminator_body(
                channels + k,
                size,
                config.width,
                config.activation,
                config.spectral_norm,
                config.batch_norm,
                minibatch_std=config.minibatch_std,
            )
        if projection:
            # Zero-initialised: D starts as the unconditional model and learns what each class adds.
            last = self.body[-1]
            self.class_projection = nn.Embedding(config.num_classes, last.in_features)
            nn.init.zeros_(self.class_projection.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Return logits of shape (N,): large means "real"."""
        k = self.config.num_classes
        if self.config.arch == "mlp":
            x = x.flatten(1)
        if k and labels is None:
            raise ValueError("this discriminator is conditional: give the class label of every sample")
        if k and self.config.conditioning == "projection":
            features = self.body[:-1](x)
            return self.body[-1](features).squeeze(1) + (self.class_projection(labels) * features).sum(1)
        if k:
            onehot = F.one_hot(labels, k).to(x.dtype)
            if x.dim() == 4:
                onehot = onehot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat([x, onehot], dim=1)
        return self.body(x).squeeze(1)

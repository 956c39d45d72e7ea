"""The TrainingConfig: everything that defines a run, checked for people (``validate()``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ganlab.checks import is_int
from ganlab.clusters import CLUSTER_METHODS
from ganlab.data.registry import IMAGE_DATASETS, TOY_DATASETS, kind_of
from ganlab.losses import OBJECTIVES

MODELS = ("mlp", "dcgan", "cdcgan", "cmlp")  # c* = conditional
MAX_BATCH_SIZE = 4096


@dataclass
class TrainingConfig:
    """Everything that defines a run. Fields marked live can change while it trains."""

    dataset: str = "ring8"  # a name in ganlab.data.registry ("custom", "folder": data given with the run)
    model: str = "mlp"
    loss: str = "nonsaturating"
    lr_g: float = 1e-3  # live
    lr_d: float = 1e-3  # live
    beta1: float = 0.5  # live
    beta2: float = 0.999  # live
    batch_size: int = 256  # live
    d_steps: int = 1  # live: D updates per G update
    noise_dim: int = 2
    noise_distribution: str = "normal"
    width: int = 128
    depth: int = 2
    d_width: int | None = None  # D's width when it differs from G's
    refine: int = 0  # DCGAN G: extra 3x3 conv layers per hidden resolution
    activation: str = "relu"
    spectral_norm: bool = False
    minibatch_std: bool = False  # DCGAN D: a minibatch standard-deviation feature against mode collapse
    augment: bool = False  # images: D sees randomly shifted and cut-out real and fake images (ganlab.augment)
    # Unconditional models: condition G and D on this many clusters of the data (ganlab.clusters), found
    # without labels; "auto" (2D points only): the number with the best silhouette score.
    clusters: int | str = 0
    # Images: how the clusters are found (ganlab.clusters.CLUSTER_METHODS): k-means on pixels, or
    # spectral clustering of the images' nearest-neighbour graph (purer clusters; 1.5 s for the bundled
    # MNIST's 8,000 images, about a minute for Fashion-MNIST's 60,000, on one core).
    cluster_method: str = "kmeans"
    ema_decay: float = 0.0  # > 0: also keep an exponential moving average of G's weights (see below)
    gp_weight: float = 10.0  # live: lambda of WGAN-GP
    clip_value: float = 0.01  # live: weight clipping of WGAN
    seed: int = 0
    device: str = "auto"

    LIVE_FIELDS = ("lr_g", "lr_d", "beta1", "beta2", "batch_size", "d_steps", "gp_weight", "clip_value")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError with every problem found, each said for a person."""
        problems = []

        def check(ok: bool, message: str) -> None:
            if not ok:
                problems.append(message)

        check(self.model in MODELS, f"model must be one of {', '.join(MODELS)}; got {self.model!r}")
        check(self.loss in OBJECTIVES, f"loss must be one of {', '.join(OBJECTIVES)}; got {self.loss!r}")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            check(_finite(value) and 0 < value <= 1, f"learning rate {name} must be > 0 and <= 1; got {value}")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            check(_finite(value) and 0 <= value < 1, f"Adam {name} must be in [0, 1); got {value}")
        check(
            is_int(self.batch_size) and 1 <= self.batch_size <= MAX_BATCH_SIZE,
            f"batch size must be between 1 and {MAX_BATCH_SIZE}; got {self.batch_size}",
        )
        check(is_int(self.d_steps) and 1 <= self.d_steps <= 100, f"D steps per G step must be 1..100; got {self.d_steps}")
        check(is_int(self.noise_dim) and 1 <= self.noise_dim <= 1024, f"noise dimension must be 1..1024; got {self.noise_dim}")
        check(
            self.noise_distribution in ("normal", "uniform"),
            f"noise distribution must be 'normal' or 'uniform'; got {self.noise_distribution!r}",
        )
        check(is_int(self.width) and 1 <= self.width <= 2048, f"model width must be 1..2048; got {self.width}")
        check(
            self.d_width is None or (is_int(self.d_width) and 1 <= self.d_width <= 2048),
            f"D width must be 1..2048; got {self.d_width}",
        )
        check(is_int(self.depth) and 0 <= self.depth <= 8, f"model depth must be 0..8; got {self.depth}")
        check(is_int(self.refine) and 0 <= self.refine <= 8, f"refine layers must be 0..8; got {self.refine}")
        check(_finite(self.gp_weight) and self.gp_weight >= 0, f"gradient penalty weight must be >= 0; got {self.gp_weight}")
        check(_finite(self.clip_value) and self.clip_value > 0, f"weight clip must be > 0; got {self.clip_value}")
        check(
            self.clusters == "auto" or (is_int(self.clusters) and (self.clusters == 0 or 2 <= self.clusters <= 1000)),
            f"clusters must be 0 (off), 2..1000 or 'auto' (2D); got {self.clusters!r}",
        )
        check(
            not (self.clusters == "auto" and self.dataset in IMAGE_DATASETS),
            "clusters 'auto' is for 2D points; give images a number of clusters (50 is the default)",
        )
        check(
            self.clusters == 0 or not self.conditional,
            "clusters are for the unconditional models; a conditional model already has its classes",
        )
        check(
            self.cluster_method in CLUSTER_METHODS,
            f"cluster method must be one of {', '.join(CLUSTER_METHODS)}; got {self.cluster_method!r}",
        )
        check(
            self.cluster_method == "kmeans" or kind_of(self.dataset) != "points",
            "spectral clustering is for images; 2D points are clustered by k-means",
        )
        check(
            not (self.augment and self.dataset in TOY_DATASETS),
            "augmentation is for images; the 2D datasets have no pixels to shift",
        )
        check(_finite(self.ema_decay) and 0 <= self.ema_decay < 1, f"EMA decay must be in [0, 1); got {self.ema_decay}")
        check(is_int(self.seed) and 0 <= self.seed < 2**63, f"seed must be a non-negative integer; got {self.seed}")
        check(self.device in ("auto", "cuda", "mps", "cpu"), f"device must be auto, cuda, mps or cpu; got {self.device!r}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def conditional(self) -> bool:
        return self.model in ("cdcgan", "cmlp")

    @property
    def architecture(self) -> str:
        return "dcgan" if self.model in ("dcgan", "cdcgan") else "mlp"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

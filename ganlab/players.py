"""The players a run builds: the G and D configs a TrainingConfig describes, the clusters of the data
they are conditioned on when the config asks for clusters, and the optimizer each one learns with.

The Trainer (``ganlab.training``) builds its players from these; the live runs use ``player_configs``
to count a model's parameters before any weights exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ganlab.clusters import AUTO_K_RANGE, FIT_POINTS, Clusters, choose_k, cluster_images, cluster_points, effective_k
from ganlab.config import TrainingConfig
from ganlab.data.errors import DataError
from ganlab.data.toy import ToyDistribution
from ganlab.models import DiscriminatorConfig, GeneratorConfig


def player_configs(
    config: TrainingConfig,
    data_shape: tuple[int, ...],
    num_classes: int,
    *,
    class_names: list[str] | None = None,
    cluster_prior: list[float] | None = None,
) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    """The G and D a run builds: ``num_classes`` real classes, or clusters when ``cluster_prior`` is
    given (an empty list: clusters whose shares are not known yet, enough to count parameters)."""
    clustered = cluster_prior is not None
    generator = GeneratorConfig(
        arch=config.architecture,
        data_shape=data_shape,
        noise_dim=config.noise_dim,
        noise_distribution=config.noise_distribution,
        num_classes=num_classes,
        width=config.width,
        depth=config.depth,
        activation=config.activation,
        refine=config.refine,
        class_names=list(class_names or []),
        cluster_prior=list(cluster_prior or []),
    )
    discriminator = DiscriminatorConfig(
        arch=config.architecture,
        data_shape=data_shape,
        num_classes=num_classes,
        width=config.d_width or config.width,
        depth=config.depth,
        spectral_norm=config.spectral_norm,
        minibatch_std=config.minibatch_std,
        # Many clusters as input channels would make a DCGAN D's first layer several times dearer; an MLP D
        # takes them as a few more inputs, which learned the 2D toys faster than projection did.
        conditioning="projection" if clustered and config.architecture == "dcgan" else "channels",
    )
    return generator, discriminator


def run_clusters(data: ToyDistribution | Any, config: TrainingConfig, clusters: Clusters | None = None) -> Clusters | None:
    """The clusters a run trains on: ``clusters`` (saved with the run) when they fit ``data``, found anew when
    the config asks for clusters and none were given, None when it does not ask."""
    if not config.clusters:
        return None  # clusters only when the config asks for them
    toy = isinstance(data, ToyDistribution)
    if config.clusters == "auto" and not toy:
        raise ValueError("clusters 'auto' is for 2D points; give images a number of clusters (50 is the default)")
    if clusters is None:
        return _cluster_toy(data, config) if toy else _cluster_images(data, config)
    if toy and clusters.centres.shape[1] != 2:
        raise DataError("the saved clusters are of images, but the data are 2D points")
    if not toy and len(clusters.assignments) != len(data):
        raise DataError(
            f"the saved clusters cover {len(clusters.assignments):,} images, but the data has "
            f"{len(data):,}: this is not the data the run was trained on"
        )
    return clusters


def _cluster_images(data: Any, config: TrainingConfig) -> Clusters | None:
    k = effective_k(config.clusters, len(data))
    return cluster_images(data.images, k, seed=config.seed, method=config.cluster_method) if k else None


def _cluster_toy(data: ToyDistribution, config: TrainingConfig) -> Clusters | None:
    """Clusters of points drawn from a 2D distribution (their own seed: training's stream is unchanged)."""
    points = data.sample(FIT_POINTS, generator=torch.Generator().manual_seed(config.seed + 3))
    # User points are few and jittered: at most one cluster per 20 of them.
    most = effective_k(
        AUTO_K_RANGE[1] if config.clusters == "auto" else config.clusters,
        len(data.centres) if data.centres is not None else FIT_POINTS,
    )
    k = choose_k(points, seed=config.seed, k_range=(AUTO_K_RANGE[0], most)) if config.clusters == "auto" else most
    return cluster_points(points, k, seed=config.seed) if k else None


def adam(params: Iterator[nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam with the fused kernel where the device has one: the same update in one pass over each
    tensor, a third less time per DCGAN step on a 2-core CPU (bench/bench_step_speed.py)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, ValueError):  # no fused kernel for this device or dtype
        return torch.optim.Adam(params, lr=lr, betas=betas)

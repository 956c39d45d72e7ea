"""Small building blocks shared by the MLP and DCGAN models."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": lambda: nn.ELU(),
    "tanh": lambda: nn.Tanh(),
    "gelu": lambda: nn.GELU(),
}


def activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None


def maybe_spectral(layer: nn.Module, enabled: bool) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) keeps D 1-Lipschitz-ish; a common D stabiliser."""
    return nn.utils.parametrizations.spectral_norm(layer) if enabled else layer


class MinibatchStdDev(nn.Module):
    """Appends one feature map: how much the samples of a small group differ (Karras et al. 2018).

    A collapsed generator makes near-identical samples, so this statistic lets D see collapse
    directly and push G back towards variety. Groups of ``group_size`` split the batch; a batch that
    does not divide evenly uses one group.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = self.group_size if n % self.group_size == 0 else n
        grouped = x.reshape(group, -1, c, h, w)  # sample i belongs to group i % (n / group)
        spread = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # one value per group
        feature = spread.repeat(group)[:, None, None, None].expand(n, 1, h, w)
        return torch.cat([x, feature], dim=1)

"""Small building blocks shared by the MLP and DCGAN models."""

from __future__ import annotations

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

"""Fully connected bodies: the classic GAN of Goodfellow et al. (2014), for 2D points or flat images."""

from __future__ import annotations

import math

from torch import nn

from ganlab.models.layers import activation, maybe_spectral


def mlp_generator_body(in_features: int, data_shape: tuple[int, ...], width: int, depth: int, act: str, image: bool) -> nn.Module:
    layers: list[nn.Module] = []
    features = in_features
    for _ in range(depth):
        layers += [nn.Linear(features, width), activation(act)]
        features = width
    layers.append(nn.Linear(features, math.prod(data_shape)))
    if image:
        layers.append(nn.Tanh())  # images live in [-1, 1]
    layers.append(nn.Unflatten(1, data_shape))
    return nn.Sequential(*layers)


def mlp_discriminator_body(in_features: int, width: int, depth: int, act: str, spectral_norm: bool) -> nn.Module:
    layers: list[nn.Module] = []
    features = in_features
    for _ in range(depth):
        layers += [maybe_spectral(nn.Linear(features, width), spectral_norm), activation(act)]
        features = width
    layers.append(maybe_spectral(nn.Linear(features, 1), spectral_norm))
    return nn.Sequential(*layers)

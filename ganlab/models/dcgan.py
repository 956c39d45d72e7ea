"""Convolutional bodies after Radford et al. (2016), DCGAN, sized for 28x28 and 32x32 images.

G: a dense layer to a small feature map (7x7 for 28x28, 4x4 for 32x32), then stride-2 4x4
transposed convolutions with batch norm and ReLU that double the size, and a tanh output.
D: the mirror image: stride-2 4x4 convolutions with LeakyReLU(0.2) (batch norm, or spectral norm
instead when asked), then one linear logit.
"""

from __future__ import annotations

from torch import nn

from ganlab.models.layers import MinibatchStdDev, activation, maybe_spectral


def upsampling_steps(size: int) -> int:
    """How many stride-2 stages take the seed map to ``size`` (28 -> 7 -> 2 steps, 32 -> 4 -> 3)."""
    for steps, seed in ((2, 7), (3, 4)):
        if size == seed * 2**steps:
            return steps
    raise ValueError(f"DCGAN supports 28x28 and 32x32 images; got {size}x{size}")


def dcgan_generator_body(in_features: int, channels: int, size: int, width: int, act: str, refine: int = 0) -> nn.Module:
    """``refine`` adds that many 3x3 stride-1 conv layers at each hidden resolution: extra capacity
    where it is cheap (small maps), without changing the DCGAN shape."""
    steps = upsampling_steps(size)
    seed = size // 2**steps
    top = width * 2 ** (steps - 1)
    layers: list[nn.Module] = [
        nn.Linear(in_features, top * seed * seed, bias=False),
        nn.Unflatten(1, (top, seed, seed)),
        nn.BatchNorm2d(top),
        activation(act),
    ]
    current = top
    for step in range(steps):
        for _ in range(refine):
            layers += [nn.Conv2d(current, current, 3, padding=1, bias=False), nn.BatchNorm2d(current), activation(act)]
        last = step == steps - 1
        out = channels if last else current // 2
        layers.append(nn.ConvTranspose2d(current, out, 4, stride=2, padding=1, bias=last))
        layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), activation(act)]
        current = out
    return nn.Sequential(*layers)


def dcgan_discriminator_body(
    in_channels: int,
    size: int,
    width: int,
    act: str,
    spectral_norm: bool,
    batch_norm: bool,
    minibatch_std: bool = False,
) -> nn.Module:
    steps = upsampling_steps(size)
    layers: list[nn.Module] = []
    current, out = in_channels, width
    for step in range(steps):
        layers.append(maybe_spectral(nn.Conv2d(current, out, 4, stride=2, padding=1), spectral_norm))
        # No norm on the first layer (DCGAN); batch norm makes D depend on the batch, so it is
        # left out when spectral norm already constrains D.
        if step > 0 and batch_norm and not spectral_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(activation(act))
        current, out = out, out * 2
    final = size // 2**steps
    if minibatch_std:
        layers.append(MinibatchStdDev())
        current += 1
    layers += [nn.Flatten(), maybe_spectral(nn.Linear(current * final * final, 1), spectral_norm)]
    return nn.Sequential(*layers)

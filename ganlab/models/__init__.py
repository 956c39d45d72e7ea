"""Generators and discriminators: each one a dataclass config plus a module."""

from ganlab.models.gan import (
    ARCHITECTURES,
    NOISE_DISTRIBUTIONS,
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
)

__all__ = [
    "ARCHITECTURES",
    "NOISE_DISTRIBUTIONS",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
]

"""GAN objectives: one (discriminator loss, generator loss) pair per objective.

Every function takes D's raw outputs (logits) on a real batch and a generated batch and returns a
scalar to *minimise*. Working on logits with ``softplus`` keeps the log-sigmoid terms stable:
log sigmoid(t) = -softplus(-t) and log(1 - sigmoid(t)) = -softplus(t).

Notation: r = D(x) logits on real data, f = D(G(z)) logits on generated data, sigma = sigmoid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


# -- minimax (Goodfellow et al. 2014) -----------------------------------------------------------
def minimax_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D maximises log D(x) + log(1 - D(G(z))):  L_D = -E[log sigma(r)] - E[log(1 - sigma(f))]."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """G minimises log(1 - D(G(z))):  L_G = E[log(1 - sigma(f))] = -E[softplus(f)].

    Saturates: when D confidently rejects fakes (f << 0) the gradient vanishes.
    """
    return -F.softplus(fake).mean()


# -- non-saturating (Goodfellow et al. 2014, the "-log D trick") ----------------------------------
def nonsaturating_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """G maximises log D(G(z)):  L_G = -E[log sigma(f)] = E[softplus(-f)]. D's loss is minimax's."""
    return F.softplus(-fake).mean()


# -- Wasserstein (Arjovsky et al. 2017) -----------------------------------------------------------
def wasserstein_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic maximises E[r] - E[f]:  L_D = E[f] - E[r] (with a Lipschitz constraint)."""
    return fake.mean() - real.mean()


def wasserstein_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """L_G = -E[f]."""
    return -fake.mean()


def gradient_penalty(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad_x D(x_hat)||_2 - 1)^2] on random interpolates
    x_hat = a x + (1 - a) G(z), a ~ U[0, 1]."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, generator=generator).to(real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = discriminator(mixed, labels) if labels is not None else discriminator(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


# -- least squares (Mao et al. 2017) --------------------------------------------------------------
def lsgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """L_D = 1/2 E[(r - 1)^2] + 1/2 E[f^2]   (targets b = 1 for real, a = 0 for fake)."""
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()


def lsgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """L_G = 1/2 E[(f - 1)^2]   (G wants D to output c = 1)."""
    return 0.5 * ((fake - 1) ** 2).mean()


# -- hinge (Lim & Ye 2017; Miyato et al. 2018) ----------------------------------------------------
def hinge_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """L_D = E[max(0, 1 - r)] + E[max(0, 1 + f)]."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """L_G = -E[f]."""
    return -fake.mean()


@dataclass(frozen=True)
class Objective:
    """A GAN objective as the trainer uses it."""

    name: str
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    description: str
    gradient_penalty: bool = False  # WGAN-GP: add lambda * gradient_penalty to L_D
    clip_weights: bool = False  # WGAN: clip D's weights to [-c, c] after each D step
    d_output: str = "probability"  # how to read D's output: "probability" = sigmoid(logit)

    def d_score(self, logits: torch.Tensor) -> torch.Tensor:
        """D's output in its natural reading: sigmoid(logit) for probabilistic objectives, the raw
        score for least squares (targets 0 and 1) and the critic value for Wasserstein."""
        return torch.sigmoid(logits) if self.d_output == "probability" else logits


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective(
        "minimax",
        minimax_d_loss,
        minimax_g_loss,
        "original minimax game; G's loss log(1 - D(G(z))) saturates when D wins",
    ),
    "nonsaturating": Objective(
        "nonsaturating",
        minimax_d_loss,
        nonsaturating_g_loss,
        "minimax D; G maximises log D(G(z)) for strong early gradients (the usual choice)",
    ),
    "wgan": Objective(
        "wgan",
        wasserstein_d_loss,
        wasserstein_g_loss,
        "Wasserstein critic with weight clipping",
        clip_weights=True,
        d_output="critic score",
    ),
    "wgan-gp": Objective(
        "wgan-gp",
        wasserstein_d_loss,
        wasserstein_g_loss,
        "Wasserstein critic with a gradient penalty",
        gradient_penalty=True,
        d_output="critic score",
    ),
    "lsgan": Objective(
        "lsgan",
        lsgan_d_loss,
        lsgan_g_loss,
        "least squares: D regresses to 1 (real) and 0 (fake)",
        d_output="score (target 1 real, 0 fake)",
    ),
    # Hinge trains D's raw score against margins, so sigmoid(score) would be no probability: shown as the score.
    "hinge": Objective(
        "hinge",
        hinge_d_loss,
        hinge_g_loss,
        "hinge loss (used with spectral norm)",
        d_output="score (margin: real >= 1, fake <= -1)",
    ),
}


def get_objective(name: str) -> Objective:
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(OBJECTIVES)}") from None

"""Differentiable augmentation of D's input, against a discriminator that memorises a small dataset.

With a few thousand training images D learns them by heart: late in training it scores real digits
~0.9 and generated ones ~0.1 however good they are, and G chases that memory instead of the data
(lower recall, samples drawn towards training images). DiffAugment (Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training") shows D only randomly shifted and cut-out versions of
*both* real and generated images, in both players' moves. The operations are differentiable, so G
still gets gradients through them, and because real and fake are treated alike G is not taught to
make shifted or cut-out images.

Two of the paper's three operations are used: translation (up to 1/8 of the side, the borders
repeated) and cutout (a square of half the side set to 0, mid-grey in [-1, 1]); colour changes mean
little for grayscale digits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TRANSLATION = 1 / 8  # largest shift, as a fraction of the image side (the paper's value)
CUTOUT = 1 / 2  # side of the cut-out square, as a fraction of the image side (the paper's value)


def translate(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift every image by its own random whole-pixel offset; the border pixels fill the gap."""
    n, _, h, w = images.shape
    r = max(1, round(h * TRANSLATION))
    padded = F.pad(images, (r, r, r, r), mode="replicate")
    shift_y = torch.randint(0, 2 * r + 1, (n, 1, 1), generator=generator).to(images.device)
    shift_x = torch.randint(0, 2 * r + 1, (n, 1, 1), generator=generator).to(images.device)
    rows = torch.arange(h, device=images.device)[None, :, None] + shift_y  # (n, h, 1)
    cols = torch.arange(w, device=images.device)[None, None, :] + shift_x  # (n, 1, w)
    batch = torch.arange(n, device=images.device)[:, None, None]
    # Indexing (n, h, w) positions with the channel dimension sliced gives (n, h, w, c).
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)


def cutout(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Set a random square (half the side) of every image to 0; the square may hang over the edge."""
    n, _, h, w = images.shape
    size_y, size_x = max(1, round(h * CUTOUT)), max(1, round(w * CUTOUT))
    # The square's centre is anywhere in the image, so near an edge only part of it falls inside.
    top = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), generator=generator).to(images.device) - size_y // 2
    left = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), generator=generator).to(images.device) - size_x // 2
    ys = torch.arange(h, device=images.device)[None, :, None]
    xs = torch.arange(w, device=images.device)[None, None, :]
    inside = (ys >= top) & (ys < top + size_y) & (xs >= left) & (xs < left + size_x)
    return images * (~inside).unsqueeze(1).to(images.dtype)


def diff_augment(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translation then cutout, each image its own draw (images (N, C, H, W) in [-1, 1])."""
    return cutout(translate(images, generator=generator), generator=generator)

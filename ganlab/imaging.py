"""The one image helper: tensors in [-1, 1] to uint8, grids of samples, PNG files."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float images in [-1, 1], (N, C, H, W), to uint8 (N, C, H, W)."""
    scaled = ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255)
    return scaled.to(torch.uint8).numpy()


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2, background: int = 0) -> np.ndarray:
    """Tile uint8 images (N, C, H, W) into one picture: (H', W') for 1 channel, (H', W', 3) for RGB."""
    if images.ndim == 3:
        images = images[:, None]
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("cannot make a grid of zero images")
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((c, rows * (h + padding) + padding, columns * (w + padding) + padding), background, np.uint8)
    for i in range(n):
        top = padding + (i // columns) * (h + padding)
        left = padding + (i % columns) * (w + padding)
        grid[:, top : top + h, left : left + w] = images[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def upscale(picture: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement: crisp pixels for small digits on a projector."""
    return picture.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else picture


def save_png(picture: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path, format="PNG")
    return path


def png_bytes(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()

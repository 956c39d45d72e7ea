"""The one image helper: tensors in [-1, 1] to uint8, the picture layout, grids of samples, PNG and GIF files.

Models and datasets keep images as (N, C, H, W), the layout of torch; pictures for PIL, numpy files
and the browser are (H, W) for grayscale and (H, W, 3) for colour: ``to_hwc`` is the one conversion.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float images in [-1, 1], (N, C, H, W), to uint8 (N, C, H, W)."""
    scaled = ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255)
    return scaled.to(torch.uint8).numpy()


def to_hwc(images: np.ndarray) -> np.ndarray:
    """Channels-first images, one (C, H, W) or many (N, C, H, W), to pictures: (..., H, W) for one
    channel, (..., H, W, C) for RGB. A view, not a copy."""
    return images[..., 0, :, :] if images.shape[-3] == 1 else np.moveaxis(images, -3, -1)


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
    return to_hwc(grid)


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


def save_gif(
    frames: Sequence[np.ndarray],
    target: str | Path | BinaryIO,
    *,
    frame_ms: int,
    last_frame_ms: int | None = None,
    scale: int = 1,
) -> None:
    """An animated, looping GIF of uint8 pictures (H, W) or (H, W, 3), written to a path or an open binary file.

    Each frame shows ``frame_ms`` milliseconds, the last one ``last_frame_ms`` (to let the end sink in);
    ``scale`` enlarges them with crisp pixels (``upscale``).
    """
    if not len(frames):
        raise ValueError("cannot make a GIF of zero frames")
    images = [Image.fromarray(upscale(frame, scale)) for frame in frames]
    durations = [frame_ms] * (len(images) - 1) + [frame_ms if last_frame_ms is None else last_frame_ms]
    if isinstance(target, (str, Path)):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    images[0].save(target, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)

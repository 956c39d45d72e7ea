"""Image pools for the quiz and the ONE pipeline that turns any image into display bytes.

The store never sees torch: the app hands it plain uint8 numpy arrays, one pool per source
(the held-out real images, and samples from each checkpoint).

Why one pipeline with fixed-size output: anything that differs between how real and fake
images reach the browser is a clue that has nothing to do with realism. Both kinds are
upscaled by nearest neighbour to the same display size, kept in the same mode (all pools of a
quiz have the same shape), and written as a minimal PNG with uncompressed (stored) deflate
blocks and no metadata. Every image of a quiz therefore has exactly the same byte length, and
takes the same time to encode: compressed PNG sizes follow image content (smooth generated
digits compress far better than real ones), which a curious participant could read from the
browser's network tab.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from ganlab.quiz.errors import QuizError

POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MANIFEST = "pools.json"


@dataclass
class ImagePool:
    """A named set of images that quiz trials are drawn from.

    name:    e.g. "mnist-heldout" or "dcgan-mnist-epoch20" (lowercase letters, digits, . _ -)
    is_real: True for held-out real images, False for generated ones
    images:  uint8 array (N, H, W) for grayscale or (N, H, W, 3) for colour
    """

    name: str
    is_real: bool
    images: np.ndarray
    _fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not POOL_NAME.match(self.name):
            raise QuizError(f"pool name must be 1-64 lowercase letters, digits, '.', '_' or '-'; got {self.name!r}")
        images = np.asarray(self.images)
        if images.dtype != np.uint8:
            raise QuizError(f"pool {self.name!r}: images must be uint8; got {images.dtype}")
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
            raise QuizError(
                f"pool {self.name!r}: images must have shape (N, H, W) or (N, H, W, 3); "
                f"got {images.shape} (use ImagePool.from_nchw for (N, C, H, W) arrays)"
            )
        if len(images) == 0:
            raise QuizError(f"pool {self.name!r} is empty")
        # Contiguous memory so reading a real or a fake image costs the same.
        self.images = np.ascontiguousarray(images)
        self.is_real = bool(self.is_real)

    @classmethod
    def from_nchw(cls, name: str, is_real: bool, images: np.ndarray) -> ImagePool:
        """Build a pool from (N, C, H, W) uint8, the layout of ``generate_images`` and datasets."""
        array = np.asarray(images)
        if array.ndim != 4 or array.shape[1] not in (1, 3):
            raise QuizError(f"pool {name!r}: expected (N, C, H, W) with C = 1 or 3; got {array.shape}")
        return cls(name, is_real, np.moveaxis(array, 1, -1))

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(H, W) or (H, W, 3)."""
        return tuple(self.images.shape[1:])

    @property
    def fingerprint(self) -> str:
        """sha256 of shape and pixels: a quiz refuses to serve from a pool that changed."""
        if self._fingerprint is None:
            digest = hashlib.sha256(repr(self.images.shape).encode())
            digest.update(self.images.tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint


class QuizImages:
    """The registry of image pools the app fills: real held-out images + one pool per checkpoint.

    ``loader`` (optional) is asked for a pool that is not registered yet, e.g. one kept on disk
    by ``ganlab.quiz.pools.PoolCache``: a restarted app then serves every quiz whose pools are
    cached without loading them all up front. It returns the pool, or None if it has none.
    """

    def __init__(
        self,
        pools: list[ImagePool] | None = None,
        *,
        loader: Callable[[str], ImagePool | None] | None = None,
    ) -> None:
        self._pools: dict[str, ImagePool] = {}
        self._loader = loader
        self._lock = threading.Lock()  # handler threads register pools while others read
        for pool in pools or []:
            self.add(pool)

    def add(self, pool: ImagePool) -> None:
        if not isinstance(pool, ImagePool):
            raise QuizError(f"expected an ImagePool; got {type(pool).__name__}")
        with self._lock:
            if pool.name in self._pools:
                raise QuizError(f"a pool named {pool.name!r} is already registered")
            self._pools[pool.name] = pool

    def get(self, name: str) -> ImagePool:
        pool = self._pools.get(name)
        if pool is None and self._loader is not None and isinstance(name, str) and POOL_NAME.match(name):
            with self._lock:
                pool = self._pools.get(name)
                if pool is None:
                    pool = self._loader(name)
                    if pool is not None:
                        if pool.name != name:
                            raise QuizError(f"the pool loader returned {pool.name!r} when asked for {name!r}")
                        self._pools[name] = pool
        if pool is None:
            known = ", ".join(sorted(self._pools)) or "none"
            raise QuizError(f"no image pool named {name!r}; registered pools: {known}")
        return pool

    def __contains__(self, name: object) -> bool:
        return name in self._pools

    @property
    def names(self) -> list[str]:
        return sorted(self._pools)

    @property
    def real_names(self) -> list[str]:
        return sorted(n for n, p in self._pools.items() if p.is_real)

    @property
    def fake_names(self) -> list[str]:
        return sorted(n for n, p in self._pools.items() if not p.is_real)

    def save(self, directory: str | Path) -> Path:
        """Write every pool as ``<name>.npy`` plus a JSON manifest, so a restarted app serves
        exactly the images its open quizzes were built from (regenerating on another device
        need not be bit-identical)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {}
        for name, pool in self._pools.items():
            with open(directory / f"{name}.npy", "wb") as file:
                np.save(file, pool.images, allow_pickle=False)
                _flush_to_disk(file)
            manifest[name] = {"is_real": pool.is_real, "fingerprint": pool.fingerprint}
        with open(directory / MANIFEST, "w", encoding="utf-8") as file:
            file.write(json.dumps(manifest, indent=2, sort_keys=True))
            _flush_to_disk(file)
        # Every file, then the folder's entries, reach the disk before anyone refers to the pools: a
        # quiz created after a save must find its images after a power cut, as its answers would be.
        fsync_directory(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> QuizImages:
        directory = Path(directory)
        manifest_path = directory / MANIFEST
        if not manifest_path.is_file():
            raise QuizError(f"no {MANIFEST} in {directory}; save pools with QuizImages.save first")
        manifest = json.loads(manifest_path.read_text())
        registry = cls()
        for name, entry in sorted(manifest.items()):
            images = np.load(directory / f"{name}.npy", allow_pickle=False)
            pool = ImagePool(name, bool(entry["is_real"]), images)
            if pool.fingerprint != entry["fingerprint"]:
                raise QuizError(f"pool file {name}.npy does not match its manifest; it was modified")
            registry.add(pool)
        return registry


def _flush_to_disk(file: IO) -> None:
    file.flush()
    os.fsync(file.fileno())


def fsync_directory(folder: Path) -> None:
    """Make the folder's entries (new files, a rename) reach the disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def display_size(image_shape: tuple[int, ...], size: int) -> tuple[int, int]:
    """(width, height) on screen: the longer side becomes ``size`` pixels."""
    height, width = image_shape[:2]
    scale = size / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def upscale_nearest(image: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour upscale so the longer side is ``size`` pixels (every source pixel
    becomes a block; no smoothing that could treat real and fake pixels differently)."""
    width, height = display_size(image.shape, size)
    rows = np.arange(height) * image.shape[0] // height
    cols = np.arange(width) * image.shape[1] // width
    return image[rows[:, None], cols[None, :]]


def encode_png(pixels: np.ndarray) -> bytes:
    """A minimal PNG: IHDR, one IDAT, IEND, nothing else (no text, time, gamma or size chunks).

    Every row uses filter 0 and the deflate stream uses stored blocks (level 0), so both the
    byte length and the time to encode depend only on the image size, never on its content.
    (PIL's encoder even at compress_level=0 picks a row filter adaptively, with shortcuts for
    flat rows: a smooth digit encoded about 15% faster than a noisy one when we measured it.)
    """
    height, width = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2  # 0 = grayscale, 2 = RGB
    rows = np.zeros((height, 1 + pixels[0].size), dtype=np.uint8)  # leading 0 = "no filter"
    rows[:, 1:] = pixels.reshape(height, -1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), level=0)) + chunk(b"IEND", b"")


def render_png(image: np.ndarray, *, size: int) -> bytes:
    """The single rendering pipeline for every image a participant sees (and the masks):
    uint8 (H, W) or (H, W, 3) -> nearest-neighbour upscale -> minimal uncompressed PNG."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise QuizError(f"an image must be uint8 (H, W) or (H, W, 3); got {array.dtype} {array.shape}")
    return encode_png(upscale_nearest(array, size))


def noise_mask(image_shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Uniform noise of the quiz's image shape, shown after a timed exposure to stop the
    afterimage (backward masking). Drawn from fresh randomness: it knows nothing of the trial."""
    return rng.integers(0, 256, size=image_shape, dtype=np.uint8)

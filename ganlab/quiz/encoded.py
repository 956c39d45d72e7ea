"""Every image of a quiz's pools encoded once, at the pools' own size, for the participant route.

The lean participant route (``ganlab.ui.participant``) sends each trial's images as PNGs of the pool's
own size (28×28 for MNIST) and the browser scales them up by nearest neighbour (CSS
``image-rendering: pixelated``), which shows the same blocks as the server-side upscale of
``render_png``. An answer then costs no PNG encoding, and an image is about 1 KB on a classroom's wifi
instead of 79 KB. The bytes come from the same pipeline (``render_png`` at the native size: minimal
PNG, stored deflate blocks), so every image of a quiz still has exactly the same length.

All pools of a quiz are encoded together when the quiz is first served, so the cost of the first
serve does not depend on which kind of image it shows. Memory is bounded: past ``max_bytes`` the
least recently used quizzes' images are dropped (and encoded again if asked for).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from ganlab.quiz.images import ImagePool, render_png

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


def native_png(image, shape: tuple[int, ...]) -> bytes:
    """One image (or mask) through the one pipeline, at its own size."""
    return render_png(image, size=max(shape[:2]))


class EncodedImages:
    """PNG bytes per (pool, index), filled a whole quiz at a time; safe to share between threads."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pools: OrderedDict[tuple[str, str], list[bytes]] = OrderedDict()  # (name, fingerprint) -> PNGs
        self._bytes = 0
        self._lock = threading.Lock()

    def image(self, quiz_pools: Sequence[ImagePool], pool: ImagePool, index: int) -> bytes:
        """The PNG of ``pool.images[index]``; on a miss every pool of the quiz (``quiz_pools``) is encoded."""
        key = (pool.name, pool.fingerprint)
        with self._lock:
            encoded = self._pools.get(key)
            if encoded is not None:
                self._pools.move_to_end(key)
                return encoded[index]
        # Encoded outside the lock (tens of ms for a quiz's pools); two threads may both do it once.
        fresh = {(p.name, p.fingerprint): [native_png(image, p.image_shape) for image in p.images] for p in quiz_pools}
        with self._lock:
            for fresh_key, images in fresh.items():
                if fresh_key not in self._pools:
                    self._pools[fresh_key] = images
                    self._bytes += sum(len(png) for png in images)
                self._pools.move_to_end(fresh_key)
            while self._bytes > self.max_bytes and len(self._pools) > len(fresh):
                _, dropped = self._pools.popitem(last=False)
                self._bytes -= sum(len(png) for png in dropped)
        return fresh[key][index]

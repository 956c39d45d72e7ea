"""A quiz over your own images: a folder or .zip of real images and one or more of generated ones.

Every image, real or generated (files, or samples of a checkpoint), goes through the same steps, so
that only pixels differ between the two kinds: decoded (PNG, JPEG or WebP, whatever the file is
called; the EXIF orientation applied, then every byte of metadata dropped), converted to one mode
for the whole quiz (RGB if any image has colour, else grayscale), cut to the centred square and
resized to one size with the same filter. The store then shows them through its single
rendering pipeline (an uncompressed, metadata-free PNG of fixed byte length).

Archives and folders are read within the upload limits of ``ganlab.data.uploads`` (sizes checked
from the zip's directory and each image's header before anything is decoded), one set at a time
(``decode_slot``); the app's Quiz tab (``ganlab.ui.quiz_uploads``) passes a smaller pixel budget and
image count than the command line, and keeps each set only as ``normalised_set`` arrays. A set that
cannot make a fair quiz is refused with one message for a person: unreadable files, images over
``MAX_SIDE`` pixels a side, too few images, (pair mode) real and generated sets of different sizes,
or the same images given twice.

``ganlab.data`` imports torch, so this module reads it only when a set is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

from ganlab.imaging import to_hwc
from ganlab.quiz.errors import QuizError

if TYPE_CHECKING:
    from ganlab.quiz.pools import PoolCache
    from ganlab.quiz.settings import QuizSettings

MAX_SIDE = 1024  # pixels, either side
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
FORMATS = ("PNG", "JPEG", "WEBP")
MAX_SET_PIXELS = 400_000_000  # all images of one set, from their headers: a few seconds of decoding


def read_image_set(
    path: str | Path, *, what: str, set_pixels: int = MAX_SET_PIXELS, max_images: int | None = None
) -> list[Image.Image]:
    """Every image of a folder or .zip, decoded, upright (EXIF orientation) and stripped of metadata.

    ``what`` names the set in messages ("the real images"). ``set_pixels``: the most pixels all its images
    may add up to (from their headers, before decoding); ``max_images``: the most images it may hold (the
    app's web server passes both lower than the command line). Raises QuizError for a missing path, an
    unsafe or oversized archive, too many images, any file named as an image that cannot be read, or an
    image over MAX_SIDE pixels a side.
    """
    from ganlab.data.errors import DataError
    from ganlab.data.uploads import PixelBudget, UploadLimits, decode_slot, list_upload, read_files

    limits = UploadLimits(image_pixels=MAX_SIDE * MAX_SIDE, upload_pixels=set_pixels)
    images: list[Image.Image] = []
    unreadable: list[str] = []
    try:
        upload = list_upload(path, limits)
        named = sum(name.lower().endswith(SUFFIXES) for name, _ in upload.files)
        if max_images is not None and named > max_images:
            raise QuizError(f"{what}: {named:,} images; a quiz set may hold at most {max_images:,}: choose fewer")
        budget = PixelBudget(upload.label, limits)
        with decode_slot(), contextlib.closing(read_files(upload, SUFFIXES)) as files:
            for name, data in files:
                if data is None:
                    if name.lower().endswith(SUFFIXES):
                        unreadable.append(name)
                    continue  # not an image file (a README, .DS_Store, ...)
                image = _decode(data) if budget.admit(name, data) else None
                if image is None:
                    unreadable.append(name)
                    continue
                if max(image.size) > MAX_SIDE:
                    raise QuizError(
                        f"{what}: {name} is {image.width}x{image.height} pixels; at most {MAX_SIDE} a side, shrink it first"
                    )
                images.append(image)
    except DataError as error:
        raise QuizError(f"{what}: {error}") from None
    except FileNotFoundError:
        raise QuizError(f"{what}: there is no folder or .zip at {path}") from None
    if unreadable:
        shown = ", ".join(unreadable[:3]) + (f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else "")
        raise QuizError(
            f"{what}: {len(unreadable)} file(s) could not be read as PNG, JPEG or WebP images ({shown}); "
            "fix or remove them, so that the quiz shows exactly the images you chose"
        )
    if not images:
        raise QuizError(f"{what}: no PNG, JPEG or WebP images in {path}")
    return images


def _decode(data: bytes) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            upright = ImageOps.exif_transpose(image)
            if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
                rgba = upright.convert("RGBA")
                upright = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            # A new image from the pixels alone: no EXIF, ICC profile, text or timestamps travel on.
            pixels = np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError):
        return None
    return Image.fromarray(pixels, "RGB")


def from_array(images: np.ndarray) -> list[Image.Image]:
    """Samples of a checkpoint, uint8 (N, C, H, W), as images for ``normalise``."""
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise QuizError(f"expected uint8 images (N, C, H, W) with C = 1 or 3; got {array.shape}")
    return [Image.fromarray(to_hwc(image)).convert("RGB") for image in array]


def has_colour(images: Sequence[Image.Image]) -> bool:
    """True if any image is not gray (its three channels differ somewhere)."""
    for image in images:
        pixels = np.asarray(image)
        if not (np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])):
            return True
    return False


def normalise(images: Sequence[Image.Image], *, size: int, colour: bool) -> np.ndarray:
    """The one treatment of every image of a quiz: the centred square, resized to ``size`` with the same
    filter, in one mode. uint8 (N, size, size) or (N, size, size, 3)."""
    mode = "RGB" if colour else "L"
    return np.stack(
        [np.asarray(ImageOps.fit(image.convert(mode), (size, size), method=Image.Resampling.LANCZOS)) for image in images]
    )


def normalised_set(images: Sequence[Image.Image], *, size: int) -> np.ndarray:
    """``normalise`` in colour, done as soon as a set is read so that only small arrays are kept, not the
    decoded images; ``keep_image_pools`` makes the quiz gray when no set has colour (a gray RGB image's
    channels are equal, so its first channel is exactly its grayscale version)."""
    return normalise(images, size=size, colour=True)


def keep_image_pools(
    real: tuple[str, np.ndarray], fakes: Sequence[tuple[str, np.ndarray]], settings: QuizSettings, cache: PoolCache
) -> tuple[str, list[str]]:
    """Pools of a quiz over your own images, kept in ``cache`` (so the app's store finds them): the real
    set and each generated set as ``(label, normalised_set(...))``. Refuses sets that cannot make the quiz
    (``check_sets``). Returns the real pool's name and the generated pools' names."""
    from ganlab.quiz.deck import images_needed
    from ganlab.quiz.images import ImagePool

    needed_real, per_source = images_needed(settings.mode, settings.deck_size, settings.practice_trials, len(fakes))
    check_sets(settings.mode, len(real[1]), [len(pixels) for _, pixels in fakes], needed_real, per_source)
    colour = any(has_colour(pixels) for _, pixels in (real, *fakes))
    pools = []
    for is_real, (label, pixels) in [(True, real), *((False, fake) for fake in fakes)]:
        shown = _mode(pixels, colour)
        pools.append(ImagePool(pool_name("real" if is_real else "fake", label, shown), is_real, shown))
    names = [pool.name for pool in pools]
    digests = [name.rsplit("-", 1)[1] for name in names]  # the hash of the pixels (pool_name)
    if len(set(digests)) != len(digests):
        raise QuizError("the same images were given twice (as two sets, or as real and generated); give each set once")
    for pool in pools:
        if cache.load(pool.name) is None:
            cache.keep(pool)
    return names[0], names[1:]


def _mode(pixels: np.ndarray, colour: bool) -> np.ndarray:
    return pixels if colour else np.ascontiguousarray(pixels[..., 0])


def pool_name(kind: str, label: str, pixels: np.ndarray) -> str:
    """``<kind>-<label>-<hash of the pixels>``: the same images give the same name."""
    from ganlab.quiz.pools import slug

    digest = hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).hexdigest()[:8]
    return f"{kind}-{slug(label)[:40]}-{digest}"


def check_sets(mode: str, real: int, fakes: Sequence[int], needed_real: int, needed_per_source: int) -> None:
    """Refuse sets that cannot make the quiz asked for, with every reason at once."""
    problems = []
    if real < needed_real:
        problems.append(f"the real images: {real}; each deck may need up to {needed_real} (give more images or a smaller deck)")
    for index, count in enumerate(fakes, start=1):
        if count < needed_per_source:
            problems.append(f"generated set {index}: {count} images; each deck may need up to {needed_per_source}")
    if mode == "pair" and real != sum(fakes):
        problems.append(
            f"pair mode shows real and generated images one to one: {real} real but {sum(fakes)} generated; "
            "give the same number of each"
        )
    if problems:
        raise QuizError("these images cannot make the quiz: " + "; ".join(problems))

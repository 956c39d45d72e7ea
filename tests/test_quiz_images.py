"""Image pools and the single rendering pipeline."""

import io

import numpy as np
import pytest
from PIL import Image

from ganlab.quiz.errors import QuizError
from ganlab.quiz.images import ImagePool, QuizImages, render_png


def test_pool_validation_and_layouts():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    assert ImagePool("real", True, gray).image_shape == (28, 28)
    assert ImagePool("real", True, gray[..., None]).image_shape == (28, 28)  # (N, H, W, 1) squeezed
    nchw = rng.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    pool = ImagePool.from_nchw("gen", False, nchw)
    assert pool.image_shape == (32, 32, 3)
    assert np.array_equal(pool.images[2, :, :, 1], nchw[2, 1])
    for bad in (gray.astype(np.float32), gray[0], np.zeros((0, 28, 28), np.uint8), np.zeros((2, 3, 8, 8), np.uint8)):
        with pytest.raises(QuizError):
            ImagePool("real", True, bad)
    for bad_name in ("Real", "has space", "", "../x"):
        with pytest.raises(QuizError):
            ImagePool(bad_name, True, gray)


def test_registry_and_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    real = ImagePool("mnist-heldout", True, rng.integers(0, 256, (6, 28, 28), dtype=np.uint8))
    fake = ImagePool("dcgan-e20", False, rng.integers(0, 256, (4, 28, 28), dtype=np.uint8))
    images = QuizImages([real, fake])
    assert images.real_names == ["mnist-heldout"] and images.fake_names == ["dcgan-e20"]
    with pytest.raises(QuizError, match="already registered"):
        images.add(real)
    with pytest.raises(QuizError, match="registered pools"):
        images.get("nope")
    images.save(tmp_path)
    loaded = QuizImages.load(tmp_path)
    assert loaded.names == images.names
    assert loaded.get("dcgan-e20").fingerprint == fake.fingerprint
    assert np.array_equal(loaded.get("mnist-heldout").images, real.images)
    # A modified pool file is caught.
    tampered = real.images.copy()
    tampered[0, 0, 0] ^= 1
    np.save(tmp_path / "mnist-heldout.npy", tampered)
    with pytest.raises(QuizError, match="modified"):
        QuizImages.load(tmp_path)


def test_render_is_nearest_neighbour_fixed_size_and_fixed_length():
    rng = np.random.default_rng(2)
    noisy = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    flat = np.zeros((28, 28), dtype=np.uint8)
    a, b = render_png(noisy, size=280), render_png(flat, size=280)
    assert len(a) == len(b)  # content does not change the byte length
    picture = Image.open(io.BytesIO(a))
    assert picture.size == (280, 280) and picture.mode == "L"
    pixels = np.asarray(picture)
    assert np.array_equal(pixels[::10, ::10], noisy)  # each source pixel became a 10x10 block
    assert np.array_equal(pixels[5::10, 9::10], noisy)
    colour = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    picture = Image.open(io.BytesIO(render_png(colour, size=280)))
    assert picture.mode == "RGB" and picture.size == (280, 280)
    with pytest.raises(QuizError):
        render_png(noisy.astype(np.int16), size=280)

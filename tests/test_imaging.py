import io

import numpy as np
import pytest
from PIL import Image, ImageSequence

from ganlab.imaging import make_grid, save_gif, to_hwc


def test_to_hwc_gives_the_picture_layout_of_one_image_or_many():
    rgb = np.arange(2 * 3 * 4 * 5, dtype=np.uint8).reshape(2, 3, 4, 5)
    assert to_hwc(rgb).shape == (2, 4, 5, 3) and to_hwc(rgb[0]).shape == (4, 5, 3)
    assert to_hwc(rgb)[1, 2, 3, 0] == rgb[1, 0, 2, 3]
    gray = rgb[:, :1]
    assert to_hwc(gray).shape == (2, 4, 5) and to_hwc(gray[0]).shape == (4, 5)
    assert np.array_equal(to_hwc(gray[1]), gray[1, 0])
    assert make_grid(rgb, padding=0, columns=2).shape == (4, 10, 3)


@pytest.mark.parametrize("shape", [(6, 7), (6, 7, 3)])
def test_save_gif_round_trips_its_frames_and_durations(tmp_path, shape):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) // 64 * 64 for _ in range(3)]  # few colours: exact in a GIF
    path = tmp_path / "deep" / "a.gif"
    save_gif(frames, path, frame_ms=80, last_frame_ms=1500, scale=2)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.info["loop"] == 0
        read = [(np.asarray(f.convert("RGB")), f.info["duration"]) for f in ImageSequence.Iterator(gif)]
    assert [d for _, d in read] == [80, 80, 1500]
    for frame, (pixels, _) in zip(frames, read, strict=True):
        enlarged = frame.repeat(2, 0).repeat(2, 1)
        expected = enlarged if enlarged.ndim == 3 else np.stack([enlarged] * 3, axis=-1)
        assert np.array_equal(pixels, expected)


def test_save_gif_writes_to_an_open_file_and_refuses_no_frames():
    buffer = io.BytesIO()
    save_gif([np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8)], buffer, frame_ms=50)
    with Image.open(io.BytesIO(buffer.getvalue())) as gif:
        assert gif.n_frames == 2 and gif.info["duration"] == 50
    with pytest.raises(ValueError, match="zero frames"):
        save_gif([], buffer, frame_ms=50)

"""The Explore tab's endpoints, called through gradio_client against the launched app.

Small random generators are saved into $GANLAB_CHECKPOINTS (a temp folder set by the app_url
fixture), exactly where the Train tab saves them, so these tests need no shipped checkpoint.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SLIDERS = 16  # 8 noise coordinates + 8 principal directions


@pytest.fixture(scope="module")
def names(app_url, save_generator):
    return {
        "plain": save_generator("api-dcgan"),
        "conditional": save_generator("api-cdcgan", classes=10, seed=1),
        "clustered": save_generator("api-clusters", classes=5, seed=2, clusters=True),
    }


def pixels(value: str | dict) -> np.ndarray:
    """A picture the API returned: a file (the strips, the GIF), or the generated image inline."""
    if isinstance(value, dict):  # in the response itself, a PNG data: URL: no file to fetch (one request a move)
        assert value["path"] is None and value["url"].startswith("data:image/png;base64,")
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(value["url"].split(",", 1)[1]))))
    return np.asarray(Image.open(value))


def render(client, *values: float, truncation: float = 1.0, label: str | None = None) -> np.ndarray:
    sliders = list(values) + [0.0] * (SLIDERS - len(values))
    return pixels(client.predict(truncation, label, *sliders, api_name="/explore_render"))


def test_refresh_lists_generators_saved_from_the_train_tab(client, names):
    update = client.predict(None, api_name="/explore_refresh")
    listed = [choice[0] for choice in update["choices"]]
    assert names["plain"] in listed and names["conditional"] in listed
    assert update["value"] == "mnist-cdcgan" != listed[0]  # opens on the best shipped generator, not the first name


def test_load_shows_a_large_crisp_image_and_describes_the_model(client, names):
    result = client.predict(names["plain"], 0, api_name="/explore_load")
    image, status = pixels(result[0]), result[1]
    assert isinstance(result[0], dict)  # inline (see pixels)
    assert image.shape == (280, 280) and image.dtype == np.uint8
    assert (image[::10, ::10].repeat(10, 0).repeat(10, 1) == image).all()  # nearest-neighbour blocks
    assert names["plain"] in status and "16-d normal noise" in status and "unconditional" in status
    # dims sliders get z's values, direction sliders start at 0
    dims, directions = result[-SLIDERS:-8], result[-8:]
    assert any(d["value"] != 0 for d in dims) and all(d["value"] == 0 for d in directions)


def test_render_is_deterministic_and_follows_the_sliders(client, names):
    client.predict(names["plain"], 0, api_name="/explore_load")
    base = render(client, *[0.5] * 8)
    assert np.array_equal(base, render(client, *[0.5] * 8))
    moved = render(client, *[0.5] * 8, 3.0)  # PC 1
    assert not np.array_equal(base, moved)
    assert not np.array_equal(base, render(client, *[0.5] * 8, truncation=0.3))
    assert np.array_equal(base, render(client, *[0.5] * 8))


def test_seed_randomize_and_reset(client, names):
    client.predict(names["plain"], 0, api_name="/explore_load")
    seeded = client.predict(5, api_name="/explore_seed")
    assert seeded[0] == 5
    again = client.predict(5, api_name="/explore_seed")
    assert np.array_equal(pixels(seeded[1]), pixels(again[1]))
    randomized = client.predict(api_name="/explore_randomize")
    assert randomized[0] != 5 and not np.array_equal(pixels(randomized[1]), pixels(seeded[1]))
    render(client, 1, 1, 1, 1, 1, 1, 1, 1, 4.0)
    reset = client.predict(api_name="/explore_reset")
    assert all(d["value"] == 0 for d in reset[-8:])
    assert [d["value"] for d in reset[-SLIDERS:-8]] == [d["value"] for d in randomized[-SLIDERS:-8]]


def test_interpolation_gives_a_strip_and_an_animated_gif(client, names):
    client.predict(names["plain"], 0, api_name="/explore_load")
    strip_path, gif_path = client.predict(3, 6, "spherical", api_name="/explore_interpolate")
    strip = pixels(strip_path)
    assert strip.shape == (3 * 32, 3 * (6 * 30 + 2))
    gif = Image.open(gif_path)
    assert gif.format == "GIF" and gif.n_frames == 10
    linear_path, _ = client.predict(3, 6, "linear", api_name="/explore_interpolate")
    assert not np.array_equal(strip, pixels(linear_path))


def test_all_classes_needs_a_conditional_generator(client, names):
    from gradio_client.exceptions import AppError

    client.predict(names["plain"], 0, api_name="/explore_load")
    with pytest.raises(AppError, match="unconditional"):
        client.predict(api_name="/explore_all_classes")
    loaded = client.predict(names["conditional"], 0, api_name="/explore_load")
    assert loaded[4]["visible"] is True and len(loaded[4]["choices"]) == 10
    strip_path, note = client.predict(api_name="/explore_all_classes")
    assert pixels(strip_path).shape == (3 * 32, 3 * (10 * 30 + 2)) and "0, 1, 2" in note
    # picking a class changes the picture
    assert not np.array_equal(render(client, label="3"), render(client, label="8"))


def test_a_model_trained_on_clusters_says_so_and_offers_its_clusters(client, names):
    loaded = client.predict(names["clustered"], 0, api_name="/explore_load")
    assert "unconditional" in loaded[1] and "5 k-means clusters" in loaded[1]
    picker = loaded[4]
    assert picker["visible"] is True and picker["label"].startswith("Cluster (found by k-means")
    assert [choice[0] for choice in picker["choices"]] == [f"cluster {i}" for i in range(1, 6)]
    assert not np.array_equal(render(client, label="cluster 1"), render(client, label="cluster 4"))


def test_the_cluster_picker_names_spectral_clusters(client):
    loaded = client.predict("mnist-dcgan", 0, api_name="/explore_load")  # shipped: 15 spectral clusters
    assert "spectral clusters" in loaded[1] and loaded[4]["label"].startswith("Cluster (found by spectral")


def test_neighbours_start_with_the_generated_image(client, names, monkeypatch):
    from ganlab.data.images import load_image_dataset
    from ganlab.latent import LatentCache, build_neighbour_index

    # Classifier features of all 8,000 training images take ~10 s on two cores; the search over
    # them is tested in tests/test_latent.py. Here a 300-image index stands in (the app runs in
    # this process, so the patch reaches it; its cache is left untouched).
    data = load_image_dataset("mnist", "train")
    small = build_neighbour_index(
        data.images[:300].numpy(), data.labels[:300].numpy(), note="300 test images", class_names=data.class_names
    )
    monkeypatch.setattr(LatentCache, "neighbours", lambda self, dataset: small)
    client.predict(names["plain"], 0, api_name="/explore_load")
    gallery, note = client.predict(api_name="/explore_neighbours")
    assert len(gallery) == 9 and gallery[0]["caption"] == "generated"
    distances = [float(item["caption"].split("d = ")[1]) for item in gallery[1:]]
    assert distances == sorted(distances) and all(item["caption"][0].isdigit() for item in gallery[1:])
    assert np.asarray(Image.open(gallery[1]["image"])).shape == (112, 112)  # 28 x 4, crisp
    assert "pixels" in note and "300 test images" in note


def test_broken_and_mismatched_checkpoints_give_clear_errors(client, names, save_generator):
    from gradio_client.exceptions import AppError

    root = Path(os.environ["GANLAB_CHECKPOINTS"])
    broken, mismatched = root / "zz-broken", root / "zz-mismatched"
    try:
        save_generator(broken.name)
        (broken / "model.safetensors").write_bytes(b"garbage")
        save_generator(mismatched.name)
        document = json.loads((mismatched / "config.json").read_text())
        document["config"]["noise_dim"] = 32
        (mismatched / "config.json").write_text(json.dumps(document))
        with pytest.raises(AppError, match="zz-broken.*not a readable safetensors file"):
            client.predict("saved/zz-broken", 0, api_name="/explore_load")
        with pytest.raises(AppError, match="zz-mismatched.*does not match"):
            client.predict("saved/zz-mismatched", 0, api_name="/explore_load")
        with pytest.raises(AppError, match="No generator named"):
            client.predict("/etc", 0, api_name="/explore_load")
    finally:
        shutil.rmtree(broken, ignore_errors=True)
        shutil.rmtree(mismatched, ignore_errors=True)

import io
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab import latent
from ganlab.checkpoints import CheckpointError, save_model
from ganlab.latent import (
    LatentCache,
    LatentExplorer,
    build_neighbour_index,
    first_hidden_activations,
    gif_bytes,
    interpolate,
    lerp,
    load_directions,
    principal_directions,
    save_directions,
    slerp,
    strip,
    truncate,
)
from ganlab.models import Generator, GeneratorConfig


def make_generator(*, classes: int = 0, noise_dim: int = 16, arch: str = "dcgan", seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    config = GeneratorConfig(
        arch=arch,
        data_shape=(1, 28, 28),
        noise_dim=noise_dim,
        width=8,
        depth=1,
        num_classes=classes,
        class_names=[f"c{i}" for i in range(classes)],
    )
    return Generator(config).eval()


@pytest.fixture(scope="module")
def generator() -> Generator:
    return make_generator()


@pytest.fixture(scope="module")
def directions(generator):
    return principal_directions(generator, 4, n_samples=600)


# -- interpolation ----------------------------------------------------------------------------
def test_slerp_hits_both_ends_and_keeps_the_norm_of_equal_norm_latents():
    a, b = torch.randn(64, generator=torch.Generator().manual_seed(1)), torch.randn(64)
    b = b / b.norm() * a.norm()
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    for t in (0.1, 0.5, 0.9):
        assert slerp(a, b, t).norm() == pytest.approx(a.norm().item(), rel=1e-5)
    # The straight line cuts through the middle of the sphere: its midpoint is shorter.
    assert lerp(a, b, 0.5).norm() < 0.9 * a.norm()


def test_slerp_of_nearly_parallel_or_opposite_latents_stays_finite():
    a = torch.randn(32)
    nearly = a * 2 + 1e-9
    for b in (nearly, a.clone(), -a):
        mid = slerp(a, b, 0.5)
        assert torch.isfinite(mid).all()
        assert torch.allclose(mid, lerp(a, b, 0.5), atol=1e-4)


def test_linear_interpolation_midpoint_and_frames():
    a, b = torch.zeros(8), torch.ones(8) * 2
    frames = interpolate(a, b, 5, "linear")
    assert len(frames) == 5 and torch.equal(frames[0], a) and torch.equal(frames[-1], b)
    assert torch.allclose(frames[2], torch.ones(8))
    assert len(interpolate(a, b, 3, "spherical")) == 3
    with pytest.raises(ValueError, match="at least 2 steps"):
        interpolate(a, b, 1)
    with pytest.raises(ValueError, match="'linear' or 'spherical'"):
        interpolate(a, b, 4, "cubic")


def test_truncation_scales_or_clamps_towards_the_mean():
    z = torch.tensor([-3.0, -0.5, 0.0, 2.0])
    assert torch.equal(truncate(z, 1.0), z)
    assert torch.equal(truncate(z, 0.0), torch.zeros(4))
    assert torch.allclose(truncate(z, 0.5), z / 2)
    assert torch.equal(truncate(z, 1.0, mode="clamp"), torch.tensor([-1.0, -0.5, 0.0, 1.0]))
    mean = torch.ones(4)
    assert torch.allclose(truncate(z, 0.0, mean=mean), mean)
    with pytest.raises(ValueError, match=">= 0"):
        truncate(z, -1)


# -- principal directions ---------------------------------------------------------------------
def test_directions_are_orthonormal_deterministic_and_sorted(generator, directions):
    d = directions.directions
    assert d.shape == (4, 16)
    assert torch.allclose(d @ d.T, torch.eye(4), atol=1e-5)
    again = principal_directions(generator, 4, n_samples=600)
    assert torch.allclose(again.directions, d)
    assert np.all(np.diff(directions.explained) <= 1e-9) and 0 < directions.explained.sum() <= 1
    assert "first hidden layer" in directions.layer
    assert principal_directions(make_generator(noise_dim=3), 8, n_samples=100).k == 3  # capped at noise_dim


def test_top_direction_finds_the_latent_axis_that_dominates_the_first_layer():
    g = make_generator(seed=3)
    with torch.no_grad():
        g.body[0].weight[:, 5] *= 10  # z[5] now drives the first layer far more than any other coordinate
    top = principal_directions(g, 3, n_samples=600).directions[0]
    assert abs(top[5]) > 0.9
    z = g.sample_noise(200, generator=torch.Generator().manual_seed(5))

    def change(direction: torch.Tensor) -> float:
        before, _ = first_hidden_activations(g, z)
        after, _ = first_hidden_activations(g, z + direction)
        return (after - before).norm(dim=1).mean().item()

    random = torch.randn(10, 16, generator=torch.Generator().manual_seed(6))
    assert change(top) > 2 * max(change(r / r.norm()) for r in random)


def test_first_hidden_layer_of_each_architecture():
    z = torch.randn(3, 16)
    acts, name = first_hidden_activations(make_generator(), z)
    assert acts.shape == (3, 16 * 7 * 7) and "first hidden layer" in name and (acts >= 0).all()  # after ReLU
    mlp = make_generator(arch="mlp")  # dense(16 -> 8) -> ReLU -> dense -> tanh
    acts, name = first_hidden_activations(mlp, z)
    assert acts.shape == (3, 8) and "first hidden layer" in name
    torch.manual_seed(0)
    flat = Generator(GeneratorConfig(arch="mlp", data_shape=(1, 28, 28), noise_dim=16, depth=0)).eval()
    acts, name = first_hidden_activations(flat, z)
    assert acts.shape == (3, 784) and name == "the generator's output"
    conditional = make_generator(classes=3)
    with pytest.raises(ValueError, match="conditional"):
        first_hidden_activations(conditional, z)
    a, _ = first_hidden_activations(conditional, z, torch.tensor([0, 1, 2]))
    b, _ = first_hidden_activations(conditional, z, torch.tensor([2, 1, 0]))
    assert torch.equal(a[1], b[1]) and not torch.equal(a[0], b[0])


def test_directions_change_the_image(generator, directions):
    explorer = LatentExplorer(generator, directions, seed=3)
    before = explorer.render()
    explorer.set_sliders(offsets=[3.0])
    assert (explorer.render() != before).any()
    explorer.set_sliders(offsets=[0.0])
    assert np.array_equal(explorer.render(), before)


def test_directions_round_trip_through_npz_without_pickle(tmp_path, directions):
    path = save_directions(directions, tmp_path / "d.npz", source_mtime=123.0)
    with np.load(path, allow_pickle=False) as data:
        assert data["directions"].dtype == np.float32
    loaded = load_directions(path, noise_dim=16, k=4, source_mtime=123.0)
    assert torch.equal(loaded.directions, directions.directions) and loaded.layer == directions.layer
    assert load_directions(path, noise_dim=16, k=4, source_mtime=999.0) is None  # checkpoint changed since
    assert load_directions(path, noise_dim=32, k=4, source_mtime=123.0) is None  # another model
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert load_directions(tmp_path / "bad.npz", noise_dim=16, k=4, source_mtime=123.0) is None


# -- the explorer -----------------------------------------------------------------------------
def test_render_is_deterministic_and_crisp(generator, directions):
    a, b = LatentExplorer(generator, directions, seed=7), LatentExplorer(generator, directions, seed=7)
    picture = a.render(scale=10)
    assert picture.shape == (280, 280) and picture.dtype == np.uint8
    assert np.array_equal(picture, b.render(scale=10))
    assert np.array_equal(picture[::10, ::10], a.render())  # nearest neighbour: blocks of 10x10
    assert not np.array_equal(a.render(), LatentExplorer(generator, directions, seed=8).render())


def test_sliders_set_dims_truncation_and_reset_undoes_them(generator, directions):
    explorer = LatentExplorer(generator, directions, seed=2, num_dims=4)
    start = explorer.latent().clone()
    explorer.set_sliders(dims=[1.5, -2.0], offsets=[1.0, 0, 0, 0], truncation=0.5)
    expected = start.clone()
    expected[:2] = torch.tensor([1.5, -2.0])
    expected = (expected + directions.directions[0]) * 0.5
    assert torch.allclose(explorer.latent(), expected, atol=1e-6)
    assert explorer.dim_values()[:2] == [1.5, -2.0]
    explorer.reset()
    assert torch.equal(explorer.latent(), start) and explorer.truncation == 1.0


def test_all_classes_strip_uses_one_latent_for_every_class():
    explorer = LatentExplorer(make_generator(classes=5), seed=1)
    images = explorer.all_classes()
    assert images.shape == (5, 1, 28, 28) and images.dtype == np.uint8
    for k in range(5):
        assert np.array_equal(images[k, 0], explorer.render(label=k))
    assert strip(images, scale=2).shape == (2 * 32, 2 * (5 * 30 + 2))
    with pytest.raises(ValueError, match="0..4"):
        explorer.set_label(5)
    with pytest.raises(ValueError, match="unconditional"):
        LatentExplorer(make_generator()).all_classes()


def test_interpolation_images_and_gif(generator):
    explorer = LatentExplorer(generator, seed=0)
    frames = explorer.interpolation(explorer.noise(0), explorer.noise(1), 6, "spherical")
    assert frames.shape == (6, 1, 28, 28)
    assert np.array_equal(frames[0, 0], explorer.render())
    gif = Image.open(io.BytesIO(gif_bytes(frames, scale=2)))
    assert gif.format == "GIF" and gif.n_frames == 10 and gif.size == (56, 56)  # 6 forth, 4 back


def test_two_dimensional_generators_are_refused_clearly():
    toy = Generator(GeneratorConfig(arch="mlp", data_shape=(2,), noise_dim=4))
    with pytest.raises(ValueError, match="2D points"):
        LatentExplorer(toy)


def test_single_threaded_restores_the_thread_count():
    before = torch.get_num_threads()
    with latent.single_threaded, latent.single_threaded:
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# -- nearest training images ------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_subset():
    from ganlab.data.images import load_image_dataset

    data = load_image_dataset("mnist", "train")
    return data.images[:400].numpy(), data.labels[:400].numpy()


def test_a_training_image_is_its_own_nearest_neighbour_in_pixel_space(mnist_subset):
    images, labels = mnist_subset
    index = build_neighbour_index(images, labels)
    assert index.space == "pixels"
    found, distances = index.query(images[[17, 250]], k=5)
    assert found[:, 0].tolist() == [17, 250] and np.allclose(distances[:, 0], 0)
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_a_training_image_is_its_own_nearest_neighbour_in_classifier_space(mnist_subset):
    from ganlab.metrics.classifier import Classifier, ClassifierConfig

    torch.manual_seed(0)
    classifier = Classifier(ClassifierConfig(widths=(4, 8), feature_dim=8)).eval()
    images, labels = mnist_subset
    index = build_neighbour_index(images, labels, classifier=classifier)
    assert index.space == "classifier features" and index.features.shape == (400, 8)
    found, distances = index.query(images[[3]], k=3)
    assert found[0, 0] == 3 and distances[0, 0] == pytest.approx(0, abs=1e-4)


def test_missing_classifier_falls_back_to_pixels_and_says_so(monkeypatch):
    import ganlab.metrics.classifier as classifier_module

    def missing(name):
        raise CheckpointError(f"no checkpoint at {name!r}")

    monkeypatch.setattr(classifier_module, "load_classifier", missing)
    index = latent.neighbour_index_for_dataset("mnist")
    assert index.space == "pixels" and "could not be loaded" in index.note and "pixels" in index.note
    assert len(index.images) == 8000


# -- the cache --------------------------------------------------------------------------------
def test_cache_loads_once_writes_directions_beside_the_checkpoint_and_notices_new_weights(tmp_path):
    cache = LatentCache(k=3, n_samples=300)
    folder = save_model(make_generator(), tmp_path / "g", metadata={"dataset": "mnist"})
    first = cache.load(folder)
    assert cache.load(folder) is first and first.dataset == "mnist"
    assert (folder / latent.DIRECTIONS_FILE).is_file()
    # A fresh cache reads the stored directions instead of recomputing them.
    again = LatentCache(k=3, n_samples=300).load(folder)
    assert torch.equal(again.directions.directions, first.directions.directions)
    # Saving new weights under the same name is noticed (the key holds the file's mtime).
    weights = folder / "model.safetensors"
    save_model(make_generator(seed=1), folder)
    stat = weights.stat()
    import os

    os.utime(weights, (stat.st_atime, stat.st_mtime + 10))
    assert cache.load(folder) is not first


def test_cache_builds_each_neighbour_index_once(monkeypatch, mnist_subset):
    calls = []

    def build(dataset):
        calls.append(dataset)
        return build_neighbour_index(*mnist_subset)

    monkeypatch.setattr(latent, "neighbour_index_for_dataset", build)
    cache = LatentCache()
    assert cache.neighbours("mnist") is cache.neighbours("mnist")
    assert calls == ["mnist"]


def test_cache_refuses_corrupt_checkpoints_with_the_reason(tmp_path):
    folder = save_model(make_generator(), tmp_path / "g")
    document = json.loads((folder / "config.json").read_text())
    document["config"]["noise_dim"] = 32
    (folder / "config.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="does not match"):
        LatentCache().load(folder)


def test_uniform_noise_sliders_stay_in_range():
    torch.manual_seed(0)
    g = Generator(
        GeneratorConfig(arch="dcgan", data_shape=(1, 28, 28), noise_dim=8, width=8, noise_distribution="uniform")
    ).eval()
    explorer = LatentExplorer(g, seed=4)
    assert explorer.dim_range == 1.0 and all(abs(v) <= 1 for v in explorer.dim_values())
    assert latent.prior_std(g) == pytest.approx(1 / math.sqrt(3))

"""k-means clusters and the unconditional models that train on them (ganlab.clusters)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from ganlab.checkpoints import CheckpointError, load_model
from ganlab.checkpoints.run import load_run, save_run
from ganlab.clusters import cluster_features, cluster_images, deskew, effective_k, kmeans, nearest_neighbours
from ganlab.data.errors import DataError
from ganlab.data.images import load_mnist
from ganlab.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from ganlab.presets import default_config
from ganlab.sampling import generate, generate_images, proportional_labels
from ganlab.training import Trainer


def blob_images(per_blob: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of three kinds (a bright left half, a bright top half, a bright centre) with pixel noise."""
    rng = torch.Generator().manual_seed(seed)
    shapes = torch.zeros(3, 1, 28, 28)
    shapes[0, :, :, :14] = 1
    shapes[1, :, :14, :] = 1
    shapes[2, :, 8:20, 8:20] = 1
    kinds = torch.arange(3).repeat_interleave(per_blob)
    noisy = shapes[kinds] * 200 + torch.rand(len(kinds), 1, 28, 28, generator=rng) * 55
    return noisy.to(torch.uint8), kinds


def test_kmeans_finds_well_separated_groups():
    images, kinds = blob_images()
    clusters = cluster_images(images, 3, seed=0)
    assert clusters.k == 3 and clusters.assignments.shape == (120,)
    # Every kind lands in one cluster of its own (whatever the cluster's number).
    for kind in range(3):
        assert len(set(clusters.assignments[kinds == kind].tolist())) == 1
    assert len(set(clusters.assignments.tolist())) == 3
    assert clusters.prior == pytest.approx([1 / 3] * 3)


def test_clusters_are_deterministic_for_a_seed():
    images = load_mnist("train").images[:2000]
    a, b = cluster_images(images, 10, seed=3), cluster_images(images, 10, seed=3)
    assert torch.equal(a.assignments, b.assignments) and a.prior == b.prior
    assert sum(a.prior) == pytest.approx(1.0)


def test_kmeans_lowers_the_within_cluster_spread_below_random_centres():
    features = cluster_features(load_mnist("train").images[:1000])
    assert features.shape == (1000, 14 * 14)  # 2x pooled pixels
    centres = kmeans(features, 8, seed=0)
    fitted = torch.cdist(features, centres).min(1).values.pow(2).mean()
    random_centres = features[torch.randperm(1000, generator=torch.Generator().manual_seed(1))[:8]]
    assert fitted < 0.9 * torch.cdist(features, random_centres).min(1).values.pow(2).mean()


def slanted_bar(slant: float, shift: int = 0) -> torch.Tensor:
    """A 1-pixel-wide vertical bar sheared by ``slant`` pixels per row, moved ``shift`` pixels right."""
    image = torch.zeros(1, 28, 28)
    for row in range(4, 24):
        column = round(13.5 + shift + slant * (row - 13.5))
        image[0, row, column] = 1.0
    return image


def test_deskew_stands_slanted_strokes_upright_and_centres_them():
    images = torch.stack([slanted_bar(0.0), slanted_bar(0.4), slanted_bar(-0.3, shift=5)])
    upright = deskew(images)
    assert upright.shape == images.shape
    ink_by_column = upright[:, 0].sum(1)  # (3, 28): where each image's ink is, column by column
    for image in ink_by_column:
        # All the ink ends up in the two middle columns, whatever the slant or position.
        assert image[12:16].sum() > 0.85 * image.sum()
    assert ink_by_column[1, 12:16].sum() < 2 * ink_by_column[1].max()  # not smeared across columns
    blank = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    assert torch.equal(deskew(blank), torch.zeros(1, 1, 28, 28))


def test_nearest_neighbours_in_chunks_match_the_full_distance_matrix():
    features = torch.randn(300, 5, generator=torch.Generator().manual_seed(0))
    distances, indices = nearest_neighbours(features, 4, chunk=64)
    full = torch.cdist(features, features).fill_diagonal_(float("inf"))
    expected_distances, expected_indices = full.topk(4, dim=1, largest=False)
    assert torch.allclose(distances, expected_distances) and torch.equal(indices, expected_indices)
    assert not (indices == torch.arange(300)[:, None]).any()  # nobody is its own neighbour


def purity(assignments: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of images whose cluster's most common label is theirs."""
    return sum(int(torch.bincount(labels[assignments == c]).max()) for c in assignments.unique()) / len(labels)


def test_spectral_clusters_follow_the_digits_more_closely_than_kmeans():
    mnist = load_mnist("train")
    pick = torch.randperm(len(mnist.images), generator=torch.Generator().manual_seed(0))[:3000]  # stored by class
    images, labels = mnist.images[pick], mnist.labels[pick]  # labels only to score the clusters
    spectral = cluster_images(images, 15, seed=0, method="spectral")
    kmeans_clusters = cluster_images(images, 15, seed=0)
    assert spectral.k == 15 and spectral.assignments.shape == (3000,) and sum(spectral.prior) == pytest.approx(1)
    assert spectral.centres.shape == (15, 14 * 14)  # each cluster's mean (deskewed) pooled pixels
    # Measured on these 3,000 digits: spectral about 0.9, k-means on pixels about 0.67.
    assert purity(spectral.assignments, labels) > 0.85
    assert purity(spectral.assignments, labels) > purity(kmeans_clusters.assignments, labels) + 0.1
    again = cluster_images(images, 15, seed=0, method="spectral")
    assert torch.equal(again.assignments, spectral.assignments)  # deterministic for a seed
    with pytest.raises(ValueError, match="cluster method"):
        cluster_images(images, 15, method="agglomerative")


def test_effective_k_needs_enough_images_per_cluster():
    assert effective_k(50, 8000) == 50
    assert effective_k(50, 200) == 10  # 20 images per cluster at least
    assert effective_k(50, 30) == 0  # too few to cluster: the model stays plainly unconditional


def test_projection_discriminator_starts_as_the_unconditional_one_and_needs_labels():
    torch.manual_seed(0)
    plain = Discriminator(DiscriminatorConfig(arch="dcgan", data_shape=(1, 28, 28), width=8))
    torch.manual_seed(0)
    projected = Discriminator(
        DiscriminatorConfig(arch="dcgan", data_shape=(1, 28, 28), width=8, num_classes=5, conditioning="projection")
    )
    x = torch.randn(6, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    plain.eval(), projected.eval()
    # The class embedding starts at zero, and the body has the plain model's shape (no class channels).
    assert torch.allclose(projected(x, labels), plain(x))
    with torch.no_grad():
        projected.class_projection.weight[1].fill_(0.01)
    changed = projected(x, labels) != plain(x)
    assert changed.tolist() == [False, True, False, False, False, False]
    with pytest.raises(ValueError, match="class label"):
        projected(x)
    with pytest.raises(ValueError, match="conditioning"):
        DiscriminatorConfig(arch="dcgan", data_shape=(1, 28, 28), conditioning="magic")


def test_cluster_generator_samples_clusters_by_their_share():
    config = GeneratorConfig(
        arch="dcgan", data_shape=(1, 28, 28), noise_dim=4, width=4, num_classes=3, cluster_prior=[0.7, 0.0, 0.3]
    )
    generator = Generator(config)
    assert config.clustered and not config.conditional and config.num_classes == 3
    labels = generator.sample_labels(5000, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(labels, minlength=3)
    assert counts[1] == 0 and abs(counts[0] / 5000 - 0.7) < 0.03
    _, drawn = generate(generator, 300, seed=1)  # samples hold the clusters in exact proportion
    assert drawn is not None and torch.bincount(drawn, minlength=3).tolist() == [210, 0, 90]
    _, chosen = generate(generator, 4, labels=2, seed=1)  # a cluster can still be picked
    assert chosen.tolist() == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="cluster_prior"):
        GeneratorConfig(num_classes=3, cluster_prior=[0.5, 0.5])
    with pytest.raises(ValueError, match="cluster_prior"):
        GeneratorConfig(num_classes=2, cluster_prior=[0.9, 0.9])


def test_proportional_labels_give_each_class_its_share_by_largest_remainders_in_random_order():
    shares = [0.5, 0.3, 0.15, 0.05]
    labels = proportional_labels(7, shares, generator=torch.Generator().manual_seed(0))
    # Quotas 3.5, 2.1, 1.05, 0.35: floors 3, 2, 1, 0 and the one left over goes to the largest remainder.
    assert torch.bincount(labels, minlength=4).tolist() == [4, 2, 1, 0]
    many = proportional_labels(2000, shares, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(many).tolist() == [1000, 600, 300, 100]
    assert many[:1000].tolist() != sorted(many[:1000].tolist())  # shuffled, not in blocks
    again = proportional_labels(2000, shares, generator=torch.Generator().manual_seed(0))
    assert torch.equal(many, again)
    assert len(proportional_labels(3, [1.0, 1.0, 1.0, 1.0])) == 3  # unnormalised shares, n below the classes


@pytest.mark.parametrize("method", ["kmeans", "spectral"])
def test_the_unconditional_dcgan_trains_on_clusters_without_labels(tmp_path, method):
    mnist = load_mnist("train")
    unlabelled = dataclasses.replace(mnist, labels=None, class_names=[])  # prove no label is read
    config = default_config("mnist", "dcgan", batch_size=16, width=8, noise_dim=8, clusters=12, cluster_method=method)
    trainer = Trainer(config, unlabelled)
    assert trainer.clusters is not None and trainer.clusters.k == 12
    assert trainer.generator.config.clustered and trainer.discriminator.config.conditioning == "projection"
    assert trainer.stream.num_classes == 12
    list(trainer.run(max_steps=3))
    save_run(trainer, tmp_path)
    assert (tmp_path / "clusters.safetensors").is_file()
    saved = load_model(tmp_path, kind="generator")
    assert saved.config.clustered and len(saved.config.cluster_prior) == 12
    images, clusters = generate_images(saved, 8, seed=0)
    assert images.shape == (8, 1, 28, 28) and clusters is not None
    resumed = load_run(tmp_path, unlabelled)
    assert torch.equal(resumed.clusters.assignments, trainer.clusters.assignments)
    assert torch.equal(resumed.sample(5), trainer.sample(5))
    list(resumed.run(max_steps=2))
    assert resumed.step_count == 5


def test_a_damaged_or_foreign_cluster_file_is_refused(tmp_path):
    data = load_mnist("train")
    trainer = Trainer(default_config("mnist", "dcgan", batch_size=8, width=4, noise_dim=4, clusters=4), data)
    save_run(trainer, tmp_path)
    fewer = dataclasses.replace(data, images=data.images[:500], labels=data.labels[:500])
    with pytest.raises(DataError, match="not the data the run was trained on"):
        load_run(tmp_path, fewer)
    (tmp_path / "clusters.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run(tmp_path, data)


def test_cluster_settings_are_checked():
    with pytest.raises(ValueError, match="clusters are for the unconditional"):
        default_config("mnist", "cdcgan", clusters=10)
    with pytest.raises(ValueError, match="clusters must be"):
        default_config("mnist", "dcgan", clusters=1)
    with pytest.raises(ValueError, match="'auto' is for 2D points"):
        default_config("mnist", "dcgan", clusters="auto")
    with pytest.raises(ValueError, match="clusters must be"):
        default_config("ring8", clusters="many")
    with pytest.raises(ValueError, match="cluster method must be"):
        default_config("mnist", "dcgan", cluster_method="dbscan")
    with pytest.raises(ValueError, match="spectral clustering is for images"):
        default_config("ring8", cluster_method="spectral")
    assert default_config("mnist", "dcgan").clusters == 50
    assert default_config("mnist").clusters == 0  # the labelled default keeps its real classes
    assert default_config("ring8").clusters == "auto"
    assert default_config("ring8", clusters=0).width == 128  # the plain GAN keeps its own measured shape


def test_a_tiny_folder_trains_plainly_unconditional():
    images, _ = blob_images(per_blob=10)  # 30 images: too few for even two clusters of 20
    folder = dataclasses.replace(load_mnist("train"), images=images, labels=None, class_names=[], name="folder")
    trainer = Trainer(default_config("folder", batch_size=8, width=4, noise_dim=4), folder)
    assert trainer.clusters is None and not trainer.generator.config.num_classes
    list(trainer.run(max_steps=2))


def test_cli_samples_of_a_cluster_model_are_unconditional_and_a_cluster_can_be_picked(tmp_path, capsys):
    from ganlab.__main__ import main

    trainer = Trainer(default_config("mnist", "dcgan", batch_size=8, width=4, noise_dim=4, clusters=6))
    save_run(trainer, tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert len(config["config"]["cluster_prior"]) == 6
    assert main(["sample", str(tmp_path / "run"), "--n", "12", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as arrays:  # the CLI contract of an unconditional model: images only
        assert set(arrays.files) == {"images"} and arrays["images"].shape == (12, 28, 28)
    assert main(["sample", str(tmp_path / "run"), "--n", "3", "--label", "2", "--out", str(tmp_path / "c")]) == 0
    assert main(["sample", str(tmp_path / "run"), "--n", "3", "--label", "6", "--out", str(tmp_path / "c")]) == 2
    assert "between 0 and 5" in capsys.readouterr().err

"""The domain classifier: preprocessing, save/load, extraction, and the shipped checkpoints."""

import numpy as np
import pytest
import torch

from ganlab.checkpoints import SHIPPED_DIR, load_model, read_config, save_model
from ganlab.metrics.classifier import (
    Classifier,
    ClassifierConfig,
    classifier_name,
    extract,
    load_classifier,
    preprocess,
)


def test_preprocess_maps_uint8_to_minus_one_one_and_adds_the_channel():
    images = np.array([[[0, 255], [128, 51]]], dtype=np.uint8)  # (1, 2, 2)
    x = preprocess(images, channels=1, size=2)
    assert x.shape == (1, 1, 2, 2) and x.dtype == torch.float32
    assert x.flatten().tolist() == pytest.approx([-1.0, 1.0, 128 / 127.5 - 1, 51 / 127.5 - 1], abs=1e-6)


def test_preprocess_refuses_floats_and_wrong_shapes_with_a_clear_message():
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((2, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        preprocess(np.zeros((2, 3, 28, 28), dtype=np.uint8))


def test_save_load_round_trip_gives_identical_features(tmp_path):
    torch.manual_seed(0)
    config = ClassifierConfig(
        widths=(8, 16), convs_per_block=1, feature_dim=12, dataset="fashion-mnist", class_names=[f"c{i}" for i in range(10)]
    )
    model = Classifier(config).eval()
    save_model(model, tmp_path / "clf", metadata={"heldout_accuracy": 0.5})
    loaded = load_model(tmp_path / "clf", kind="classifier")
    assert isinstance(loaded, Classifier) and loaded.config == config
    images = np.random.default_rng(0).integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    features, probs = extract(model, images, batch_size=3)
    features2, probs2 = extract(loaded, images)
    assert features.shape == (7, 12) and probs.shape == (7, 10) and features.dtype == np.float64
    np.testing.assert_allclose(features, features2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    assert read_config(tmp_path / "clf")["metadata"]["heldout_accuracy"] == 0.5


def test_classifier_name_for_each_dataset():
    assert classifier_name("mnist") == "mnist-classifier"
    assert classifier_name("Fashion_MNIST") == "fashion-mnist-classifier"
    with pytest.raises(ValueError, match="no domain classifier"):
        classifier_name("cifar10")


@pytest.mark.parametrize(("dataset", "minimum"), [("mnist", 0.97), ("fashion-mnist", 0.88)])
def test_shipped_classifier_is_accurate_on_held_out_images(dataset, minimum):
    from ganlab.data.images import DataError, load_image_dataset

    folder = SHIPPED_DIR / classifier_name(dataset)
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{folder} is not trained yet (scripts/train_classifier.py)")
    try:
        heldout = load_image_dataset(dataset, "heldout", download=False)
    except DataError as error:
        pytest.skip(f"{dataset} is not available here: {error}")
    classifier = load_classifier(dataset)
    assert classifier is load_classifier(classifier_name(dataset))  # cached
    assert classifier.config.dataset == dataset and not classifier.training
    # 500 random held-out images (the bundled MNIST is stored sorted by class).
    pick = np.random.default_rng(0).choice(len(heldout), 500, replace=False)
    _, probs = extract(classifier, heldout.images[pick])
    accuracy = (probs.argmax(1) == heldout.labels[pick].numpy()).mean()
    assert accuracy >= minimum
    metadata = read_config(folder)["metadata"]
    assert metadata["dataset"] == dataset and metadata["heldout_accuracy"] >= minimum
    assert (folder / "README.md").is_file()
    assert (folder / "model.safetensors").stat().st_size < 3_000_000

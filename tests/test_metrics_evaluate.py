"""evaluate_images / evaluate_checkpoint on real MNIST digits (no trained generator needed)."""

import json

import numpy as np
import pytest
import torch

from ganlab.checkpoints import SHIPPED_DIR, save_model
from ganlab.data.images import load_mnist
from ganlab.metrics.classifier import Classifier, ClassifierConfig
from ganlab.metrics.evaluate import evaluate_checkpoint, evaluate_images
from ganlab.metrics.memorization import memorization, nearest_training_distances

N = 200


@pytest.fixture(scope="module")
def mnist():
    return load_mnist("train", download=False), load_mnist("heldout", download=False)


@pytest.fixture(scope="module")
def random_classifier():
    torch.manual_seed(0)
    return Classifier(ClassifierConfig(widths=(8, 16), convs_per_block=1, feature_dim=16)).eval()


def _shipped_mnist_classifier():
    if not (SHIPPED_DIR / "mnist-classifier" / "model.safetensors").is_file():
        pytest.skip("the shipped MNIST classifier is not trained yet (scripts/train_classifier.py)")
    from ganlab.metrics.classifier import load_classifier

    return load_classifier("mnist")


def _random_train_subset(train, n, seed=0):
    # The bundled set is stored sorted by class: take a random subset, not the first n.
    pick = np.random.default_rng(seed).choice(len(train), n, replace=False)
    return train.images[pick].numpy(), train.labels[pick].numpy()


def test_real_digits_look_like_the_reference_and_noise_does_not(mnist):
    classifier = _shipped_mnist_classifier()
    train, heldout = mnist
    real, _ = _random_train_subset(train, N, seed=1)  # training digits standing in for a perfect generator
    noise = np.random.default_rng(0).integers(0, 256, size=(N, 1, 28, 28), dtype=np.uint8)
    args = (heldout.images.numpy(), train.images.numpy(), classifier)
    good = evaluate_images(real, *args)
    bad = evaluate_images(noise, *args)
    assert good.n == N and [row.metric for row in good.rows][:3] == ["FID", "KID", "Inception Score"]
    assert bad["FID"].generated.value > 10 * good["FID"].generated.value
    assert bad["C2ST accuracy"].generated.value > 0.95
    assert bad["precision"].generated.value < 0.05 and good["precision"].generated.value > 0.6
    # The reference row does not depend on the generated images.
    assert good["FID"].reference.value == bad["FID"].reference.value
    assert "biased upward" in good["FID"].generated.warning  # small N is flagged


def test_report_table_and_json(mnist, random_classifier):
    # An untrained classifier is still a fixed feature map: enough to check the plumbing quickly.
    train, heldout = mnist
    images, labels = _random_train_subset(train, N)
    steps = []
    report = evaluate_images(
        images,
        heldout.images.numpy(),
        train.images.numpy(),
        random_classifier,
        generated_labels=labels,
        heldout_labels=heldout.labels.numpy(),
        train_labels=train.labels.numpy(),
        progress=lambda f, m: steps.append(f),
    )
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
    table = report.to_table()
    for text in (
        "FID",
        "KID",
        "precision",
        "coverage",
        "C2ST",
        "label accuracy",
        "class-conditional FID",
        "memorization",
        "real reference",
        "200",
    ):
        assert text in table
    data = json.loads(json.dumps(report.to_dict()))
    assert data["n"] == N and data["rows"][0]["generated"]["n"] == N
    assert set(data["details"]["label_accuracy_per_class"]["generated"]) == {str(d) for d in range(10)}


def test_reference_only_report_has_no_generated_column(mnist, random_classifier):
    train, heldout = mnist
    report = evaluate_images(
        None,
        heldout.images.numpy(),
        train.images.numpy(),
        random_classifier,
        heldout_labels=heldout.labels.numpy(),
        train_labels=train.labels.numpy(),
        n=N,
    )
    assert report.n == N and all(row.generated is None for row in report.rows)
    metrics = [row.metric for row in report.rows]
    assert "label accuracy" in metrics and "class-conditional FID" in metrics
    # Held-out and training digits come from one distribution: C2ST near chance, even on random features.
    assert abs(report["C2ST accuracy"].reference.value - 0.5) < 0.15


def test_memorization_flags_copies_of_training_images(mnist):
    train, heldout = mnist
    copies = train.images[:300].numpy()
    distances = nearest_training_distances(copies, train.images)
    assert distances.max() == 0.0  # each copy finds itself
    real = nearest_training_distances(heldout.images[:300], train.images)
    assert 3.0 < np.median(real) < 10.0  # pixel distances in [0, 1] units between different digits
    generated, reference = memorization(distances, real)
    assert generated.details["share_closer_than_threshold"] == 1.0
    assert "memorization" in generated.warning
    assert reference.details["share_closer_than_threshold"] == pytest.approx(0.01, abs=0.01)


def test_evaluate_checkpoint_end_to_end(tmp_path):
    _shipped_mnist_classifier()
    from ganlab.models import Generator, GeneratorConfig

    torch.manual_seed(0)
    config = GeneratorConfig(
        arch="mlp",
        data_shape=(1, 28, 28),
        noise_dim=8,
        num_classes=10,
        width=32,
        depth=1,
        class_names=[str(d) for d in range(10)],
    )
    save_model(Generator(config), tmp_path / "g", metadata={"dataset": "mnist"})
    fractions = []
    report = evaluate_checkpoint(tmp_path / "g", n=100, progress=lambda f, m: fractions.append(f))
    assert report.n == 100 and fractions[-1] == 1.0
    # An untrained generator makes noise: far from the data, labels at chance.
    assert report["FID"].generated.value > 10 * report["FID"].reference.value
    assert report["label accuracy"].generated.value < 0.4
    assert report["label accuracy"].reference.value > 0.9  # the classifier on held-out digits


def test_evaluate_checkpoint_caps_n_at_the_held_out_size(tmp_path, monkeypatch):
    _shipped_mnist_classifier()
    import ganlab.metrics.evaluate as evaluate_module
    from ganlab.metrics.evaluate import EvaluationReport
    from ganlab.models import Generator, GeneratorConfig

    save_model(
        Generator(GeneratorConfig(data_shape=(1, 28, 28), width=8, depth=1)), tmp_path / "g", metadata={"dataset": "mnist"}
    )
    seen = {}

    def fake_evaluate_images(generated, heldout, train, classifier, **kw):  # skip the metrics themselves
        seen.update(generated=len(generated), heldout=len(heldout), labels=kw["generated_labels"])
        return EvaluationReport("t", "mnist", len(generated), [], ["note"])

    monkeypatch.setattr(evaluate_module, "evaluate_images", fake_evaluate_images)
    report = evaluate_checkpoint(tmp_path / "g", n=5000)
    assert seen == {"generated": 2000, "heldout": 2000, "labels": None}  # unconditional: no labels
    assert "capped at 2,000" in report.notes[0]


def test_a_conditional_model_is_evaluated_with_its_classes_as_often_as_the_training_data_has_them(tmp_path, monkeypatch):
    _shipped_mnist_classifier()
    import ganlab.metrics.evaluate as evaluate_module
    from ganlab.data.images import load_image_dataset
    from ganlab.metrics.evaluate import EvaluationReport
    from ganlab.models import Generator, GeneratorConfig

    config = GeneratorConfig(data_shape=(1, 28, 28), width=8, depth=1, num_classes=10, class_names=[str(d) for d in range(10)])
    save_model(Generator(config), tmp_path / "g", metadata={"dataset": "mnist"})
    seen = {}

    def fake_evaluate_images(generated, heldout, train, classifier, **kw):
        seen["labels"] = kw["generated_labels"]
        return EvaluationReport("t", "mnist", len(generated), [], [])

    monkeypatch.setattr(evaluate_module, "evaluate_images", fake_evaluate_images)
    evaluate_checkpoint(tmp_path / "g", n=1000)
    train_counts = np.bincount(load_image_dataset("mnist", "train").labels.numpy(), minlength=10)
    expected = train_counts / train_counts.sum() * 1000
    counts = np.bincount(seen["labels"], minlength=10)
    assert counts.sum() == 1000 and np.all(np.abs(counts - expected) < 1)  # exact shares, not balanced
    assert counts.min() != counts.max()  # MNIST's classes are not equally common


def test_evaluate_checkpoint_needs_the_dataset_in_metadata(tmp_path):
    from ganlab.models import Generator, GeneratorConfig

    save_model(Generator(GeneratorConfig(data_shape=(1, 28, 28))), tmp_path / "g", metadata={})
    with pytest.raises(ValueError, match="dataset"):
        evaluate_checkpoint(tmp_path / "g", n=100)

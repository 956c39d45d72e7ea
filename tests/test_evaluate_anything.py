"""`ganlab evaluate` on images in files (.npz, folders, zips), with a classifier of your own or Inception."""

import json
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn

import ganlab.metrics.evaluate as evaluate_module
from ganlab.__main__ import main
from ganlab.metrics.inception import InceptionFeatures, load_inception

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_classifier.py"


def draw_shapes(folder: Path, per_class: int, seed: int, classes=("circle", "square")) -> Path:
    """White circles and squares of random size and place on black, one subfolder per class."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = Image.new("L", (28, 28), 0)
            r = int(rng.integers(5, 10))
            x, y = (int(v) for v in rng.integers(r + 1, 27 - r, size=2))
            draw = ImageDraw.Draw(image)
            (draw.ellipse if name == "circle" else draw.rectangle)([x - r, y - r, x + r, y + r], fill=255)
            image.save(folder / name / f"{i}.png")
    return folder


def report_of(capsys, argv) -> dict:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Training shapes, other real shapes, and a domain classifier trained on the first by the script."""
    root = tmp_path_factory.mktemp("shapes")
    train = draw_shapes(root / "train", 24, seed=0)
    real = draw_shapes(root / "real", 15, seed=1)
    train_classifier = runpy.run_path(str(SCRIPT), run_name="train_classifier")["main"]
    argv = [
        "--data-folder",
        str(train),
        "--out",
        str(root / "classifier"),
        "--epochs",
        "3",
        "--widths",
        "8",
        "16",
        "--feature-dim",
        "8",
        "--threads",
        "1",
    ]
    assert train_classifier(argv) == 0
    return root, real, root / "classifier"


def test_a_sample_npz_is_evaluated_against_mnist_with_its_labels(tmp_path, capsys):
    samples = tmp_path / "digits.npz"
    assert main(["sample", "mnist-cdcgan", "--n", "200", "--out", str(samples)]) == 0
    report = report_of(capsys, ["evaluate", str(samples), "--against", "mnist"])
    rows = {row["metric"]: row for row in report["rows"]}
    assert report["n"] == 200 and report["dataset"] == "mnist" and report["details"]["conditional"]
    assert rows["label accuracy"]["generated"]["value"] > 0.9  # the shipped model draws the digits asked for
    assert rows["FID"]["generated"]["value"] < 5 * rows["FID"]["reference"]["value"] + 1
    # Without --against, 28x28 images are compared with the dataset they are nearest to in pixels.
    report = report_of(capsys, ["evaluate", str(samples), "--n", "50"])
    assert report["dataset"] == "mnist" and any(note.startswith("compared with mnist") for note in report["notes"])


def test_a_classifier_trained_on_a_class_folder_measures_folders_of_images(shapes, tmp_path, capsys):
    root, real, classifier = shapes
    config = json.loads((classifier / "config.json").read_text())
    assert config["config"]["class_names"] == ["circle", "square"] and config["config"]["dataset"] == "train"
    assert (classifier / "model.safetensors").is_file() and not list(classifier.glob("*.pt*"))  # never pickle
    generated = draw_shapes(tmp_path / "generated", 10, seed=2)
    noise = tmp_path / "noise"
    noise.mkdir()
    rng = np.random.default_rng(3)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(noise / f"{i}.png")

    good = report_of(capsys, ["evaluate", str(generated), "--against", str(real), "--classifier", str(classifier)])
    assert good["n"] == 15 and good["details"]["features"] == str(classifier)
    assert "split at random into halves of 15" in good["notes"][0]
    assert {"FID", "KID", "Inception Score", "precision", "recall"} <= {row["metric"] for row in good["rows"]}
    archive = tmp_path / "noise.zip"  # a .zip of images works as a folder does
    with zipfile.ZipFile(archive, "w") as zf:
        for file in noise.iterdir():
            zf.write(file, file.name)
    bad = report_of(capsys, ["evaluate", str(archive), "--against", str(real), "--classifier", str(classifier)])
    fid = {
        name: next(r for r in report["rows"] if r["metric"] == "FID")["generated"]["value"]
        for name, report in (("good", good), ("bad", bad))
    }
    assert fid["bad"] > 3 * fid["good"]


def test_train_classifier_needs_class_subfolders(tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(6):
        Image.new("L", (28, 28), i * 40).save(flat / f"{i}.png")
    train_classifier = runpy.run_path(str(SCRIPT), run_name="train_classifier")["main"]
    assert train_classifier(["--data-folder", str(flat), "--epochs", "1"]) == 1
    assert "one subfolder per class" in capsys.readouterr().err


def test_inception_offline_is_one_clear_error_without_touching_the_network(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache, whatever this machine holds

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download with GANLAB_OFFLINE=1")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    folder = draw_shapes(tmp_path / "images", 10, seed=0)
    assert main(["evaluate", str(folder), "--against", str(folder), "--features", "inception"]) == 1
    err = capsys.readouterr().err
    assert "Inception-v3 weights are not in" in err and "GANLAB_OFFLINE=1" in err and "--classifier" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    # A cached file that is not the weights says so, rather than failing somewhere deep in torch.
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / "inception_v3_google-0cc3c7bd.pth").write_bytes(b"not weights")
    with pytest.raises(RuntimeError, match="not a readable Inception-v3 weights file"):
        load_inception()


class TinyNetwork(nn.Module):
    """Stands in for Inception-v3 (same interface: a .fc head over pooled features), in milliseconds."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 5, stride=8)
        self.fc = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def test_inception_features_run_on_any_image_size_and_feed_every_metric(tmp_path, capsys, monkeypatch):
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    real_network = InceptionFeatures(inception_v3(weights=None, aux_logits=False, init_weights=False), ["x"] * 1000)
    grey = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    features, probs = real_network.extract(grey)
    assert features.shape == (2, 2048) and probs.shape == (2, 1000) and np.allclose(probs.sum(1), 1)

    tiny = InceptionFeatures(TinyNetwork(), [f"class {i}" for i in range(5)])
    tiny.config.feature_dim = 16
    monkeypatch.setattr(evaluate_module, "load_inception", lambda: tiny)
    generated = draw_shapes(tmp_path / "generated", 10, seed=2)
    real = draw_shapes(tmp_path / "real", 12, seed=1)
    # Two folders and no classifier: Inception is the default.
    report = report_of(capsys, ["evaluate", str(generated), "--against", str(real)])
    assert report["details"]["features"] == "inception" and report["n"] == 12
    assert any("ImageNet Inception-v3" in note for note in report["notes"])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.mkdir(), "no readable images in"),
        (lambda p: np.savez(p.with_suffix(".npz"), points=np.zeros((5, 2))), "has no 'images' array"),
        (lambda p: np.savez(p.with_suffix(".npz"), images=np.zeros((5, 28, 28))), "'images' is float64"),
        (lambda p: p.with_suffix(".npz").write_text("junk"), "not a readable .npz file"),
    ],
)
def test_bad_inputs_are_one_clear_line_with_exit_status_1(make, message, tmp_path, capsys):
    path = tmp_path / "input"
    make(path)
    source = path if path.exists() else path.with_suffix(".npz")
    assert main(["evaluate", str(source), "--against", "mnist"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_mismatched_sets_and_flags_are_refused(shapes, tmp_path, capsys):
    root, real, classifier = shapes
    rgb = tmp_path / "rgb.npz"
    np.savez(rgb, images=np.zeros((20, 32, 32, 3), dtype=np.uint8))
    assert main(["evaluate", str(rgb), "--against", "mnist"]) == 1
    assert "3x32x32" in capsys.readouterr().err
    assert main(["evaluate", str(rgb), "--against", str(real), "--classifier", str(classifier)]) == 1
    assert "takes 1x28x28 images" in capsys.readouterr().err  # real is read at the .npz's size, 32x32 RGB
    assert main(["evaluate", str(real)]) == 1
    assert "say what to compare" in capsys.readouterr().err
    assert main(["evaluate", "mnist-cdcgan", "--against", "mnist"]) == 2  # a checkpoint knows its dataset
    assert main(["evaluate", "no/such/thing"]) == 1
    assert "nothing to evaluate at 'no/such/thing'" in capsys.readouterr().err

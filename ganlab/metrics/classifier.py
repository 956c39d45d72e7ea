"""The domain classifier: a small CNN whose features stand in for Inception's in FID, KID, IS, ...

Inception-v3 was trained on 299x299 photos; on 28x28 digits its features say little, and its
weights cannot be downloaded here anyway. So ganlab trains one small CNN per dataset
(scripts/train_classifier.py) and ships it in checkpoints/<dataset>-classifier/.

Every image, real or generated, reaches the network through ``preprocess``: uint8 pixels in,
floats in [-1, 1] out. Generated images are first quantised to uint8 by
``ganlab.sampling.generate_images``, exactly like real ones, so no metric can tell the two apart
by their number format.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Which shipped checkpoint measures which dataset.
CLASSIFIER_FOR_DATASET = {"mnist": "mnist-classifier", "fashion-mnist": "fashion-mnist-classifier"}


@dataclass
class ClassifierConfig:
    in_channels: int = 1
    image_size: int = 28
    num_classes: int = 10
    widths: tuple[int, ...] = (32, 64, 128)  # channels of each conv block; each block halves the size
    convs_per_block: int = 2
    feature_dim: int = 64  # size of the penultimate layer: the features FID & co. are computed on
    dropout: float = 0.3
    dataset: str = "mnist"
    class_names: list[str] = field(default_factory=lambda: [str(d) for d in range(10)])

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)  # JSON gives lists back
        if self.num_classes != len(self.class_names):
            raise ValueError(f"num_classes is {self.num_classes} but {len(self.class_names)} class names were given")
        if self.image_size >> len(self.widths) < 1:
            raise ValueError(f"{len(self.widths)} blocks halve a {self.image_size}px image to nothing")


class Classifier(nn.Module):
    """conv blocks -> flatten -> linear (features) -> ReLU -> dropout -> linear (logits).

    A block is ``convs_per_block`` x (3x3 conv, batch norm, ReLU) followed by 2x2 max pooling.
    ``features`` returns the penultimate layer *before* its ReLU: continuous, roughly Gaussian
    per coordinate, and without dead (always-zero) units that would make covariances singular.
    """

    KIND = "classifier"
    Config = ClassifierConfig

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = config.in_channels
        for width in config.widths:
            for _ in range(config.convs_per_block):
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers, nn.Flatten())
        side = config.image_size >> len(config.widths)
        self.embed = nn.Linear(channels * side * side, config.feature_dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(config.feature_dim, config.num_classes))
        # One number that scales the features so that their mean square on the training images is
        # 1 (set by ``calibrate_features`` after training). KID's kernel (x.y / D + 1)^3 assumes
        # features of that size; FID and the k-NN metrics only change by a constant factor.
        self.register_buffer("feature_scale", torch.ones(1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, feature_dim) of preprocessed images (N, C, H, W)."""
        return self.embed(self.body(x)) * self.feature_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes) of preprocessed images."""
        return self.head(self.embed(self.body(x)))

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits from the output of ``features`` (undoing the feature scale)."""
        return self.head(features / self.feature_scale)

    @torch.no_grad()
    def calibrate_features(self, images: np.ndarray | torch.Tensor, batch_size: int = 500) -> float:
        """Set ``feature_scale`` so that the mean squared feature of these uint8 images is 1."""
        was_training = self.training
        self.eval()
        x = self.preprocess(images)
        total = 0.0
        for start in range(0, len(x), batch_size):
            total += float(self.embed(self.body(x[start : start + batch_size])).double().pow(2).sum())
        self.feature_scale.fill_((total / (len(x) * self.config.feature_dim)) ** -0.5)
        self.train(was_training)
        return float(self.feature_scale)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=1)

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, H, W) or (N, H, W) -> float32 (N, C, H, W) in [-1, 1] for this network."""
        return preprocess(images, channels=self.config.in_channels, size=self.config.image_size)


def preprocess(images: np.ndarray | torch.Tensor, *, channels: int = 1, size: int = 28) -> torch.Tensor:
    """The one path from pixels to network input: uint8 in [0, 255] -> float32 in [-1, 1].

    Only uint8 is accepted so that real and generated images are quantised the same way; convert
    generator outputs with ``ganlab.sampling.generate_images`` (or ``ganlab.imaging.to_uint8``).
    """
    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8:
        raise ValueError(
            f"the classifier takes uint8 images (0-255), got {tensor.dtype}; quantise generator output "
            "with ganlab.sampling.generate_images or ganlab.imaging.to_uint8 first"
        )
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 4 or tuple(tensor.shape[1:]) != (channels, size, size):
        raise ValueError(
            f"the classifier takes images of shape (N, {channels}, {size}, {size}) or (N, {size}, {size}); "
            f"got {tuple(torch.as_tensor(images).shape)}"
        )
    return tensor.float().div(127.5).sub(1.0)


def classifier_name(dataset: str) -> str:
    """The shipped classifier checkpoint for a dataset name ("mnist", "fashion-mnist")."""
    key = dataset.strip().lower().replace("_", "-")
    if key not in CLASSIFIER_FOR_DATASET:
        raise ValueError(
            f"no domain classifier for dataset {dataset!r}; metrics on images need one of: {', '.join(CLASSIFIER_FOR_DATASET)}"
        )
    return CLASSIFIER_FOR_DATASET[key]


def load_classifier(name_or_path: str | Path) -> Classifier:
    """A shipped classifier by name ("mnist-classifier"), dataset ("mnist") or folder; cached, eval mode.

    The cached model is shared between callers: use it for inference only.
    """
    from ganlab.checkpoints import resolve_checkpoint  # here: checkpoints imports model modules

    key = str(name_or_path)
    if key.strip().lower().replace("_", "-") in CLASSIFIER_FOR_DATASET:
        key = classifier_name(key)
    return _load_cached(str(resolve_checkpoint(key).resolve()))


@functools.lru_cache(maxsize=4)
def _load_cached(folder: str) -> Classifier:
    from ganlab.checkpoints import load_model

    model = load_model(folder, device="cpu", kind="classifier")
    if not isinstance(model, Classifier):
        raise ValueError(f"{folder} holds a {type(model).__name__}, not a ganlab Classifier")
    return model


@torch.inference_mode()
def extract(
    classifier: Classifier,
    images: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, feature_dim) and class probabilities (N, K), both float64, of uint8 images."""
    x = classifier.preprocess(images)
    if classifier.training:
        raise ValueError("the classifier is in training mode; call .eval() before extracting features")
    device = next(classifier.parameters()).device
    features, probs = [], []
    for start in range(0, len(x), batch_size):
        f = classifier.features(x[start : start + batch_size].to(device))
        features.append(f.double().cpu())
        probs.append(torch.softmax(classifier.logits_from_features(f).double(), dim=1).cpu())
    if not features:
        return np.zeros((0, classifier.config.feature_dim)), np.zeros((0, classifier.config.num_classes))
    return torch.cat(features).numpy(), torch.cat(probs).numpy()

"""The training images nearest to a generated one (split out of ``ganlab.latent``).

``NeighbourIndex`` searches the domain classifier's feature space (``ganlab.metrics.classifier``), or
pixel space when no classifier exists; ``neighbour_index_for_dataset`` builds one for a dataset's
training split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class NeighbourIndex:
    """Training images and their feature vectors, searched by Euclidean distance."""

    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray | None
    features: np.ndarray  # (N, D) float32
    space: str  # "classifier features" | "pixels"
    note: str = ""
    classifier: Any = None  # the ganlab Classifier that made ``features``, if any
    class_names: list[str] = field(default_factory=list)

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Features (M, D) of uint8 images (M, C, H, W), in this index's space."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[:, None]
        if images.shape[1:] != self.images.shape[1:]:
            raise ValueError(
                f"images of shape {images.shape[1:]} cannot be compared with training images of shape {self.images.shape[1:]}"
            )
        if self.classifier is None:
            return images.reshape(len(images), -1).astype(np.float32) / 255  # pixels in [0, 1]
        from ganlab.metrics.classifier import extract

        return extract(self.classifier, images)[0].astype(np.float32)

    def query(self, images: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Indices and distances (M, k) of the k nearest training images of each query, nearest first."""
        queries = self.embed(images)
        k = min(k, len(self.features))
        indices, distances = [], []
        for q in queries:
            # Direct differences (not the |a|^2 + |b|^2 - 2ab shortcut) so an exact copy scores 0.
            d = np.sqrt(((self.features - q) ** 2).sum(axis=1, dtype=np.float64))
            order = np.argpartition(d, k - 1)[:k] if k < len(d) else np.arange(len(d))
            order = order[np.argsort(d[order], kind="stable")]
            indices.append(order)
            distances.append(d[order])
        return np.stack(indices), np.stack(distances)


def build_neighbour_index(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    classifier: Any = None,
    note: str = "",
    class_names: Sequence[str] = (),
) -> NeighbourIndex:
    """Compute the features of every training image once (classifier features, else raw pixels)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) == 0:
        raise ValueError(f"training images must be a non-empty uint8 array (N, C, H, W); got {images.dtype} {images.shape}")
    index = NeighbourIndex(images, labels, np.zeros((0, 0), np.float32), "pixels", note, classifier, list(class_names))
    if classifier is not None:
        index.space = "classifier features"
    index.features = index.embed(images)
    return index


def neighbour_index_for_dataset(dataset: str) -> NeighbourIndex:
    """The training split of ``dataset`` ("mnist", "fashion-mnist"), searched in classifier space.

    Falls back to pixel space, saying so in ``note``, when the dataset's classifier checkpoint is
    not installed or cannot be read.
    """
    from ganlab.checkpoints import CheckpointError
    from ganlab.data.images import load_image_dataset

    data = load_image_dataset(dataset, "train")
    images = data.images.numpy()
    labels = data.labels.numpy() if data.labels is not None else None
    try:
        from ganlab.metrics.classifier import classifier_name, load_classifier

        name = classifier_name(dataset)
        classifier = load_classifier(name)
        note = f"the {name} checkpoint's penultimate features; searched all {len(data):,} training images"
    except (ImportError, CheckpointError, ValueError, OSError) as error:
        classifier = None
        note = (
            f"the {dataset} classifier could not be loaded ({error}), so the distances are between raw "
            "pixels in [0, 1]: less meaningful, since a digit shifted by two pixels looks far away; "
            f"searched all {len(data):,} training images"
        )
    return build_neighbour_index(images, labels, classifier=classifier, note=note, class_names=data.class_names)

"""Datasets: 2D toy distributions, MNIST, Fashion-MNIST and the user's own images; every name in ganlab.data.registry."""

from ganlab.data.errors import DataError
from ganlab.data.images import (
    ImageDataset,
    load_fashion_mnist,
    load_image_dataset,
    load_image_folder,
    load_mnist,
)
from ganlab.data.registry import DATASETS, NAMED_DATASETS, DatasetInfo
from ganlab.data.toy import TOY_DISTRIBUTIONS, ToyDistribution, from_csv, from_points, make_toy, read_points_csv

__all__ = [
    "DATASETS",
    "DataError",
    "DatasetInfo",
    "ImageDataset",
    "TOY_DISTRIBUTIONS",
    "ToyDistribution",
    "from_csv",
    "from_points",
    "load_fashion_mnist",
    "load_image_dataset",
    "load_image_folder",
    "load_mnist",
    "load_training_data",
    "make_toy",
    "read_points_csv",
]


def load_training_data(name: str) -> ToyDistribution | ImageDataset:
    """The data a dataset name refers to: a toy distribution, or the training split of an image set."""
    info = DATASETS.get(name)
    if info is None:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(NAMED_DATASETS)}")
    if not info.by_name:
        raise DataError(f"{name!r} is {info.description}: it cannot be loaded by name; give the data itself")
    if info.kind == "points":
        return make_toy(name)
    return load_image_dataset(name, "train")

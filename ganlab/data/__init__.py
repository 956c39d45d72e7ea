"""Datasets: 2D toy distributions, MNIST, Fashion-MNIST and the user's own images."""

from ganlab.data.errors import DataError
from ganlab.data.images import (
    ImageDataset,
    load_fashion_mnist,
    load_image_dataset,
    load_image_folder,
    load_mnist,
)
from ganlab.data.toy import TOY_DISTRIBUTIONS, ToyDistribution, from_csv, from_points, make_toy, read_points_csv

__all__ = [
    "DataError",
    "ImageDataset",
    "TOY_DISTRIBUTIONS",
    "ToyDistribution",
    "from_csv",
    "from_points",
    "load_fashion_mnist",
    "load_image_dataset",
    "load_image_folder",
    "load_mnist",
    "make_toy",
    "read_points_csv",
]

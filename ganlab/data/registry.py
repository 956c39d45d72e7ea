"""Every dataset ganlab knows, by name: what it is (ganlab.data.load_training_data loads those found by name).

    points   the 2D toys (ring8, grid25, moons, ...: ``TOY_DISTRIBUTIONS`` in ganlab/data/toy.py, where a
             new toy is added) and "custom", a person's own points (drawn in the app, or a CSV)
    images   "mnist" and "fashion-mnist", labelled and with a held-out split (the reference of the image
             metrics and the quiz), and "folder", a person's own images (a folder or a .zip)

A person's own data cannot be found again by its name, so a run saves it (ganlab.checkpoints.run).
The CLI's ``train --dataset`` choices, the config's checks, the presets, the run files, the metrics and
the quiz read the names from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.data.toy import TOY_DISTRIBUTIONS, make_toy


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, before any of it is loaded."""

    name: str
    kind: str  # "points" (2D) or "images"
    title: str  # what people call it, e.g. "MNIST", "Ring of 8 Gaussians"
    description: str  # one line for people
    labelled: bool = False  # every example has a class label: the conditional models' default data
    heldout: bool = False  # a held-out split of real examples: the reference of the image metrics and the quiz
    by_name: bool = True  # loaded by its name; False for a person's own data, which the run keeps


def _toy(name: str) -> DatasetInfo:
    toy = make_toy(name)
    return DatasetInfo(name=name, kind="points", title=toy.title, description=toy.description)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        *(_toy(name) for name in TOY_DISTRIBUTIONS),
        DatasetInfo(
            name="custom",
            kind="points",
            title="Your own points",
            description="your own 2D points, drawn in the app or read from a CSV of x,y (--points-csv)",
            by_name=False,
        ),
        DatasetInfo(
            name="mnist",
            kind="images",
            title="MNIST",
            description="handwritten digits 0-9, 1x28x28, 10 classes",
            labelled=True,
            heldout=True,
        ),
        DatasetInfo(
            name="fashion-mnist",
            kind="images",
            title="Fashion-MNIST",
            description="photos of clothing, 1x28x28, 10 classes",
            labelled=True,
            heldout=True,
        ),
        DatasetInfo(
            name="folder",
            kind="images",
            title="Image folder",
            description="your own images from a folder or a .zip, subfolders become classes (--data-folder)",
            by_name=False,
        ),
    )
}
TOY_DATASETS = tuple(name for name, info in DATASETS.items() if info.kind == "points" and info.by_name)
IMAGE_DATASETS = tuple(name for name, info in DATASETS.items() if info.kind == "images" and info.by_name)
NAMED_DATASETS = (*TOY_DATASETS, *IMAGE_DATASETS)  # found again by name: what `train --dataset` accepts
HELDOUT_DATASETS = tuple(name for name, info in DATASETS.items() if info.heldout)


def kind_of(name: str) -> str | None:
    """The kind of a dataset, "points" or "images"; None for a name the registry does not know."""
    info = DATASETS.get(name)
    return info.kind if info else None

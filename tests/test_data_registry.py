import argparse

import pytest

from ganlab.__main__ import build_parser
from ganlab.data import DataError, ToyDistribution, load_training_data
from ganlab.data.images import ImageDataset, load_image_dataset
from ganlab.data.registry import (
    DATASETS,
    HELDOUT_DATASETS,
    IMAGE_DATASETS,
    NAMED_DATASETS,
    TOY_DATASETS,
    kind_of,
)
from ganlab.data.toy import TOY_DISTRIBUTIONS


def _cli_dataset_choices() -> list[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train = commands.choices["train"]
    return list(next(a for a in train._actions if a.dest == "dataset").choices)


def test_every_name_the_cli_trains_on_is_in_the_registry_and_loads_or_says_why():
    choices = _cli_dataset_choices()
    assert choices == list(NAMED_DATASETS)
    for name in choices:
        info = DATASETS[name]
        assert info.by_name and info.description
        try:
            data = load_training_data(name)
        except DataError as error:  # e.g. Fashion-MNIST not installed: the message says what to do
            assert info.kind == "images" and name.lower() in str(error).lower().replace("_", "-"), error
            continue
        assert isinstance(data, ToyDistribution if info.kind == "points" else ImageDataset), name
        if isinstance(data, ImageDataset):
            assert data.split == "train" and data.name == name and (data.labels is not None) == info.labelled


def test_the_toys_are_those_of_toy_py_and_every_image_set_has_a_loader():
    assert TOY_DATASETS == tuple(TOY_DISTRIBUTIONS)
    assert IMAGE_DATASETS == ("mnist", "fashion-mnist") and HELDOUT_DATASETS == IMAGE_DATASETS
    assert {kind_of(name) for name in DATASETS} == {"points", "images"} and kind_of("nope") is None
    assert all(info.title and info.description for info in DATASETS.values())
    assert DATASETS["ring8"].title == "Ring of 8 Gaussians" and DATASETS["mnist"].title == "MNIST"
    assert load_image_dataset("mnist", "heldout").split == "heldout"  # held-out split: the metrics' reference


@pytest.mark.parametrize(("name", "flag"), [("custom", "--points-csv"), ("folder", "--data-folder")])
def test_own_data_is_in_the_registry_but_not_loaded_by_name(name, flag):
    assert not DATASETS[name].by_name and name not in NAMED_DATASETS
    with pytest.raises(DataError, match=f"'{name}' is your own .*{flag}.*cannot be loaded by name"):
        load_training_data(name)


def test_an_unknown_name_lists_the_choices():
    with pytest.raises(DataError, match="unknown dataset 'nope'; choose one of ring8, .*mnist, fashion-mnist"):
        load_training_data("nope")

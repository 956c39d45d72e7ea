"""Differentiable augmentation of what D sees (ganlab.augment) and the trainer's use of it."""

import json

import numpy as np
import pytest
import torch

from ganlab.__main__ import main
from ganlab.augment import cutout, diff_augment, translate
from ganlab.checkpoints.run import load_run
from ganlab.data.toy import from_points
from ganlab.presets import default_config
from ganlab.training import Trainer


def dots(n: int = 16, size: int = 28) -> torch.Tensor:
    """Black images (-1) with one white pixel in the middle."""
    images = torch.full((n, 1, size, size), -1.0)
    images[:, :, size // 2, size // 2] = 1.0
    return images


def test_translation_moves_each_image_by_at_most_an_eighth_of_its_side():
    images = dots(64)
    shifted = translate(images, generator=torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    bright = shifted[:, 0] > 0
    assert (bright.flatten(1).sum(1) == 1).all()  # the dot is moved, not lost or copied
    rows, cols = bright.nonzero()[:, 1], bright.nonzero()[:, 2]
    assert (rows - 14).abs().max() <= 4 and (cols - 14).abs().max() <= 4  # 28 / 8 = 3.5 -> 4 pixels
    offsets = set(zip(rows.tolist(), cols.tolist(), strict=True))
    assert len(offsets) > 10  # every image gets its own shift
    # The border repeats the edge pixels: black images stay black, nothing new comes in.
    assert set(shifted.unique().tolist()) == {-1.0, 1.0}


def test_cutout_blanks_one_square_of_half_the_side_per_image():
    images = torch.ones(200, 1, 28, 28)
    cut = cutout(images, generator=torch.Generator().manual_seed(0))
    blanked = (cut == 0).flatten(1).sum(1)
    assert blanked.max() == 14 * 14  # a whole square when it lies inside the image
    assert blanked.min() > 0 and (blanked < 14 * 14).any()  # partly outside near the edges
    assert ((cut == 0) | (cut == 1)).all()
    rows = (cut[:, 0] == 0).any(2)  # the blanked rows of each image are one run
    for image_rows in rows:
        index = image_rows.nonzero().flatten()
        assert (index.diff() == 1).all()


def test_augmentation_is_differentiable_and_seeded():
    images = torch.randn(8, 1, 28, 28, requires_grad=True)
    first = diff_augment(images, generator=torch.Generator().manual_seed(3))
    again = diff_augment(images, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    first.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0  # G still learns through it


def test_the_trainer_shows_d_augmented_images_when_asked(tmp_path):
    config = default_config("mnist", "dcgan", batch_size=8, width=8, noise_dim=8, clusters=0, augment=True)
    trainer = Trainer(config)
    seen = []
    hook = trainer.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    real, _ = trainer.stream.next_batch(8)
    trainer.stream._cursor -= 8  # the next step trains on this very batch
    trainer.step()
    hook.remove()
    assert not torch.equal(seen[0], real)  # D's real input is the batch shifted and cut out
    assert (seen[0] == 0).flatten(1).sum(1).min() > 0  # every image has its cut-out square
    plain = Trainer(default_config("mnist", "dcgan", batch_size=8, width=8, noise_dim=8, clusters=0))
    assert not plain.config.augment


def test_augmentation_is_for_images_and_is_saved_with_the_run(tmp_path):
    with pytest.raises(ValueError, match="augmentation is for images"):
        default_config("ring8", augment=True)
    with pytest.raises(ValueError, match="augmentation is for images"):  # user points, checked on the data
        Trainer(default_config("custom", augment=True), from_points(np.random.default_rng(0).normal(size=(100, 2))))
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                "mnist",
                "--model",
                "dcgan",
                "--augment",
                "--clusters",
                "0",
                "--width",
                "8",
                "--batch-size",
                "8",
                "--steps",
                "2",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert json.loads((run / "run.json").read_text())["config"]["augment"] is True
    assert load_run(run).config.augment

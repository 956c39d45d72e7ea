import numpy as np
import pytest
import torch

from ganlab.data.errors import DataError
from ganlab.losses import OBJECTIVES
from ganlab.plots import GanLabFigure, points_figure
from ganlab.presets import default_config
from ganlab.training import Trainer
from ganlab.views2d import (
    compute_view,
    discriminator_heatmap,
    drawing_to_points,
    eval_mode,
    generator_gradients,
    generator_manifold,
    grid_points,
    heat_reading,
    mode_metrics,
)


def small_trainer(**overrides) -> Trainer:
    return Trainer(default_config("ring8", width=32, batch_size=128, **{"clusters": 0, **overrides}))


@pytest.fixture(scope="module")
def trained_d():
    """A trainer whose D has learned to tell the ring from G's (untrained) points: D moves only."""
    trainer = small_trainer(lr_d=5e-3)
    for _ in range(150):
        trainer.step_discriminator()
    return trainer


def nearest_cells(heat: np.ndarray, bounds, points: np.ndarray) -> np.ndarray:
    xmin, xmax, ymin, ymax = bounds
    r = heat.shape[0]
    cols = np.clip(((points[:, 0] - xmin) / (xmax - xmin) * r).astype(int), 0, r - 1)
    rows = np.clip(((points[:, 1] - ymin) / (ymax - ymin) * r).astype(int), 0, r - 1)
    return heat[rows, cols]


def distance_to_data(points: np.ndarray, modes: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, None] - modes[None]) ** 2).sum(-1)).min(1)


def test_grid_points_cover_the_bounds_row_major_from_ymin():
    points = grid_points((-1, 1, -2, 2), resolution=4)
    assert points.shape == (16, 2)
    assert np.allclose(points[0], [-0.75, -1.5]) and np.allclose(points[-1], [0.75, 1.5])
    assert np.allclose(points[1], [-0.25, -1.5])  # x varies fastest along a row


def test_heatmap_shape_and_d_is_higher_on_real_than_on_generated(trained_d):
    bounds = trained_d.data.bounds()
    heat = discriminator_heatmap(trained_d.discriminator, bounds, 48, trained_d.objective)
    assert heat.shape == (48, 48) and np.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() <= 1  # read as a probability for the non-saturating loss
    real = trained_d.data.sample_numpy(500, seed=1)
    with torch.no_grad():
        fake = trained_d.generator(trained_d.generator.sample_noise(500)).numpy()
    assert nearest_cells(heat, bounds, real).mean() > nearest_cells(heat, bounds, fake).mean() + 0.2


def test_heatmap_without_objective_is_raw_logits(trained_d):
    logits = discriminator_heatmap(trained_d.discriminator, trained_d.data.bounds(), 8)
    probs = discriminator_heatmap(trained_d.discriminator, trained_d.data.bounds(), 8, trained_d.objective)
    assert np.allclose(1 / (1 + np.exp(-logits)), probs, atol=1e-5)


def test_gradient_arrows_point_towards_the_data_after_training(trained_d):
    with torch.no_grad():
        fake = trained_d.generator(trained_d.generator.sample_noise(300, generator=torch.Generator().manual_seed(3)))
    grads_before = [None if p.grad is None else p.grad.clone() for p in trained_d.discriminator.parameters()]
    arrows = generator_gradients(trained_d.discriminator, trained_d.objective, fake)
    assert arrows.shape == (300, 2) and np.isfinite(arrows).all()
    # A small move of every point along its arrow brings the generated points closer to the data.
    points = fake.numpy()
    unit = arrows / (np.linalg.norm(arrows, axis=1, keepdims=True) + 1e-12)
    before = distance_to_data(points, trained_d.data.modes)
    after = distance_to_data(points + 0.05 * unit, trained_d.data.modes)
    assert after.mean() < before.mean() - 0.01  # >= 0.2 of the step goes towards the data on average
    assert (after < before).mean() > 0.6
    # Looking must not change the gradients stored on D's weights.
    for before_grad, p in zip(grads_before, trained_d.discriminator.parameters(), strict=True):
        assert (before_grad is None and p.grad is None) or torch.equal(before_grad, p.grad)


def test_minimax_arrows_vanish_where_non_saturating_ones_do_not(trained_d):
    far_from_data = torch.zeros(20, 2)  # the ring's centre: D is sure these are fake
    saturating = generator_gradients(trained_d.discriminator, OBJECTIVES["minimax"], far_from_data)
    non_saturating = generator_gradients(trained_d.discriminator, OBJECTIVES["nonsaturating"], far_from_data)
    assert np.linalg.norm(saturating, axis=1).mean() < np.linalg.norm(non_saturating, axis=1).mean()


@pytest.mark.parametrize("noise_dim, lines", [(2, 22), (1, 1), (5, 22)])
def test_manifold_is_a_set_of_polylines_in_data_space(noise_dim, lines):
    trainer = small_trainer(noise_dim=noise_dim)
    polylines, what = generator_manifold(trainer.generator, lines=11, points_per_line=30)
    assert len(polylines) == lines and all(p.shape == (30, 2) for p in polylines)
    assert "G applied to" in what
    if noise_dim > 2:
        assert "other coordinates 0" in what


def test_manifold_of_uniform_noise_stays_in_its_support():
    trainer = small_trainer(noise_distribution="uniform")
    generator = trainer.generator
    polylines, what = generator_manifold(generator, lines=3, points_per_line=5)
    assert "[-1, 1]" in what
    z = torch.tensor([[-1.0, -1.0]])
    with torch.no_grad():
        assert np.allclose(polylines[0][0], generator(z).numpy()[0], atol=1e-6)


def test_eval_mode_restores_the_previous_mode():
    trainer = small_trainer()
    trainer.generator.train()
    with eval_mode(trainer.generator):
        assert not trainer.generator.training
    assert trainer.generator.training


def test_compute_view_bundles_everything_for_the_figure(trained_d):
    real = trained_d.data.sample_numpy(64, seed=2)
    noise = trained_d.generator.sample_noise(40)
    view = compute_view(trained_d, real, noise, resolution=16)
    assert view.heatmap.shape == (16, 16) and view.fake.shape == (40, 2) and view.arrows.shape == (40, 2)
    assert view.real.shape == (64, 2) and len(view.manifold) == 22 and view.step == trained_d.step_count
    assert view.heat_range == (0.0, 1.0) and "probability" in view.heat_label
    assert view.bounds == trained_d.data.bounds()


def test_critic_heat_range_is_centred_on_the_scores():
    heat = np.linspace(3, 7, 100).reshape(10, 10)
    (low, high), label = heat_reading(OBJECTIVES["wgan"], heat)
    assert "critic" in label and low < 5 < high and low >= 2.9 and high <= 7.1


def test_mode_metrics_of_real_data_cover_everything():
    trainer = small_trainer()
    data = trainer.data
    perfect = mode_metrics(data.sample_numpy(4000, seed=5), data)
    assert perfect["modes_covered"] == perfect["num_modes"] == 8
    assert perfect["high_quality"] > 0.95 and perfect["js"] < 0.1
    collapsed = mode_metrics(np.tile(data.modes[:1], (4000, 1)), data)
    assert collapsed["modes_covered"] == 1 and collapsed["js"] > perfect["js"]
    broken = mode_metrics(np.full((10, 2), np.nan), data)
    assert broken["n"] == 0 and broken["modes_covered"] == 0


def test_drawing_becomes_points_with_y_up():
    canvas = np.full((100, 100, 4), 255, np.uint8)
    canvas[..., 3] = 0  # transparent background
    canvas[10:12, 20:80] = (0, 0, 0, 255)  # a stroke near the top
    points = drawing_to_points(canvas, (-2, 2, -2, 2))
    assert len(points) == 120
    assert points[:, 1].min() > 1.4  # top of the canvas = large y
    assert -1.3 < points[:, 0].min() < points[:, 0].max() < 1.2
    grey = np.full((50, 50), 255, np.uint8)
    grey[25, :] = 0
    assert len(drawing_to_points(grey)) == 50
    many = np.zeros((200, 200), np.uint8)
    assert len(drawing_to_points(many, max_points=500)) == 500


def test_an_empty_drawing_is_refused_with_a_message():
    with pytest.raises(DataError, match="drawing is empty"):
        drawing_to_points(np.full((64, 64, 4), 255, np.uint8))
    with pytest.raises(DataError, match="image array"):
        drawing_to_points(np.zeros((2, 2, 2, 2)))


def test_gan_lab_figure_renders_fixed_size_pictures_that_follow_the_view(trained_d):
    real = trained_d.data.sample_numpy(64, seed=2)
    view = compute_view(trained_d, real, trained_d.generator.sample_noise(50), resolution=16)
    drawing = GanLabFigure(view.bounds)
    first = drawing.render(view)
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    view.fake = view.fake + 0.5
    second = drawing.render(view)
    assert second.shape == first.shape and not np.array_equal(first, second)
    assert drawing.axes.get_xlim() == (view.bounds[0], view.bounds[1])  # fixed axes: nothing jumps
    critic = dataclass_copy(view, heat_range=(-3.0, 3.0), heat_label="critic score")
    assert drawing.render(critic).shape == first.shape
    # The step is written above the plot: a later step changes only that label's pixels up there.
    later = drawing.render(dataclass_copy(view, step=view.step + 12345))
    changed_rows = np.nonzero((later != second).any(axis=(1, 2)))[0]
    assert len(changed_rows) and changed_rows.max() < 0.15 * first.shape[0]


def dataclass_copy(view, **changes):
    import dataclasses

    return dataclasses.replace(view, **changes)


def test_points_figure_still_works():
    trainer = small_trainer()
    figure = points_figure(trainer.data, np.zeros((10, 2)))
    assert figure.get_axes()

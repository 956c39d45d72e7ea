"""The training-curves picture (ganlab.curves)."""

from types import SimpleNamespace

import numpy as np

from ganlab.curves import (
    BACKGROUND,
    FAKE_COLOUR,
    REAL_COLOUR,
    Panel,
    Series,
    _layout,
    curves_height,
    draw_curves,
    quality_panels,
    training_panels,
)


def history(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = np.arange(n, dtype=float)
    return {
        "step": steps,
        "d_loss": 1.2 + rng.normal(0, 0.2, n),
        "g_loss": 0.9 + rng.normal(0, 0.2, n),
        "d_real": np.full(n, 0.8),
        "d_fake": np.full(n, 0.2),
        "d_grad_norm": rng.uniform(0.5, 1.5, n),
        "g_grad_norm": np.linspace(3, 0.1, n),
    }


def colour_mask(picture: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return (picture == np.array(colour, dtype=np.uint8)).all(-1)


def panel_rows(index: int, count: int = 3, width: int = 520, height: int = 460) -> slice:
    top, bottom = _layout(count, width, height)[index]
    return slice(top + 1, bottom)


def test_every_panel_shows_both_players_in_their_colours():
    picture = draw_curves(np.arange(200), training_panels(history(200), probability=True))
    assert picture.shape == (460, 520, 3) and picture.dtype == np.uint8
    for index in range(3):
        rows = picture[panel_rows(index)]
        assert colour_mask(rows, REAL_COLOUR).sum() > 100 and colour_mask(rows, FAKE_COLOUR).sum() > 100


def test_probabilities_sit_on_a_fixed_zero_to_one_axis():
    picture = draw_curves(np.arange(300), training_panels(history(300), probability=True))
    top, bottom = _layout(3, 520, 460)[1]
    blue_rows = np.nonzero(colour_mask(picture[top:bottom], REAL_COLOUR).any(1))[0] + top
    red_rows = np.nonzero(colour_mask(picture[top:bottom], FAKE_COLOUR).any(1))[0] + top
    height = bottom - top
    # D(x) = 0.8 is drawn 80% of the way up, D(G(z)) = 0.2 at 20% (the legend swatches are above the box).
    assert abs(np.median(blue_rows) - (bottom - 0.8 * height)) <= 3
    assert abs(np.median(red_rows) - (bottom - 0.2 * height)) <= 3


def test_more_points_than_pixels_show_the_range_not_just_a_thinned_line():
    many = draw_curves(np.arange(5000), training_panels(history(5000), probability=True))
    few = draw_curves(np.arange(100), training_panels(history(100), probability=True))
    faded_red = tuple(int(c * 0.25 + 255 * 0.75) for c in FAKE_COLOUR)
    loss_rows = panel_rows(0)
    assert colour_mask(many[loss_rows], faded_red).sum() > 500  # the noisy G loss spans a band
    assert colour_mask(few[loss_rows], faded_red).sum() == 0


def test_non_finite_values_and_empty_runs_are_drawn_without_error():
    h = history(50)
    h["g_loss"][10:20] = np.nan
    h["d_loss"][:] = np.inf
    picture = draw_curves(h["step"], training_panels(h, probability=False))
    assert picture.shape == (460, 520, 3)
    empty = {name: np.array([]) for name in h}
    blank = draw_curves(empty["step"], training_panels(empty, probability=True))
    plot_area = blank[panel_rows(0), 60:500]
    assert (plot_area == np.array(BACKGROUND, dtype=np.uint8)).all(-1).mean() > 0.95


def test_an_outlier_at_the_start_does_not_flatten_the_rest():
    values = np.concatenate([[1000.0], np.sin(np.linspace(0, 20, 999))])
    panel = Panel("x", (Series("x", values, REAL_COLOUR),))
    picture = draw_curves(np.arange(1000), [panel], width=400, height=200)
    top, bottom = _layout(1, 400, 200)[0]
    rows = np.nonzero(colour_mask(picture[top + 1 : bottom], REAL_COLOUR).any(1))[0]
    assert rows.max() - rows.min() > 0.6 * (bottom - top)  # the sine still fills most of the panel's height


def quality(kind: str, steps: list[float], values: dict[str, list[float]], reference: dict[str, float]):
    """A ganlab.live.quality.QualityHistory as the curves read it."""
    arrays = {name: np.array(v, dtype=float) for name, v in values.items()}
    return SimpleNamespace(
        kind=kind, step=np.array(steps, dtype=float), values=arrays, reference=reference, samples=256, num_modes=8
    )


def quality_picture(q, n: int = 200) -> np.ndarray:
    h = history(n)
    panels = training_panels(h, probability=True) + quality_panels(q, h["step"])
    return draw_curves(h["step"], panels, height=curves_height(len(panels)))


def test_the_quality_panels_sit_under_the_losses_with_the_real_data_line():
    q = quality(
        "images",
        [0, 50, 100, 150, 199],
        {"fid": [400, 50, 8, 3, 2], "inception_score": [1, 3, 6, 8, 9]},
        {"fid": 1.0, "inception_score": 9.5},
    )
    picture = quality_picture(q)
    assert picture.shape == (curves_height(5), 520, 3) and curves_height(3) == 460
    for index in (3, 4):  # FID, then IS: G's samples in red, the real data's value dashed in blue
        rows = picture[panel_rows(index, count=5, height=curves_height(5))]
        assert colour_mask(rows, FAKE_COLOUR).sum() > 100 and colour_mask(rows, REAL_COLOUR).sum() > 50
    # FID on a log axis: 400 -> 2 falls through most of the panel, the last tenfold as visibly as the first.
    top, bottom = _layout(5, 520, curves_height(5))[3]
    red_rows = np.nonzero(colour_mask(picture[top + 1 : bottom], FAKE_COLOUR).any(1))[0]
    assert red_rows.max() - red_rows.min() > 0.6 * (bottom - top)


def test_a_missing_measurement_leaves_a_gap_in_the_quality_curve():
    steps = [0, 40, 80, 120, 160, 199]
    q = quality(
        "2d",
        steps,
        {"modes_covered": [2, 4, np.nan, np.nan, 6, 8], "high_quality": [0.1] * 6},
        {"modes_covered": 8, "high_quality": 0.99},
    )
    picture = quality_picture(q)
    top, bottom = _layout(5, 520, curves_height(5))[3]
    red = colour_mask(picture[top + 1 : bottom], FAKE_COLOUR)
    gap = slice(46 + round(95 / 199 * 463), 46 + round(125 / 199 * 463))  # between the two missing measurements
    assert red[:, gap].sum() == 0 and red[:, 46:60].sum() > 0 and red[:, -60:-10].sum() > 0

"""2D toy metrics: mode coverage, high-quality share, histogram KL/JS, and evaluate_toy."""

import json

import numpy as np
import pytest

from ganlab.data.toy import grid25, ring8
from ganlab.metrics.evaluate import evaluate_toy
from ganlab.metrics.modes import histogram_divergences, mode_coverage


def test_exact_mode_samples_cover_every_mode():
    ring = ring8()
    samples = np.repeat(ring.modes, 10, axis=0)  # 10 samples sitting exactly on each of 8 modes
    covered, high_quality = mode_coverage(samples, ring.modes, ring.std)
    assert covered.value == 8 and covered.details["num_modes"] == 8
    assert high_quality.value == 1.0
    assert list(covered.details["per_mode_counts"]) == [10] * 8


def test_a_collapsed_generator_covers_one_mode():
    ring = ring8()
    samples = ring.modes[3] + np.random.default_rng(0).normal(scale=ring.std, size=(500, 2))
    covered, high_quality = mode_coverage(samples, ring.modes, ring.std)
    assert covered.value == 1
    # In 2D, P(|noise| <= 3 std) = 1 - exp(-9/2) = 0.989.
    assert high_quality.value == pytest.approx(0.989, abs=0.015)


def test_samples_far_from_every_mode_are_low_quality_and_cover_nothing():
    grid = grid25()
    samples = grid.modes[:5] + 1.0  # halfway between modes: 1.0 away, std 0.05 -> 20 std
    covered, high_quality = mode_coverage(samples, grid.modes, grid.std)
    assert covered.value == 0 and high_quality.value == 0.0


def test_min_count_raises_the_bar_for_a_covered_mode():
    ring = ring8()
    samples = np.concatenate([np.repeat(ring.modes[:2], 30, axis=0), ring.modes[2:3]])
    assert mode_coverage(samples, ring.modes, ring.std)[0].value == 3
    assert mode_coverage(samples, ring.modes, ring.std, min_count=20)[0].value == 2


def test_divergences_are_zero_for_identical_samples_and_positive_otherwise():
    x = ring8().sample_numpy(5000, seed=0)
    kl, js = histogram_divergences(x, x)
    assert kl.value == pytest.approx(0.0, abs=1e-12) and js.value == pytest.approx(0.0, abs=1e-12)
    collapsed = np.repeat(x[:1], 5000, axis=0)
    kl_collapsed, js_collapsed = histogram_divergences(x, collapsed)
    assert kl_collapsed.value > 1.0
    assert 0.5 < js_collapsed.value <= np.log(2)
    other = ring8().sample_numpy(5000, seed=1)
    kl_other, js_other = histogram_divergences(x, other)
    assert 0 < js_other.value < js_collapsed.value and 0 < kl_other.value < kl_collapsed.value


def test_samples_thrown_outside_the_grid_count_against_the_generator():
    x = ring8().sample_numpy(2000, seed=0)
    far = x + 100.0  # all outside the data's box: they all land in the one outside bin
    kl_far, js_far = histogram_divergences(x, far)
    assert js_far.value == pytest.approx(np.log(2), rel=0.01)


def test_evaluate_toy_reports_generated_and_reference_rows():
    ring = ring8()
    collapsed = ring.modes[0] + np.random.default_rng(1).normal(scale=ring.std, size=(2000, 2))
    report = evaluate_toy(collapsed, ring)
    assert report["modes covered"].generated.value == 1
    assert report["modes covered"].reference.value == 8
    assert report["JS(data, generated)"].generated.value > 10 * report["JS(data, generated)"].reference.value
    table = report.to_table()
    assert "modes covered" in table and "real reference" in table
    json.dumps(report.to_dict())  # JSON-able

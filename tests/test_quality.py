"""Live quality curves (ganlab/live/quality.py): the numbers, when they are measured, and a live run."""

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from run_helpers import small, wait_until

from ganlab.checkpoints import load_model
from ganlab.curves import curves_height
from ganlab.data.toy import make_toy
from ganlab.imaging import to_uint8
from ganlab.live import RunManager
from ganlab.live.quality import HISTORY_CAP, QualityTracker, has_classifier, image_reference, toy_scores
from ganlab.metrics.classifier import extract
from ganlab.metrics.fid import fid
from ganlab.metrics.inception_score import inception_score
from ganlab.presets import default_config
from ganlab.sampling import generate
from ganlab.training import Trainer


@pytest.fixture(scope="module")
def mnist_reference():
    return image_reference("mnist", 256)


def image_tracker(seed: int = 5, **kw) -> QualityTracker:
    return QualityTracker("images", "mnist", seed=seed, interval_s=kw.pop("interval_s", 1.0), samples=256, **kw)


def test_image_scores_are_the_metrics_modules_on_the_same_fixed_noise(mnist_reference):
    generator = load_model("mnist-dcgan", kind="generator", device="cpu")
    tracker = image_tracker()
    values = tracker.measure(generator, None, mnist_reference)
    samples, _ = generate(generator, 256, seed=tracker.seed)  # the tracker's fixed noise, drawn again
    features, probs = extract(mnist_reference.classifier, to_uint8(samples))
    assert values["fid"] == pytest.approx(fid(features, mnist_reference.real_features).value, rel=1e-9)
    assert values["inception_score"] == pytest.approx(inception_score(probs, splits=1).value, rel=1e-9)
    assert tracker.measure(generator, None, mnist_reference) == values  # fixed noise: the same numbers again


def test_a_trained_generator_scores_near_real_data_and_an_untrained_one_far_from_it(mnist_reference):
    real = mnist_reference.values
    assert real["inception_score"] > 8.5 and 0 < real["fid"] < 5  # ten confidently told digits, close sets
    trained = load_model("mnist-dcgan", kind="generator", device="cpu")
    for seed in (1, 2):
        good = image_tracker(seed).measure(trained, None, mnist_reference)
        fresh = image_tracker(seed).measure(Trainer(default_config("mnist", seed=seed)).output_generator, None, mnist_reference)
        assert good["fid"] < 5 * real["fid"] and good["inception_score"] > 0.8 * real["inception_score"]
        assert fresh["fid"] > 50 * good["fid"] and fresh["inception_score"] < 0.5 * good["inception_score"]


def collapsed_generator(point: np.ndarray) -> torch.nn.Module:
    """A 2D generator whose every output is ``point``: its last layer ignores the noise."""
    generator = Trainer(small(clusters=0)).generator  # unconditional: no clusters to find first
    last = [m for m in generator.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.as_tensor(point, dtype=torch.float32))
    return generator


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_2d_modes_all_covered_by_the_data_and_one_by_a_collapsed_generator(seed):
    data = make_toy("ring8")
    everywhere = toy_scores(data.sample_numpy(1000, seed=seed), data)
    assert everywhere["modes_covered"] == 8 and everywhere["high_quality"] > 0.95
    tracker = QualityTracker("2d", "ring8", seed=seed, interval_s=1.0, samples=1000, num_modes=8)
    collapsed = tracker.measure(collapsed_generator(data.modes[seed]), data)
    assert collapsed == {"modes_covered": 1.0, "high_quality": 1.0}  # perfect points, one mode: the collapse shows
    off = tracker.measure(collapsed_generator(data.modes.mean(0)), data)  # the ring's centre: no mode at all
    assert off["modes_covered"] == 0 and off["high_quality"] == 0


def test_a_diverged_generator_gives_a_gap_not_a_crash(mnist_reference):
    generator = Trainer(default_config("mnist")).output_generator
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.fill_(math.nan)
    tracker = image_tracker()
    values = tracker.measure(generator, None, mnist_reference)
    assert all(math.isnan(v) for v in values.values()) and set(values) == {"fid", "inception_score"}
    tracker.record(10, 1.0, {"fid": 3.0, "inception_score": 5.0}, now=0.0, cost_s=0.0)
    tracker.record(20, 2.0, values, now=1.0, cost_s=0.0)
    history = tracker.history()
    assert np.isnan(history.values["fid"][1]) and history.latest()["fid"] is None  # JSON-friendly gap


def test_measurements_follow_the_clock_not_the_steps():
    tracker = image_tracker(interval_s=5.0)
    assert tracker.due(now=0.0, step=0, running=False)  # a new run is measured once, at its start
    tracker.record(0, 0.0, {"fid": 1.0, "inception_score": 1.0}, now=100.0, cost_s=0.01)
    assert not tracker.due(now=100.0, step=0, running=False)  # standing still: nothing new to measure
    for step in range(1, 500):  # hundreds of steps within the interval: no measurement
        assert not tracker.due(now=100.0 + step * 0.009, step=step, running=True)
    assert tracker.due(now=105.0, step=500, running=True)
    assert not tracker.due(now=105.0, step=0, running=False)  # a paused run measured at its last step waits
    tracker.record(500, 9.0, {"fid": 1.0, "inception_score": 1.0}, now=105.0, cost_s=0.5)
    # A dear measurement (0.5 s) stretches the wait so it stays within 2% of a core: 25 s, not 5.
    assert not tracker.due(now=129.0, step=900, running=True) and tracker.due(now=130.1, step=900, running=True)


def test_the_history_is_bounded_and_keeps_its_whole_span():
    tracker = QualityTracker("2d", "ring8", seed=0, interval_s=1.0, samples=100, num_modes=8, cap=10)
    for i in range(57):
        tracker.record(i * 10, float(i), {"modes_covered": 8.0, "high_quality": 0.9}, now=float(i), cost_s=0.0)
    history = tracker.history()
    assert len(history.step) <= 10 and history.step[0] == 0
    assert history.step[-1] >= 400 and (np.diff(history.step) > 0).all()
    assert tracker.interval_s > 1.0  # fewer points to come, as far apart as those kept
    assert HISTORY_CAP >= 100


def test_only_data_with_a_classifier_gets_image_curves():
    grey = SimpleNamespace(images=torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    colour = SimpleNamespace(images=torch.zeros(4, 3, 32, 32, dtype=torch.uint8))
    assert has_classifier(grey, "mnist") and has_classifier(grey, "fashion_mnist")
    assert not has_classifier(grey, "my-folder") and not has_classifier(colour, "mnist")


def test_the_history_grows_while_a_run_trains_and_the_curves_show_it(tmp_path):
    manager = RunManager(max_trainings=1, quality_interval_s=0.2, preview_dir=tmp_path)
    try:
        manager.start("alice", small())
        assert wait_until(lambda: len(manager.snapshot("alice").quality.step) >= 4)
        time.sleep(0.5)
        snapshot = manager.snapshot("alice")
        quality = snapshot.quality
        assert quality.kind == "2d" and (np.diff(quality.step) >= 0).all()
        assert quality.step[-1] > quality.step[0]  # measured while training, not once
        assert len(quality.step) < snapshot.step / 5  # every few tenths of a second, not every step
        assert quality.reference["modes_covered"] == 8 and quality.reference["high_quality"] > 0.95
        assert snapshot.as_dict()["quality"]["step"] == quality.step[-1]
        preview = manager.preview("alice", force=True)
        assert preview.curves.shape[0] == curves_height(5)  # losses, D's output, norms, then the two quality panels
    finally:
        manager.shutdown()


def test_quality_curves_can_be_turned_off():
    manager = RunManager(max_trainings=1, quality_interval_s=None)
    try:
        manager.create("bob", small())
        assert manager.snapshot("bob").quality is None
        assert manager.preview("bob", force=True).curves.shape[0] == curves_height(3)
    finally:
        manager.shutdown()

"""Live sample quality: how good a run's samples are while it trains, next to what real data scores.

The losses say how the two players are doing against each other, not how good the samples are: a
falling G loss can come with worse samples, and flat losses with better ones. So every few seconds
the run's generator (the output generator, the same weights the sample grid shows) is measured on a
fixed set of noise vectors drawn for the run:

* image runs on MNIST and Fashion-MNIST: the domain classifier's FID (generated vs held-out real images)
  and Inception Score (ganlab.metrics), on ``IMAGE_SAMPLES`` samples; the reference is the real data's
  own FID (held-out vs training images) and IS at the same N, since both move with N;
* 2D runs: modes covered and the high-quality share (ganlab.metrics.modes); the reference is a sample
  of the distribution itself.

Where it runs: one background thread per manager, never in the training loop. It copies G between two
moves (about a millisecond; a run in a worker process sends G's weights, as for a preview) and measures
the copy while training goes on. Not on the preview reader's path: a reader must answer within its tick
(an image measurement takes a few hundred milliseconds), and a run nobody watches has no reader but still
deserves its curve when someone looks again.

What it costs: an image measurement takes about 0.7 ms of one core per sample (G, then the classifier:
~0.2 s for 256 on a 2-core laptop), so each run waits at least ``cost / CPU_SHARE`` between two
measurements (CPU_SHARE = 2% of a core: about every 10 s there), but at least once a minute (a server so
busy that one takes over 1.2 s pays more than 2% for its curves); a 2D measurement takes milliseconds and
comes every ``interval_s``.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ganlab.data.toy import ToyDistribution
from ganlab.imaging import to_uint8
from ganlab.metrics.classifier import CLASSIFIER_FOR_DATASET, Classifier, extract, load_classifier
from ganlab.metrics.fid import fid
from ganlab.metrics.inception_score import inception_score
from ganlab.metrics.modes import mode_coverage
from ganlab.models import Generator
from ganlab.sampling import generate

log = logging.getLogger(__name__)

IMAGE_SAMPLES = 256  # a few hundred: FID is biased up at this N, but so is the real line drawn beside it
TOY_SAMPLES = 1000  # 2D points are cheap: enough that an uncovered mode is not bad luck
CPU_SHARE = 0.02  # at most this share of one core per run, on average
MAX_INTERVAL_S = 60.0  # however slow the machine, a curve point at least every minute
HISTORY_CAP = 200  # measurements kept; beyond, every other one is dropped and the interval doubles

IMAGE_METRICS = ("fid", "inception_score")
TOY_METRICS = ("modes_covered", "high_quality")


@dataclass(frozen=True)
class QualityHistory:
    """A reader's copy of a run's quality measurements (RunSnapshot.quality)."""

    kind: str  # "images" | "2d"
    step: np.ndarray  # the G step each measurement was made at
    wall_time: np.ndarray  # training seconds at that step
    values: dict[str, np.ndarray]  # metric -> one value per measurement (NaN: G gave non-finite samples)
    reference: dict[str, float]  # metric -> the real data's own value at the same N (empty until measured)
    samples: int  # N per measurement
    num_modes: int = 0  # 2D: the distribution's modes

    def latest(self) -> dict[str, float | None]:
        """The last measurement (JSON-friendly: None for a gap)."""
        if not len(self.step):
            return {}
        last = {name: float(values[-1]) for name, values in self.values.items()}
        last["step"] = float(self.step[-1])
        return {k: (v if math.isfinite(v) else None) for k, v in last.items()}


@dataclass(frozen=True)
class ImageReference:
    """What an image run's measurements are compared with: the classifier and the real data at N samples."""

    classifier: Classifier
    real_features: np.ndarray  # N held-out real images' features: FID's other side
    values: dict[str, float]  # the real data's own FID (held-out vs training) and IS


def image_reference(dataset: str, n: int = IMAGE_SAMPLES, seed: int = 0) -> ImageReference:
    """The classifier of ``dataset`` and the real data's scores at ``n`` samples (fixed random subsets)."""
    from ganlab.data.images import load_image_dataset

    classifier = load_classifier(dataset)
    rng = np.random.default_rng(seed)
    heldout = load_image_dataset(dataset, "heldout").images.numpy()
    train = load_image_dataset(dataset, "train").images.numpy()
    heldout_features, heldout_probs = extract(classifier, heldout[rng.choice(len(heldout), n, replace=False)])
    train_features, _ = extract(classifier, train[rng.choice(len(train), n, replace=False)])
    values = {
        "fid": fid(train_features, heldout_features).value,
        "inception_score": inception_score(heldout_probs, splits=1).value,
    }
    return ImageReference(classifier, heldout_features, values)


def image_scores(images: np.ndarray, reference: ImageReference) -> dict[str, float]:
    """FID against the held-out images and IS of uint8 images (N, C, H, W), as ganlab.metrics computes them."""
    features, probs = extract(reference.classifier, images)
    # One split: with a few hundred samples, ten splits would estimate p(y) from a few dozen each.
    return {"fid": fid(features, reference.real_features).value, "inception_score": inception_score(probs, splits=1).value}


def toy_scores(points: np.ndarray, data: ToyDistribution) -> dict[str, float]:
    """Modes covered and the high-quality share of 2D points (N, 2)."""
    covered, quality = mode_coverage(points, data.modes, data.std)
    return {"modes_covered": float(covered.value), "high_quality": float(quality.value)}


def has_classifier(data: Any, dataset: str) -> bool:
    """Whether image data can be measured: a shipped classifier for its dataset, for images of its shape."""
    key = dataset.strip().lower().replace("_", "-")
    if key not in CLASSIFIER_FOR_DATASET or getattr(data, "images", None) is None:
        return False
    return tuple(data.images.shape[1:]) == (1, 28, 28)  # both shipped classifiers read 28x28 grey images


class QualityTracker:
    """One run's quality measurements: when the next is due, the fixed noise's seed, a bounded history."""

    def __init__(
        self, kind: str, dataset: str, *, seed: int, interval_s: float, samples: int, num_modes: int = 0, cap: int = HISTORY_CAP
    ) -> None:
        self.kind = kind
        self.dataset = dataset
        self.seed = seed  # generate() draws the same noise (and labels) from it every time: fixed noise
        self.interval_s = interval_s
        self.samples = samples
        self.num_modes = num_modes
        self.cap = cap
        self.names = IMAGE_METRICS if kind == "images" else TOY_METRICS
        self.lock = threading.Lock()
        self.rows: list[tuple[float, ...]] = []  # (step, wall_time, *values)
        self.reference: dict[str, float] = {}
        self.next_at = -math.inf  # monotonic time of the next measurement
        self.last_step: int | None = None

    @classmethod
    def for_trainer(cls, trainer: Any, interval_s: float) -> QualityTracker | None:
        """A tracker for the trainer's run; None when its data has nothing to be measured with (own images)."""
        seed = trainer.config.seed + 202  # a noise stream of its own: measuring never changes the training
        if isinstance(trainer.data, ToyDistribution):
            return cls(
                "2d", trainer.data.name, seed=seed, interval_s=interval_s, samples=TOY_SAMPLES, num_modes=trainer.data.num_modes
            )
        if has_classifier(trainer.data, trainer.config.dataset):
            return cls("images", trainer.config.dataset, seed=seed, interval_s=interval_s, samples=IMAGE_SAMPLES)
        return None

    def due(self, now: float, step: int, running: bool) -> bool:
        """A measurement is due every ``interval_s`` while training; a run that stands still is measured once."""
        return now >= self.next_at and (running or step != self.last_step)

    def measure(self, generator: Generator, data: Any, reference: ImageReference | None = None) -> dict[str, float]:
        """The scores of ``generator`` on the fixed noise; NaN for each when its samples are not finite."""
        samples, _ = generate(generator, self.samples, seed=self.seed, device="cpu")
        if not torch.isfinite(samples).all():
            return dict.fromkeys(self.names, math.nan)  # a diverged G: a gap in the curve, not a number
        if self.kind == "2d":
            return toy_scores(samples.double().numpy(), data)
        if reference is None:
            raise ValueError("an image run's quality needs the real data's reference (image_reference)")
        return image_scores(to_uint8(samples), reference)

    def record(self, step: int, wall_time: float, values: dict[str, float], *, now: float, cost_s: float) -> None:
        """Keep a measurement; the next is due after ``interval_s``, or longer when measuring was dear."""
        with self.lock:
            self.rows.append((float(step), float(wall_time), *(float(values[name]) for name in self.names)))
            if len(self.rows) > self.cap:
                self.rows = self.rows[::2]  # the whole run at half the detail ...
                self.interval_s *= 2  # ... and the points to come as far apart as those kept
            self.last_step = step
            self.next_at = now + min(MAX_INTERVAL_S, max(self.interval_s, cost_s / CPU_SHARE))

    def history(self) -> QualityHistory:
        with self.lock:
            array = np.array(self.rows, dtype=np.float64).reshape(-1, 2 + len(self.names))
            reference = dict(self.reference)
        return QualityHistory(
            kind=self.kind,
            step=array[:, 0],
            wall_time=array[:, 1],
            values={name: array[:, 2 + i] for i, name in enumerate(self.names)},
            reference=reference,
            samples=self.samples,
            num_modes=self.num_modes,
        )


@dataclass
class QualityMonitor:
    """The manager's measuring thread and what it shares between runs (the real data's references)."""

    interval_s: float | None  # None: no quality curves
    references: dict[str, ImageReference] = field(default_factory=dict)  # dataset -> reference (one thread uses it)

    def reference_for(self, tracker: QualityTracker) -> ImageReference | None:
        if tracker.kind != "images":
            return None
        if tracker.dataset not in self.references:  # a few hundred milliseconds, once per dataset
            self.references[tracker.dataset] = image_reference(tracker.dataset, tracker.samples)
        return self.references[tracker.dataset]


def measure_once(
    tracker: QualityTracker, generator: Generator, data: Any, monitor: QualityMonitor, step: int, wall: float
) -> None:
    """Measure ``generator`` (a copy nobody trains) and record it; the real reference comes with the first."""
    reference = monitor.reference_for(tracker)  # the first time: once per dataset, not counted as this run's cost
    started = time.perf_counter()
    if not tracker.reference:
        with tracker.lock:
            if reference is not None:
                tracker.reference = dict(reference.values)
            else:
                real = data.sample_numpy(tracker.samples, seed=tracker.seed)
                tracker.reference = toy_scores(real, data)
    values = tracker.measure(generator, data, reference)
    tracker.record(step, wall, values, now=time.monotonic(), cost_s=time.perf_counter() - started)


def frozen_output_generator(trainer: Any) -> tuple[Generator, int, float]:
    """A copy of the output generator (the weight average when the run has one) with its step, taken
    between two moves: the training waits for the copy only (about a millisecond)."""
    with trainer.between_moves():
        return copy.deepcopy(trainer.output_generator), trainer.step_count, trainer.wall_time


class QualityMixin:
    """The RunManager's quality curves (``quality_interval_s``; None turns them off)."""

    def _start_quality(self, interval_s: float | None) -> None:
        self._quality = QualityMonitor(interval_s)
        if interval_s is not None:
            threading.Thread(target=self._quality_loop, daemon=True, name="ganlab-quality").start()

    def _track_quality(self, run: Any) -> None:
        """Give a new run its tracker (none for data without a classifier, or with the curves off)."""
        if self._quality.interval_s is not None:
            run.quality = QualityTracker.for_trainer(run.trainer, self._quality.interval_s)

    def _quality_loop(self) -> None:
        tick = min(0.5, self._quality.interval_s / 2)
        while not self._closed.wait(tick):
            with self._lock:
                runs = [run for run in self._runs.values() if run.quality is not None]
            for run in runs:
                try:
                    self._measure_quality(run)
                except Exception as error:  # noqa: BLE001 - one run that cannot be measured (no classifier or
                    # held-out data on this server) loses its curve; the others keep theirs
                    log.warning("no quality curve for run %s: %s: %s", run.run_id, type(error).__name__, error)
                    run.quality = None

    def _measure_quality(self, run: Any) -> None:
        tracker, trainer = run.quality, run.trainer
        if tracker is None or self._closed.is_set():
            return
        running = run.phase == "running"
        if not tracker.due(time.monotonic(), trainer.step_count, running):
            return
        step = None
        if running and run.worker is not None:  # G as the worker has it now, as for a preview
            output = "ema" if trainer.ema_generator is not None else "g"
            reply = self._ask(run, {"do": "players", "which": [output]}, timeout=2.0)
            step = int(reply["step"]) if reply else None
        generator, copied_step, wall = frozen_output_generator(trainer)
        measure_once(tracker, generator, trainer.data, self._quality, copied_step if step is None else step, wall)

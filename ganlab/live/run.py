"""One live run as the manager keeps it: the Trainer, its recorded history, its time-lapse frames, the
fixed probes its views are drawn from, and the read-only copies readers get (RunSnapshot, Preview)."""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganlab.clusters import AUTO_K_RANGE, assign, effective_k
from ganlab.data.toy import ToyDistribution
from ganlab.imaging import make_grid, to_uint8
from ganlab.live.worker import Worker

if TYPE_CHECKING:
    from ganlab.live.quality import QualityHistory, QualityTracker
from ganlab.models import Discriminator, Generator
from ganlab.training import Trainer, TrainingConfig, TrainingEvent, player_configs

HISTORY_FIELDS = (
    "step",
    "d_loss",
    "g_loss",
    "d_real",
    "d_fake",
    "d_grad_norm",
    "g_grad_norm",
    "examples_per_second",
    "wall_time",
)


MAX_PARAMETERS = 20_000_000  # G + D: a bigger model would crawl on a shared CPU server


NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


VIEW_POINTS = 512  # real and generated points in the 2D view


METRIC_POINTS = 5000  # generated points behind the live mode coverage and KL/JS


class RunError(ValueError):
    """A request the current run cannot honour, said for a person ("no run yet: press Start")."""


def validate_name(name: str) -> str:
    """A checkpoint name that is safe as one folder name: letters, digits, '.', '_', '-'."""
    name = (name or "").strip()
    if name.startswith("saved/"):
        name = name[len("saved/") :]
    if not name:
        raise RunError("give the checkpoint a name, e.g. ring8-healthy")
    if not NAME_PATTERN.match(name) or name in (".", ".."):
        raise RunError(f"checkpoint names may use letters, digits, '.', '_' and '-' (at most 64, no '/' or '..'); got {name!r}")
    return name


def data_shape_of(data: ToyDistribution | Any) -> tuple[int, ...]:
    return (2,) if isinstance(data, ToyDistribution) else tuple(int(d) for d in data.images.shape[1:])


def count_parameters(config: TrainingConfig, data: ToyDistribution | Any) -> int:
    """G + D parameters this config would build, counted on the meta device (no memory used)."""
    shape = data_shape_of(data)
    if config.architecture == "dcgan" and len(shape) != 3:
        raise RunError("the DCGAN models need image data; use the MLP for 2D points")
    labelled = not isinstance(data, ToyDistribution) and data.labels is not None
    num_classes = len(data.class_names) if (config.conditional and labelled) else 0
    if len(shape) == 3:
        clusters = effective_k(config.clusters, len(data))
    else:  # 2D: "auto" may choose up to the top of its range
        clusters = AUTO_K_RANGE[1] if config.clusters == "auto" else config.clusters
    g_config, d_config = player_configs(config, shape, num_classes or clusters, cluster_prior=[] if clusters else None)
    with torch.device("meta"):
        g, d = Generator(g_config), Discriminator(d_config)
    return sum(p.numel() for p in g.parameters()) + sum(p.numel() for p in d.parameters())


@dataclass
class Preview:
    """What a reader draws: computed at most a few times a second, shared by every reader of a run."""

    step: int
    version: int
    kind: str  # "2d" | "images"
    picture: np.ndarray  # RGB (2D view) or grey/RGB sample grid, uint8
    metrics: dict[str, float] | None = None  # 2D: modes_covered, num_modes, high_quality, kl, js
    made_at: float = 0.0  # when its computation started
    drawn_at: float = 0.0  # when it was finished
    path: Path | None = None  # the picture as a PNG file, when the manager has a preview_dir
    curves: np.ndarray | None = None  # the training curves up to this preview (ganlab.curves), RGB uint8
    curves_path: Path | None = None
    curves_at: float = 0.0  # when the curves were drawn (they are redrawn less often than the picture)


@dataclass
class RunSnapshot:
    """A consistent copy of a run's state for readers (no references into the live run)."""

    run_id: str
    status: str  # ready | queued | running | paused | stopped | finished | diverged
    message: str
    kind: str  # "2d" | "images"
    dataset: str
    step: int
    version: int
    config: dict[str, Any]
    latest: dict[str, float]
    history: dict[str, np.ndarray]
    steps_per_second: float
    examples_per_second: float
    queue_position: int  # 1-based; 0 when not waiting
    timelapse_frames: int
    step_note: str  # what the manager says about the last move (put aside, not applied); "" if nothing
    objective_reading: str  # how to read D's output: "probability", "critic score", ...
    step_report: StepReport | None = None  # the last Step's two moves
    clusters: int = 0  # the clusters the run trains on (0: none; config['cluster_method'] says how found)
    quality: QualityHistory | None = None  # the samples' quality over time (None: not measured for this data)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (without the history arrays)."""
        result = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("history", "quality")}
        result["quality"] = self.quality.latest() if self.quality is not None else None
        result["latest"] = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.latest.items()}
        for key in ("steps_per_second", "examples_per_second"):
            result[key] = round(float(result[key]), 2)
        return result


@dataclass(frozen=True)
class StepReport:
    """What one D move and one G move did, measured on the run's fixed probes (the Train tab says it in words)."""

    d_step: int  # D updates so far
    step: int  # G updates so far
    batch_size: int
    reading: str  # how D's output reads: "probability" or a critic's score (Objective.d_output)
    d_loss: float
    d_grad_norm: float
    g_loss: float
    g_grad_norm: float
    before: tuple[float, float]  # mean (D(x), D(G(z))) on the probes before the D move
    middle: tuple[float, float]  # ... between the two moves
    after: tuple[float, float]  # ... after the G move
    points_moved: float | None = None  # 2D: how far the generated probe points moved in the G move


@dataclass
class SetAside:
    """An idle run saved to the server's scratch folder and freed from memory, until it is asked for."""

    folder: Path
    token: str | None
    label: str
    client: str
    step_note: str = ""
    made_at: float = dataclasses.field(default_factory=time.monotonic)


class Run:
    """One live run: the Trainer, its thread, the recorded history and the preview cache."""

    def __init__(
        self,
        key: str,
        trainer: Trainer,
        *,
        label: str = "",
        token: str | None = None,
        history_cap: int = 20_000,
        timelapse_every_s: float = 3.0,
        timelapse_cap: int = 120,
    ) -> None:
        self.key = key
        self.run_id = secrets.token_hex(6)
        self.token = token
        self.trainer = trainer
        self.label = label or trainer.config.dataset
        self.kind = "2d" if isinstance(trainer.data, ToyDistribution) else "images"
        self.lock = threading.Lock()  # guards everything below that readers copy
        self.phase = "ready"
        self.message = ""
        self.step_note = ""
        self.step_report: StepReport | None = None
        self.version = 0
        self.history: list[tuple[float, ...]] = []
        self.history_cap = history_cap
        self.history_stride = 1  # after thinning, keep every n-th event
        self._events_seen = 0
        self.latest: dict[str, float] = {}
        self.timelapse: list[tuple[int, np.ndarray]] = []
        self.timelapse_every_s = timelapse_every_s
        self.timelapse_cap = timelapse_cap
        self._last_frame_at = -math.inf
        self.thread: threading.Thread | None = None
        # A run training in a worker process: its pipe, whether the worker should write its state
        # back when stopped, and the readers waiting for an answer (ask number -> [done, reply]).
        self.worker: Worker | None = None
        self.keep_state = True
        self.relaunch = False
        self.asks = 0
        self.answers: dict[int, list[Any]] = {}
        self.detached = False
        self.release_timer: threading.Timer | None = None
        self.client = ""  # the address that made it (the per-client limit)
        self.touched = time.monotonic()  # last watched or controlled: idle runs are put aside
        # Preview state: only touched under render_lock, by readers.
        self.render_lock = threading.Lock()
        self.preview: Preview | None = None
        self.figure = None  # ganlab.plots.GanLabFigure, made on first 2D preview
        self.metrics: dict[str, float] | None = None
        self.metrics_at = -math.inf
        self.preview_count = 0
        self.preview_files: list[Path] = []
        self.curves: np.ndarray | None = None  # the curves picture, redrawn only when the history has grown
        self.curves_path: Path | None = None
        self.curves_at = -math.inf
        self.curves_history: tuple = ()  # the history's length and last row when the curves were drawn
        self.quality: QualityTracker | None = None  # its samples measured every few seconds (ganlab.live.quality)
        self._make_probes()

    def _make_probes(self) -> None:
        """Fixed inputs for the views and the step descriptions, drawn from their own seeded RNGs so
        that looking never changes what the training sees."""
        trainer = self.trainer
        rng = torch.Generator().manual_seed(trainer.config.seed + 101)
        if self.kind == "2d":
            data: ToyDistribution = trainer.data
            self.view_real = data.sample_numpy(VIEW_POINTS, seed=trainer.config.seed + 7)
            self.view_noise = trainer.generator.sample_noise(VIEW_POINTS, generator=rng, device="cpu")
            self.metric_noise = trainer.generator.sample_noise(METRIC_POINTS, generator=rng, device="cpu")
            self.metric_real = data.sample_numpy(METRIC_POINTS, seed=trainer.config.seed + 8)
            self.probe_real = torch.from_numpy(data.sample_numpy(256, seed=trainer.config.seed + 9)).float()
            self.probe_noise = trainer.generator.sample_noise(256, generator=rng, device="cpu")
            # A run on clusters: real points are in their nearest centre's cluster; G draws clusters by share.
            clusters = trainer.clusters
            self.probe_labels = assign(self.probe_real, clusters.centres) if clusters is not None else None
            self.view_labels = trainer.generator.sample_labels(VIEW_POINTS, generator=rng)
            self.metric_labels = trainer.generator.sample_labels(METRIC_POINTS, generator=rng)
            self.probe_fake_labels = trainer.generator.sample_labels(256, generator=rng)
        else:
            stream = trainer.stream
            index = torch.randperm(len(stream.images), generator=rng)[:64].to(stream.images.device)
            self.probe_real = stream.images[index]
            self.probe_labels = stream.labels[index] if stream.labels is not None else None
            self.probe_noise = trainer.fixed_noise
            self.probe_fake_labels = trainer.fixed_labels

    # -- written by the training thread (and by step()) --------------------------------------------
    def history_arrays(self, max_points: int) -> dict[str, np.ndarray]:
        """The recorded history as one array per field, evenly thinned to at most ``max_points`` rows.
        Call under ``self.lock``."""
        rows = self.history
        if len(rows) > max_points:
            index = np.unique(np.linspace(0, len(rows) - 1, max_points).round().astype(int))
            rows = [rows[i] for i in index]
        array = np.array(rows, dtype=np.float64).reshape(-1, len(HISTORY_FIELDS))
        return {name: array[:, i] for i, name in enumerate(HISTORY_FIELDS)}

    def record(self, event: TrainingEvent) -> None:
        row = tuple(float(getattr(event, name)) for name in HISTORY_FIELDS)
        with self.lock:
            self._events_seen += 1
            if self._events_seen % self.history_stride == 0 or event.status != "running":
                self.history.append(row)
                if len(self.history) > self.history_cap:
                    # Thin to every other point: the curves keep their whole span at half the detail.
                    self.history = self.history[::2]
                    self.history_stride *= 2
            self.latest = {name: value for name, value in zip(HISTORY_FIELDS, row, strict=True)}
            if event.status in ("diverged", "stopped", "finished"):
                self.phase = event.status if self.phase in ("running", "paused", "queued") else self.phase
                if event.message:
                    self.message = event.message
            self.version += 1

    def frame_due(self) -> bool:
        return self.kind == "images" and time.monotonic() - self._last_frame_at >= self.timelapse_every_s

    def maybe_add_frame(self) -> None:
        """A time-lapse frame every few seconds (images only); thinned to stay under the cap."""
        if not self.frame_due():
            return
        self._last_frame_at = time.monotonic()
        frame = sample_grid(self.trainer)
        with self.lock:
            self.timelapse.append((self.trainer.step_count, frame))
            if len(self.timelapse) > self.timelapse_cap:
                self.timelapse = self.timelapse[::2]
                self.timelapse_every_s *= 2  # keep the remaining frames evenly spaced in time
            self.version += 1


def sample_grid(trainer: Trainer) -> np.ndarray:
    """G's output on the fixed noise as one picture; conditional models get one column per class."""
    samples = to_uint8(trainer.fixed_samples())
    k = trainer.num_classes
    return make_grid(samples, columns=k if 2 <= k <= 16 else 8)


def _to(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return tensor.to(device) if tensor is not None else None


def _rate(rows: list[tuple[float, ...]]) -> float:
    """Steps per second of training time over the recent history."""
    step_i, wall_i = HISTORY_FIELDS.index("step"), HISTORY_FIELDS.index("wall_time")
    if len(rows) < 2:
        return 0.0
    steps = rows[-1][step_i] - rows[0][step_i]
    seconds = rows[-1][wall_i] - rows[0][wall_i]
    return steps / seconds if seconds > 0 else 0.0


def _examples_rate(rows: list[tuple[float, ...]]) -> float:
    i = HISTORY_FIELDS.index("examples_per_second")
    values = [r[i] for r in rows[-50:] if math.isfinite(r[i]) and r[i] > 0]
    return float(np.median(values)) if values else 0.0

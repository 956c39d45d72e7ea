"""Live training runs for the app: one background thread (and worker process) per run, snapshots for
the readers.

A :class:`RunManager` owns every live run of a server, keyed by the browser session that made it:

* each training run is a thread driving ``Trainer.run()``; it only records each step's numbers
  (a list append under a lock) and, for images, a time-lapse grid every few seconds. With
  ``processes=True`` (the app) the training itself runs in a worker process of its own
  (ganlab/workers.py) and the thread only relays: the server's Python then never slows it down;
* readers (the UI's live stream, the benchmark) ask for ``snapshot()`` (numbers, cheap) and ``preview()``
  (sample grid, GAN Lab view, 2D metrics): previews are computed by the reader, at most a few
  times a second, never after every step, so the training loop stays as fast as the bare Trainer;
* at most ``max_trainings`` runs train at once (``GANLAB_MAX_TRAININGS``, default: the number of
  CPU cores, at most 4); the others wait in a queue and are told their position;
* ``step()`` plays exactly one D move and one G move and says what each move did;
* closing the browser tab releases the run: it is stopped and freed after a short grace period,
  unless the same browser reattaches (a page reload) with the run's token.

Nothing here imports gradio: the Train tab (ganlab/ui/train.py) only maps these calls to widgets.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from ganlab.checkpoints import DATA_FILE, CheckpointError, user_checkpoint_dir
from ganlab.clusters import AUTO_K_RANGE, assign, effective_k
from ganlab.curves import draw_curves, training_panels
from ganlab.data.errors import DataError
from ganlab.data.toy import TOY_DISTRIBUTIONS, ToyDistribution, from_points
from ganlab.imaging import make_grid, to_uint8, upscale
from ganlab.models import Discriminator, Generator
from ganlab.owners import OwnershipError, private_dir
from ganlab.owners import resolve as resolve_saved
from ganlab.training import IMAGE_DATASETS, Trainer, TrainingConfig, TrainingDiverged, TrainingEvent, player_configs
from ganlab.views2d import compute_view, eval_mode, mode_metrics
from ganlab.workers import WORKERS, Worker, load_players

HISTORY_FIELDS = ("step", "d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm",
                  "examples_per_second", "wall_time")
MAX_PARAMETERS = 20_000_000  # G + D: a bigger model would crawl on a shared CPU server
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VIEW_POINTS = 512  # real and generated points in the 2D view
METRIC_POINTS = 5000  # generated points behind the live mode coverage and KL/JS


log = logging.getLogger(__name__)
SET_ASIDE_KEEP_S = 24 * 3600  # a run put aside and never asked for again is deleted after a day


class RunError(ValueError):
    """A request the current run cannot honour, said for a person ("no run yet: press Start")."""


def _env_number(name: str, default: float, *, minimum: float = 1) -> float:
    """A number from the environment (a server's limits), with a clear error for a bad value."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise RunError(f"{name} must be a number; got {value!r}") from None
    if number < minimum:
        raise RunError(f"{name} must be >= {minimum:g}; got {value}")
    return number


def default_max_trainings() -> int:
    value = os.environ.get("GANLAB_MAX_TRAININGS", "").strip()
    if value:
        try:
            number = int(value)
        except ValueError:
            raise RunError(f"GANLAB_MAX_TRAININGS must be a whole number; got {value!r}") from None
        if number < 1:
            raise RunError(f"GANLAB_MAX_TRAININGS must be >= 1; got {number}")
        return number
    return max(1, min(4, os.cpu_count() or 1))


def validate_name(name: str) -> str:
    """A checkpoint name that is safe as one folder name: letters, digits, '.', '_', '-'."""
    name = (name or "").strip()
    if name.startswith("saved/"):
        name = name[len("saved/"):]
    if not name:
        raise RunError("give the checkpoint a name, e.g. ring8-healthy")
    if not NAME_PATTERN.match(name) or name in (".", ".."):
        raise RunError(f"checkpoint names may use letters, digits, '.', '_' and '-' (at most 64, no '/' or "
                       f"'..'); got {name!r}")
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
    g_config, d_config = player_configs(config, shape, num_classes or clusters,
                                        cluster_prior=[] if clusters else None)
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
    step_note: str
    objective_reading: str  # how to read D's output: "probability", "critic score", ...
    clusters: int = 0  # the clusters the run trains on (0: none; config['cluster_method'] says how found)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (without the history arrays)."""
        result = {k: v for k, v in dataclasses.asdict(self).items() if k != "history"}
        result["latest"] = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                            for k, v in self.latest.items()}
        for key in ("steps_per_second", "examples_per_second"):
            result[key] = round(float(result[key]), 2)
        return result


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

    def __init__(self, key: str, trainer: Trainer, *, label: str = "", token: str | None = None,
                 history_cap: int = 20_000, timelapse_every_s: float = 3.0, timelapse_cap: int = 120) -> None:
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


class RunManager:
    """Every live run of a server: start, pause, resume, stop, reset, step, save and load them."""

    _instances: weakref.WeakSet[RunManager] = weakref.WeakSet()

    @classmethod
    def instances(cls) -> list[RunManager]:
        """Every manager alive in this process (for shutdown hooks and tests)."""
        return list(cls._instances)

    def __init__(
        self,
        max_trainings: int | None = None,
        *,
        max_train_seconds: float | None = 3600.0,
        preview_interval_s: float = 0.3,
        metrics_interval_s: float = 2.0,
        timelapse_every_s: float = 3.0,
        timelapse_cap: int = 120,
        history_cap: int = 20_000,
        reload_grace_s: float = 20.0,
        preview_dir: str | Path | None = None,
        processes: bool = False,
        max_runs: int | None = None,
        max_runs_per_client: int | None = None,
        idle_s: float | None = None,
    ) -> None:
        self.processes = processes  # train in worker processes (ganlab/workers.py) instead of threads
        self.max_trainings = max_trainings if max_trainings is not None else default_max_trainings()
        if self.max_trainings < 1:
            raise RunError(f"max_trainings must be >= 1; got {self.max_trainings}")
        self.max_train_seconds = max_train_seconds
        self.preview_interval_s = preview_interval_s
        self.metrics_interval_s = metrics_interval_s
        self.timelapse_every_s = timelapse_every_s
        self.timelapse_cap = timelapse_cap
        self.history_cap = history_cap
        self.reload_grace_s = reload_grace_s
        # A class on one server: runs in memory in all and per client (an address), and how long a run nobody
        # watches or controls stays in memory before it is put aside on disk (and brought back when asked for).
        self.max_runs = int(max_runs or _env_number("GANLAB_MAX_RUNS", 60))
        self.max_runs_per_client = int(max_runs_per_client or _env_number("GANLAB_MAX_RUNS_PER_CLIENT", 3))
        self.idle_s = idle_s if idle_s is not None else 60 * _env_number("GANLAB_RUN_IDLE_MINUTES", 15, minimum=0.1)
        self._stepping = 0  # Step moves playing now: they count against the training slots
        self._set_aside: dict[str, SetAside] = {}  # session key -> an idle run saved to scratch
        self._lock = threading.RLock()  # guards _runs, _queue, _tokens, phases; never held while joining
        self._runs: dict[str, Run] = {}
        self._queue: list[str] = []
        self._tokens: dict[str, str] = {}  # session key -> browser token (for reattaching after a reload)
        self._scratch = Path(tempfile.mkdtemp(prefix="ganlab-runs-"))
        # Previews as PNG files, encoded once per preview for every reader; the app serves this
        # folder as static files, so the pictures are not copied into Gradio's cache each time.
        self.preview_dir = Path(preview_dir) if preview_dir is not None else None
        if self.preview_dir is not None:
            self.preview_dir.mkdir(parents=True, exist_ok=True)
        RunManager._instances.add(self)
        self._closed = threading.Event()
        threading.Thread(target=self._reap_idle_runs, daemon=True, name="ganlab-idle-runs").start()
        if processes:
            WORKERS.prewarm(torch.get_num_threads())

    # -- looking up ------------------------------------------------------------------------------
    def has_run(self, key: str) -> bool:
        with self._lock:
            return key in self._runs

    def _get(self, key: str) -> Run:
        with self._lock:
            run = self._runs.get(key)
        if run is None:
            run = self._bring_back(key)
        if run is None:
            raise RunError("there is no run yet: press Start (or Step) first")
        run.touched = time.monotonic()
        return run

    def trainer(self, key: str) -> Trainer:
        return self._get(key).trainer

    @property
    def active_count(self) -> int:
        with self._lock:
            return sum(run.phase == "running" for run in self._runs.values())

    @property
    def run_count(self) -> int:
        with self._lock:
            return len(self._runs)

    @property
    def queued_count(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def set_aside_count(self) -> int:
        with self._lock:
            return len(self._set_aside)

    # -- making runs -------------------------------------------------------------------------------
    def create(self, key: str, config: TrainingConfig, data: ToyDistribution | Any | None = None, *,
               label: str = "", trainer: Trainer | None = None, client: str = "") -> RunSnapshot:
        """A new run for ``key`` from fresh weights (replacing its old run); it does not train yet.
        ``client`` (an address) counts against the per-client limit; the server's total limit holds too."""
        with self._lock:
            previous = self._runs.get(key)
            client = client or (previous.client if previous is not None else "")
            others = [run for other, run in self._runs.items() if other != key]
            if len(others) >= self.max_runs:
                raise RunError(f"this server holds {self.max_runs} runs already (its limit); try again when one "
                               "ends, or ask the teacher")
            if client and sum(run.client == client for run in others) >= self.max_runs_per_client:
                raise RunError(f"you have {self.max_runs_per_client} runs open already (this server's limit per "
                               "person): close another tab's run first")
        if trainer is None:
            config.validate()
            if data is None:
                data = _load_data(config.dataset)
            params = count_parameters(config, data)
            if params > MAX_PARAMETERS:
                raise RunError(f"this model would have {params / 1e6:.1f} million parameters; the limit here is "
                               f"{MAX_PARAMETERS / 1e6:.0f} million: lower the width or depth")
            trainer = Trainer(config, data)
        self.close(key)
        run = Run(key, trainer, label=label, token=self._tokens.get(key), history_cap=self.history_cap,
                  timelapse_every_s=self.timelapse_every_s, timelapse_cap=self.timelapse_cap)
        run.client = client
        with self._lock:
            self._set_aside.pop(key, None)  # a new run replaces one put aside
        if trainer.step_count:  # a loaded run: show where it left off
            run.latest = {"step": float(trainer.step_count), "wall_time": trainer.wall_time}
        with self._lock:
            self._runs[key] = run
        return self.snapshot(key)

    def start(self, key: str, config: TrainingConfig, data: ToyDistribution | Any | None = None, *,
              label: str = "", client: str = "") -> RunSnapshot:
        """A new run from fresh weights that starts training (or queues for a free slot)."""
        self.create(key, config, data, label=label, client=client)
        return self.resume(key)

    # -- the controls --------------------------------------------------------------------------------
    def resume(self, key: str) -> RunSnapshot:
        """Train (again): a ready, paused, stopped or finished run continues from its current weights."""
        run = self._get(key)
        with self._lock:
            if run.phase == "diverged":
                raise RunError(f"{run.message or 'this run diverged'} Reset the run (or Start a new one) to "
                               "train again.")
            if run.phase in ("running", "queued"):
                return self.snapshot(key)
            if self.active_count + self._stepping < self.max_trainings and not self._queue:
                self._launch(run)
            else:
                run.phase = "queued"
                self._queue.append(key)
                with run.lock:
                    run.version += 1
        return self.snapshot(key)

    def pause(self, key: str) -> RunSnapshot:
        run = self._get(key)
        with self._lock:
            handing_back = self._hold(run)
        self._held(run, handing_back)
        return self.snapshot(key)

    def _hold(self, run: Run) -> threading.Thread | None:
        """Pause ``run`` (caller holds the manager lock). A run in a worker process is stopped there
        and hands its state back: returns the thread to wait for (with ``_held``, outside the lock)."""
        thread, was = None, run.phase
        if was in ("running", "queued"):
            self._set_phase(run, "paused", "")
        if was == "running":
            if self.processes:
                self._halt(run)
                thread = run.thread
            else:
                run.trainer.pause()
            self._schedule()  # the slot it held is free now
        elif was == "queued":
            self._queue.remove(run.key)
        return thread

    def _held(self, run: Run, thread: threading.Thread | None) -> None:
        if thread is None:
            return
        thread.join(timeout=60)  # the worker writes its state back, the server reads it: ~0.1 s
        with self._lock:
            if run.phase == "stopped":  # the worker's last event said "stopped": it was a pause
                self._set_phase(run, "paused", run.message)

    def _halt(self, run: Run, *, keep_state: bool = True) -> None:
        """Ask the run's training to end after the step in flight (in this process or its worker)."""
        run.trainer.stop()
        run.keep_state = run.keep_state and keep_state
        if run.worker is not None:
            try:
                run.worker.send({"do": "stop", "run": run.run_id, "keep": run.keep_state})
            except (OSError, ValueError):
                pass  # the worker is gone; its relay thread says so

    def stop(self, key: str) -> RunSnapshot:
        """Stop training (weights are kept: Resume continues, Save saves them)."""
        run = self._get(key)
        with self._lock:
            if key in self._queue:
                self._queue.remove(key)
            if run.phase in ("running", "paused", "queued", "ready"):
                self._set_phase(run, "stopped", "")
            self._halt(run)
            thread = run.thread
            self._schedule()
        if thread is not None:
            thread.join(timeout=30)  # Trainer.run ends after the step in flight
        return self.snapshot(key)

    def reset(self, key: str, config: TrainingConfig | None = None, data: ToyDistribution | Any | None = None, *,
              label: str = "", client: str = "") -> RunSnapshot:
        """Start over from fresh weights (with a new config and data when given); not training."""
        if config is None:
            run = self._get(key)
            config, data, label = run.trainer.config, run.trainer.data, run.label
        return self.create(key, config, data, label=label, client=client)

    def update(self, key: str, **changes: Any) -> RunSnapshot:
        """Change live hyperparameters (learning rates, betas, batch size, D steps) mid-run."""
        run = self._get(key)
        missing = object()  # unknown names go through, so Trainer.update names them in its error
        changes = {k: v for k, v in changes.items() if getattr(run.trainer.config, k, missing) != v}
        if changes:
            run.trainer.update(**changes)  # raises ValueError with a message for people
            worker = run.worker
            if worker is not None:
                try:
                    worker.send({"do": "update", "run": run.run_id, "changes": changes})
                except (OSError, ValueError):
                    pass  # the worker is gone; its relay thread says so
            with run.lock:
                run.version += 1
        return self.snapshot(key)

    def step(self, key: str) -> str:
        """Exactly one D move, then one G move; returns what each move did (Markdown)."""
        run = self._get(key)
        with self._lock:
            if run.phase == "diverged":
                raise RunError(f"{run.message} Reset the run to play again.")
            handing_back = self._hold(run)
            self._set_phase(run, "paused", "")
            # A Step trains in this process: it takes a training slot for its two moves, so a class pressing
            # Step cannot slow the runs that hold the slots (nor each other) beyond the server's limit.
            if self.active_count + self._stepping >= self.max_trainings:
                raise RunError(f"all {self.max_trainings} training slots are busy; Step again in a moment")
            self._stepping += 1
        try:
            self._held(run, handing_back)
            return self._two_moves(run)
        finally:
            with self._lock:
                self._stepping -= 1
                self._schedule()

    def _two_moves(self, run: Run) -> str:
        trainer = run.trainer
        with trainer._lock:  # the Trainer's own step lock: the paused thread cannot move in between
            before = self._probe(run)
            try:
                d_move = trainer.step_discriminator()
                middle = self._probe(run)
                g_move = trainer.step_generator()
            except TrainingDiverged as why:
                note = (f"This move was **not applied**: {why}. The weights are unchanged; lower the learning "
                        "rates (or Reset).")
                with run.lock:
                    run.step_note = note
                    run.version += 1
                return note
            after = self._probe(run)
            event = TrainingEvent(
                step=trainer.step_count, d_loss=d_move["d_loss"], g_loss=g_move["g_loss"], d_real=d_move["d_real"],
                d_fake=d_move["d_fake"], d_grad_norm=d_move["d_grad_norm"], g_grad_norm=g_move["g_grad_norm"],
                examples_per_second=float("nan"), wall_time=trainer.wall_time, status="paused",
            )
        note = describe_moves(trainer, before, middle, after, d_move, g_move)
        run.record(event)
        with run.lock:
            run.step_note = note
            run.version += 1
        return note

    # -- internals of scheduling -------------------------------------------------------------------
    def _set_phase(self, run: Run, phase: str, message: str) -> None:
        with run.lock:
            run.phase = phase
            run.message = message
            run.version += 1

    def _launch(self, run: Run) -> None:
        """Give ``run`` a training slot (caller holds the manager lock)."""
        self._set_phase(run, "running", "")
        run.trainer.resume()
        if self.processes:
            run.trainer._stop.clear()  # a stop asked for from now on reaches this training
            run.keep_state = True
            if run.thread is not None and run.thread.is_alive():
                run.relaunch = True  # still handing the last training's state back: start when done
                return
        if run.thread is None or not run.thread.is_alive():
            target = self._work_in_worker if self.processes else self._work
            run.thread = threading.Thread(target=target, args=(run,), daemon=True, name=f"ganlab-run-{run.run_id}")
            run.thread.start()

    def _schedule(self) -> None:
        """Start queued runs while slots are free (caller holds the manager lock)."""
        while self._queue and self.active_count + self._stepping < self.max_trainings:
            run = self._runs.get(self._queue.pop(0))
            if run is not None and run.phase == "queued":
                self._launch(run)

    def _work(self, run: Run) -> None:
        """The training thread: Trainer.run(), recording each step; nothing else on this path."""
        trainer = run.trainer
        try:
            for event in trainer.run(max_seconds=self.max_train_seconds):
                run.record(event)
                run.maybe_add_frame()
            self._note_time_limit(run)
        except Exception as error:  # noqa: BLE001 - a crash must reach the person, not a log only
            self._stopped_by(run, f"training stopped by an error: {type(error).__name__}: {error}")
        finally:
            self._training_ended(run)

    def _work_in_worker(self, run: Run) -> None:
        """The relay thread of a run that trains in a worker process: hand the state over, record the
        steps it sends, answer the readers' asks, and take the state back at the end."""
        trainer = run.trainer
        folder = self._run_scratch(run) / "handover"
        try:
            worker = WORKERS.acquire(torch.get_num_threads())
        except OSError:  # no process can be started here (a locked-down host): train in this thread
            return self._work(run)
        try:
            shutil.rmtree(folder, ignore_errors=True)
            with trainer._lock:
                trainer.save(folder)
                save_user_data(trainer, folder)
            worker.send({"do": "train", "run": run.run_id, "folder": str(folder), "dataset": trainer.config.dataset,
                         "max_seconds": self.max_train_seconds, "core": worker.core})
            header, _ = worker.receive()
            if header["event"] == "failed":
                raise RuntimeError(header["error"])
            with run.lock:
                run.worker = worker
            if trainer._stop.is_set():  # stopped or paused while the state was being handed over
                self._halt(run)
            output = "ema" if trainer.ema_generator is not None else "g"
            frame_asked = False
            while True:
                header, tensors = worker.receive()
                kind = header["event"]
                if kind == "steps":
                    for row in header["steps"]:
                        run.record(TrainingEvent(**row))
                    trainer.step_count, trainer.wall_time = int(row["step"]), float(row["wall_time"])
                    if run.frame_due() and not frame_asked:  # a time-lapse frame needs G as it is now
                        worker.send({"do": "players", "run": run.run_id, "ask": 0, "which": [output]})
                        frame_asked = True
                elif kind == "players":
                    with trainer._lock:
                        load_players(trainer, tensors)
                        trainer.step_count = int(header["step"])
                    if header["ask"] == 0:
                        frame_asked = False
                        run.maybe_add_frame()
                    else:
                        self._answer(run, header["ask"], header)
                elif kind == "saved":
                    self._answer(run, header["ask"], header)
                elif kind == "failed":
                    raise RuntimeError(header["error"])
                elif kind == "done":
                    if header["saved"]:
                        trainer.load_state(folder)
                    trainer.status, trainer.message = header["status"], header["message"]
                    break
            self._note_time_limit(run)
        except (EOFError, OSError) as error:
            try:  # back to the state handed over at the start (previews had loaded later weights of G and D)
                trainer.load_state(folder)
            except (CheckpointError, OSError, ValueError, RuntimeError):
                pass
            self._stopped_by(run, f"the training process ended unexpectedly ({error}); the weights from when this "
                                  f"training started (step {trainer.step_count}) are kept")
        except Exception as error:  # noqa: BLE001 - a crash must reach the person, not a log only
            self._stopped_by(run, f"training stopped by an error: {type(error).__name__}: {error}")
        finally:
            with run.lock:
                run.worker = None
                for waiter in run.answers.values():
                    waiter[0].set()  # nobody waits for a worker that has moved on
            if worker is not None:
                WORKERS.release(worker)  # kept for the next run, or closed when it is gone
            self._training_ended(run)

    def _ask(self, run: Run, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
        """Send ``message`` to the run's worker and wait for its answer (None: no worker, or no answer)."""
        worker = run.worker
        if worker is None:
            return None
        with run.lock:
            run.asks += 1
            ask = run.asks
            waiter = run.answers[ask] = [threading.Event(), None]
        try:
            worker.send({**message, "run": run.run_id, "ask": ask})
            waiter[0].wait(timeout)
        except (OSError, ValueError):
            pass
        with run.lock:
            run.answers.pop(ask, None)
        return waiter[1]

    @staticmethod
    def _answer(run: Run, ask: int, reply: dict[str, Any]) -> None:
        with run.lock:
            waiter = run.answers.get(ask)
        if waiter is not None:
            waiter[1] = reply
            waiter[0].set()

    def _note_time_limit(self, run: Run) -> None:
        if run.trainer.status == "finished" and self.max_train_seconds is not None:
            with run.lock:
                run.message = (f"stopped after {self.max_train_seconds / 60:g} minutes of training (this "
                               "server's limit per start); press Resume to continue")

    @staticmethod
    def _stopped_by(run: Run, message: str) -> None:
        with run.lock:
            run.phase = "stopped"
            run.message = message
            run.version += 1

    def _training_ended(self, run: Run) -> None:
        trainer = run.trainer
        with self._lock:
            if run.thread is threading.current_thread():
                run.thread = None
            if run.phase == "running" and run.relaunch:  # resumed while handing back: go on
                run.relaunch = False
                run.thread = None
                self._launch(run)
                return
            run.relaunch = False
            if run.phase == "running":  # ended on its own (finished, diverged, error)
                self._set_phase(run, trainer.status if trainer.status in ("finished", "diverged") else "stopped",
                                run.message)
            self._schedule()

    # -- reading -----------------------------------------------------------------------------------
    def snapshot(self, key: str, *, max_points: int = 300) -> RunSnapshot | None:
        """The run's numbers (None if the session has no run); history thinned to ``max_points``."""
        with self._lock:
            run = self._runs.get(key)
            set_aside = key in self._set_aside
        if run is None and set_aside:
            run = self._bring_back(key)
        with self._lock:
            if run is None:
                return None
            run.touched = time.monotonic()  # someone is watching
            position = self._queue.index(key) + 1 if key in self._queue else 0
            active = self.active_count
        trainer = run.trainer
        with run.lock:
            history = run.history_arrays(max_points)
            recent = run.history[-200:]
            phase, message, version = run.phase, run.message, run.version
            latest = dict(run.latest)
            frames, note = len(run.timelapse), run.step_note
        if phase == "queued":
            message = (f"{active} run{'s are' if active != 1 else ' is'} training; yours starts when one ends "
                       f"— position {position}")
        return RunSnapshot(
            run_id=run.run_id, status=phase, message=message, kind=run.kind, dataset=run.label,
            step=trainer.step_count, version=version, config=dataclasses.asdict(trainer.config), latest=latest,
            history=history, steps_per_second=_rate(recent), examples_per_second=_examples_rate(recent),
            queue_position=position, timelapse_frames=frames, step_note=note,
            objective_reading=trainer.objective.d_output,
            clusters=trainer.clusters.k if trainer.clusters is not None else 0,
        )

    def preview(self, key: str, *, force: bool = False) -> Preview | None:
        """The latest picture (and 2D metrics), recomputed at most every ``preview_interval_s``."""
        with self._lock:
            run = self._runs.get(key)
        if run is None:
            return None
        with run.render_lock:
            now = time.monotonic()
            cached = run.preview
            if cached is not None and not force:
                fresh = now - cached.made_at < self.preview_interval_s
                # ... and never redraw straight after a slow drawing (a first one, a busy machine).
                just_drawn = now - cached.drawn_at < self.preview_interval_s / 2
                if cached.version == run.version or fresh or just_drawn:
                    return cached
            version = run.version
            trainer = run.trainer
            if run.worker is not None:  # training in a worker process: fetch G (and D) as they are now
                output = "ema" if trainer.ema_generator is not None else "g"
                self._ask(run, {"do": "players", "which": ["g", "d", "ema"] if run.kind == "2d" else [output]},
                          timeout=2.0)
            # made_at is when this computation started: a reader ticking every preview_interval_s then
            # finds the next one due even though drawing took part of the interval.
            if run.kind == "2d":
                metrics_due = now - run.metrics_at >= self.metrics_interval_s or force
                with trainer._lock:  # a consistent G and D (between two moves), copied in about a millisecond
                    players = _frozen_players(trainer)
                # The view and metrics are computed on the copies while training goes on.
                view = compute_view(players, run.view_real, run.view_noise, run.view_labels)
                metric_fake = None
                if metrics_due:
                    # Coverage is the run's own samples' (the weight average when it has one); the view shows G.
                    output = players.output_generator
                    with torch.no_grad(), eval_mode(output):
                        metric_fake = output(run.metric_noise.to(trainer.device),
                                                        _to(run.metric_labels, trainer.device)).float().cpu().numpy()
                if metric_fake is not None:
                    run.metrics = mode_metrics(metric_fake, trainer.data, run.metric_real)
                    run.metrics_at = now
                if run.figure is None:
                    from ganlab.plots import GanLabFigure

                    run.figure = GanLabFigure(view.bounds)
                picture = run.figure.render(view)
                run.preview = Preview(view.step, version, "2d", picture, dict(run.metrics or {}), now)
            else:
                step = trainer.step_count
                grid = sample_grid(trainer)
                # Whole-pixel enlargement to ~450 px: crisp digits on a projector, still a small PNG.
                picture = upscale(grid, max(1, round(450 / grid.shape[1])))
                run.preview = Preview(step, version, "images", picture, None, now)
            run.preview.curves = self._curves(run)
            if self.preview_dir is not None:
                run.preview.path = self._write_preview(run, run.preview.picture)
                run.preview.curves_path = self._write_preview(run, run.preview.curves)
            run.preview.drawn_at = time.monotonic()
            return run.preview

    @staticmethod
    def _curves(run: Run, max_points: int = 1000) -> np.ndarray:
        """The run's curves as a picture; more points than pixel columns show as value ranges."""
        with run.lock:
            history = run.history_arrays(max_points)
        probability = run.trainer.objective.d_output == "probability"
        return draw_curves(history["step"], training_panels(history, probability))

    def _write_preview(self, run: Run, picture: np.ndarray, keep: int = 24) -> Path:
        """Write a preview PNG (fast compression: it lives a few seconds) and delete old ones."""
        run.preview_count += 1
        path = self.preview_dir / f"{run.run_id}-{run.preview_count}.png"
        Image.fromarray(picture).save(path, format="PNG", compress_level=1)
        run.preview_files.append(path)
        while len(run.preview_files) > keep:  # older ones were fetched by the browser long ago
            run.preview_files.pop(0).unlink(missing_ok=True)
        return path

    def timelapse_frame(self, key: str, index: int) -> tuple[int, np.ndarray] | None:
        """Time-lapse frame ``index`` (clamped) as (step, picture); None when there are no frames."""
        run = self._get(key)
        with run.lock:
            if not run.timelapse:
                return None
            return run.timelapse[max(0, min(int(index), len(run.timelapse) - 1))]

    def timelapse_gif(self, key: str, path: str | Path | None = None, *, scale: int = 2,
                      frame_ms: int = 200) -> Path:
        """The time-lapse as an animated GIF (the last frame held longer)."""
        run = self._get(key)
        with run.lock:
            frames = [picture for _, picture in run.timelapse]
        if not frames:
            raise RunError("no time-lapse frames yet: train an image model for a few seconds first")
        pictures = [Image.fromarray(f.repeat(scale, 0).repeat(scale, 1)) for f in frames]
        path = Path(path) if path else self._run_scratch(run) / f"timelapse-{run.trainer.config.dataset}.gif"
        path.parent.mkdir(parents=True, exist_ok=True)
        durations = [frame_ms] * (len(pictures) - 1) + [1500]
        pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=durations, loop=0)
        return path

    # -- saving and loading --------------------------------------------------------------------------
    def save(self, key: str, name: str, *, overwrite: bool = False, owner: str | None = None) -> Path:
        """Save the run (resumable: G, D, optimizers, config) as ``name`` among ``owner``'s saved runs
        (ganlab.owners), or in the shared folder (user_checkpoint_dir()) when no owner is given."""
        name = validate_name(name)
        run = self._get(key)
        root = private_dir(owner) if owner else user_checkpoint_dir()
        directory = root / name
        if directory.exists():
            if not overwrite:
                raise RunError(f"a checkpoint named {name!r} already exists; choose another name or tick "
                               "'overwrite'")
            if not (directory / "config.json").is_file():
                raise RunError(f"{name!r} exists and is not a ganlab checkpoint; it was left alone")
            shutil.rmtree(directory)
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))  # a crash leaves no half checkpoint
        try:
            # A run training in a worker process is saved there: the server's copy is from its start.
            reply = self._ask(run, {"do": "save", "folder": str(staging)}, timeout=60)
            if reply is None and run.worker is not None:  # no answer, and still training: never save stale weights
                raise RunError("the training process did not save in time; pause the run, then save it")
            if reply is None:  # not training in a worker (or its training ended meanwhile: its state is here)
                run.trainer.save(staging)
            elif reply.get("error"):
                raise RunError(f"could not save {name!r}: {reply['error']}")
            save_user_data(run.trainer, staging)
            staging.replace(directory)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return directory

    def export_zip(self, key: str, name: str, *, owner: str | None = None) -> Path:
        """A .zip of the saved checkpoint ``name`` (for download): only the owner's own."""
        name = validate_name(name)
        directory = (private_dir(owner) if owner else user_checkpoint_dir()) / name
        if not (directory / "config.json").is_file():
            raise RunError(f"no saved checkpoint named {name!r}")
        run = self._get(key)
        path = self._run_scratch(run) / f"{name}.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(directory.rglob("*")):
                if file.is_file():
                    archive.write(file, arcname=f"{name}/{file.relative_to(directory).as_posix()}")
        return path

    def load(self, key: str, name: str, *, owner: str | None = None, client: str = "") -> RunSnapshot:
        """Load a run saved with ``save()`` as this session's run (paused, ready to resume). With an
        ``owner``, ``name`` is a label: ``mine/<name>`` (theirs) or ``saved/<name>`` (the class's)."""
        if owner:
            try:
                directory = resolve_saved(name, owner)
            except OwnershipError as error:
                raise RunError(str(error)) from None
            name = directory.name
        else:
            name = validate_name(name)
            directory = user_checkpoint_dir() / name
        run_file = directory / "run.json"
        if not run_file.is_file():
            raise RunError(f"no resumable run named {name!r}")
        dataset, data = saved_run_data(directory)
        if data is None and dataset not in TOY_DISTRIBUTIONS and dataset not in IMAGE_DATASETS:
            raise RunError(f"{name!r} was trained on data that was not saved with it ({dataset}); it cannot resume")
        try:
            trainer = Trainer.load(directory, data)
        except (CheckpointError, DataError, ValueError) as error:
            raise RunError(f"cannot load {name!r}: {error}") from None
        return self.create(key, trainer.config, trainer.data, label=f"saved/{name}", trainer=trainer, client=client)

    # -- sessions: closing and reattaching ---------------------------------------------------------------
    def bind_token(self, key: str, token: str) -> None:
        """Remember the browser token of a session; runs it creates carry it (to survive a reload)."""
        with self._lock:
            self._tokens[key] = token
            run = self._runs.get(key)
            if run is not None:
                run.token = token

    def attach(self, token: str, key: str) -> bool:
        """Move a released run with this browser token to the new session ``key`` (a page reload)."""
        if not token:
            return False
        with self._lock:
            self._tokens[key] = token
            if key in self._runs:
                return False
            for old_key, run in list(self._runs.items()):
                if run.token == token and run.detached:
                    if run.release_timer is not None:
                        run.release_timer.cancel()
                        run.release_timer = None
                    del self._runs[old_key]
                    run.key, run.detached = key, False
                    self._runs[key] = run
                    self._queue = [key if k == old_key else k for k in self._queue]
                    self._tokens.pop(old_key, None)
                    return True
            for old_key, aside in list(self._set_aside.items()):
                if aside.token == token:
                    self._set_aside[key] = self._set_aside.pop(old_key)
                    return True
        return False

    def has_run_for_token(self, token: str) -> bool:
        with self._lock:
            return bool(token) and (any(run.token == token for run in self._runs.values())
                                    or any(aside.token == token for aside in self._set_aside.values()))

    def release(self, key: str, grace_s: float | None = None) -> None:
        """The session closed: stop and free its run after ``grace_s`` unless a reload reattaches it."""
        grace = self.reload_grace_s if grace_s is None else grace_s
        with self._lock:
            self._tokens.pop(key, None)
            run = self._runs.get(key)
            if run is None:
                return
            if run.token and grace > 0:  # only a browser with the token can come back for it
                run.detached = True
                run.release_timer = threading.Timer(grace, self._expire, args=(key, run.run_id))
                run.release_timer.daemon = True
                run.release_timer.start()
                return
        self.close(key)

    def _expire(self, key: str, run_id: str) -> None:
        with self._lock:
            run = self._runs.get(key)
            if run is None or run.run_id != run_id or not run.detached:
                return
        self.close(key)

    def close(self, key: str) -> None:
        """Stop the session's run now and free it (weights, thread, figures, scratch files)."""
        with self._lock:
            run = self._runs.pop(key, None)
            if run is None:
                return
            if key in self._queue:
                self._queue.remove(key)
            if run.release_timer is not None:
                run.release_timer.cancel()
            self._halt(run, keep_state=False)
            thread = run.thread
            self._schedule()
        if thread is not None:
            thread.join(timeout=30)
        with run.render_lock:
            if run.figure is not None:
                run.figure.close()
            run.figure = run.preview = None
            for path in run.preview_files:
                path.unlink(missing_ok=True)
            run.preview_files.clear()
        shutil.rmtree(self._scratch / run.run_id, ignore_errors=True)

    def shutdown(self) -> None:
        """Stop and free every run (server shutdown, tests)."""
        self._closed.set()
        with self._lock:
            keys = list(self._runs)
        for key in keys:
            self.close(key)
        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- idle runs: put aside on disk, brought back when asked for ------------------------------------
    def _reap_idle_runs(self) -> None:
        """Every few seconds, put aside the runs nobody has watched or controlled for ``idle_s``: an API
        client that never comes back (or a forgotten tab) frees its memory and its training slot."""
        while not self._closed.wait(min(30.0, max(0.05, self.idle_s / 4))):
            now = time.monotonic()
            with self._lock:
                idle = [key for key, run in self._runs.items() if now - run.touched >= self.idle_s]
            with self._lock:
                stale = [key for key, aside in self._set_aside.items() if now - aside.made_at >= SET_ASIDE_KEEP_S]
                for key in stale:
                    shutil.rmtree(self._set_aside.pop(key).folder, ignore_errors=True)
            for key in idle:
                try:
                    self.put_aside(key)
                except Exception:  # noqa: BLE001 - one broken run must not stop the reaper
                    log.exception("could not put idle run %s aside; closing it", key)
                    self.close(key)

    def put_aside(self, key: str) -> None:
        """Pause the run, save it to scratch and free it; ``_bring_back`` restores it (paused)."""
        with self._lock:
            run = self._runs.get(key)
        if run is None:
            return
        with self._lock:
            handing_back = self._hold(run)
        self._held(run, handing_back)
        folder = self._scratch / "set-aside" / secrets.token_hex(8)
        folder.mkdir(parents=True)
        with run.trainer._lock:
            run.trainer.save(folder)
            save_user_data(run.trainer, folder)
        aside = SetAside(folder, run.token, run.label, run.client,
                         f"This run was put aside after {self.idle_s / 60:g} minutes with no one watching; it is "
                         "back, paused at the same step. Press **Resume** to go on.")
        self.close(key)
        with self._lock:
            self._set_aside[key] = aside

    def _bring_back(self, key: str) -> Run | None:
        with self._lock:
            aside = self._set_aside.pop(key, None)
        if aside is None:
            return None
        try:
            dataset, data = saved_run_data(aside.folder)
            trainer = Trainer.load(aside.folder, data)
        except (CheckpointError, DataError, RunError, ValueError, OSError) as error:
            log.warning("could not bring back a run put aside: %s", error)
            return None
        finally:
            shutil.rmtree(aside.folder, ignore_errors=True)
        self.create(key, trainer.config, trainer.data, label=aside.label, trainer=trainer, client=aside.client)
        with self._lock:
            run = self._runs[key]
        with run.lock:
            run.step_note = aside.step_note
        return run

    def _run_scratch(self, run: Run) -> Path:
        path = self._scratch / run.run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- the step description -----------------------------------------------------------------------
    @torch.no_grad()
    def _probe(self, run: Run) -> dict[str, Any]:
        """D's mean output on fixed real and generated probes, and the generated probe points."""
        trainer = run.trainer
        device = trainer.device
        with eval_mode(trainer.generator, trainer.discriminator):
            fake = trainer.generator(run.probe_noise.to(device), _to(run.probe_fake_labels, device))
            real_scores = trainer.objective.d_score(
                trainer.discriminator(run.probe_real.to(device), _to(run.probe_labels, device)))
            fake_scores = trainer.objective.d_score(trainer.discriminator(fake, _to(run.probe_fake_labels, device)))
        return {"d_real": real_scores.mean().item(), "d_fake": fake_scores.mean().item(), "fake": fake.cpu()}


def _to(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return tensor.to(device) if tensor is not None else None


def describe_moves(trainer: Trainer, before: dict[str, Any], middle: dict[str, Any], after: dict[str, Any],
                   d_move: dict[str, float], g_move: dict[str, float]) -> str:
    """What one D move and one G move did, in words a class can follow (Markdown)."""
    objective = trainer.objective
    probability = objective.d_output == "probability"
    score = "D" if probability else "the critic's score"
    fmt = "{:.3f}".format
    batch = trainer.config.batch_size
    gap_before = before["d_real"] - before["d_fake"]
    gap_middle = middle["d_real"] - middle["d_fake"]
    d_verdict = ("D got better at telling real from generated" if gap_middle > gap_before else
                 "this batch did not help D separate them (moves are noisy; try a few more)")
    d_text = (f"**1. D move** (D step {trainer.d_step_count}): D looked at {batch} real and {batch} generated "
              f"samples (loss {fmt(d_move['d_loss'])}, gradient norm {d_move['d_grad_norm']:.3g}) and updated its "
              f"weights. On a fixed check batch, {score}(x) on real data went {fmt(before['d_real'])} → "
              f"{fmt(middle['d_real'])} and {score}(G(z)) on generated data {fmt(before['d_fake'])} → "
              f"{fmt(middle['d_fake'])}: {d_verdict}.")
    g_verdict = ("G's samples now look more real to D" if after["d_fake"] > middle["d_fake"] else
                 "this move did not fool D more (G followed a noisy batch)")
    moved = ""
    if trainer.generator.config.data_shape == (2,):
        shift = (after["fake"] - middle["fake"]).norm(dim=1).mean().item()
        moved = f" The generated points moved {shift:.3g} on average, along the arrows D gave them."
    g_text = (f"**2. G move** (step {trainer.step_count}): G changed its weights to make D call its samples real "
              f"(loss {fmt(g_move['g_loss'])}, gradient norm {g_move['g_grad_norm']:.3g}); D is not changed in "
              f"this move. {score}(G(z)) went {fmt(middle['d_fake'])} → {fmt(after['d_fake'])}: {g_verdict}.{moved}")
    return d_text + "\n\n" + g_text


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


def _load_data(dataset: str) -> ToyDistribution | Any:
    from ganlab.training import load_training_data

    try:
        return load_training_data(dataset)
    except DataError:
        raise
    except (OSError, ValueError) as error:
        raise DataError(f"cannot load {dataset}: {error}") from None


def save_user_data(trainer: Trainer, directory: Path) -> None:
    """Data that cannot be found again by name (drawn points, a CSV, an uploaded folder) is saved
    with the run, so that loading it can continue training."""
    config, data = trainer.config, trainer.data
    if config.dataset in TOY_DISTRIBUTIONS or config.dataset in IMAGE_DATASETS:
        return
    if isinstance(data, ToyDistribution):
        points = data.centres if data.centres is not None else data.modes
        save_file({"points": torch.as_tensor(np.asarray(points), dtype=torch.float64)}, str(directory / DATA_FILE),
                  metadata={"kind": "points", "name": data.name})
    else:
        tensors = {"images": data.images.contiguous()}
        if data.labels is not None:
            tensors["labels"] = data.labels.contiguous()
        save_file(tensors, str(directory / DATA_FILE),
                  metadata={"kind": "images", "name": data.name, "class_names": json.dumps(data.class_names)})


def saved_run_data(directory: Path) -> tuple[str, ToyDistribution | Any | None]:
    """The dataset a saved run names, and the person's own data when it was saved with the run
    (None for a named dataset, or for own data saved before runs kept it)."""
    run_file = directory / "run.json"
    try:
        dataset = json.loads(run_file.read_text())["config"]["dataset"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise RunError(f"{run_file} is corrupt: {error}") from None
    return dataset, (load_user_data(directory) if (directory / DATA_FILE).is_file() else None)


def load_user_data(directory: Path) -> ToyDistribution | Any:
    from safetensors import safe_open

    from ganlab.data.images import ImageDataset

    path = directory / DATA_FILE
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same message
        raise RunError(f"{path} is not readable ({error})") from None
    if metadata.get("kind") == "points" and "points" in tensors:
        return from_points(tensors["points"].numpy(), name=metadata.get("name", "points"))
    if metadata.get("kind") == "images" and "images" in tensors:
        images = tensors["images"]
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise RunError(f"{path} holds images of the wrong type or shape")
        return ImageDataset(images=images, labels=tensors.get("labels"), name=metadata.get("name", "folder"),
                            split="train", source="folder", class_names=json.loads(metadata.get("class_names", "[]")),
                            location=str(path))
    raise RunError(f"{path} does not hold ganlab training data")


def _frozen_players(trainer: Trainer) -> SimpleNamespace:
    """What the 2D view reads from a Trainer, with G and D copied: call under the trainer's lock."""
    return SimpleNamespace(
        data=trainer.data, objective=trainer.objective, step_count=trainer.step_count, clusters=trainer.clusters,
        generator=copy.deepcopy(trainer.generator), discriminator=copy.deepcopy(trainer.discriminator),
        output_generator=copy.deepcopy(trainer.output_generator),
    )

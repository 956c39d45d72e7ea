"""The app's live runs: one manager per server, keyed by the browser session that made each run.

* each training is a thread driving ``Trainer.run()`` that only records each step's numbers (a list append
  under a lock) and, for images, a time-lapse frame every few seconds; with ``processes=True`` (the app)
  the training runs in a worker process of its own and the thread only relays (ganlab.live.relay);
* readers ask for ``snapshot()`` (numbers, cheap) and ``preview()`` (pictures, ganlab.live.previews),
  computed at most a few times a second, never after every step;
* at most ``max_trainings`` runs train at once (``GANLAB_MAX_TRAININGS``, default: the number of CPU
  cores, at most 4); the others wait in a queue and are told their position; a Step takes a slot too
  (ganlab.live.slots, ganlab.live.stepping);
* every few seconds a background thread measures each run's samples (FID and IS, or 2D modes) for the
  quality curves under the losses (ganlab.live.quality);
* a class shares one server: at most ``max_runs`` runs in memory (``GANLAB_MAX_RUNS``) and
  ``max_runs_per_client`` per address, and runs nobody watches are put aside (ganlab.live.sessions);
* saving and loading are in ganlab.live.saved.

Nothing here imports gradio: the Train tab (ganlab/ui/train.py) only maps these calls to widgets.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import torch

from ganlab.data import load_training_data
from ganlab.data.errors import DataError
from ganlab.data.toy import ToyDistribution
from ganlab.live.previews import PreviewsMixin
from ganlab.live.quality import QualityMixin
from ganlab.live.relay import WorkerRelayMixin
from ganlab.live.run import (
    MAX_PARAMETERS,
    Run,
    RunError,
    RunSnapshot,
    SetAside,
    _examples_rate,
    _rate,
    count_parameters,
)
from ganlab.live.saved import SavedRunsMixin
from ganlab.live.sessions import SessionsMixin
from ganlab.live.slots import SlotsMixin
from ganlab.live.stepping import SteppingMixin
from ganlab.live.worker import WORKERS
from ganlab.training import Trainer, TrainingConfig


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


def _load_data(dataset: str) -> ToyDistribution | Any:
    try:
        return load_training_data(dataset)
    except DataError:
        raise
    except (OSError, ValueError) as error:
        raise DataError(f"cannot load {dataset}: {error}") from None


class RunManager(SlotsMixin, SteppingMixin, QualityMixin, SessionsMixin, SavedRunsMixin, PreviewsMixin, WorkerRelayMixin):
    """Every live run of a server: start, pause, resume, stop, reset, step them (and, through its parts in
    this package, preview, save, load, relay to workers and follow browser sessions)."""

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
        image_preview_interval_s: float = 0.9,
        curves_interval_s: float = 1.0,
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
        quality_interval_s: float | None = 3.0,
    ) -> None:
        self.processes = processes  # train in worker processes (ganlab/workers.py) instead of threads
        self.max_trainings = max_trainings if max_trainings is not None else default_max_trainings()
        if self.max_trainings < 1:
            raise RunError(f"max_trainings must be >= 1; got {self.max_trainings}")
        self.max_train_seconds = max_train_seconds
        self.preview_interval_s = preview_interval_s  # the 2D view (GAN Lab's picture moves with every step)
        self.image_preview_interval_s = image_preview_interval_s  # a sample grid changes slowly (ganlab.live.previews)
        self.curves_interval_s = curves_interval_s
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
        self._start_quality(quality_interval_s)  # None: no quality curves
        if processes:
            WORKERS.prewarm(torch.get_num_threads())

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

    def create(
        self,
        key: str,
        config: TrainingConfig,
        data: ToyDistribution | Any | None = None,
        *,
        label: str = "",
        trainer: Trainer | None = None,
        client: str = "",
    ) -> RunSnapshot:
        """A new run for ``key`` from fresh weights (replacing its old run); it does not train yet.
        ``client`` (an address) counts against the per-client limit; the server's total limit holds too."""
        with self._lock:
            previous = self._runs.get(key)
            client = client or (previous.client if previous is not None else "")
            others = [run for other, run in self._runs.items() if other != key]
            if len(others) >= self.max_runs:
                raise RunError(
                    f"this server holds {self.max_runs} runs already (its limit); try again when one ends, or ask the teacher"
                )
            if client and sum(run.client == client for run in others) >= self.max_runs_per_client:
                raise RunError(
                    f"you have {self.max_runs_per_client} runs open already (this server's limit per "
                    "person): close another tab's run first"
                )
        if trainer is None:
            config.validate()
            if data is None:
                data = _load_data(config.dataset)
            params = count_parameters(config, data)
            if params > MAX_PARAMETERS:
                raise RunError(
                    f"this model would have {params / 1e6:.1f} million parameters; the limit here is "
                    f"{MAX_PARAMETERS / 1e6:.0f} million: lower the width or depth"
                )
            trainer = Trainer(config, data)
        self.close(key)
        run = Run(
            key,
            trainer,
            label=label,
            token=self._tokens.get(key),
            history_cap=self.history_cap,
            timelapse_every_s=self.timelapse_every_s,
            timelapse_cap=self.timelapse_cap,
        )
        run.client = client
        self._track_quality(run)
        with self._lock:
            self._set_aside.pop(key, None)  # a new run replaces one put aside
        if trainer.step_count:  # a loaded run: show where it left off
            run.latest = {"step": float(trainer.step_count), "wall_time": trainer.wall_time}
        with self._lock:
            self._runs[key] = run
        return self.snapshot(key)

    def start(
        self, key: str, config: TrainingConfig, data: ToyDistribution | Any | None = None, *, label: str = "", client: str = ""
    ) -> RunSnapshot:
        """A new run from fresh weights that starts training (or queues for a free slot)."""
        self.create(key, config, data, label=label, client=client)
        return self.resume(key)

    def reset(
        self,
        key: str,
        config: TrainingConfig | None = None,
        data: ToyDistribution | Any | None = None,
        *,
        label: str = "",
        client: str = "",
    ) -> RunSnapshot:
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
            frames, note, report = len(run.timelapse), run.step_note, run.step_report
        if phase == "queued":
            message = (
                f"{active} run{'s are' if active != 1 else ' is'} training; yours starts when one ends — position {position}"
            )
        return RunSnapshot(
            run_id=run.run_id,
            status=phase,
            message=message,
            kind=run.kind,
            dataset=run.label,
            step=trainer.step_count,
            version=version,
            config=dataclasses.asdict(trainer.config),
            latest=latest,
            history=history,
            steps_per_second=_rate(recent),
            examples_per_second=_examples_rate(recent),
            queue_position=position,
            timelapse_frames=frames,
            step_note=note,
            step_report=report,
            objective_reading=trainer.objective.d_output,
            clusters=trainer.clusters.k if trainer.clusters is not None else 0,
            quality=run.quality.history() if run.quality is not None else None,
        )

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

    def _run_scratch(self, run: Run) -> Path:
        path = self._scratch / run.run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

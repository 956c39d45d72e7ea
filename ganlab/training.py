"""The Trainer: the GAN game one move at a time.

    D step:  maximise  log D(x) + log(1 - D(G(z)))      (or the chosen objective's version)
    G step:  make D(G(z)) look real

``step_discriminator()`` and ``step_generator()`` are the two moves; ``step()`` plays
``d_steps`` D moves then one G move; ``run()`` repeats ``step()`` and yields a TrainingEvent per
step. Another thread (the app, a signal handler) may call ``pause()``, ``resume()``, ``stop()``,
``update()`` or ``reset()`` at any time: each step runs under a lock, so they act between moves
(``between_moves()`` holds the game still for a reader). ``state_dict()``/``load_state_dict()`` give
and take the whole state as tensors; ganlab.checkpoints.run writes it to files (the Trainer touches none).

A step whose loss or gradients are not finite is not applied, and the run ends with
"training diverged at step N"; weights that became non-finite after an update are rolled back to
the last good snapshot. Seeded CPU runs are reproducible.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from ganlab.augment import diff_augment
from ganlab.clusters import Clusters
from ganlab.config import TrainingConfig
from ganlab.data import load_training_data
from ganlab.data.stream import DataStream
from ganlab.data.toy import ToyDistribution
from ganlab.device import pick_device
from ganlab.losses import get_objective, gradient_penalty
from ganlab.models import Discriminator, Generator
from ganlab.players import adam, player_configs, run_clusters
from ganlab.weight_average import STANDING_STATISTICS_EVERY, standing_statistics, update_average


@dataclass
class TrainingEvent:
    """What one step of the game did: the numbers a teacher points at."""

    step: int  # G updates so far
    d_loss: float
    g_loss: float
    d_real: float  # mean D(x): D's output on real data (see Objective.d_score)
    d_fake: float  # mean D(G(z))
    d_grad_norm: float
    g_grad_norm: float
    examples_per_second: float
    wall_time: float  # seconds spent training so far
    status: str = "running"  # running | paused | stopped | finished | diverged
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TrainingDiverged(RuntimeError):
    pass


class Trainer:
    """Holds G, D, their optimizers and the data stream; plays the game step by step."""

    def __init__(
        self, config: TrainingConfig, data: ToyDistribution | Any | None = None, *, clusters: Clusters | None = None
    ) -> None:
        config.validate()
        self.config = copy.deepcopy(config)
        self.data = data if data is not None else load_training_data(config.dataset)
        self.device = pick_device(config.device)
        self._lock = threading.RLock()
        self._running = threading.Event()  # cleared = paused
        self._running.set()
        self._stop = threading.Event()
        self._build(clusters)

    # -- construction ------------------------------------------------------------------------
    def _build(self, clusters: Clusters | None = None) -> None:
        config = self.config
        self.rng = torch.Generator().manual_seed(config.seed)
        if config.augment and isinstance(self.data, ToyDistribution):
            raise ValueError("augmentation is for images; 2D points have no pixels to shift")
        self.clusters = clusters = run_clusters(self.data, config, clusters)
        self.stream = DataStream(self.data, self.device, self.rng, clusters)
        if config.architecture == "dcgan" and len(self.stream.data_shape) != 3:
            raise ValueError("the DCGAN models need image data; use the MLP for 2D points")
        if config.conditional and not self.stream.num_classes:
            raise ValueError("a conditional model needs labelled data (MNIST, Fashion-MNIST, or class folders)")
        num_classes = self.stream.num_classes if (config.conditional or clusters is not None) else 0
        g_config, d_config = player_configs(
            config,
            self.stream.data_shape,
            num_classes,
            class_names=self.stream.class_names if num_classes else [],
            cluster_prior=clusters.prior if clusters is not None else None,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # the same seed gives the same initial weights
            self.generator = Generator(g_config).to(self.device)
            self.discriminator = Discriminator(d_config).to(self.device)
        # Averaging G's weights over the last steps (Yazici et al. 2019) smooths out the oscillation of
        # the game: the average is a far better generator than the latest iterate, at no training cost.
        self.ema_generator = copy.deepcopy(self.generator).eval() if config.ema_decay > 0 else None
        self.objective = get_objective(config.loss)
        if config.architecture == "dcgan" and self.device.type == "cpu":
            # oneDNN's convolutions run faster on channels-last tensors on the CPU (bench/bench_step_speed.py).
            for model in (self.generator, self.discriminator, self.ema_generator):
                if model is not None:
                    model.to(memory_format=torch.channels_last)
        self.opt_g = adam(self.generator.parameters(), config.lr_g, (config.beta1, config.beta2))
        self.opt_d = adam(self.discriminator.parameters(), config.lr_d, (config.beta1, config.beta2))
        # Fixed noise: the sample grid shows the same z every time, so change means learning.
        self.fixed_noise = self.generator.sample_noise(64, generator=torch.Generator().manual_seed(config.seed + 1))
        self.fixed_labels = (torch.arange(64, device=self.device) % num_classes) if num_classes else None
        if clusters is not None:  # the preview grid shows clusters as often as the data has them
            self.fixed_labels = self.generator.sample_labels(64, generator=torch.Generator().manual_seed(config.seed + 1))
            self.fixed_labels = self.fixed_labels.to(self.device)
        self.step_count = 0
        self.d_step_count = 0
        self.wall_time = 0.0
        self.examples_seen = 0
        self.status = "ready"
        self.message = ""
        self.last_event: TrainingEvent | None = None
        self._last_d: dict[str, float] = {}
        self._last_g: dict[str, float] = {}
        self._good_state = self._snapshot()

    @property
    def num_classes(self) -> int:
        return self.generator.config.num_classes

    # -- the two moves -------------------------------------------------------------------------
    def _fake_labels(self, n: int) -> torch.Tensor | None:
        labels = self.generator.sample_labels(n, generator=self.rng)
        return labels.to(self.device) if labels is not None else None

    def step_discriminator(self) -> dict[str, float]:
        """One D move: push D(x) up on real data and D(G(z)) down on generated data."""
        with self._lock:
            real, real_labels = self.stream.next_batch(self.config.batch_size)
            fake_labels = real_labels if real_labels is not None else self._fake_labels(self.config.batch_size)
            z = self.generator.sample_noise(self.config.batch_size, generator=self.rng)
            with torch.no_grad():
                fake = self.generator(z, fake_labels)
            return self._discriminator_move(real, real_labels, fake, fake_labels)

    def step_generator(self) -> dict[str, float]:
        """One G move: change G so that D scores its samples as more real."""
        with self._lock:
            labels = self._fake_labels(self.config.batch_size)
            z = self.generator.sample_noise(self.config.batch_size, generator=self.rng)
            return self._generator_move(self.generator(z, labels), labels)

    def _step_sharing_samples(self) -> None:
        """One D move then one G move on the same generated batch, as in the PyTorch DCGAN tutorial:
        G's forward pass runs once instead of twice (the G move still meets the updated D)."""
        real, real_labels = self.stream.next_batch(self.config.batch_size)
        labels = real_labels if real_labels is not None else self._fake_labels(self.config.batch_size)
        z = self.generator.sample_noise(self.config.batch_size, generator=self.rng)
        fake = self.generator(z, labels)
        self._discriminator_move(real, real_labels, fake.detach(), labels)
        self._generator_move(fake, labels)

    def _discriminator_move(
        self, real: torch.Tensor, real_labels: torch.Tensor | None, fake: torch.Tensor, fake_labels: torch.Tensor | None
    ) -> dict[str, float]:
        config, objective = self.config, self.objective
        real, fake = self._augment(real), self._augment(fake)
        real_logits = self.discriminator(real, real_labels)
        fake_logits = self.discriminator(fake, fake_labels)
        loss = objective.d_loss(real_logits, fake_logits)
        if objective.gradient_penalty and config.gp_weight > 0:
            penalty = gradient_penalty(self.discriminator, real, fake, real_labels, generator=self.rng)
            loss = loss + config.gp_weight * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = _grad_norm(self.discriminator)
        self._apply(self.opt_d, loss, grad_norm, "discriminator")
        if objective.clip_weights:
            with torch.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-config.clip_value, config.clip_value)
        self.d_step_count += 1
        self.examples_seen += 2 * config.batch_size
        self._last_d = {
            "d_loss": loss.item(),
            "d_real": objective.d_score(real_logits.detach()).mean().item(),
            "d_fake": objective.d_score(fake_logits.detach()).mean().item(),
            "d_grad_norm": grad_norm,
        }
        return self._last_d

    def _generator_move(self, fake: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        fake_logits = self.discriminator(self._augment(fake), labels)
        loss = self.objective.g_loss(fake_logits)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = _grad_norm(self.generator)
        # D got gradients too (it was in the graph) but is not updated in G's move.
        self.discriminator.zero_grad(set_to_none=True)
        self._apply(self.opt_g, loss, grad_norm, "generator")
        self.step_count += 1
        self._update_ema()
        self.examples_seen += self.config.batch_size
        self._last_g = {"g_loss": loss.item(), "g_grad_norm": grad_norm}
        return self._last_g

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        """What D sees of a batch: the batch itself, or its random shifts and cut-outs (``augment``)."""
        if not self.config.augment or images.dim() != 4:
            return images
        return diff_augment(images, generator=self.rng)

    def _update_ema(self) -> None:
        if self.ema_generator is not None:
            update_average(
                self.ema_generator, self.generator, step=self.step_count, decay=self.config.ema_decay, seed=self.config.seed
            )

    @property
    def output_generator(self) -> Generator:
        """The generator to show and save: the weight average when EMA is on, else G itself."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def _apply(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, grad_norm: float, who: str) -> None:
        if not (math.isfinite(loss.item()) and math.isfinite(grad_norm)):
            optimizer.zero_grad(set_to_none=True)
            raise TrainingDiverged(f"{who} loss or gradient became {loss.item()} / {grad_norm}")
        optimizer.step()

    def step(self) -> TrainingEvent:
        """``d_steps`` D moves, then one G move; returns the event (never raises on divergence)."""
        with self._lock:
            if self.status == "diverged":
                return self._event()
            started = time.perf_counter()
            seen = self.examples_seen
            try:
                if self.config.d_steps == 1:
                    self._step_sharing_samples()
                else:
                    for _ in range(self.config.d_steps):
                        self.step_discriminator()
                    self.step_generator()
                if not _weights_finite(self.generator, self.discriminator):
                    raise TrainingDiverged("weights became non-finite")
            except TrainingDiverged as why:
                self._restore(self._good_state)
                self.status = "diverged"
                self.message = (
                    f"training diverged at step {self.step_count + 1} ({why}); the last good "
                    f"weights (step {self.step_count}) are kept. Try lower learning rates."
                )
                return self._event()
            elapsed = time.perf_counter() - started
            self.wall_time += elapsed
            self._throughput = (self.examples_seen - seen) / max(elapsed, 1e-9)
            if self.status in ("ready", "finished", "stopped"):
                self.status = "running"
            if self.step_count % 25 == 0:
                self._good_state = self._snapshot()
            return self._event()

    def _event(self) -> TrainingEvent:
        d, g = self._last_d, self._last_g
        nan = float("nan")
        self.last_event = TrainingEvent(
            step=self.step_count,
            d_loss=d.get("d_loss", nan),
            g_loss=g.get("g_loss", nan),
            d_real=d.get("d_real", nan),
            d_fake=d.get("d_fake", nan),
            d_grad_norm=d.get("d_grad_norm", nan),
            g_grad_norm=g.get("g_grad_norm", nan),
            examples_per_second=getattr(self, "_throughput", 0.0),
            wall_time=self.wall_time,
            status=self.status,
            message=self.message,
        )
        return self.last_event

    # -- running, pausing, stopping -------------------------------------------------------------
    def run(self, *, max_steps: int | None = None, max_seconds: float | None = None) -> Iterator[TrainingEvent]:
        """Step until ``max_steps`` more G steps or ``max_seconds`` of training, a stop, or divergence.

        Yields one event per step; while paused it blocks (re-checking for stop twice a second).
        """
        self._stop.clear()
        start_steps, start_time = self.step_count, self.wall_time
        while not self._stop.is_set():
            if max_steps is not None and self.step_count - start_steps >= max_steps:
                break
            if max_seconds is not None and self.wall_time - start_time >= max_seconds:
                break
            if not self._running.is_set():
                self._running.wait(0.5)
                continue
            event = self.step()
            yield event
            if self.status == "diverged":
                return
        with self._lock:
            self.status = "stopped" if self._stop.is_set() else "finished"
            self.message = ""
        yield self._event()

    def pause(self) -> None:
        self._running.clear()
        self.status = "paused"

    def resume(self) -> None:
        if self.status == "paused":
            self.status = "running"
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused run so it can finish

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def reset(self, config: TrainingConfig | None = None) -> None:
        """Start over from fresh weights (optionally with a new config), under the same data."""
        with self._lock:
            clusters, before = self.clusters, self.config
            if config is not None:
                config.validate()
                if config.dataset != self.config.dataset and config.dataset != "custom":
                    self.data = load_training_data(config.dataset)
                    clusters = None
                self.config = copy.deepcopy(config)
                self.device = pick_device(self.config.device)
            if (self.config.clusters, self.config.cluster_method, self.config.seed) != (
                before.clusters,
                before.cluster_method,
                before.seed,
            ):
                clusters = None  # cluster again only when what it depends on changed
            self._build(clusters)

    def update(self, **changes: Any) -> None:
        """Change live hyperparameters (learning rates, betas, batch size, D steps, ...) mid-run."""
        unknown = set(changes) - set(TrainingConfig.LIVE_FIELDS)
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))} while training; reset the run instead")
        candidate = dataclasses.replace(self.config, **changes)  # validates
        with self._lock:
            self.config = candidate
            for optimizer, lr in ((self.opt_g, candidate.lr_g), (self.opt_d, candidate.lr_d)):
                for group in optimizer.param_groups:
                    group["lr"] = lr
                    group["betas"] = (candidate.beta1, candidate.beta2)

    # -- looking at the generator -----------------------------------------------------------------
    @torch.no_grad()
    def fixed_samples(self) -> torch.Tensor:
        """G's output on the fixed noise (64 samples, on the CPU), in eval mode."""
        with self._lock:
            generator = self.output_generator
            was_training = generator.training
            generator.eval()
            try:
                return generator(self.fixed_noise, self.fixed_labels).cpu()
            finally:
                generator.train(was_training)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        from ganlab.sampling import generate

        with self._lock:
            return generate(self.output_generator, n, seed=seed)[0]

    # -- snapshots, saving and loading -----------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        return {
            "g": copy.deepcopy(self.generator.state_dict()),
            "d": copy.deepcopy(self.discriminator.state_dict()),
            "opt_g": copy.deepcopy(self.opt_g.state_dict()),
            "opt_d": copy.deepcopy(self.opt_d.state_dict()),
            "ema": copy.deepcopy(self.ema_generator.state_dict()) if self.ema_generator is not None else None,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["g"])
        self.discriminator.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.ema_generator is not None and state.get("ema") is not None:
            self.ema_generator.load_state_dict(state["ema"])

    def metadata(self) -> dict[str, Any]:
        return {
            "dataset": self.config.dataset,
            "data_source": getattr(self.data, "source", "toy"),
            "training": dataclasses.asdict(self.config),
            "steps": self.step_count,
            "wall_time_seconds": round(self.wall_time, 2),
            "device": str(self.device),
        }

    # -- the whole state, in and out (ganlab.checkpoints.run writes it to files) -----------------------
    @contextmanager
    def between_moves(self) -> Iterator[None]:
        """Hold the game between two moves: no step starts or ends while inside (the players are consistent)."""
        with self._lock:
            yield

    def frozen_players(self) -> SimpleNamespace:
        """Copies of G, D and the output generator as they are now, with what the views read beside them:
        a reader computes on these while training goes on (about a millisecond to copy the 2D players)."""
        with self._lock:
            generator = copy.deepcopy(self.generator)
            # Without a weight average the output generator is G itself: one copy serves both.
            output = copy.deepcopy(self.ema_generator) if self.ema_generator is not None else generator
            return SimpleNamespace(
                data=self.data,
                objective=self.objective,
                step_count=self.step_count,
                clusters=self.clusters,
                generator=generator,
                discriminator=copy.deepcopy(self.discriminator),
                output_generator=output,
            )

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run: weights, optimizer moments, the data stream's position,
        the counters and the config. The averaged G's batch-norm statistics are refreshed first, for exactly
        the weights given out."""
        with self._lock:
            if self.ema_generator is not None and self.step_count >= STANDING_STATISTICS_EVERY:
                standing_statistics(self.ema_generator, seed=self.config.seed)
            return {
                "config": dataclasses.asdict(self.config),
                "generator": self.generator.state_dict(),
                "ema_generator": self.ema_generator.state_dict() if self.ema_generator is not None else None,
                "discriminator": self.discriminator.state_dict(),
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
                "stream": self.stream.position(),
                "counters": {
                    "step_count": self.step_count,
                    "d_step_count": self.d_step_count,
                    "wall_time": self.wall_time,
                    "examples_seen": self.examples_seen,
                },
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a ``state_dict()`` of a trainer with the same models. Optimizer entries need only
        their ``state`` (the moments): the learning rates and betas stay this trainer's config's."""
        with self._lock:
            self.generator.load_state_dict(state["generator"])
            self.discriminator.load_state_dict(state["discriminator"])
            if self.ema_generator is not None and state.get("ema_generator") is not None:
                self.ema_generator.load_state_dict(state["ema_generator"])
            for name, optimizer in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
                if state.get(name) is not None:
                    current = optimizer.state_dict()
                    current["state"] = state[name]["state"]
                    optimizer.load_state_dict(current)
            if state.get("stream") is not None:
                self.stream.go_to(state["stream"])
            counters = state.get("counters") or {}
            self.step_count = int(counters.get("step_count", 0))
            self.d_step_count = int(counters.get("d_step_count", 0))
            self.wall_time = float(counters.get("wall_time", 0.0))
            self.examples_seen = int(counters.get("examples_seen", 0))
            self._good_state = self._snapshot()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def clear_stop(self) -> None:
        """Forget an earlier ``stop()``: a stop asked for from now on ends the next run()."""
        self._stop.clear()


def _grad_norm(module: nn.Module) -> float:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0


def _weights_finite(*modules: nn.Module) -> bool:
    params = [p for m in modules for p in m.parameters()]
    return bool(torch.isfinite(torch.nn.utils.get_total_norm(params)))

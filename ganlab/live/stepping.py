"""Step: exactly one D move and one G move, and what each did, measured on the run's fixed probes
(a StepReport; the Train tab puts it in words). A Step trains in the server's process and takes a
training slot for its two moves (ganlab.live.slots)."""

from __future__ import annotations

from typing import Any

import torch

from ganlab.live.run import Run, RunError, StepReport, _to
from ganlab.training import TrainingDiverged, TrainingEvent
from ganlab.views2d import eval_mode


class SteppingMixin:
    """The RunManager's Step button."""

    def step(self, key: str) -> StepReport:
        """Exactly one D move, then one G move; returns what each move did, measured on fixed probes."""
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

    def _two_moves(self, run: Run) -> StepReport:
        trainer = run.trainer
        with trainer.between_moves():  # the paused training cannot move in between
            before = self._probe(run)
            try:
                d_move = trainer.step_discriminator()
                middle = self._probe(run)
                g_move = trainer.step_generator()
            except TrainingDiverged as why:
                with run.lock:
                    run.step_note, run.step_report = "", None
                    run.version += 1
                raise RunError(
                    f"this move was not applied: {why}. The weights are unchanged; lower the learning rates (or Reset)."
                ) from None
            after = self._probe(run)
            event = TrainingEvent(
                step=trainer.step_count,
                d_loss=d_move["d_loss"],
                g_loss=g_move["g_loss"],
                d_real=d_move["d_real"],
                d_fake=d_move["d_fake"],
                d_grad_norm=d_move["d_grad_norm"],
                g_grad_norm=g_move["g_grad_norm"],
                examples_per_second=float("nan"),
                wall_time=trainer.wall_time,
                status="paused",
            )
        moved = (after["fake"] - middle["fake"]).norm(dim=1).mean().item() if run.kind == "2d" else None
        report = StepReport(
            d_step=trainer.d_step_count,
            step=trainer.step_count,
            batch_size=trainer.config.batch_size,
            reading=trainer.objective.d_output,
            d_loss=d_move["d_loss"],
            d_grad_norm=d_move["d_grad_norm"],
            g_loss=g_move["g_loss"],
            g_grad_norm=g_move["g_grad_norm"],
            before=(before["d_real"], before["d_fake"]),
            middle=(middle["d_real"], middle["d_fake"]),
            after=(after["d_real"], after["d_fake"]),
            points_moved=moved,
        )
        run.record(event)
        with run.lock:
            run.step_note, run.step_report = "", report
            run.version += 1
        return report

    @torch.no_grad()
    def _probe(self, run: Run) -> dict[str, Any]:
        """D's mean output on fixed real and generated probes, and the generated probe points."""
        trainer = run.trainer
        device = trainer.device
        with eval_mode(trainer.generator, trainer.discriminator):
            fake = trainer.generator(run.probe_noise.to(device), _to(run.probe_fake_labels, device))
            real_scores = trainer.objective.d_score(
                trainer.discriminator(run.probe_real.to(device), _to(run.probe_labels, device))
            )
            fake_scores = trainer.objective.d_score(trainer.discriminator(fake, _to(run.probe_fake_labels, device)))
        return {"d_real": real_scores.mean().item(), "d_fake": fake_scores.mean().item(), "fake": fake.cpu()}

"""The server's end of a run that trains in a worker process (ganlab.live.worker has the other end).

A relay thread per training hands the run's state over (a resumable run folder), records the steps the
worker sends, answers readers who asked for the players as they are now, and takes the state back when
the training ends. What crosses the wire: JSON headers and safetensors payloads, never pickles.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

from ganlab.checkpoints import CheckpointError
from ganlab.checkpoints.run import load_run_state, save_run
from ganlab.live.run import Run
from ganlab.live.worker import WORKERS, Worker, load_players, threads_alone
from ganlab.training import TrainingEvent


class WorkerRelayMixin:
    """The RunManager's relay to worker processes."""

    def _work_in_worker(self, run: Run) -> None:
        """The relay thread of a run that trains in a worker process: hand the state over, record the
        steps it sends, answer the readers' asks, and take the state back at the end."""
        trainer = run.trainer
        folder = self._run_scratch(run) / "handover"
        try:
            worker = WORKERS.acquire(threads_alone(run.kind))  # one thread each when several train (plan_threads)
        except OSError:  # no process can be started here (a locked-down host): train in this thread
            return self._work(run)
        try:
            self._hand_over(run, worker, folder)
            self._relay(run, worker, folder)
            self._note_time_limit(run)
        except (EOFError, OSError) as error:
            try:  # back to the state handed over at the start (previews had loaded later weights of G and D)
                load_run_state(trainer, folder)
            except (CheckpointError, OSError, ValueError, RuntimeError):
                pass
            self._stopped_by(
                run,
                f"the training process ended unexpectedly ({error}); the weights from when this "
                f"training started (step {trainer.step_count}) are kept",
            )
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

    def _hand_over(self, run: Run, worker: Worker, folder: Path) -> None:
        """Save the run's state into ``folder`` and start the worker training from it."""
        trainer = run.trainer
        shutil.rmtree(folder, ignore_errors=True)
        save_run(trainer, folder)
        worker.send(
            {
                "do": "train",
                "run": run.run_id,
                "folder": str(folder),
                "dataset": trainer.config.dataset,
                "max_seconds": self.max_train_seconds,
            }
        )
        header, _ = worker.receive()
        if header["event"] == "failed":
            raise RuntimeError(header["error"])
        worker.reported = {"threads": header["threads"], "cores": header["cores"]}
        with run.lock:
            run.worker = worker
        if trainer.stop_requested:  # stopped or paused while the state was being handed over
            self._halt(run)

    def _relay(self, run: Run, worker: Worker, folder: Path) -> None:
        """Handle what the worker sends until it is done; then the state it saved in ``folder`` is the run's."""
        trainer = run.trainer
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
                with trainer.between_moves():
                    load_players(trainer, tensors)
                    trainer.step_count = int(header["step"])
                if header["ask"] == 0:
                    frame_asked = False
                    run.maybe_add_frame()
                else:
                    self._answer(run, header["ask"], header)
            elif kind == "saved":
                self._answer(run, header["ask"], header)
            elif kind == "placed":  # its threads and cores, changed as other trainings started or ended
                worker.reported = {"threads": header["threads"], "cores": header["cores"]}
            elif kind == "failed":
                raise RuntimeError(header["error"])
            elif kind == "done":
                if header["saved"]:
                    load_run_state(trainer, folder)
                trainer.status, trainer.message = header["status"], header["message"]
                return

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

"""The RunManager's training slots: at most ``max_trainings`` runs train at once, the others wait in a queue
(first come, first served); pausing, stopping and resuming move a run in and out of its slot.

A training is a thread that drives ``Trainer.run()`` and only records each step (``_work``); with
``processes=True`` the thread relays a worker process instead (ganlab.live.relay). A Step takes a slot for
its two moves too (ganlab.live.stepping), counted in ``_stepping``.
"""

from __future__ import annotations

import threading

from ganlab.live.run import Run, RunError, RunSnapshot


class SlotsMixin:
    """Resume, pause, stop; the queue and the training threads (``max_trainings``, ``max_train_seconds``)."""

    def resume(self, key: str) -> RunSnapshot:
        """Train (again): a ready, paused, stopped or finished run continues from its current weights."""
        run = self._get(key)
        with self._lock:
            if run.phase == "diverged":
                raise RunError(f"{run.message or 'this run diverged'} Reset the run (or Start a new one) to train again.")
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
            run.trainer.clear_stop()  # a stop asked for from now on reaches this training
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

    def _note_time_limit(self, run: Run) -> None:
        if run.trainer.status == "finished" and self.max_train_seconds is not None:
            with run.lock:
                run.message = (
                    f"stopped after {self.max_train_seconds / 60:g} minutes of training (this "
                    "server's limit per start); press Resume to continue"
                )

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
                self._set_phase(run, trainer.status if trainer.status in ("finished", "diverged") else "stopped", run.message)
            self._schedule()

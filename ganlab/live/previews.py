"""What readers of a live run see: the 2D view (D's heat map, G's manifold, gradient arrows) or the sample
grid, the curves, the 2D mode metrics, and the image time-lapse (frames and an animated GIF).

A preview is computed by a reader, at most every ``preview_interval_s`` and never after every step, on
copies of the players: the training loop never waits for a drawing. With a ``preview_dir`` the pictures
are written once as PNG files that the app serves as they are, to every reader.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganlab.curves import draw_curves, training_panels
from ganlab.imaging import upscale
from ganlab.live.run import Preview, Run, RunError, _to, sample_grid
from ganlab.views2d import compute_view, eval_mode, mode_metrics


class PreviewsMixin:
    """The RunManager's readers' side (``preview_interval_s``, ``metrics_interval_s``, ``preview_dir``)."""

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
                # A consistent G and D (between two moves), copied in about a millisecond.
                players = trainer.frozen_players()
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

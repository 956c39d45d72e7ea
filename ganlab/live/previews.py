"""What readers of a live run see: the 2D view (D's heat map, G's manifold, gradient arrows) or the sample
grid, the curves, the 2D mode metrics, and the image time-lapse (frames and an animated GIF).

A preview is computed by a reader, at most every ``preview_interval_s`` (2D) or
``image_preview_interval_s`` (images) and never after every step, on copies of the players: the
training loop never waits for a drawing. With a ``preview_dir`` the pictures are written once as PNG
files that the app serves as they are, to every reader.

What it costs while a class watches (bench/bench_streaming.py, docs/BENCHMARKS.md): on a laptop that
trains and shows the run in its own browser, every picture is paid for twice, drawn and encoded here,
then fetched, decoded and painted by the browser, on the cores the training needs. So an image run's
sample grid (which changes slowly: G's weights move a little per step) is redrawn about once a
second, not with every 2D frame; the curves are redrawn at most every ``curves_interval_s`` and only
when the history has grown; and a picture that did not change keeps its file, so the browser fetches
nothing new. G's weights come from the worker (a million numbers, ~1 ms to send): the grid is drawn
here, not in the worker, whose every millisecond is training time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganlab.curves import curves_height, draw_curves, quality_panels, training_panels
from ganlab.imaging import save_gif, upscale
from ganlab.live.run import Preview, Run, RunError, _to, sample_grid
from ganlab.views2d import compute_view, eval_mode, mode_metrics

# A picture's address reaches the browser in a live update, and the browser fetches it afterwards: seconds
# later when the server is busy (8-13 s with a class on 2 cores, docs/BENCHMARKS.md). Deleted before, it
# came back as an error (403, or 500 while being served). So pictures stay a while, in a bounded ring per run.
KEEP_PREVIEWS = 8  # a run's latest pictures stay on disk, however old ...
KEEP_PREVIEWS_S = 30.0  # ... and every one younger than this ...
MAX_PREVIEWS = 150  # ... but never more than this many per run (a watched 2D run writes ~3.5 a second, 40-80 KB each)


def prune_previews(
    files: list[Path],
    *,
    on_show: Path | None = None,
    keep: int = KEEP_PREVIEWS,
    keep_s: float = KEEP_PREVIEWS_S,
    most: int = MAX_PREVIEWS,
) -> list[Path]:
    """Delete a run's old pictures (``files``, oldest first) and return those left: the last ``keep``, every
    one younger than ``keep_s`` seconds, at most ``most`` in all; ``on_show`` (the curves, redrawn only when
    the run moves) is kept whatever its age. A file that is already gone is dropped without a complaint."""
    left = list(files)
    now = time.time()
    while len(left) > keep:
        oldest = left[0]
        if oldest == on_show:
            if len(left) <= keep + 1:
                break
            oldest = left[1]
        try:
            young = now - oldest.stat().st_mtime < keep_s
        except OSError:
            young = False  # gone already: nothing to delete
        if young and len(left) <= most:
            break  # the rest are younger still
        oldest.unlink(missing_ok=True)
        left.remove(oldest)
    return left


class PreviewsMixin:
    """The RunManager's readers' side (``preview_interval_s``, ``image_preview_interval_s``,
    ``curves_interval_s``, ``metrics_interval_s``, ``preview_dir``)."""

    def preview(self, key: str, *, force: bool = False) -> Preview | None:
        """The latest picture (and 2D metrics), recomputed at most every ``preview_interval_s`` (2D) or
        ``image_preview_interval_s`` (a sample grid); the curves with it, when due (``_update_curves``)."""
        with self._lock:
            run = self._runs.get(key)
        if run is None:
            return None
        with run.render_lock:
            now = time.monotonic()
            cached = run.preview
            interval = self.preview_interval_s if run.kind == "2d" else self.image_preview_interval_s
            if cached is not None and not force:
                fresh = now - cached.made_at < interval
                # ... and never redraw straight after a slow drawing (a first one, a busy machine).
                just_drawn = now - cached.drawn_at < interval / 2
                if cached.version == run.version or fresh or just_drawn:
                    return cached
            version = run.version
            trainer = run.trainer
            if run.worker is not None:  # training in a worker process: fetch G (and D) as they are now
                output = "ema" if trainer.ema_generator is not None else "g"
                self._ask(run, {"do": "players", "which": ["g", "d", "ema"] if run.kind == "2d" else [output]}, timeout=2.0)
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
                        metric_fake = (
                            output(run.metric_noise.to(trainer.device), _to(run.metric_labels, trainer.device))
                            .float()
                            .cpu()
                            .numpy()
                        )
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
            if self.preview_dir is not None:
                run.preview.path = self._write_preview(run, run.preview.picture)
            self._update_curves(run, now, force)
            run.preview.curves, run.preview.curves_path, run.preview.curves_at = run.curves, run.curves_path, run.curves_at
            run.preview.drawn_at = time.monotonic()
            return run.preview

    def _update_curves(self, run: Run, now: float, force: bool) -> None:
        """Redraw the run's curves when its history has grown, at most every ``curves_interval_s`` (call
        under ``run.render_lock``): a second of training adds little to a thousand points, and each picture
        costs the server ~20 ms to draw and encode and the browser a fetch and a decode."""
        with run.lock:
            mark = (len(run.history), run.history[-1] if run.history else None)  # thinning shortens it
        grown = mark != run.curves_history
        if run.curves is not None and not (grown and (force or now - run.curves_at >= self.curves_interval_s)):
            return
        run.curves, run.curves_history, run.curves_at = self._curves(run), mark, now
        if self.preview_dir is not None:
            run.curves_path = self._write_preview(run, run.curves)

    @staticmethod
    def _curves(run: Run, max_points: int = 1000) -> np.ndarray:
        """The run's curves as a picture, its sample quality (ganlab.live.quality) in panels under the losses;
        more points than pixel columns show as value ranges."""
        with run.lock:
            history = run.history_arrays(max_points)
        panels = training_panels(history, run.trainer.objective.d_output == "probability")
        tracker = run.quality  # read once: the measuring thread drops a tracker that cannot measure
        if tracker is not None:
            panels += quality_panels(tracker.history(), history["step"])
        return draw_curves(history["step"], panels, height=curves_height(len(panels)))

    def _write_preview(self, run: Run, picture: np.ndarray) -> Path | None:
        """Write a preview PNG (fast compression: it lives seconds) and delete those no client will fetch any
        more (``prune_previews``). None when it cannot be written: the reader then sends the picture itself."""
        run.preview_count += 1
        path = self.preview_dir / f"{run.run_id}-{run.preview_count}.png"
        try:
            try:
                Image.fromarray(picture).save(path, format="PNG", compress_level=1)
            except FileNotFoundError:  # the folder was cleaned away under us: make it again
                self.preview_dir.mkdir(parents=True, exist_ok=True)
                Image.fromarray(picture).save(path, format="PNG", compress_level=1)
        except OSError:
            return None
        run.preview_files.append(path)
        run.preview_files[:] = prune_previews(run.preview_files, on_show=run.curves_path)
        return path

    def timelapse_frame(self, key: str, index: int) -> tuple[int, np.ndarray] | None:
        """Time-lapse frame ``index`` (clamped) as (step, picture); None when there are no frames."""
        run = self._get(key)
        with run.lock:
            if not run.timelapse:
                return None
            return run.timelapse[max(0, min(int(index), len(run.timelapse) - 1))]

    def timelapse_gif(self, key: str, path: str | Path | None = None, *, scale: int = 2, frame_ms: int = 200) -> Path:
        """The time-lapse as an animated GIF (the last frame held longer)."""
        run = self._get(key)
        with run.lock:
            frames = [picture for _, picture in run.timelapse]
        if not frames:
            raise RunError("no time-lapse frames yet: train an image model for a few seconds first")
        path = Path(path) if path else self._run_scratch(run) / f"timelapse-{run.trainer.config.dataset}.gif"
        save_gif(frames, path, frame_ms=frame_ms, last_frame_ms=1500, scale=scale)
        return path

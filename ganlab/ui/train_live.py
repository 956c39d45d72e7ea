"""The Train tab's live view: one stream per browser tab (``train_watch``) that reads its run's snapshot a few
times a second and sends what changed: the status line, the game as a graph, the preview picture (the GAN Lab
view for 2D data, the fixed-noise sample grid for images), the curves, the 2D metrics, the step note and the
time-lapse. The RunManager draws the previews (at most a few times a second); nothing here trains or computes.

A ``gr.Timer`` only starts the stream (after Start, Resume, a load or a page reload): one long event costs the
browser about a third of the CPU of one event per update (docs/BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import gradio as gr
import numpy as np

from ganlab.live import Preview, RunManager, RunSnapshot
from ganlab.ui.train_text import graph_html, metrics_markdown, status_markdown, step_note_markdown

TICK_SECONDS = 0.4  # the live stream's period: 2D previews reach the browser at least twice a second
# An image run's sample grid and curves are redrawn about once a second (RunManager.image_preview_interval_s):
# each update costs the server and the browser a little, on the laptop whose cores the training needs.
IMAGE_TICK_SECONDS = 1.0
REATTACH_WAIT_S = 45.0  # after a reload, how long the new page looks for its released run


def timelapse_update(frame: tuple[int, np.ndarray] | None) -> Any:
    if frame is None:
        return gr.skip()
    step, picture = frame
    return gr.update(value=picture, label=f"Samples at step {step:,}")


@dataclasses.dataclass
class LiveUpdate:
    """What one update of the live view changes; a field left at skip leaves its component as it is.

    The fields are the Train tab's components of the same names (ganlab.ui.train.TrainView), in the order of
    the stream's outputs: a new output of the live view is one field here and one component there."""

    status: Any = dataclasses.field(default_factory=gr.skip)
    graph: Any = dataclasses.field(default_factory=gr.skip)
    live: Any = dataclasses.field(default_factory=gr.skip)
    curves: Any = dataclasses.field(default_factory=gr.skip)
    metrics: Any = dataclasses.field(default_factory=gr.skip)
    step_note: Any = dataclasses.field(default_factory=gr.skip)
    timelapse_box: Any = dataclasses.field(default_factory=gr.skip)
    frame_slider: Any = dataclasses.field(default_factory=gr.skip)
    frame_image: Any = dataclasses.field(default_factory=gr.skip)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    def values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.names())


def _served(path: Any, picture: Any) -> Any:
    """A preview picture as the browser gets it: its file (served as it is) or the picture itself."""
    return str(path) if path is not None else picture


class LiveStream:
    """The live view of each browser tab's run; ``seen`` (per tab, in a gr.State) remembers what was sent."""

    def __init__(self, manager: RunManager) -> None:
        self.manager = manager
        self.watchers: dict[str, object] = {}  # session -> its one live stream (a newer one replaces it)
        self.viewed_frames: dict[str, float] = {}  # session -> the time-lapse frame its viewer went back to

    def tick(self, seen: dict, browser_token: str, shown_frame: float, key: str) -> tuple[LiveUpdate, dict, bool]:
        """One update of the live view, what it has now sent, and whether to go on."""
        seen = dict(seen or {})
        snapshot = self.manager.snapshot(key, max_points=0)  # no history: the curves come drawn with the preview
        if snapshot is None and browser_token and self.manager.attach(browser_token, key):
            snapshot = self.manager.snapshot(key, max_points=0)  # a reload found the run it left behind
        if snapshot is None:
            waiting = seen.setdefault("waiting_since", time.time())
            keep = (
                bool(browser_token) and self.manager.has_run_for_token(browser_token) and time.time() - waiting < REATTACH_WAIT_S
            )
            return LiveUpdate(), seen, keep
        seen.pop("waiting_since", None)
        training = snapshot.status in ("running", "queued")
        same_run = seen.get("run") == snapshot.run_id
        if same_run and seen.get("version") == snapshot.version and not training:
            return LiveUpdate(), seen, False
        preview = self.manager.preview(key, force=not training)
        update = LiveUpdate(status=status_markdown(snapshot))
        self._pictures(update, preview, seen, same_run)
        self._timelapse(update, snapshot, seen, same_run, shown_frame, key)
        metrics = metrics_markdown(preview.metrics if preview is not None else None) if snapshot.kind == "2d" else ""
        if not same_run or metrics != seen.get("metrics"):  # redrawn every few previews only
            update.metrics = metrics
        if seen.get("kind") != snapshot.kind:
            update.timelapse_box = gr.update(visible=True if snapshot.kind == "images" else "hidden")
        note, game = step_note_markdown(snapshot), graph_html(snapshot)
        if not same_run or note != seen.get("note"):
            update.step_note = note
        if game != seen.get("graph"):
            update.graph = game
        seen.update(
            run=snapshot.run_id,
            version=snapshot.version,
            frames=snapshot.timelapse_frames,
            kind=snapshot.kind,
            preview=preview.made_at if preview is not None else None,
            curves=preview.curves_at if preview is not None else None,
            metrics=metrics,
            note=note,
            graph=game,
        )
        return update, seen, training  # a paused or stopped run was drawn one last time: the stream ends

    @staticmethod
    def _pictures(update: LiveUpdate, preview: Preview | None, seen: dict, same_run: bool) -> None:
        """Only a picture that changed is sent: the browser fetches and decodes each one on the cores the
        training needs (the curves and an image run's samples are redrawn about once a second)."""
        if preview is None:
            return
        if not same_run or seen.get("preview") != preview.made_at:
            update.live = _served(preview.path, preview.picture)
        if not same_run or seen.get("curves") != preview.curves_at:
            update.curves = _served(preview.curves_path, preview.curves)

    def _timelapse(
        self, update: LiveUpdate, snapshot: RunSnapshot, seen: dict, same_run: bool, shown_frame: float, key: str
    ) -> None:
        frames = snapshot.timelapse_frames
        if not frames or (same_run and seen.get("frames") == frames):
            return
        label = f"Snapshot ({frames} taken every few seconds)"
        # Follow the newest frame unless the viewer went back to look at an older one.
        if not same_run or (shown_frame or 0) >= seen.get("frames", 0) - 1:
            update.frame_slider = gr.update(maximum=max(1, frames - 1), value=frames - 1, label=label)
            update.frame_image = timelapse_update(self.manager.timelapse_frame(key, frames - 1))
            self.viewed_frames[key] = frames - 1
        else:
            update.frame_slider = gr.update(maximum=max(1, frames - 1), label=label)

    async def watch(self, seen: dict, browser_token: str, shown_frame: float, request: gr.Request):
        """The live view, streamed: an update every TICK_SECONDS (an image run: IMAGE_TICK_SECONDS) while the
        run trains (undocumented API).

        Async, so that a viewer waiting between updates holds no server thread; each update is
        computed in a thread (the preview is drawn there)."""
        key = request.session_hash
        me = self.watchers[key] = object()
        timer_update: Any = gr.Timer(active=False)  # the timer only starts streams: it rests while one runs
        try:
            while self.watchers.get(key) is me:
                started = time.monotonic()
                frame = self.viewed_frames.get(key, shown_frame)
                update, seen, going_on = await asyncio.to_thread(self.tick, seen, browser_token, frame, key)
                yield (*update.values(), seen, timer_update)
                # Later updates leave the timer alone: a Start in the meantime may have set it going again.
                timer_update = gr.skip()
                if not going_on:
                    return
                period = IMAGE_TICK_SECONDS if seen.get("kind") == "images" else TICK_SECONDS
                await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))
        finally:
            if self.watchers.get(key) is me:
                del self.watchers[key]

    def view_frame(self, key: str, index: float) -> Any:
        """The time-lapse frame the viewer picked; the stream stops following the newest."""
        self.viewed_frames[key] = index or 0
        return timelapse_update(self.manager.timelapse_frame(key, int(index or 0)))

    def forget(self, key: str) -> None:
        self.watchers.pop(key, None)
        self.viewed_frames.pop(key, None)

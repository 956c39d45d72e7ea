"""The Train tab: the minimax game, live.

This module lays out the tab (``TrainView``) and connects its events to a ``TrainTab`` (ganlab.ui.train_handlers),
a thin class over the :class:`ganlab.live.RunManager` that owns the runs (each trains in a worker process of its
own). The run inputs (data and settings) are declared once, in ganlab.ui.train_inputs; the live view, one
stream per browser tab, is ganlab.ui.train_live. Nothing here trains or computes a metric.

Every event has a stable ``api_name`` (train_start, train_pause, train_resume, train_stop, train_reset,
train_step, train_update, train_status, train_save, train_load, ...), so the tab can be driven from
``gradio_client`` as well: Start, Step and Reset take the run inputs by name (``batch_size=64``).
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
import threading
from pathlib import Path

import gradio as gr
from gradio.context import Context

from ganlab.admin import AdminKey
from ganlab.curves import curves_height
from ganlab.live import RunManager
from ganlab.owners import SessionOwners
from ganlab.presets import default_config, presets
from ganlab.training import TrainingConfig
from ganlab.ui.graph import TAP_TO_EXPLAIN_JS, overview_svg
from ganlab.ui.train_handlers import TrainTab, saved_run_choices
from ganlab.ui.train_inputs import DATASETS, LIVE_INPUTS, RUN_INPUTS, RunForm, takes
from ganlab.ui.train_live import TICK_SECONDS, LiveUpdate
from ganlab.ui.train_text import describe_dataset, status_markdown

__all__ = ["DATASETS", "TrainTab", "TrainView", "build_train_tab"]

INTRO = """\
**The minimax game, live.** D (the discriminator) learns to tell real data from G's samples;
G (the generator) learns to fool D. Pick data and a model, press **Start**, or press **Step** to play
one D move and one G move at a time. Learning rates, betas, batch size and D steps can be changed
while it trains (press Enter or leave the field)."""
CHEAP = dict(concurrency_limit=None, show_progress="hidden")  # quick handlers: none waits behind another
FILES = dict(concurrency_limit=2, concurrency_id="train_files")  # saving, loading, GIFs: two at a time


class TrainView:
    """The tab's components, laid out in the current gr.Blocks; the events are connected by build_train_tab."""

    def __init__(self, start: TrainingConfig) -> None:
        gr.Markdown(INTRO)
        self.token = gr.BrowserState("", storage_key="ganlab-train-run")
        self.seen = gr.State({})  # what the live stream has sent this page (ganlab.ui.train_live)
        self.timer = gr.Timer(TICK_SECONDS, active=False)  # starts the live stream
        self.form = RunForm(start)
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                self._lay_out_settings()
            with gr.Column(scale=2):
                self._lay_out_game(start)
                self._lay_out_saving()

    def _lay_out_settings(self) -> None:
        form = self.form
        make = form.make  # a setting's control, here (ganlab.ui.train_inputs.SETTINGS)
        self.dataset = form.add("dataset", gr.Dropdown(DATASETS, value="ring8", label="Data", elem_id="train-dataset"))
        self.dataset_note = gr.Markdown(describe_dataset("ring8"), elem_id="train-dataset-note")
        self.drawing = form.add(
            "drawing",
            gr.Sketchpad(
                label="Draw your data",
                canvas_size=(400, 400),
                type="numpy",
                image_mode="RGBA",
                layers=False,
                visible=False,
                elem_id="train-draw",
            ),
        )
        self.points_csv = form.add(
            "points_csv",
            gr.File(label="CSV of x,y points", file_types=[".csv", ".txt"], type="filepath", visible=False, elem_id="train-csv"),
        )
        self.images_zip = form.add(
            "images_zip",
            gr.File(label="Zip of images", file_types=[".zip"], type="filepath", visible=False, elem_id="train-zip"),
        )
        with gr.Group(visible=True) as self.preset_group:
            gr.Markdown("**Presets**: a healthy run and three classic failures. Load one, then press Start.")
            with gr.Row():
                self.preset_buttons = {
                    name: gr.Button(preset.title, size="sm", elem_id=f"train-preset-{name}")
                    for name, preset in presets("ring8").items()
                }
        self.preset_note = gr.Markdown("", elem_id="train-preset-note")
        with gr.Accordion("Model and loss", open=True):
            make("model")
            make("loss")
            make("clusters")
            with gr.Row():
                make("noise_dim")
                make("noise_distribution")
            with gr.Row():
                make("width")
                make("depth")
                make("seed")
        with gr.Accordion("Optimisation (changes apply live)", open=True):
            with gr.Row():
                make("lr_g")
                make("lr_d")
            with gr.Row():
                make("beta1")
                make("beta2")
            with gr.Row():
                make("batch_size")
                make("d_steps")
        with gr.Accordion("WGAN and regularisation", open=False):
            with gr.Row():
                make("gp_weight")
                make("clip_value")
            make("spectral_norm")

    def _lay_out_game(self, start: TrainingConfig) -> None:
        with gr.Row():
            self.start = gr.Button("Start", variant="primary", elem_id="train-start")
            self.pause = gr.Button("Pause", elem_id="train-pause")
            self.resume = gr.Button("Resume", elem_id="train-resume")
            self.step = gr.Button("Step (1 D + 1 G move)", elem_id="train-step")
            self.stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
            self.reset = gr.Button("Reset", elem_id="train-reset")
        self.status = gr.Markdown(status_markdown(None), elem_id="train-status")
        with gr.Accordion("The game as a graph (hover or tap a box)", open=True):
            self.graph = gr.HTML(
                overview_svg(dataclasses.asdict(start), None), js_on_load=TAP_TO_EXPLAIN_JS, elem_id="train-graph"
            )
        with gr.Row():
            self.live = gr.Image(
                label="Live view",
                format="png",
                interactive=False,
                height=460,
                elem_id="train-live",
                elem_classes=["ganlab-crisp"],
                buttons=["download", "fullscreen"],
            )
            with gr.Column():
                # One picture drawn on the server with every preview (ganlab.curves): live line plots
                # redrawn in the browser took a fifth of a 2-core machine's training speed.
                self.curves = gr.Image(
                    label="Training curves and sample quality",
                    format="png",
                    interactive=False,
                    height=curves_height(5),  # the losses' three panels and two of quality, at their own size
                    elem_id="train-curves",
                    buttons=["download", "fullscreen"],
                )
        self.metrics = gr.Markdown("", elem_id="train-metrics")
        self.step_note = gr.Markdown("", elem_id="train-step-note")
        with gr.Accordion("Time-lapse (image models)", open=False, visible="hidden") as self.timelapse_box:
            self.frame_slider = gr.Slider(0, 1, value=0, step=1, label="Snapshot", elem_id="train-timelapse-slider")
            self.frame_image = gr.Image(
                label="Samples at this snapshot",
                format="png",
                interactive=False,
                height=300,
                elem_classes=["ganlab-crisp"],
                elem_id="train-timelapse-frame",
            )
            self.gif = gr.Button("Make an animated GIF", size="sm", elem_id="train-gif")

    def _lay_out_saving(self) -> None:
        with gr.Accordion("Save or load a run", open=False):
            with gr.Row():
                self.save_name = gr.Textbox(label="Checkpoint name", placeholder="e.g. ring8-healthy", elem_id="train-save-name")
                self.overwrite = gr.Checkbox(False, label="overwrite")
                self.save = gr.Button("Save", elem_id="train-save")
            with gr.Row():
                # Custom values are refused in the handler, not here: the choices depend on the browser.
                self.saved_runs = gr.Dropdown(
                    saved_run_choices(None),
                    label="Saved runs (mine/: yours only)",
                    allow_custom_value=True,
                    elem_id="train-saved-runs",
                )
                self.refresh = gr.Button("↻", size="sm", scale=0)
                self.load = gr.Button("Load into the Train tab", elem_id="train-load")
            with gr.Row():
                self.admin_key = gr.Textbox(
                    label="Admin key (the teacher's, printed where the app started)",
                    type="password",
                    elem_id="train-admin-key",
                    scale=3,
                )
                self.publish = gr.Button("Publish the picked run to the class", elem_id="train-publish", scale=2)
            self.save_note = gr.Markdown("", elem_id="train-save-note")
            self.download = gr.File(label="Download", interactive=False, elem_id="train-download")

    @property
    def button_outputs(self) -> list:
        """What the run's buttons change: the status line, the step note, the timer that starts the stream."""
        return [self.status, self.step_note, self.timer]

    @property
    def live_outputs(self) -> list:
        """The live stream's outputs: the components named by LiveUpdate's fields, then its state and timer."""
        return [*(getattr(self, name) for name in LiveUpdate.names()), self.seen, self.timer]


# -- the tab -------------------------------------------------------------------------------------------
def build_train_tab(
    manager: RunManager | None = None, owners: SessionOwners | None = None, admin: AdminKey | None = None
) -> RunManager:
    """Build the Train tab inside the current gr.Blocks; returns the RunManager behind it. ``owners`` maps
    sessions to the browsers that own saved runs; ``admin`` is the key that publishes a run to the class."""
    if manager is None:
        preview_dir = Path(tempfile.mkdtemp(prefix="ganlab-previews-"))
        manager = RunManager(preview_dir=preview_dir, processes=True)  # training apart from the web server
        atexit.register(shutil.rmtree, preview_dir, True)
    if manager.preview_dir is not None:
        # Served as they are (not copied into Gradio's cache at every tick); the manager deletes
        # old previews itself. The folder holds nothing but preview pictures.
        gr.set_static_paths([manager.preview_dir])
    # The first optimizer built in a process imports torch's compiler stack (seconds on a busy CPU):
    # do it now, in the background, so the first Start answers at once.
    threading.Thread(target=_warm_up_torch, daemon=True, name="ganlab-warm-up").start()
    tab = TrainTab(manager, owners, admin)
    view = TrainView(default_config("ring8"))
    _connect_run(tab, view)
    _connect_data(tab, view)
    _connect_live_view(tab, view)
    _connect_saving(tab, view)
    gr.api(tab.status, api_name="train_status", concurrency_limit=None)
    blocks = Context.root_block  # load and unload belong to the whole app
    if blocks is not None:
        # A reload finds its run again by the browser's token; closing the tab frees the run.
        attach_outputs = [view.token, view.timer, view.saved_runs]
        blocks.load(tab.attach, view.token, attach_outputs, api_name="train_attach", api_visibility="private", **CHEAP)

        def train_release(request: gr.Request) -> None:  # the unload event is named after its function
            tab.release(request)

        blocks.unload(train_release)
    return manager


def _warm_up_torch() -> None:
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _connect_run(tab: TrainTab, view: TrainView) -> None:
    """The run's buttons, and the live settings applied while it trains."""
    run_inputs, outputs = view.form.components(), view.button_outputs
    view.start.click(takes(RUN_INPUTS, tab.start), run_inputs, outputs, api_name="train_start", **CHEAP)
    view.step.click(takes(RUN_INPUTS, tab.step), run_inputs, outputs, api_name="train_step", **CHEAP)
    view.reset.click(takes(RUN_INPUTS, tab.reset), run_inputs, outputs, api_name="train_reset", **CHEAP)
    view.pause.click(tab.pause, None, outputs, api_name="train_pause", **CHEAP)
    view.resume.click(tab.resume, None, outputs, api_name="train_resume", **CHEAP)
    view.stop.click(tab.stop, None, outputs, api_name="train_stop", **CHEAP)
    live = view.form.live_controls
    gr.on(
        [trigger for box in live for trigger in (box.submit, box.blur)],
        takes(LIVE_INPUTS, tab.update),
        live,
        view.step_note,
        api_name="train_update",
        trigger_mode="always_last",
        **CHEAP,
    )


def _connect_data(tab: TrainTab, view: TrainView) -> None:
    """Picking data shows what it needs and loads its defaults; a preset loads its settings."""
    settings = view.form.setting_controls
    data_outputs = [view.dataset_note, view.drawing, view.points_csv, view.images_zip, view.preset_group, view.preset_note]
    view.dataset.input(tab.dataset, view.dataset, [*data_outputs, *settings], api_name="train_dataset", **CHEAP)
    for name, button in view.preset_buttons.items():
        handler = tab.preset(name)
        button.click(handler, view.dataset, [view.preset_note, *settings], api_name=handler.__name__, **CHEAP)


def _connect_live_view(tab: TrainTab, view: TrainView) -> None:
    """The timer starts the live stream; the time-lapse's slider and GIF."""
    # always_last: a tick that arrives while a stream is starting runs after it (not dropped).
    view.timer.tick(
        tab.live.watch,
        [view.seen, view.token, view.frame_slider],
        view.live_outputs,
        api_name="train_watch",
        api_visibility="undocumented",
        trigger_mode="always_last",
        **CHEAP,
    )
    view.frame_slider.release(
        tab.timelapse_frame,
        view.frame_slider,
        view.frame_image,
        api_name="train_timelapse_frame",
        trigger_mode="always_last",
        **CHEAP,
    )
    view.gif.click(tab.gif, None, view.download, api_name="train_gif", **FILES)


def _connect_saving(tab: TrainTab, view: TrainView) -> None:
    """Save, list, publish and load runs."""
    view.save.click(
        tab.save,
        [view.save_name, view.overwrite],
        [view.save_note, view.download, view.saved_runs],
        api_name="train_save",
        **FILES,
    )
    view.refresh.click(tab.saved_runs, None, view.saved_runs, api_name="train_saved_runs", **CHEAP)
    view.publish.click(
        tab.publish,
        [view.saved_runs, view.admin_key, view.overwrite],
        [view.save_note, view.saved_runs],
        api_name="train_publish",
        **FILES,
    )
    load_outputs = [*view.button_outputs, *view.form.setting_controls]
    view.load.click(tab.load, view.saved_runs, load_outputs, api_name="train_load", **FILES)

"""The Train tab: the minimax game, live.

The tab only composes widgets and maps them to a :class:`ganlab.live.RunManager`, which owns the
runs (each trains in a worker process of its own). While a run trains, one streaming event per
browser tab (``train_watch``) reads the run's snapshot a few times a second and sends what changed:
the status line and a preview picture (the GAN Lab view for 2D data, the fixed-noise sample grid for
images, and the curves) that the manager renders at most a few times a second. A ``gr.Timer`` only
starts that stream (after Start, Resume, a load or a page reload): one long event costs the
browser about a third of the CPU of one event per update (docs/BENCHMARKS.md). Nothing here trains
or computes a metric.

Every event has a stable ``api_name`` (train_start, train_pause, train_resume, train_stop,
train_reset, train_step, train_update, train_status, train_save, train_load, ...), so the tab can
be driven from ``gradio_client`` as well.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import functools
import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.context import Context

from ganlab.admin import AdminKey, AdminKeyError
from ganlab.checkpoints import CheckpointError
from ganlab.data.errors import DataError
from ganlab.data.registry import kind_of
from ganlab.live import RunError, RunManager, validate_name
from ganlab.owners import MINE, OwnershipError, SessionOwners, publish, saved_folders
from ganlab.presets import default_config, presets
from ganlab.training import TrainingConfig
from ganlab.ui.graph import TAP_TO_EXPLAIN_JS, overview_svg
from ganlab.ui.train_text import (
    CLUSTER_CHOICES,
    CONFIG_FIELDS,
    DATASETS,
    LOSSES,
    MODELS,
    TWO_D,
    _dataset_defaults,
    _number,
    clusters_choice,
    describe_dataset,
    describe_moves,
    graph_html,
    metrics_markdown,
    resolve_data,
    settings_to_config,
    status_markdown,
    step_note_markdown,
)

log = logging.getLogger(__name__)

TICK_SECONDS = 0.4  # the live stream's period: 2D previews reach the browser at least twice a second
# An image run's sample grid and curves are redrawn about once a second (RunManager.image_preview_interval_s):
# each update costs the server and the browser a little, on the laptop whose cores the training needs.
IMAGE_TICK_SECONDS = 1.0
REATTACH_WAIT_S = 45.0  # after a reload, how long the new page looks for its released run

INTRO = """\
**The minimax game, live.** D (the discriminator) learns to tell real data from G's samples;
G (the generator) learns to fool D. Pick data and a model, press **Start**, or press **Step** to play
one D move and one G move at a time. Learning rates, betas, batch size and D steps can be changed
while it trains (press Enter or leave the field)."""


class _Friendly:
    """Turn errors into messages for people (gr.Error), never a stack trace in the browser."""

    @staticmethod
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except (RunError, DataError, CheckpointError, OwnershipError, AdminKeyError, ValueError, OSError) as error:
                raise gr.Error(str(error)) from None
            except Exception as error:  # noqa: BLE001 - logged in full, shown briefly
                log.exception("Train tab: %s failed", fn.__name__)
                raise gr.Error(f"something went wrong ({type(error).__name__}: {error})") from None

        return wrapper


friendly = _Friendly.wrap


def timelapse_update(frame: tuple[int, np.ndarray] | None) -> Any:
    if frame is None:
        return gr.skip()
    step, picture = frame
    return gr.update(value=picture, label=f"Samples at step {step:,}")


def saved_run_choices(owner: str | None) -> list[str]:
    """The runs this person can load: their own (mine/...) and the class's (saved/...)."""
    return list(saved_folders(owner, resumable_only=True))


def client_of(request: gr.Request | None) -> str:
    """The address a request came from: the per-client limit on live runs counts by it."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


def _warm_up_torch() -> None:
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


# -- the tab -------------------------------------------------------------------------------------------
def build_train_tab(
    manager: RunManager | None = None, owners: SessionOwners | None = None, admin: AdminKey | None = None
) -> RunManager:
    """Build the Train tab inside the current gr.Blocks; returns the RunManager behind it. ``owners`` maps
    sessions to the browsers that own saved runs; ``admin`` is the key that publishes a run to the class."""
    owners = owners or SessionOwners()
    admin = admin or AdminKey()
    if manager is None:
        preview_dir = Path(tempfile.mkdtemp(prefix="ganlab-previews-"))
        manager = RunManager(preview_dir=preview_dir, processes=True)  # training apart from the web server
        atexit.register(shutil.rmtree, preview_dir, True)
    if manager.preview_dir is not None:
        # Served as they are (not copied into Gradio's cache at every tick); the manager deletes
        # old previews itself. The folder holds nothing but preview pictures.
        gr.set_static_paths([manager.preview_dir])
    start_config = default_config("ring8")
    blocks = Context.root_block  # for load/unload, which belong to the whole app

    # The first optimizer built in a process imports torch's compiler stack (seconds on a busy CPU):
    # do it now, in the background, so the first Start answers at once.
    threading.Thread(target=_warm_up_torch, daemon=True, name="ganlab-warm-up").start()
    gr.Markdown(INTRO)
    token = gr.BrowserState("", storage_key="ganlab-train-run")
    seen = gr.State({})
    timer = gr.Timer(TICK_SECONDS, active=False)

    with gr.Row():
        # ---------------- settings ----------------
        with gr.Column(scale=1, min_width=320):
            dataset = gr.Dropdown(DATASETS, value="ring8", label="Data", elem_id="train-dataset")
            dataset_note = gr.Markdown(describe_dataset("ring8"), elem_id="train-dataset-note")
            drawing = gr.Sketchpad(
                label="Draw your data",
                canvas_size=(400, 400),
                type="numpy",
                image_mode="RGBA",
                layers=False,
                visible=False,
                elem_id="train-draw",
            )
            points_csv = gr.File(
                label="CSV of x,y points", file_types=[".csv", ".txt"], type="filepath", visible=False, elem_id="train-csv"
            )
            images_zip = gr.File(label="Zip of images", file_types=[".zip"], type="filepath", visible=False, elem_id="train-zip")
            with gr.Group(visible=True) as preset_group:
                gr.Markdown("**Presets**: a healthy run and three classic failures. Load one, then press Start.")
                with gr.Row():
                    preset_buttons = {
                        name: gr.Button(preset.title, size="sm", elem_id=f"train-preset-{name}")
                        for name, preset in presets("ring8").items()
                    }
            preset_note = gr.Markdown("", elem_id="train-preset-note")
            with gr.Accordion("Model and loss", open=True):
                model = gr.Dropdown(MODELS, value=start_config.model, label="Model", elem_id="train-model")
                loss = gr.Dropdown(LOSSES, value=start_config.loss, label="Loss (objective)", elem_id="train-loss")
                clusters = gr.Dropdown(
                    CLUSTER_CHOICES,
                    value="auto",
                    label="k-means clusters (found without labels)",
                    allow_custom_value=True,
                    elem_id="train-clusters",
                    info="G and D are told which cluster of the data each sample belongs to: each cluster is an easier "
                    "game (2D: one blob each). 'off' plays the plain game, where mode collapse can happen.",
                )
                with gr.Row():
                    noise_dim = gr.Number(start_config.noise_dim, label="Noise dimension", precision=0)
                    noise_distribution = gr.Dropdown(
                        ["normal", "uniform"], value=start_config.noise_distribution, label="Noise distribution"
                    )
                with gr.Row():
                    width = gr.Number(start_config.width, label="Width", precision=0)
                    depth = gr.Number(start_config.depth, label="Depth (hidden layers)", precision=0)
                    seed = gr.Number(start_config.seed, label="Seed", precision=0)
            with gr.Accordion("Optimisation (changes apply live)", open=True):
                with gr.Row():
                    lr_g = gr.Number(start_config.lr_g, label="Learning rate G", elem_id="train-lr-g")
                    lr_d = gr.Number(start_config.lr_d, label="Learning rate D", elem_id="train-lr-d")
                with gr.Row():
                    beta1 = gr.Number(start_config.beta1, label="Adam beta1")
                    beta2 = gr.Number(start_config.beta2, label="Adam beta2")
                with gr.Row():
                    batch_size = gr.Number(start_config.batch_size, label="Batch size", precision=0, elem_id="train-batch-size")
                    d_steps = gr.Number(start_config.d_steps, label="D steps per G step", precision=0)
            with gr.Accordion("WGAN and regularisation", open=False):
                with gr.Row():
                    gp_weight = gr.Number(start_config.gp_weight, label="Gradient penalty weight (WGAN-GP)")
                    clip_value = gr.Number(start_config.clip_value, label="Weight clip (WGAN)")
                spectral_norm = gr.Checkbox(start_config.spectral_norm, label="Spectral norm in D")

        # ---------------- the live game ----------------
        with gr.Column(scale=2):
            with gr.Row():
                start_btn = gr.Button("Start", variant="primary", elem_id="train-start")
                pause_btn = gr.Button("Pause", elem_id="train-pause")
                resume_btn = gr.Button("Resume", elem_id="train-resume")
                step_btn = gr.Button("Step (1 D + 1 G move)", elem_id="train-step")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="train-stop")
                reset_btn = gr.Button("Reset", elem_id="train-reset")
            status = gr.Markdown(status_markdown(None), elem_id="train-status")
            with gr.Accordion("The game as a graph (hover or tap a box)", open=True):
                graph = gr.HTML(
                    overview_svg(dataclasses.asdict(start_config), None), js_on_load=TAP_TO_EXPLAIN_JS, elem_id="train-graph"
                )
            with gr.Row():
                live = gr.Image(
                    label="Live view",
                    format="png",
                    interactive=False,
                    height=460,
                    elem_id="train-live",
                    elem_classes=["ganlab-crisp"],
                    buttons=["download", "fullscreen"],
                )
                # One picture drawn on the server with every preview (ganlab.curves): live line plots
                # redrawn in the browser took a fifth of a 2-core machine's training speed.
                curves = gr.Image(
                    label="Training curves",
                    format="png",
                    interactive=False,
                    height=460,
                    elem_id="train-curves",
                    buttons=["download", "fullscreen"],
                )
            metrics = gr.Markdown("", elem_id="train-metrics")
            step_note = gr.Markdown("", elem_id="train-step-note")
            with gr.Accordion("Time-lapse (image models)", open=False, visible="hidden") as timelapse_box:
                frame_slider = gr.Slider(0, 1, value=0, step=1, label="Snapshot", elem_id="train-timelapse-slider")
                frame_image = gr.Image(
                    label="Samples at this snapshot",
                    format="png",
                    interactive=False,
                    height=300,
                    elem_classes=["ganlab-crisp"],
                    elem_id="train-timelapse-frame",
                )
                gif_btn = gr.Button("Make an animated GIF", size="sm", elem_id="train-gif")
            with gr.Accordion("Save or load a run", open=False):
                with gr.Row():
                    save_name = gr.Textbox(label="Checkpoint name", placeholder="e.g. ring8-healthy", elem_id="train-save-name")
                    overwrite = gr.Checkbox(False, label="overwrite")
                    save_btn = gr.Button("Save", elem_id="train-save")
                with gr.Row():
                    # Custom values are refused in the handler, not here: the choices depend on the browser.
                    saved_runs = gr.Dropdown(
                        saved_run_choices(None),
                        label="Saved runs (mine/: yours only)",
                        allow_custom_value=True,
                        elem_id="train-saved-runs",
                    )
                    refresh_btn = gr.Button("↻", size="sm", scale=0)
                    load_btn = gr.Button("Load into the Train tab", elem_id="train-load")
                with gr.Row():
                    admin_key = gr.Textbox(
                        label="Admin key (the teacher's, printed where the app started)",
                        type="password",
                        elem_id="train-admin-key",
                        scale=3,
                    )
                    publish_btn = gr.Button("Publish the picked run to the class", elem_id="train-publish", scale=2)
                save_note = gr.Markdown("", elem_id="train-save-note")
                download = gr.File(label="Download", interactive=False, elem_id="train-download")

    config_inputs = [
        model,
        loss,
        lr_g,
        lr_d,
        beta1,
        beta2,
        batch_size,
        d_steps,
        noise_dim,
        noise_distribution,
        width,
        depth,
        seed,
        gp_weight,
        clip_value,
        spectral_norm,
        clusters,
    ]
    run_inputs = [dataset, drawing, points_csv, images_zip, *config_inputs]
    live_inputs = [lr_g, lr_d, beta1, beta2, batch_size, d_steps, gp_weight, clip_value]
    button_outputs = [status, step_note, timer]
    cheap = dict(concurrency_limit=None, show_progress="hidden")

    def build(values: dict[str, Any]) -> tuple[TrainingConfig, Any, str]:
        name, data, label = resolve_data(values["dataset"], values["drawing"], values["points_csv"], values["images_zip"])
        return settings_to_config(name, values), data, label

    def active() -> gr.Timer:
        return gr.Timer(active=True)

    # ---------------- the controls ----------------
    @friendly
    def train_start(
        dataset: str = "ring8",
        drawing: Any = None,
        points_csv: str | None = None,
        images_zip: str | None = None,
        model: str = "mlp",
        loss: str = "nonsaturating",
        lr_g: float | None = None,
        lr_d: float | None = None,
        beta1: float | None = None,
        beta2: float | None = None,
        batch_size: int | None = None,
        d_steps: int | None = None,
        noise_dim: int | None = None,
        noise_distribution: str = "normal",
        width: int | None = None,
        depth: int | None = None,
        seed: int | None = None,
        gp_weight: float | None = None,
        clip_value: float | None = None,
        spectral_norm: bool = False,
        clusters: str = "auto",
        request: gr.Request = None,
    ):
        """Start a new run from these settings (fresh weights); it trains until paused or stopped."""
        config, data, label = build(locals())
        snapshot = manager.start(request.session_hash, config, data, label=label, client=client_of(request))
        return status_markdown(snapshot), "", active()

    @friendly
    def train_step(
        dataset: str = "ring8",
        drawing: Any = None,
        points_csv: str | None = None,
        images_zip: str | None = None,
        model: str = "mlp",
        loss: str = "nonsaturating",
        lr_g: float | None = None,
        lr_d: float | None = None,
        beta1: float | None = None,
        beta2: float | None = None,
        batch_size: int | None = None,
        d_steps: int | None = None,
        noise_dim: int | None = None,
        noise_distribution: str = "normal",
        width: int | None = None,
        depth: int | None = None,
        seed: int | None = None,
        gp_weight: float | None = None,
        clip_value: float | None = None,
        spectral_norm: bool = False,
        clusters: str = "auto",
        request: gr.Request = None,
    ):
        """Exactly one D move, then one G move, and what each did (pauses a running run first)."""
        key = request.session_hash
        if not manager.has_run(key):
            config, data, label = build(locals())
            manager.create(key, config, data, label=label, client=client_of(request))
        note = describe_moves(manager.step(key))
        return status_markdown(manager.snapshot(key)), note, active()

    @friendly
    def train_reset(
        dataset: str = "ring8",
        drawing: Any = None,
        points_csv: str | None = None,
        images_zip: str | None = None,
        model: str = "mlp",
        loss: str = "nonsaturating",
        lr_g: float | None = None,
        lr_d: float | None = None,
        beta1: float | None = None,
        beta2: float | None = None,
        batch_size: int | None = None,
        d_steps: int | None = None,
        noise_dim: int | None = None,
        noise_distribution: str = "normal",
        width: int | None = None,
        depth: int | None = None,
        seed: int | None = None,
        gp_weight: float | None = None,
        clip_value: float | None = None,
        spectral_norm: bool = False,
        clusters: str = "auto",
        request: gr.Request = None,
    ):
        """Fresh weights from these settings; not training until Resume, Start or Step."""
        config, data, label = build(locals())
        snapshot = manager.reset(request.session_hash, config, data, label=label, client=client_of(request))
        return status_markdown(snapshot), "Reset: fresh weights. Press Resume to train, or Step.", active()

    @friendly
    def train_pause(request: gr.Request):
        """Pause training (the thread waits; Step and Resume continue from here)."""
        return status_markdown(manager.pause(request.session_hash)), gr.skip(), active()

    @friendly
    def train_resume(request: gr.Request):
        """Continue training the current run (or queue for a free slot)."""
        return status_markdown(manager.resume(request.session_hash)), gr.skip(), active()

    @friendly
    def train_stop(request: gr.Request):
        """Stop training; the weights are kept (Resume continues, Save saves them)."""
        return status_markdown(manager.stop(request.session_hash)), gr.skip(), active()

    start_btn.click(train_start, run_inputs, button_outputs, api_name="train_start", **cheap)
    step_btn.click(train_step, run_inputs, button_outputs, api_name="train_step", **cheap)
    reset_btn.click(train_reset, run_inputs, button_outputs, api_name="train_reset", **cheap)
    pause_btn.click(train_pause, None, button_outputs, api_name="train_pause", **cheap)
    resume_btn.click(train_resume, None, button_outputs, api_name="train_resume", **cheap)
    stop_btn.click(train_stop, None, button_outputs, api_name="train_stop", **cheap)

    @friendly
    def train_update(
        lr_g: float,
        lr_d: float,
        beta1: float,
        beta2: float,
        batch_size: int,
        d_steps: int,
        gp_weight: float,
        clip_value: float,
        request: gr.Request,
    ):
        """Apply learning rates, betas, batch size, D steps (and WGAN settings) to the running run."""
        key = request.session_hash
        if not manager.has_run(key):
            return gr.skip()
        values = locals()
        try:
            changes = {name: _number(name, values[name]) for name in TrainingConfig.LIVE_FIELDS}
            manager.update(key, **changes)
        except ValueError as error:
            gr.Warning(f"not applied: {error}")
            return gr.skip()
        config = manager.snapshot(key).config
        return (
            f"Applied live: lr G {config['lr_g']:g}, lr D {config['lr_d']:g}, betas ({config['beta1']:g}, "
            f"{config['beta2']:g}), batch {config['batch_size']}, D steps {config['d_steps']}."
        )

    gr.on(
        [trigger for box in live_inputs for trigger in (box.submit, box.blur)],
        train_update,
        live_inputs,
        step_note,
        api_name="train_update",
        trigger_mode="always_last",
        **cheap,
    )

    # ---------------- data and presets ----------------
    def config_updates(config: TrainingConfig) -> list[Any]:
        return [clusters_choice(config) if name == "clusters" else getattr(config, name) for name in CONFIG_FIELDS]

    @friendly
    def train_dataset(dataset: str):
        """Show the inputs this data needs and load its default settings."""
        config = _dataset_defaults(dataset)
        two_d = dataset in TWO_D
        return (
            describe_dataset(dataset),
            gr.update(visible=dataset == "draw"),
            gr.update(visible=dataset == "csv"),
            gr.update(visible=dataset == "folder"),
            gr.update(visible=two_d),
            "",
            *config_updates(config),
        )

    dataset.input(
        train_dataset,
        dataset,
        [dataset_note, drawing, points_csv, images_zip, preset_group, preset_note, *config_inputs],
        api_name="train_dataset",
        **cheap,
    )

    def make_preset_handler(name: str) -> Callable:
        @friendly
        def apply_preset(dataset: str):
            base = {"draw": "custom", "csv": "custom"}.get(dataset, dataset)
            if kind_of(base) != "points":
                raise RunError("the presets are for the 2D datasets; pick one of them first")
            preset = presets(base)[name]
            note = f"**{preset.title}** loaded. Press **Start**, then look for this:\n\n{preset.what_to_look_for}"
            return note, *config_updates(preset.config)

        apply_preset.__name__ = f"train_preset_{name.replace('-', '_')}"
        return apply_preset

    for name, button in preset_buttons.items():
        handler = make_preset_handler(name)
        button.click(handler, dataset, [preset_note, *config_inputs], api_name=handler.__name__, **cheap)

    # ---------------- the live view ----------------
    tick_outputs = [status, graph, live, curves, metrics, step_note, timelapse_box, frame_slider, frame_image, seen, timer]

    watchers: dict[str, object] = {}  # session -> its one live stream (a newer one replaces it)
    viewed_frames: dict[str, float] = {}  # session -> the time-lapse frame its viewer went back to

    def nothing(seen_state: dict, keep_going: bool) -> tuple[tuple, bool]:
        return (*[gr.skip()] * (len(tick_outputs) - 2), seen_state), keep_going

    def tick(seen_state: dict, browser_token: str, shown_frame: float, key: str) -> tuple[tuple, bool]:
        """One update of the live view: the outputs (all but the timer) and whether to go on."""
        seen_state = dict(seen_state or {})
        snapshot = manager.snapshot(key, max_points=0)  # no history: the curves come drawn with the preview
        if snapshot is None and browser_token and manager.attach(browser_token, key):
            snapshot = manager.snapshot(key, max_points=0)  # a reload found the run it left behind
        if snapshot is None:
            waiting = seen_state.setdefault("waiting_since", time.time())
            keep = bool(browser_token) and manager.has_run_for_token(browser_token) and time.time() - waiting < REATTACH_WAIT_S
            return nothing(seen_state, keep)
        seen_state.pop("waiting_since", None)
        training = snapshot.status in ("running", "queued")
        same_run = seen_state.get("run") == snapshot.run_id
        if same_run and seen_state.get("version") == snapshot.version and not training:
            return nothing(seen_state, False)
        preview = manager.preview(key, force=not training)
        picture = curve_picture = gr.skip()
        # Only a picture that changed is sent: the browser fetches and decodes each one on the cores the
        # training needs (the curves and an image run's samples are redrawn about once a second).
        if preview is not None and (not same_run or seen_state.get("preview") != preview.made_at):
            picture = str(preview.path) if preview.path is not None else preview.picture
        if preview is not None and (not same_run or seen_state.get("curves") != preview.curves_at):
            curve_picture = str(preview.curves_path) if preview.curves_path is not None else preview.curves
        frames = snapshot.timelapse_frames
        slider = frame = gr.skip()
        if frames and (not same_run or seen_state.get("frames") != frames):
            label = f"Snapshot ({frames} taken every few seconds)"
            # Follow the newest frame unless the viewer went back to look at an older one.
            if not same_run or (shown_frame or 0) >= seen_state.get("frames", 0) - 1:
                slider = gr.update(maximum=max(1, frames - 1), value=frames - 1, label=label)
                frame = timelapse_update(manager.timelapse_frame(key, frames - 1))
                viewed_frames[key] = frames - 1
            else:
                slider = gr.update(maximum=max(1, frames - 1), label=label)
        kind_changed = seen_state.get("kind") != snapshot.kind
        note_text = step_note_markdown(snapshot)
        game = graph_html(snapshot)
        note_changed = not same_run or note_text != seen_state.get("note")
        game_changed = game != seen_state.get("graph")
        seen_state.update(
            run=snapshot.run_id,
            version=snapshot.version,
            frames=frames,
            kind=snapshot.kind,
            preview=preview.made_at if preview is not None else None,
            curves=preview.curves_at if preview is not None else None,
            note=note_text,
            graph=game,
        )
        return (
            status_markdown(snapshot),
            game if game_changed else gr.skip(),
            picture,
            curve_picture,
            metrics_markdown(preview.metrics if preview is not None else None) if snapshot.kind == "2d" else "",
            note_text if note_changed else gr.skip(),
            gr.update(visible=True if snapshot.kind == "images" else "hidden") if kind_changed else gr.skip(),
            slider,
            frame,
            seen_state,
        ), training  # a paused or stopped run was drawn one last time: the stream ends

    async def train_watch(seen_state: dict, browser_token: str, shown_frame: float, request: gr.Request):
        """The live view, streamed: an update every TICK_SECONDS (an image run: IMAGE_TICK_SECONDS) while the
        run trains (undocumented API).

        Async, so that a viewer waiting between updates holds no server thread; each update is
        computed in a thread (the preview is drawn there)."""
        key = request.session_hash
        me = watchers[key] = object()
        timer_update: Any = gr.Timer(active=False)  # the timer only starts streams: it rests while one runs
        try:
            while watchers.get(key) is me:
                started = time.monotonic()
                frame = viewed_frames.get(key, shown_frame)
                outputs, going_on = await asyncio.to_thread(tick, seen_state, browser_token, frame, key)
                seen_state = outputs[-1]
                yield (*outputs, timer_update)
                # Later updates leave the timer alone: a Start in the meantime may have set it going again.
                timer_update = gr.skip()
                if not going_on:
                    return
                period = IMAGE_TICK_SECONDS if seen_state.get("kind") == "images" else TICK_SECONDS
                await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))
        finally:
            if watchers.get(key) is me:
                del watchers[key]

    # always_last: a tick that arrives while a stream is starting runs after it (not dropped).
    timer.tick(
        train_watch,
        [seen, token, frame_slider],
        tick_outputs,
        api_name="train_watch",
        api_visibility="undocumented",
        trigger_mode="always_last",
        **cheap,
    )

    @friendly
    def train_timelapse_frame(index: float, request: gr.Request):
        """One snapshot of the time-lapse (image models)."""
        viewed_frames[request.session_hash] = index or 0  # the live stream stops following the newest
        return timelapse_update(manager.timelapse_frame(request.session_hash, int(index or 0)))

    frame_slider.release(
        train_timelapse_frame, frame_slider, frame_image, api_name="train_timelapse_frame", trigger_mode="always_last", **cheap
    )

    @friendly
    def train_gif(request: gr.Request):
        """The time-lapse as an animated GIF file."""
        return str(manager.timelapse_gif(request.session_hash))

    gif_btn.click(train_gif, None, download, api_name="train_gif", concurrency_limit=2, concurrency_id="train_files")

    # ---------------- saving and loading ----------------
    @friendly
    def train_save(name: str, overwrite: bool, request: gr.Request):
        """Save the run as a resumable checkpoint of this browser's own and offer it as a .zip download."""
        key, owner = request.session_hash, owners.owner_of(request.session_hash)
        name = validate_name(name)
        manager.save(key, name, overwrite=bool(overwrite), owner=owner)
        archive = manager.export_zip(key, name, owner=owner)
        note = (
            f"Saved as **mine/{name}**, yours only: the Explore tab lists it for you, and **Load** brings it "
            "back here to keep training. To share it with the class, publish it with the admin key."
        )
        return note, str(archive), gr.update(choices=saved_run_choices(owner), value=f"mine/{name}")

    save_btn.click(
        train_save,
        [save_name, overwrite],
        [save_note, download, saved_runs],
        api_name="train_save",
        concurrency_limit=2,
        concurrency_id="train_files",
    )

    def train_saved_runs(request: gr.Request):
        """The saved runs this browser can load back: its own, and the ones published to the class."""
        return gr.update(choices=saved_run_choices(owners.owner_of(request.session_hash)))

    refresh_btn.click(train_saved_runs, None, saved_runs, api_name="train_saved_runs", **cheap)

    @friendly
    def train_publish(label: str, key: str, overwrite: bool, request: gr.Request):
        """Share one of this browser's saved runs with the class (needs the admin key off loopback); the
        run's own training data (uploaded images, drawn points) is not shared."""
        if not label:
            raise RunError("pick one of your saved runs (mine/...) first")
        if not str(label).startswith(MINE):
            raise RunError(f"{label!r} is not one of your own runs; only mine/... runs can be published")
        admin.check(key, what="publishing a run to the class")
        owner = owners.owner_of(request.session_hash)
        shared = publish(owner, str(label).removeprefix(MINE), overwrite=bool(overwrite))
        note = (
            f"Published as **{shared}**: everyone's Explore, Evaluate and Quiz tabs list it, and anyone can "
            "load it here. Your own training data stayed with you."
        )
        return note, gr.update(choices=saved_run_choices(owner), value=shared)

    publish_btn.click(
        train_publish,
        [saved_runs, admin_key, overwrite],
        [save_note, saved_runs],
        api_name="train_publish",
        concurrency_limit=2,
        concurrency_id="train_files",
    )

    @friendly
    def train_load(name: str, request: gr.Request):
        """Load a saved run into this tab (paused: Resume continues training it)."""
        if not name:
            raise RunError("pick a saved run first")
        snapshot = manager.load(
            request.session_hash, name, owner=owners.owner_of(request.session_hash), client=client_of(request)
        )
        config = TrainingConfig(**snapshot.config)
        note = f"Loaded **{name}** at step {snapshot.step:,}. Press **Resume** to keep training it, or **Step**."
        return status_markdown(snapshot), note, active(), *config_updates(config)

    load_btn.click(
        train_load,
        saved_runs,
        [*button_outputs, *config_inputs],
        api_name="train_load",
        concurrency_limit=2,
        concurrency_id="train_files",
    )

    # ---------------- numbers for API clients ----------------
    def train_status(request: gr.Request) -> dict:
        """The run's status and latest numbers as JSON (step, losses, D outputs, rates, queue position)."""
        snapshot = manager.snapshot(request.session_hash)
        if snapshot is None:
            return {"status": "none", "message": "no run yet: call /train_start or /train_step", "step": 0}
        result = snapshot.as_dict()
        with_preview = manager.preview(request.session_hash) if snapshot.kind == "2d" else None
        if with_preview is not None and with_preview.metrics:
            result["metrics"] = with_preview.metrics
        return result

    gr.api(train_status, api_name="train_status", concurrency_limit=None)

    # ---------------- sessions: a reload keeps the run, closing the tab frees it ----------------
    def train_attach(browser_token: str, request: gr.Request):
        """Bind this page to its browser (a reload finds its run again; saved runs are its own)."""
        key = request.session_hash
        browser_token = browser_token or secrets.token_urlsafe(18)
        manager.bind_token(key, browser_token)
        owners.bind(key, browser_token)
        found = manager.attach(browser_token, key) or manager.has_run_for_token(browser_token)
        choices = gr.update(choices=saved_run_choices(owners.owner_of(key)))
        return browser_token, gr.Timer(active=found), choices

    def train_release(request: gr.Request) -> None:
        watchers.pop(request.session_hash, None)
        viewed_frames.pop(request.session_hash, None)
        manager.release(request.session_hash)
        owners.forget(request.session_hash)

    if blocks is not None:
        blocks.load(train_attach, token, [token, timer, saved_runs], api_name="train_attach", api_visibility="private", **cheap)
        blocks.unload(train_release)
    return manager

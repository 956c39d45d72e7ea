"""The Train tab's handlers: a thin class over the RunManager (ganlab.live.manager), which owns the runs (each
trains in a worker process of its own), the saved runs' owners and the admin key. Each method is one event of
the tab (``TrainTab.start`` is ``/train_start``); errors reach the browser as one sentence (gr.Error)."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from typing import Any

import gradio as gr

from ganlab.admin import AdminKey, AdminKeyError
from ganlab.checkpoints import CheckpointError
from ganlab.data.errors import DataError
from ganlab.data.registry import kind_of
from ganlab.live import RunError, RunManager, validate_name
from ganlab.owners import MINE, OwnershipError, SessionOwners, publish, saved_folders
from ganlab.presets import presets
from ganlab.training import TrainingConfig
from ganlab.ui.train_inputs import TWO_D, config_dataset, dataset_defaults, live_changes, run_request, shown
from ganlab.ui.train_live import LiveStream
from ganlab.ui.train_text import describe_dataset, describe_moves, status_markdown

log = logging.getLogger(__name__)


def friendly(fn: Callable) -> Callable:
    """Turn errors into messages for people (gr.Error), never a stack trace in the browser."""

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


def saved_run_choices(owner: str | None) -> list[str]:
    """The runs this person can load: their own (mine/...) and the class's (saved/...)."""
    return list(saved_folders(owner, resumable_only=True))


def client_of(request: gr.Request | None) -> str:
    """The address a request came from: the per-client limit on live runs counts by it."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


def _active() -> gr.Timer:
    """The timer that starts the live stream, set going (ganlab.ui.train_live)."""
    return gr.Timer(active=True)


class TrainTab:
    """The Train tab's events over one RunManager; each browser session (``request.session_hash``) has one run.

    ``owners`` maps sessions to the browsers that own saved runs; ``admin`` is the key that publishes a run to
    the class. Start, Step and Reset take every run input by name (ganlab.ui.train_inputs.RUN_INPUTS)."""

    def __init__(self, manager: RunManager, owners: SessionOwners | None = None, admin: AdminKey | None = None) -> None:
        self.manager = manager
        self.owners = owners or SessionOwners()
        self.admin = admin or AdminKey()
        self.live = LiveStream(manager)

    def _owner(self, request: gr.Request) -> str | None:
        return self.owners.owner_of(request.session_hash)

    # -- the controls ---------------------------------------------------------------------------------
    @friendly
    def start(self, values: dict[str, Any], request: gr.Request) -> tuple:
        """Start a new run from these settings (fresh weights); it trains until paused or stopped."""
        config, data, label = run_request(values)
        snapshot = self.manager.start(request.session_hash, config, data, label=label, client=client_of(request))
        return status_markdown(snapshot), "", _active()

    @friendly
    def step(self, values: dict[str, Any], request: gr.Request) -> tuple:
        """Exactly one D move, then one G move, and what each did (pauses a running run first)."""
        key = request.session_hash
        if not self.manager.has_run(key):
            config, data, label = run_request(values)
            self.manager.create(key, config, data, label=label, client=client_of(request))
        note = describe_moves(self.manager.step(key))
        return status_markdown(self.manager.snapshot(key)), note, _active()

    @friendly
    def reset(self, values: dict[str, Any], request: gr.Request) -> tuple:
        """Fresh weights from these settings; not training until Resume, Start or Step."""
        config, data, label = run_request(values)
        snapshot = self.manager.reset(request.session_hash, config, data, label=label, client=client_of(request))
        return status_markdown(snapshot), "Reset: fresh weights. Press Resume to train, or Step.", _active()

    @friendly
    def pause(self, request: gr.Request) -> tuple:
        """Pause training (the thread waits; Step and Resume continue from here)."""
        return status_markdown(self.manager.pause(request.session_hash)), gr.skip(), _active()

    @friendly
    def resume(self, request: gr.Request) -> tuple:
        """Continue training the current run (or queue for a free slot)."""
        return status_markdown(self.manager.resume(request.session_hash)), gr.skip(), _active()

    @friendly
    def stop(self, request: gr.Request) -> tuple:
        """Stop training; the weights are kept (Resume continues, Save saves them)."""
        return status_markdown(self.manager.stop(request.session_hash)), gr.skip(), _active()

    @friendly
    def update(self, values: dict[str, Any], request: gr.Request) -> Any:
        """Apply learning rates, betas, batch size, D steps (and WGAN settings) to the running run."""
        key = request.session_hash
        if not self.manager.has_run(key):
            return gr.skip()
        try:
            self.manager.update(key, **live_changes(values))
        except ValueError as error:
            gr.Warning(f"not applied: {error}")
            return gr.skip()
        config = self.manager.snapshot(key).config
        return (
            f"Applied live: lr G {config['lr_g']:g}, lr D {config['lr_d']:g}, betas ({config['beta1']:g}, "
            f"{config['beta2']:g}), batch {config['batch_size']}, D steps {config['d_steps']}."
        )

    # -- data and presets -----------------------------------------------------------------------------
    @friendly
    def dataset(self, dataset: str) -> tuple:
        """Show the inputs this data needs and load its default settings."""
        config = dataset_defaults(dataset)
        return (
            describe_dataset(dataset),
            gr.update(visible=dataset == "draw"),
            gr.update(visible=dataset == "csv"),
            gr.update(visible=dataset == "folder"),
            gr.update(visible=dataset in TWO_D),
            "",
            *shown(config),
        )

    def preset(self, name: str) -> Callable[[str], tuple]:
        """The handler of one preset's button: its note and its settings."""

        @friendly
        def apply_preset(dataset: str) -> tuple:
            base = config_dataset(dataset)
            if kind_of(base) != "points":
                raise RunError("the presets are for the 2D datasets; pick one of them first")
            preset = presets(base)[name]
            note = f"**{preset.title}** loaded. Press **Start**, then look for this:\n\n{preset.what_to_look_for}"
            return note, *shown(preset.config)

        apply_preset.__name__ = f"train_preset_{name.replace('-', '_')}"
        return apply_preset

    # -- the time-lapse -------------------------------------------------------------------------------
    @friendly
    def timelapse_frame(self, index: float, request: gr.Request) -> Any:
        """One snapshot of the time-lapse (image models)."""
        return self.live.view_frame(request.session_hash, index)

    @friendly
    def gif(self, request: gr.Request) -> str:
        """The time-lapse as an animated GIF file."""
        return str(self.manager.timelapse_gif(request.session_hash))

    # -- saving and loading ---------------------------------------------------------------------------
    @friendly
    def save(self, name: str, overwrite: bool, request: gr.Request) -> tuple:
        """Save the run as a resumable checkpoint of this browser's own and offer it as a .zip download."""
        key, owner = request.session_hash, self._owner(request)
        name = validate_name(name)
        self.manager.save(key, name, overwrite=bool(overwrite), owner=owner)
        archive = self.manager.export_zip(key, name, owner=owner)
        note = (
            f"Saved as **mine/{name}**, yours only: the Explore tab lists it for you, and **Load** brings it "
            "back here to keep training. To share it with the class, publish it with the admin key."
        )
        return note, str(archive), gr.update(choices=saved_run_choices(owner), value=f"mine/{name}")

    def saved_runs(self, request: gr.Request) -> Any:
        """The saved runs this browser can load back: its own, and the ones published to the class."""
        return gr.update(choices=saved_run_choices(self._owner(request)))

    @friendly
    def publish(self, label: str, key: str, overwrite: bool, request: gr.Request) -> tuple:
        """Share one of this browser's saved runs with the class (needs the admin key off loopback); the
        run's own training data (uploaded images, drawn points) is not shared."""
        if not label:
            raise RunError("pick one of your saved runs (mine/...) first")
        if not str(label).startswith(MINE):
            raise RunError(f"{label!r} is not one of your own runs; only mine/... runs can be published")
        self.admin.check(key, what="publishing a run to the class")
        owner = self._owner(request)
        shared = publish(owner, str(label).removeprefix(MINE), overwrite=bool(overwrite))
        note = (
            f"Published as **{shared}**: everyone's Explore, Evaluate and Quiz tabs list it, and anyone can "
            "load it here. Your own training data stayed with you."
        )
        return note, gr.update(choices=saved_run_choices(owner), value=shared)

    @friendly
    def load(self, name: str, request: gr.Request) -> tuple:
        """Load a saved run into this tab (paused: Resume continues training it)."""
        if not name:
            raise RunError("pick a saved run first")
        snapshot = self.manager.load(request.session_hash, name, owner=self._owner(request), client=client_of(request))
        config = TrainingConfig(**snapshot.config)
        note = f"Loaded **{name}** at step {snapshot.step:,}. Press **Resume** to keep training it, or **Step**."
        return status_markdown(snapshot), note, _active(), *shown(config)

    # -- numbers for API clients ----------------------------------------------------------------------
    def status(self, request: gr.Request) -> dict:
        """The run's status and latest numbers as JSON (step, losses, D outputs, rates, queue position)."""
        snapshot = self.manager.snapshot(request.session_hash)
        if snapshot is None:
            return {"status": "none", "message": "no run yet: call /train_start or /train_step", "step": 0}
        result = snapshot.as_dict()
        with_preview = self.manager.preview(request.session_hash) if snapshot.kind == "2d" else None
        if with_preview is not None and with_preview.metrics:
            result["metrics"] = with_preview.metrics
        return result

    # -- sessions: a reload keeps the run, closing the tab frees it -----------------------------------
    def attach(self, browser_token: str, request: gr.Request) -> tuple:
        """Bind this page to its browser (a reload finds its run again; saved runs are its own)."""
        key = request.session_hash
        browser_token = browser_token or secrets.token_urlsafe(18)
        self.manager.bind_token(key, browser_token)
        self.owners.bind(key, browser_token)
        found = self.manager.attach(browser_token, key) or self.manager.has_run_for_token(browser_token)
        return browser_token, gr.Timer(active=found), gr.update(choices=saved_run_choices(self.owners.owner_of(key)))

    def release(self, request: gr.Request) -> None:
        self.live.forget(request.session_hash)
        self.manager.release(request.session_hash)
        self.owners.forget(request.session_hash)

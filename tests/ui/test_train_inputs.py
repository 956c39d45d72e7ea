"""The Train tab's run inputs (ganlab.ui.train_inputs): the controls' values become the TrainingConfig a run
starts from, every setting reaches it, the ones without a control keep the dataset's defaults, and bad values
are named in one message."""

from __future__ import annotations

import dataclasses
import inspect

import gradio as gr
import pytest

from ganlab.data.errors import DataError
from ganlab.live import RunError
from ganlab.presets import default_config, presets
from ganlab.training import TrainingConfig
from ganlab.ui.train_inputs import (
    LIVE_INPUTS,
    RUN_INPUTS,
    SETTING_NAMES,
    RunForm,
    live_changes,
    resolve_data,
    run_request,
    settings,
    shown,
    takes,
)


def controls_showing(config: TrainingConfig, dataset: str) -> dict:
    """What the tab sends for ``config``: the picked dataset and each setting's control as it shows it."""
    return {"dataset": dataset, **dict(zip(SETTING_NAMES, shown(config), strict=True))}


# Every setting changed away from ring8's default, as the controls would send it (numbers may come as floats).
CHANGED = {
    "loss": "hinge",
    "lr_g": 3e-4,
    "lr_d": 4e-4,
    "beta1": 0.3,
    "beta2": 0.95,
    "batch_size": 48.0,
    "d_steps": 3,
    "noise_dim": 5,
    "noise_distribution": "uniform",
    "width": 40,
    "depth": 4.0,
    "seed": 7,
    "gp_weight": 2.5,
    "clip_value": 0.05,
    "spectral_norm": True,
    "clusters": "6",
}


def test_every_setting_is_a_config_field_and_the_api_takes_the_data_first():
    fields = {field.name for field in dataclasses.fields(TrainingConfig)}
    assert set(SETTING_NAMES) <= fields
    assert RUN_INPUTS[:4] == ("dataset", "drawing", "points_csv", "images_zip")
    assert RUN_INPUTS[4:] == SETTING_NAMES and len(set(RUN_INPUTS)) == len(RUN_INPUTS)
    assert LIVE_INPUTS == TrainingConfig.LIVE_FIELDS


def test_every_setting_reaches_the_config():
    default = default_config("ring8")
    config = settings({**controls_showing(default, "ring8"), **CHANGED})
    expected = {**CHANGED, "batch_size": 48, "depth": 4, "clusters": 6}
    for name, value in expected.items():
        assert getattr(default, name) != value, f"{name}: pick a value that differs from the default"
        assert getattr(config, name) == value, name
    assert isinstance(config.batch_size, int) and isinstance(config.depth, int)
    images = settings({**controls_showing(default_config("mnist"), "mnist"), "model": "dcgan"})
    assert images.model == "dcgan" and images.dataset == "mnist"


@pytest.mark.parametrize("dataset", ["ring8", "grid25", "draw", "csv", "mnist", "folder"])
def test_the_defaults_the_controls_show_give_back_the_datasets_defaults(dataset):
    """Settings without a control (the weight average, the cluster method, ...) keep the dataset's defaults,
    not the bare TrainingConfig's."""
    name = {"draw": "custom", "csv": "custom"}.get(dataset, dataset)
    default = default_config(name)
    assert settings(controls_showing(default, dataset)) == default


def test_settings_without_a_control_follow_the_data_and_the_clusters():
    ring = settings(controls_showing(default_config("ring8"), "ring8"))
    assert ring.ema_decay == default_config("ring8").ema_decay != TrainingConfig().ema_decay
    plain = settings({**controls_showing(default_config("ring8"), "ring8"), "clusters": "off"})
    assert plain.clusters == 0 and plain.ema_decay == default_config("ring8", clusters=0).ema_decay == 0.0
    digits = settings({**controls_showing(default_config("ring8"), "ring8"), "dataset": "mnist", "model": "dcgan"})
    assert digits.ema_decay == default_config("mnist", "dcgan").ema_decay and digits.clusters == 50  # "auto"


@pytest.mark.parametrize("preset", list(presets("ring8")))
def test_a_preset_shown_in_the_controls_starts_the_same_run(preset):
    config = presets("ring8")[preset].config
    assert settings(controls_showing(config, "ring8")) == config


def test_bad_values_are_all_named_in_one_message():
    values = {
        **controls_showing(default_config("ring8"), "ring8"),
        "lr_g": "fast",
        "width": None,
        "batch_size": 2.5,
        "clusters": "lots",
        "model": "",
    }
    with pytest.raises(RunError) as error:
        settings(values)
    message = str(error.value)
    for part in (
        "learning rate G must be a number; got 'fast'",
        "width is empty; give a number",
        "batch size must be a whole number; got 2.5",
        "clusters must be 'auto', 'off' or a whole number; got 'lots'",
        "model is empty; pick one",
    ):
        assert part in message
    assert isinstance(error.value, ValueError)  # the tab shows ValueErrors as they are


def test_values_the_config_refuses_say_why():
    values = controls_showing(default_config("ring8"), "ring8")
    with pytest.raises(ValueError, match=r"learning rate lr_g must be > 0 and <= 1; got 5"):
        settings({**values, "lr_g": 5})
    with pytest.raises(ValueError, match="model must be one of"):
        settings({**values, "model": "transformer"})
    with pytest.raises(RunError, match="seed is missing"):
        settings({key: value for key, value in values.items() if key != "seed"})


def test_live_changes_read_only_the_live_settings():
    values = {"lr_g": "5e-4", "lr_d": 1e-3, "beta1": 0.5, "beta2": 0.99, "batch_size": 32.0, "d_steps": 2}
    changes = live_changes({**values, "gp_weight": 10, "clip_value": 0.01, "width": "ignored"})
    assert changes == {**values, "lr_g": 5e-4, "batch_size": 32, "gp_weight": 10.0, "clip_value": 0.01}
    with pytest.raises(RunError, match="D steps per G step is empty"):
        live_changes({**values, "d_steps": " ", "gp_weight": 10, "clip_value": 0.01})


def test_the_data_inputs_say_what_is_missing():
    values = {**controls_showing(default_config("ring8"), "ring8"), "drawing": None, "points_csv": None, "images_zip": None}
    config, data, label = run_request(values)
    assert config.dataset == "ring8" and label == "ring8" and data.num_modes == 8
    with pytest.raises(DataError, match="drawing is empty"):
        resolve_data("draw", {"composite": None}, None, None)
    with pytest.raises(DataError, match="upload a CSV file"):
        resolve_data("csv", None, None, None)
    with pytest.raises(DataError, match="unknown dataset 'nowhere'"):
        resolve_data("nowhere", None, None, None)


def test_a_handler_takes_the_run_inputs_by_name():
    calls = []

    def handler(values, request):
        """Start a run."""
        calls.append((values, request))
        return "started"

    event = takes(RUN_INPUTS, handler)
    parameters = list(inspect.signature(event).parameters.values())
    assert [p.name for p in parameters] == [*RUN_INPUTS, "request"]
    assert all(p.default is None for p in parameters)
    # What Gradio reads: the API's parameter names, without the request it fills in itself.
    from gradio import utils

    assert [name for name, *_ in utils.get_function_params(event)] == list(RUN_INPUTS)
    assert event(*range(len(RUN_INPUTS)), "the request") == "started"
    assert calls == [(dict(zip(RUN_INPUTS, range(len(RUN_INPUTS)))), "the request")]
    assert event.__doc__ == "Start a run."


def test_the_form_gives_the_controls_in_the_order_of_the_run_inputs():
    config = default_config("ring8")
    with gr.Blocks():
        form = RunForm(config)
        for name in reversed(SETTING_NAMES):  # laid out in any order
            form.make(name)
        with pytest.raises(ValueError, match="no control for dataset, drawing"):
            form.components()
        for name in ("images_zip", "points_csv", "drawing", "dataset"):
            form.add(name, gr.Textbox())
        with pytest.raises(ValueError, match="laid out twice"):
            form.make("lr_g")
    controls = form.components()
    assert [form.controls[name] for name in RUN_INPUTS] == controls
    assert [control.value for control in form.setting_controls] == shown(config)
    assert [control.label for control in form.live_controls][:2] == ["Learning rate G", "Learning rate D"]

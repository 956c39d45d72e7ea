"""The Train tab's run inputs, declared once: the data pickers, then one ``Setting`` per TrainingConfig field
that has a control. From this list come the controls (``RunForm``), the parameters API clients call Start,
Step and Reset with (``takes``), the config a run starts from (``settings``) and the values the controls show
for a config (``shown``). A field without a control keeps the dataset's default."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

from ganlab.data.errors import DataError
from ganlab.data.registry import DATASETS as KNOWN_DATASETS
from ganlab.data.registry import IMAGE_DATASETS, TOY_DATASETS
from ganlab.data.toy import from_csv, from_points, make_toy
from ganlab.live import RunError
from ganlab.losses import OBJECTIVES
from ganlab.presets import default_config
from ganlab.training import TrainingConfig
from ganlab.views2d import drawing_to_points

DATASETS = [  # the picker: every toy of the registry, then the tab's own sources
    *((f"{KNOWN_DATASETS[name].title} (2D)", name) for name in TOY_DATASETS),
    ("Draw your own (2D)", "draw"),
    ("Upload a CSV of x,y points (2D)", "csv"),
    ("MNIST digits", "mnist"),
    ("Fashion-MNIST", "fashion-mnist"),
    ("Your own images (.zip)", "folder"),
]
TWO_D = (*TOY_DATASETS, "draw", "csv")
MODELS = [
    ("MLP", "mlp"),
    ("DCGAN (images, unconditional)", "dcgan"),
    ("Conditional DCGAN (labelled images)", "cdcgan"),
    ("Conditional MLP (labelled images)", "cmlp"),
]
NOISES = ["normal", "uniform"]
LOSSES = [(f"{name}: {objective.description}", name) for name, objective in OBJECTIVES.items()]
CLUSTER_CHOICES = [
    ("auto: what measured best for this data and model", "auto"),
    ("off: a plain GAN", "off"),
    ("8", "8"),
    ("25", "25"),
    ("50", "50"),
]
# The data a run trains on: the picker, then what the drawn, CSV and zip choices need (laid out by ganlab.ui.train).
DATA_INPUTS = ("dataset", "drawing", "points_csv", "images_zip")


# -- reading one control's value ----------------------------------------------------------------------
def _number(value: Any, said: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RunError(f"{said} is empty; give a number")
    if isinstance(value, bool):
        raise RunError(f"{said} must be a number; got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RunError(f"{said} must be a number; got {value!r}") from None


def _whole_number(value: Any, said: str) -> int:
    number = _number(value, said)
    if not number.is_integer():
        raise RunError(f"{said} must be a whole number; got {value}")
    return int(number)


def _choice(value: Any, said: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RunError(f"{said} is empty; pick one")
    return value.strip() if isinstance(value, str) else value  # anything else: the config says what it may be


def _switch(value: Any, said: str) -> bool:
    return bool(value)


def _clusters(value: Any, said: str) -> int | None:
    """The clusters control's value: "auto" (None here: the dataset's default for the model, i.e. the number
    chosen by silhouette for 2D points, 50 for unconditional images, none for conditional ones), "off" (0) or
    a number of clusters."""
    text = str(value if value is not None else "auto").strip().lower()
    if text in ("auto", ""):
        return None
    if text in ("off", "none"):
        return 0
    try:
        return int(text)
    except ValueError:
        raise RunError(f"{said} must be 'auto', 'off' or a whole number; got {value!r}") from None


def _clusters_shown(config: TrainingConfig) -> str:
    """How the clusters control shows a config's clusters."""
    if config.clusters == default_config(config.dataset, config.model).clusters:
        return "auto"
    return "off" if config.clusters == 0 else str(config.clusters)


# -- the settings ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """One control of a run's settings: the TrainingConfig field it sets, how it is drawn and how it is read."""

    name: str  # the TrainingConfig field, and the parameter's name for API clients
    label: str
    control: Callable[..., gr.components.Component]  # gr.Number, gr.Dropdown or gr.Checkbox
    read: Callable[[Any, str], Any]  # (the control's value, how messages name it) -> the config's value
    said: str = ""  # how messages name it, when not by its label
    options: Mapping[str, Any] = field(default_factory=dict)  # the control's other arguments
    show: Callable[[TrainingConfig], Any] | None = None  # the control's value for a config (default: the field)

    def make(self, config: TrainingConfig) -> gr.components.Component:
        """The control, showing ``config``'s value."""
        return self.control(value=self.shown(config), label=self.label, **self.options)

    def shown(self, config: TrainingConfig) -> Any:
        return self.show(config) if self.show is not None else getattr(config, self.name)

    def value(self, value: Any) -> Any:
        return self.read(value, self.said or self.label)


# In the order of the API's parameters after the data inputs (and of the controls' outputs of the presets,
# a picked dataset and a load); where each control sits on the page is up to the layout.
SETTINGS = (
    Setting("model", "Model", gr.Dropdown, _choice, said="model", options={"choices": MODELS, "elem_id": "train-model"}),
    Setting("loss", "Loss (objective)", gr.Dropdown, _choice, said="loss", options={"choices": LOSSES, "elem_id": "train-loss"}),
    Setting("lr_g", "Learning rate G", gr.Number, _number, said="learning rate G", options={"elem_id": "train-lr-g"}),
    Setting("lr_d", "Learning rate D", gr.Number, _number, said="learning rate D", options={"elem_id": "train-lr-d"}),
    Setting("beta1", "Adam beta1", gr.Number, _number),
    Setting("beta2", "Adam beta2", gr.Number, _number),
    Setting(
        "batch_size",
        "Batch size",
        gr.Number,
        _whole_number,
        said="batch size",
        options={"precision": 0, "elem_id": "train-batch-size"},
    ),
    Setting("d_steps", "D steps per G step", gr.Number, _whole_number, options={"precision": 0}),
    Setting("noise_dim", "Noise dimension", gr.Number, _whole_number, said="noise dimension", options={"precision": 0}),
    Setting(
        "noise_distribution", "Noise distribution", gr.Dropdown, _choice, said="noise distribution", options={"choices": NOISES}
    ),
    Setting("width", "Width", gr.Number, _whole_number, said="width", options={"precision": 0}),
    Setting("depth", "Depth (hidden layers)", gr.Number, _whole_number, said="depth", options={"precision": 0}),
    Setting("seed", "Seed", gr.Number, _whole_number, said="seed", options={"precision": 0}),
    Setting("gp_weight", "Gradient penalty weight (WGAN-GP)", gr.Number, _number, said="gradient penalty weight"),
    Setting("clip_value", "Weight clip (WGAN)", gr.Number, _number, said="weight clip"),
    Setting("spectral_norm", "Spectral norm in D", gr.Checkbox, _switch),
    Setting(
        "clusters",
        "k-means clusters (found without labels)",
        gr.Dropdown,
        _clusters,
        said="clusters",
        show=_clusters_shown,
        options={
            "choices": CLUSTER_CHOICES,
            "allow_custom_value": True,
            "elem_id": "train-clusters",
            "info": "G and D are told which cluster of the data each sample belongs to: each cluster is an easier "
            "game (2D: one blob each). 'off' plays the plain game, where mode collapse can happen.",
        },
    ),
)
SETTING_NAMES = tuple(setting.name for setting in SETTINGS)
# What Start, Step and Reset take, in this order.
RUN_INPUTS = (*DATA_INPUTS, *SETTING_NAMES)
# The settings that apply to a running run (TrainingConfig says which), in the order of SETTINGS.
LIVE_SETTINGS = tuple(setting for setting in SETTINGS if setting.name in TrainingConfig.LIVE_FIELDS)
LIVE_INPUTS = tuple(setting.name for setting in LIVE_SETTINGS)  # what the live update takes, in this order
_BY_NAME = {setting.name: setting for setting in SETTINGS}


def config_dataset(choice: str) -> str:
    """The config's dataset for a picker choice: a drawing and a CSV are "custom" points."""
    return {"draw": "custom", "csv": "custom"}.get(choice, choice)


def dataset_defaults(choice: str) -> TrainingConfig:
    """The settings a picked dataset starts from."""
    return default_config(config_dataset(choice))


def _read_all(chosen: tuple[Setting, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``chosen`` settings' values for the config; a RunError names every control that could not be read."""
    read, problems = {}, []
    for setting in chosen:
        if setting.name not in values:
            problems.append(f"{setting.name} is missing")
            continue
        try:
            read[setting.name] = setting.value(values[setting.name])
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise RunError("; ".join(problems))
    return read


def settings(values: Mapping[str, Any]) -> TrainingConfig:
    """The TrainingConfig the controls' ``values`` (by name: "dataset" and every setting) describe. Settings
    without a control (the weight average, the cluster method, ...) and clusters "auto" keep the dataset's
    defaults. A bad value raises ValueError (RunError) that names every problem."""
    read = _read_all(SETTINGS, values)
    if read["clusters"] is None:  # "auto": the default of this data and model
        del read["clusters"]
    return default_config(config_dataset(str(values.get("dataset", ""))), read.pop("model"), **read)


def live_changes(values: Mapping[str, Any]) -> dict[str, Any]:
    """The live settings' values (learning rates, betas, batch size, ...) as the config's."""
    return _read_all(LIVE_SETTINGS, values)


def shown(config: TrainingConfig) -> list[Any]:
    """The values the settings' controls show for ``config``, in the order of SETTINGS."""
    return [setting.shown(config) for setting in SETTINGS]


def resolve_data(dataset: str, drawing: Any, points_csv: str | None, images_zip: str | None) -> tuple[Any, str]:
    """(the data, a label for it) for a picker choice and what it needs (the drawing, the CSV, the zip)."""
    if dataset in TOY_DATASETS:
        return make_toy(dataset), dataset
    if dataset == "draw":
        composite = drawing.get("composite") if isinstance(drawing, dict) else drawing
        if composite is None:
            raise DataError("the drawing is empty: draw the shape of your data on the canvas first")
        points = drawing_to_points(np.asarray(composite))
        return from_points(points, name="drawing"), f"your drawing ({len(points):,} points)"
    if dataset == "csv":
        if not points_csv:
            raise DataError("upload a CSV file of x,y points first")
        data = from_csv(points_csv)
        return data, f"your CSV ({data.description})"
    if dataset in IMAGE_DATASETS:
        from ganlab.data.images import load_image_dataset

        return load_image_dataset(dataset, "train"), dataset
    if dataset == "folder":
        if not images_zip:
            raise DataError("upload a .zip of images first (png, jpg, ...; subfolders become classes)")
        from ganlab.data.images import load_image_folder

        data = load_image_folder(images_zip)
        return data, f"your images ({len(data):,})"
    raise DataError(f"unknown dataset {dataset!r}")


def run_request(values: Mapping[str, Any]) -> tuple[TrainingConfig, Any, str]:
    """(config, data, label) for a new run from every run input's value (by name, as in RUN_INPUTS)."""
    data, label = resolve_data(values["dataset"], values["drawing"], values["points_csv"], values["images_zip"])
    return settings(values), data, label


# -- the controls and the handlers' parameters --------------------------------------------------------
class RunForm:
    """The run inputs' components by name: the layout makes each where it belongs (``make`` for a setting,
    ``add`` for a data input); the events take them in the order of RUN_INPUTS."""

    def __init__(self, config: TrainingConfig) -> None:
        self.config = config  # the values the settings' controls start with
        self.controls: dict[str, gr.components.Component] = {}

    def make(self, name: str) -> gr.components.Component:
        """Setting ``name``'s control, made here in the layout."""
        return self.add(name, _BY_NAME[name].make(self.config))

    def add(self, name: str, component: gr.components.Component) -> gr.components.Component:
        if name not in RUN_INPUTS or name in self.controls:
            raise ValueError(f"{name!r} is not a run input, or was laid out twice")
        self.controls[name] = component
        return component

    def components(self, names: tuple[str, ...] = RUN_INPUTS) -> list[gr.components.Component]:
        missing = [name for name in names if name not in self.controls]
        if missing:
            raise ValueError(f"the layout has no control for {', '.join(missing)}")
        return [self.controls[name] for name in names]

    @property
    def setting_controls(self) -> list[gr.components.Component]:
        return self.components(SETTING_NAMES)

    @property
    def live_controls(self) -> list[gr.components.Component]:
        return self.components(LIVE_INPUTS)


def takes(names: tuple[str, ...], handler: Callable[[dict[str, Any], gr.Request], Any]) -> Callable:
    """``handler(values, request)`` as an event function with one parameter per name, in order.

    Gradio names an endpoint's parameters after its function's, and API clients call by those names
    (``client.predict(batch_size=64, api_name="/train_start")``); a parameter with a default of None may be
    left out (the file inputs: a component's own value is the default of the others)."""

    def event(*args: Any) -> Any:
        *values, request = args  # Gradio passes the request where the signature asks for it: last
        return handler(dict(zip(names, values, strict=True)), request)

    parameters = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for name in names]
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)
    event.__signature__ = inspect.Signature([*parameters, request])
    event.__annotations__ = {"request": gr.Request}
    event.__name__ = event.__qualname__ = getattr(handler, "__name__", "event")
    event.__doc__ = handler.__doc__  # the endpoint's description
    return event

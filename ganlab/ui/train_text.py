"""The Train tab's words and settings: the pickers' choices and the config's fields, widget values turned
into a TrainingConfig and data, and a run turned into the status line, metrics and step notes (Markdown)
and the model graph (HTML). Nothing here lays out a component or imports gradio; ganlab.ui.train does."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ganlab.clusters import method_name
from ganlab.data.errors import DataError
from ganlab.data.registry import DATASETS as KNOWN_DATASETS
from ganlab.data.registry import IMAGE_DATASETS, TOY_DATASETS
from ganlab.data.toy import from_csv, from_points, make_toy
from ganlab.live import RunError, RunSnapshot, StepReport
from ganlab.losses import OBJECTIVES
from ganlab.presets import default_config
from ganlab.training import TrainingConfig
from ganlab.ui.graph import overview_svg
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
LOSSES = [(f"{name}: {objective.description}", name) for name, objective in OBJECTIVES.items()]
CLUSTER_CHOICES = [
    ("auto: what measured best for this data and model", "auto"),
    ("off: a plain GAN", "off"),
    ("8", "8"),
    ("25", "25"),
    ("50", "50"),
]
PRESET_NAMES = ("healthy", "mode-collapse", "vanishing-gradients", "oscillation")
# Config fields shown as controls, in the order of the handlers' parameters after the data inputs.
CONFIG_FIELDS = (
    "model",
    "loss",
    "lr_g",
    "lr_d",
    "beta1",
    "beta2",
    "batch_size",
    "d_steps",
    "noise_dim",
    "noise_distribution",
    "width",
    "depth",
    "seed",
    "gp_weight",
    "clip_value",
    "spectral_norm",
    "clusters",
)
INT_FIELDS = {
    "batch_size": "batch size",
    "d_steps": "D steps per G step",
    "noise_dim": "noise dimension",
    "width": "width",
    "depth": "depth",
    "seed": "seed",
}
FLOAT_FIELDS = {
    "lr_g": "learning rate G",
    "lr_d": "learning rate D",
    "beta1": "Adam beta1",
    "beta2": "Adam beta2",
    "gp_weight": "gradient penalty weight",
    "clip_value": "weight clip",
}
# D's numbers in blue (like real data), G's in red (like its points), the 0.5 reference in grey.
STATUS_ICONS = {"ready": "○", "queued": "⏳", "running": "●", "paused": "⏸", "stopped": "■", "finished": "■", "diverged": "✖"}


# -- turning widget values into a config and data ------------------------------------------------------
def _number(name: str, value: Any) -> int | float:
    label = INT_FIELDS.get(name) or FLOAT_FIELDS.get(name, name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RunError(f"{label} is empty; give a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RunError(f"{label} must be a number; got {value!r}") from None
    if name in INT_FIELDS:
        if not number.is_integer():
            raise RunError(f"{label} must be a whole number; got {value}")
        return int(number)
    return number


def settings_to_config(dataset: str, values: dict[str, Any]) -> TrainingConfig:
    """A TrainingConfig from the widgets' values; ValueError says every problem for people."""
    fields: dict[str, Any] = {"dataset": dataset}
    for name in CONFIG_FIELDS:
        value = values[name]
        if name in INT_FIELDS or name in FLOAT_FIELDS:
            value = _number(name, value)
        elif name == "spectral_norm":
            value = bool(value)
        elif name == "clusters":
            value = _clusters_setting(dataset, values["model"], value)
        fields[name] = value
    # Settings the tab has no control for (the weight average, the cluster method, ...) keep the dataset's
    # defaults rather than the bare TrainingConfig's.
    base = _dataset_defaults(dataset, fields["model"], clusters=fields["clusters"])
    return TrainingConfig(**{**dataclasses.asdict(base), **fields})


def _clusters_setting(dataset: str, model: str, value: Any) -> int | str:
    """The clusters control's value as a config value: "auto" is the measured default for the data and
    model (the number chosen by silhouette for 2D points, 50 for unconditional images, none for conditional)."""
    text = str(value if value is not None else "auto").strip().lower()
    if text in ("auto", ""):
        return default_config(dataset, model).clusters
    if text in ("off", "none"):
        return 0
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"clusters must be 'auto', 'off' or a whole number; got {value!r}") from None


def clusters_choice(config: TrainingConfig) -> str:
    """How the clusters control shows a config's clusters."""
    if config.clusters == default_config(config.dataset, config.model).clusters:
        return "auto"
    return "off" if config.clusters == 0 else str(config.clusters)


def resolve_data(dataset: str, drawing: Any, points_csv: str | None, images_zip: str | None) -> tuple[str, Any, str]:
    """(dataset name for the config, the data or None to load by name, a label) for a picker choice."""
    if dataset in TOY_DATASETS:
        return dataset, make_toy(dataset), dataset
    if dataset == "draw":
        composite = drawing.get("composite") if isinstance(drawing, dict) else drawing
        if composite is None:
            raise DataError("the drawing is empty: draw the shape of your data on the canvas first")
        points = drawing_to_points(np.asarray(composite))
        return "custom", from_points(points, name="drawing"), f"your drawing ({len(points):,} points)"
    if dataset == "csv":
        if not points_csv:
            raise DataError("upload a CSV file of x,y points first")
        data = from_csv(points_csv)
        return "custom", data, f"your CSV ({data.description})"
    if dataset in IMAGE_DATASETS:
        from ganlab.data.images import load_image_dataset

        return dataset, load_image_dataset(dataset, "train"), dataset
    if dataset == "folder":
        if not images_zip:
            raise DataError("upload a .zip of images first (png, jpg, ...; subfolders become classes)")
        from ganlab.data.images import load_image_folder

        data = load_image_folder(images_zip)
        return "folder", data, f"your images ({len(data):,})"
    raise DataError(f"unknown dataset {dataset!r}")


def describe_dataset(dataset: str) -> str:
    if dataset in TOY_DATASETS:
        toy = make_toy(dataset)
        return f"**{dataset}**: {toy.description}; {toy.num_modes} modes."
    if dataset == "draw":
        return (
            "Pick the **brush** (left of the canvas), then draw the shape of your data: every inked pixel becomes a data point."
        )
    if dataset == "csv":
        return "Upload a CSV file with two columns x,y (a header row is allowed), up to 100,000 points."
    if dataset == "folder":
        return (
            "Upload a .zip of images (png, jpg, gif, bmp, webp). They are made 28x28 grayscale; if every "
            "image sits in a subfolder, the subfolders become classes (for the conditional models)."
        )
    try:
        from ganlab.data.images import load_image_dataset

        return load_image_dataset(dataset, "train").describe()
    except DataError as error:
        return f"⚠️ {error}"


def _dataset_defaults(dataset: str, model: str | None = None, **overrides: Any) -> TrainingConfig:
    name = {"draw": "custom", "csv": "custom"}.get(dataset, dataset)
    return default_config(name, model, **overrides)


# -- what the status line, curves and metrics show ------------------------------------------------------
def status_markdown(snapshot: RunSnapshot | None) -> str:
    if snapshot is None:
        return "○ **no run yet**: press Start (or Step)."
    icon = STATUS_ICONS.get(snapshot.status, "")
    head = f"{icon} **{snapshot.status}**"
    if snapshot.status == "queued":
        return f"{head}: {snapshot.message}"
    latest = snapshot.latest
    parts = [head, f"step {snapshot.step:,}", snapshot.dataset]
    if snapshot.clusters:
        parts.append(f"on {snapshot.clusters} {method_name(snapshot.config.get('cluster_method'))} clusters")
    if snapshot.status == "running":
        parts.append(f"{snapshot.steps_per_second:,.0f} steps/s")
        parts.append(f"{snapshot.examples_per_second:,.0f} examples/s")
    if np.isfinite(latest.get("d_real", np.nan)):
        name = "D" if snapshot.objective_reading == "probability" else "critic"
        parts.append(f"{name}(x) {latest['d_real']:.3f}")
        parts.append(f"{name}(G(z)) {latest['d_fake']:.3f}")
    text = " · ".join(parts)
    if snapshot.status == "paused":
        text += "  \nPaused: **Resume** continues training, **Step** plays one D move and one G move."
    if snapshot.message:
        text += f"  \n{snapshot.message}"
    return text


def describe_moves(report: StepReport) -> str:
    """What one D move and one G move did, in words a class can follow (Markdown)."""
    score = "D" if report.reading == "probability" else "the critic's score"
    fmt = "{:.3f}".format
    (real_before, fake_before), (real_middle, fake_middle), (_, fake_after) = report.before, report.middle, report.after
    d_verdict = (
        "D got better at telling real from generated"
        if real_middle - fake_middle > real_before - fake_before
        else "this batch did not help D separate them (moves are noisy; try a few more)"
    )
    d_text = (
        f"**1. D move** (D step {report.d_step}): D looked at {report.batch_size} real and {report.batch_size} "
        f"generated samples (loss {fmt(report.d_loss)}, gradient norm {report.d_grad_norm:.3g}) and updated its "
        f"weights. On a fixed check batch, {score}(x) on real data went {fmt(real_before)} → {fmt(real_middle)} "
        f"and {score}(G(z)) on generated data {fmt(fake_before)} → {fmt(fake_middle)}: {d_verdict}."
    )
    g_verdict = (
        "G's samples now look more real to D"
        if fake_after > fake_middle
        else "this move did not fool D more (G followed a noisy batch)"
    )
    moved = (
        ""
        if report.points_moved is None
        else f" The generated points moved {report.points_moved:.3g} on average, along the arrows D gave them."
    )
    g_text = (
        f"**2. G move** (step {report.step}): G changed its weights to make D call its samples real "
        f"(loss {fmt(report.g_loss)}, gradient norm {report.g_grad_norm:.3g}); D is not changed in "
        f"this move. {score}(G(z)) went {fmt(fake_middle)} → {fmt(fake_after)}: {g_verdict}.{moved}"
    )
    return d_text + "\n\n" + g_text


def graph_html(snapshot: RunSnapshot) -> str:
    """The model overview graph for the run now: both players while it trains; after a Step, the D move and
    the G move side by side, each with the numbers it produced (ganlab.ui.graph)."""
    config, k, report = snapshot.config, snapshot.clusters, snapshot.step_report
    if report is not None and snapshot.status == "paused":
        losses = {
            "d_loss": report.d_loss,
            "g_loss": report.g_loss,
            "d_grad_norm": report.d_grad_norm,
            "g_grad_norm": report.g_grad_norm,
        }
        d_move = overview_svg(config, {**losses, "d_real": report.middle[0], "d_fake": report.middle[1]}, "d", clusters=k)
        g_move = overview_svg(config, {**losses, "d_real": report.after[0], "d_fake": report.after[1]}, "g", clusters=k)
        return d_move + g_move
    phase = "both" if snapshot.status in ("running", "queued") else None
    return overview_svg(config, snapshot.latest, phase, clusters=k)


def step_note_markdown(snapshot: RunSnapshot) -> str:
    """The manager's note on the run (e.g. it was put aside), then the last Step's two moves in words."""
    parts = [snapshot.step_note] if snapshot.step_note else []
    if snapshot.step_report is not None:
        parts.append(describe_moves(snapshot.step_report))
    return "\n\n".join(parts)


def metrics_markdown(metrics: dict[str, float] | None) -> str:
    if not metrics:
        return ""
    return (
        f"**Modes covered** {metrics['modes_covered']} / {metrics['num_modes']} · "
        f"**high-quality samples** {metrics['high_quality']:.0%} · "
        f"**KL(data ‖ G)** {metrics['kl']:.3f} · **JS** {metrics['js']:.3f} nats  \n"
        f"<small>On {metrics['n']:,} generated points: a mode is covered when a sample lies within 3 std of "
        "it; KL/JS are histogram estimates (30x30 bins). JS is at most 0.693.</small>"
    )

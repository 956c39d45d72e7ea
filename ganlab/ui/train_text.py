"""The Train tab's words: what a picked dataset is, and a run turned into the status line, metrics and step
notes (Markdown) and the model graph (HTML). Nothing here lays out a component or imports gradio; the run
inputs and their choices are in ganlab.ui.train_inputs, the layout in ganlab.ui.train."""

from __future__ import annotations

import numpy as np

from ganlab.clusters import method_name
from ganlab.data.errors import DataError
from ganlab.data.registry import TOY_DATASETS
from ganlab.data.toy import make_toy
from ganlab.live import RunSnapshot, StepReport
from ganlab.ui.graph import overview_svg

STATUS_ICONS = {"ready": "○", "queued": "⏳", "running": "●", "paused": "⏸", "stopped": "■", "finished": "■", "diverged": "✖"}


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

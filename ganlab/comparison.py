"""Two runs side by side: the classic lessons as pairs of settings that differ in one thing, on the same
data and seed, and both runs' curves on one picture.

A comparison is two live runs of the same person (ganlab.live); the runs train at once when two training
slots are free, else in turn (the second waits in the queue and says so).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ganlab.curves import GUIDE_COLOUR, Panel, Series, draw_curves
from ganlab.presets import presets
from ganlab.training import TrainingConfig


@dataclass(frozen=True)
class Comparison:
    name: str
    title: str
    a: TrainingConfig
    b: TrainingConfig
    a_label: str
    b_label: str
    what_to_look_for: str

    @property
    def difference(self) -> dict[str, tuple[object, object]]:
        """The settings the two runs differ in: {field: (a's value, b's value)}."""
        a, b = dataclasses.asdict(self.a), dataclasses.asdict(self.b)
        return {name: (a[name], b[name]) for name in a if a[name] != b[name]}


def comparisons(dataset: str = "ring8") -> dict[str, Comparison]:
    """One comparison per classic lesson, for a 2D dataset."""
    lessons = presets(dataset)
    vanishing = lessons["vanishing-gradients"].config
    collapse = lessons["mode-collapse"].config
    oscillation = lessons["oscillation"].config
    replace = dataclasses.replace
    items = [
        Comparison(
            "saturating-loss",
            "Minimax vs non-saturating loss",
            vanishing,
            replace(vanishing, loss="nonsaturating"),
            "minimax: log(1 - D(G(z)))",
            "non-saturating: -log D(G(z))",
            "With a strong D, the minimax G barely moves (its gradient vanishes where D is sure), while the "
            "non-saturating G keeps a strong gradient and reaches the data: same game, other loss for G.",
        ),
        Comparison(
            "clusters",
            "A plain GAN vs one trained on clusters",
            collapse,
            replace(collapse, clusters="auto"),
            "plain GAN",
            "on clusters of the data",
            "The plain G covers a few modes and hops between them; the G trained on clusters of the data makes one "
            "blob per cluster and keeps every mode: watch the modes-covered count of each.",
        ),
        Comparison(
            "adam-beta1",
            "Adam beta1 0.9 vs 0.5 at high learning rates",
            oscillation,
            replace(oscillation, beta1=0.5),
            "beta1 = 0.9",
            "beta1 = 0.5",
            "With much momentum (0.9) the players overshoot and D's outputs swing; less momentum (0.5, the DCGAN "
            "paper's choice) damps the swings.",
        ),
    ]
    return {item.name: item for item in items}


RUN_COLOURS = ((0, 114, 178), (230, 159, 0))  # run A blue, run B orange (Okabe-Ito: colour-blind safe)


def comparison_panels(
    history_a: dict[str, np.ndarray], history_b: dict[str, np.ndarray], *, probability: bool, labels: tuple[str, str] = ("A", "B")
) -> tuple[np.ndarray, list[Panel]]:
    """Both runs' curves on one step axis (the longer run's; the other is resampled onto it), one colour per run."""
    steps_a, steps_b = history_a["step"], history_b["step"]
    steps = steps_a if (len(steps_a) and (not len(steps_b) or steps_a[-1] >= steps_b[-1])) else steps_b

    def on_steps(history: dict[str, np.ndarray], name: str) -> np.ndarray:
        if len(history["step"]) == 0:
            return np.full(len(steps), np.nan)
        return np.interp(steps, history["step"], history[name], left=np.nan, right=np.nan)

    def pair(name: str) -> tuple[Series, ...]:
        return tuple(
            Series(label, on_steps(history, name), colour)
            for label, history, colour in zip(labels, (history_a, history_b), RUN_COLOURS)
        )

    d = "D" if probability else "critic"
    guide = (Series("0.5", np.full(len(steps), 0.5), GUIDE_COLOUR, dashed=True),) if probability else ()
    unit = (0.0, 1.0) if probability else None
    panels = [
        Panel(f"{d}(G(z)) on generated data", pair("d_fake") + guide, unit),
        Panel(f"{d}(x) on real data", pair("d_real") + guide, unit),
        Panel("G loss", pair("g_loss")),
        Panel("G's gradient norm", pair("g_grad_norm")),
    ]
    return steps, panels


def draw_comparison(
    history_a: dict[str, np.ndarray], history_b: dict[str, np.ndarray], *, probability: bool, labels: tuple[str, str] = ("A", "B")
) -> np.ndarray:
    """RGB uint8: both runs' curves, panel by panel (ganlab.curves draws them)."""
    steps, panels = comparison_panels(history_a, history_b, probability=probability, labels=labels)
    return draw_curves(steps, panels, width=620, height=560)

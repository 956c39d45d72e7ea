"""The model overview: the boxes and arrows of the GAN game for one run, as an inline SVG.

GAN Lab's signature view. Noise z goes into G, G's samples and real samples go into D, and D's output
goes into the objective (the loss). The picture follows the run's configuration:

* a conditional run (a conditional model, or an unconditional one trained on clusters of the data)
  has a label y going into G and D;
* where the objective reads D's output as a probability (``Objective.d_output`` in ganlab.losses) a
  sigmoid sits between D and the loss; the Wasserstein objectives make D a *critic* whose raw score
  goes straight into the loss (least squares too has no sigmoid).

``phase`` says which move to show: ``"d"`` lights the paths D's gradient takes (the loss back into D,
through the real and the generated branch; G is frozen), ``"g"`` lights the path G's gradient takes
(the loss back through D, which is frozen, and the generated samples into G), ``"both"`` or None (a
run training) shows both players mildly. The live numbers sit where they belong: D(x) on the real -> D
edge, D(G(z)) on the generated -> D edge, the two losses in the objective, each player's gradient norm
on its box; a number that is missing or not finite is shown as "–".

Every box carries a one-sentence explanation twice: an SVG ``<title>`` (a browser's tooltip on hover)
and a ``data-explain`` attribute, which ``TAP_TO_EXPLAIN_JS`` (a gr.HTML's ``js_on_load``) shows under
the picture on a tap (a phone has no hover). Pure string building, no gradio and no drawing library: a picture costs tens of
microseconds, so it can be rebuilt on every tick of the live stream. This module decides what goes where;
the shapes themselves (arrows, boxes, the live numbers' format) are drawn in ganlab.ui.graph_shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ganlab.losses import OBJECTIVES
from ganlab.ui.graph_shapes import D_COLOUR, G_COLOUR, INK, box, circle, edge, esc, loss_box, number

PHASES = ("d", "g", "both")
FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
CONDITIONAL_MODELS = ("cdcgan", "cmlp")  # as TrainingConfig.conditional

# js_on_load for the gr.HTML that shows the picture: a tapped box explains itself on a line under it.
# The line sits after the component's element, outside what each new picture replaces, so it stays.
TAP_TO_EXPLAIN_JS = """
let line = element.nextElementSibling;
if (!line || !line.classList.contains('ganlab-graph-explain')) {
  line = document.createElement('p');
  line.className = 'ganlab-graph-explain';
  line.style.cssText = 'font-size:1.05rem;min-height:1.5em;margin:4px 0';
  line.textContent = 'Tap a box (or hover over it) to see what it does.';
  element.after(line);
}
element.addEventListener('click', (event) => {
  const box = event.target.closest && event.target.closest('[data-explain]');
  if (box) line.textContent = box.getAttribute('data-explain');
});
"""

# Where the boxes are, in viewBox units (1185 wide): three columns, real data above generated data.
_Z = (20, 225, 130, 90)
_G = (190, 205, 150, 130)
_FAKE = (385, 225, 180, 90)
_REAL = (385, 65, 180, 90)
_D = (735, 120, 150, 140)
_SIGMA = (942, 190, 26)  # a circle: centre x, centre y, radius
_LOSS = (1002, 105, 165, 170)
_Y = (190, 375, 150, 70)
_WIDTH = 1185


# Which edges carry the gradient in each move ("lit"); with both moves shown, every edge is drawn mildly.
_LIT_EDGES = {
    "d": {"real-D", "fake-D", "D-sigma", "sigma-loss", "D-loss"},
    "g": {"fake-D", "D-sigma", "sigma-loss", "D-loss", "G-fake"},
}
_BEND = 650  # where the real and the generated branch turn towards D


@dataclass(frozen=True)
class _Scene:
    """What the picture shows of one run in one move, worked out once for every part of the drawing."""

    phase: str  # "d", "g" or "both"
    reading: str  # how the objective reads D's output (Objective.d_output)
    label: tuple[str, str] | None  # (what the label is, its explanation), or None for an unconditional run
    architecture: str

    @property
    def sigmoid(self) -> bool:
        return self.reading == "probability"

    @property
    def critic(self) -> bool:
        return self.reading.startswith("critic")

    @property
    def d_name(self) -> str:
        """What D is called: "critic" for the Wasserstein objectives, else "discriminator"."""
        return "critic" if self.critic else "discriminator"

    @property
    def mover(self) -> str:
        """The colour of the player that moves: its gradient's path glows in it."""
        return D_COLOUR if self.phase == "d" else G_COLOUR if self.phase == "g" else INK

    def edge_state(self, key: str) -> str:
        return "mild" if self.phase == "both" else "lit" if key in _LIT_EDGES.get(self.phase, set()) else "idle"

    def node_state(self, key: str) -> str:
        """Which parts carry the gradient in this move ("lit"), which player is frozen, what is only data."""
        if self.phase == "both":
            return "mild" if key in ("D", "G") else "plain"
        player, other = ("D", "G") if self.phase == "d" else ("G", "D")
        if key == player or key in ("sigma", "loss") or (self.phase == "g" and key == "fake"):
            return "lit"
        return "frozen" if key == other else "plain"


def overview_svg(
    config: Mapping[str, Any], latest: Mapping[str, Any] | None, phase: str | None = None, *, clusters: int | None = None
) -> str:
    """The game of one run as an inline SVG string.

    ``config`` is ``dataclasses.asdict(TrainingConfig)`` (a RunSnapshot's ``config``); ``latest`` the
    latest numbers (a RunSnapshot's ``latest``: d_real, d_fake, d_loss, g_loss, d_grad_norm,
    g_grad_norm), or None before the first step; ``phase`` "d", "g", "both" or None (see the module
    docstring); ``clusters`` the number of clusters the run trains on (a RunSnapshot's ``clusters``),
    which names the label when the config says ``clusters="auto"``.
    """
    if phase not in (*PHASES, None):
        raise ValueError(f"phase must be 'd' (a D move), 'g' (a G move), 'both' or None; got {phase!r}")
    scene = _scene(config, phase or "both", clusters)
    latest = latest or {}
    height = 470 if scene.label else 360
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" width="100%" '
        f'class="ganlab-graph" data-phase="{scene.phase}" role="img" font-family="{FONT}" '
        f'style="max-width:100%;height:auto;background:#ffffff">',
        f"<title>{esc(_figure_title(scene.phase, scene.d_name, scene.label))}</title>",
        f'<text x="20" y="38" font-size="24" font-weight="bold" fill="{scene.mover}">'
        f"{esc(_caption(scene.phase, scene.d_name))}</text>",
    ]
    # Edges first, so that boxes sit on top of their ends.
    parts += _data_edges(scene, latest) + _output_edges(scene) + _label_edges(scene)
    parts += _generator_boxes(scene, config, latest) + _discriminator_boxes(scene, config, latest)
    if scene.label:
        kind, explain = scene.label
        parts.append(box("y", _Y, scene.node_state("y"), scene.mover, ["label y", kind], explain))
    parts.append("</svg>")
    return "".join(parts)


def _scene(config: Mapping[str, Any], phase: str, clusters: int | None) -> _Scene:
    objective = OBJECTIVES.get(str(config.get("loss", "")))
    return _Scene(
        phase=phase,
        reading=objective.d_output if objective is not None else "probability",
        label=_label_kind(config, clusters),
        architecture="convolutional network (DCGAN)" if config.get("model") in ("dcgan", "cdcgan") else "small MLP",
    )


# -- the edges: data into the players, D's output into the loss, the label into both --------------------
def _data_edges(scene: _Scene, latest: Mapping[str, Any]) -> list[str]:
    """z into G, G's samples out, and the real and the generated branch into D with D(x) and D(G(z)) on them."""
    explain_real, explain_fake = _edge_sentences(scene.reading)
    zx, _, zw, _ = _Z
    gx, gy, gw, gh = _G
    fx, fy, fw, fh = _FAKE
    rx, ry, rw, rh = _REAL
    dx, dy, _, dh = _D
    g_mid, d_mid, f_mid, r_mid = gy + gh / 2, dy + dh / 2, fy + fh / 2, ry + rh / 2
    state, mover = scene.edge_state, scene.mover
    return [
        edge("z", "G", [(zx + zw, g_mid), (gx, g_mid)], state("z-G"), mover, "Each noise vector z goes into G."),
        edge("G", "fake", [(gx + gw, g_mid), (fx, f_mid)], state("G-fake"), mover, "G's output is a batch of generated samples."),
        edge(
            "real",
            "D",
            [(rx + rw, r_mid), (_BEND, r_mid), (dx, d_mid - 25)],
            state("real-D"),
            mover,
            explain_real,
            name="D(x)",
            value=latest.get("d_real"),
            label_at=(_BEND - 8, r_mid - 42),
        ),
        edge(
            "fake",
            "D",
            [(fx + fw, f_mid), (_BEND, f_mid), (dx, d_mid + 25)],
            state("fake-D"),
            mover,
            explain_fake,
            name="D(G(z))",
            value=latest.get("d_fake"),
            label_at=(_BEND - 8, f_mid + 30),
        ),
    ]


def _output_edges(scene: _Scene) -> list[str]:
    """D's score into the loss: through the sigmoid when the objective reads it as a probability."""
    dx, dy, dw, dh = _D
    sx, _, sr = _SIGMA
    lx, d_mid = _LOSS[0], dy + dh / 2
    state, mover = scene.edge_state, scene.mover
    if scene.sigmoid:
        return [
            edge(
                "D",
                "sigma",
                [(dx + dw, d_mid), (sx - sr, d_mid)],
                state("D-sigma"),
                mover,
                "D's raw score (a logit) goes into the sigmoid.",
            ),
            edge(
                "sigma",
                "loss",
                [(sx + sr, d_mid), (lx, d_mid)],
                state("sigma-loss"),
                mover,
                "The probability goes into the loss.",
            ),
        ]
    return [
        edge(
            "D",
            "loss",
            [(dx + dw, d_mid), (lx, d_mid)],
            state("D-loss"),
            mover,
            f"The {scene.d_name}'s raw score goes straight into the loss: there is no sigmoid, so it is not a probability.",
            note="raw score",
            label_at=((dx + dw + lx) / 2, d_mid - 14),
        )
    ]


def _label_edges(scene: _Scene) -> list[str]:
    if not scene.label:
        return []
    gx, gy, gw, gh = _G
    dx, dy, dw, dh = _D
    yx, yy, yw, yh = _Y
    y_mid = yy + yh / 2
    state, mover = scene.edge_state, scene.mover
    return [
        edge("y", "G", [(gx + gw / 2, yy), (gx + gw / 2, gy + gh)], state("y-G"), mover, "G is told which label to draw."),
        edge(
            "y",
            "D",
            [(yx + yw, y_mid), (dx + dw / 2, y_mid), (dx + dw / 2, dy + dh)],
            state("y-D"),
            mover,
            "D is told the label of each sample it judges.",
        ),
    ]


# -- the boxes: G's side (noise, G, its samples), then D's (real data, D, sigmoid, loss) ---------------
_GRADIENT = "‖∇‖: the size of its last gradient"


def _generator_boxes(scene: _Scene, config: Mapping[str, Any], latest: Mapping[str, Any]) -> list[str]:
    noise_dim = config.get("noise_dim", "")
    distribution = str(config.get("noise_distribution", "normal"))
    conditioned = " and the label y" if scene.label else ""
    state, mover = scene.node_state, scene.mover
    return [
        box(
            "z",
            _Z,
            state("z"),
            mover,
            ["noise z", f"{noise_dim} numbers"],
            f"Noise z: {noise_dim} random numbers drawn from a {distribution} distribution; G turns each draw into one sample.",
        ),
        box(
            "G",
            _G,
            state("G"),
            mover,
            ["G", "generator", f"‖∇‖ {number(latest.get('g_grad_norm'))}"],
            f"The generator G, a {scene.architecture}, turns noise z{conditioned} into a sample and learns to make "
            f"D call its samples real ({_GRADIENT}).",
            player=G_COLOUR,
        ),
        box(
            "fake",
            _FAKE,
            state("fake"),
            mover,
            ["generated", "G(z, y)" if scene.label else "G(z)"],
            "Generated samples: a batch of what G makes from fresh noise, shown to D beside a real batch.",
        ),
    ]


def _discriminator_boxes(scene: _Scene, config: Mapping[str, Any], latest: Mapping[str, Any]) -> list[str]:
    dataset = str(config.get("dataset", ""))
    loss = str(config.get("loss", ""))
    objective = OBJECTIVES.get(loss)
    description = objective.description if objective is not None else "an objective this app does not know"
    state, mover = scene.node_state, scene.mover
    parts = [
        box(
            "real",
            _REAL,
            state("real"),
            mover,
            ["real data", f"x ({dataset})" if dataset else "x"],
            f"Real samples x: a batch of the training data ({dataset}), which D learns to tell from G's samples.",
        ),
        box(
            "D",
            _D,
            state("D"),
            mover,
            ["D", scene.d_name, f"‖∇‖ {number(latest.get('d_grad_norm'))}"],
            _d_explanation(scene),
            player=D_COLOUR,
            data={"reading": scene.reading},
        ),
    ]
    if scene.sigmoid:
        parts.append(
            circle(
                "sigma",
                _SIGMA,
                state("sigma"),
                mover,
                "σ",
                "The sigmoid σ squashes D's raw score into a probability between 0 (generated) and 1 (real).",
            )
        )
    explain = f"The {loss} objective ({description}): a D move lowers the D loss, a G move the G loss."
    parts.append(loss_box(_LOSS, state("loss"), mover, loss, latest, explain))
    return parts


def _d_explanation(scene: _Scene) -> str:
    if scene.sigmoid:
        return (
            f"The discriminator D, a {scene.architecture}, scores each sample{' given its label y' if scene.label else ''}, "
            f"and a sigmoid turns the score into the probability that it is real ({_GRADIENT})."
        )
    if scene.critic:
        return (
            f"The critic (WGAN's discriminator), a {scene.architecture}, gives each sample an unbounded score, "
            f"higher for more real-looking ones, with no sigmoid, so it is not a probability ({_GRADIENT})."
        )
    return f"The discriminator D, a {scene.architecture}, outputs a raw score ({scene.reading}) with no sigmoid ({_GRADIENT})."


# -- pieces ------------------------------------------------------------------------------------------
def _label_kind(config: Mapping[str, Any], clusters: int | None) -> tuple[str, str] | None:
    """(what the label is, its explanation), or None for an unconditional run."""
    if config.get("model") in CONDITIONAL_MODELS:
        return (
            "class",
            "The class label y: G is asked for a sample of this class, and D judges whether a sample is "
            "a real one of that class.",
        )
    wanted = config.get("clusters", 0)
    if clusters or wanted not in (0, None, "0", False):
        count = clusters if clusters else wanted if isinstance(wanted, int) else "several"
        return (
            f"{count} clusters" if count != "several" else "cluster",
            f"The cluster label y: before training the data was split into {count} clusters without reading any "
            "labels; G draws from one cluster and D judges each sample within its cluster.",
        )
    return None


def _edge_sentences(reading: str) -> tuple[str, str]:
    """What D(x) and D(G(z)) mean under this objective's reading of D's output."""
    if reading == "probability":
        return (
            "D(x): D's average output on the real batch, the probability it gives real data of being real.",
            "D(G(z)): D's average output on the generated batch; D pushes it towards 0 and G towards 1.",
        )
    if reading.startswith("critic"):
        return (
            "D(x): the critic's average score on the real batch (unbounded; the critic pushes it up).",
            "D(G(z)): the critic's average score on the generated batch; the critic pushes it down, G up.",
        )
    return (
        f"D(x): D's average raw score on the real batch ({reading}).",
        f"D(G(z)): D's average raw score on the generated batch ({reading}).",
    )


def _caption(phase: str, d_name: str) -> str:
    if phase == "d":
        return f"D move: the loss's gradient flows back into the {d_name} (lit); G is frozen"
    if phase == "g":
        return f"G move: the gradient flows back through the {d_name} (frozen) into G (lit)"
    return "The game: D and G take turns, a D move then a G move"


def _figure_title(phase: str, d_name: str, label: tuple[str, str] | None) -> str:
    conditioned = ", both told the label y" if label else ""
    return (
        f"The GAN game: noise z goes into G, G's samples and real samples go into the {d_name}{conditioned}, and "
        f"its output goes into the loss. {_caption(phase, d_name)}."
    )

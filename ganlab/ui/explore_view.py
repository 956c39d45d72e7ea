"""The Explore tab's components (ganlab.ui.explore wires them to ExploreHandlers).

Layout only: ``ExploreView`` builds the components inside the current gr.Tab and keeps them by name.
The generated image is sent inside the response (``sent_inline``), so that a slider move is one request.
"""

from __future__ import annotations

import base64
import io

import gradio as gr
import numpy as np
from gradio.data_classes import ImageData
from PIL import Image

from ganlab.latent import INTERPOLATION_METHODS

NUM_DIMS = 8  # sliders over z[0] .. z[7]
NUM_DIRECTIONS = 8  # sliders over the top principal directions
DIRECTION_RANGE = 5.0  # direction sliders move z by up to 5 prior standard deviations

INTRO = """\
Pick a generator, then move the sliders: **z[i]** sets one coordinate of the noise vector z;
**PC i** moves z along the *i*-th principal direction of the generator's first hidden layer
(GANSpace, Härkönen et al. 2020), the directions that change its features most.
**Truncation ψ** pulls z towards the mean of the noise: typical-looking samples, less variety.
"""


def png_data_url(picture: np.ndarray | Image.Image) -> str:
    """A picture as a lossless ``data:image/png;base64,...`` URL."""
    image = picture if isinstance(picture, Image.Image) else Image.fromarray(np.asarray(picture))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sent_inline(image: gr.Image) -> gr.Image:
    """``image``, sending its pictures inside the response as PNG ``data:`` URLs (as Gradio sends an SVG)
    instead of files written to Gradio's cache that the browser then fetches: one request per slider move
    instead of two, and less work for the server, whose one core a class shares (docs/BENCHMARKS.md,
    Classroom). The same component in the browser: same look, same download button. For small pictures
    (a 280 x 280 digit is a few kilobytes). Set on the instance: a subclass of a Gradio component makes
    Gradio write a ``.pyi`` stub beside this module."""

    def postprocess(value: np.ndarray | Image.Image | None) -> ImageData | None:
        if value is None:
            return None
        return ImageData(url=png_data_url(value), mime_type="image/png", orig_name="generated.png")

    image.postprocess = postprocess
    return image


class ExploreView:
    """The tab's components, laid out top to bottom: the picker, the image and its sliders, the
    interpolation, the sweep over classes, the nearest training images. ``choices`` are the generators
    the dropdown opens with."""

    def __init__(self, choices: list[str]) -> None:
        self.state = gr.State(None)
        gr.Markdown(INTRO)
        with gr.Row():
            self.checkpoint = gr.Dropdown(
                choices=choices,
                value=None,
                label="Generator checkpoint",
                allow_custom_value=True,
                scale=4,
                elem_id="explore-checkpoint",
            )
            self.refresh = gr.Button("↻ Refresh list", scale=0, min_width=150, elem_id="explore-refresh")
        self.status = gr.Markdown(elem_id="explore-status")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                self._lay_out_image()
            with gr.Column(scale=2):
                self._lay_out_sliders()
        self._lay_out_interpolation()
        self._lay_out_classes()
        self._lay_out_neighbours()

    def _lay_out_image(self) -> None:
        self.image = sent_inline(
            gr.Image(
                label="Generated image",
                format="png",
                type="numpy",
                interactive=False,
                height=320,
                elem_id="explore-image",
                elem_classes=["ganlab-crisp"],
                buttons=["download"],
            )
        )
        self.label = gr.Radio(choices=[], type="index", label="Class", visible=False, elem_id="explore-class")
        with gr.Row():
            self.seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="explore-seed", scale=2)
            self.use_seed = gr.Button("Use seed", scale=1, elem_id="explore-use-seed")
        with gr.Row():
            self.randomize = gr.Button("Random z", variant="primary", elem_id="explore-randomize")
            self.reset = gr.Button("Reset sliders", elem_id="explore-reset")
        self.truncation = gr.Slider(
            0, 1, value=1.0, step=0.05, label="Truncation ψ (1 = none, 0 = the mean)", elem_id="explore-truncation"
        )

    def _lay_out_sliders(self) -> None:
        with gr.Row():
            with gr.Column(min_width=200):
                gr.Markdown("**Principal directions** (in prior standard deviations)")
                directions = [
                    gr.Slider(
                        -DIRECTION_RANGE,
                        DIRECTION_RANGE,
                        value=0,
                        step=0.1,
                        label=f"PC {i + 1}",
                        elem_id=f"explore-pc{i + 1}",
                    )
                    for i in range(NUM_DIRECTIONS)
                ]
            with gr.Column(min_width=200):
                gr.Markdown("**First noise coordinates**")
                dims = [gr.Slider(-4, 4, value=0, step=0.1, label=f"z[{i}]", elem_id=f"explore-z{i}") for i in range(NUM_DIMS)]
        self.sliders = dims + directions  # the order ExploreHandlers reads and updates them in

    def _lay_out_interpolation(self) -> None:
        with gr.Accordion("Interpolation: from this z to the z of another seed", open=True):
            with gr.Row():
                self.seed_b = gr.Number(value=1, precision=0, minimum=0, label="Seed of the other end", elem_id="explore-seed-b")
                self.steps = gr.Slider(2, 16, value=8, step=1, label="Steps", elem_id="explore-steps")
                self.method = gr.Radio(
                    list(INTERPOLATION_METHODS),
                    value="spherical",
                    label="Path",
                    info="spherical keeps the norm of z",
                    elem_id="explore-method",
                )
                self.interpolate = gr.Button(
                    "Interpolate", variant="primary", scale=0, min_width=150, elem_id="explore-interpolate"
                )
            with gr.Row():
                self.interpolation_strip = gr.Image(
                    label="Interpolation",
                    format="png",
                    interactive=False,
                    scale=3,
                    elem_id="explore-interpolation",
                    elem_classes=["ganlab-crisp"],
                )
                self.interpolation_gif = gr.Image(
                    label="Animated",
                    format="gif",
                    interactive=False,
                    scale=1,
                    elem_id="explore-gif",
                    elem_classes=["ganlab-crisp"],
                )

    def _lay_out_classes(self) -> None:
        with gr.Group(visible=False) as self.classes_group:
            self.all_classes = gr.Button("Same z, every class", elem_id="explore-all-classes-button")
            self.classes_strip = gr.Image(
                label="Same z, every class",
                format="png",
                interactive=False,
                elem_id="explore-all-classes",
                elem_classes=["ganlab-crisp"],
            )
            self.classes_note = gr.Markdown()

    def _lay_out_neighbours(self) -> None:
        with gr.Accordion("Nearest training images (is it copying?)", open=True):
            self.neighbours = gr.Button("Find the nearest training images", elem_id="explore-neighbours-button")
            self.neighbours_gallery = gr.Gallery(
                label="Generated image, then its nearest training images",
                columns=9,
                height=220,
                object_fit="contain",
                format="png",
                elem_id="explore-neighbours",
                elem_classes=["ganlab-crisp"],
            )
            self.neighbours_note = gr.Markdown()

    @property
    def load_outputs(self) -> list:
        """What a newly picked generator changes, in the order of ExploreHandlers.load's answer."""
        return [
            self.state,
            self.image,
            self.status,
            self.seed,
            self.truncation,
            self.label,
            self.classes_group,
            self.interpolation_strip,
            self.interpolation_gif,
            self.classes_strip,
            self.neighbours_gallery,
            self.neighbours_note,
            *self.sliders,
        ]

"""The Explore tab: walk the latent space of a trained generator.

UI wiring only: the latent arithmetic lives in ``ganlab.latent``. Each browser session keeps its
own ``LatentExplorer`` (its z, class and slider values) in a ``gr.State``; the generators and their
principal directions are loaded once per checkpoint and shared (``LatentCache``).

Latency: a slider move must show a new image within ~100 ms. So every slider feeds one handler
(``gr.on`` over all their ``input``/``release`` events, ``trigger_mode="always_last"`` so the last
position always renders, outside the queue), which runs one batch-of-one forward pass on a loaded
generator and returns a small lossless PNG with no progress overlay, inside the response as a
``data:`` URL (``sent_inline``): a move is one request, with no file in Gradio's cache and no second
GET for the picture. See the comments at the end.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.context import Context
from gradio.data_classes import ImageData
from PIL import Image

from ganlab.checkpoints import CheckpointError, available_generators, preferred_generator
from ganlab.clusters import method_name
from ganlab.imaging import to_hwc, upscale
from ganlab.latent import INTERPOLATION_METHODS, LatentCache, LatentExplorer, gif_bytes, strip, truncate
from ganlab.owners import SessionOwners, private_dir

NUM_DIMS = 8  # sliders over z[0] .. z[7]
NUM_DIRECTIONS = 8  # sliders over the top principal directions
DIRECTION_RANGE = 5.0  # direction sliders move z by up to 5 prior standard deviations
SCALE = 10  # 28x28 -> 280x280, nearest neighbour
STRIP_SCALE = 3
NEIGHBOURS = 8

INTRO = """\
Pick a generator, then move the sliders: **z[i]** sets one coordinate of the noise vector z;
**PC i** moves z along the *i*-th principal direction of the generator's first hidden layer
(GANSpace, Härkönen et al. 2020), the directions that change its features most.
**Truncation ψ** pulls z towards the mean of the noise: typical-looking samples, less variety.
"""


def image_generator_names(owner: str | None = None) -> list[str]:
    """Names (shipped, then the owner's "mine/<name>", then "saved/<name>") of every generator that makes images."""
    return list(available_generators(images_only=True, own_folder=private_dir(owner) if owner else None))


def refresh_choices(current: str | None, owner: str | None = None) -> dict:
    """The dropdown's new choices; keeps the current pick if it still exists, else opens on the best shipped one."""
    names = image_generator_names(owner)
    value = current if current in names else preferred_generator(names)
    return gr.update(choices=names, value=value)


def _resolve(name: str | None, owner: str | None = None) -> Path:
    """The folder of a generator the user picked; only names from their list are accepted."""
    if not name:
        raise gr.Error("Pick a generator checkpoint first.")
    found = available_generators(own_folder=private_dir(owner) if owner else None)
    if name not in found:
        raise gr.Error(
            f"No generator named {name!r}. Click ↻ to refresh the list (checkpoints saved from the "
            "Train tab appear as saved/<name>)."
        )
    return found[name]


def _explorer(state: LatentExplorer | None) -> LatentExplorer:
    if state is None:
        raise gr.Error("Pick a generator checkpoint first.")
    return state


def _cluster_method(metadata: dict[str, Any]) -> str:
    """How a clustered generator's clusters were found ("k-means" or "spectral"), from its saved metadata."""
    return method_name((metadata.get("training") or {}).get("cluster_method"))


def _describe(name: str, explorer: LatentExplorer, metadata: dict[str, Any]) -> str:
    config = explorer.generator.config
    if config.clustered:
        found_by = _cluster_method(metadata)
        kind = (
            f"unconditional, trained on {explorer.num_classes} {found_by} clusters of its images (no labels): "
            "pick a cluster to see what it holds"
        )
    else:
        kind = f"conditional on {explorer.num_classes} classes" if explorer.num_classes else "unconditional"
    trained = ""
    if metadata.get("dataset"):
        steps = metadata.get("steps")
        trained = f", trained on **{metadata['dataset']}**" + (f" for {steps:,} steps" if steps else "")
    text = (
        f"**{name}**: {config.arch.upper()} generator, {config.noise_dim}-d {config.noise_distribution} noise, {kind}{trained}."
    )
    directions = explorer.directions
    if directions is not None:
        text += (
            f" PC 1-{directions.k} explain {100 * float(np.sum(directions.explained)):.1f}% of the variance of "
            f"{directions.layer} ({directions.n_samples:,} samples)."
        )
    return text


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


class ExploreHandlers:
    """The tab's event handlers; ``cache`` keeps generators loaded across sessions."""

    def __init__(self, cache: LatentCache | None = None, owners: SessionOwners | None = None) -> None:
        self.cache = cache or LatentCache(k=NUM_DIRECTIONS)
        self.owners = owners or SessionOwners()

    def _owner(self, request: gr.Request | None) -> str | None:
        return self.owners.owner_of(request.session_hash) if request is not None and request.session_hash else None

    def refresh_choices(self, current: str | None, request: gr.Request = None) -> dict:
        """The generators this browser can pick: shipped, its own saved ones, the class's."""
        return refresh_choices(current, self._owner(request))

    # -- choosing a checkpoint ----------------------------------------------------------------
    def load(self, name: str | None, seed: float | None, request: gr.Request = None) -> list:
        folder = _resolve(name, self._owner(request))
        try:
            loaded = self.cache.load(folder)
            explorer = LatentExplorer(loaded.generator, loaded.directions, seed=int(seed or 0), num_dims=NUM_DIMS, name=name)
        except (CheckpointError, ValueError, OSError) as error:
            raise gr.Error(f"Cannot open {name}: {error}") from None
        conditional = explorer.num_classes > 0
        classes = gr.update(
            choices=explorer.class_names,
            value=explorer.class_names[0] if conditional else None,
            visible=conditional,
            label=f"Cluster (found by {_cluster_method(loaded.metadata)}, without labels)"
            if explorer.generator.config.clustered
            else "Class",
        )
        return [
            explorer,
            explorer.render(scale=SCALE),
            _describe(name, explorer, loaded.metadata),
            explorer.seed,
            gr.update(value=1.0),
            classes,
            gr.update(visible=conditional),
            None,  # interpolation strip
            None,  # interpolation GIF
            None,  # all-classes strip
            None,  # neighbours
            "",
            *self._slider_updates(explorer, reconfigure=True),
        ]

    def _slider_updates(self, explorer: LatentExplorer, *, reconfigure: bool = False) -> list:
        dims = explorer.dim_values()
        updates = []
        for i in range(NUM_DIMS):
            if i < len(dims):
                extra = dict(minimum=-explorer.dim_range, maximum=explorer.dim_range) if reconfigure else {}
                updates.append(gr.update(value=dims[i], visible=True, **extra))
            else:
                updates.append(gr.update(value=0, visible=False))
        k = explorer.directions.k if explorer.directions is not None else 0
        for i in range(NUM_DIRECTIONS):
            if i < k:
                label = f"PC {i + 1} ({100 * float(explorer.directions.explained[i]):.1f}% var.)"
                extra = dict(label=label) if reconfigure else {}
                updates.append(gr.update(value=float(explorer.offsets[i]), visible=True, **extra))
            else:
                updates.append(gr.update(value=0, visible=False))
        return updates

    # -- the fast path: one forward pass per slider move ----------------------------------------
    def render(self, state: LatentExplorer | None, truncation: float, label: int | None, *values: float) -> np.ndarray:
        explorer = _explorer(state)
        explorer.set_sliders(values[:NUM_DIMS], values[NUM_DIMS:], truncation)
        if explorer.num_classes and label is not None:
            explorer.set_label(label)
        return explorer.render(scale=SCALE)

    # -- new latents ----------------------------------------------------------------------------
    def randomize(self, state: LatentExplorer | None) -> list:
        explorer = _explorer(state)
        explorer.set_seed(int(np.random.default_rng().integers(0, 2**31 - 1)))
        return [explorer.seed, explorer.render(scale=SCALE), *self._slider_updates(explorer)]

    def use_seed(self, state: LatentExplorer | None, seed: float | None) -> list:
        explorer = _explorer(state)
        if seed is None or seed < 0:
            raise gr.Error(f"The seed must be a whole number >= 0; got {seed}.")
        explorer.set_seed(int(seed))
        return [explorer.seed, explorer.render(scale=SCALE), *self._slider_updates(explorer)]

    def reset(self, state: LatentExplorer | None) -> list:
        explorer = _explorer(state)
        explorer.reset()
        return [explorer.render(scale=SCALE), gr.update(value=1.0), *self._slider_updates(explorer)]

    # -- pictures of several latents ------------------------------------------------------------
    def interpolate(
        self, state: LatentExplorer | None, seed_b: float | None, steps: float, method: str
    ) -> tuple[np.ndarray, Image.Image]:
        explorer = _explorer(state)
        if method not in INTERPOLATION_METHODS:
            raise gr.Error(f"Interpolation must be 'linear' or 'spherical'; got {method!r}.")
        z_b = explorer.noise(int(seed_b or 0))
        if explorer.truncation != 1.0:
            z_b = truncate(z_b, explorer.truncation)  # both ends alike
        images = explorer.interpolation(explorer.latent(), z_b, int(steps), method)
        return strip(images, STRIP_SCALE), Image.open(io.BytesIO(gif_bytes(images, scale=6)))

    def all_classes(self, state: LatentExplorer | None) -> tuple[np.ndarray, str]:
        explorer = _explorer(state)
        if not explorer.num_classes:
            raise gr.Error("This generator is unconditional: it has no classes to sweep.")
        names = ", ".join(explorer.class_names)
        return strip(explorer.all_classes(), STRIP_SCALE), f"Left to right: {names}."

    def neighbours(
        self,
        state: LatentExplorer | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's idiom)
    ) -> tuple[list, str]:
        explorer = _explorer(state)
        dataset = (getattr(explorer.generator, "checkpoint_metadata", {}) or {}).get("dataset")
        if not dataset:
            raise gr.Error(
                "This checkpoint does not say which dataset it was trained on, so there are no training images to compare with."
            )
        progress(0, desc=f"features of the {dataset} training images (first time only)")
        try:
            index = self.cache.neighbours(dataset)
        except (ValueError, OSError) as error:
            raise gr.Error(f"No {dataset} training images to compare with: {error}") from None
        query = explorer.images(explorer.latent()[None])
        indices, distances = index.query(query, NEIGHBOURS)
        gallery = [(_big(query[0]), "generated")]
        for i, d in zip(indices[0], distances[0], strict=True):
            label = ""
            if index.labels is not None:
                label = index.class_names[index.labels[i]] if index.class_names else str(index.labels[i])
            gallery.append((_big(index.images[i]), f"{label} · d = {d:.3g}" if label else f"d = {d:.3g}"))
        return gallery, f"Distances in **{index.space}**: {index.note}."


def _big(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """One uint8 image (C, H, W) as an enlarged picture for a gallery."""
    return upscale(to_hwc(image), scale)


def build_explore_tab(handlers: ExploreHandlers | None = None, owners: SessionOwners | None = None) -> ExploreHandlers:
    """Build the tab's components and events inside the current Blocks context (a gr.Tab)."""
    handlers = handlers or ExploreHandlers(owners=owners)
    tab = Context.block if isinstance(Context.block, gr.Tab) else None  # to refresh the list on select
    state = gr.State(None)
    gr.Markdown(INTRO)
    with gr.Row():
        checkpoint = gr.Dropdown(
            choices=image_generator_names(),
            value=None,
            label="Generator checkpoint",
            allow_custom_value=True,
            scale=4,
            elem_id="explore-checkpoint",
        )
        refresh = gr.Button("↻ Refresh list", scale=0, min_width=150, elem_id="explore-refresh")
    status = gr.Markdown(elem_id="explore-status")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            image = sent_inline(
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
            label = gr.Radio(choices=[], type="index", label="Class", visible=False, elem_id="explore-class")
            with gr.Row():
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="explore-seed", scale=2)
                use_seed = gr.Button("Use seed", scale=1, elem_id="explore-use-seed")
            with gr.Row():
                randomize = gr.Button("Random z", variant="primary", elem_id="explore-randomize")
                reset = gr.Button("Reset sliders", elem_id="explore-reset")
            truncation = gr.Slider(
                0, 1, value=1.0, step=0.05, label="Truncation ψ (1 = none, 0 = the mean)", elem_id="explore-truncation"
            )
        with gr.Column(scale=2):
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
                    dims = [
                        gr.Slider(-4, 4, value=0, step=0.1, label=f"z[{i}]", elem_id=f"explore-z{i}") for i in range(NUM_DIMS)
                    ]
    sliders = dims + directions
    with gr.Accordion("Interpolation: from this z to the z of another seed", open=True):
        with gr.Row():
            seed_b = gr.Number(value=1, precision=0, minimum=0, label="Seed of the other end", elem_id="explore-seed-b")
            steps = gr.Slider(2, 16, value=8, step=1, label="Steps", elem_id="explore-steps")
            method = gr.Radio(
                list(INTERPOLATION_METHODS),
                value="spherical",
                label="Path",
                info="spherical keeps the norm of z",
                elem_id="explore-method",
            )
            interpolate = gr.Button("Interpolate", variant="primary", scale=0, min_width=150, elem_id="explore-interpolate")
        with gr.Row():
            interpolation_strip = gr.Image(
                label="Interpolation",
                format="png",
                interactive=False,
                scale=3,
                elem_id="explore-interpolation",
                elem_classes=["ganlab-crisp"],
            )
            interpolation_gif = gr.Image(
                label="Animated", format="gif", interactive=False, scale=1, elem_id="explore-gif", elem_classes=["ganlab-crisp"]
            )
    with gr.Group(visible=False) as classes_group:
        all_classes = gr.Button("Same z, every class", elem_id="explore-all-classes-button")
        classes_strip = gr.Image(
            label="Same z, every class",
            format="png",
            interactive=False,
            elem_id="explore-all-classes",
            elem_classes=["ganlab-crisp"],
        )
        classes_note = gr.Markdown()
    with gr.Accordion("Nearest training images (is it copying?)", open=True):
        neighbours = gr.Button("Find the nearest training images", elem_id="explore-neighbours-button")
        neighbours_gallery = gr.Gallery(
            label="Generated image, then its nearest training images",
            columns=9,
            height=220,
            object_fit="contain",
            format="png",
            elem_id="explore-neighbours",
            elem_classes=["ganlab-crisp"],
        )
        neighbours_note = gr.Markdown()

    # Cheap handlers never wait for each other (concurrency_limit=None) and show no progress
    # overlay, which would flicker on every slider move.
    fast = dict(concurrency_limit=None, show_progress="hidden")
    gr.on(
        [refresh.click] + ([tab.select] if tab is not None else []),
        handlers.refresh_choices,
        inputs=checkpoint,
        outputs=checkpoint,
        api_name="explore_refresh",
        concurrency_limit=None,
    )
    checkpoint.change(
        handlers.load,
        inputs=[checkpoint, seed],
        outputs=[
            state,
            image,
            status,
            seed,
            truncation,
            label,
            classes_group,
            interpolation_strip,
            interpolation_gif,
            classes_strip,
            neighbours_gallery,
            neighbours_note,
            *sliders,
        ],
        api_name="explore_load",
        concurrency_limit=None,
    )
    # The hot path (bench/bench_explore_latency.py measures it in Chromium):
    # - the picture inline in the response (sent_inline): one request per move, not a POST and then a
    #   GET of a file Gradio wrote to its cache (with a class on 2 cores the server is the bottleneck);
    # - queue=False: one HTTP request per move instead of the queue's join request plus an event
    #   stream (p50 86 -> 59 ms on two busy cores);
    # - api_visibility="undocumented": still callable as /explore_render, but the browser does not
    #   file every slider move in Gradio's run history (it re-parses and rewrites that history in
    #   localStorage on each event, a cost that grows with the history, and slider moves would
    #   push the runs worth keeping out of it);
    # - always_last: while a render is in flight only the newest position waits, so the final
    #   position is always drawn and stale ones are skipped.
    gr.on(
        [s.input for s in [*sliders, truncation]] + [s.release for s in [*sliders, truncation]] + [label.input],
        handlers.render,
        inputs=[state, truncation, label, *sliders],
        outputs=image,
        api_name="explore_render",
        trigger_mode="always_last",
        queue=False,
        show_progress="hidden",
        api_visibility="undocumented",
    )
    randomize.click(handlers.randomize, inputs=state, outputs=[seed, image, *sliders], api_name="explore_randomize", **fast)
    gr.on(
        [use_seed.click, seed.submit],
        handlers.use_seed,
        inputs=[state, seed],
        outputs=[seed, image, *sliders],
        api_name="explore_seed",
        **fast,
    )
    reset.click(handlers.reset, inputs=state, outputs=[image, truncation, *sliders], api_name="explore_reset", **fast)
    interpolate.click(
        handlers.interpolate,
        inputs=[state, seed_b, steps, method],
        outputs=[interpolation_strip, interpolation_gif],
        api_name="explore_interpolate",
        concurrency_limit=None,
    )
    all_classes.click(
        handlers.all_classes,
        inputs=state,
        outputs=[classes_strip, classes_note],
        api_name="explore_all_classes",
        concurrency_limit=None,
    )
    # The first search computes classifier features of every training image (seconds): at most
    # two at once; the index is then cached for everyone.
    neighbours.click(
        handlers.neighbours,
        inputs=state,
        outputs=[neighbours_gallery, neighbours_note],
        api_name="explore_neighbours",
        concurrency_limit=2,
    )
    return handlers

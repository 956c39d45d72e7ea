"""The Explore tab: walk the latent space of a trained generator.

UI wiring only: the latent arithmetic lives in ``ganlab.latent``, the layout in ``ganlab.ui.explore_view``.
Each browser session keeps its own ``LatentExplorer`` (its z, class and slider values) in a ``gr.State``;
the generators and their principal directions are loaded once per checkpoint and shared (``LatentCache``).

Latency: a slider move must show a new image within ~100 ms. So every slider feeds one handler
(``gr.on`` over all their ``input``/``release`` events, ``trigger_mode="always_last"`` so the last
position always renders, outside the queue), which runs one batch-of-one forward pass on a loaded
generator and returns a small lossless PNG with no progress overlay, inside the response as a
``data:`` URL (``sent_inline``): a move is one request, with no file in Gradio's cache and no second
GET for the picture. See ``_connect_sliders``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.context import Context
from PIL import Image

from ganlab.checkpoints import CheckpointError, available_generators, preferred_generator
from ganlab.clusters import method_name
from ganlab.imaging import to_hwc, upscale
from ganlab.latent import INTERPOLATION_METHODS, LatentCache, LatentExplorer, gif_bytes, strip, truncate
from ganlab.owners import SessionOwners, private_dir
from ganlab.ui.explore_view import NUM_DIMS, NUM_DIRECTIONS, ExploreView

SCALE = 10  # 28x28 -> 280x280, nearest neighbour
STRIP_SCALE = 3
NEIGHBOURS = 8


def image_generator_names(owner: str | None = None) -> list[str]:
    """Names (shipped, then the owner's "mine/<name>", then "saved/<name>") of every generator that makes images."""
    return list(available_generators(images_only=True, own_folder=private_dir(owner) if owner else None))


def refresh_choices(current: str | None, owner: str | None = None) -> dict:
    """The dropdown's new choices; keeps the current pick if it still exists, else opens on the best shipped one."""
    names = image_generator_names(owner)
    value = current if current in names else preferred_generator(names)
    return gr.update(choices=names, value=value)


def resolve_generator(name: str | None, owner: str | None = None) -> Path:
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
        folder = resolve_generator(name, self._owner(request))
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
    view = ExploreView(image_generator_names())
    _connect_picker(handlers, view, tab)
    _connect_sliders(handlers, view)
    _connect_latents(handlers, view)
    _connect_pictures(handlers, view)
    return handlers


def _connect_picker(handlers: ExploreHandlers, view: ExploreView, tab: gr.Tab | None) -> None:
    """The list of generators (refreshed on ↻ and when the tab opens) and loading the one picked."""
    gr.on(
        [view.refresh.click] + ([tab.select] if tab is not None else []),
        handlers.refresh_choices,
        inputs=view.checkpoint,
        outputs=view.checkpoint,
        api_name="explore_refresh",
        concurrency_limit=None,
    )
    view.checkpoint.change(
        handlers.load,
        inputs=[view.checkpoint, view.seed],
        outputs=view.load_outputs,
        api_name="explore_load",
        concurrency_limit=None,
    )


def _connect_sliders(handlers: ExploreHandlers, view: ExploreView) -> None:
    """The hot path (bench/bench_explore_latency.py measures it in Chromium):

    - the picture inline in the response (sent_inline): one request per move, not a POST and then a
      GET of a file Gradio wrote to its cache (with a class on 2 cores the server is the bottleneck);
    - queue=False: one HTTP request per move instead of the queue's join request plus an event
      stream (p50 86 -> 59 ms on two busy cores);
    - api_visibility="undocumented": still callable as /explore_render, but the browser does not
      file every slider move in Gradio's run history (it re-parses and rewrites that history in
      localStorage on each event, a cost that grows with the history, and slider moves would
      push the runs worth keeping out of it);
    - always_last: while a render is in flight only the newest position waits, so the final
      position is always drawn and stale ones are skipped.
    """
    moved = [*view.sliders, view.truncation]
    gr.on(
        [s.input for s in moved] + [s.release for s in moved] + [view.label.input],
        handlers.render,
        inputs=[view.state, view.truncation, view.label, *view.sliders],
        outputs=view.image,
        api_name="explore_render",
        trigger_mode="always_last",
        queue=False,
        show_progress="hidden",
        api_visibility="undocumented",
    )


def _connect_latents(handlers: ExploreHandlers, view: ExploreView) -> None:
    """A new z (random or from a seed) and the sliders back to it."""
    # Cheap handlers never wait for each other (concurrency_limit=None) and show no progress
    # overlay, which would flicker on every slider move.
    fast = dict(concurrency_limit=None, show_progress="hidden")
    new_latent = [view.seed, view.image, *view.sliders]
    view.randomize.click(handlers.randomize, inputs=view.state, outputs=new_latent, api_name="explore_randomize", **fast)
    gr.on(
        [view.use_seed.click, view.seed.submit],
        handlers.use_seed,
        inputs=[view.state, view.seed],
        outputs=new_latent,
        api_name="explore_seed",
        **fast,
    )
    view.reset.click(
        handlers.reset,
        inputs=view.state,
        outputs=[view.image, view.truncation, *view.sliders],
        api_name="explore_reset",
        **fast,
    )


def _connect_pictures(handlers: ExploreHandlers, view: ExploreView) -> None:
    """The pictures of several latents: an interpolation, every class, the nearest training images."""
    view.interpolate.click(
        handlers.interpolate,
        inputs=[view.state, view.seed_b, view.steps, view.method],
        outputs=[view.interpolation_strip, view.interpolation_gif],
        api_name="explore_interpolate",
        concurrency_limit=None,
    )
    view.all_classes.click(
        handlers.all_classes,
        inputs=view.state,
        outputs=[view.classes_strip, view.classes_note],
        api_name="explore_all_classes",
        concurrency_limit=None,
    )
    # The first search computes classifier features of every training image (seconds): at most
    # two at once; the index is then cached for everyone.
    view.neighbours.click(
        handlers.neighbours,
        inputs=view.state,
        outputs=[view.neighbours_gallery, view.neighbours_note],
        api_name="explore_neighbours",
        concurrency_limit=2,
    )

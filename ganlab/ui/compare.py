"""The Compare tab: two runs side by side, differing in one setting (ganlab.comparison), for the classic
lessons: minimax vs non-saturating loss, a plain GAN vs clusters, Adam's beta1.

UI wiring only: the two runs are ordinary live runs of this session in the shared RunManager (keys
``<session>/compare-a`` and ``/compare-b``), so they count against the server's slots and limits like any
run; a timer draws both views and one picture of both runs' curves while they train.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.context import Context

from ganlab.comparison import RUN_COLOURS, Comparison, comparisons, draw_comparison
from ganlab.data.registry import TOY_DATASETS
from ganlab.live import RunError, RunManager, RunSnapshot

TICK_SECONDS = 0.5
INTRO = """\
Pick a lesson and press **Start**: the two runs use the same data and seed and differ in one setting only.
Both train at once when the server has two free training slots, else one after the other."""


def _describe(lesson: Comparison) -> str:
    changed = ", ".join(f"**{name}** {a} → {b}" for name, (a, b) in lesson.difference.items())
    return f"**{lesson.title}**: {changed}.\n\n{lesson.what_to_look_for}"


def _status(label: str, snapshot: RunSnapshot | None, colour: tuple[int, int, int]) -> str:
    label = f"<span style='color:rgb{colour}'>■</span> **{label}**"
    if snapshot is None:
        return f"{label}: not started"
    label += f" ({snapshot.dataset})"
    if snapshot.status == "queued":
        return f"{label}: waiting for a training slot (position {snapshot.queue_position})"
    line = f"{label}: {snapshot.status}, step {snapshot.step:,}"
    return line + (f" ({snapshot.message})" if snapshot.message else "")


def _metrics(metrics: dict[str, float] | None) -> str:
    if not metrics:
        return ""
    return (
        f"modes covered **{metrics['modes_covered']} / {metrics['num_modes']}** · "
        f"high-quality samples **{metrics['high_quality']:.0%}**"
    )


class CompareTab:
    """The tab's handlers over the shared RunManager."""

    def __init__(self, manager: RunManager) -> None:
        self.manager = manager
        self.lessons = comparisons("ring8")

    @staticmethod
    def keys(request: gr.Request) -> tuple[str, str]:
        return f"{request.session_hash}/compare-a", f"{request.session_hash}/compare-b"

    def lesson(self, name: str, dataset: str) -> Comparison:
        lessons = comparisons(dataset if dataset in TOY_DATASETS else "ring8")
        for lesson in lessons.values():
            if name in (lesson.name, lesson.title):
                return lesson
        raise RunError(f"no lesson named {name!r}; pick one of: {', '.join(lessons)}")

    def describe(self, name: str, dataset: str) -> str:
        try:
            return _describe(self.lesson(name, dataset))
        except RunError as error:
            return f"⚠️ {error}"

    def start(self, name: str, dataset: str, request: gr.Request) -> tuple:
        """Start both runs from fresh weights (the second queues when no second slot is free)."""
        try:
            lesson = self.lesson(name, dataset)
            client = getattr(getattr(request, "client", None), "host", "") or ""
            for key, config, label in zip(self.keys(request), (lesson.a, lesson.b), (lesson.a_label, lesson.b_label)):
                self.manager.start(key, config, label=label, client=client)
        except (RunError, ValueError) as error:
            raise gr.Error(str(error)) from None
        return _describe(lesson), gr.Timer(active=True)

    def stop(self, request: gr.Request) -> tuple:
        for key in self.keys(request):
            if self.manager.has_run(key):
                self.manager.stop(key)
        return self.tick(request)

    def tick(self, request: gr.Request) -> tuple:
        """Both views, both statuses and the curves of both runs; the timer rests when neither trains."""
        snapshots = [self.manager.snapshot(key, max_points=400) for key in self.keys(request)]
        previews = [self.manager.preview(key) if s is not None else None for key, s in zip(self.keys(request), snapshots)]
        pictures = [gr.skip() if p is None else (str(p.path) if p.path is not None else p.picture) for p in previews]
        labels = tuple(s.dataset if s is not None else "-" for s in snapshots)
        statuses = [_status(label, s, colour) for label, s, colour in zip(("A", "B"), snapshots, RUN_COLOURS)]
        metrics = [_metrics(p.metrics) if p is not None else "" for p in previews]
        curves: Any = gr.skip()
        if all(s is not None for s in snapshots):
            probability = snapshots[0].objective_reading == "probability"
            curves = draw_comparison(snapshots[0].history, snapshots[1].history, probability=probability, labels=labels)
        training = any(s is not None and s.status in ("running", "queued") for s in snapshots)
        # While training, the timer already ticks: returning it would rebuild its config at every tick.
        timer = gr.skip() if training else gr.Timer(active=False)
        return (*pictures, *statuses, *metrics, curves, timer)

    def status(self, request: gr.Request) -> dict:
        """Both runs' status and latest numbers as JSON (for API clients)."""
        result = {}
        for name, key in zip(("a", "b"), self.keys(request)):
            snapshot = self.manager.snapshot(key, max_points=0)
            result[name] = snapshot.as_dict() if snapshot is not None else {"status": "none"}
            preview = self.manager.preview(key) if snapshot is not None else None
            if preview is not None and preview.metrics:
                result[name]["metrics"] = preview.metrics
        return result

    def release(self, request: gr.Request) -> None:
        for key in self.keys(request):
            self.manager.close(key)


def _run_column(label: str, colour: tuple[int, int, int]) -> tuple[gr.Markdown, gr.Image, gr.Markdown]:
    """One run's column: its status line, its view and its 2D metrics."""
    suffix = label.lower()
    with gr.Column():
        status = gr.Markdown(_status(label, None, colour), elem_id=f"compare-status-{suffix}")
        view = gr.Image(
            label=f"Run {label}",
            format="png",
            interactive=False,
            height=400,
            elem_id=f"compare-view-{suffix}",
            elem_classes=["ganlab-crisp"],
        )
        metrics = gr.Markdown("", elem_id=f"compare-metrics-{suffix}")
    return status, view, metrics


def build_compare_tab(manager: RunManager) -> CompareTab:
    """Lay out the Compare tab inside the current gr.Tab and wire its events."""
    tab = CompareTab(manager)
    titles = [lesson.title for lesson in tab.lessons.values()]
    gr.Markdown(INTRO)
    with gr.Row():
        lesson = gr.Dropdown(titles, value=titles[0], label="Lesson", elem_id="compare-lesson", scale=3)
        dataset = gr.Dropdown(list(TOY_DATASETS), value="ring8", label="Data", elem_id="compare-dataset", scale=1)
        start = gr.Button("Start both", variant="primary", elem_id="compare-start", scale=1)
        stop = gr.Button("Stop both", variant="stop", elem_id="compare-stop", scale=1)
    description = gr.Markdown(tab.describe(titles[0], "ring8"), elem_id="compare-description")
    with gr.Row():
        status_a, view_a, metrics_a = _run_column("A", RUN_COLOURS[0])
        status_b, view_b, metrics_b = _run_column("B", RUN_COLOURS[1])
    curves = gr.Image(label="Both runs' curves (A blue, B orange)", format="png", interactive=False, elem_id="compare-curves")
    timer = gr.Timer(TICK_SECONDS, active=False)
    outputs = [view_a, view_b, status_a, status_b, metrics_a, metrics_b, curves, timer]
    cheap = dict(concurrency_limit=None, show_progress="hidden")
    gr.on([lesson.change, dataset.change], tab.describe, [lesson, dataset], description, api_name="compare_describe", **cheap)
    start.click(tab.start, [lesson, dataset], [description, timer], api_name="compare_start", concurrency_limit=4)
    stop.click(tab.stop, None, outputs, api_name="compare_stop", **cheap)
    timer.tick(tab.tick, None, outputs, api_name="compare_tick", **cheap)
    gr.api(tab.status, api_name="compare_status", concurrency_limit=None)
    if Context.root_block is not None:
        Context.root_block.unload(tab.release)  # closing the page frees both runs
    return tab

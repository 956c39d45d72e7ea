"""Compose the tabs into one Gradio app. Each tab module owns its components and events."""

from __future__ import annotations

import os

import gradio as gr

from ganlab.device import describe_device, pick_device

TITLE = "ganlab: learn how GANs work"
CSS = """
.ganlab-crisp img { image-rendering: pixelated; }
@media (max-width: 480px) { .gradio-container .main { padding-left: 8px; padding-right: 8px; } }
"""


def build_app() -> gr.Blocks:
    from ganlab.ui import evaluate, explore, quiz, train

    device = describe_device(pick_device())
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\nRunning on **{device}**.", elem_id="ganlab-header")
        with gr.Tab("Train", id="train"):
            train.build_train_tab()
        with gr.Tab("Explore", id="explore"):
            explore.build_explore_tab()
        with gr.Tab("Quiz", id="quiz"):
            quiz.build_quiz_tab()
        with gr.Tab("Evaluate", id="evaluate"):
            evaluate.build_evaluate_tab()
    return demo


def launch(**kwargs) -> tuple:
    """Build and launch with the app's defaults; keyword arguments go to ``Blocks.launch``."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Gradio rebuilds a monitoring summary after every event (~90 ms at 10k events); the quiz
    # records thousands of answers, so rebuild it rarely.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo = build_app()
    demo.queue(default_concurrency_limit=None)
    # No run history: a backstop so that no quiz payload is ever listed at /gradio_api/runs.
    options = dict(css=CSS, footer_links=["api"], server_name="127.0.0.1", run_history=False)
    options.update(kwargs)
    return demo.launch(**options)

"""Compose the tabs into one Gradio app. Each tab module owns its components and events."""

from __future__ import annotations

import os

import gradio as gr

from ganlab import __version__
from ganlab.admin import AdminKey, AdminKeyError
from ganlab.data.uploads import MAX_UPLOAD_BYTES
from ganlab.device import describe_device, pick_device
from ganlab.overview import server_overview
from ganlab.owners import SessionOwners
from ganlab.paths import data_home
from ganlab.share import classroom_markdown, listens_beyond_loopback
from ganlab.ui.participant import participant_routes

TITLE = "ganlab: learn how GANs work"
CSS = """
.ganlab-crisp img { image-rendering: pixelated; }
@media (max-width: 480px) { .gradio-container .main { padding-left: 8px; padding-right: 8px; } }
"""


def build_app(host: str | None = None, port: int | None = None) -> gr.Blocks:
    """The whole app; ``host`` (the address it will listen on) decides whether acts for the whole class ask
    for the admin key (ganlab.admin: not on loopback) and, with ``port``, which address the header shows
    students (ganlab.share)."""
    from ganlab.ui import compare, evaluate, explore, quiz, train

    host = host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    admin, owners = AdminKey(listening_on=host), SessionOwners()
    device = describe_device(pick_device())
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600)) as demo:
        header = f"# {TITLE}\nRunning on **{device}**."
        if listens_beyond_loopback(host):  # a class can join: say where, with a QR code for phones
            header += "\n\n" + classroom_markdown(port or int(os.environ.get("GRADIO_SERVER_PORT") or 7860), host)
        gr.Markdown(header, elem_id="ganlab-header")
        with gr.Tab("Train", id="train"):
            demo.run_manager = train.build_train_tab(owners=owners, admin=admin)
        with gr.Tab("Compare", id="compare"):
            compare.build_compare_tab(demo.run_manager)
        with gr.Tab("Explore", id="explore"):
            explore.build_explore_tab(owners=owners)
        with gr.Tab("Quiz", id="quiz"):
            quiz_tab = quiz.build_quiz_tab(admin=admin)
        with gr.Tab("Evaluate", id="evaluate"):
            evaluate.build_evaluate_tab(owners=owners)
        with gr.Accordion("Server overview (for the teacher)", open=False):
            with gr.Row():
                key = gr.Textbox(label="Admin key", type="password", scale=3, elem_id="ganlab-overview-key")
                show = gr.Button("Show", scale=1, elem_id="ganlab-overview-show")
            numbers = gr.Markdown(elem_id="ganlab-overview")

        def overview(given_key: str) -> str:
            """People connected, runs training and queued, quizzes open (needs the admin key off loopback)."""
            try:
                admin.check(given_key, what="the server overview")
            except AdminKeyError as error:
                raise gr.Error(str(error)) from None
            store = quiz_tab.store if quiz_tab is not None else None
            return server_overview(demo.run_manager, owners, store).markdown()

        show.click(overview, key, numbers, api_name="server_overview", concurrency_limit=None)
    # A bounded queue: a flood of events is refused with "queue full" instead of growing without limit.
    demo.queue(default_concurrency_limit=None, max_size=int(os.environ.get("GANLAB_QUEUE_SIZE") or 1024))
    demo.admin_key, demo.owners, demo.quiz_tab = admin, owners, quiz_tab
    return demo


def launch(demo: gr.Blocks | None = None, **kwargs) -> tuple:
    """Launch ``demo`` (built here if not given) with the app's defaults; keyword arguments go to
    ``Blocks.launch``. The address defaults to Gradio's own ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT``."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Gradio rebuilds a monitoring summary after every event (~90 ms at 10k events); the quiz
    # records thousands of answers, so rebuild it rarely.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo = demo or build_app()
    # No run history: a backstop so that no quiz payload is ever listed at /gradio_api/runs.
    # max_file_size: an upload is refused by Gradio before it is stored (ganlab.data.uploads checks what is inside).
    options = dict(
        css=CSS,
        footer_links=["api"],
        server_name=os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1",
        run_history=False,
        max_file_size=MAX_UPLOAD_BYTES,
    )
    options.update(kwargs)
    quiz_tab = getattr(demo, "quiz_tab", None)
    if quiz_tab is not None:  # the quiz's lean participant route (/quiz/CODE) on the same server
        app_kwargs = dict(options.get("app_kwargs") or {})
        app_kwargs["routes"] = [*participant_routes(quiz_tab.store, quiz_tab.join_limit), *app_kwargs.get("routes", [])]
        options["app_kwargs"] = app_kwargs
    print(f"ganlab {__version__}: saved runs and quizzes live in {data_home()} (GANLAB_HOME)", flush=True)
    admin = getattr(demo, "admin_key", None)
    if admin is not None:
        admin.listening_on = options["server_name"]  # the address actually bound decides whether a key is asked
    if admin is not None and admin.required:
        print(f"Admin key (publishing runs to the class): {admin.key}", flush=True)
    return demo.launch(**options)

"""The Quiz tab (placeholder until its module is written)."""

import gradio as gr


def build_quiz_tab() -> None:
    gr.Markdown("This tab is being built.")

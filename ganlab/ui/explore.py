"""The Explore tab (placeholder until its module is written)."""

import gradio as gr


def build_explore_tab() -> None:
    gr.Markdown("This tab is being built.")

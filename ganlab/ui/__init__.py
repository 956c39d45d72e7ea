"""The Gradio app: one module per tab, composed by ``ganlab.ui.app``. UI wiring only."""

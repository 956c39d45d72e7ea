"""ganlab: teach and study Generative Adversarial Networks.

The package is the whole engine; the Gradio app in ``ganlab.ui`` only wires it up.
Data flows one way: data -> models/losses -> training -> checkpoints -> sampling/metrics/quiz -> ui.
"""

__version__ = "0.1.0"

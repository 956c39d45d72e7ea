"""Shared test settings: never touch the network, keep torch small and deterministic."""

import os

os.environ.setdefault("GANLAB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GANLAB_DEVICE", "cpu")

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

"""The one place that decides where tensors live: cuda, then mps, then cpu."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

_VALID = ("auto", "cuda", "mps", "cpu")


def pick_device(preference: str | None = "auto") -> torch.device:
    """Return the device to use.

    ``preference`` is "auto" (default; also ``None``), "cuda", "mps" or "cpu". The environment
    variable ``GANLAB_DEVICE`` overrides "auto" so a whole app can be pinned to one device.
    """
    preference = (preference or "auto").lower()
    if preference == "auto":
        preference = os.environ.get("GANLAB_DEVICE", "auto").lower()
    if preference not in _VALID:
        raise ValueError(f"device must be one of {', '.join(_VALID)}; got {preference!r}")
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
        return torch.device("cuda")
    if preference == "mps" or (preference == "auto" and _mps_available()):
        if not _mps_available():
            raise ValueError("device 'mps' was asked for but Apple's MPS backend is not available")
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def describe_device(device: torch.device | str | None = None) -> str:
    """A short human description, e.g. "GPU: NVIDIA H100 (cuda)" or "CPU (2 threads)"."""
    device = torch.device(device) if device is not None else pick_device()
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)} (cuda)"
    if device.type == "mps":
        return "GPU: Apple silicon (mps)"
    return f"CPU ({torch.get_num_threads()} threads)"


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for benchmark and model-card reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

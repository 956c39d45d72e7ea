"""The app's live runs: a manager per server (manager.py) and its parts: one run's record and the copies
readers get (run.py), training slots and the queue (slots.py), the Step button (stepping.py), previews
(previews.py), the quality curves (quality.py), saving and loading (saved.py), browser sessions and idle runs
(sessions.py), and the two ends of the worker-process protocol (relay.py in the server, worker.py in the
worker process).

Names are imported on first use: a worker process (``python -m ganlab.live.worker``) then loads only what
it trains with, not the manager and its drawing code.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "RunManager": "manager",
    "default_max_trainings": "manager",
    "MAX_PARAMETERS": "run",
    "Preview": "run",
    "QualityHistory": "quality",
    "RunError": "run",
    "RunSnapshot": "run",
    "StepReport": "run",
    "count_parameters": "run",
    "sample_grid": "run",
    "validate_name": "run",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'ganlab.live' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ganlab.live.{_HOMES[name]}"), name)

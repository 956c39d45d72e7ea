"""Helpers shared by the tests of live runs (test_runs.py, test_workers.py)."""

import time

from ganlab.presets import default_config


def small(dataset: str = "ring8", **overrides):
    """A 2D run small enough to train fast in a test."""
    return default_config(dataset, width=32, batch_size=64, **overrides)


def wait_until(condition, timeout: float = 60.0) -> bool:  # generous: a loaded machine starts workers slowly
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()

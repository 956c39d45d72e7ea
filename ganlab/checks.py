"""The checks that settings objects (TrainingConfig, QuizSettings) share: what counts as a whole number.

``True`` is an ``int`` in Python, so ``isinstance(x, int)`` alone would let ``batch_size=True`` through.
A TrainingConfig goes into a checkpoint's config.json, which holds Python ints only; the quiz also takes
NumPy integers, the type of a number read out of an array.
"""

from __future__ import annotations

import numpy as np


def is_int(value: object, *, numpy: bool = False) -> bool:
    """A whole number: a Python int that is not a bool; with ``numpy``, a NumPy integer too."""
    if numpy and isinstance(value, np.integer):
        return True
    return isinstance(value, int) and not isinstance(value, bool)

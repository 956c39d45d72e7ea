import numpy as np

from ganlab.checks import is_int


def test_is_int_refuses_bools_and_takes_numpy_integers_only_when_asked():
    assert is_int(3) and is_int(-1) and is_int(2**70)
    assert not is_int(True) and not is_int(3.0) and not is_int("3") and not is_int(None)
    assert not is_int(np.int64(3))  # a TrainingConfig goes to JSON: Python ints only
    assert is_int(np.int64(3), numpy=True) and is_int(np.uint8(3), numpy=True) and is_int(7, numpy=True)
    assert not is_int(np.bool_(True), numpy=True) and not is_int(True, numpy=True) and not is_int(np.float32(3), numpy=True)

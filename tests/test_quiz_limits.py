"""The per-address join limit: a burst, then a steady rate; addresses apart."""

import pytest

from ganlab.quiz import QuizError
from ganlab.quiz.limits import JoinRateLimit


def test_burst_then_rate_per_address():
    now = [0.0]
    limit = JoinRateLimit(burst=3, per_minute=6, clock=lambda: now[0])
    for _ in range(3):
        limit.take("10.0.0.1")
    with pytest.raises(QuizError, match="too many joins"):
        limit.take("10.0.0.1")
    limit.take("10.0.0.2")  # another address has its own bucket
    now[0] += 10  # 6 a minute: one more after 10 s
    limit.take("10.0.0.1")
    with pytest.raises(QuizError):
        limit.take("10.0.0.1")

"""How often one client (an address) may join quizzes: a token bucket per address.

A class on one network may share an address (a school's NAT), so the bucket is generous: a burst
of ``burst`` joins, then ``per_minute`` a minute. It stops a script from filling a quiz with
made-up participants (each quiz also has its own cap, ``QuizSettings.max_participants``), not a
class. Resuming a deck with its token is not a join and is not counted.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ganlab.quiz.errors import QuizError

MAX_CLIENTS = 10_000  # addresses remembered; the least recently seen are forgotten first
JOINS_ENV = "GANLAB_QUIZ_JOINS_PER_MINUTE"  # the steady rate; the burst is twice it (default 60 and 120)


class JoinRateLimit:
    def __init__(self, *, burst: int = 120, per_minute: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or per_minute <= 0:
            raise QuizError(f"the join limit needs burst >= 1 and per_minute > 0; got {burst}, {per_minute}")
        self.burst = burst
        self.per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, when)
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> JoinRateLimit:
        text = os.environ.get(JOINS_ENV, "").strip()
        try:
            per_minute = float(text) if text else 60.0
        except ValueError:
            raise QuizError(f"{JOINS_ENV} must be a number of joins a minute; got {text!r}") from None
        return cls(burst=max(1, int(2 * per_minute)), per_minute=per_minute)

    def take(self, address: str | None) -> None:
        """Count one join from ``address``; raise QuizError when it is over its limit."""
        key = address or "unknown"
        now = self._clock()
        with self._lock:
            tokens, when = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - when) * self.per_second)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.per_second
                raise QuizError(f"too many joins from your network just now; try again in {wait:.0f} s")
            self._buckets[key] = (tokens - 1, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)

"""QuizSettings: how a quiz is run, with every rule about it in one place.

The store, the app's Quiz tab and the command line all build a ``QuizSettings`` and call
``validate()``, which reports every problem in one message written for a person, e.g.
"deck_size must be a whole number from 2 to 500; got 1; fast_ms must be ...". Which images a quiz
uses (its sources) is not a setting: each front end names them its own way (pool names,
checkpoints, folders) and the store checks them against the pools it has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from ganlab.checks import is_int
from ganlab.quiz.deck import MODES
from ganlab.quiz.errors import QuizError
from ganlab.quiz.staircase import StaircaseRule

MAX_DECK = 500
MAX_PRACTICE = 20
MAX_TITLE = 120
MAX_PARTICIPANTS = 10_000
DEFAULT_MAX_PARTICIPANTS = 300  # a large lecture; the owner may allow more


@dataclass(frozen=True)
class QuizSettings:
    """The protocol of one quiz (docs/QUIZ.md). Defaults measure HYPE-infinity on 20 single images."""

    mode: str = "single"  # "single": real or fake?  "pair": which of two is real?
    deck_size: int = 20  # scored trials per participant
    practice_trials: int = 0  # unscored trials first; they always show feedback
    feedback: bool = False  # right/wrong after each answer: teaching, and then the report is practice
    timed: bool = False  # HYPE-time: flash each image for the staircases' exposure
    ask_confidence: bool = False  # a 1-5 rating with every answer
    qualification: float | None = None  # e.g. 0.65: flag people below it on real or on fake images
    fast_ms: int = 300  # answers faster than this (server-measured) are flagged
    title: str = ""
    display_size: int = 280  # pixels of the longer side on screen
    seed: int | None = None  # decks and schedules are drawn from it; None: a random one
    max_participants: int | None = DEFAULT_MAX_PARTICIPANTS  # joins beyond it are refused; None: no cap
    staircase: StaircaseRule = field(default_factory=StaircaseRule)

    @classmethod
    def from_options(cls, **options: Any) -> QuizSettings:
        """Settings from keyword options; an unknown option is a QuizError naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise QuizError(f"unknown quiz setting(s) {', '.join(unknown)}; the settings are {', '.join(sorted(known))}")
        if options.get("staircase", ...) is None:
            options.pop("staircase")
        return cls(**options)

    def problems(self) -> list[str]:
        """Every rule this quiz breaks, as sentences for a person (empty when it is fine)."""
        found = []
        if self.mode not in MODES:
            found.append(f"mode must be 'single' or 'pair'; got {self.mode!r}")
        for name, value, low, high in (
            ("deck_size", self.deck_size, 2, MAX_DECK),
            ("practice_trials", self.practice_trials, 0, MAX_PRACTICE),
        ):
            if not is_int(value, numpy=True) or not low <= value <= high:
                found.append(f"{name} must be a whole number from {low} to {high}; got {value!r}")
        for name in ("feedback", "timed", "ask_confidence"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                found.append(f"{name} must be True or False; got {getattr(self, name)!r}")
        q = self.qualification
        if q is not None and (isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 <= q <= 1):
            found.append(f"qualification must be a share between 0 and 1 (HYPE uses 0.65) or None; got {q!r}")
        if not is_int(self.fast_ms, numpy=True) or not 0 <= self.fast_ms <= 10_000:
            found.append(f"fast_ms must be a whole number of milliseconds from 0 to 10000; got {self.fast_ms!r}")
        if not is_int(self.display_size, numpy=True) or not 28 <= self.display_size <= 1024:
            found.append(f"display_size must be 28-1024 pixels; got {self.display_size!r}")
        if not isinstance(self.title, str) or len(self.title) > MAX_TITLE:
            found.append(f"the title must be text of at most {MAX_TITLE} characters")
        if self.seed is not None and (not is_int(self.seed, numpy=True) or not 0 <= self.seed < 2**62):
            found.append(f"seed must be a whole number from 0 to 2**62 - 1; got {self.seed!r}")
        cap = self.max_participants
        if cap is not None and (not is_int(cap, numpy=True) or not 1 <= cap <= MAX_PARTICIPANTS):
            found.append(f"max_participants must be a whole number from 1 to {MAX_PARTICIPANTS} or None; got {cap!r}")
        if not isinstance(self.staircase, StaircaseRule):
            found.append("staircase must be a StaircaseRule")
        return found

    def validate(self) -> QuizSettings:
        """Return these settings, or raise one QuizError that lists every problem."""
        found = self.problems()
        if found:
            raise QuizError("; ".join(found))
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

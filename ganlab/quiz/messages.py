"""What the quiz store hands back to a UI: small frozen dataclasses.

Participant-facing messages (QuizInfo, JoinResult, ClientTrial, AnswerReceipt, Progress)
carry nothing that tells a real image from a fake one, except the Feedback a quiz with
feedback switched on gives *after* an answer is stored. Owner-facing results live in
``ganlab.quiz.report``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CreatedQuiz:
    code: str  # 6 characters to write on the board, e.g. "7KQ2XD"
    owner_key: str  # secret: needed for results, exports, closing; shown once, stored hashed


@dataclass(frozen=True)
class QuizInfo:
    """What anyone with the code may know about a quiz (no sources, no seed)."""

    code: str
    title: str
    mode: str  # "single" | "pair"
    deck_size: int  # scored trials
    practice_trials: int
    feedback: bool
    timed: bool
    ask_confidence: bool
    is_open: bool
    choices: tuple[str, str]  # the two answers the UI offers: ("real", "fake") or ("left", "right")
    instructions: str


@dataclass(frozen=True)
class JoinResult:
    token: str  # secret for every later call; keep it in the browser to resume after a reload
    nickname: str
    resumed: bool  # True: this nickname already had a deck and the right token came along
    quiz: QuizInfo
    next_trial: int | None  # 1-based number of the trial to show; None when the deck is done
    total: int  # trials in the deck, practice included


@dataclass(frozen=True)
class ClientTrial:
    """Everything the browser gets for one trial. Identical in form for real and fake."""

    trial_id: str  # opaque random token (not an image id); may be sent back with the answer
    trial_number: int  # 1-based position in the deck; the number to answer
    total: int  # trials in the deck, practice included
    practice: bool
    mode: str  # "single" | "pair"
    images: tuple[bytes, ...]  # PNG bytes: one image, or (left, right) in pair mode
    exposure_ms: int | None  # timed quizzes: show the image(s) this long, then the mask
    mask: bytes | None  # timed quizzes: PNG noise mask of the same size


@dataclass(frozen=True)
class Feedback:
    correct: bool
    truth: str  # single: "real" | "fake";  pair: "left" | "right" (the side of the real image)


@dataclass(frozen=True)
class AnswerReceipt:
    recorded: bool  # True only after the answer is committed to the database
    trial_number: int
    duplicate: bool  # True: the same answer had already been recorded (nothing changed)
    feedback: Feedback | None  # only when the quiz gives feedback (always on practice trials)
    next_trial: int | None  # None when this was the last trial
    finished: bool


@dataclass(frozen=True)
class Progress:
    """A participant's own progress; the score appears only once the deck is finished."""

    nickname: str
    answered: int
    total: int
    finished: bool
    correct: int | None  # scored (non-practice) trials answered correctly, when finished
    scored: int | None  # scored trials, when finished

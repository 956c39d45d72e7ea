"""The quiz store's rows as typed records, and the pure conversions between them and the messages it
returns: a quiz's public description, an answer's receipt, a deck's trial row, the answer choices of a
mode, timestamps.

The JSON columns of a quiz (its sources, pools and staircase) are decoded here, once, when a row is
read (``QuizRow.from_mapping``); the rest of the store works with attributes, not ``dict[str, Any]``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Self

from ganlab.quiz.deck import TrialSpec
from ganlab.quiz.messages import AnswerReceipt, Feedback, QuizInfo


class _Record:
    """``from_mapping``: a record from a database row (extra columns such as schema_version are ignored)."""

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Self:
        return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]

    def values(self) -> dict[str, Any]:
        """The record as column values (for an insert)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class QuizRow(_Record):
    """One row of ``quizzes``, with its JSON columns decoded."""

    id: int
    code: str
    owner_key_hash: str
    title: str
    mode: str
    deck_size: int
    practice_trials: int
    feedback: bool
    timed: bool
    ask_confidence: bool
    qualification: float | None
    fast_ms: int
    real_pool: str
    sources: tuple[str, ...]  # the generator pools, in the order given at creation
    pools: dict[str, dict[str, Any]]  # {name: {size, shape, fingerprint}} at creation
    seed: int
    display_size: int
    staircase: dict[str, Any]  # StaircaseRule.to_dict()
    max_participants: int | None
    joined: int | None  # None: a quiz made before the join counter existed
    is_open: bool
    created_at: float
    closed_at: float | None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> QuizRow:
        decoded = dict(row)
        decoded["sources"] = tuple(json.loads(row["sources"]))
        decoded["pools"] = json.loads(row["pools"])
        decoded["staircase"] = json.loads(row["staircase"])
        for flag in ("feedback", "timed", "ask_confidence", "is_open"):
            decoded[flag] = bool(row[flag])
        return super().from_mapping(decoded)

    @property
    def total_trials(self) -> int:
        """A participant's whole deck: the practice trials, then the scored ones."""
        return self.deck_size + self.practice_trials

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.pools[self.real_pool]["shape"])

    def report_settings(self) -> dict[str, Any]:
        """The quiz as ``ganlab.quiz.report.build_report`` reads it."""
        settings = self.values()
        settings["sources"] = list(self.sources)
        return settings


@dataclass(frozen=True)
class ParticipantRow(_Record):
    id: int
    quiz_id: int
    nickname: str
    nickname_key: str  # casefolded: "Ada" and "ada" are one person
    token_hash: str
    number: int
    joined_at: float
    finished_at: float | None


@dataclass(frozen=True)
class TrialRow(_Record):
    """One trial of a stored deck (server side only)."""

    id: int
    participant_id: int
    trial_index: int
    trial_id: str
    practice: bool
    truth: str
    source: str
    image_a_pool: str
    image_a_index: int
    image_b_pool: str | None
    image_b_index: int | None
    exposure_ms: int | None
    first_served_at: float | None
    served_at: float | None
    serve_count: int

    @property
    def images(self) -> list[tuple[str, int]]:
        """(pool, index) of the image, or of the left and right images in pair mode."""
        refs = [(self.image_a_pool, self.image_a_index)]
        if self.image_b_pool is not None and self.image_b_index is not None:
            refs.append((self.image_b_pool, self.image_b_index))
        return refs


@dataclass(frozen=True)
class AnswerRow(_Record):
    """One stored answer (the columns of ``answers`` but its id)."""

    quiz_id: int
    participant_id: int
    trial_index: int
    image_a_pool: str
    image_a_index: int
    image_b_pool: str | None
    image_b_index: int | None
    source: str
    truth: str
    answer: str
    correct: bool
    response_ms: float
    client_ms: float | None
    exposure_ms: int | None
    confidence: int | None
    feedback: bool
    practice: bool
    fast: bool
    serve_count: int
    answered_at: float


def _choices(mode: str) -> tuple[str, str]:
    return ("real", "fake") if mode == "single" else ("left", "right")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds")


def _trial_row(participant_id: int, index: int, spec: TrialSpec) -> dict[str, Any]:
    return {
        "participant_id": participant_id,
        "trial_index": index,
        "trial_id": secrets.token_urlsafe(12),  # random: carries nothing about the image
        "practice": spec.practice,
        "truth": spec.truth,
        "source": spec.source,
        "image_a_pool": spec.image_a[0],
        "image_a_index": int(spec.image_a[1]),
        "image_b_pool": spec.image_b[0] if spec.image_b else None,
        "image_b_index": int(spec.image_b[1]) if spec.image_b else None,
        "serve_count": 0,
    }


def _receipt(row: AnswerRow, total: int, *, duplicate: bool) -> AnswerReceipt:
    index = row.trial_index
    feedback = Feedback(correct=bool(row.correct), truth=row.truth) if row.feedback else None
    finished = index + 1 >= total
    return AnswerReceipt(
        recorded=True,
        trial_number=index + 1,
        duplicate=duplicate,
        feedback=feedback,
        next_trial=None if finished else index + 2,
        finished=finished,
    )


def _quiz_info(quiz: QuizRow) -> QuizInfo:
    mode = quiz.mode
    if mode == "single":
        lines = [
            "Some images are real and some were made by a generator network, in random order; how many of "
            "each is left to chance and differs from person to person.",
            "For each image, answer Real or Fake.",
        ]
    else:
        lines = [
            "Each time you see two images: one is real, the other was made by a generator network.",
            "Pick the real one.",
        ]
    if quiz.timed:
        lines.append("Each image appears only briefly and is then covered by noise; answer as well as you can.")
    if quiz.practice_trials:
        lines.append(f"The first {quiz.practice_trials} trials are practice and do not count.")
    if quiz.ask_confidence:
        lines.append("With each answer, say how sure you are (1 = guessing, 5 = certain).")
    lines.append(
        "You will see after each answer whether you were right." if quiz.feedback else "You will see your score at the end."
    )
    return QuizInfo(
        code=quiz.code,
        title=quiz.title,
        mode=mode,
        deck_size=quiz.deck_size,
        practice_trials=quiz.practice_trials,
        feedback=quiz.feedback,
        timed=quiz.timed,
        ask_confidence=quiz.ask_confidence,
        is_open=quiz.is_open,
        choices=_choices(mode),
        instructions=" ".join(lines),
    )

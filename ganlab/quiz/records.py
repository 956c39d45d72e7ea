"""Pure conversions between the quiz store's rows and the messages it returns: a quiz's public
description, an answer's receipt, a deck's trial row, the answer choices of a mode, timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from ganlab.quiz.deck import TrialSpec
from ganlab.quiz.messages import AnswerReceipt, Feedback, QuizInfo


def _trials_in_deck(quiz: Any) -> int:
    """A participant's whole deck: the practice trials, then the scored ones."""
    return quiz["deck_size"] + quiz["practice_trials"]


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


def _receipt(row: Any, total: int, *, duplicate: bool) -> AnswerReceipt:
    index = row["trial_index"]
    feedback = Feedback(correct=bool(row["correct"]), truth=row["truth"]) if row["feedback"] else None
    finished = index + 1 >= total
    return AnswerReceipt(
        recorded=True,
        trial_number=index + 1,
        duplicate=duplicate,
        feedback=feedback,
        next_trial=None if finished else index + 2,
        finished=finished,
    )


def _quiz_info(quiz: dict[str, Any]) -> QuizInfo:
    mode = quiz["mode"]
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
    if quiz["timed"]:
        lines.append("Each image appears only briefly and is then covered by noise; answer as well as you can.")
    if quiz["practice_trials"]:
        lines.append(f"The first {quiz['practice_trials']} trials are practice and do not count.")
    if quiz["ask_confidence"]:
        lines.append("With each answer, say how sure you are (1 = guessing, 5 = certain).")
    lines.append(
        "You will see after each answer whether you were right." if quiz["feedback"] else "You will see your score at the end."
    )
    return QuizInfo(
        code=quiz["code"],
        title=quiz["title"],
        mode=mode,
        deck_size=quiz["deck_size"],
        practice_trials=quiz["practice_trials"],
        feedback=bool(quiz["feedback"]),
        timed=bool(quiz["timed"]),
        ask_confidence=bool(quiz["ask_confidence"]),
        is_open=bool(quiz["is_open"]),
        choices=_choices(mode),
        instructions=" ".join(lines),
    )

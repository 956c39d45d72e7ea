"""Spot-the-fake human evaluation (HYPE protocol): decks, answer store, statistics.

A UI needs only this surface (see docs/QUIZ.md):

    images = QuizImages([ImagePool("mnist-heldout", True, real_uint8),
                         ImagePool.from_nchw("dcgan-mnist", False, fake_nchw_uint8)])
    store = QuizStore("quiz.sqlite", images)
    created = store.create_quiz(sources=["dcgan-mnist"], deck_size=20)    # code + owner key
    joined = store.join(created.code, "Ada")                              # token
    trial = store.render_trial(joined.token)                              # ClientTrial | None
    receipt = store.answer(joined.token, trial.trial_number, "fake")      # AnswerReceipt
    report = store.results(created.code, created.owner_key)               # QuizReport
"""

from ganlab.quiz.errors import QuizError
from ganlab.quiz.images import ImagePool, QuizImages
from ganlab.quiz.messages import (
    AnswerReceipt,
    ClientTrial,
    CreatedQuiz,
    Feedback,
    JoinResult,
    Progress,
    QuizInfo,
)
from ganlab.quiz.report import QuizReport
from ganlab.quiz.staircase import StaircaseRule
from ganlab.quiz.store import QuizStore, default_database_url

__all__ = [
    "AnswerReceipt",
    "ClientTrial",
    "CreatedQuiz",
    "Feedback",
    "ImagePool",
    "JoinResult",
    "Progress",
    "QuizError",
    "QuizImages",
    "QuizInfo",
    "QuizReport",
    "QuizStore",
    "StaircaseRule",
    "default_database_url",
]

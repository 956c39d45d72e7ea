"""The participant's side of the quiz store: serve the current trial, record an answer, report progress.

A mixin of QuizStore (it needs the store's transactions and lookups); these run on every answer, so
their statements are built once (below) and ``answer_and_next`` records an answer and serves the next
trial in one transaction, with one commit. Real and fake trials take exactly the same path: the same
statements, the same pool lookups, the same rendering, a noise mask when timed.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from ganlab.checks import is_int
from ganlab.quiz.database import QuizDatabase
from ganlab.quiz.encoded import EncodedImages, native_png
from ganlab.quiz.errors import QuizError
from ganlab.quiz.images import noise_mask, render_png
from ganlab.quiz.messages import AnswerReceipt, ClientTrial, Progress
from ganlab.quiz.records import AnswerRow, ParticipantRow, QuizRow, TrialRow, _choices, _receipt
from ganlab.quiz.staircase import StaircaseRule, next_exposure, staircase_schedule
from ganlab.quiz.tables import answers, participants, trials

MAX_CLIENT_MS = 3_600_000  # an hour: anything longer from a browser is garbage

ANSWER_COUNT = select(func.count()).select_from(answers).where(answers.c.participant_id == bindparam("pid"))
ANSWER_AT = select(answers).where(answers.c.participant_id == bindparam("pid"), answers.c.trial_index == bindparam("index"))
TRIAL_AT = select(trials).where(trials.c.participant_id == bindparam("pid"), trials.c.trial_index == bindparam("index"))
SCORED_ANSWERS = (
    select(answers.c.correct)
    .where(answers.c.participant_id == bindparam("pid"), answers.c.practice.is_(False))
    .order_by(answers.c.trial_index)
)
MARK_SERVED = (
    update(trials)
    .where(trials.c.id == bindparam("trial_row"))
    .values(
        served_at=bindparam("now"),
        first_served_at=func.coalesce(trials.c.first_served_at, bindparam("now")),
        serve_count=trials.c.serve_count + 1,
        exposure_ms=bindparam("exposure"),
    )
)
MARK_FINISHED = update(participants).where(participants.c.id == bindparam("pid")).values(finished_at=bindparam("now"))
ANSWER_INSERT = answers.insert()


@dataclass(frozen=True)
class CheckedAnswer:
    """An answer as the browser sent it, checked for form before the database is touched."""

    index: int  # 0-based trial position
    choice: str
    confidence: int | None
    client_ms: float | None
    trial_id: str | None

    @classmethod
    def of(cls, trial_number: object, answer: object, confidence: object, client_ms: object, trial_id: object) -> CheckedAnswer:
        if not is_int(trial_number, numpy=True) or trial_number < 1:  # type: ignore[operator]
            raise QuizError(f"trial_number must be a whole number from 1; got {trial_number!r}")
        if not isinstance(answer, str):
            raise QuizError(f"the answer must be text such as 'real' or 'fake'; got {answer!r}")
        if confidence is not None:
            if isinstance(confidence, float) and confidence.is_integer():
                confidence = int(confidence)
            if not is_int(confidence, numpy=True) or not 1 <= confidence <= 5:  # type: ignore[operator]
                raise QuizError(f"confidence must be a whole number from 1 to 5; got {confidence!r}")
            confidence = int(confidence)  # type: ignore[call-overload]
        if client_ms is not None:
            if isinstance(client_ms, bool) or not isinstance(client_ms, (int, float, np.number)):
                raise QuizError(f"client_ms must be a number of milliseconds; got {client_ms!r}")
            client_ms = float(client_ms)
            if not math.isfinite(client_ms) or not 0 <= client_ms <= MAX_CLIENT_MS:
                raise QuizError(f"client_ms must be between 0 and {MAX_CLIENT_MS}; got {client_ms!r}")
        if trial_id is not None and not isinstance(trial_id, str):
            raise QuizError("trial_id must be the text id of the trial that was shown")
        return cls(int(trial_number) - 1, answer.strip().lower(), confidence, client_ms, trial_id)  # type: ignore[call-overload, arg-type]


@dataclass(frozen=True)
class Served:
    """A trial just marked as served (inside the transaction); rendered into a ClientTrial after it."""

    trial: TrialRow
    exposure_ms: int | None


class QuizServingMixin(QuizDatabase):
    """render_trial, answer, answer_and_next and progress of QuizStore."""

    encoded: EncodedImages

    def render_trial(self, token: str, *, native_size: bool = False) -> ClientTrial | None:
        """Serve the participant's current trial (None once the deck is finished).

        Marks the trial as served now (response time counts from here; a reload restarts the
        clock and is counted). ``native_size``: images at the pools' own size, for a browser that
        scales them up itself (the participant route); else scaled to the quiz's display size.
        """
        with self._transaction(write=True, durable=False) as conn:
            now = self._clock()  # after any wait for the database, as close to sending as we get
            participant, quiz = self._participant(conn, token)
            self._require_open(quiz)
            served = self._serve(conn, participant, quiz, now)
        # Rendering happens outside the transaction: the database lock is held for ms only.
        return None if served is None else self._client_trial(quiz, served, native_size)

    def _serve(self, conn: Connection, participant: ParticipantRow, quiz: QuizRow, now: float) -> Served | None:
        index = conn.execute(ANSWER_COUNT, {"pid": participant.id}).scalar_one()
        if index >= quiz.total_trials:
            return None
        trial = TrialRow.from_mapping(conn.execute(TRIAL_AT, {"pid": participant.id, "index": index}).mappings().one())
        for pool, _ in trial.images:  # a changed pool fails here, before the trial is marked served
            self._pool(quiz, pool)
        exposure = trial.exposure_ms
        if quiz.timed and exposure is None:
            rule = StaircaseRule.from_dict(quiz.staircase)
            if trial.practice:
                exposure = rule.start_ms  # practice shows the starting exposure and moves nothing
            else:
                scored = conn.execute(SCORED_ANSWERS, {"pid": participant.id}).scalars()
                schedule = staircase_schedule(rule, quiz.deck_size, quiz.seed, participant.nickname_key)
                exposure = next_exposure(rule, schedule, [bool(c) for c in scored])
        conn.execute(MARK_SERVED, {"trial_row": trial.id, "now": now, "exposure": exposure})
        return Served(trial, exposure if quiz.timed else None)

    def _client_trial(self, quiz: QuizRow, served: Served, native_size: bool) -> ClientTrial:
        trial = served.trial
        if native_size:
            quiz_pools = [self._pool(quiz, name) for name in quiz.pools]
            images = tuple(self.encoded.image(quiz_pools, self._pool(quiz, pool), index) for pool, index in trial.images)
        else:
            images = tuple(
                render_png(self._pool(quiz, pool).images[index], size=quiz.display_size) for pool, index in trial.images
            )
        mask = None
        if quiz.timed:
            noise = noise_mask(quiz.image_shape, np.random.default_rng())
            mask = native_png(noise, quiz.image_shape) if native_size else render_png(noise, size=quiz.display_size)
        return ClientTrial(
            trial_id=trial.trial_id,
            trial_number=trial.trial_index + 1,
            total=quiz.total_trials,
            practice=bool(trial.practice),
            mode=quiz.mode,
            images=images,
            exposure_ms=served.exposure_ms,
            mask=mask,
        )

    def answer(
        self,
        token: str,
        trial_number: int,
        answer: str,
        confidence: int | None = None,
        client_ms: float | None = None,
        *,
        trial_id: str | None = None,
    ) -> AnswerReceipt:
        """Record an answer to the current trial; returns only after it is committed.

        answer: "real" or "fake" (single mode), "left" or "right" = the side of the real image
        (pair mode). confidence: 1-5, required exactly when the quiz asks for it. client_ms:
        the browser's own timing, stored beside the server's. trial_id: if given, must be the
        id of the trial that was served (guards against answering a stale page).
        """
        checked = CheckedAnswer.of(trial_number, answer, confidence, client_ms, trial_id)
        receipt, _ = self._answer(token, checked, serve_next=False, native_size=False)
        return receipt

    def answer_and_next(
        self,
        token: str,
        trial_number: int,
        answer: str,
        confidence: int | None = None,
        client_ms: float | None = None,
        *,
        trial_id: str | None = None,
        native_size: bool = True,
    ) -> tuple[AnswerReceipt, ClientTrial | None]:
        """``answer``, then serve the trial that comes next (None when the deck is done), in one transaction:
        the next trial counts as served from the moment the answer arrived. A repeated submission (a
        retry) serves the current trial again, as a reload would. The participant route's one call."""
        checked = CheckedAnswer.of(trial_number, answer, confidence, client_ms, trial_id)
        return self._answer(token, checked, serve_next=True, native_size=native_size)

    def _answer(
        self, token: str, checked: CheckedAnswer, *, serve_next: bool, native_size: bool
    ) -> tuple[AnswerReceipt, ClientTrial | None]:
        arrived = self._clock()  # before any wait for the database: waiting is not thinking
        for attempt in range(2):
            try:
                with self._transaction(write=True) as conn:
                    participant, quiz = self._participant(conn, token, lock=True)
                    self._require_open(quiz)
                    receipt = self._record_answer(conn, participant, quiz, checked, arrived)
                    served = self._serve(conn, participant, quiz, arrived) if serve_next else None
                return receipt, None if served is None else self._client_trial(quiz, served, native_size)
            except IntegrityError:
                # Another process inserted this answer between our check and our insert (only
                # possible on servers without BEGIN IMMEDIATE); the retry reports it properly.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _record_answer(
        self, conn: Connection, participant: ParticipantRow, quiz: QuizRow, checked: CheckedAnswer, now: float
    ) -> AnswerReceipt:
        index, choice, confidence = checked.index, checked.choice, checked.confidence
        choices = _choices(quiz.mode)
        if choice not in choices:
            raise QuizError(f"the answer must be {choices[0]!r} or {choices[1]!r}; got {choice!r}")
        if quiz.ask_confidence and confidence is None:
            raise QuizError("this quiz asks how sure you are: give a confidence from 1 to 5")
        if not quiz.ask_confidence and confidence is not None:
            raise QuizError("this quiz does not ask for a confidence rating; send none")
        total = quiz.total_trials
        if index >= total:
            raise QuizError(f"trial {index + 1} does not exist; the deck has {total} trials")
        # Answers are stored in deck order, so their count is the current trial's position.
        current = conn.execute(ANSWER_COUNT, {"pid": participant.id}).scalar_one()
        if index < current:
            previous = AnswerRow.from_mapping(conn.execute(ANSWER_AT, {"pid": participant.id, "index": index}).mappings().one())
            if previous.answer == choice and previous.confidence == confidence:
                return _receipt(previous, total, duplicate=True)
            raise QuizError(f"trial {index + 1} was already answered ({previous.answer!r}); an answer cannot be changed")
        if current >= total:
            raise QuizError("this deck is already finished")
        if index != current:
            raise QuizError(f"trial {index + 1} is not the current trial; answer trial {current + 1} first")
        trial = TrialRow.from_mapping(conn.execute(TRIAL_AT, {"pid": participant.id, "index": index}).mappings().one())
        if checked.trial_id is not None and not hmac.compare_digest(checked.trial_id, trial.trial_id):
            raise QuizError("this answer belongs to another trial than the one on screen; reload the page")
        if trial.served_at is None:
            raise QuizError(f"trial {index + 1} has not been shown yet; load it before answering")
        response_ms = max(0.0, (now - trial.served_at) * 1000.0)
        row = AnswerRow(
            quiz_id=quiz.id,
            participant_id=participant.id,
            trial_index=index,
            image_a_pool=trial.image_a_pool,
            image_a_index=trial.image_a_index,
            image_b_pool=trial.image_b_pool,
            image_b_index=trial.image_b_index,
            source=trial.source,
            truth=trial.truth,
            answer=choice,
            correct=choice == trial.truth,
            response_ms=response_ms,
            client_ms=checked.client_ms,
            exposure_ms=trial.exposure_ms,
            confidence=confidence,
            feedback=quiz.feedback or bool(trial.practice),  # practice always teaches
            practice=bool(trial.practice),
            fast=response_ms < quiz.fast_ms,
            serve_count=trial.serve_count,
            answered_at=now,
        )
        conn.execute(ANSWER_INSERT, row.values())
        if index + 1 == total:
            conn.execute(MARK_FINISHED, {"pid": participant.id, "now": now})
        return _receipt(row, total, duplicate=False)

    def progress(self, token: str) -> Progress:
        """The participant's own progress; their score only once they have finished."""
        with self._transaction(write=False) as conn:
            participant, quiz = self._participant(conn, token)
            rows = conn.execute(
                select(answers.c.correct, answers.c.practice).where(answers.c.participant_id == participant.id)
            ).all()
        finished = len(rows) >= quiz.total_trials
        scored = [bool(correct) for correct, practice in rows if not practice]
        return Progress(
            nickname=participant.nickname,
            answered=len(rows),
            total=quiz.total_trials,
            finished=finished,
            correct=sum(scored) if finished else None,
            scored=len(scored) if finished else None,
        )

"""QuizStore: quizzes, participants, decks and answers in one SQL database.

This is where an answer is stored. The guarantees a researcher relies on:

- An answer is committed before ``answer`` returns a receipt, so killing the server at any
  moment loses no answer the browser was told was recorded. On SQLite the database runs in
  WAL mode with ``synchronous=FULL``: every commit waits for the write-ahead log to reach the
  disk. NORMAL would survive a killed process too, but a power cut or OS crash could undo the
  last commits; at the pace people answer, one fsync per answer costs nothing noticeable.
- One answer per trial: UNIQUE(participant, trial_index) in the schema; a repeated identical
  submission (double click, retry after a network hiccup) returns the original receipt marked
  ``duplicate``; a different answer to an answered trial, an answer to any trial but the
  current one, or garbage is refused with a QuizError and nothing is written.
- Safe under many threads: one engine, short transactions. SQLite write transactions start
  with BEGIN IMMEDIATE (take the write lock up front, so two writers cannot both read and
  then fail to upgrade), wait on a busy timeout, and are serialised per process by a lock.
- Nothing that tells real from fake reaches a participant: see ``render_trial``.
- Response times are measured here, on the server: from the last time a trial was served
  to the moment its answer arrives (wall clock, so they survive a restart of the server).
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from ganlab.checks import is_int
from ganlab.quiz.database import QuizDatabase, _database_url, _hash_secret, default_database_url
from ganlab.quiz.deck import (
    TrialSpec,
    build_deck,
    images_needed,
    new_join_code,
    normalise_code,
    normalise_nickname,
)
from ganlab.quiz.errors import QuizError
from ganlab.quiz.exports import QuizExportsMixin
from ganlab.quiz.images import QuizImages, noise_mask, render_png
from ganlab.quiz.messages import AnswerReceipt, ClientTrial, CreatedQuiz, JoinResult, Progress, QuizInfo
from ganlab.quiz.records import _choices, _quiz_info, _receipt, _trial_row, _trials_in_deck
from ganlab.quiz.settings import QuizSettings
from ganlab.quiz.staircase import StaircaseRule, next_exposure, staircase_schedule
from ganlab.quiz.tables import answers, create_tables, participants, quizzes, trials

MAX_CLIENT_MS = 3_600_000  # an hour: anything longer from a browser is garbage


class QuizStore(QuizExportsMixin, QuizDatabase):
    """All quiz state: create quizzes, let participants join and answer, give owners results.

    ``database`` is a file path (SQLite) or a SQLAlchemy URL. ``images`` is the registry of
    image pools trials are drawn from (needed to create quizzes and serve trials, not for
    results). ``clock`` returns wall-clock seconds; tests pass a fake one.
    """

    def __init__(
        self,
        database: str | Path | None = None,
        images: QuizImages | None = None,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 30.0,
    ) -> None:
        url = _database_url(database) if database is not None else default_database_url()
        self.images = images if images is not None else QuizImages()
        self._clock = clock
        self._is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.Lock()
        self._verified_quizzes: set[int] = set()
        self._engine = self._make_engine(url, busy_timeout_s)
        create_tables(self._engine)

    # ------------------------------------------------------------------ quizzes (owner)

    def create_quiz(
        self,
        *,
        sources: Sequence[str] | str,
        real_pool: str | None = None,
        settings: QuizSettings | None = None,
        **options: Any,
    ) -> CreatedQuiz:
        """Create an open quiz and return its join code and the secret owner key.

        sources: generator pool name(s) whose images are the fakes (split evenly in each deck).
        real_pool: the held-out real pool; may be left out when exactly one is registered.
        settings: a ``QuizSettings``, or its fields as keyword options (``deck_size=20, timed=True``).
        """
        if settings is None:
            settings = QuizSettings.from_options(**options)
        elif options:
            raise QuizError(f"give the quiz settings either as QuizSettings or as options, not both; got {sorted(options)}")
        settings.validate()
        mode, deck_size, practice_trials = settings.mode, settings.deck_size, settings.practice_trials
        seed = settings.seed if settings.seed is not None else secrets.randbits(62)
        source_names = [sources] if isinstance(sources, str) else list(sources)
        if not source_names or not all(isinstance(s, str) for s in source_names):
            raise QuizError("choose at least one generator source (a registered pool name)")
        if len(set(source_names)) != len(source_names):
            raise QuizError(f"each source may be listed once; got {source_names}")
        if real_pool is None:
            reals = self.images.real_names
            if len(reals) != 1:
                raise QuizError(f"say which real pool to use (real_pool=...); registered real pools: {reals or 'none'}")
            real_pool = reals[0]
        real = self.images.get(real_pool)
        if not real.is_real:
            raise QuizError(f"pool {real_pool!r} holds generated images; real_pool must be a pool of real images")
        fakes = [self.images.get(name) for name in source_names]
        for pool in fakes:
            if pool.is_real:
                raise QuizError(f"pool {pool.name!r} holds real images; sources must be generated pools")
            if pool.image_shape != real.image_shape:
                # Different sizes or channels would give the fakes away at a glance.
                raise QuizError(
                    f"pool {pool.name!r} has images of shape {pool.image_shape} but the real pool "
                    f"{real.name!r} has {real.image_shape}; all images of a quiz must match"
                )
        n_real, per_source = images_needed(mode, deck_size, practice_trials, len(fakes))
        if len(real) < n_real:
            raise QuizError(f"each deck needs {n_real} real images but pool {real.name!r} has only {len(real)}")
        for pool in fakes:
            if len(pool) < per_source:
                raise QuizError(f"each deck needs up to {per_source} images from {pool.name!r}; it has only {len(pool)}")

        owner_key = secrets.token_urlsafe(24)
        while owner_key.startswith("-"):  # a command line would take it for an option
            owner_key = secrets.token_urlsafe(24)
        pools = {
            p.name: {
                "size": len(p),
                "shape": list(p.image_shape),
                "fingerprint": p.fingerprint,
            }
            for p in [real, *fakes]
        }
        qualification = settings.qualification
        row = {
            "owner_key_hash": _hash_secret(owner_key),
            "title": settings.title.strip() or ("Spot the fake" + (" (pairs)" if mode == "pair" else "")),
            "mode": mode,
            "deck_size": int(deck_size),
            "practice_trials": int(practice_trials),
            "feedback": bool(settings.feedback),
            "timed": bool(settings.timed),
            "ask_confidence": bool(settings.ask_confidence),
            "qualification": None if qualification is None else float(qualification),
            "fast_ms": int(settings.fast_ms),
            "real_pool": real.name,
            "sources": json.dumps(source_names),
            "pools": json.dumps(pools, sort_keys=True),
            "seed": int(seed),
            "display_size": int(settings.display_size),
            "staircase": json.dumps(settings.staircase.to_dict()),
            "max_participants": settings.max_participants,
            "joined": 0,
            "is_open": True,
            "created_at": self._clock(),
        }
        for _ in range(50):
            code = new_join_code()
            try:
                with self._transaction(write=True) as conn:
                    conn.execute(quizzes.insert().values(code=code, **row))
                return CreatedQuiz(code=code, owner_key=owner_key)
            except IntegrityError:
                continue  # the code is taken (1 in ~10^9 per existing quiz); draw another
        raise QuizError("could not find a free quiz code; try again")

    def _set_open(self, code: str, owner_key: str, is_open: bool) -> None:
        with self._transaction(write=True) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
            conn.execute(
                update(quizzes)
                .where(quizzes.c.id == quiz["id"])
                .values(is_open=is_open, closed_at=None if is_open else self._clock())
            )

    def open_quiz_count(self) -> int:
        """How many quizzes take answers now (the teacher's server overview)."""
        with self._transaction(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(quizzes).where(quizzes.c.is_open)).scalar_one())

    def close_quiz(self, code: str, owner_key: str) -> None:
        """Stop accepting joins and answers (results stay available)."""
        self._set_open(code, owner_key, False)

    def reopen_quiz(self, code: str, owner_key: str) -> None:
        self._set_open(code, owner_key, True)

    def quiz_info(self, code: str) -> QuizInfo:
        """What a participant may know before joining (nothing about sources or seed)."""
        with self._transaction(write=False) as conn:
            return _quiz_info(self._quiz_by_code(conn, code))

    def participant_info(self, token: str) -> QuizInfo:
        """What the participant holding ``token`` may know about their quiz (as ``quiz_info``),
        found from the token alone, so a UI needs to trust nothing else the browser sends."""
        with self._transaction(write=False) as conn:
            _, quiz = self._participant(conn, token)
            return _quiz_info(quiz)

    # ------------------------------------------------------------------ participants

    def join(self, code: str, nickname: str, *, token: str | None = None) -> JoinResult:
        """Join a quiz with its code and a nickname; returns the secret participant token.

        One deck per nickname per quiz: joining again with the same nickname resumes the same
        deck, but only when the participant's token comes along (the UI keeps it in the
        browser), so nobody can answer in someone else's name. Without it, the nickname is
        refused as taken; the owner can issue a new token with ``reissue_token``.
        """
        shown, key = normalise_nickname(nickname)
        try:
            return self._join(code, shown, key, token)
        except IntegrityError:
            # Only reachable on databases without BEGIN IMMEDIATE: someone took the nickname
            # between our check and our insert.
            raise QuizError(f"the nickname {shown!r} was just taken; pick another nickname") from None

    def _join(self, code: str, shown: str, key: str, token: str | None) -> JoinResult:
        canonical = normalise_code(code)
        with self._transaction(write=True) as conn:
            # Lock the quiz's row first (FOR UPDATE; SQLite's BEGIN IMMEDIATE already holds the whole
            # database): joins to one quiz then run one after another on any database, so the nickname
            # check below sees every committed join and the join counter cannot hand out a number twice.
            locked = conn.execute(select(quizzes).where(quizzes.c.code == canonical).with_for_update()).mappings().first()
            if locked is None:
                raise QuizError(f"there is no quiz with code {canonical}; check the code and try again")
            quiz = dict(locked)
            self._require_open(quiz)
            existing = (
                conn.execute(
                    select(participants).where(
                        participants.c.quiz_id == quiz["id"],
                        participants.c.nickname_key == key,
                    )
                )
                .mappings()
                .first()
            )
            if existing is not None:
                if isinstance(token, str) and hmac.compare_digest(_hash_secret(token), existing["token_hash"]):
                    answered = self._count_answers(conn, existing["id"])
                    total = _trials_in_deck(quiz)
                    return JoinResult(
                        token=token,
                        nickname=existing["nickname"],
                        resumed=True,
                        quiz=_quiz_info(quiz),
                        next_trial=answered + 1 if answered < total else None,
                        total=total,
                    )
                raise QuizError(
                    f"the nickname {shown!r} is already taken in quiz {quiz['code']}. If it is yours, continue "
                    "in the browser where you started; otherwise pick another nickname"
                )
            joined = quiz["joined"]
            if joined is None:  # a quiz made before the counter existed: count once, under the lock
                joined = conn.execute(
                    select(func.coalesce(func.max(participants.c.number), 0)).where(participants.c.quiz_id == quiz["id"])
                ).scalar_one()
            cap = quiz["max_participants"]
            if cap is not None and joined >= cap:
                raise QuizError(f"quiz {quiz['code']} is full: it takes {cap} participants; ask the person running it")
            number = joined + 1
            conn.execute(update(quizzes).where(quizzes.c.id == quiz["id"]).values(joined=number))
            new_token = secrets.token_urlsafe(24)
            participant_id = conn.execute(
                participants.insert().values(
                    quiz_id=quiz["id"],
                    nickname=shown,
                    nickname_key=key,
                    token_hash=_hash_secret(new_token),
                    number=number,
                    joined_at=self._clock(),
                )
            ).inserted_primary_key[0]
            deck = self._deck_for(quiz, key)
            conn.execute(
                trials.insert(),
                [_trial_row(participant_id, i, spec) for i, spec in enumerate(deck)],
            )
        return JoinResult(
            token=new_token,
            nickname=shown,
            resumed=False,
            quiz=_quiz_info(quiz),
            next_trial=1,
            total=len(deck),
        )

    @staticmethod
    def _deck_for(quiz: dict[str, Any], participant_key: str) -> list[TrialSpec]:
        pools = json.loads(quiz["pools"])
        return build_deck(
            mode=quiz["mode"],
            deck_size=quiz["deck_size"],
            practice_trials=quiz["practice_trials"],
            real_pool=(quiz["real_pool"], pools[quiz["real_pool"]]["size"]),
            sources=[(name, pools[name]["size"]) for name in json.loads(quiz["sources"])],
            seed=quiz["seed"],
            participant_key=participant_key,
        )

    @staticmethod
    def _count_answers(conn: Connection, participant_id: int) -> int:
        return conn.execute(
            select(func.count()).select_from(answers).where(answers.c.participant_id == participant_id)
        ).scalar_one()

    def render_trial(self, token: str) -> ClientTrial | None:
        """Serve the participant's current trial (None once the deck is finished).

        Marks the trial as served now (response time counts from here; a reload restarts the
        clock and is counted). Real and fake trials take exactly the same path: one write
        transaction, the same pool lookups, the same rendering, a noise mask when timed.
        """
        with self._transaction(write=True, durable=False) as conn:
            now = self._clock()  # after any wait for the database, as close to sending as we get
            participant, quiz = self._participant(conn, token)
            self._require_open(quiz)
            total = _trials_in_deck(quiz)
            index = self._count_answers(conn, participant["id"])
            if index >= total:
                return None
            trial = (
                conn.execute(
                    select(trials).where(
                        trials.c.participant_id == participant["id"],
                        trials.c.trial_index == index,
                    )
                )
                .mappings()
                .one()
            )
            # Look the images up before marking the trial served: a changed pool fails here.
            refs = [(trial["image_a_pool"], trial["image_a_index"])]
            if trial["image_b_pool"] is not None:
                refs.append((trial["image_b_pool"], trial["image_b_index"]))
            pixels = [self._pool(quiz, pool).images[image_index] for pool, image_index in refs]
            exposure = trial["exposure_ms"]
            if quiz["timed"] and exposure is None:
                rule = StaircaseRule.from_dict(json.loads(quiz["staircase"]))
                if trial["practice"]:
                    exposure = rule.start_ms  # practice shows the starting exposure and moves nothing
                else:
                    scored = conn.execute(
                        select(answers.c.correct)
                        .where(
                            answers.c.participant_id == participant["id"],
                            answers.c.practice.is_(False),
                        )
                        .order_by(answers.c.trial_index)
                    ).scalars()
                    schedule = staircase_schedule(rule, quiz["deck_size"], quiz["seed"], participant["nickname_key"])
                    exposure = next_exposure(rule, schedule, [bool(c) for c in scored])
            conn.execute(
                update(trials)
                .where(trials.c.id == trial["id"])
                .values(
                    served_at=now,
                    first_served_at=func.coalesce(trials.c.first_served_at, now),
                    serve_count=trials.c.serve_count + 1,
                    exposure_ms=exposure,
                )
            )
        # Rendering happens outside the transaction: the database lock is held for ms only.
        size = quiz["display_size"]
        images = tuple(render_png(image, size=size) for image in pixels)
        mask = None
        if quiz["timed"]:
            shape = tuple(json.loads(quiz["pools"])[quiz["real_pool"]]["shape"])
            mask = render_png(noise_mask(shape, np.random.default_rng()), size=size)
        return ClientTrial(
            trial_id=trial["trial_id"],
            trial_number=index + 1,
            total=total,
            practice=bool(trial["practice"]),
            mode=quiz["mode"],
            images=images,
            exposure_ms=exposure if quiz["timed"] else None,
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
        if not is_int(trial_number, numpy=True) or trial_number < 1:
            raise QuizError(f"trial_number must be a whole number from 1; got {trial_number!r}")
        if not isinstance(answer, str):
            raise QuizError(f"the answer must be text such as 'real' or 'fake'; got {answer!r}")
        choice = answer.strip().lower()
        if confidence is not None:
            if isinstance(confidence, float) and confidence.is_integer():
                confidence = int(confidence)
            if not is_int(confidence, numpy=True) or not 1 <= confidence <= 5:
                raise QuizError(f"confidence must be a whole number from 1 to 5; got {confidence!r}")
            confidence = int(confidence)
        if client_ms is not None:
            if isinstance(client_ms, bool) or not isinstance(client_ms, (int, float, np.number)):
                raise QuizError(f"client_ms must be a number of milliseconds; got {client_ms!r}")
            client_ms = float(client_ms)
            if not math.isfinite(client_ms) or not 0 <= client_ms <= MAX_CLIENT_MS:
                raise QuizError(f"client_ms must be between 0 and {MAX_CLIENT_MS}; got {client_ms!r}")
        if trial_id is not None and not isinstance(trial_id, str):
            raise QuizError("trial_id must be the text id of the trial that was shown")

        arrived = self._clock()  # before any wait for the database: waiting is not thinking
        for attempt in range(2):
            try:
                return self._record_answer(
                    token,
                    trial_number - 1,
                    choice,
                    confidence,
                    client_ms,
                    trial_id,
                    arrived,
                )
            except IntegrityError:
                # Another process inserted this answer between our check and our insert (only
                # possible on servers without BEGIN IMMEDIATE); the retry reports it properly.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _record_answer(
        self,
        token: str,
        index: int,
        choice: str,
        confidence: int | None,
        client_ms: float | None,
        trial_id: str | None,
        now: float,
    ) -> AnswerReceipt:
        with self._transaction(write=True) as conn:
            participant, quiz = self._participant(conn, token, lock=True)
            self._require_open(quiz)
            choices = _choices(quiz["mode"])
            if choice not in choices:
                raise QuizError(f"the answer must be {choices[0]!r} or {choices[1]!r}; got {choice!r}")
            if quiz["ask_confidence"] and confidence is None:
                raise QuizError("this quiz asks how sure you are: give a confidence from 1 to 5")
            if not quiz["ask_confidence"] and confidence is not None:
                raise QuizError("this quiz does not ask for a confidence rating; send none")
            total = _trials_in_deck(quiz)
            if index >= total:
                raise QuizError(f"trial {index + 1} does not exist; the deck has {total} trials")
            previous = (
                conn.execute(
                    select(answers).where(
                        answers.c.participant_id == participant["id"],
                        answers.c.trial_index == index,
                    )
                )
                .mappings()
                .first()
            )
            if previous is not None:
                if previous["answer"] == choice and previous["confidence"] == confidence:
                    return _receipt(previous, total, duplicate=True)
                raise QuizError(f"trial {index + 1} was already answered ({previous['answer']!r}); an answer cannot be changed")
            current = self._count_answers(conn, participant["id"])
            if current >= total:
                raise QuizError("this deck is already finished")
            if index != current:
                raise QuizError(f"trial {index + 1} is not the current trial; answer trial {current + 1} first")
            trial = (
                conn.execute(
                    select(trials).where(
                        trials.c.participant_id == participant["id"],
                        trials.c.trial_index == index,
                    )
                )
                .mappings()
                .one()
            )
            if trial_id is not None and not hmac.compare_digest(trial_id, trial["trial_id"]):
                raise QuizError("this answer belongs to another trial than the one on screen; reload the page")
            if trial["served_at"] is None:
                raise QuizError(f"trial {index + 1} has not been shown yet; load it before answering")
            response_ms = max(0.0, (now - trial["served_at"]) * 1000.0)
            practice = bool(trial["practice"])
            row = {
                "quiz_id": quiz["id"],
                "participant_id": participant["id"],
                "trial_index": index,
                "image_a_pool": trial["image_a_pool"],
                "image_a_index": trial["image_a_index"],
                "image_b_pool": trial["image_b_pool"],
                "image_b_index": trial["image_b_index"],
                "source": trial["source"],
                "truth": trial["truth"],
                "answer": choice,
                "correct": choice == trial["truth"],
                "response_ms": response_ms,
                "client_ms": client_ms,
                "exposure_ms": trial["exposure_ms"],
                "confidence": confidence,
                "feedback": bool(quiz["feedback"]) or practice,  # practice always teaches
                "practice": practice,
                "fast": response_ms < quiz["fast_ms"],
                "serve_count": trial["serve_count"],
                "answered_at": now,
            }
            conn.execute(answers.insert().values(**row))
            if index + 1 == total:
                conn.execute(update(participants).where(participants.c.id == participant["id"]).values(finished_at=now))
        return _receipt(row, total, duplicate=False)

    def progress(self, token: str) -> Progress:
        """The participant's own progress; their score only once they have finished."""
        with self._transaction(write=False) as conn:
            participant, quiz = self._participant(conn, token)
            total = _trials_in_deck(quiz)
            rows = conn.execute(
                select(answers.c.correct, answers.c.practice).where(answers.c.participant_id == participant["id"])
            ).all()
        finished = len(rows) >= total
        scored = [bool(correct) for correct, practice in rows if not practice]
        return Progress(
            nickname=participant["nickname"],
            answered=len(rows),
            total=total,
            finished=finished,
            correct=sum(scored) if finished else None,
            scored=len(scored) if finished else None,
        )

    # ------------------------------------------------------------------ owner: results

    def activity(self, code: str, owner_key: str) -> tuple[int, int, bool]:
        """(participants joined, answers stored, quiz open): two counts, so a live results view can
        see cheaply whether anything changed before rebuilding the report (owner only)."""
        with self._transaction(write=False) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
            joined = conn.execute(
                select(func.count()).select_from(participants).where(participants.c.quiz_id == quiz["id"])
            ).scalar_one()
            answered = conn.execute(select(func.count()).select_from(answers).where(answers.c.quiz_id == quiz["id"])).scalar_one()
        return int(joined), int(answered), bool(quiz["is_open"])

    def reissue_token(self, code: str, owner_key: str, nickname: str) -> str:
        """Give a participant who lost their browser a new token (the old one stops working)."""
        _, key = normalise_nickname(nickname)
        new_token = secrets.token_urlsafe(24)
        with self._transaction(write=True) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
            result = conn.execute(
                update(participants)
                .where(
                    participants.c.quiz_id == quiz["id"],
                    participants.c.nickname_key == key,
                )
                .values(token_hash=_hash_secret(new_token))
            )
            if result.rowcount != 1:
                raise QuizError(f"nobody called {nickname!r} has joined quiz {quiz['code']}")
        return new_token

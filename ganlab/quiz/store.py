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
- Nothing that tells real from fake reaches a participant: see ``ganlab.quiz.serving``.
- Response times are measured here, on the server: from the last time a trial was served
  to the moment its answer arrives (wall clock, so they survive a restart of the server).

The participant's side (serving trials, recording answers) is in ``serving.py``, the owner's
read-only side (report, exports) in ``exports.py``, the database plumbing in ``database.py``.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from ganlab.quiz.database import QuizDatabase, _database_url, _hash_secret, default_database_url
from ganlab.quiz.deck import TrialSpec, build_deck, images_needed, new_join_code, normalise_nickname
from ganlab.quiz.encoded import EncodedImages
from ganlab.quiz.errors import QuizError
from ganlab.quiz.exports import QuizExportsMixin
from ganlab.quiz.images import ImagePool, QuizImages
from ganlab.quiz.messages import CreatedQuiz, JoinResult, QuizInfo
from ganlab.quiz.records import ParticipantRow, QuizRow, _quiz_info, _trial_row
from ganlab.quiz.serving import ANSWER_COUNT, MAX_CLIENT_MS, QuizServingMixin
from ganlab.quiz.settings import QuizSettings
from ganlab.quiz.tables import answers, create_tables, participants, quizzes, trials

__all__ = ["MAX_CLIENT_MS", "QuizStore", "default_database_url"]


class QuizStore(QuizServingMixin, QuizExportsMixin, QuizDatabase):
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
        self.encoded = EncodedImages()
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
        real, fakes = self._quiz_pools(sources, real_pool, settings)
        owner_key = secrets.token_urlsafe(24)
        while owner_key.startswith("-"):  # a command line would take it for an option
            owner_key = secrets.token_urlsafe(24)
        pools = {p.name: {"size": len(p), "shape": list(p.image_shape), "fingerprint": p.fingerprint} for p in [real, *fakes]}
        mode, qualification = settings.mode, settings.qualification
        row = {
            "owner_key_hash": _hash_secret(owner_key),
            "title": settings.title.strip() or ("Spot the fake" + (" (pairs)" if mode == "pair" else "")),
            "mode": mode,
            "deck_size": int(settings.deck_size),
            "practice_trials": int(settings.practice_trials),
            "feedback": bool(settings.feedback),
            "timed": bool(settings.timed),
            "ask_confidence": bool(settings.ask_confidence),
            "qualification": None if qualification is None else float(qualification),
            "fast_ms": int(settings.fast_ms),
            "real_pool": real.name,
            "sources": json.dumps([p.name for p in fakes]),
            "pools": json.dumps(pools, sort_keys=True),
            "seed": int(settings.seed if settings.seed is not None else secrets.randbits(62)),
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

    def _quiz_pools(
        self, sources: Sequence[str] | str, real_pool: str | None, settings: QuizSettings
    ) -> tuple[ImagePool, list[ImagePool]]:
        """The real pool and the generator pools of a new quiz, checked: kinds, shapes, enough images."""
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
        n_real, per_source = images_needed(settings.mode, settings.deck_size, settings.practice_trials, len(fakes))
        if len(real) < n_real:
            raise QuizError(f"each deck needs {n_real} real images but pool {real.name!r} has only {len(real)}")
        for pool in fakes:
            if len(pool) < per_source:
                raise QuizError(f"each deck needs up to {per_source} images from {pool.name!r}; it has only {len(pool)}")
        return real, fakes

    def _set_open(self, code: str, owner_key: str, is_open: bool) -> None:
        with self._transaction(write=True) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
            conn.execute(
                update(quizzes)
                .where(quizzes.c.id == quiz.id)
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
        with self._transaction(write=True) as conn:
            # Lock the quiz's row first: joins to one quiz then run one after another on any database, so
            # the nickname check below sees every committed join and the join counter cannot hand out a
            # number twice.
            quiz = self._quiz_by_code(conn, code, lock=True)
            self._require_open(quiz)
            found = (
                conn.execute(select(participants).where(participants.c.quiz_id == quiz.id, participants.c.nickname_key == key))
                .mappings()
                .first()
            )
            if found is not None:
                return self._resume(conn, quiz, ParticipantRow.from_mapping(found), shown, token)
            joined = quiz.joined
            if joined is None:  # a quiz made before the counter existed: count once, under the lock
                joined = conn.execute(
                    select(func.coalesce(func.max(participants.c.number), 0)).where(participants.c.quiz_id == quiz.id)
                ).scalar_one()
            cap = quiz.max_participants
            if cap is not None and joined >= cap:
                raise QuizError(f"quiz {quiz.code} is full: it takes {cap} participants; ask the person running it")
            number = joined + 1
            conn.execute(update(quizzes).where(quizzes.c.id == quiz.id).values(joined=number))
            new_token = secrets.token_urlsafe(24)
            participant_id = conn.execute(
                participants.insert().values(
                    quiz_id=quiz.id,
                    nickname=shown,
                    nickname_key=key,
                    token_hash=_hash_secret(new_token),
                    number=number,
                    joined_at=self._clock(),
                )
            ).inserted_primary_key[0]
            deck = self._deck_for(quiz, key)
            conn.execute(trials.insert(), [_trial_row(participant_id, i, spec) for i, spec in enumerate(deck)])
        return JoinResult(token=new_token, nickname=shown, resumed=False, quiz=_quiz_info(quiz), next_trial=1, total=len(deck))

    @staticmethod
    def _resume(conn: Connection, quiz: QuizRow, existing: ParticipantRow, shown: str, token: str | None) -> JoinResult:
        """Join again with a nickname that has a deck: only with that participant's token."""
        if not isinstance(token, str) or not hmac.compare_digest(_hash_secret(token), existing.token_hash):
            raise QuizError(
                f"the nickname {shown!r} is already taken in quiz {quiz.code}. If it is yours, continue "
                "in the browser where you started; otherwise pick another nickname"
            )
        answered = conn.execute(ANSWER_COUNT, {"pid": existing.id}).scalar_one()
        total = quiz.total_trials
        return JoinResult(
            token=token,
            nickname=existing.nickname,
            resumed=True,
            quiz=_quiz_info(quiz),
            next_trial=answered + 1 if answered < total else None,
            total=total,
        )

    @staticmethod
    def _deck_for(quiz: QuizRow, participant_key: str) -> list[TrialSpec]:
        return build_deck(
            mode=quiz.mode,
            deck_size=quiz.deck_size,
            practice_trials=quiz.practice_trials,
            real_pool=(quiz.real_pool, quiz.pools[quiz.real_pool]["size"]),
            sources=[(name, quiz.pools[name]["size"]) for name in quiz.sources],
            seed=quiz.seed,
            participant_key=participant_key,
        )

    # ------------------------------------------------------------------ owner: results

    def activity(self, code: str, owner_key: str) -> tuple[int, int, bool]:
        """(participants joined, answers stored, quiz open): two counts, so a live results view can
        see cheaply whether anything changed before rebuilding the report (owner only)."""
        with self._transaction(write=False) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
            joined = conn.execute(
                select(func.count()).select_from(participants).where(participants.c.quiz_id == quiz.id)
            ).scalar_one()
            answered = conn.execute(select(func.count()).select_from(answers).where(answers.c.quiz_id == quiz.id)).scalar_one()
        return int(joined), int(answered), quiz.is_open

    def reissue_token(self, code: str, owner_key: str, nickname: str) -> str:
        """Give a participant who lost their browser a new token (the old one stops working)."""
        _, key = normalise_nickname(nickname)
        new_token = secrets.token_urlsafe(24)
        with self._transaction(write=True) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
            result = conn.execute(
                update(participants)
                .where(
                    participants.c.quiz_id == quiz.id,
                    participants.c.nickname_key == key,
                )
                .values(token_hash=_hash_secret(new_token))
            )
            if result.rowcount != 1:
                raise QuizError(f"nobody called {nickname!r} has joined quiz {quiz.code}")
        return new_token

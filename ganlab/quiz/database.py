"""The quiz store's database side: the URL, the engine (SQLite in WAL mode with BEGIN IMMEDIATE writes, or
a server database), short transactions, and the lookups every part of the store starts from
(a quiz by its code, an owner's quiz, a participant by token, a quiz's verified image pools)."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, select

from ganlab.paths import data_home
from ganlab.quiz.deck import normalise_code
from ganlab.quiz.errors import QuizError
from ganlab.quiz.images import ImagePool, QuizImages
from ganlab.quiz.records import ParticipantRow, QuizRow
from ganlab.quiz.tables import participants, quizzes

DEFAULT_DATABASE_ENV = "GANLAB_QUIZ_DB"


def default_database_url() -> str:
    """$GANLAB_QUIZ_DB if set (a path or a SQLAlchemy URL), else quiz.sqlite in the data home (ganlab.paths):
    not the current folder, so an app started from another folder finds the same quizzes."""
    return _database_url(os.environ.get(DEFAULT_DATABASE_ENV, "").strip() or data_home() / "quiz.sqlite")


def _database_url(database: str | Path) -> str:
    """A SQLAlchemy URL from a path or a URL; ``postgresql://`` and ``postgres://`` get the psycopg (3) driver."""
    text = str(database)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    scheme, rest = text.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return text


# Built once: the participant's lookups run on every answer, and building a statement costs more than running it.
QUIZ_BY_CODE = select(quizzes).where(quizzes.c.code == bindparam("code"))
QUIZ_BY_CODE_LOCKED = QUIZ_BY_CODE.with_for_update()
QUIZ_BY_ID = select(quizzes).where(quizzes.c.id == bindparam("quiz_id"))
PARTICIPANT_BY_TOKEN = select(participants).where(participants.c.token_hash == bindparam("token_hash"))
PARTICIPANT_BY_TOKEN_LOCKED = PARTICIPANT_BY_TOKEN.with_for_update()


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class QuizDatabase:
    """The database plumbing and lookups QuizStore is built on (QuizStore.__init__ sets the attributes)."""

    images: QuizImages
    _clock: Callable[[], float]
    _is_sqlite: bool
    _write_lock: threading.Lock
    _verified_quizzes: set[int]
    _engine: Engine

    # ------------------------------------------------------------------ database plumbing

    def _make_engine(self, url: str, busy_timeout_s: float) -> Engine:
        if not self._is_sqlite:
            # A server database: READ COMMITTED, row locks where it matters (joins lock the quiz's row),
            # UNIQUE constraints for everything else. Enough connections for a class answering at once.
            return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=40, pool_timeout=busy_timeout_s)
        if url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url:
            raise QuizError("the quiz store needs a database file (answers must survive a restart); got an in-memory URL")
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
            pool_size=8,
            max_overflow=120,  # a class of 100+ may hit the server at once; connections are cheap
            pool_timeout=busy_timeout_s,
        )
        busy_ms = int(busy_timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # We issue BEGIN ourselves (below): pysqlite's implicit transactions would start
            # DEFERRED and could fail to upgrade to a write lock under contention.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise QuizError(f"could not switch the quiz database to WAL mode (got {mode!r}); is it on a network drive?")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            write = connection.get_execution_options().get("ganlab_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextmanager
    def _transaction(self, *, write: bool, durable: bool = True) -> Iterator[Connection]:
        """One short transaction; committed when the block ends without an exception.

        ``durable=False`` (SQLite) commits without waiting for the disk (synchronous=NORMAL). Still
        safe when the process is killed; a power cut may undo it, but never an answer: the next
        durable commit flushes the write-ahead log with everything written before it. Used for
        marking a trial as served, which halves the fsyncs per answered trial.
        """
        lock = self._write_lock if (write and self._is_sqlite) else nullcontext()
        with lock, self._engine.connect() as connection:
            connection.execution_options(ganlab_write=write)
            relaxed = self._is_sqlite and write and not durable
            if relaxed:  # on the raw connection: outside any transaction, as SQLite requires
                connection.connection.driver_connection.execute("PRAGMA synchronous=NORMAL")
            try:
                with connection.begin():
                    yield connection
            finally:
                if relaxed:
                    connection.connection.driver_connection.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        """Release database connections (the file stays consistent at any point anyway)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ lookups

    def _quiz_by_code(self, conn: Connection, code: object, *, lock: bool = False) -> QuizRow:
        """The quiz with this code. ``lock``: take its row lock (FOR UPDATE; SQLite's BEGIN IMMEDIATE
        already holds the database)."""
        canonical = normalise_code(code)
        row = conn.execute(QUIZ_BY_CODE_LOCKED if lock else QUIZ_BY_CODE, {"code": canonical}).mappings().first()
        if row is None:
            raise QuizError(f"there is no quiz with code {canonical}; check the code and try again")
        return QuizRow.from_mapping(row)

    def _owned_quiz(self, conn: Connection, code: object, owner_key: object) -> QuizRow:
        quiz = self._quiz_by_code(conn, code)
        if not isinstance(owner_key, str) or not hmac.compare_digest(_hash_secret(owner_key), quiz.owner_key_hash):
            raise QuizError(f"wrong owner key for quiz {quiz.code}; only the person who created it can do this")
        return quiz

    def _participant(self, conn: Connection, token: object, *, lock: bool = False) -> tuple[ParticipantRow, QuizRow]:
        """The participant holding ``token`` and their quiz. ``lock``: take the participant's row lock
        (FOR UPDATE; SQLite's BEGIN IMMEDIATE already holds the database), so that two answers from one
        participant are recorded one after the other and the second sees the first."""
        if not isinstance(token, str) or not 16 <= len(token) <= 128:
            raise QuizError("this participant token is not valid; join the quiz again with its code and your nickname")
        query = PARTICIPANT_BY_TOKEN_LOCKED if lock else PARTICIPANT_BY_TOKEN
        row = conn.execute(query, {"token_hash": _hash_secret(token)}).mappings().first()
        if row is None:
            raise QuizError("this participant token is not valid; join the quiz again with its code and your nickname")
        quiz = conn.execute(QUIZ_BY_ID, {"quiz_id": row["quiz_id"]}).mappings().one()
        return ParticipantRow.from_mapping(row), QuizRow.from_mapping(quiz)

    @staticmethod
    def _require_open(quiz: QuizRow) -> None:
        if not quiz.is_open:
            raise QuizError(f"quiz {quiz.code} is closed; ask the person running it to reopen it")

    def _pool(self, quiz: QuizRow, name: str) -> ImagePool:
        """A registered pool of this quiz. On first use, every pool of the quiz is checked
        against what the quiz was created with (all at once, so the check costs the same
        whichever kind of image comes first)."""
        if quiz.id not in self._verified_quizzes:
            for pool_name, expected in quiz.pools.items():
                if self.images.get(pool_name).fingerprint != expected["fingerprint"]:
                    raise QuizError(
                        f"image pool {pool_name!r} is not the one quiz {quiz.code} was created "
                        "with (different images); load the saved pools (QuizImages.load) "
                        "instead of regenerating them"
                    )
            self._verified_quizzes.add(quiz.id)
        return self.images.get(name)

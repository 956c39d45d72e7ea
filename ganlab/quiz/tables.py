"""The quiz database schema (SQLAlchemy Core): quizzes, participants, trials, answers.

Secrets are stored only as sha256 hashes (owner keys, participant tokens): a copy of the
database file does not let anyone answer as a participant or read results through the app.
Images are referenced as (pool name, index) and never leave the server in that form.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
)

SCHEMA_VERSION = 1
metadata = MetaData()

quizzes = Table(
    "quizzes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(6), nullable=False, unique=True),  # never reused, so results stay unambiguous
    Column("owner_key_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("mode", String(8), nullable=False),  # "single" | "pair"
    Column("deck_size", Integer, nullable=False),  # scored trials per participant
    Column("practice_trials", Integer, nullable=False),
    Column("feedback", Boolean, nullable=False),
    Column("timed", Boolean, nullable=False),
    Column("ask_confidence", Boolean, nullable=False),
    Column("qualification", Float),  # e.g. 0.65; None = no qualification check
    Column("fast_ms", Integer, nullable=False),  # answers faster than this are flagged
    Column("real_pool", Text, nullable=False),
    Column("sources", Text, nullable=False),  # JSON list of generator pool names
    Column("pools", Text, nullable=False),  # JSON {name: {size, shape, fingerprint}} at creation
    Column("seed", BigInteger, nullable=False),  # up to 2**62
    Column("display_size", Integer, nullable=False),
    Column("staircase", Text, nullable=False),  # JSON StaircaseRule
    Column("max_participants", Integer),  # joins beyond it are refused; None = no cap
    Column("joined", Integer),  # participants so far: the join counter, updated under the quiz row's lock
    Column("is_open", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),  # unix seconds (wall clock)
    Column("closed_at", Float),
    Column("schema_version", Integer, nullable=False, default=SCHEMA_VERSION),
)

participants = Table(
    "participants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("quiz_id", Integer, ForeignKey("quizzes.id"), nullable=False),
    Column("nickname", Text, nullable=False),
    Column("nickname_key", Text, nullable=False),  # casefolded: "Ada" and "ada" are one person
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("number", Integer, nullable=False),  # 1, 2, ... in join order within the quiz
    Column("joined_at", Float, nullable=False),
    Column("finished_at", Float),
    UniqueConstraint("quiz_id", "nickname_key", name="one_deck_per_nickname"),
    UniqueConstraint("quiz_id", "number", name="participant_number"),
)

trials = Table(
    "trials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("trial_index", Integer, nullable=False),  # 0-based; practice trials come first
    Column("trial_id", String(32), nullable=False, unique=True),  # opaque random token for the client
    Column("practice", Boolean, nullable=False),
    Column("truth", String(5), nullable=False),  # "real"/"fake" (single), "left"/"right" (pair)
    Column("source", Text, nullable=False),  # fake's pool name, or "real"
    Column("image_a_pool", Text, nullable=False),
    Column("image_a_index", Integer, nullable=False),
    Column("image_b_pool", Text),
    Column("image_b_index", Integer),
    Column("exposure_ms", Integer),  # fixed when first served (timed quizzes)
    Column("first_served_at", Float),
    Column("served_at", Float),  # last time it was served: response time counts from here
    Column("serve_count", Integer, nullable=False, default=0),
    UniqueConstraint("participant_id", "trial_index", name="one_trial_per_position"),
)

answers = Table(
    "answers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("quiz_id", Integer, ForeignKey("quizzes.id"), nullable=False),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=False),
    Column("trial_index", Integer, nullable=False),
    Column("image_a_pool", Text, nullable=False),
    Column("image_a_index", Integer, nullable=False),
    Column("image_b_pool", Text),
    Column("image_b_index", Integer),
    Column("source", Text, nullable=False),
    Column("truth", String(5), nullable=False),
    Column("answer", String(5), nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("response_ms", Float, nullable=False),  # measured on the server: served -> answer arrived
    Column("client_ms", Float),  # what the browser reported, if anything
    Column("exposure_ms", Integer),
    Column("confidence", Integer),  # 1-5 or None
    Column("feedback", Boolean, nullable=False),  # was feedback shown after this answer
    Column("practice", Boolean, nullable=False),
    Column("fast", Boolean, nullable=False),  # response_ms < the quiz's fast_ms
    Column("serve_count", Integer, nullable=False),  # > 1: the page was reloaded on this trial
    Column("answered_at", Float, nullable=False),
    # The database itself refuses a second answer to the same trial.
    UniqueConstraint("participant_id", "trial_index", name="one_answer_per_trial"),
)

Index("answers_by_quiz", answers.c.quiz_id)
Index("participants_by_quiz", participants.c.quiz_id)


def create_tables(engine: Engine) -> None:
    """Create the tables, and add the (nullable) columns a database made by an earlier version lacks."""
    metadata.create_all(engine)
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(engine.dialect)
                    connection.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")

"""The owner's read-only side of the quiz store: the report, the CSV/JSON export of every trial, and
rendering one of a quiz's images. A mixin of QuizStore (it needs the store's transactions and lookups)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import Connection, select

from ganlab.checks import is_int
from ganlab.quiz.database import QuizDatabase
from ganlab.quiz.errors import QuizError
from ganlab.quiz.images import render_png
from ganlab.quiz.records import QuizRow, _iso
from ganlab.quiz.report import QuizReport, build_report
from ganlab.quiz.tables import answers, participants, trials


class QuizExportsMixin(QuizDatabase):
    """results, export_json, export_csv and owner_image of QuizStore."""

    # ------------------------------------------------------------------ results (owner)

    def _load(self, conn: Connection, quiz: QuizRow) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The quiz's participants and answers as the report reads them (plain rows)."""
        people = [dict(r) for r in conn.execute(select(participants).where(participants.c.quiz_id == quiz.id)).mappings()]
        rows = [dict(r) for r in conn.execute(select(answers).where(answers.c.quiz_id == quiz.id)).mappings()]
        return people, rows

    def results(
        self,
        code: str,
        owner_key: str,
        *,
        exclude_unqualified: bool | None = None,
        exclude_fast: bool = False,
        bootstrap_seed: int = 0,
    ) -> QuizReport:
        """The owner's report (see ganlab.quiz.report). Raises QuizError on a wrong owner key."""
        with self._transaction(write=False) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
            people, rows = self._load(conn, quiz)
        return build_report(
            quiz.report_settings(),
            people,
            rows,
            exclude_unqualified=exclude_unqualified,
            exclude_fast=exclude_fast,
            bootstrap_seed=bootstrap_seed,
        )

    def _export_rows(self, code: str, owner_key: str) -> list[dict[str, Any]]:
        """One row per trial of every deck, answered or not, in deck order."""
        with self._transaction(write=False) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
            people_rows, answer_rows = self._load(conn, quiz)
            people = {r["id"]: r for r in people_rows}
            deck = (
                conn.execute(
                    select(trials)
                    .where(trials.c.participant_id.in_(list(people)))
                    .order_by(trials.c.participant_id, trials.c.trial_index)
                )
                .mappings()
                .all()
            )
        given = {(r["participant_id"], r["trial_index"]): r for r in answer_rows}
        rows = []
        for trial in deck:
            person = people[trial["participant_id"]]
            answer = given.get((trial["participant_id"], trial["trial_index"]))
            rows.append(
                {
                    "quiz": quiz.code,
                    "participant": person["number"],
                    "nickname": person["nickname"],
                    "trial_number": trial["trial_index"] + 1,
                    "practice": bool(trial["practice"]),
                    "mode": quiz.mode,
                    "image_a": f"{trial['image_a_pool']}:{trial['image_a_index']}",
                    "image_b": f"{trial['image_b_pool']}:{trial['image_b_index']}" if trial["image_b_pool"] else None,
                    "source": trial["source"],
                    "truth": trial["truth"],
                    "served": trial["served_at"] is not None,
                    "serve_count": trial["serve_count"],
                    "answer": answer["answer"] if answer else None,
                    "correct": bool(answer["correct"]) if answer else None,
                    "response_ms": round(answer["response_ms"], 1) if answer else None,
                    "client_ms": answer["client_ms"] if answer else None,
                    "exposure_ms": trial["exposure_ms"],
                    "confidence": answer["confidence"] if answer else None,
                    "feedback": bool(answer["feedback"]) if answer else None,
                    "fast": bool(answer["fast"]) if answer else None,
                    "answered_at": _iso(answer["answered_at"]) if answer else None,
                }
            )
        return rows

    def export_json(self, code: str, owner_key: str) -> str:
        """Every trial of every deck as a JSON array (owner only)."""
        return json.dumps(self._export_rows(code, owner_key), indent=1, ensure_ascii=False)

    def export_csv(self, code: str, owner_key: str) -> str:
        """Every trial of every deck as CSV with a header row (owner only)."""
        rows = self._export_rows(code, owner_key)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return buffer.getvalue()

    def owner_image(self, code: str, owner_key: str, pool: str, index: int) -> bytes:
        """Render one image of a quiz for its owner (e.g. the most deceptive fakes of a report)."""
        with self._transaction(write=False) as conn:
            quiz = self._owned_quiz(conn, code, owner_key)
        pools = quiz.pools
        if pool not in pools:
            raise QuizError(f"pool {pool!r} is not part of quiz {quiz.code}")
        if not is_int(index, numpy=True) or not 0 <= index < pools[pool]["size"]:
            raise QuizError(f"image index must be from 0 to {pools[pool]['size'] - 1}; got {index!r}")
        return render_png(self._pool(quiz, pool).images[index], size=quiz.display_size)


EXPORT_COLUMNS = [
    "quiz",
    "participant",
    "nickname",
    "trial_number",
    "practice",
    "mode",
    "image_a",
    "image_b",
    "source",
    "truth",
    "served",
    "serve_count",
    "answer",
    "correct",
    "response_ms",
    "client_ms",
    "exposure_ms",
    "confidence",
    "feedback",
    "fast",
    "answered_at",
]

"""The teacher's view of the server: who is connected, what trains and waits, which quizzes are open."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerOverview:
    pages_open: int  # browser pages connected now (each sends its token when it opens)
    runs_training: int
    runs_queued: int
    runs_in_memory: int
    runs_set_aside: int  # idle runs saved to disk, brought back when asked for
    training_slots: int
    quizzes_open: int | None  # None: the quiz is unavailable on this server

    def markdown(self) -> str:
        quizzes = "unavailable" if self.quizzes_open is None else f"{self.quizzes_open}"
        return (
            f"**{self.pages_open}** pages open · **{self.runs_training}** / {self.training_slots} training slots "
            f"busy · **{self.runs_queued}** runs queued · {self.runs_in_memory} runs in memory, "
            f"{self.runs_set_aside} put aside (idle) · **{quizzes}** quizzes open"
        )


def server_overview(manager, owners, quiz_store=None) -> ServerOverview:
    """The numbers now, from the live-run manager, the session owners and the quiz store."""
    return ServerOverview(
        pages_open=owners.sessions,
        runs_training=manager.active_count,
        runs_queued=manager.queued_count,
        runs_in_memory=manager.run_count,
        runs_set_aside=manager.set_aside_count,
        training_slots=manager.max_trainings,
        quizzes_open=quiz_store.open_quiz_count() if quiz_store is not None else None,
    )

"""The Quiz tab: spot the fake (HYPE, Zhou et al. 2019) as a human study and a classroom game.

UI wiring only. Decks, answers and statistics live in ``ganlab.quiz`` (``QuizStore``; see
docs/QUIZ.md); the image pools are made once per checkpoint and kept on disk by
``ganlab.quiz.pools.PoolCache``. This module composes three views, each in its own module:

* **Take a quiz** (participants, often on a phone): ``quiz_participant``.
* **Run a quiz** (the owner): create a quiz from generator checkpoints or from your own images
  (``quiz_create``, ``quiz_uploads``), get the join code, link, QR code and the owner key (shown
  once), then a results view that refreshes every 2 s, exports, close/reopen (``quiz_results``).
* **Present** (the projector): the live numbers in large type beside a big QR code to join, with
  no owner key anywhere on the page (``quiz_presenter``).

Never leaking the answer (what the browser receives must not tell real from fake):
* images travel as base64 ``data:`` URLs inside one ``gr.HTML``: no files, so no file names or
  URLs. They come from the store's single rendering pipeline, so every image of a quiz has the
  same byte length, and the HTML around them is identical for real and fake trials;
* no label, element id or alt text depends on the trial; the truth and the image ids stay on the
  server. Feedback (when the quiz has it, and on practice trials) arrives in the response to an
  answer, after the store has committed it;
* every quiz endpoint has ``api_visibility="undocumented"``: callable by the browser and by
  ``gradio_client``, but left out of the API page and never recorded by Gradio's run history
  (both the server and the browser record public endpoints only), whatever ``launch(run_history=)``
  says. Do not put the app behind a proxy that gzips ``text/event-stream``: compressed sizes
  would depend on image content.

Latency: store-only handlers run with ``concurrency_limit=None``; making pools (the first quiz over
a checkpoint samples 2,000 images; reading uploaded images) is serialised.
"""

from __future__ import annotations

import gradio as gr
from gradio.context import Context

from ganlab.admin import AdminKey
from ganlab.quiz import QuizError, QuizStore, default_database_url
from ganlab.quiz.limits import JoinRateLimit
from ganlab.quiz.pools import PoolCache
from ganlab.ui.quiz_create import CreateHandlers, build_create_panel
from ganlab.ui.quiz_participant import PARTICIPANT_VIEW, ParticipantHandlers, build_participant_view
from ganlab.ui.quiz_presenter import PresenterHandlers, build_presenter_view
from ganlab.ui.quiz_results import ResultsHandlers, build_results_panel
from ganlab.ui.quiz_support import NO_PARTICIPANT, browser_secret

__all__ = ["NO_PARTICIPANT", "PARTICIPANT_VIEW", "QuizTab", "build_quiz_tab"]


class QuizTab:
    """The tab's handlers over one ``QuizStore`` (thread-safe) and one ``PoolCache``, one object per view.

    ``admin``: the server's admin key, asked for when creating a quiz where the app listens beyond
    loopback (and whose address decides which join links are shown)."""

    def __init__(
        self, store: QuizStore, pools: PoolCache, admin: AdminKey | None = None, join_limit: JoinRateLimit | None = None
    ) -> None:
        self.store = store
        self.pools = pools
        self.admin = admin if admin is not None else AdminKey()  # loopback: no key asked
        self.participant = ParticipantHandlers(store, join_limit)
        self.join_limit = self.participant.join_limit  # shared with the lean participant page (ganlab.ui.participant)
        self.creator = CreateHandlers(store, pools, self.admin)
        self.results = ResultsHandlers(store)
        self.presenter = PresenterHandlers(store, self.admin)


def build_quiz_tab(
    store: QuizStore | None = None, pools: PoolCache | None = None, admin: AdminKey | None = None
) -> QuizTab | None:
    """Lay out the Quiz tab inside the current ``gr.Tab`` and wire its events."""
    pools = pools if pools is not None else PoolCache()
    try:
        store = store if store is not None else QuizStore(default_database_url(), pools.registry())
        secret = browser_secret()
    except (QuizError, OSError) as error:
        gr.Markdown(
            f"The quiz is unavailable: its database could not be opened ({error}). Set GANLAB_QUIZ_DB to a writable file."
        )
        return None
    tab = QuizTab(store, pools, admin)
    outer_tab = Context.block if isinstance(Context.block, gr.Tab) else None
    with gr.Tabs(elem_id="ganlab-quiz-views"):
        with gr.Tab("Take a quiz", id="quiz-take"):
            build_participant_view(tab.participant, secret)
        with gr.Tab("Run a quiz", id="quiz-run") as run_tab:
            refresh_on = [run_tab.select] + ([outer_tab.select] if outer_tab is not None else [])
            create_slot = gr.Column()  # the create panel goes on top; it fills in the results' code and key
            owner = build_results_panel(tab.results)
            with create_slot:
                build_create_panel(tab.creator, owner, refresh_on)
        with gr.Tab("Present", id="quiz-present"):
            build_presenter_view(tab.presenter)
    return tab

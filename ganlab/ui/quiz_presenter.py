"""The Quiz tab's "Present" view: a quiz's live results for the projector, beside a big QR code to join.

Large type, refreshing by itself (a ``gr.Timer`` that rebuilds the numbers only when the quiz's
two counts changed), and safe to show a room: the owner types the owner key once; the server
keeps it in the session's ``gr.State`` (which never travels to the browser) and empties the
password box at once, so the key is in no page, no URL and no rendered HTML afterwards. What it
shows: participants joined, answers stored, the HYPE-∞ error with its 95% interval, and (one
image at a time) the fake and real error rates; no nicknames, no images.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from ganlab.admin import AdminKey
from ganlab.quiz import QuizError, QuizReport, QuizStore
from ganlab.quiz.deck import normalise_code
from ganlab.quiz.report import Rate
from ganlab.share import qr_svg
from ganlab.ui.quiz_create import join_links
from ganlab.ui.quiz_html import _pct
from ganlab.ui.quiz_support import HIDDEN, INTERNAL, _text

REFRESH_SECONDS = 2.0
QR_SCALE = 12  # pixels a module: about 45 cm across on a projected wall, scannable from the back of a room

PRESENTER_CSS = """
.gq-present { font-size: 1.6rem; line-height: 1.25; }
.gq-present h2 { font-size: 2.6rem; margin: 0 0 0.4em; }
.gq-present .gq-code { font-size: 4.5rem; font-weight: 700; letter-spacing: 0.15em; }
.gq-present .gq-tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); gap: 1rem; }
.gq-present .gq-tile { border: 2px solid var(--border-color-primary); border-radius: 12px; padding: 0.6em 0.8em; }
.gq-present .gq-number { font-size: 3.6rem; white-space: nowrap; font-weight: 700; line-height: 1.1; }
.gq-present .gq-interval { font-size: 1.3rem; opacity: 0.8; }
.gq-join { text-align: center; font-size: 1.6rem; }
.gq-join svg { width: 100%; max-width: 70vh; height: auto; }
.gq-join .gq-link { word-break: break-all; font-weight: 600; }
"""
FULLSCREEN_JS = (
    "() => { const panel = document.getElementById('ganlab-quiz-present-panel'); if (panel) panel.requestFullscreen(); }"
)


def _tile(name: str, number: str, detail: str = "") -> str:
    detail_html = f'<div class="gq-interval">{html.escape(detail)}</div>' if detail else ""
    number_html = f'<div class="gq-number">{html.escape(number)}</div>'
    return f'<div class="gq-tile"><div>{html.escape(name)}</div>{number_html}{detail_html}</div>'


def _rate_tile(name: str, rate: Rate | None) -> str:
    if rate is None or rate.rate is None:
        return _tile(name, "–", "no answers yet")
    return _tile(name, _pct(rate.rate), f"95% interval {_pct(rate.low)}–{_pct(rate.high)} · {rate.k} of {rate.n}")


def presenter_html(report: QuizReport, joined: int, answered: int) -> str:
    """The projected numbers: big tiles, no names and no images."""
    state = "open" if report.is_open else "closed"
    summary = report.summary
    error = "HYPE-∞ error (50% = cannot tell)" if report.measurement else "Error in practice (feedback on)"
    tiles = [_tile("Joined", str(joined)), _tile("Answers", str(answered))]
    tiles.append(_rate_tile(error, summary.hype_infinity if summary else None))
    if report.mode == "single":
        tiles.append(_rate_tile("Fakes judged real", summary.fake_error if summary else None))
        tiles.append(_rate_tile("Reals judged fake", summary.real_error if summary else None))
    return (
        f'<div class="gq-present" data-answers="{answered}"><h2>{html.escape(report.title)} · quiz {state}</h2>'
        f'<div class="gq-code">{html.escape(report.code)}</div><div class="gq-tiles">{"".join(tiles)}</div></div>'
    )


def join_html(links: list[str], code: str) -> str:
    """A big QR code of the join link, the link under it; the code alone when no link is known."""
    if not links:
        return f'<div class="gq-join">Join with the code <b>{html.escape(code)}</b> in Quiz → Take a quiz</div>'
    return f'<div class="gq-join">{qr_svg(links[0], scale=QR_SCALE)}<div class="gq-link">{html.escape(links[0])}</div></div>'


class PresenterHandlers:
    """Start presenting (checks the owner key, then keeps it server-side) and refresh the numbers."""

    def __init__(self, store: QuizStore, admin: AdminKey) -> None:
        self.store = store
        self.admin = admin  # its address (set when the app launches) decides which join links are shown

    def _numbers(self, code: str, key: str, activity: tuple[int, int, bool] | None = None) -> tuple[str, str]:
        """The numbers' HTML and their signature; ``activity``: ``store.activity``, when the caller has it."""
        joined, answered, _ = activity if activity is not None else self.store.activity(code, key)
        report = self.store.results(code, key)
        return presenter_html(report, joined, answered), repr((joined, answered, report.is_open))

    def start(self, code: Any, key: Any, request: gr.Request | None = None) -> list:
        """Check the code and owner key, keep them in the session (server-side) and show the numbers.
        Outputs: session, key box (emptied), form, panel, numbers, QR, timer, signature."""
        code = _text(code, "The quiz code", 40)
        key = _text(key, "The owner key", 200)
        try:
            canonical = normalise_code(code)
            numbers, signature = self._numbers(canonical, key)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        qr = join_html(join_links(canonical, request, self.admin.listening_on), canonical)
        session = {"code": canonical, "key": key}
        return [session, "", gr.update(visible=False), gr.update(visible=True), numbers, qr, gr.Timer(active=True), signature]

    def refresh(self, session: Any, signature: Any) -> list:
        """Timer tick: redraw when answers or joins arrived; stop quietly when there is nothing to show."""
        if not isinstance(session, dict):
            return [gr.skip(), gr.Timer(active=False), gr.skip()]
        try:
            activity = self.store.activity(session["code"], session["key"])
            if repr(activity) == signature:
                return [gr.skip(), gr.skip(), gr.skip()]
            numbers, new_signature = self._numbers(session["code"], session["key"], activity)
        except QuizError:
            return [gr.skip(), gr.Timer(active=False), gr.skip()]
        return [numbers, gr.skip(), new_signature]

    @staticmethod
    def stop() -> list:
        """Forget the key and show the form again. Outputs: session, form, panel, timer."""
        return [None, gr.update(visible=True), gr.update(visible=False), gr.Timer(active=False)]


def build_presenter_view(handlers: PresenterHandlers) -> None:
    """Lay out "Present" in the current tab and wire its events."""
    with gr.Column() as form:
        gr.Markdown(
            "For the projector: the quiz's numbers in large type, updated as answers arrive, beside a QR code "
            "to join. Type the owner key once: it is kept on the server and shown nowhere. Present from a freshly "
            "opened page, not the one you created the quiz in (its *Run a quiz* view still holds the key)."
        )
        with gr.Row():
            code = gr.Textbox(label="Quiz code", max_lines=1, elem_id="ganlab-quiz-present-code")
            key = gr.Textbox(label="Owner key", type="password", max_lines=1, elem_id="ganlab-quiz-present-key")
        start_button = gr.Button("Present", variant="primary", elem_id="ganlab-quiz-present-start")
    with gr.Column(visible=False, elem_id="ganlab-quiz-present-panel") as panel:
        with gr.Row(equal_height=False):
            numbers = gr.HTML(css_template=PRESENTER_CSS, elem_id="ganlab-quiz-present-numbers", scale=3)
            qr = gr.HTML(css_template=PRESENTER_CSS, elem_id="ganlab-quiz-present-qr", scale=2)
        with gr.Row():
            fullscreen_button = gr.Button("Full screen", size="sm", elem_id="ganlab-quiz-present-fullscreen")
            stop_button = gr.Button("Stop presenting", size="sm", elem_id="ganlab-quiz-present-stop")
    timer = gr.Timer(REFRESH_SECONDS, active=False)
    session = gr.State(None)  # {"code", "key"}: server-side only
    signature = gr.State("")

    gr.on(
        [start_button.click, key.submit],
        handlers.start,
        [code, key],
        [session, key, form, panel, numbers, qr, timer, signature],
        api_name="quiz_present",
        **HIDDEN,
    )
    timer.tick(handlers.refresh, [session, signature], [numbers, timer, signature], **INTERNAL)
    stop_button.click(handlers.stop, None, [session, form, panel, timer], **INTERNAL)
    fullscreen_button.click(None, None, None, js=FULLSCREEN_JS)

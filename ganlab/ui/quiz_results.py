"""The owner's results in "Run a quiz": the report, live while answers arrive, exports, close and reopen.

Everything here needs the quiz's owner key. The live view polls two counts (``QuizStore.activity``)
every ``LIVE_SECONDS`` and rebuilds the report only when they changed.
"""

from __future__ import annotations

import atexit
import html
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ganlab.quiz import QuizError, QuizReport, QuizStore
from ganlab.quiz.deck import normalise_code
from ganlab.ui.quiz_html import GALLERY_CSS, gallery_html, report_markdown, thumbnail_png
from ganlab.ui.quiz_support import HIDDEN, INTERNAL, _text

LIVE_SECONDS = 2.0
EXPORT_KEEP_SECONDS = 3600
THUMBNAILS_KEPT = 500


class ResultsHandlers:
    """The owner's report, galleries, exports and open/closed switch over one ``QuizStore``."""

    def __init__(self, store: QuizStore) -> None:
        self.store = store
        self._thumbnails: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self._thumbnail_lock = threading.Lock()
        self._exports = Path(tempfile.mkdtemp(prefix="ganlab-quiz-exports-"))
        atexit.register(shutil.rmtree, self._exports, ignore_errors=True)

    def report(self, code: Any, key: Any, exclude_fast: Any = False, include_unqualified: Any = False) -> QuizReport:
        code = _text(code, "The quiz code", 40)
        key = _text(key, "The owner key", 200)
        return self.store.results(
            code,
            key,
            exclude_unqualified=False if include_unqualified is True else None,
            exclude_fast=exclude_fast is True,
        )

    def signature(self, code: Any, key: Any, options: tuple = ()) -> str:
        """What the results depend on, from two counts (cheap enough to poll every 2 s)."""
        code = _text(code, "The quiz code", 40)
        key = _text(key, "The owner key", 200)
        return repr((normalise_code(code), self.store.activity(code, key), options))

    def _thumbnail(self, code: str, key: str, pool: str, index: int) -> bytes:
        """A small compressed PNG of one quiz image for the owner's galleries (cached: the live
        view redraws them every few seconds)."""
        cache_key = (code, pool, index)
        with self._thumbnail_lock:
            if cache_key in self._thumbnails:
                self._thumbnails.move_to_end(cache_key)
                return self._thumbnails[cache_key]
        png = thumbnail_png(self.store.owner_image(code, key, pool, index))
        with self._thumbnail_lock:
            self._thumbnails[cache_key] = png
            while len(self._thumbnails) > THUMBNAILS_KEPT:
                self._thumbnails.popitem(last=False)
        return png

    def _galleries(self, key: str, report: QuizReport) -> tuple[str, str]:
        if report.summary is None:
            return gallery_html([], "No answers yet."), gallery_html([], "No answers yet.")
        several = len(report.settings["sources"]) > 1  # then say which generator made each fake
        deceptive = [
            (
                self._thumbnail(report.code, key, im.pool, im.index),
                f"judged real {im.wrong} of {im.n}" + (f" · {im.pool}" if several else ""),
            )
            for im in report.summary.most_deceptive
        ]
        doubted = [
            (self._thumbnail(report.code, key, im.pool, im.index), f"judged fake {im.wrong} of {im.n}")
            for im in report.summary.most_doubted
        ]
        return (
            gallery_html(deceptive, "No fake has fooled anyone yet."),
            gallery_html(doubted, "No real image has been doubted yet."),
        )

    def results(self, code: Any, key: Any, exclude_fast: Any, include_unqualified: Any, live: Any) -> list:
        """Show the results (owner key required) and start the live refresh."""
        try:
            signature = self.signature(code, key, (exclude_fast, include_unqualified))
            report = self.report(code, key, exclude_fast, include_unqualified)
            deceptive, doubted = self._galleries(_text(key, "The owner key"), report)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        return [gr.update(visible=True), report_markdown(report), deceptive, doubted, gr.Timer(active=live is True), signature]

    def refresh(self, code: Any, key: Any, exclude_fast: Any, include_unqualified: Any, live: Any, signature: Any) -> list:
        """Timer tick: redraw only when something changed; stop quietly on any error."""
        keep = [gr.skip()] * 4
        if live is not True:
            return [*keep, gr.Timer(active=False), gr.skip()]
        try:
            new_signature = self.signature(code, key, (exclude_fast, include_unqualified))
            if new_signature == signature:
                return [*keep, gr.skip(), gr.skip()]
            report = self.report(code, key, exclude_fast, include_unqualified)
            deceptive, doubted = self._galleries(_text(key, "The owner key"), report)
        except (QuizError, gr.Error):
            return [*keep, gr.Timer(active=False), gr.skip()]
        return [gr.skip(), report_markdown(report), deceptive, doubted, gr.skip(), new_signature]

    def export(self, code: Any, key: Any) -> list[str]:
        """Every trial of every deck as CSV and JSON files in a fresh temporary folder."""
        code = _text(code, "The quiz code", 40)
        key = _text(key, "The owner key", 200)
        try:
            csv_text = self.store.export_csv(code, key)
            json_text = self.store.export_json(code, key)
            canonical = normalise_code(code)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        # Gradio copies returned files into its own cache; our copies go after an hour.
        for old in self._exports.iterdir():
            if time.time() - old.stat().st_mtime > EXPORT_KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        folder = Path(tempfile.mkdtemp(dir=self._exports))  # one folder per export: no clashes
        csv_path = folder / f"quiz-{canonical}-trials.csv"
        json_path = folder / f"quiz-{canonical}-trials.json"
        csv_path.write_text(csv_text, encoding="utf-8")
        json_path.write_text(json_text, encoding="utf-8")
        return [str(csv_path), str(json_path)]

    def set_open(self, code: Any, key: Any, is_open: bool) -> str:
        code = _text(code, "The quiz code", 40)
        key = _text(key, "The owner key", 200)
        try:
            (self.store.reopen_quiz if is_open else self.store.close_quiz)(code, key)
            canonical = normalise_code(code)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        if is_open:
            return f"Quiz {canonical} is open again: participants can join and continue their decks."
        return f"Quiz {canonical} is closed: nobody can join or answer until you reopen it. Results stay."

    def close(self, code: Any, key: Any) -> str:
        return self.set_open(code, key, False)

    def reopen(self, code: Any, key: Any) -> str:
        return self.set_open(code, key, True)

    def reissue(self, code: Any, key: Any, nickname: Any) -> str:
        code = _text(code, "The quiz code", 40)
        key = _text(key, "The owner key", 200)
        nickname = _text(nickname, "The nickname", 100)
        try:
            token = self.store.reissue_token(code, key, nickname)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        return (
            f"New resume key for **{html.escape(nickname)}**: `{token}`\n\nThey enter it under "
            "*Continue on another device* with the code and their nickname. Their old key no longer works."
        )


@dataclass(frozen=True)
class OwnerFields:
    """The owner's code and key boxes, which creating a quiz fills in."""

    code: gr.Textbox
    key: gr.Textbox


def build_results_panel(handlers: ResultsHandlers) -> OwnerFields:
    """Lay out the owner's results in the current tab and wire their events."""
    gr.Markdown("### Results")
    with gr.Row():
        code = gr.Textbox(label="Quiz code", max_lines=1, elem_id="ganlab-quiz-results-code")
        key = gr.Textbox(label="Owner key", type="password", max_lines=1, elem_id="ganlab-quiz-results-key")
    with gr.Row():
        exclude_fast = gr.Checkbox(False, label="Leave out answers faster than the quiz's fast limit")
        include_unqualified = gr.Checkbox(False, label="Count participants below the qualification threshold")
        live = gr.Checkbox(True, label=f"Live (refresh every {LIVE_SECONDS:g} s)")
    results_button = gr.Button("Show results", variant="primary", elem_id="ganlab-quiz-show-results")
    with gr.Column(visible=False, elem_id="ganlab-quiz-results-panel") as results_panel:
        results_text = gr.Markdown(elem_id="ganlab-quiz-results")
        gr.Markdown("#### Most deceptive fakes (most often judged real)")
        deceptive = gr.HTML(css_template=GALLERY_CSS, elem_id="ganlab-quiz-deceptive")
        gr.Markdown("#### Most doubted real images (most often judged fake)")
        doubted = gr.HTML(css_template=GALLERY_CSS, elem_id="ganlab-quiz-doubted")
        with gr.Row():
            export_button = gr.Button("Export every trial (CSV + JSON)", elem_id="ganlab-quiz-export")
            close_button = gr.Button("Close quiz", variant="stop", elem_id="ganlab-quiz-close")
            reopen_button = gr.Button("Reopen quiz", elem_id="ganlab-quiz-reopen")
        with gr.Column(visible=False) as exports_box:  # shown once there is something to download
            exports = gr.File(label="Exports", file_count="multiple", interactive=False, elem_id="ganlab-quiz-exports")
        owner_status = gr.Markdown(elem_id="ganlab-quiz-owner-status")
        with gr.Accordion("A participant lost their browser", open=False):
            reissue_nickname = gr.Textbox(label="Their nickname", max_lines=1)
            reissue_button = gr.Button("Make a new resume key")
            reissue_text = gr.Markdown()
    timer = gr.Timer(LIVE_SECONDS, active=False)
    signature = gr.State("")

    inputs = [code, key, exclude_fast, include_unqualified, live]
    outputs = [results_panel, results_text, deceptive, doubted, timer, signature]
    results_button.click(handlers.results, inputs, outputs, api_name="quiz_results", **HIDDEN)
    for option in (exclude_fast, include_unqualified):
        option.input(handlers.results, inputs, outputs, **INTERNAL)
    live.input(lambda on: gr.Timer(active=on is True), [live], [timer], **INTERNAL)
    timer.tick(handlers.refresh, [*inputs, signature], outputs, **INTERNAL)
    export_button.click(handlers.export, [code, key], [exports], api_name="quiz_export", **HIDDEN).success(
        lambda: gr.Column(visible=True), None, [exports_box], **INTERNAL
    )
    for button, handler, api_name in (
        (close_button, handlers.close, "quiz_close"),
        (reopen_button, handlers.reopen, "quiz_reopen"),
    ):
        button.click(handler, [code, key], [owner_status], api_name=api_name, **HIDDEN).success(
            handlers.results, inputs, outputs, **INTERNAL
        )
    reissue_button.click(handlers.reissue, [code, key, reissue_nickname], [reissue_text], api_name="quiz_reissue", **HIDDEN)
    return OwnerFields(code=code, key=key)

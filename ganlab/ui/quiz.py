"""The Quiz tab: spot the fake (HYPE, Zhou et al. 2019) as a human study and a classroom game.

UI wiring only. Decks, answers and statistics live in ``ganlab.quiz`` (``QuizStore``; see
docs/QUIZ.md); the image pools are made once per checkpoint and kept on disk by
``ganlab.quiz.pools.PoolCache``. Two views:

* **Take a quiz** (participants, often on a phone): join with the code and a nickname, then one
  image (or a pair) at a time, answered with big buttons or the keyboard (R / F; ← / → in pair
  mode; 1-5 for confidence). The participant token is kept in the browser (``gr.BrowserState``),
  so a reload resumes the deck.
* **Run a quiz** (the owner): create a quiz from generator checkpoints, get the join code and the
  owner key (shown once), then a results view that refreshes every 2 s, exports, close/reopen.

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

Latency: answering records the answer (one committed transaction) and returns the next trial in
the same round trip. Store-only handlers run with ``concurrency_limit=None``; making pools (the
first quiz over a checkpoint samples 2,000 images) is serialised.
"""

from __future__ import annotations

import atexit
import html
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.context import Context

from ganlab.admin import AdminKey, AdminKeyError
from ganlab.checkpoints import preferred_generator
from ganlab.quiz import QuizError, QuizInfo, QuizReport, QuizStore, default_database_url
from ganlab.quiz.deck import normalise_code
from ganlab.quiz.limits import JoinRateLimit
from ganlab.quiz.pools import PoolCache, quiz_generators
from ganlab.quiz.settings import DEFAULT_MAX_PARTICIPANTS, QuizSettings
from ganlab.ui.quiz_html import (
    ANSWER_JS,
    ANSWER_LABELS,
    CHOICE_OF_TEXT,
    DECK_SIZES,
    FOCUS_JS,
    GALLERY_CSS,
    MODES,
    PAGE_STYLE,
    TRIAL_CSS,
    TRIAL_JS,
    _pct,
    feedback_text,
    gallery_html,
    keys_text,
    progress_text,
    report_markdown,
    thumbnail_png,
    trial_html,
)
from ganlab.ui.quiz_support import (
    NO_PARTICIPANT,
    _saved,
    _text,
    _whole,
    browser_secret,
    participant_state,
)

LIVE_SECONDS = 2.0
EXPORT_KEEP_SECONDS = 3600
# Endpoints the browser and gradio_client call: left out of the API page and of run history.
HIDDEN = dict(api_visibility="undocumented", concurrency_limit=None)
# Follow-up events (timer ticks, tab selects): not callable by API clients at all.
INTERNAL = dict(api_visibility="private", concurrency_limit=None)
# Every participant handler updates these outputs, in this order (see QuizTab._view).
PARTICIPANT_VIEW = (
    "saved",
    "join_panel",
    "trial_panel",
    "done_panel",
    "status",
    "info",
    "header",
    "trial",
    "trial_number",
    "trial_id",
    "confidence",
    "answer_a",
    "answer_b",
    "keys",
    "done",
    "code",
    "focus",
)


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------
class QuizTab:
    """The tab's event handlers over one ``QuizStore`` (thread-safe) and one ``PoolCache``."""

    def __init__(
        self, store: QuizStore, pools: PoolCache, admin: AdminKey | None = None, join_limit: JoinRateLimit | None = None
    ) -> None:
        self.store = store
        self.pools = pools
        self.admin = admin if admin is not None else AdminKey()  # loopback: no key asked
        self.join_limit = join_limit if join_limit is not None else JoinRateLimit.from_env()
        self._thumbnails: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self._thumbnail_lock = threading.Lock()
        self._exports = Path(tempfile.mkdtemp(prefix="ganlab-quiz-exports-"))
        atexit.register(shutil.rmtree, self._exports, ignore_errors=True)

    # -- participant views ---------------------------------------------------------------------
    @staticmethod
    def _view(**values: Any) -> list:
        """The outputs of a participant handler in PARTICIPANT_VIEW order; the rest stay as they are."""
        unknown = set(values) - set(PARTICIPANT_VIEW)
        if unknown:
            raise ValueError(f"not a participant output: {sorted(unknown)}")
        return [values.get(name, gr.skip()) for name in PARTICIPANT_VIEW]

    def _join_view(self, saved: dict, status: str = "", code: Any = None, focus: bool = False) -> list:
        shown = dict(
            join_panel=gr.update(visible=True), trial_panel=gr.update(visible=False), done_panel=gr.update(visible=False)
        )
        if code is not None:
            shown["code"] = code
        return self._view(saved=saved, status=status, focus="1" if focus else "", **shown)

    def _deck_view(self, saved: dict, info: QuizInfo, feedback: str = "", focus: bool = False, instructions: bool = True) -> list:
        """Serve the participant's current trial, or their score when the deck is done."""
        token = saved["token"]
        trial = self.store.render_trial(token)
        # The instructions on joining; afterwards only the title, so image and buttons fit a phone screen.
        info_text = f"### {html.escape(info.title)}"
        if instructions:
            info_text += f"\n{info.instructions}"
        if trial is None:
            progress = self.store.progress(token)
            score = ""
            if progress.scored:
                score = (
                    f"## You got {progress.correct} of {progress.scored} right ({_pct(progress.correct / progress.scored)})\n\n"
                )
            done = f"{feedback}\n\n{score}Thank you, {html.escape(progress.nickname)}! Your answers are saved."
            return self._view(
                saved=saved,
                join_panel=gr.update(visible=False),
                trial_panel=gr.update(visible=False),
                done_panel=gr.update(visible=True),
                status="",
                info=info_text,
                header="",
                trial_number=None,
                trial_id="",
                done=done,
                focus="",
            )
        label_a, label_b = ANSWER_LABELS[trial.mode]
        header = progress_text(trial, info.practice_trials)
        if feedback:
            header = f"{feedback}\n\n{header}"
        return self._view(
            saved=saved,
            join_panel=gr.update(visible=False),
            trial_panel=gr.update(visible=True),
            done_panel=gr.update(visible=False),
            status="",
            info=info_text,
            header=header,
            trial=trial_html(trial),
            trial_number=trial.trial_number,
            trial_id=trial.trial_id,
            confidence=gr.update(visible=info.ask_confidence, value=None),
            answer_a=gr.update(value=label_a),
            answer_b=gr.update(value=label_b),
            keys=keys_text(trial.mode, info.ask_confidence),
            focus="1" if focus else "",
        )

    def join(self, code: Any, nickname: Any, resume_key: Any, saved: Any, request: gr.Request | None = None) -> list:
        """Join with a code and nickname (or resume with the key from the browser / the owner)."""
        saved = _saved(saved)
        code = _text(code, "The quiz code", 40)
        nickname = _text(nickname, "The nickname", 100)
        resume_key = _text(resume_key, "The resume key", 200)
        try:
            canonical = normalise_code(code)
            token = resume_key or None
            if token is None and saved["token"] and saved["code"] == canonical:
                if saved["nickname"].casefold() == " ".join(nickname.split()).casefold():
                    token = saved["token"]
            if token is None:  # a new participant: counted against this address's join limit
                client = getattr(request, "client", None) if request is not None else None
                self.join_limit.take(getattr(client, "host", None))
            joined = self.store.join(canonical, nickname, token=token)
            saved = {"code": joined.quiz.code, "nickname": joined.nickname, "token": joined.token}
            welcome = "Welcome back: your deck continues where you left it." if joined.resumed else ""
            return self._deck_view(saved, joined.quiz, feedback=welcome)
        except QuizError as error:
            raise gr.Error(str(error)) from None

    def resume(self, saved: Any, request: gr.Request | None = None) -> list:
        """Page load: resume the deck kept in this browser; prefill the code from ?quiz=CODE."""
        saved = _saved(saved)
        asked = request.query_params.get("quiz") if request is not None else None
        try:
            asked = normalise_code(asked) if asked else None
        except QuizError:
            asked = None
        if saved["token"] and (asked is None or asked == saved["code"]):
            try:
                joined = self.store.join(saved["code"], saved["nickname"], token=saved["token"])
                return self._deck_view(saved, joined.quiz, focus=joined.next_trial is not None)
            except QuizError as error:
                return self._join_view(saved, f"**{html.escape(str(error))}**", code=saved["code"], focus=asked is not None)
        return self._join_view(saved, "", code=asked or gr.skip(), focus=asked is not None)

    def answer(self, label: Any, trial_number: Any, trial_id: Any, confidence: Any, client_ms: Any, saved: Any) -> list:
        """Record an answer (committed before we reply), then show feedback and the next trial."""
        saved = _saved(saved)
        if not saved["token"]:
            raise gr.Error("Join a quiz first: enter its code and a nickname.")
        if not isinstance(label, str) or label.strip().lower() not in CHOICE_OF_TEXT:
            raise gr.Error(f"The answer must be one of the buttons; got {label!r}")
        choice = CHOICE_OF_TEXT[label.strip().lower()]
        number = _whole(trial_number, "The trial number")
        if not isinstance(trial_id, str) or not trial_id:
            raise gr.Error("This answer does not say which trial it is for; reload the page.")
        if confidence is not None:
            confidence = _whole(confidence, "The confidence")
        if client_ms is not None and (isinstance(client_ms, bool) or not isinstance(client_ms, (int, float))):
            raise gr.Error(f"client_ms must be a number of milliseconds; got {client_ms!r}")
        try:
            receipt = self.store.answer(saved["token"], number, choice, confidence, client_ms, trial_id=trial_id)
            if receipt.duplicate:
                # A double click or a retry: the first answer is kept and already moved the page on
                # (after a lost reply, reloading the page resumes at the right trial).
                return self._view()
            info = self.store.participant_info(saved["token"])
            feedback = ""
            if receipt.feedback is not None:
                feedback = feedback_text(info.mode, receipt.feedback.correct, receipt.feedback.truth)
            return self._deck_view(saved, info, feedback=feedback, instructions=False)
        except QuizError as error:
            raise gr.Error(str(error)) from None

    def leave(self) -> list:
        """Forget this browser's participant (after finishing, to take another quiz)."""
        return self._join_view(dict(NO_PARTICIPANT), "", code="")

    # -- owner ---------------------------------------------------------------------------------
    def checkpoint_choices(self, current: Any = None) -> list:
        """The generators a quiz can use (refreshed when the tab is opened), keeping the choice."""
        names = list(quiz_generators())
        chosen = [c for c in (current or []) if c in names] if isinstance(current, list) else []
        if not chosen and names:
            chosen = names[:1]
        note = (
            ""
            if names
            else (
                "No generator checkpoint can be quizzed yet: train an image GAN on MNIST or Fashion-MNIST "
                "(Train tab) and save it; it appears here as saved/<name>."
            )
        )
        return [gr.update(choices=names, value=chosen), note]

    def create(
        self,
        title: Any,
        checkpoints: Any,
        deck_size: Any,
        mode: Any,
        timed: Any,
        feedback: Any,
        practice: Any,
        qualification: Any,
        confidence: Any,
        admin_key: Any = None,
        max_participants: Any = DEFAULT_MAX_PARTICIPANTS,
        request: gr.Request | None = None,
    ) -> list:
        """Make the pools of a new quiz (fresh samples of the chosen checkpoints, held-out images no other
        quiz has) and create it open. Off loopback this needs the server's admin key."""
        try:
            self.admin.check(_text(admin_key, "The admin key"), what="Creating a quiz")
        except AdminKeyError as error:
            raise gr.Error(str(error)) from None
        if isinstance(checkpoints, str):
            checkpoints = [checkpoints]
        if not isinstance(checkpoints, list) or not checkpoints or not all(isinstance(c, str) for c in checkpoints):
            raise gr.Error("Choose at least one generator checkpoint.")
        if isinstance(qualification, (int, float)) and not isinstance(qualification, bool) and qualification == 0:
            qualification = None  # the slider's 0 means "off"
        if isinstance(max_participants, float) and max_participants.is_integer():
            max_participants = int(max_participants)
        settings = QuizSettings(
            title=_text(title, "The title", 500),
            mode=mode,
            feedback=feedback,
            timed=timed,
            ask_confidence=confidence,
            deck_size=int(deck_size) if isinstance(deck_size, float) and deck_size.is_integer() else deck_size,
            practice_trials=int(practice) if isinstance(practice, float) and practice.is_integer() else practice,
            qualification=qualification,
            max_participants=max_participants,
        )
        generators = quiz_generators()
        unknown = [c for c in checkpoints if c not in generators]
        try:
            settings.validate()  # before any image is sampled
            if unknown:
                raise QuizError(
                    f"No generator checkpoint named {', '.join(map(repr, unknown))} can be quizzed; refresh the list."
                )
            reals = 2 * (settings.deck_size + settings.practice_trials)
            pools = self.pools.prepare([generators[c] for c in dict.fromkeys(checkpoints)], reals=reals)
            created = self.store.create_quiz(sources=list(pools.fakes.values()), real_pool=pools.real, settings=settings)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        link = ""
        if request is not None:
            host = request.headers.get("x-forwarded-host") or request.headers.get("host")
            scheme = "https" if request.headers.get("x-forwarded-proto") == "https" else "http"
            if host:
                link = f"{scheme}://{host}/?quiz={created.code}"
        sources = ", ".join(f"`{name}`" for name in pools.fakes)
        message = (
            f"<div id='ganlab-quiz-created-code'>{created.code}</div>\n\n"
            f"Participants join with this code in **Quiz → Take a quiz**"
            + (f", or open **{link}**" if link else "")
            + f". Fakes: fresh samples of {sources}; real images: held-out `{pools.real}` (images of this quiz "
            "only).\n\n"
            "**Keep the owner key below** (copy it somewhere safe): it is the only way to see results, export "
            "and close the quiz, it is shown only this once and the app stores only a hash of it."
        )
        return [gr.update(visible=True), message, created.owner_key, created.code, created.owner_key]

    def _report(self, code: Any, key: Any, exclude_fast: Any, include_unqualified: Any) -> QuizReport:
        code = _text(code, "The quiz code", 40)
        key = _text(key, "The owner key", 200)
        return self.store.results(
            code,
            key,
            exclude_unqualified=False if include_unqualified is True else None,
            exclude_fast=exclude_fast is True,
        )

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
            while len(self._thumbnails) > 500:
                self._thumbnails.popitem(last=False)
        return png

    def _galleries(self, code: str, key: str, report: QuizReport) -> tuple[str, str]:
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

    def _signature(self, code: Any, key: Any, options: tuple) -> str:
        """What the results depend on, from two counts (cheap enough to poll every 2 s)."""
        code = _text(code, "The quiz code", 40)
        key = _text(key, "The owner key", 200)
        return repr((normalise_code(code), self.store.activity(code, key), options))

    def results(self, code: Any, key: Any, exclude_fast: Any, include_unqualified: Any, live: Any) -> list:
        """Show the results (owner key required) and start the live refresh."""
        try:
            signature = self._signature(code, key, (exclude_fast, include_unqualified))
            report = self._report(code, key, exclude_fast, include_unqualified)
            deceptive, doubted = self._galleries(code, _text(key, "The owner key"), report)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        return [gr.update(visible=True), report_markdown(report), deceptive, doubted, gr.Timer(active=live is True), signature]

    def refresh(self, code: Any, key: Any, exclude_fast: Any, include_unqualified: Any, live: Any, signature: Any) -> list:
        """Timer tick: redraw only when something changed; stop quietly on any error."""
        keep = [gr.skip()] * 4
        if live is not True:
            return [*keep, gr.Timer(active=False), gr.skip()]
        try:
            new_signature = self._signature(code, key, (exclude_fast, include_unqualified))
            if new_signature == signature:
                return [*keep, gr.skip(), gr.skip()]
            report = self._report(code, key, exclude_fast, include_unqualified)
            deceptive, doubted = self._galleries(code, _text(key, "The owner key"), report)
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


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------
def build_quiz_tab(
    store: QuizStore | None = None, pools: PoolCache | None = None, admin: AdminKey | None = None
) -> QuizTab | None:
    """Lay out the Quiz tab inside the current ``gr.Tab`` and wire its events. ``admin``: the server's
    admin key, asked for when creating a quiz where the app listens beyond loopback."""
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
    names = list(quiz_generators())
    outer_tab = Context.block if isinstance(Context.block, gr.Tab) else None

    saved = participant_state(secret)
    with gr.Tabs(elem_id="ganlab-quiz-views"):
        with gr.Tab("Take a quiz", id="quiz-take"):
            with gr.Column(visible=True) as join_panel:
                gr.Markdown("Spot the fake: some images are real, some were made by a GAN. Can you tell?")
                code = gr.Textbox(label="Quiz code", placeholder="e.g. 7KQ2XD", max_lines=1, elem_id="ganlab-quiz-code")
                nickname = gr.Textbox(
                    label="Nickname", placeholder="2-24 letters or digits", max_lines=1, elem_id="ganlab-quiz-nickname"
                )
                with gr.Accordion("Continue on another device", open=False):
                    resume_key = gr.Textbox(
                        label="Resume key (from the person running the quiz)", max_lines=1, elem_id="ganlab-quiz-resume-key"
                    )
                join_button = gr.Button("Join", variant="primary", size="lg", elem_id="ganlab-quiz-join")
                status = gr.Markdown(elem_id="ganlab-quiz-status")
            with gr.Column(visible=False) as trial_panel:
                info = gr.Markdown(elem_id="ganlab-quiz-info")
                header = gr.Markdown(elem_id="ganlab-quiz-header")
                trial = gr.HTML(
                    "", js_on_load=TRIAL_JS, css_template=TRIAL_CSS, head=PAGE_STYLE, elem_id="ganlab-quiz-trial", padding=False
                )
                confidence = gr.Radio(
                    [("1 guessing", 1), ("2", 2), ("3", 3), ("4", 4), ("5 certain", 5)],
                    label="How sure are you?",
                    visible=False,
                    elem_id="ganlab-quiz-confidence",
                )
                with gr.Row(elem_id="ganlab-quiz-buttons", equal_height=True):
                    answer_a = gr.Button("Real", variant="primary", size="lg", elem_id="ganlab-quiz-a")
                    answer_b = gr.Button("Fake", variant="primary", size="lg", elem_id="ganlab-quiz-b")
                keys = gr.Markdown(elem_id="ganlab-quiz-keys")
                trial_number = gr.Number(visible=False)  # no precision: 2.5 must be refused, not rounded
                trial_id = gr.Textbox(visible=False)
                client_ms = gr.Number(visible=False)
            with gr.Column(visible=False) as done_panel:
                done = gr.Markdown(elem_id="ganlab-quiz-done")
                leave_button = gr.Button("Take another quiz", elem_id="ganlab-quiz-leave")
            focus = gr.Textbox(visible=False)

        with gr.Tab("Run a quiz", id="quiz-run") as run_tab:
            with gr.Accordion("Create a quiz", open=True):
                with gr.Row():
                    # Custom values allowed so API callers need no list refresh first; create() checks names.
                    checkpoints = gr.Dropdown(
                        names,
                        value=[preferred_generator(names)] if names else [],
                        multiselect=True,
                        allow_custom_value=True,
                        label="Generator checkpoints (the fakes)",
                        elem_id="ganlab-quiz-checkpoints",
                        scale=3,
                    )
                    refresh_button = gr.Button("↻", scale=0, min_width=50)
                checkpoints_note = gr.Markdown()
                title = gr.Textbox(label="Title (optional)", max_lines=1, elem_id="ganlab-quiz-title")
                with gr.Row():
                    deck_size = gr.Radio(
                        list(DECK_SIZES), value=20, label="Trials per participant", elem_id="ganlab-quiz-deck-size"
                    )
                    mode = gr.Radio(
                        [(label, key) for key, label in MODES.items()], value="single", label="Mode", elem_id="ganlab-quiz-mode"
                    )
                with gr.Row():
                    practice = gr.Slider(
                        0,
                        20,
                        value=4,
                        step=1,
                        label="Practice trials (do not count; always show feedback)",
                        elem_id="ganlab-quiz-practice",
                    )
                    qualification = gr.Slider(
                        0,
                        1,
                        value=0,
                        step=0.05,
                        label="Qualification threshold (0 = off; HYPE uses 0.65)",
                        elem_id="ganlab-quiz-qualification",
                    )
                with gr.Row():
                    feedback = gr.Checkbox(False, label="Feedback after each answer (teaching)", elem_id="ganlab-quiz-feedback")
                    timed = gr.Checkbox(False, label="Timed: flash each image (HYPE-time)", elem_id="ganlab-quiz-timed")
                    ask_confidence = gr.Checkbox(False, label="Ask how sure (1-5)", elem_id="ganlab-quiz-ask-confidence")
                with gr.Row():
                    max_participants = gr.Number(
                        DEFAULT_MAX_PARTICIPANTS,
                        label="Most participants",
                        precision=0,
                        minimum=1,
                        elem_id="ganlab-quiz-max-participants",
                    )
                    admin_key = gr.Textbox(
                        label="Admin key" + ("" if tab.admin.required else " (not needed here)"),
                        type="password",
                        max_lines=1,
                        visible=tab.admin.required,
                        elem_id="ganlab-quiz-admin-key",
                    )
                create_button = gr.Button("Create quiz", variant="primary", elem_id="ganlab-quiz-create")
                with gr.Column(visible=False) as created_panel:
                    created = gr.Markdown(elem_id="ganlab-quiz-created")
                    owner_key_shown = gr.Textbox(
                        label="Owner key: shown once, keep it",
                        interactive=False,
                        buttons=["copy"],
                        elem_id="ganlab-quiz-owner-key",
                    )
            gr.Markdown("### Results")
            with gr.Row():
                results_code = gr.Textbox(label="Quiz code", max_lines=1, elem_id="ganlab-quiz-results-code")
                results_key = gr.Textbox(label="Owner key", type="password", max_lines=1, elem_id="ganlab-quiz-results-key")
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

    named = dict(
        saved=saved,
        join_panel=join_panel,
        trial_panel=trial_panel,
        done_panel=done_panel,
        status=status,
        info=info,
        header=header,
        trial=trial,
        trial_number=trial_number,
        trial_id=trial_id,
        confidence=confidence,
        answer_a=answer_a,
        answer_b=answer_b,
        keys=keys,
        done=done,
        code=code,
        focus=focus,
    )
    participant_outputs = [named[name] for name in PARTICIPANT_VIEW]

    # -- participant events --------------------------------------------------------------------
    gr.on(
        [join_button.click, nickname.submit],
        tab.join,
        [code, nickname, resume_key, saved],
        participant_outputs,
        api_name="quiz_join",
        show_progress="minimal",
        **HIDDEN,
    )
    answer_inputs = [trial_number, trial_id, confidence, client_ms, saved]
    answer_a.click(
        tab.answer,
        [answer_a, *answer_inputs],
        participant_outputs,
        js=ANSWER_JS,
        api_name="quiz_answer",
        show_progress="hidden",
        **HIDDEN,
    )
    answer_b.click(
        tab.answer,
        [answer_b, *answer_inputs],
        participant_outputs,
        js=ANSWER_JS,
        api_name="quiz_answer_b",
        show_progress="hidden",
        **HIDDEN,
    )
    leave_button.click(tab.leave, None, participant_outputs, api_name="quiz_leave", **HIDDEN)
    root = Context.root_block
    if root is not None:
        root.load(tab.resume, [saved], participant_outputs, api_name="quiz_resume", **HIDDEN).then(
            None, [focus], None, js=FOCUS_JS
        )

    # -- owner events --------------------------------------------------------------------------
    choices_outputs = [checkpoints, checkpoints_note]
    refresh_button.click(tab.checkpoint_choices, [checkpoints], choices_outputs, api_name="quiz_checkpoints", **HIDDEN)
    run_tab.select(tab.checkpoint_choices, [checkpoints], choices_outputs, **INTERNAL)
    if outer_tab is not None:
        outer_tab.select(tab.checkpoint_choices, [checkpoints], choices_outputs, **INTERNAL)
    create_button.click(
        tab.create,
        [
            title,
            checkpoints,
            deck_size,
            mode,
            timed,
            feedback,
            practice,
            qualification,
            ask_confidence,
            admin_key,
            max_participants,
        ],
        [created_panel, created, owner_key_shown, results_code, results_key],
        api_name="quiz_create",
        api_visibility="undocumented",
        concurrency_limit=1,
        concurrency_id="ganlab-quiz-pools",  # sampling 2,000 images: one at a time
    )
    result_inputs = [results_code, results_key, exclude_fast, include_unqualified, live]
    result_outputs = [results_panel, results_text, deceptive, doubted, timer, signature]
    results_button.click(tab.results, result_inputs, result_outputs, api_name="quiz_results", **HIDDEN)
    for option in (exclude_fast, include_unqualified):
        option.input(tab.results, result_inputs, result_outputs, **INTERNAL)
    live.input(lambda on: gr.Timer(active=on is True), [live], [timer], **INTERNAL)
    timer.tick(
        tab.refresh, [*result_inputs, signature], [results_panel, results_text, deceptive, doubted, timer, signature], **INTERNAL
    )
    export_button.click(tab.export, [results_code, results_key], [exports], api_name="quiz_export", **HIDDEN).success(
        lambda: gr.Column(visible=True), None, [exports_box], **INTERNAL
    )
    close_button.click(
        lambda c, k: tab.set_open(c, k, False), [results_code, results_key], [owner_status], api_name="quiz_close", **HIDDEN
    ).success(tab.results, result_inputs, result_outputs, **INTERNAL)
    reopen_button.click(
        lambda c, k: tab.set_open(c, k, True), [results_code, results_key], [owner_status], api_name="quiz_reopen", **HIDDEN
    ).success(tab.results, result_inputs, result_outputs, **INTERNAL)
    reissue_button.click(
        tab.reissue, [results_code, results_key, reissue_nickname], [reissue_text], api_name="quiz_reissue", **HIDDEN
    )
    return tab

"""The Quiz tab's "Take a quiz" view: join with a code and a nickname, then one trial at a time.

Participants are often on a phone: one image (or a pair) at a time, answered with big buttons or
the keyboard (R / F; ← / → in pair mode; 1-5 for confidence). The participant token is kept in the
browser (``gr.BrowserState``), so a reload resumes the deck. Answering records the answer (one
committed transaction) and returns the next trial in the same round trip. What the browser
receives never tells real from fake: see ``ganlab.ui.quiz``.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr
from gradio.context import Context

from ganlab.quiz import QuizError, QuizInfo, QuizStore
from ganlab.quiz.deck import normalise_code
from ganlab.quiz.limits import JoinRateLimit
from ganlab.ui.quiz_html import (
    ANSWER_JS,
    ANSWER_LABELS,
    CHOICE_OF_TEXT,
    FOCUS_JS,
    PAGE_STYLE,
    TRIAL_CSS,
    TRIAL_JS,
    _pct,
    feedback_text,
    keys_text,
    progress_text,
    trial_html,
)
from ganlab.ui.quiz_support import HIDDEN, NO_PARTICIPANT, _saved, _text, _whole, participant_state

# Every participant handler updates these outputs, in this order (see ParticipantHandlers.view).
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


class ParticipantHandlers:
    """Join, resume, answer and leave, over one ``QuizStore`` (thread-safe)."""

    def __init__(self, store: QuizStore, join_limit: JoinRateLimit | None = None) -> None:
        self.store = store
        self.join_limit = join_limit if join_limit is not None else JoinRateLimit.from_env()

    @staticmethod
    def view(**values: Any) -> list:
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
        return self.view(saved=saved, status=status, focus="1" if focus else "", **shown)

    def _done_view(self, saved: dict, info_text: str, feedback: str) -> list:
        progress = self.store.progress(saved["token"])
        score = ""
        if progress.scored:
            score = f"## You got {progress.correct} of {progress.scored} right ({_pct(progress.correct / progress.scored)})\n\n"
        done = f"{feedback}\n\n{score}Thank you, {html.escape(progress.nickname)}! Your answers are saved."
        return self.view(
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

    def _deck_view(self, saved: dict, info: QuizInfo, feedback: str = "", focus: bool = False, instructions: bool = True) -> list:
        """Serve the participant's current trial, or their score when the deck is done."""
        trial = self.store.render_trial(saved["token"])
        # The instructions on joining; afterwards only the title, so image and buttons fit a phone screen.
        info_text = f"### {html.escape(info.title)}"
        if instructions:
            info_text += f"\n{info.instructions}"
        if trial is None:
            return self._done_view(saved, info_text, feedback)
        label_a, label_b = ANSWER_LABELS[trial.mode]
        header = progress_text(trial, info.practice_trials)
        if feedback:
            header = f"{feedback}\n\n{header}"
        return self.view(
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
                return self.view()
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


def build_participant_view(handlers: ParticipantHandlers, secret: str) -> None:
    """Lay out "Take a quiz" in the current tab and wire its events (the page load resumes a deck)."""
    saved = participant_state(secret)
    with gr.Column(visible=True) as join_panel:
        gr.Markdown("Spot the fake: some images are real, some were made by a GAN. Can you tell?")
        code = gr.Textbox(label="Quiz code", placeholder="e.g. 7KQ2XD", max_lines=1, elem_id="ganlab-quiz-code")
        nickname = gr.Textbox(label="Nickname", placeholder="2-24 letters or digits", max_lines=1, elem_id="ganlab-quiz-nickname")
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

    components = dict(
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
    outputs = [components[name] for name in PARTICIPANT_VIEW]
    gr.on(
        [join_button.click, nickname.submit],
        handlers.join,
        [code, nickname, resume_key, saved],
        outputs,
        api_name="quiz_join",
        show_progress="minimal",
        **HIDDEN,
    )
    answer_inputs = [trial_number, trial_id, confidence, client_ms, saved]
    for button, api_name in ((answer_a, "quiz_answer"), (answer_b, "quiz_answer_b")):
        button.click(
            handlers.answer,
            [button, *answer_inputs],
            outputs,
            js=ANSWER_JS,
            api_name=api_name,
            show_progress="hidden",
            **HIDDEN,
        )
    leave_button.click(handlers.leave, None, outputs, api_name="quiz_leave", **HIDDEN)
    root = Context.root_block
    if root is not None:
        root.load(handlers.resume, [saved], outputs, api_name="quiz_resume", **HIDDEN).then(None, [focus], None, js=FOCUS_JS)

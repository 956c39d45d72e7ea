"""Creating a quiz in "Run a quiz": its settings, its images, and the join link and owner key it gives back.

The images come either from generator checkpoints (fresh samples of each for this quiz, and
held-out real images no other quiz has: ``ganlab.quiz.pools``) or from the owner's own files
(``ganlab.ui.quiz_uploads``; every image normalised the same way by ``ganlab.quiz.sources``).
Off loopback, creating a quiz needs the server's admin key: it makes work for the server.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from ganlab.admin import AdminKey, AdminKeyError
from ganlab.checkpoints import preferred_generator
from ganlab.quiz import CreatedQuiz, QuizError, QuizStore
from ganlab.quiz.pools import PoolCache, quiz_generators
from ganlab.quiz.settings import DEFAULT_MAX_PARTICIPANTS, QuizSettings
from ganlab.quiz.sources import keep_image_pools
from ganlab.share import join_bases, join_url, qr_svg
from ganlab.ui.quiz_html import DECK_SIZES, MODES
from ganlab.ui.quiz_results import OwnerFields
from ganlab.ui.quiz_support import HIDDEN, INTERNAL, POOL_WORK, _text, browser_base
from ganlab.ui.quiz_uploads import UPLOAD_TYPES, generated_sets, real_set, scratch_folder

SOURCES = {"checkpoints": "Generator checkpoints", "files": "Your own images"}


def _whole_if_integral(value: Any) -> Any:
    """Sliders and number boxes send 20.0 for 20; anything else goes to QuizSettings.validate as it came."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def join_links(code: str, request: gr.Request | None, listening_on: str) -> list[str]:
    """The quiz's join links, the likeliest first (``ganlab.share.join_bases``)."""
    return [join_url(base, code) for base in join_bases(browser_base(request), listening_on)]


def join_link_markdown(links: list[str]) -> str:
    """Where participants go: the first link (with a QR code for phones), the others, and the code itself."""
    if not links:
        return "Participants join with this code in **Quiz → Take a quiz**."
    others = "".join(f" or {html.escape(link)}" for link in links[1:])
    return (
        f"Participants open **{html.escape(links[0])}**{others}, scan the code below, or enter the code in "
        f"**Quiz → Take a quiz**.\n\n<div class='ganlab-quiz-join-qr'>{qr_svg(links[0])}</div>"
    )


class CreateHandlers:
    """Make a quiz's image pools and create it open, over one ``QuizStore`` and one ``PoolCache``."""

    def __init__(self, store: QuizStore, pools: PoolCache, admin: AdminKey) -> None:
        self.store = store
        self.pools = pools
        self.admin = admin

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
                "(Train tab) and save it; it appears here as saved/<name>. Or quiz your own images."
            )
        )
        return [gr.update(choices=names, value=chosen), note]

    def _check_admin(self, admin_key: Any) -> None:
        try:
            self.admin.check(_text(admin_key, "The admin key"), what="Creating a quiz")
        except AdminKeyError as error:
            raise gr.Error(str(error)) from None

    @staticmethod
    def settings(title, deck_size, mode, timed, feedback, practice, qualification, confidence, max_participants) -> QuizSettings:
        """The quiz settings from the form (in the form's order, ``_settings_form``), checked
        (``QuizSettings.validate``) before any image is made."""
        if isinstance(qualification, (int, float)) and not isinstance(qualification, bool) and qualification == 0:
            qualification = None  # the slider's 0 means "off"
        settings = QuizSettings(
            title=_text(title, "The title", 500),
            mode=mode,
            feedback=feedback,
            timed=timed,
            ask_confidence=confidence,
            deck_size=_whole_if_integral(deck_size),
            practice_trials=_whole_if_integral(practice),
            qualification=qualification,
            max_participants=_whole_if_integral(max_participants),
        )
        try:
            return settings.validate()
        except QuizError as error:
            raise gr.Error(str(error)) from None

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
        """A new quiz over generator checkpoints: fresh samples of each, and held-out real images no other
        quiz has. Off loopback this needs the server's admin key."""
        self._check_admin(admin_key)
        if isinstance(checkpoints, str):
            checkpoints = [checkpoints]
        if not isinstance(checkpoints, list) or not checkpoints or not all(isinstance(c, str) for c in checkpoints):
            raise gr.Error("Choose at least one generator checkpoint.")
        settings = self.settings(title, deck_size, mode, timed, feedback, practice, qualification, confidence, max_participants)
        generators = quiz_generators()
        unknown = [c for c in checkpoints if c not in generators]
        try:
            if unknown:
                raise QuizError(
                    f"No generator checkpoint named {', '.join(map(repr, unknown))} can be quizzed; refresh the list."
                )
            reals = 2 * (settings.deck_size + settings.practice_trials)
            pools = self.pools.prepare([generators[c] for c in dict.fromkeys(checkpoints)], reals=reals)
            created = self.store.create_quiz(sources=list(pools.fakes.values()), real_pool=pools.real, settings=settings)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        sources = ", ".join(f"`{name}`" for name in pools.fakes)
        made_of = f"Fakes: fresh samples of {sources}; real images: held-out `{pools.real}` (images of this quiz only)."
        return self._created(created, made_of, request)

    def create_from_images(
        self,
        title: Any,
        real_files: Any,
        generated_files: Any,
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
        """A new quiz over the owner's own images: the real ones and one or more generated sets, uploaded as
        .zip files or image files. Off loopback this needs the server's admin key."""
        self._check_admin(admin_key)
        settings = self.settings(title, deck_size, mode, timed, feedback, practice, qualification, confidence, max_participants)
        try:
            with scratch_folder() as scratch:
                real = real_set(real_files, settings.display_size, scratch)
                fakes = generated_sets(generated_files, settings.display_size, scratch)
            real_pool, fake_pools = keep_image_pools(real, fakes, settings, self.pools)
            created = self.store.create_quiz(sources=fake_pools, real_pool=real_pool, settings=settings)
        except QuizError as error:
            raise gr.Error(str(error)) from None
        counts = ", ".join(f"{len(pixels)} in `{html.escape(label)}`" for label, pixels in fakes)
        made_of = f"Your images: {len(real[1])} real (`{html.escape(real[0])}`); generated: {counts}."
        return self._created(created, made_of, request)

    def _created(self, created: CreatedQuiz, made_of: str, request: gr.Request | None) -> list:
        links = join_links(created.code, request, self.admin.listening_on)
        message = (
            f"<div id='ganlab-quiz-created-code'>{created.code}</div>\n\n"
            f"{join_link_markdown(links)}\n\n{made_of}\n\n"
            "**Keep the owner key below** (copy it somewhere safe): it is the only way to see results, export "
            "and close the quiz, it is shown only this once and the app stores only a hash of it."
        )
        return [gr.update(visible=True), message, created.owner_key, created.code, created.owner_key]


def _settings_form(admin: AdminKey) -> tuple[gr.Textbox, list]:
    """Lay out the quiz's settings; returns the title box and the settings in the order the create handlers take."""
    title = gr.Textbox(label="Title (optional)", max_lines=1, elem_id="ganlab-quiz-title")
    with gr.Row():
        deck_size = gr.Radio(list(DECK_SIZES), value=20, label="Trials per participant", elem_id="ganlab-quiz-deck-size")
        mode = gr.Radio([(label, key) for key, label in MODES.items()], value="single", label="Mode", elem_id="ganlab-quiz-mode")
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
            label="Admin key" + ("" if admin.required else " (not needed here)"),
            type="password",
            max_lines=1,
            visible=admin.required,
            elem_id="ganlab-quiz-admin-key",
        )
    return title, [deck_size, mode, timed, feedback, practice, qualification, ask_confidence, admin_key, max_participants]


def build_create_panel(handlers: CreateHandlers, owner: OwnerFields, refresh_on: list) -> None:
    """Lay out "Create a quiz" and wire it; a new quiz's code and key go into the owner's fields.
    ``refresh_on``: the events (tab selections) that refresh the list of checkpoints."""
    names = list(quiz_generators())
    with gr.Accordion("Create a quiz", open=True):
        source = gr.Radio(
            [(label, key) for key, label in SOURCES.items()],
            value="checkpoints",
            label="The images",
            elem_id="ganlab-quiz-source",
        )
        with gr.Column(visible=True) as checkpoint_box:
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
        with gr.Column(visible=False) as files_box:
            gr.Markdown(
                "PNG, JPEG or WebP, grayscale or colour, at most 1024 pixels a side; each set a .zip, or the image "
                "files themselves. Every image is cut to its centred square and resized alike. Each .zip of "
                "generated images counts as one generator."
            )
            with gr.Row():
                real_files = gr.File(
                    label="Real images",
                    file_count="multiple",
                    file_types=UPLOAD_TYPES,
                    elem_id="ganlab-quiz-real-files",
                )
                generated_files = gr.File(
                    label="Generated images",
                    file_count="multiple",
                    file_types=UPLOAD_TYPES,
                    elem_id="ganlab-quiz-generated-files",
                )
        title, settings = _settings_form(handlers.admin)
        create_button = gr.Button("Create quiz", variant="primary", elem_id="ganlab-quiz-create")
        create_files_button = gr.Button(
            "Create quiz from these images", variant="primary", visible=False, elem_id="ganlab-quiz-create-from-images"
        )
        with gr.Column(visible=False) as created_panel:
            created = gr.Markdown(elem_id="ganlab-quiz-created")
            owner_key_shown = gr.Textbox(
                label="Owner key: shown once, keep it", interactive=False, buttons=["copy"], elem_id="ganlab-quiz-owner-key"
            )

    source.input(
        lambda kind: [gr.update(visible=kind != "files")] * 2 + [gr.update(visible=kind == "files")] * 2,
        [source],
        [checkpoint_box, create_button, files_box, create_files_button],
        **INTERNAL,
    )
    choices = [checkpoints, checkpoints_note]
    refresh_button.click(handlers.checkpoint_choices, [checkpoints], choices, api_name="quiz_checkpoints", **HIDDEN)
    for event in refresh_on:
        event(handlers.checkpoint_choices, [checkpoints], choices, **INTERNAL)
    created_outputs = [created_panel, created, owner_key_shown, owner.code, owner.key]
    create_button.click(handlers.create, [title, checkpoints, *settings], created_outputs, api_name="quiz_create", **POOL_WORK)
    create_files_button.click(
        handlers.create_from_images,
        [title, real_files, generated_files, *settings],
        created_outputs,
        api_name="quiz_create_from_images",
        **POOL_WORK,
    )

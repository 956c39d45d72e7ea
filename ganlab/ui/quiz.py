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
import base64
import html
import io
import math
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.context import Context, get_render_context, set_render_context
from PIL import Image

from ganlab.admin import AdminKey, AdminKeyError
from ganlab.checkpoints import preferred_generator
from ganlab.paths import data_home
from ganlab.quiz import ClientTrial, QuizError, QuizInfo, QuizReport, QuizStore, default_database_url
from ganlab.quiz.deck import normalise_code
from ganlab.quiz.limits import JoinRateLimit
from ganlab.quiz.pools import PoolCache, quiz_generators
from ganlab.quiz.report import Rate, Summary
from ganlab.quiz.settings import DEFAULT_MAX_PARTICIPANTS, QuizSettings

DECK_SIZES = (20, 50, 100)
MODES = {"single": "One image: real or fake?", "pair": "Two images: which one is real?"}
ANSWER_LABELS = {"single": ("Real", "Fake"), "pair": ("Left is real", "Right is real")}
STORE_CHOICES = {"single": ("real", "fake"), "pair": ("left", "right")}
# What an answer button (or an API caller) may send, mapped to the store's answer.
CHOICE_OF_TEXT = {
    text.lower(): choice
    for mode, labels in ANSWER_LABELS.items()
    for text, choice in [*zip(labels, STORE_CHOICES[mode], strict=True),
                         *zip(STORE_CHOICES[mode], STORE_CHOICES[mode], strict=True)]
}
LIVE_SECONDS = 2.0
THUMBNAIL = 112  # pixels; the owner's galleries
EXPORT_KEEP_SECONDS = 3600
NO_PARTICIPANT = {"code": "", "nickname": "", "token": ""}
BROWSER_STORAGE_KEY = "ganlab-quiz-participant"
SECRET_FILE_SUFFIX = ".browser-secret"
# Endpoints the browser and gradio_client call: left out of the API page and of run history.
HIDDEN = dict(api_visibility="undocumented", concurrency_limit=None)
# Follow-up events (timer ticks, tab selects): not callable by API clients at all.
INTERNAL = dict(api_visibility="private", concurrency_limit=None)
# Every participant handler updates these outputs, in this order (see QuizTab._view).
PARTICIPANT_VIEW = ("saved", "join_panel", "trial_panel", "done_panel", "status", "info", "header", "trial",
                    "trial_number", "trial_id", "confidence", "answer_a", "answer_b", "keys", "done", "code", "focus")

# The tab's own script, run when the trial view mounts (gr.HTML js_on_load), so app.py needs no
# launch(js=...). It (1) maps keys to the answer buttons and the confidence choices; (2) drops a
# second click on the same trial within a second (double clicks; the store would keep the first
# answer anyway), unless a confidence was chosen in between (a fix after "how sure are you?");
# (3) in timed quizzes shows the images for the server's exposure_ms once they are decoded, then
# removes them: every <img> gets the noise mask's bytes instead, and the component's value is replaced
# by that masked HTML, so the image is no longer anywhere in the page (not hidden under a mask);
# (4) notes when the images appeared, for the browser-side response time sent with the answer.
TRIAL_JS = r"""
const quiz = window.ganlabQuiz || (window.ganlabQuiz = {shownAt: null, trial: null, clicked: null, clickedAt: 0});
if (!quiz.listening) {
  quiz.listening = true;
  const visible = (el) => !!el && el.offsetParent !== null;
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target && (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.isContentEditable)) {
      if (!(target.tagName === 'INPUT' && target.type === 'radio')) return;
    }
    const a = document.getElementById('ganlab-quiz-a');
    const b = document.getElementById('ganlab-quiz-b');
    const trial = document.querySelector('#ganlab-quiz-trial .gq-trial');
    if (!trial || !visible(a) || !visible(b)) return;
    const key = event.key.toLowerCase();
    let button = null;
    if (trial.dataset.mode === 'single') button = key === 'r' ? a : (key === 'f' ? b : null);
    else button = key === 'arrowleft' ? a : (key === 'arrowright' ? b : null);
    if (button) { event.preventDefault(); button.click(); return; }
    if (/^[1-5]$/.test(event.key)) {
      const options = document.querySelectorAll('#ganlab-quiz-confidence input[type=radio]');
      const option = options[Number(event.key) - 1];
      if (option && visible(option.closest('#ganlab-quiz-confidence'))) { event.preventDefault(); option.click(); }
    }
  });
  document.addEventListener('click', (event) => {
    const closest = (selector) => (event.target && event.target.closest ? event.target.closest(selector) : null);
    if (closest('#ganlab-quiz-confidence')) { quiz.clicked = null; return; }  // a fix after "how sure?"
    const button = closest('#ganlab-quiz-a, #ganlab-quiz-b');
    if (!button) return;
    const now = performance.now();
    if (quiz.clicked === quiz.trial && now - quiz.clickedAt < 1000) {
      event.stopImmediatePropagation();
      event.preventDefault();
      return;
    }
    quiz.clicked = quiz.trial;
    quiz.clickedAt = now;
  }, true);
}
const start = () => {
  const trial = element.querySelector('.gq-trial');
  if (trial && trial.dataset.masked) return;  // our own re-render after the exposure: nothing to start
  quiz.trial = trial ? trial.dataset.trial : null;
  quiz.shownAt = null;
  quiz.maskedAt = null;
  if (!trial) return;
  const images = Array.from(trial.querySelectorAll('img.gq-image'));
  const exposure = Number(trial.dataset.exposure || 0);
  const mask = exposure > 0 ? new Image() : null;
  if (mask) mask.src = trial.dataset.mask;
  Promise.all([...images, ...(mask ? [mask] : [])].map((img) => img.decode().catch(() => null))).then(() => {
    if (!trial.isConnected) return;
    trial.classList.add('gq-shown');
    const shown = performance.now();
    quiz.shownAt = shown;
    if (exposure > 0) {
      const tick = (now) => {
        if (!trial.isConnected) return;
        if (now - shown >= exposure - 8) {  // within half a frame of the exposure
          // Remove the images, not cover them: each <img> now shows the mask, and the page's value
          // is replaced by that masked version, so the image bytes are left nowhere in the page.
          images.forEach((img) => { img.src = mask.src; img.className = 'gq-mask'; });
          trial.removeAttribute('data-mask');
          trial.dataset.masked = '1';
          trial.classList.add('gq-masked');
          quiz.maskedAt = now;
          props.value = trial.outerHTML;
        }
        else requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }
  });
};
watch('value', start);
start();
"""

TRIAL_CSS = """
.gq-frames { display: flex; gap: 10px; justify-content: center; }
.gq-frame { position: relative; flex: 1 1 0; max-width: 560px; line-height: 0; }
.gq-frame img { display: block; width: 100%; height: auto; image-rendering: pixelated; border-radius: 8px;
                user-select: none; -webkit-user-drag: none; }
.gq-timed .gq-image { visibility: hidden; }
.gq-timed.gq-shown .gq-image { visibility: visible; }
"""

# Page-wide style for the answer buttons (large tap targets on a phone), injected by the trial
# view's ``head`` so app.py needs no css for this tab.
PAGE_STYLE = """<style>
#ganlab-quiz-a, #ganlab-quiz-b { min-height: 76px; font-size: 1.35rem; font-weight: 600; }
#ganlab-quiz-trial .html-container { padding: 0; }
@media (hover: none) and (pointer: coarse) { #ganlab-quiz-keys { display: none; } }  /* no keyboard on a phone */
#ganlab-quiz-buttons { flex-wrap: nowrap; gap: 10px; }
#ganlab-quiz-code input { font-size: 1.4rem; letter-spacing: 0.15em; text-transform: uppercase; }
#ganlab-quiz-created-code { font-size: 3rem; font-weight: 700; letter-spacing: 0.2em; }
</style>"""

GALLERY_CSS = """
.gq-gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); gap: 10px; }
.gq-gallery figure { margin: 0; text-align: center; font-size: 0.8rem; line-height: 1.2; }
.gq-gallery img { width: 100%; image-rendering: pixelated; border-radius: 4px; }
"""

# When the page is opened with ?quiz=CODE, or a reload finds an unfinished deck, bring the Quiz
# tab (and its "Take a quiz" view) to the front.
FOCUS_JS = """(focus) => {
  if (!focus) return;
  const click = (name) => {
    // On a narrow screen Gradio moves the tabs that do not fit into an overflow menu, whose items are
    // plain buttons (no role=tab; hidden measuring copies have tabindex=-1): click whichever is there.
    const named = Array.from(document.querySelectorAll('button')).filter((b) => b.innerText.trim() === name);
    const tab = named.find((b) => b.getAttribute('role') === 'tab') || named.find((b) => b.getAttribute('tabindex') !== '-1');
    if (tab && tab.getAttribute('aria-selected') !== 'true') tab.click();
  };
  click('Quiz');
  setTimeout(() => click('Take a quiz'), 50);
}"""

# Runs in the browser just before an answer is sent: adds the browser-side response time.
ANSWER_JS = """(label, number, trialId, confidence, clientMs, saved) => {
  const quiz = window.ganlabQuiz;
  let ms = quiz && quiz.shownAt !== null ? Math.round(performance.now() - quiz.shownAt) : null;
  if (ms !== null && (ms < 0 || ms > 3600000)) ms = null;
  return [label, number, trialId, confidence, ms, saved];
}"""


# ---------------------------------------------------------------------------------------------
# Pure helpers: what a trial and a report look like
# ---------------------------------------------------------------------------------------------
def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def trial_html(trial: ClientTrial) -> str:
    """The images of one trial as HTML with data URLs. Identical in form for real and fake trials:
    the only things that vary are the image bytes (of fixed length) and the trial's position."""
    alts = ["the image to judge"] if trial.mode == "single" else ["left image", "right image"]
    timed = trial.exposure_ms is not None
    frames = "".join(
        f'<div class="gq-frame"><img class="gq-image" src="{data_url(png)}" alt="{alt}" draggable="false"></div>'
        for png, alt in zip(trial.images, alts, strict=True)
    )
    attributes = f'data-mode="{trial.mode}" data-trial="{trial.trial_number}"'
    if timed:
        attributes += f' data-exposure="{int(trial.exposure_ms)}" data-mask="{data_url(trial.mask)}"'
    classes = "gq-trial gq-timed" if timed else "gq-trial"
    return f'<div class="{classes}" {attributes}><div class="gq-frames">{frames}</div></div>'


def progress_text(trial: ClientTrial, practice_trials: int) -> str:
    if trial.practice:
        return f"**Practice {trial.trial_number} of {practice_trials}** · does not count"
    scored = trial.total - practice_trials
    return f"**Trial {trial.trial_number - practice_trials} of {scored}**"


def keys_text(mode: str, ask_confidence: bool) -> str:
    keys = "**R** = Real, **F** = Fake" if mode == "single" else "**←** = left is real, **→** = right is real"
    return f"Keys: {keys}" + (", **1-5** = how sure" if ask_confidence else "") + "."


def feedback_text(mode: str, correct: bool, truth: str, number: int | None = None) -> str:
    what = f"it was {truth}" if mode == "single" else f"the real one was on the {truth}"
    which = f" (trial {number})" if number is not None else ""
    return f"✓ **Right**{which}: {what}." if correct else f"✗ **Not this time**{which}: {what}."


def _pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.{digits}f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}" if value < 0.01 else f"{value:.3f}"


def _rate_row(name: str, rate: Rate | None) -> str:
    if rate is None:
        return ""
    return f"| {name} | {_pct(rate.rate, 1)} ({rate.k} of {rate.n}) | {_pct(rate.low, 1)}–{_pct(rate.high, 1)} |\n"


def _summary_markdown(mode: str, summary: Summary, measurement: bool = True) -> str:
    error = "**HYPE-∞ error** (50% = indistinguishable)" if measurement else "Error in practice (not HYPE-∞)"
    rows = [
        "| measure | value | 95% interval (Wilson, unless noted) |\n|---|---|---|\n",
        _rate_row("Accuracy", summary.accuracy),
        f"| p-value against guessing (exact binomial) | {_p(summary.p_value_vs_chance)} | |\n",
        _rate_row(error, summary.hype_infinity),
        _rate_row("Fake error: fakes judged real", summary.fake_error),
        _rate_row("Real error: reals judged fake", summary.real_error),
    ]
    if summary.class_error_ci is not None:
        low, high = summary.class_error_ci
        rows.append(
            f"| Error, mean over {summary.n_participants} participants | {_pct(summary.class_error_mean, 1)} | "
            f"{_pct(low, 1)}–{_pct(high, 1)} (bootstrap over participants) |\n"
        )
    bias = "c (bias; > 0 leans “real”)" if mode == "single" else "side bias (> 0 leans “right”)"
    rows.append(f"| d′ (sensitivity; 0 = guessing) | {_num(summary.dprime_mean)} | |\n")
    rows.append(f"| {bias} | {_num(summary.criterion_mean)} | |\n")
    if summary.hype_time_mean_ms is not None:
        ci = summary.hype_time_ci
        interval = f"{ci[0]:.0f}–{ci[1]:.0f} ms (bootstrap)" if ci else ""
        mean = summary.hype_time_mean_ms
        rows.append(f"| **HYPE-time** (exposure where people settle) | {mean:.0f} ms | {interval} |\n")
    labels = STORE_CHOICES[mode]
    confusion = [
        "\n**Confusion matrix** (rows: the truth, columns: the answer)\n\n",
        f"| truth \\ answer | {labels[0]} | {labels[1]} |\n|---|---|---|\n",
        *(f"| {t} | {summary.confusion[t][labels[0]]} | {summary.confusion[t][labels[1]]} |\n" for t in labels),
    ]
    fooled = "judged real" if mode == "single" else "picked as the real one"
    sources = [f"\n**Per generator**: fakes {fooled}\n\n| generator | fooled | 95% interval |\n|---|---|---|\n"]
    sources += [_rate_row(f"`{s.source}`", s.fooled) for s in summary.per_source]
    if summary.source_test is not None:
        test = "Fisher's exact test" if summary.source_test.test == "fisher-exact" else "chi-square test"
        p_value = _p(summary.source_test.p_value)
        sources.append(f"\nDo the generators fool people equally often? {test}: p = {p_value}\n")
    return "".join(rows + confusion + sources)


def report_markdown(report: QuizReport) -> str:
    """The owner's results as Markdown tables (the galleries are separate)."""
    s = report.settings
    state = "open" if report.is_open else "**closed**"
    options = [MODES[report.mode], f"{s['deck_size']} trials"]
    if s["practice_trials"]:
        options.append(f"{s['practice_trials']} practice")
    options.append("feedback on" if s["feedback"] else "feedback off")
    if s["timed"]:
        options.append("timed (HYPE-time)")
    if s["ask_confidence"]:
        options.append("confidence ratings")
    if s["qualification"] is not None:
        options.append(f"qualification {_pct(s['qualification'])}")
    parts = [
        f"### {html.escape(report.title)} · code **{report.code}** · {state}\n\n",
        f"{report.n_joined} joined, {report.n_finished} finished · {' · '.join(options)}\n\n",
    ]
    if not report.measurement:
        parts.append("**Practice, not a measurement.** Feedback was on: participants learned after each answer "
                     "whether they were right, so these numbers describe a lesson, not how real the generator's "
                     "images look. Create the quiz with feedback off to measure HYPE.\n\n")
    if report.summary is None:
        parts.append("No scored answers yet. Results appear here as participants answer.\n")
    else:
        parts.append(_summary_markdown(report.mode, report.summary, report.measurement))
        if report.summary_all is not None:
            everyone = report.summary_all
            parts.append(
                f"\n*With everyone, including participants below the qualification threshold:* accuracy "
                f"{_pct(everyone.accuracy.rate, 1)}, HYPE-∞ error {_pct(everyone.hype_infinity.rate, 1)}"
                f" ({everyone.n_trials} trials).\n"
            )
    if report.participants:
        timed = bool(s["timed"])
        head = "| # | nickname | answered | accuracy | d′ | qualified | fast | reloads |"
        rule = "|---|---|---|---|---|---|---|---|"
        if timed:
            head, rule = head + " HYPE-time |", rule + "---|"
        lines = [f"\n**Participants**\n\n{head}\n{rule}\n"]
        for p in report.participants:
            qualified = "–" if p.qualified is None else ("yes" if p.qualified else "**no**")
            done = " ✓" if p.finished else ""
            line = (
                f"| {p.number} | {html.escape(p.nickname)}{done} | {p.answered} | {_pct(p.accuracy)} "
                f"| {_num(p.dprime)} | {qualified} | {p.fast_answers} | {p.reloads} |"
            )
            if timed:
                converged = "" if p.hype_time_converged in (None, True) else " (not settled)"
                line += f" {_num(p.hype_time_ms, 0)} ms{converged} |" if p.hype_time_ms is not None else " – |"
            lines.append(line + "\n")
        parts += lines
    for note in report.notes:
        parts.append(f"\n*Note: {html.escape(note)}.*\n")
    return "".join(parts)


def gallery_html(items: list[tuple[bytes, str]], empty: str) -> str:
    if not items:
        return f"<p>{html.escape(empty)}</p>"
    figures = "".join(
        f'<figure><img src="{data_url(png)}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
        "</figcaption></figure>"
        for png, caption in items
    )
    return f'<div class="gq-gallery">{figures}</div>'


def browser_secret(database_url: str | None = None) -> str:
    """The key that encrypts the participant's token in the browser's localStorage. It must stay
    the same across restarts (or a reload after a restart could not resume), so it is kept in a
    file beside the quiz database (``<db>.browser-secret``), else in the data home (ganlab.paths)."""
    url = database_url or default_database_url()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///") + SECRET_FILE_SUFFIX)
    else:
        path = data_home() / ("quiz" + SECRET_FILE_SUFFIX)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()  # another process wrote it first
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def _saved(value: Any) -> dict[str, str]:
    """The participant record from the browser; anything malformed counts as 'not joined'."""
    if not isinstance(value, dict):
        return dict(NO_PARTICIPANT)
    record = {key: value.get(key) for key in NO_PARTICIPANT}
    if not all(isinstance(v, str) and len(v) <= 200 for v in record.values()):
        return dict(NO_PARTICIPANT)
    return record


def _text(value: Any, name: str, limit: int = 200) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise gr.Error(f"{name} must be text of at most {limit} characters")
    return value.strip()


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise gr.Error(f"{name} must be a whole number; got {value!r}")
    if int(value) != value:
        raise gr.Error(f"{name} must be a whole number; got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------
class QuizTab:
    """The tab's event handlers over one ``QuizStore`` (thread-safe) and one ``PoolCache``."""

    def __init__(self, store: QuizStore, pools: PoolCache, admin: AdminKey | None = None,
                 join_limit: JoinRateLimit | None = None) -> None:
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
        shown = dict(join_panel=gr.update(visible=True), trial_panel=gr.update(visible=False),
                     done_panel=gr.update(visible=False))
        if code is not None:
            shown["code"] = code
        return self._view(saved=saved, status=status, focus="1" if focus else "", **shown)

    def _deck_view(self, saved: dict, info: QuizInfo, feedback: str = "", focus: bool = False,
                   instructions: bool = True) -> list:
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
                score = (f"## You got {progress.correct} of {progress.scored} right "
                         f"({_pct(progress.correct / progress.scored)})\n\n")
            done = f"{feedback}\n\n{score}Thank you, {html.escape(progress.nickname)}! Your answers are saved."
            return self._view(
                saved=saved, join_panel=gr.update(visible=False), trial_panel=gr.update(visible=False),
                done_panel=gr.update(visible=True), status="", info=info_text, header="", trial_number=None,
                trial_id="", done=done, focus="",
            )
        label_a, label_b = ANSWER_LABELS[trial.mode]
        header = progress_text(trial, info.practice_trials)
        if feedback:
            header = f"{feedback}\n\n{header}"
        return self._view(
            saved=saved, join_panel=gr.update(visible=False), trial_panel=gr.update(visible=True),
            done_panel=gr.update(visible=False), status="", info=info_text, header=header, trial=trial_html(trial),
            trial_number=trial.trial_number, trial_id=trial.trial_id,
            confidence=gr.update(visible=info.ask_confidence, value=None),
            answer_a=gr.update(value=label_a), answer_b=gr.update(value=label_b),
            keys=keys_text(trial.mode, info.ask_confidence), focus="1" if focus else "",
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
                return self._join_view(saved, f"**{html.escape(str(error))}**", code=saved["code"],
                                       focus=asked is not None)
        return self._join_view(saved, "", code=asked or gr.skip(), focus=asked is not None)

    def answer(self, label: Any, trial_number: Any, trial_id: Any, confidence: Any, client_ms: Any,
               saved: Any) -> list:
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
        note = "" if names else (
            "No generator checkpoint can be quizzed yet: train an image GAN on MNIST or Fashion-MNIST "
            "(Train tab) and save it; it appears here as saved/<name>."
        )
        return [gr.update(choices=names, value=chosen), note]

    def create(self, title: Any, checkpoints: Any, deck_size: Any, mode: Any, timed: Any, feedback: Any,
               practice: Any, qualification: Any, confidence: Any, admin_key: Any = None,
               max_participants: Any = DEFAULT_MAX_PARTICIPANTS, request: gr.Request | None = None) -> list:
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
            title=_text(title, "The title", 500), mode=mode, feedback=feedback, timed=timed, ask_confidence=confidence,
            deck_size=int(deck_size) if isinstance(deck_size, float) and deck_size.is_integer() else deck_size,
            practice_trials=int(practice) if isinstance(practice, float) and practice.is_integer() else practice,
            qualification=qualification, max_participants=max_participants,
        )
        generators = quiz_generators()
        unknown = [c for c in checkpoints if c not in generators]
        try:
            settings.validate()  # before any image is sampled
            if unknown:
                raise QuizError(f"No generator checkpoint named {', '.join(map(repr, unknown))} can be quizzed; "
                                "refresh the list.")
            reals = 2 * (settings.deck_size + settings.practice_trials)
            pools = self.pools.prepare([generators[c] for c in dict.fromkeys(checkpoints)], reals=reals)
            created = self.store.create_quiz(sources=list(pools.fakes.values()), real_pool=pools.real,
                                             settings=settings)
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
            code, key, exclude_unqualified=False if include_unqualified is True else None,
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
        full = self.store.owner_image(code, key, pool, index)
        image = Image.open(io.BytesIO(full))
        image = image.resize((THUMBNAIL, THUMBNAIL * image.height // image.width), Image.NEAREST)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        with self._thumbnail_lock:
            self._thumbnails[cache_key] = buffer.getvalue()
            while len(self._thumbnails) > 500:
                self._thumbnails.popitem(last=False)
        return buffer.getvalue()

    def _galleries(self, code: str, key: str, report: QuizReport) -> tuple[str, str]:
        if report.summary is None:
            return gallery_html([], "No answers yet."), gallery_html([], "No answers yet.")
        several = len(report.settings["sources"]) > 1  # then say which generator made each fake
        deceptive = [
            (self._thumbnail(report.code, key, im.pool, im.index),
             f"judged real {im.wrong} of {im.n}" + (f" · {im.pool}" if several else ""))
            for im in report.summary.most_deceptive
        ]
        doubted = [
            (self._thumbnail(report.code, key, im.pool, im.index), f"judged fake {im.wrong} of {im.n}")
            for im in report.summary.most_doubted
        ]
        return (gallery_html(deceptive, "No fake has fooled anyone yet."),
                gallery_html(doubted, "No real image has been doubted yet."))

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
        return [gr.update(visible=True), report_markdown(report), deceptive, doubted,
                gr.Timer(active=live is True), signature]

    def refresh(self, code: Any, key: Any, exclude_fast: Any, include_unqualified: Any, live: Any,
                signature: Any) -> list:
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
        return (f"New resume key for **{html.escape(nickname)}**: `{token}`\n\nThey enter it under "
                "*Continue on another device* with the code and their nickname. Their old key no longer works.")


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------
def participant_state(secret: str) -> gr.BrowserState:
    """The participant record kept in the browser, placed at the top level of the page.

    Gradio mounts a tab's components only when the tab is first shown, and a gr.BrowserState reads
    localStorage when it mounts. Inside the Quiz tab, the page-load handler would see the default
    after a reload (unless the Quiz tab happened to be open) and could not resume the deck, so the
    state is rendered into the page's root instead (it has no DOM and does not affect the layout).
    """
    here = get_render_context()
    root = Context.root_block
    if root is not None and here is not root:
        set_render_context(root)
    try:
        return gr.BrowserState(dict(NO_PARTICIPANT), storage_key=BROWSER_STORAGE_KEY, secret=secret)
    finally:
        set_render_context(here)


def build_quiz_tab(store: QuizStore | None = None, pools: PoolCache | None = None,
                   admin: AdminKey | None = None) -> QuizTab | None:
    """Lay out the Quiz tab inside the current ``gr.Tab`` and wire its events. ``admin``: the server's
    admin key, asked for when creating a quiz where the app listens beyond loopback."""
    pools = pools if pools is not None else PoolCache()
    try:
        store = store if store is not None else QuizStore(default_database_url(), pools.registry())
        secret = browser_secret()
    except (QuizError, OSError) as error:
        gr.Markdown(f"The quiz is unavailable: its database could not be opened ({error}). "
                    "Set GANLAB_QUIZ_DB to a writable file.")
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
                nickname = gr.Textbox(label="Nickname", placeholder="2-24 letters or digits", max_lines=1,
                                      elem_id="ganlab-quiz-nickname")
                with gr.Accordion("Continue on another device", open=False):
                    resume_key = gr.Textbox(label="Resume key (from the person running the quiz)", max_lines=1,
                                            elem_id="ganlab-quiz-resume-key")
                join_button = gr.Button("Join", variant="primary", size="lg", elem_id="ganlab-quiz-join")
                status = gr.Markdown(elem_id="ganlab-quiz-status")
            with gr.Column(visible=False) as trial_panel:
                info = gr.Markdown(elem_id="ganlab-quiz-info")
                header = gr.Markdown(elem_id="ganlab-quiz-header")
                trial = gr.HTML("", js_on_load=TRIAL_JS, css_template=TRIAL_CSS, head=PAGE_STYLE,
                                elem_id="ganlab-quiz-trial", padding=False)
                confidence = gr.Radio(
                    [("1 guessing", 1), ("2", 2), ("3", 3), ("4", 4), ("5 certain", 5)],
                    label="How sure are you?", visible=False, elem_id="ganlab-quiz-confidence",
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
                    checkpoints = gr.Dropdown(names, value=[preferred_generator(names)] if names else [], multiselect=True,
                                              allow_custom_value=True,
                                              label="Generator checkpoints (the fakes)",
                                              elem_id="ganlab-quiz-checkpoints", scale=3)
                    refresh_button = gr.Button("↻", scale=0, min_width=50)
                checkpoints_note = gr.Markdown()
                title = gr.Textbox(label="Title (optional)", max_lines=1, elem_id="ganlab-quiz-title")
                with gr.Row():
                    deck_size = gr.Radio(list(DECK_SIZES), value=20, label="Trials per participant",
                                         elem_id="ganlab-quiz-deck-size")
                    mode = gr.Radio([(label, key) for key, label in MODES.items()], value="single", label="Mode",
                                    elem_id="ganlab-quiz-mode")
                with gr.Row():
                    practice = gr.Slider(0, 20, value=4, step=1, label="Practice trials (do not count; "
                                         "always show feedback)", elem_id="ganlab-quiz-practice")
                    qualification = gr.Slider(0, 1, value=0, step=0.05, label="Qualification threshold "
                                              "(0 = off; HYPE uses 0.65)", elem_id="ganlab-quiz-qualification")
                with gr.Row():
                    feedback = gr.Checkbox(False, label="Feedback after each answer (teaching)",
                                           elem_id="ganlab-quiz-feedback")
                    timed = gr.Checkbox(False, label="Timed: flash each image (HYPE-time)",
                                        elem_id="ganlab-quiz-timed")
                    ask_confidence = gr.Checkbox(False, label="Ask how sure (1-5)",
                                                 elem_id="ganlab-quiz-ask-confidence")
                with gr.Row():
                    max_participants = gr.Number(DEFAULT_MAX_PARTICIPANTS, label="Most participants", precision=0,
                                                 minimum=1, elem_id="ganlab-quiz-max-participants")
                    admin_key = gr.Textbox(label="Admin key" + ("" if tab.admin.required else " (not needed here)"),
                                           type="password", max_lines=1, visible=tab.admin.required,
                                           elem_id="ganlab-quiz-admin-key")
                create_button = gr.Button("Create quiz", variant="primary", elem_id="ganlab-quiz-create")
                with gr.Column(visible=False) as created_panel:
                    created = gr.Markdown(elem_id="ganlab-quiz-created")
                    owner_key_shown = gr.Textbox(label="Owner key: shown once, keep it", interactive=False,
                                                 buttons=["copy"], elem_id="ganlab-quiz-owner-key")
            gr.Markdown("### Results")
            with gr.Row():
                results_code = gr.Textbox(label="Quiz code", max_lines=1, elem_id="ganlab-quiz-results-code")
                results_key = gr.Textbox(label="Owner key", type="password", max_lines=1,
                                         elem_id="ganlab-quiz-results-key")
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
                    exports = gr.File(label="Exports", file_count="multiple", interactive=False,
                                      elem_id="ganlab-quiz-exports")
                owner_status = gr.Markdown(elem_id="ganlab-quiz-owner-status")
                with gr.Accordion("A participant lost their browser", open=False):
                    reissue_nickname = gr.Textbox(label="Their nickname", max_lines=1)
                    reissue_button = gr.Button("Make a new resume key")
                    reissue_text = gr.Markdown()
            timer = gr.Timer(LIVE_SECONDS, active=False)
            signature = gr.State("")

    named = dict(saved=saved, join_panel=join_panel, trial_panel=trial_panel, done_panel=done_panel, status=status,
                 info=info, header=header, trial=trial, trial_number=trial_number, trial_id=trial_id,
                 confidence=confidence, answer_a=answer_a, answer_b=answer_b, keys=keys, done=done, code=code,
                 focus=focus)
    participant_outputs = [named[name] for name in PARTICIPANT_VIEW]

    # -- participant events --------------------------------------------------------------------
    gr.on([join_button.click, nickname.submit], tab.join, [code, nickname, resume_key, saved],
          participant_outputs, api_name="quiz_join", show_progress="minimal", **HIDDEN)
    answer_inputs = [trial_number, trial_id, confidence, client_ms, saved]
    answer_a.click(tab.answer, [answer_a, *answer_inputs], participant_outputs, js=ANSWER_JS,
                   api_name="quiz_answer", show_progress="hidden", **HIDDEN)
    answer_b.click(tab.answer, [answer_b, *answer_inputs], participant_outputs, js=ANSWER_JS,
                   api_name="quiz_answer_b", show_progress="hidden", **HIDDEN)
    leave_button.click(tab.leave, None, participant_outputs, api_name="quiz_leave", **HIDDEN)
    root = Context.root_block
    if root is not None:
        root.load(tab.resume, [saved], participant_outputs, api_name="quiz_resume", **HIDDEN).then(
            None, [focus], None, js=FOCUS_JS)

    # -- owner events --------------------------------------------------------------------------
    choices_outputs = [checkpoints, checkpoints_note]
    refresh_button.click(tab.checkpoint_choices, [checkpoints], choices_outputs, api_name="quiz_checkpoints",
                         **HIDDEN)
    run_tab.select(tab.checkpoint_choices, [checkpoints], choices_outputs, **INTERNAL)
    if outer_tab is not None:
        outer_tab.select(tab.checkpoint_choices, [checkpoints], choices_outputs, **INTERNAL)
    create_button.click(
        tab.create,
        [title, checkpoints, deck_size, mode, timed, feedback, practice, qualification, ask_confidence, admin_key,
         max_participants],
        [created_panel, created, owner_key_shown, results_code, results_key],
        api_name="quiz_create", api_visibility="undocumented",
        concurrency_limit=1, concurrency_id="ganlab-quiz-pools",  # sampling 2,000 images: one at a time
    )
    result_inputs = [results_code, results_key, exclude_fast, include_unqualified, live]
    result_outputs = [results_panel, results_text, deceptive, doubted, timer, signature]
    results_button.click(tab.results, result_inputs, result_outputs, api_name="quiz_results", **HIDDEN)
    for option in (exclude_fast, include_unqualified):
        option.input(tab.results, result_inputs, result_outputs, **INTERNAL)
    live.input(lambda on: gr.Timer(active=on is True), [live], [timer], **INTERNAL)
    timer.tick(tab.refresh, [*result_inputs, signature], [results_panel, results_text, deceptive, doubted, timer,
                                                          signature], **INTERNAL)
    export_button.click(tab.export, [results_code, results_key], [exports], api_name="quiz_export", **HIDDEN).success(
        lambda: gr.Column(visible=True), None, [exports_box], **INTERNAL)
    close_button.click(lambda c, k: tab.set_open(c, k, False), [results_code, results_key], [owner_status],
                       api_name="quiz_close", **HIDDEN).success(
        tab.results, result_inputs, result_outputs, **INTERNAL)
    reopen_button.click(lambda c, k: tab.set_open(c, k, True), [results_code, results_key], [owner_status],
                        api_name="quiz_reopen", **HIDDEN).success(
        tab.results, result_inputs, result_outputs, **INTERNAL)
    reissue_button.click(tab.reissue, [results_code, results_key, reissue_nickname], [reissue_text],
                         api_name="quiz_reissue", **HIDDEN)
    return tab

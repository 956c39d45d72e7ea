"""What the Quiz tab shows: the trial view's script and styles, and the HTML/Markdown it renders.

Pure functions and constants, no Gradio state; ``ganlab.ui.quiz`` wires them into the tab.
"""

from __future__ import annotations

import base64
import html
import io
import math

from PIL import Image

from ganlab.quiz import ClientTrial, QuizReport
from ganlab.quiz.report import Rate, Summary

THUMBNAIL = 112  # pixels; the owner's galleries
DECK_SIZES = (20, 50, 100)
MODES = {"single": "One image: real or fake?", "pair": "Two images: which one is real?"}
ANSWER_LABELS = {"single": ("Real", "Fake"), "pair": ("Left is real", "Right is real")}
STORE_CHOICES = {"single": ("real", "fake"), "pair": ("left", "right")}
# What an answer button (or an API caller) may send, mapped to the store's answer.
CHOICE_OF_TEXT = {
    text.lower(): choice
    for mode, labels in ANSWER_LABELS.items()
    for text, choice in [
        *zip(labels, STORE_CHOICES[mode], strict=True),
        *zip(STORE_CHOICES[mode], STORE_CHOICES[mode], strict=True),
    ]
}

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
        parts.append(
            "**Practice, not a measurement.** Feedback was on: participants learned after each answer "
            "whether they were right, so these numbers describe a lesson, not how real the generator's "
            "images look. Create the quiz with feedback off to measure HYPE.\n\n"
        )
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


def thumbnail_png(full: bytes) -> bytes:
    """A small compressed PNG of one quiz image, for the owner's galleries."""
    image = Image.open(io.BytesIO(full))
    image = image.resize((THUMBNAIL, THUMBNAIL * image.height // image.width), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()

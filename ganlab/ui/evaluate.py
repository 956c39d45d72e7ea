"""The Evaluate tab: every metric of a generator next to the same metric for real data.

UI wiring only: ``ganlab.metrics.evaluate.evaluate_checkpoint`` does the work. It takes from
seconds to minutes, so it runs under the app's shared "heavy work" concurrency id with a limit of
one: two evaluations (or an evaluation and other heavy jobs on that id) never fight for the CPU.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import pandas as pd
from gradio.context import Context

from ganlab.checkpoints import CheckpointError
from ganlab.owners import SessionOwners
from ganlab.ui.explore import image_generator_names, refresh_choices, resolve_generator

if TYPE_CHECKING:
    from ganlab.metrics.evaluate import EvaluationReport

HEAVY_CONCURRENCY_ID = "ganlab-heavy"  # shared with other long CPU jobs of the app
COLUMNS = ["metric", "generated", "real reference", "n", "warning"]

INTRO = """\
Sample **N** images from a generator and score them against held-out real images. Each metric is
shown next to its **real reference**: held-out real images scored against as many training
images, i.e. what a perfect generator would get at the same N. Compare the two columns, not the
number with zero. Image features come from the small domain classifier shipped for each dataset.
"""


def report_table(report: EvaluationReport) -> pd.DataFrame:
    """The report's rows as a table: metric (with ↑/↓), generated, real reference, n, warning."""
    rows = []
    for row in report.rows:
        first = row.generated or row.reference
        arrow = {True: " ↑", False: " ↓"}.get(row.higher_is_better, "")
        warnings = [w for w in (getattr(row.generated, "warning", None), getattr(row.reference, "warning", None)) if w]
        rows.append(
            [
                row.metric + arrow,
                row.generated.format_value() if row.generated else "-",
                row.reference.format_value() if row.reference else "-",
                f"{first.n:,}" if first is not None else "-",
                "; ".join(dict.fromkeys(warnings)),
            ]
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "checkpoint"


class EvaluateHandlers:
    """The tab's event handlers: each browser picks from the shipped generators, its own saved runs
    ("mine/<name>", never another person's) and the ones published to the class."""

    def __init__(self, owners: SessionOwners | None = None) -> None:
        self.owners = owners or SessionOwners()

    def _owner(self, request: gr.Request | None) -> str | None:
        return self.owners.owner_of(request.session_hash) if request is not None and request.session_hash else None

    def refresh(self, current: str | None, request: gr.Request = None) -> dict:
        return refresh_choices(current, self._owner(request))

    def run(
        self,
        name: str | None,
        n: float,
        seed: float | None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's idiom)
    ) -> tuple[pd.DataFrame, str, Any]:
        """Evaluate a listed generator; returns the table, notes (markdown) and the JSON report file."""
        folder = resolve_generator(name, self._owner(request))  # only names from this person's list
        n = int(n)
        if n < 10:
            raise gr.Error(f"N must be at least 10 samples; got {n}.")
        from ganlab.metrics.evaluate import evaluate_checkpoint

        progress(0, desc="starting")
        try:
            report = evaluate_checkpoint(
                folder, n=n, seed=int(seed or 0), progress=lambda fraction, message: progress(fraction, desc=message)
            )
        except (CheckpointError, ValueError, OSError) as error:
            raise gr.Error(f"Cannot evaluate {name}: {error}") from None
        title = report.title.replace(str(folder), name)  # the name people picked, not a server path
        notes = [f"**{title}**"] + [f"- {note}" for note in report.notes]
        folder = Path(tempfile.mkdtemp(prefix="ganlab-evaluation-"))
        path = folder / f"evaluation-{_safe_name(name)}-n{report.n}-seed{int(seed or 0)}.json"
        path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        return report_table(report), "\n".join(notes), gr.update(value=str(path), visible=True)


def build_evaluate_tab(owners: SessionOwners | None = None) -> EvaluateHandlers:
    """Build the tab's components and events inside the current Blocks context (a gr.Tab)."""
    handlers = EvaluateHandlers(owners)
    tab = Context.block if isinstance(Context.block, gr.Tab) else None  # to refresh the list on select
    gr.Markdown(INTRO)
    with gr.Row():
        checkpoint = gr.Dropdown(
            choices=image_generator_names(),
            value=None,
            label="Generator checkpoint",
            allow_custom_value=True,
            scale=4,
            elem_id="evaluate-checkpoint",
        )
        refresh_button = gr.Button("↻ Refresh list", scale=0, min_width=150, elem_id="evaluate-refresh")
    with gr.Row():
        n = gr.Slider(
            10,
            10000,
            value=2000,
            step=10,
            label="N generated images (and as many real ones)",
            info="capped at the size of the held-out set",
            scale=3,
            elem_id="evaluate-n",
        )
        seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", scale=1, elem_id="evaluate-seed")
        run = gr.Button("Evaluate", variant="primary", scale=1, elem_id="evaluate-run")
    table = gr.Dataframe(
        headers=COLUMNS,
        interactive=False,
        wrap=True,
        label="Generated vs real reference",
        column_widths=["24%", "17%", "17%", "7%", "35%"],
        max_height=700,
        elem_id="evaluate-table",
    )
    notes = gr.Markdown(elem_id="evaluate-notes")
    download = gr.DownloadButton("Download the report (JSON)", visible=False, elem_id="evaluate-download")

    gr.on(
        [refresh_button.click] + ([tab.select] if tab is not None else []),
        handlers.refresh,
        inputs=checkpoint,
        outputs=checkpoint,
        api_name="evaluate_refresh",
        concurrency_limit=None,
    )
    run.click(
        handlers.run,
        inputs=[checkpoint, n, seed],
        outputs=[table, notes, download],
        api_name="evaluate_run",
        concurrency_id=HEAVY_CONCURRENCY_ID,
        concurrency_limit=1,
    )
    return handlers

"""The Evaluate tab through its API: a small-N evaluation of a generator saved like the Train tab does.

When the shipped MNIST classifier is not there (a fresh checkout before training it), the app's
evaluation is given a small untrained classifier instead: the numbers are meaningless but the
tab's wiring (progress, table, JSON report) is tested all the same. The app runs in this process,
so patching the metrics module reaches it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from ganlab.checkpoints import SHIPPED_DIR, save_model
from ganlab.models import Generator, GeneratorConfig

evaluate_module = pytest.importorskip("ganlab.metrics.evaluate", reason="the metrics module is not written yet")


@pytest.fixture
def classifier_available(monkeypatch):
    if (SHIPPED_DIR / "mnist-classifier" / "config.json").is_file():
        return "shipped"
    if not hasattr(evaluate_module, "load_classifier"):
        pytest.skip("no shipped mnist-classifier, and ganlab.metrics.evaluate has no load_classifier to stand in for")
    from ganlab.metrics.classifier import Classifier, ClassifierConfig

    torch.manual_seed(0)
    stand_in = Classifier(ClassifierConfig(widths=(4, 8), feature_dim=8)).eval()
    monkeypatch.setattr(evaluate_module, "load_classifier", lambda name: stand_in)
    return "stand-in"


@pytest.fixture(scope="module")
def generator_name(app_url):
    torch.manual_seed(0)
    config = GeneratorConfig(arch="dcgan", data_shape=(1, 28, 28), noise_dim=16, width=8)
    save_model(
        Generator(config).eval(), Path(os.environ["GANLAB_CHECKPOINTS"]) / "eval-dcgan", metadata={"dataset": "mnist", "steps": 1}
    )
    return "saved/eval-dcgan"


def test_small_evaluation_shows_generated_next_to_real_reference_and_a_json_report(client, generator_name, classifier_available):
    refreshed = client.predict(None, api_name="/evaluate_refresh")
    assert generator_name in [choice[0] for choice in refreshed["choices"]]

    table, notes, download = client.predict(generator_name, 60, 0, api_name="/evaluate_run")
    assert table["headers"] == ["metric", "generated", "real reference", "n", "warning"]
    rows = {row[0].rstrip(" ↑↓"): row for row in table["data"]}
    assert "FID" in rows and "precision" in rows
    fid = rows["FID"]
    assert float(fid[1].split()[0]) > 0 and float(fid[2].split()[0]) >= 0 and fid[3] == "60"
    assert generator_name in notes and "N = 60" in notes

    assert download["visible"] is True  # the download button appears with the report
    report = json.loads(Path(download["value"]).read_text())
    assert report["n"] == 60 and report["dataset"] == "mnist"
    assert [row["metric"] for row in report["rows"]] == [row[0].rstrip(" ↑↓") for row in table["data"]]


def test_evaluation_errors_are_clear(client, generator_name):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="No generator named"):
        client.predict("saved/not-there", 60, 0, api_name="/evaluate_run")
    with pytest.raises(AppError, match="Pick a generator"):
        client.predict(None, 60, 0, api_name="/evaluate_run")


def test_a_person_evaluates_their_own_saved_run_and_nobody_else_sees_it():
    import gradio as gr

    from ganlab.owners import SessionOwners, private_dir
    from ganlab.ui.evaluate import EvaluateHandlers

    owners = SessionOwners()
    owners.bind("session-a", "browser-token-a")
    owners.bind("session-b", "browser-token-b")
    handlers = EvaluateHandlers(owners)
    a, b = (type("Request", (), {"session_hash": name})() for name in ("session-a", "session-b"))
    config = GeneratorConfig(arch="dcgan", data_shape=(1, 28, 28), noise_dim=16, width=8)
    save_model(Generator(config).eval(), private_dir(owners.owner_of("session-a")) / "own-eval", metadata={"dataset": "mnist"})

    def names(update: dict) -> list[str]:
        return [choice[0] if isinstance(choice, (list, tuple)) else choice for choice in update["choices"]]

    assert "mine/own-eval" in names(handlers.refresh(None, a))
    assert not any("own-eval" in name for name in names(handlers.refresh(None, b)))
    with pytest.raises(gr.Error, match="No generator named 'mine/own-eval'"):
        handlers.run("mine/own-eval", 60, 0, b)

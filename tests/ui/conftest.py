"""Fixtures for app tests: the app launched on loopback, a gradio_client, a real Chromium page.

Browser tests use Debian's Chromium (``apt-get install chromium``) through Python Playwright; they
are skipped, with the reason, where that browser is not installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    os.environ["GANLAB_CHECKPOINTS"] = str(tmp_path_factory.mktemp("saved-checkpoints"))
    os.environ["GANLAB_QUIZ_DB"] = str(tmp_path_factory.mktemp("quiz") / "quiz.sqlite")
    os.environ["GANLAB_QUIZ_POOLS"] = str(tmp_path_factory.mktemp("quiz-pools"))
    os.environ.setdefault("NO_PROXY", "localhost,127.0.0.1")
    # Every test client comes from 127.0.0.1: one address, many people. The per-client limit is tested on its own.
    os.environ["GANLAB_MAX_RUNS_PER_CLIENT"] = "1000"
    from ganlab.ui.app import launch

    _, url, _ = launch(prevent_thread_lock=True, server_port=None, quiet=True)
    yield url.rstrip("/")
    import gradio as gr

    gr.close_all()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    client = Client(app_url, analytics_enabled=False, verbose=False)
    yield client
    client.close()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#ganlab-header")
    yield page
    context.close()


def save_random_generator(
    name: str,
    *,
    seed: int = 0,
    classes: int = 0,
    noise_dim: int = 16,
    dataset: str = "mnist",
    root: str | Path | None = None,
    clusters: bool = False,
) -> str:
    """A small random DCGAN saved where the Train tab saves (``GANLAB_CHECKPOINTS``, or ``root``);
    returns the name the app lists it under. ``clusters``: the classes are unsupervised clusters."""
    import torch

    from ganlab.checkpoints import save_model
    from ganlab.models import Generator, GeneratorConfig

    torch.manual_seed(seed)
    names = [f"cluster {i + 1}" if clusters else str(i) for i in range(classes)]
    config = GeneratorConfig(
        arch="dcgan",
        data_shape=(1, 28, 28),
        noise_dim=noise_dim,
        width=8,
        num_classes=classes,
        class_names=names,
        cluster_prior=[1 / classes] * classes if clusters else [],
    )
    folder = Path(root if root is not None else os.environ["GANLAB_CHECKPOINTS"]) / name
    save_model(Generator(config).eval(), folder, metadata={"dataset": dataset, "steps": 1})
    return f"saved/{name}"


@pytest.fixture(scope="session")
def save_generator():
    """``save_generator(name, seed=..., classes=..., ...)``: see save_random_generator."""
    return save_random_generator

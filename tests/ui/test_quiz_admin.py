"""Creating a quiz needs the server's admin key off loopback; joins are limited per address."""

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from ganlab.admin import AdminKey
from ganlab.quiz import ImagePool, QuizImages, QuizStore
from ganlab.quiz.limits import JoinRateLimit
from ganlab.quiz.pools import PoolCache
from ganlab.ui.quiz import NO_PARTICIPANT, QuizTab


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    images = QuizImages(
        [
            ImagePool("real", True, rng.integers(0, 256, (40, 8, 8), dtype=np.uint8)),
            ImagePool("gen", False, rng.integers(0, 256, (40, 8, 8), dtype=np.uint8)),
        ]
    )
    with QuizStore(tmp_path / "quiz.sqlite", images) as s:
        yield s


def test_creating_a_quiz_off_loopback_needs_the_admin_key(store, tmp_path):
    tab = QuizTab(store, PoolCache(tmp_path / "pools"), AdminKey("s3cret", listening_on="0.0.0.0"))
    for wrong in (None, "", "guess"):
        with pytest.raises(gr.Error, match="admin key"):
            tab.creator.create("t", ["mnist-dcgan"], 20, "single", False, False, 0, 0.0, False, wrong, 300)
    # With the key the request gets past the check (and on to the settings, refused here).
    with pytest.raises(gr.Error, match="deck_size must be"):
        tab.creator.create("t", ["mnist-dcgan"], 1, "single", False, False, 0, 0.0, False, "s3cret", 300)


def test_joins_are_limited_per_address(store, tmp_path):
    tab = QuizTab(store, PoolCache(tmp_path / "pools"), join_limit=JoinRateLimit(burst=2, per_minute=1))
    code = store.create_quiz(sources="gen", deck_size=4, display_size=28).code
    here = SimpleNamespace(client=SimpleNamespace(host="10.1.2.3"), query_params={})
    there = SimpleNamespace(client=SimpleNamespace(host="10.9.9.9"), query_params={})
    tab.participant.join(code, "Ada", "", dict(NO_PARTICIPANT), here)
    tab.participant.join(code, "Bob", "", dict(NO_PARTICIPANT), here)
    with pytest.raises(gr.Error, match="too many joins"):
        tab.participant.join(code, "Cy", "", dict(NO_PARTICIPANT), here)
    tab.participant.join(code, "Cy", "", dict(NO_PARTICIPANT), there)

"""Nothing a participant's browser receives may tell a real image from a fake one.

The pools are chosen to make leaks likely: real images are noise (incompressible) and fakes
are smooth (very compressible), so any content-dependent encoding would show in byte sizes.
"""

import dataclasses
import io
import json
import statistics
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image
from scipy import stats as scipy_stats
from sqlalchemy import event

import ganlab.quiz.serving as store_module
from ganlab.quiz import ClientTrial, ImagePool, QuizImages, QuizStore
from ganlab.quiz.images import render_png

REAL, FAKE_A, FAKE_B = "mnist-heldout", "dcgan-epoch5", "wgan-epoch40"
FORBIDDEN = ("real", "fake", "source", "checkpoint", "truth", REAL, FAKE_A, FAKE_B, "heldout", "dcgan", "wgan")
# (pool shape, quiz settings): a plain deck with practice, pairs, timed trials with masks, colour images.
LEAK_CASES = [
    ((28, 28), {"deck_size": 40, "practice_trials": 2}),
    ((28, 28), {"deck_size": 20, "mode": "pair"}),
    ((28, 28), {"deck_size": 20, "timed": True}),
    ((16, 16, 3), {"deck_size": 10}),
]
ALLOWED_FIELDS = {"trial_id", "trial_number", "total", "practice", "mode", "images", "exposure_ms", "mask"}


def pools(shape: tuple[int, ...], n: int = 120) -> QuizImages:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    ramp = np.linspace(0, 255, shape[1], dtype=np.uint8)
    smooth = np.broadcast_to(ramp[None, None, :, None] if len(shape) == 3 else ramp[None, None, :], (n, *shape))
    smooth = np.ascontiguousarray(smooth)
    smooth[:, : shape[0] // 2] = 0  # large flat areas compress extremely well
    return QuizImages([ImagePool(REAL, True, noise), ImagePool(FAKE_A, False, smooth), ImagePool(FAKE_B, False, smooth // 2)])


def png_chunks(data: bytes) -> list[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks.append(kind.decode("ascii"))
        offset += 12 + length
    return chunks


def collect(tmp_path, shape, **settings):
    """Play several participants through a quiz; return (client trial, truth row) pairs."""
    store = QuizStore(tmp_path / "quiz.sqlite", pools(shape))
    created = store.create_quiz(sources=[FAKE_A, FAKE_B], **settings)
    seen, receipts = [], []
    rng = np.random.default_rng(1)
    choices = store.quiz_info(created.code).choices
    for person in range(3):
        token = store.join(created.code, f"person{person}").token
        while (trial := store.render_trial(token)) is not None:
            seen.append((f"person{person}", trial))
            receipts.append(store.answer(token, trial.trial_number, choices[rng.integers(2)]))
    rows = {(r["nickname"], r["trial_number"]): r for r in json.loads(store.export_json(created.code, created.owner_key))}
    store.close()
    return [(trial, rows[(name, trial.trial_number)]) for name, trial in seen], receipts


def is_fake_shown(row) -> bool:
    return row["truth"] == "fake"


@pytest.mark.parametrize("shape,settings", LEAK_CASES)
def test_client_trials_carry_no_signal(tmp_path, shape, settings):
    assert {f.name for f in dataclasses.fields(ClientTrial)} == ALLOWED_FIELDS
    pairs, receipts = collect(tmp_path, shape, **settings)
    images = [image for trial, _ in pairs for image in trial.images]
    masks = [trial.mask for trial, _ in pairs if trial.mask is not None]

    # 1. Every image (and mask) has exactly the same byte length.
    assert len({len(b) for b in images + masks}) == 1

    # 2. Only critical PNG chunks: no text, time, gamma, colour profile, physical size...
    for data in images + masks:
        chunks = png_chunks(data)
        assert chunks[0] == "IHDR" and chunks[-1] == "IEND"
        assert set(chunks) == {"IHDR", "IDAT", "IEND"}

    # 3. Same size and mode for every image.
    decoded = {(Image.open(io.BytesIO(d)).size, Image.open(io.BytesIO(d)).mode) for d in images + masks}
    assert len(decoded) == 1
    assert decoded.pop()[0] == (280, 280)

    # 4. No text field names the truth, a pool or an image id.
    ids = {f"{r['image_a']}" for _, r in pairs} | {f"{r['image_b']}" for _, r in pairs if r["image_b"]}
    for trial, _ in pairs:
        for field in dataclasses.fields(trial):
            value = getattr(trial, field.name)
            if isinstance(value, (bytes, tuple)) or field.name == "trial_id":
                continue
            text = str(value).lower()
            assert not any(word in text for word in FORBIDDEN), (field.name, value)
            assert not any(image_id in text for image_id in ids)
        assert trial.trial_id not in ids and not any(name in trial.trial_id for name in (REAL, FAKE_A, FAKE_B))
    for receipt in receipts:
        assert receipt.feedback is None or receipt.feedback.truth  # feedback only where the quiz gives it

    # 5. Trial ids are random tokens: unique, same form, unrelated to truth.
    trial_ids = [trial.trial_id for trial, _ in pairs]
    assert len(set(trial_ids)) == len(trial_ids) and len({len(t) for t in trial_ids}) == 1
    if settings.get("mode", "single") == "single":
        numeric = [int.from_bytes(t.encode(), "big") % 1_000_003 for t in trial_ids]
        fake = [v for v, (_, row) in zip(numeric, pairs, strict=True) if is_fake_shown(row)]
        real = [v for v, (_, row) in zip(numeric, pairs, strict=True) if not is_fake_shown(row)]
        assert scipy_stats.mannwhitneyu(fake, real).pvalue > 1e-4

    # 6. Other fields do not differ between real and fake trials of the same position kind.
    if settings.get("mode", "single") == "single" and not settings.get("timed"):
        for field in ("total", "mode", "exposure_ms", "mask"):
            values = {(getattr(t, field), is_fake_shown(r)) for t, r in pairs}
            assert {v for v, fake in values if fake} == {v for v, fake in values if not fake}


def test_serving_does_the_same_work_for_real_and_fake(tmp_path, monkeypatch):
    store = QuizStore(tmp_path / "quiz.sqlite", pools((28, 28)))
    created = store.create_quiz(sources=[FAKE_A], deck_size=120)
    statements = []
    event.listen(store._engine, "before_cursor_execute", lambda *args: statements.append(args[2].split()[0]))
    renders = []
    original = store_module.render_png
    monkeypatch.setattr(store_module, "render_png", lambda *a, **k: renders.append(1) or original(*a, **k))

    token = store.join(created.code, "timer").token
    store.render_trial(token)  # warm-up: the first use checks the pools
    store.answer(token, 1, "real")
    served = []
    for _ in range(119):
        statements.clear()
        renders.clear()
        began = time.perf_counter()
        trial = store.render_trial(token)
        elapsed = time.perf_counter() - began
        served.append((trial.trial_number, tuple(statements), len(renders), elapsed))
        store.answer(token, trial.trial_number, "real")
    rows = json.loads(store.export_json(created.code, created.owner_key))
    truth = {r["trial_number"]: r["truth"] == "fake" for r in rows}
    store.close()

    work, timings = {True: set(), False: set()}, {True: [], False: []}
    for number, sql, n_renders, elapsed in served:
        work[truth[number]].add((sql, n_renders))
        timings[truth[number]].append(elapsed)
    # Exactly the same SQL statements and the same rendering for both kinds of trial...
    assert len(work[True]) == 1 and work[True] == work[False]
    # ...and no detectable timing difference (trials are interleaved at random, so load on the
    # shared CPU hits both groups alike; under no difference this fails 1 time in 1,000).
    assert scipy_stats.mannwhitneyu(timings[True], timings[False]).pvalue > 1e-3


def test_rendering_time_does_not_depend_on_content():
    images = pools((28, 28))
    real, fake = images.get(REAL).images, images.get(FAKE_A).images
    times = {0: [], 1: []}
    for i in range(1200):
        kind = i % 2  # interleaved so that other load on the machine hits both alike
        image = (real, fake)[kind][i // 2 % 100]
        began = time.perf_counter()
        render_png(image, size=280)
        times[kind].append(time.perf_counter() - began)
    ratio = statistics.median(times[0]) / statistics.median(times[1])
    assert 0.9 < ratio < 1.1, ratio

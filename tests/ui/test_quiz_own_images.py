"""A quiz over your own images, made in the app: uploads of real and generated images through gradio_client,
the sets the app refuses, and the upload flow in Chromium."""

from __future__ import annotations

import atexit
import base64
import io
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

if "GANLAB_QUIZ_POOLS" not in os.environ:
    os.environ["GANLAB_QUIZ_POOLS"] = tempfile.mkdtemp(prefix="ganlab-test-quiz-pools-")
    atexit.register(shutil.rmtree, os.environ["GANLAB_QUIZ_POOLS"], ignore_errors=True)

from ganlab.admin import AdminKey  # noqa: E402
from ganlab.quiz import QuizStore  # noqa: E402
from ganlab.quiz.pools import PoolCache  # noqa: E402
from ganlab.ui.quiz import PARTICIPANT_VIEW, QuizTab  # noqa: E402

NO_PARTICIPANT = {"code": "", "nickname": "", "token": ""}
CLIENT_VIEW = [n for n in PARTICIPANT_VIEW if n not in ("join_panel", "trial_panel", "done_panel", "answer_a", "answer_b")]
DATA_URL = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
DISPLAY = 280  # QuizSettings' default display size: every image of the quiz is made this size


def png_bytes(seed: int, size: tuple[int, int] = (20, 16), colour: bool = False, fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if colour else (size[1], size[0])
    image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def image_zip(folder: Path, name: str, count: int, seed: int, **options) -> Path:
    path = folder / name
    suffix = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[options.get("fmt", "PNG")]
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(count):
            zf.writestr(f"images/{i:03d}.{suffix}", png_bytes(seed * 1000 + i, **options))
        zf.writestr("images/README.txt", "not an image: skipped")
    return path


def create_from_images(client, real, generated, *, mode="single", deck=20, admin_key=""):
    from gradio_client import handle_file

    return client.predict(
        "Own images",
        [handle_file(str(p)) for p in real],
        [handle_file(str(p)) for p in generated],
        deck,
        mode,
        False,
        False,
        0,
        0.0,
        False,
        admin_key,
        300,
        api_name="/quiz_create_from_images",
    )


def refused(client, match, real, generated, **options):
    with pytest.raises(Exception, match=match):
        create_from_images(client, real, generated, **options)


def test_a_quiz_over_uploaded_zips_serves_every_image_alike(client, tmp_path):
    real = image_zip(tmp_path, "photos.zip", 30, seed=1)  # grayscale PNGs
    fakes_a = image_zip(tmp_path, "gan-a.zip", 25, seed=2, colour=True, fmt="JPEG")  # colour: the whole quiz is RGB
    fakes_b = image_zip(tmp_path, "gan-b.zip", 25, seed=3, size=(30, 40), fmt="WEBP")  # not square: cut to the centre
    out = create_from_images(client, [real], [fakes_a, fakes_b])
    created, key, code = out[0], out[1], out[2]
    assert re.fullmatch(r"[A-Z2-9]{6}", code) and out[3] == key
    assert "30 real" in created and "25 in `gan-a`" in created and "25 in `gan-b`" in created
    assert f"/quiz/{code}" in created and "<svg" in created  # the join link and its QR code

    v = dict(zip(CLIENT_VIEW, client.predict(code, "Uploader", "", NO_PARTICIPANT, api_name="/quiz_join"), strict=True))
    lengths = set()
    for number in range(1, 21):
        assert v["trial_number"] == number
        png = base64.b64decode(DATA_URL.search(v["trial"]).group(1))
        image = Image.open(io.BytesIO(png))
        assert image.size == (DISPLAY, DISPLAY) and image.mode == "RGB"
        lengths.add(len(png))
        answer = ["Real", "Fake"][number % 2]
        out = client.predict(answer, v["trial_number"], v["trial_id"], None, None, v["saved"], api_name="/quiz_answer")
        v = dict(zip(CLIENT_VIEW, out, strict=True))
    assert len(lengths) == 1  # real or generated, colour or gray source: the same byte length
    assert "Your answers are saved" in v["done"]
    report = client.predict(code, key, False, False, False, api_name="/quiz_results")[0]
    assert "1 joined, 1 finished" in report and "gan-a" in report and "gan-b" in report


def test_loose_image_files_make_one_set_each(client, tmp_path):
    reals, fakes = [], []
    for i in range(24):
        (tmp_path / f"r{i}.png").write_bytes(png_bytes(100 + i))
        (tmp_path / f"f{i}.png").write_bytes(png_bytes(200 + i))
        reals.append(tmp_path / f"r{i}.png")
        fakes.append(tmp_path / f"f{i}.png")
    out = create_from_images(client, reals, fakes, mode="pair")
    assert "24 real" in out[0] and "24 in `generated`" in out[0]


def test_sets_that_cannot_make_a_fair_quiz_are_refused_with_the_reason(client, tmp_path):
    real = image_zip(tmp_path, "real.zip", 30, seed=4)
    fakes = image_zip(tmp_path, "fake.zip", 30, seed=5)
    few = image_zip(tmp_path, "few.zip", 5, seed=6)
    refused(client, r"the real images: 5; each deck may need up to 20", [few], [fakes])
    refused(client, r"generated set 1: 5 images", [real], [few])
    more = image_zip(tmp_path, "more.zip", 36, seed=7)
    refused(
        client, r"pair mode shows real and generated images one to one: 30 real but 36 generated", [real], [more], mode="pair"
    )
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        for i in range(25):
            zf.writestr(f"{i}.png", png_bytes(300 + i))
        zf.writestr("bad.png", b"not a png at all")
    refused(client, r"1 file\(s\) could not be read as PNG, JPEG or WebP images \(bad.png\)", [broken], [fakes])
    huge = tmp_path / "huge.zip"
    with zipfile.ZipFile(huge, "w") as zf:
        zf.writestr("wide.png", png_bytes(8, size=(1100, 8)))
    refused(client, r"wide.png is 1100x8 pixels; at most 1024 a side", [real], [huge])
    (tmp_path / "notes.txt").write_text("hello")
    refused(client, r"Invalid file type", [tmp_path / "notes.txt"], [fakes])  # Gradio's own check, then ours
    refused(client, r"upload the real images", [], [fakes])
    refused(client, r"the same images were given twice", [real], [real])


def test_creating_from_images_off_loopback_needs_the_admin_key_before_reading_anything(tmp_path):
    with QuizStore(tmp_path / "quiz.sqlite") as store:
        tab = QuizTab(store, PoolCache(tmp_path / "pools"), AdminKey("s3cret", listening_on="0.0.0.0"))
        import gradio as gr

        with pytest.raises(gr.Error, match="admin key"):
            tab.creator.create_from_images("t", ["/no/such.zip"], ["/no/such.zip"], 20, "single", False, False, 0, 0, False, "")
        with pytest.raises(gr.Error, match="upload did not arrive"):  # with the key, the files are looked at
            tab.creator.create_from_images("t", ["/no/such.zip"], [], 20, "single", False, False, 0, 0, False, "s3cret")


def test_the_owner_uploads_images_in_the_browser_and_gets_a_join_link(page, tmp_path):
    real = image_zip(tmp_path, "browser-real.zip", 24, seed=11)
    fakes = image_zip(tmp_path, "browser-fake.zip", 24, seed=12, colour=True)
    page.get_by_role("tab", name="Quiz").click()
    page.get_by_role("tab", name="Run a quiz").click()
    page.locator("#ganlab-quiz-source").get_by_text("Your own images").click()
    page.locator("#ganlab-quiz-create-from-images").wait_for(state="visible")
    assert not page.locator("#ganlab-quiz-create").is_visible() and not page.locator("#ganlab-quiz-checkpoints").is_visible()
    page.locator("#ganlab-quiz-real-files input[type=file]").set_input_files(str(real))
    page.locator("#ganlab-quiz-generated-files input[type=file]").set_input_files(str(fakes))
    page.locator("#ganlab-quiz-real-files").get_by_text("browser-real").wait_for()  # uploaded: its name is listed
    page.locator("#ganlab-quiz-generated-files").get_by_text("browser-fake").wait_for()
    page.locator("#ganlab-quiz-create-from-images").click()
    code = page.locator("#ganlab-quiz-created-code")
    code.wait_for()
    created = page.locator("#ganlab-quiz-created")
    assert f"/quiz/{code.inner_text().strip()}" in created.inner_text()
    assert created.locator("svg").count() == 1  # the QR code of the join link
    assert "24 real" in created.inner_text()

"""``python -m ganlab quiz``: create from your own images, answer, results, export; the report
recomputed from the CSV export with scipy alone; unusable image sets refused."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from scipy import stats

from ganlab.__main__ import main
from ganlab.quiz import QuizStore
from ganlab.quiz.pools import PoolCache


def write_images(folder, n, *, size=(40, 30), colour=False, fmt="PNG", seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        shape = (size[1], size[0], 3) if colour else (size[1], size[0])
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_text("Software", "my-gan v2 (fake)")  # metadata that must not reach participants
            image.save(folder / f"img{i}.png", pnginfo=info)
        else:
            image.save(folder / f"img{i}.jpg", quality=90)
    return folder


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def places(tmp_path):
    return {"db": str(tmp_path / "quiz.sqlite"), "pools": str(tmp_path / "pools")}


def test_create_answer_results_export_from_your_own_images(tmp_path, capsys, places):
    real = write_images(tmp_path / "real", 30, size=(300, 200), colour=True, fmt="JPEG")
    fakes = write_images(tmp_path / "fakes", 30, size=(64, 64), seed=1)
    archive = tmp_path / "more-fakes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(write_images(tmp_path / "more", 30, size=(50, 50), seed=2).iterdir()):
            zf.write(file, f"samples/{file.name}")
    status, out, _ = run(
        capsys,
        "quiz",
        "create",
        "--real",
        str(real),
        "--fake",
        str(fakes),
        "--fake",
        str(archive),
        "--deck",
        "12",
        "--display-size",
        "64",
        "--db",
        places["db"],
        "--pools",
        places["pools"],
        "--json",
    )
    assert status == 0
    created = json.loads(out)
    assert set(created) == {"code", "owner_key"}

    # Participants take it (as the app would: the same database and pool folder).
    rng = np.random.default_rng(5)
    with QuizStore(places["db"], PoolCache(places["pools"]).registry()) as store:
        lengths = set()
        for person in range(8):
            token = store.join(created["code"], f"p{person}").token
            while (trial := store.render_trial(token)) is not None:
                lengths.update(len(png) for png in trial.images)
                assert b"my-gan" not in trial.images[0] and b"tEXt" not in trial.images[0]
                store.answer(token, trial.trial_number, ["real", "fake"][int(rng.integers(2))])
    assert len(lengths) == 1  # JPEG photos and small gray PNGs alike: one mode, one size, one byte length

    status, out, _ = run(
        capsys, "quiz", "results", created["code"], f"--owner-key={created['owner_key']}", "--db", places["db"], "--json"
    )
    assert status == 0
    report = json.loads(out)
    summary = report["summary"]
    assert report["n_finished"] == 8 and summary["n_trials"] == 96 and report["measurement"] is True
    assert len(summary["per_source"]) == 2 and summary["dprime_mean"] is not None

    out_dir = tmp_path / "export"
    status, _, _ = run(
        capsys,
        "quiz",
        "export",
        created["code"],
        f"--owner-key={created['owner_key']}",
        "--db",
        places["db"],
        "--out",
        str(out_dir),
    )
    assert status == 0
    rows = list(csv.DictReader(io.StringIO((out_dir / f"quiz-{created['code']}-trials.csv").read_text())))
    assert len(rows) == 96 and (out_dir / f"quiz-{created['code']}-trials.json").is_file()

    # The report, recomputed from the CSV with scipy alone.
    correct = [r["correct"] == "True" for r in rows]
    k, n = sum(correct), len(correct)
    errors = n - k
    interval = stats.binomtest(errors, n).proportion_ci(confidence_level=0.95, method="wilson")
    hype = summary["hype_infinity"]
    assert (hype["k"], hype["n"]) == (errors, n)
    assert hype["low"] == pytest.approx(interval.low) and hype["high"] == pytest.approx(interval.high)
    assert summary["p_value_vs_chance"] == pytest.approx(stats.binomtest(k, n, 0.5).pvalue)
    fakes_shown = [r for r in rows if r["truth"] == "fake"]
    fooled = sum(r["answer"] == "real" for r in fakes_shown)
    assert (summary["fake_error"]["k"], summary["fake_error"]["n"]) == (fooled, len(fakes_shown))
    fake_ci = stats.binomtest(fooled, len(fakes_shown)).proportion_ci(method="wilson")
    assert summary["fake_error"]["low"] == pytest.approx(fake_ci.low)

    status, out, _ = run(capsys, "quiz", "results", created["code"], f"--owner-key={created['owner_key']}", "--db", places["db"])
    assert status == 0 and "HYPE-infinity error" in out
    status, _, err = run(capsys, "quiz", "results", created["code"], "--owner-key", "wrong", "--db", places["db"])
    assert status == 1 and "wrong owner key" in err


def test_unusable_image_sets_are_refused(tmp_path, capsys, places):
    real = write_images(tmp_path / "real", 20)
    few = write_images(tmp_path / "few", 3, seed=1)
    plenty = write_images(tmp_path / "plenty", 24, seed=2)
    broken = write_images(tmp_path / "broken", 20, seed=3)
    (broken / "img5.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    huge = write_images(tmp_path / "huge", 20, seed=4)
    Image.new("L", (1500, 20)).save(huge / "wide.png")
    common = ["--deck", "10", "--db", places["db"], "--pools", places["pools"], "--json"]
    for fakes, extra, message in (
        (few, [], "generated set 1: 3 images"),
        (broken, [], "could not be read"),
        (huge, [], "at most 1024 a side"),
        (plenty, ["--mode", "pair"], "one to one"),
        (tmp_path / "nothing", [], "does not exist"),
    ):
        status, out, err = run(capsys, "quiz", "create", "--real", str(real), "--fake", str(fakes), *common, *extra)
        assert status == 1 and message in err, (message, err)
        assert out == ""
    with pytest.raises(SystemExit) as usage:  # a usage error: argparse's exit status 2
        main(["quiz", "create", "--real", str(real), *common])
    assert usage.value.code == 2 and "give the fakes" in capsys.readouterr().err
    status, _, err = run(capsys, "quiz", "create", "--real", str(real), "--fake", str(plenty), "--deck", "1", *common[2:])
    assert status == 1 and "deck_size must be" in err

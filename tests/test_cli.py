import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab.__main__ import main

REPO = Path(__file__).resolve().parent.parent


def test_train_then_sample_an_image_model_through_the_real_entry_point(tmp_path):
    run = tmp_path / "digits"
    env = {"GANLAB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganlab",
            "train",
            "--dataset",
            "mnist",
            "--model",
            "dcgan",
            "--steps",
            "5",
            "--batch-size",
            "16",
            "--width",
            "8",
            "--out",
            str(run),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "bundled" in done.stderr  # says which data source it used
    assert {"config.json", "model.safetensors", "samples.png", "run.json"} <= {p.name for p in run.iterdir()}
    assert main(["sample", str(run), "--n", "64", "--out", str(tmp_path / "grid.png")]) == 0
    with np.load(tmp_path / "grid.npz") as saved:
        assert set(saved.files) == {"images"}
        assert saved["images"].shape == (64, 28, 28) and saved["images"].dtype == np.uint8
    assert Image.open(tmp_path / "grid.png").size[0] > 28 * 8


def test_conditional_sample_has_labels_and_honours_label(tmp_path):
    run = tmp_path / "cond"
    assert (
        main(
            [
                "train",
                "--dataset",
                "mnist",
                "--model",
                "cdcgan",
                "--steps",
                "2",
                "--batch-size",
                "8",
                "--width",
                "8",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert main(["sample", str(run), "--n", "30", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as saved:
        assert saved["images"].shape == (30, 28, 28)
        assert np.bincount(saved["labels"], minlength=10).tolist() == [3] * 10  # balanced
    assert main(["sample", str(run), "--n", "5", "--label", "7", "--out", str(tmp_path / "sevens")]) == 0
    with np.load(tmp_path / "sevens.npz") as saved:
        assert saved["labels"].tolist() == [7] * 5
    assert (tmp_path / "sevens.png").is_file()


def test_2d_train_sample_and_resume(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--dataset", "ring8", "--steps", "30", "--seed", "3", "--out", str(run)]) == 0
    assert main(["train", "--resume", "--steps", "10", "--out", str(run)]) == 0
    assert "after 40 steps" in capsys.readouterr().err
    assert main(["sample", str(run), "--n", "100", "--out", str(tmp_path / "pts")]) == 0
    with np.load(tmp_path / "pts.npz") as saved:
        assert saved["points"].shape == (100, 2)


def test_resume_takes_new_live_hyperparameters_and_refuses_a_new_model(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--dataset", "ring8", "--steps", "5", "--out", str(run)]) == 0
    assert main(["train", "--resume", "--steps", "5", "--lr-g", "1e-4", "--lr-d", "2e-4", "--out", str(run)]) == 0
    assert "resuming with lr_g = 0.0001, lr_d = 0.0002" in capsys.readouterr().err
    resumed = json.loads((run / "run.json").read_text())
    assert resumed["config"]["lr_g"] == 1e-4 and resumed["config"]["lr_d"] == 2e-4 and resumed["step_count"] == 10
    # The model cannot change under a saved run: one clear line, and the run is left as it was.
    assert main(["train", "--resume", "--steps", "5", "--width", "16", "--out", str(run)]) == 2
    error = capsys.readouterr().err
    assert "--width cannot change when resuming" in error and "--lr-g" in error and "Traceback" not in error
    assert json.loads((run / "run.json").read_text())["step_count"] == 10


def test_resume_refuses_other_data_model_or_seed_but_takes_the_original_command_again(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--dataset", "ring8", "--seed", "3", "--steps", "5", "--out", str(run)]) == 0
    for flag, value, saved in [("--dataset", "grid25", "'ring8'"), ("--model", "cmlp", "'mlp'"), ("--seed", "4", "3")]:
        assert main(["train", "--resume", "--steps", "5", flag, value, "--out", str(run)]) == 2
        error = capsys.readouterr().err
        assert f"{flag} cannot change when resuming" in error and saved in error
    assert json.loads((run / "run.json").read_text())["step_count"] == 5
    assert main(["train", "--dataset", "ring8", "--seed", "3", "--resume", "--steps", "5", "--out", str(run)]) == 0
    assert json.loads((run / "run.json").read_text())["step_count"] == 10


def test_runs_on_your_own_points_or_images_resume_without_giving_the_data_again(tmp_path, capsys):
    csv = tmp_path / "p.csv"
    csv.write_text("x,y\n" + "\n".join(f"{np.cos(a):.3f},{np.sin(a):.3f}" for a in np.linspace(0, 6, 50)))
    assert main(["train", "--points-csv", str(csv), "--steps", "3", "--out", str(tmp_path / "pts")]) == 0
    csv.unlink()  # the points were saved with the run
    assert main(["train", "--resume", "--steps", "2", "--out", str(tmp_path / "pts")]) == 0
    assert "after 5 steps" in capsys.readouterr().err
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png")
    run = tmp_path / "mine"
    assert (
        main(
            [
                "train",
                "--data-folder",
                str(folder),
                "--clusters",
                "2",
                "--width",
                "8",
                "--batch-size",
                "4",
                "--steps",
                "2",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    (run / "training_data.safetensors").unlink()  # as a run saved before the data was kept with it
    assert main(["train", "--resume", "--steps", "1", "--out", str(run)]) == 2
    assert "give the same --data-folder to resume it" in capsys.readouterr().err
    assert main(["train", "--resume", "--data-folder", str(folder), "--steps", "1", "--out", str(run)]) == 0
    assert "after 3 steps" in capsys.readouterr().err


def test_points_csv_and_seconds(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("x,y\n" + "\n".join(f"{np.cos(a):.3f},{np.sin(a):.3f}" for a in np.linspace(0, 6, 50)))
    assert main(["train", "--points-csv", str(csv), "--seconds", "0.5", "--out", str(tmp_path / "csv")]) == 0


@pytest.mark.parametrize(
    "argv, status, message",
    [
        # Usage errors (2): flags that do not fit, found after parsing.
        (["train", "--dataset", "ring8", "--lr-g", "-1", "--out", "X"], 2, "learning rate lr_g must be > 0"),
        (["train", "--dataset", "ring8", "--model", "dcgan", "--out", "X"], 2, "DCGAN models need image data"),
        # Failures at run time (1): what was asked for is not there or cannot be read.
        (["sample", "no/such/folder", "--out", "X"], 1, "no checkpoint at"),
        (["sample", "no-such-checkpoint", "--out", "X"], 1, "no checkpoint at 'no-such-checkpoint'"),
        (["train", "--data-folder", "no/such/folder", "--out", "X"], 1, "no/such/folder"),
    ],
)
def test_errors_are_one_clear_line(argv, status, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_label_on_unconditional_model_is_refused(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--dataset", "ring8", "--clusters", "0", "--steps", "1", "--out", str(run)]) == 0
    assert main(["sample", str(run), "--label", "1", "--out", str(tmp_path / "x")]) == 2
    assert "only for conditional" in capsys.readouterr().err


def test_bad_numbers_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", "x", "--n", "0", "--out", "y"])
    assert exit_info.value.code == 2 and "must be >= 1" in capsys.readouterr().err


def test_version(capsys):
    from ganlab import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"ganlab {__version__}"


def test_usage_errors_exit_2(capsys):
    for argv in (["no-such-command"], ["evaluate"], ["-v", "-q", "checkpoints"], ["evaluate", "x", "--features", "y"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2, argv
    capsys.readouterr()
    # Found after parsing: a checkpoint is compared with its own dataset, so --against does not fit.
    assert main(["evaluate", "mnist-cdcgan", "--against", "mnist"]) == 2
    assert "--against" in capsys.readouterr().err


def test_verbose_shows_info_logs_and_quiet_hides_them(tmp_path, caplog):
    def info_lines(argv):
        caplog.clear()
        assert main(argv) == 0
        return [r for r in caplog.records if r.name.startswith("ganlab") and r.levelno == logging.INFO]

    sample = ["sample", "mnist-cdcgan", "--n", "4", "--out", str(tmp_path / "s")]
    assert not info_lines(sample)  # default: warnings and errors only
    assert any("loaded mnist-cdcgan" in r.getMessage() for r in info_lines(["-v", *sample]))
    assert info_lines([*sample, "--verbose"])  # after the command too
    assert not info_lines(["-q", *sample])


def test_verbose_logs_reach_stderr_through_the_real_entry_point(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "ganlab", "-v", "sample", "mnist-cdcgan", "--n", "4", "--out", str(tmp_path / "s")],
        cwd=REPO,
        env={"GANLAB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "INFO ganlab: loaded mnist-cdcgan" in done.stderr


def test_checkpoints_json_lists_the_shipped_checkpoints(capsys):
    assert main(["checkpoints", "--json"]) == 0
    listing = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert listing["mnist-cdcgan"] == {
        "name": "mnist-cdcgan",
        "kind": "generator",
        "model": "dcgan",
        "dataset": "mnist",
        "conditional": True,
        "path": listing["mnist-cdcgan"]["path"],
    }
    assert Path(listing["mnist-cdcgan"]["path"], "config.json").is_file()
    assert listing["mnist-dcgan"]["conditional"] is False  # k-means clusters are not classes a user chooses
    assert listing["mnist-classifier"]["kind"] == "classifier" and listing["mnist-classifier"]["conditional"] is None
    assert main(["checkpoints"]) == 0
    assert "mnist-cdcgan" in capsys.readouterr().out  # the table stays as it was


def test_a_closed_output_pipe_ends_quietly():
    """``ganlab checkpoints --json | head -1``: the reader goes away before the output is written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ganlab", "checkpoints", "--json"],
        cwd=REPO,
        env={"GANLAB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()  # long before the command has imported what it needs and printed
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 141, errors
    assert errors == ""  # no traceback, no "error: [Errno 32] Broken pipe"

import json
import time
import zipfile

import numpy as np
import pytest
import torch
from run_helpers import small, wait_until

from ganlab.checkpoints import available_generators
from ganlab.curves import curves_height
from ganlab.data.toy import from_points, make_toy
from ganlab.live import RunError, RunManager, count_parameters, validate_name
from ganlab.live.previews import MAX_PREVIEWS
from ganlab.presets import default_config


@pytest.fixture(params=["thread", "process"])
def manager(request, tmp_path, monkeypatch):
    """Every manager test runs twice: training in a thread of this process, and in a worker process
    (ganlab/live/worker.py, what the app uses)."""
    monkeypatch.setenv("GANLAB_CHECKPOINTS", str(tmp_path / "saved"))
    manager = RunManager(
        max_trainings=1, preview_dir=tmp_path / "previews", reload_grace_s=0.3, processes=request.param == "process"
    )
    yield manager
    manager.shutdown()


def test_start_pause_step_stop_resume_close(manager):
    snapshot = manager.start("alice", small())
    assert snapshot.status == "running" and snapshot.kind == "2d"
    assert wait_until(lambda: manager.snapshot("alice").step >= 20)

    paused = manager.pause("alice")
    assert paused.status == "paused"
    time.sleep(0.1)  # the step in flight lands
    frozen = manager.snapshot("alice").step
    time.sleep(0.3)
    assert manager.snapshot("alice").step == frozen

    report = manager.step("alice")
    after = manager.snapshot("alice")
    assert after.step == frozen + 1 and after.status == "paused"
    assert report.step == after.step and report.d_step == report.step and after.step_report == report
    assert report.reading == "probability" and report.points_moved is not None and report.points_moved > 0
    assert all(0 <= value <= 1 for value in (*report.before, *report.middle, *report.after))
    assert manager.trainer("alice").d_step_count == manager.trainer("alice").step_count  # d_steps=1: 1 D per G

    stopped = manager.stop("alice")
    assert stopped.status == "stopped"
    assert manager.resume("alice").status == "running"
    assert wait_until(lambda: manager.snapshot("alice").step > after.step + 5)

    thread = manager._runs["alice"].thread
    manager.close("alice")
    assert manager.snapshot("alice") is None and manager.run_count == 0
    assert not thread.is_alive()
    with pytest.raises(RunError, match="no run yet"):
        manager.pause("alice")


def test_step_on_a_running_run_pauses_it_first(manager):
    manager.start("bob", small())
    assert wait_until(lambda: manager.snapshot("bob").step >= 5)
    manager.step("bob")
    assert manager.snapshot("bob").status == "paused"
    steps = manager.snapshot("bob").step
    time.sleep(0.3)
    assert manager.snapshot("bob").step == steps


def test_runs_beyond_the_limit_wait_in_a_queue_with_their_position(manager):
    manager.start("a", small())
    waiting = manager.start("b", small(seed=1))
    third = manager.start("c", small(seed=2))
    assert waiting.status == "queued" and waiting.queue_position == 1
    assert waiting.message == "1 run is training; yours starts when one ends — position 1"
    assert third.queue_position == 2 and manager.active_count == 1
    manager.pause("a")  # frees the slot: the first in the queue starts
    assert manager.snapshot("b").status == "running"
    assert manager.snapshot("c").queue_position == 1
    assert manager.resume("a").status == "queued"  # a resumed run queues behind the others
    manager.close("b")  # closing frees the slot too
    assert manager.snapshot("c").status == "running" and manager.snapshot("a").queue_position == 1
    assert manager.pause("a").status == "paused" and manager.snapshot("a").queue_position == 0


def test_two_slots_train_two_runs_at_once(tmp_path):
    manager = RunManager(max_trainings=2)
    try:
        assert manager.start("a", small()).status == "running"
        assert manager.start("b", small()).status == "running"
        assert manager.start("c", small()).message.startswith("2 runs are training; yours starts when one ends")
    finally:
        manager.shutdown()


def test_closing_the_session_frees_the_run_and_a_reload_can_reattach(manager):
    manager.bind_token("tab-1", "token-x")
    manager.start("tab-1", small())
    manager.release("tab-1")  # the tab went away (a reload, maybe): grace period
    assert manager.run_count == 1 and manager.has_run_for_token("token-x")
    assert not manager.attach("wrong-token", "tab-2")
    assert manager.attach("token-x", "tab-2")  # the reloaded page found its run
    assert manager.snapshot("tab-2").status == "running" and manager.snapshot("tab-1") is None
    manager.release("tab-2")
    assert wait_until(lambda: manager.run_count == 0, timeout=5)  # nobody came back: freed

    manager.start("tab-3", small())  # no browser token (an API client): freed at once
    manager.release("tab-3")
    assert manager.run_count == 0


def test_snapshot_holds_history_rates_and_settings(manager):
    manager.start("s", small())
    assert wait_until(lambda: manager.snapshot("s").step >= 30)
    snapshot = manager.snapshot("s", max_points=10)
    history = snapshot.history
    assert set(history) >= {"step", "d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"}
    assert 2 <= len(history["step"]) <= 10 and len({len(v) for v in history.values()}) == 1
    assert np.all(np.diff(history["step"]) > 0)
    assert 0 < snapshot.latest["d_real"] < 1 and snapshot.steps_per_second > 0 and snapshot.examples_per_second > 0
    assert snapshot.config["lr_g"] == small().lr_g and snapshot.objective_reading == "probability"
    json.dumps(snapshot.as_dict())  # the API returns it as JSON


def test_preview_is_computed_by_the_reader_and_cached_between_frames(manager, tmp_path):
    manager.start("p", small())
    assert wait_until(lambda: manager.snapshot("p").step >= 5)
    first = manager.preview("p")
    assert first.kind == "2d" and first.picture.ndim == 3 and first.picture.dtype == np.uint8
    assert set(first.metrics) == {"modes_covered", "num_modes", "high_quality", "kl", "js", "n"}
    assert first.metrics["num_modes"] == 8 and first.path.is_file()
    # The curves come with the preview, drawn up to the same moment (ganlab.curves): the three training
    # panels and the two quality panels under them (ganlab.live.quality).
    assert first.curves.shape == (curves_height(5), 520, 3) and first.curves_path.is_file() and first.curves_path != first.path
    assert manager.preview("p") is first  # within preview_interval_s: the same preview
    time.sleep(manager.preview_interval_s + 0.05)
    second = manager.preview("p")
    assert second is not first and second.step > first.step
    for _ in range(15):
        manager.preview("p", force=True)
    # Old previews are pruned by age and count (ganlab.live.previews.prune_previews, tests/test_previews.py).
    assert len(list((tmp_path / "previews").glob("*.png"))) <= MAX_PREVIEWS
    manager.close("p")
    assert not list((tmp_path / "previews").glob("*.png"))


def test_live_updates_change_the_optimisers(manager):
    manager.create("u", small())
    manager.update("u", lr_g=5e-4, batch_size=32, d_steps=2)
    trainer = manager.trainer("u")
    assert trainer.opt_g.param_groups[0]["lr"] == 5e-4 and trainer.config.batch_size == 32
    assert manager.snapshot("u").config["d_steps"] == 2
    with pytest.raises(ValueError, match="learning rate"):
        manager.update("u", lr_d=-1)
    with pytest.raises(ValueError, match="cannot change"):
        manager.update("u", width=64)


def test_a_diverged_run_says_so_and_keeps_its_last_good_weights(manager):
    manager.start("d", small())
    assert wait_until(lambda: manager.snapshot("d").step >= 30)
    manager.pause("d")
    trainer = manager.trainer("d")
    with trainer._lock, torch.no_grad():  # sabotage, as a blown-up learning rate would
        next(trainer.discriminator.parameters()).fill_(float("nan"))
    manager.resume("d")
    assert wait_until(lambda: manager.snapshot("d").status == "diverged")
    snapshot = manager.snapshot("d")
    assert "training diverged at step" in snapshot.message and "last good weights" in snapshot.message
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())
    with pytest.raises(RunError, match="diverged"):
        manager.resume("d")
    with pytest.raises(RunError, match="Reset"):
        manager.step("d")
    assert manager.reset("d").status == "ready" and manager.snapshot("d").step == 0


def test_reset_starts_over_with_new_settings(manager):
    manager.create("r", small())
    manager.step("r")
    manager.step("r")
    snapshot = manager.reset("r", small(lr_g=2e-3))
    assert snapshot.step == 0 and len(snapshot.history["step"]) == 0 and snapshot.config["lr_g"] == 2e-3


def test_models_too_big_for_the_server_are_refused(manager):
    huge = default_config("ring8", width=2048, depth=8)
    assert count_parameters(huge, make_toy("ring8")) > 20_000_000
    with pytest.raises(RunError, match="million parameters"):
        manager.create("m", huge)
    with pytest.raises(RunError, match="DCGAN models need image data"):
        manager.create("m", default_config("ring8", model="dcgan"))


@pytest.mark.parametrize("bad", ["", "../escape", "a/b", "..", ".hidden", "x" * 65, "spaces here", "C:\\x"])
def test_checkpoint_names_cannot_escape_the_folder(bad):
    with pytest.raises(RunError):
        validate_name(bad)


def test_save_appears_among_generators_and_loads_back_to_continue(manager, tmp_path):
    manager.create("s", small())
    for _ in range(3):
        manager.step("s")
    directory = manager.save("s", "ring-demo")
    assert directory == tmp_path / "saved" / "ring-demo"
    assert available_generators()["saved/ring-demo"] == directory
    with pytest.raises(RunError, match="already exists"):
        manager.save("s", "ring-demo")
    manager.save("s", "ring-demo", overwrite=True)
    archive = manager.export_zip("s", "ring-demo")
    with zipfile.ZipFile(archive) as zf:
        assert {"ring-demo/config.json", "ring-demo/model.safetensors", "ring-demo/run.json"} <= set(zf.namelist())

    loaded = manager.load("other", "saved/ring-demo")
    assert loaded.step == 3 and loaded.status == "ready" and loaded.dataset == "saved/ring-demo"
    same = [
        torch.equal(a, b)
        for a, b in zip(manager.trainer("s").generator.parameters(), manager.trainer("other").generator.parameters(), strict=True)
    ]
    assert all(same)
    manager.resume("other")
    assert wait_until(lambda: manager.snapshot("other").step > 5)
    with pytest.raises(RunError, match="no resumable run"):
        manager.load("other", "missing")


def test_user_drawn_data_is_saved_with_the_run(manager):
    points = np.random.default_rng(0).normal(size=(300, 2)) * 0.3 + 1.0
    manager.create("c", default_config("custom", width=16, batch_size=32), from_points(points, name="drawing"))
    manager.step("c")
    manager.save("c", "my-drawing")
    loaded = manager.load("again", "my-drawing")
    assert loaded.kind == "2d"
    assert np.allclose(manager.trainer("again").data.centres, points)
    assert manager.preview("again").metrics["num_modes"] >= 1


@pytest.mark.parametrize("processes", [False, True], ids=["thread", "process"])
def test_image_runs_show_sample_grids_and_a_time_lapse(tmp_path, processes):
    manager = RunManager(max_trainings=1, timelapse_every_s=0.3, processes=processes)
    try:
        config = default_config("mnist", "dcgan", width=8, batch_size=16, noise_dim=16)
        manager.start("img", config)
        assert wait_until(lambda: manager.snapshot("img").timelapse_frames >= 2, timeout=20)
        preview = manager.preview("img")
        assert preview.kind == "images" and preview.picture.ndim == 2 and preview.metrics is None
        step, frame = manager.timelapse_frame("img", 0)
        assert preview.picture.shape == (frame.shape[0] * 2, frame.shape[1] * 2) and step >= 0  # enlarged x2
        gif = manager.timelapse_gif("img", tmp_path / "t.gif")
        assert gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
        report = manager.step("img")
        assert report.batch_size == 16 and report.points_moved is None  # the batch of the run, not the probes
    finally:
        manager.shutdown()


def test_curves_are_redrawn_when_the_history_grew_at_most_every_curves_interval(manager):
    manager.preview_interval_s, manager.curves_interval_s = 0.1, 60.0
    manager.start("c", small())
    assert wait_until(lambda: manager.snapshot("c").step >= 5)
    first = manager.preview("c")
    time.sleep(0.15)
    second = manager.preview("c")  # a new view, the same curves (and file): the browser fetches nothing new
    assert second is not first and second.step > first.step
    assert second.curves_at == first.curves_at and second.curves_path == first.curves_path
    assert second.curves_path.is_file()
    manager.curves_interval_s = 0.0
    time.sleep(0.15)
    third = manager.preview("c")
    assert third.curves_at > first.curves_at and third.curves_path != first.curves_path
    manager.pause("c")
    time.sleep(0.3)  # the steps in flight land
    drawn = manager.preview("c", force=True)  # paused: drawn once more, up to the last step
    again = manager.preview("c", force=True)
    assert again.curves_at == drawn.curves_at  # the history did not grow: nothing to redraw
    assert again.curves_path.is_file() and again.curves_path == drawn.curves_path


def test_an_image_run_redraws_its_sample_grid_about_once_a_second(manager):
    manager.image_preview_interval_s = 60.0
    manager.start("g", default_config("mnist", "dcgan", width=8, batch_size=16, noise_dim=16))
    assert wait_until(lambda: manager.snapshot("g").step >= 3, timeout=30)
    first = manager.preview("g")
    time.sleep(manager.preview_interval_s + 0.05)  # a 2D view would be due by now; a sample grid is not
    assert manager.preview("g") is first
    manager.image_preview_interval_s = 0.0
    assert wait_until(lambda: manager.preview("g").step > first.step, timeout=10)

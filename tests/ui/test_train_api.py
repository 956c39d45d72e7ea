"""The Train tab's endpoints, called through gradio_client against the launched app.

Each gradio_client session is one browser session: its run is keyed by the client's session, and
closing the client releases (stops and frees) the run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from ganlab.checkpoints import available_generators
from ganlab.presets import default_config


def wait_for(client: Client, condition, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    status = client.predict(api_name="/train_status")
    while not condition(status) and time.monotonic() < deadline:
        time.sleep(0.2)
        status = client.predict(api_name="/train_status")
    assert condition(status), status
    return status


@pytest.fixture(scope="module")
def fresh(app_url):
    """A second client (its own session, so its own run), shared by the tests below."""
    client = Client(app_url, analytics_enabled=False, verbose=False)
    yield client
    client.close()


def test_every_train_event_has_a_stable_api_name(client):
    endpoints = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    expected = {
        "/train_start",
        "/train_pause",
        "/train_resume",
        "/train_stop",
        "/train_reset",
        "/train_step",
        "/train_update",
        "/train_status",
        "/train_save",
        "/train_load",
        "/train_saved_runs",
        "/train_gif",
        "/train_dataset",
        "/train_timelapse_frame",
        "/train_preset_healthy",
        "/train_preset_mode_collapse",
        "/train_preset_vanishing_gradients",
        "/train_preset_oscillation",
    }
    assert expected <= endpoints


def test_start_status_pause_step_update_stop(client):
    assert client.predict(api_name="/train_status")["status"] in ("none", "stopped", "paused", "ready")
    status_line, _, _ = client.predict(batch_size=64, width=32, api_name="/train_start")
    assert "running" in status_line
    first = wait_for(client, lambda s: s["status"] == "running" and s["step"] > 0)
    grown = wait_for(client, lambda s: s["step"] > first["step"] + 10)
    assert 0 < grown["latest"]["d_real"] < 1 and grown["steps_per_second"] > 0
    assert "metrics" in wait_for(client, lambda s: "metrics" in s)  # live mode coverage for 2D data

    paused_line = client.predict(api_name="/train_pause")[0]
    assert "paused" in paused_line
    time.sleep(0.2)
    before = client.predict(api_name="/train_status")["step"]
    _, note, _ = client.predict(api_name="/train_step")
    assert "D move" in note and "G move" in note and "64 real and 64 generated samples" in note and "D(G(z))" in note
    assert client.predict(api_name="/train_status")["step"] == before + 1

    applied = client.predict(
        lr_g=5e-4,
        lr_d=1e-3,
        beta1=0.5,
        beta2=0.999,
        batch_size=32,
        d_steps=2,
        gp_weight=10,
        clip_value=0.01,
        api_name="/train_update",
    )
    assert "lr G 0.0005" in applied and "D steps 2" in applied
    config = client.predict(api_name="/train_status")["config"]
    assert config["lr_g"] == 5e-4 and config["batch_size"] == 32 and config["d_steps"] == 2

    assert "running" in client.predict(api_name="/train_resume")[0]
    assert "stopped" in client.predict(api_name="/train_stop")[0]
    assert client.predict(api_name="/train_status")["status"] == "stopped"
    assert "Reset" in client.predict(api_name="/train_reset")[1]
    assert client.predict(api_name="/train_status")["step"] == 0


def test_the_live_stream_sends_updates_while_training_and_ends_when_stopped(app_url):
    viewer = Client(app_url, analytics_enabled=False, verbose=False)  # a session of its own
    try:
        _watch_a_run(viewer)
    finally:
        viewer.close()


def _watch_a_run(fresh: Client) -> None:
    fresh.predict(dataset="ring8", batch_size=64, width=32, api_name="/train_start")
    stream = fresh.submit("", 0, api_name="/train_watch")  # what the browser's timer starts
    steps, pictures, graphs, started = [], set(), [], time.monotonic()
    for update in stream:
        status_line, graph, picture = update[0], update[1], update[2]
        if isinstance(status_line, str) and "step" in status_line:
            steps.append(int(status_line.split("step ")[1].split()[0].replace(",", "")))
        if isinstance(picture, str):
            pictures.add(picture)
        if isinstance(graph, str) and graph.startswith("<"):
            graphs.append(graph)
        if len(pictures) >= 3 or time.monotonic() - started > 30:
            break
    assert len(pictures) >= 3 and steps == sorted(steps) and steps[-1] > steps[0]  # new pictures, later steps
    assert graphs and "<svg" in graphs[-1] and "D(G(z))" in graphs[-1]  # the overview graph, with live numbers
    assert all(Path(picture).is_file() for picture in pictures)
    fresh.predict(api_name="/train_stop")
    deadline = time.monotonic() + 10
    while not stream.done() and time.monotonic() < deadline:  # a stopped run is drawn once more, then it ends
        time.sleep(0.1)
    assert stream.done()


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(lr_g=5), "learning rate lr_g must be > 0 and <= 1; got 5"),
        (dict(batch_size=0), "batch size must be between 1 and"),
        (dict(beta1=1.5), "Adam beta1 must be in [0, 1)"),
        (dict(width=None), "width is empty"),
        (dict(model="dcgan"), "DCGAN models need image data"),
        (dict(width=2048, depth=8), "million parameters"),
        (dict(dataset="csv"), "upload a CSV file"),
        (dict(dataset="folder"), "upload a .zip of images"),
        (dict(dataset="draw"), "drawing is empty"),
    ],
)
def test_bad_settings_give_a_clear_error(fresh, bad, message):
    if bad == dict(lr_g=5):  # the first: this session has no run yet
        with pytest.raises(AppError, match="no run yet"):
            fresh.predict(api_name="/train_pause")
        assert fresh.predict(api_name="/train_status")["status"] == "none"
    with pytest.raises(AppError) as error:
        fresh.predict(**bad, api_name="/train_start")
    assert message in str(error.value)
    assert "Traceback" not in str(error.value)


def test_the_clusters_control_chooses_between_clusters_and_the_plain_game(fresh):
    line = fresh.predict(dataset="grid25", api_name="/train_reset")[0]  # the default: "auto"
    assert "on 25 k-means clusters" in line  # the silhouette found the grid's 25 modes
    status = fresh.predict(api_name="/train_status")
    assert status["clusters"] == 25 and status["config"]["clusters"] == "auto"
    line = fresh.predict(dataset="grid25", clusters="off", api_name="/train_reset")[0]
    assert "k-means" not in line and fresh.predict(api_name="/train_status")["clusters"] == 0
    fresh.predict(dataset="ring8", clusters="4", api_name="/train_reset")
    assert fresh.predict(api_name="/train_status")["clusters"] == 4
    with pytest.raises(AppError, match="clusters must be 'auto', 'off' or a whole number"):
        fresh.predict(dataset="ring8", clusters="lots", api_name="/train_reset")
    settings = fresh.predict("ring8", api_name="/train_preset_mode_collapse")
    assert settings[-1] == "off"  # the failure presets play the plain game
    assert fresh.predict("ring8", api_name="/train_preset_healthy")[-1] == "auto"


def test_csv_upload_trains_on_the_points_and_bad_csv_is_explained(fresh, tmp_path):
    good = tmp_path / "points.csv"
    good.write_text("x,y\n" + "\n".join(f"{i % 7 * 0.3},{i % 5 * 0.2}" for i in range(200)))
    line = fresh.predict(dataset="csv", points_csv=handle_file(str(good)), width=16, batch_size=32, api_name="/train_start")[0]
    assert "running" in line and "your CSV" in line
    wait_for(fresh, lambda s: s["step"] > 3)
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,banana\n")
    with pytest.raises(AppError, match="line 3: x and y must be numbers"):
        fresh.predict(dataset="csv", points_csv=handle_file(str(bad)), api_name="/train_start")


def test_an_upload_that_is_not_images_is_refused(fresh, tmp_path):
    fake_zip = tmp_path / "holiday.zip"
    fake_zip.write_bytes(b"this is not a zip file")
    with pytest.raises(AppError, match="neither a folder nor a .zip"):
        fresh.predict(dataset="folder", images_zip=handle_file(str(fake_zip)), api_name="/train_start")


def test_presets_and_dataset_defaults(fresh):
    note, model, loss, lr_g, lr_d, *rest = fresh.predict("ring8", api_name="/train_preset_mode_collapse")
    assert "Mode collapse" in note and "modes covered" in note and lr_g == 5e-3 and lr_d == 5e-4
    note = fresh.predict("ring8", api_name="/train_preset_vanishing_gradients")
    assert note[2] == "minimax"
    with pytest.raises(AppError, match="presets are for the 2D datasets"):
        fresh.predict("mnist", api_name="/train_preset_healthy")
    described, *settings = fresh.predict("mnist", api_name="/train_dataset")
    image_defaults = default_config("mnist")
    assert "MNIST train" in described and "cdcgan" in settings  # the image defaults, not the 2D ones
    assert image_defaults.lr_g in settings and image_defaults.batch_size in settings and 256 not in settings


def test_save_lists_downloads_and_loads_back(fresh):
    fresh.predict(width=16, batch_size=32, api_name="/train_reset")  # fresh weights, this session's run
    fresh.predict(api_name="/train_step")
    fresh.predict(api_name="/train_step")
    note, archive, choices = fresh.predict("api-run", True, api_name="/train_save")
    assert "mine/api-run" in note and Path(archive).name == "api-run.zip" and Path(archive).stat().st_size > 0
    assert "/" not in note.replace("mine/api-run", "")  # a name, never a server path
    assert "saved/api-run" not in available_generators()  # not the class's: this session's own
    with pytest.raises(AppError, match="letters, digits"):
        fresh.predict("../escape", False, api_name="/train_save")
    listed = [c[0] for c in fresh.predict(api_name="/train_saved_runs")["choices"]]
    assert "mine/api-run" in listed
    status_line, note, *_ = fresh.predict("mine/api-run", api_name="/train_load")
    assert "step 2" in status_line and "Loaded" in note
    assert fresh.predict(api_name="/train_status")["step"] == 2


def test_another_session_neither_sees_nor_loads_a_saved_run_until_it_is_published(app_url, fresh):
    fresh.predict(width=16, batch_size=32, api_name="/train_reset")
    fresh.predict(api_name="/train_step")
    fresh.predict("owned-run", True, api_name="/train_save")
    stranger = Client(app_url, analytics_enabled=False, verbose=False)
    try:
        assert not any("owned-run" in c[0] for c in stranger.predict(api_name="/train_saved_runs")["choices"])
        with pytest.raises(AppError, match="no saved run"):
            stranger.predict("mine/owned-run", api_name="/train_load")
        with pytest.raises(AppError, match="not one of your own"):
            stranger.predict("saved/owned-run", "", False, api_name="/train_publish")
        # On loopback the person at the keyboard is the admin: publishing needs no key here.
        note, _ = fresh.predict("mine/owned-run", "", True, api_name="/train_publish")
        assert "saved/owned-run" in note and "saved/owned-run" in available_generators()
        status_line, *_ = stranger.predict("saved/owned-run", api_name="/train_load")
        assert "step 1" in status_line
    finally:
        stranger.close()


def test_a_hundred_api_sessions_keep_the_servers_runs_and_memory_bounded(app_url):
    """100 API sessions from one address each try to start a run: the per-client limit holds them to a few,
    and the server's memory grows by what those few cost, not by 100 runs. (One client object that takes a
    new session for each try: to the server, 100 sessions; to a loaded test machine, one HTTP connection.)"""
    import resource
    import uuid

    from ganlab.live import RunManager

    (manager,) = [m for m in RunManager.instances() if m.processes]
    limit, manager.max_runs_per_client = manager.max_runs_per_client, 3
    before = manager.run_count
    refused = 0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    client = Client(app_url, analytics_enabled=False, verbose=False, httpx_kwargs={"timeout": 120})
    sessions = []
    try:
        for _ in range(100):
            client.session_hash = str(uuid.uuid4())
            sessions.append(client.session_hash)
            try:
                client.predict(width=16, batch_size=32, api_name="/train_reset")
            except AppError as error:
                assert "runs open already" in str(error)
                refused += 1
        assert manager.run_count - before <= 3 and refused >= 97
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        print(f"100 sessions: {manager.run_count} runs in memory, peak RSS grew {grown_mb:.0f} MB")
        assert grown_mb < 300  # 100 runs with previews would be far more
    finally:
        manager.max_runs_per_client = limit
        for session in sessions:
            manager.close(session)
        client.close()


def test_closing_the_client_frees_its_run(app_url, monkeypatch):
    # The server notices a closed session at its next heartbeat (every 15 s by default): beat faster.
    monkeypatch.setenv("GRADIO_HEARTBEAT_INTERVAL", "0.5")
    client = Client(app_url, analytics_enabled=False, verbose=False)
    client.predict(width=16, batch_size=32, api_name="/train_start")
    wait_for(client, lambda s: s["step"] > 0)
    from ganlab.live import RunManager

    managers = [m for m in RunManager.instances() if m.run_count]
    before = sum(m.run_count for m in managers)
    client.close()
    deadline = time.monotonic() + 20
    while sum(m.run_count for m in managers) >= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sum(m.run_count for m in managers) < before


def test_the_teacher_sees_the_server_overview(client):
    client.predict(width=16, batch_size=32, api_name="/train_reset")
    text = client.predict("", api_name="/server_overview")  # loopback: the person at the keyboard is the admin
    assert "pages open" in text and "training slots busy" in text and "quizzes open" in text
    assert "runs in memory" in text and "unavailable" not in text

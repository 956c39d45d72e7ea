"""Training in worker processes (ganlab/live/worker.py): what the app's RunManager does differently from
training in a thread. The behaviour both share is tested in test_runs.py, in both modes."""

import json
import os
import signal
import time
from multiprocessing import Pipe

import pytest
import torch
from run_helpers import small, wait_until

from ganlab.live import RunManager
from ganlab.live.worker import WORKERS, load_players, players_tensors, receive, send
from ganlab.training import Trainer


@pytest.fixture
def manager(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CHECKPOINTS", str(tmp_path / "saved"))
    manager = RunManager(max_trainings=1, preview_dir=tmp_path / "previews", processes=True)
    yield manager
    manager.shutdown()


def test_messages_are_json_and_safetensors_bytes_never_pickles():
    ours, theirs = Pipe()
    weights = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([1, 2])}
    send(ours, {"do": "players", "ask": 3}, weights)
    raw_header = theirs.recv_bytes()
    assert json.loads(raw_header) == {"do": "players", "ask": 3, "tensors": True}
    raw_tensors = theirs.recv_bytes()
    assert b"__torch__" not in raw_tensors and raw_tensors[8:9] == b"{"  # safetensors: length, then JSON
    send(ours, {"do": "stop"})
    header, tensors = receive(theirs)
    assert header == {"do": "stop"} and tensors is None


def test_players_travel_between_trainers():
    source, target = Trainer(small()), Trainer(small(seed=5))
    list(source.run(max_steps=3))
    load_players(target, players_tensors(source, ["g", "d"]))
    for a, b in ((source.generator, target.generator), (source.discriminator, target.discriminator)):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_a_run_trains_in_another_process_and_hands_its_state_back(manager):
    manager.start("w", small())
    run = manager._runs["w"]
    assert wait_until(lambda: run.worker is not None and manager.snapshot("w").step >= 30)
    worker_pid = run.worker.process.pid
    assert worker_pid != os.getpid()
    before = [p.clone() for p in manager.trainer("w").generator.parameters()]
    preview = manager.preview("w", force=True)  # fetches G and D from the worker
    assert preview.step >= 30
    manager.pause("w")
    trainer = manager.trainer("w")
    assert trainer.step_count == manager.snapshot("w").step >= 30  # the worker's state came back
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters(), strict=True))
    assert trainer.opt_g.state_dict()["state"][0]["exp_avg"].abs().sum() > 0  # optimizer state too
    assert run.worker is None and run.thread is None  # paused: nothing of it is left training
    paused_at = trainer.step_count
    manager.resume("w")
    assert wait_until(lambda: manager.snapshot("w").step >= paused_at + 20)


def test_live_updates_reach_the_worker(manager):
    manager.start("u", small())
    run = manager._runs["u"]
    assert wait_until(lambda: run.worker is not None and manager.snapshot("u").step >= 5)
    manager.update("u", lr_g=3e-4, d_steps=2)
    time.sleep(0.3)
    manager.stop("u")
    handed_back = json.loads((manager._scratch / run.run_id / "handover" / "run.json").read_text())
    assert handed_back["config"]["lr_g"] == 3e-4 and handed_back["config"]["d_steps"] == 2


def test_saving_a_running_run_saves_the_workers_weights(manager):
    manager.start("s", small())
    run = manager._runs["s"]
    assert wait_until(lambda: run.worker is not None and manager.snapshot("s").step >= 50)
    directory = manager.save("s", "mid-run")
    saved = json.loads((directory / "run.json").read_text())["step_count"]
    assert saved >= 50  # the server's own copy is from step 0: the worker's state was saved
    assert manager.snapshot("s").status == "running"
    manager.load("t", "mid-run")
    assert manager.trainer("t").step_count == saved


def test_a_worker_that_dies_stops_the_run_with_a_message_and_it_can_go_on(manager):
    manager.start("k", small())
    run = manager._runs["k"]
    assert wait_until(lambda: run.worker is not None and manager.snapshot("k").step >= 10)
    os.kill(run.worker.process.pid, signal.SIGKILL)
    assert wait_until(lambda: manager.snapshot("k").status == "stopped")
    assert "ended unexpectedly" in manager.snapshot("k").message
    step = manager.trainer("k").step_count
    manager.resume("k")  # a new worker continues from the state the server kept
    assert wait_until(lambda: manager.snapshot("k").step > step + 10)


def test_the_time_limit_ends_a_run_in_a_worker(tmp_path):
    manager = RunManager(max_trainings=1, max_train_seconds=0.5, processes=True)
    try:
        manager.start("l", small())
        assert wait_until(lambda: "limit" in manager.snapshot("l").message)
        assert manager.snapshot("l").status == "finished" and manager.trainer("l").step_count > 0
    finally:
        manager.shutdown()


def test_training_falls_back_to_a_thread_when_no_process_can_start(manager, monkeypatch):
    def refuse(threads):
        raise OSError("not allowed here")

    monkeypatch.setattr(WORKERS, "acquire", refuse)
    manager.start("f", small())
    assert wait_until(lambda: manager.snapshot("f").step >= 20)
    assert manager._runs["f"].worker is None
    manager.pause("f")
    assert manager.snapshot("f").status == "paused"


def test_one_thread_trainings_get_cores_of_their_own(monkeypatch):
    import ganlab.live.worker as workers

    monkeypatch.setattr(workers, "_ALL_CORES", [0, 1, 2, 3])
    assert workers.free_core(set(), threads=1) == 3  # from the last core down
    assert workers.free_core({3, 2}, threads=1) == 1
    assert workers.free_core({0, 1, 2, 3}, threads=1) is None  # every core taken: the scheduler decides
    assert workers.free_core(set(), threads=2) is None  # a many-thread training is not pinned
    monkeypatch.setattr(workers, "_ALL_CORES", [0])
    assert workers.free_core(set(), threads=1) is None  # one core: nothing to gain

    class FakeWorker:
        def __init__(self, threads):
            self.threads, self.core, self.alive = threads, None, True

        def close(self):
            self.alive = False

    monkeypatch.setattr(workers, "_ALL_CORES", [0, 1])
    monkeypatch.setattr(workers, "Worker", FakeWorker)
    pool = workers.WorkerPool()
    first, second, third = pool.acquire(1), pool.acquire(1), pool.acquire(1)
    assert (first.core, second.core, third.core) == (1, 0, None)
    pool.release(first)
    assert first.core is None and pool.acquire(1).core == 1  # its core is free again (and it is reused)

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


def test_alone_a_training_keeps_its_threads_and_beside_others_it_gets_one_thread_on_a_core(monkeypatch):
    import ganlab.live.worker as workers

    plan = workers.plan_threads
    monkeypatch.setattr(workers, "_ALL_CORES", [0, 1])
    assert plan([]) == []
    assert plan([2]) == [(2, None)]  # an image run alone: every thread, not pinned
    assert plan([1]) == [(1, 1)]  # a 2D run alone: one thread, pinned
    assert plan([2, 2]) == [(1, 1), (1, 0)]  # two at once: one thread each, a core each
    assert plan([2, 1]) == [(1, 1), (1, 0)]
    assert plan([2, 1, 2]) == [(1, 1), (1, 0), (1, None)]  # more than cores: the scheduler shares them
    assert plan([1, 2], [0, None]) == [(1, 0), (1, 1)]  # a training keeps the core it has
    assert plan([1, 1], [1, 1]) == [(1, 1), (1, 0)]  # ... unless an earlier one has it
    assert plan([2], [0]) == [(2, None)]  # the other one ended: back to every thread
    monkeypatch.setattr(workers, "_ALL_CORES", [0, 1, 2, 3])
    assert plan([2, 2, 2]) == [(1, 3), (1, 2), (1, 1)]
    monkeypatch.setattr(workers, "_ALL_CORES", [0])  # one core: one thread each, nothing to pin
    assert plan([2, 2]) == [(1, None), (1, None)] and plan([1]) == [(1, None)]
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert workers.threads_alone("images") == 4 and workers.threads_alone("2d") == 1


def test_the_pool_tells_its_workers_again_when_a_training_starts_or_ends(monkeypatch):
    import ganlab.live.worker as workers

    class FakeWorker:
        def __init__(self, threads):
            self.threads, self.core, self.alone, self.alive, self.told = threads, None, threads, True, []

        def place(self, threads, core):
            self.threads, self.core = threads, core
            self.told.append((threads, core))

        def close(self):
            self.alive = False

    monkeypatch.setattr(workers, "_ALL_CORES", [0, 1])
    monkeypatch.setattr(workers, "Worker", FakeWorker)
    pool = workers.WorkerPool()
    first = pool.acquire(2)
    assert first.told == [(2, None)]  # alone: as fast as it goes
    second = pool.acquire(2)
    assert first.told[-1] == (1, 1) and second.told == [(1, 0)]
    third = pool.acquire(1)
    assert third.told == [(1, None)] and len(first.told) == 2  # the others are left where they are
    pool.release(first)
    assert first.core is None and second.told[-1] == (1, 0) and third.told[-1] == (1, 1)
    pool.release(third)
    assert second.told[-1] == (2, None)  # alone again
    assert pool.acquire(1) is third and (second.told[-1], third.told[-1]) == ((1, 1), (1, 0))  # an idle worker is reused


def test_two_workers_training_at_once_each_report_one_thread(tmp_path, monkeypatch):
    import ganlab.live.relay as relay

    monkeypatch.setattr(relay, "threads_alone", lambda kind: 2)  # as an image run on a 2-core machine
    manager = RunManager(max_trainings=2, preview_dir=tmp_path / "previews", processes=True)
    try:
        manager.start("a", small())
        first = manager._runs["a"]
        assert wait_until(lambda: first.worker is not None and first.worker.reported["threads"] == 2)
        manager.start("b", small(seed=1))
        second = manager._runs["b"]
        both = [first, second]
        assert wait_until(lambda: all(run.worker is not None and run.worker.reported["threads"] == 1 for run in both), timeout=90)
        assert first.worker.process.pid != second.worker.process.pid
        if len(os.sched_getaffinity(0)) >= 2:  # each kept on a core of its own
            cores = [run.worker.reported["cores"] for run in both]
            assert all(len(c) == 1 for c in cores) and cores[0] != cores[1]
        assert manager.snapshot("a").status == manager.snapshot("b").status == "running"
        manager.stop("b")
        assert wait_until(lambda: first.worker.reported["threads"] == 2)  # alone again
        assert wait_until(lambda: manager.snapshot("a").step > 0)
    finally:
        manager.shutdown()

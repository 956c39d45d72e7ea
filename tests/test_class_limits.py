"""A class on one server: runs in memory are bounded (in all, per client, idle ones put aside), Step takes a
training slot, saved runs belong to the browser that saved them, and publishing needs the admin key."""

import threading
import time

import pytest
from run_helpers import small, wait_until

from ganlab.admin import AdminKey, AdminKeyError
from ganlab.live import RunError, RunManager
from ganlab.owners import OwnershipError, SessionOwners, owner_id, private_dir, publish, resolve, saved_folders


@pytest.fixture
def saved_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CHECKPOINTS", str(tmp_path / "saved"))
    return tmp_path / "saved"


def test_runs_are_capped_per_client_and_in_all(saved_root):
    manager = RunManager(max_trainings=1, max_runs=5, max_runs_per_client=2)
    try:
        manager.create("a1", small(), client="10.0.0.1")
        manager.create("a2", small(), client="10.0.0.1")
        with pytest.raises(RunError, match="2 runs open already"):
            manager.create("a3", small(), client="10.0.0.1")
        manager.create("a2", small(seed=3), client="10.0.0.1")  # replacing one's own run is not one more
        for index in range(3):
            manager.create(f"b{index}", small(), client=f"10.0.1.{index}")
        with pytest.raises(RunError, match="holds 5 runs already"):
            manager.create("c", small(), client="10.0.2.1")
        assert manager.run_count == 5
        manager.close("a1")
        manager.create("a3", small(), client="10.0.0.1")  # a freed place can be taken again
    finally:
        manager.shutdown()


def test_an_idle_run_is_put_aside_and_comes_back_where_it_was(saved_root):
    manager = RunManager(max_trainings=1, idle_s=0.6)
    try:
        manager.start("alice", small())
        assert wait_until(lambda: manager.snapshot("alice").step >= 30)
        manager.pause("alice")
        time.sleep(0.1)  # the step in flight lands
        step = manager.snapshot("alice").step
        # Nobody watches or controls it: the reaper saves it to scratch and frees its memory.
        assert wait_until(lambda: manager.run_count == 0, timeout=10)
        assert manager.set_aside_count == 1
        back = manager.snapshot("alice")  # asking for it again brings it back, paused, at the same step
        assert back is not None and back.status == "ready" and back.step == step
        assert "put aside" in back.step_note and manager.set_aside_count == 0
        manager.resume("alice")
        assert wait_until(lambda: manager.snapshot("alice").step > step)
    finally:
        manager.shutdown()


def test_a_watched_run_is_never_put_aside(saved_root):
    manager = RunManager(max_trainings=1, idle_s=0.5)
    try:
        manager.start("alice", small())
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:  # the live stream reads it several times a second
            assert manager.snapshot("alice").status == "running"
            time.sleep(0.1)
        assert manager.set_aside_count == 0
    finally:
        manager.shutdown()


def test_step_takes_a_training_slot(saved_root):
    manager = RunManager(max_trainings=1)
    try:
        manager.start("alice", small())
        assert wait_until(lambda: manager.snapshot("alice").status == "running")
        manager.create("bob", small())
        with pytest.raises(RunError, match="training slots are busy"):
            manager.step("bob")  # alice holds the only slot
        manager.pause("alice")
        assert manager.step("bob").step == 1
        # While bob's two moves play, the slot is his: a resume in between queues instead of training.
        started = threading.Event()
        original = manager._two_moves

        def slow_moves(run):
            started.set()
            time.sleep(0.5)
            return original(run)

        manager._two_moves = slow_moves
        stepper = threading.Thread(target=manager.step, args=("bob",))
        stepper.start()
        started.wait(5)
        assert manager.resume("alice").status == "queued"
        stepper.join()
        assert wait_until(lambda: manager.snapshot("alice").status == "running")  # the slot came back
    finally:
        manager.shutdown()


def test_saved_runs_belong_to_their_owner(saved_root):
    manager = RunManager(max_trainings=1)
    alice, bob = owner_id("alice-browser-token"), owner_id("bob-browser-token")
    try:
        manager.create("a", small())
        manager.step("a")
        manager.save("a", "mine-only", owner=alice)
        assert "mine/mine-only" in saved_folders(alice) and "mine/mine-only" not in saved_folders(bob)
        assert not any(label.endswith("mine-only") for label in saved_folders(None))  # not in the class's list
        with pytest.raises(RunError, match="no saved run"):
            manager.load("b", "mine/mine-only", owner=bob)
        with pytest.raises(RunError, match="no saved checkpoint"):
            manager.export_zip("a", "mine-only", owner=bob)
        assert manager.load("b", "mine/mine-only", owner=alice).step == 1
        # Bob saving under the same name writes his own copy; Alice's is untouched.
        manager.save("a", "mine-only", owner=bob)
        assert (private_dir(alice) / "mine-only").is_dir() and (private_dir(bob) / "mine-only").is_dir()
        with pytest.raises(OwnershipError):
            resolve("mine/../" + alice + "/mine-only", bob)
        # The owner's folder is named by a hash: the browser token is never on disk.
        assert "alice-browser-token" not in str(private_dir(alice))
    finally:
        manager.shutdown()


def test_publishing_shares_the_run_but_not_the_owners_data(saved_root, tmp_path):
    import numpy as np

    from ganlab.data.toy import from_points

    manager = RunManager(max_trainings=1)
    teacher = owner_id("teacher")
    try:
        points = np.random.default_rng(0).normal(size=(200, 2))
        manager.create("t", small("custom"), from_points(points))
        manager.step("t")
        folder = manager.save("t", "drawn", owner=teacher)
        assert (folder / "training_data.safetensors").is_file()  # resumable by its owner
        assert publish(teacher, "drawn") == "saved/drawn"
        shared = saved_root / "drawn"
        assert (shared / "config.json").is_file() and not (shared / "training_data.safetensors").exists()
        assert "saved/drawn" in saved_folders(owner_id("a student"))
        with pytest.raises(OwnershipError, match="already has a run"):
            publish(teacher, "drawn")
        with pytest.raises(OwnershipError):
            publish(owner_id("a student"), "drawn")  # not theirs to publish
    finally:
        manager.shutdown()


def test_the_admin_key_is_asked_only_off_loopback(monkeypatch):
    monkeypatch.delenv("GANLAB_ADMIN_KEY", raising=False)
    local = AdminKey(listening_on="127.0.0.1")
    local.check(None, what="publishing")  # the person at the keyboard
    class_server = AdminKey(listening_on="0.0.0.0")
    assert class_server.required and len(class_server.key) >= 16
    with pytest.raises(AdminKeyError, match="admin key"):
        class_server.check(None, what="publishing")
    with pytest.raises(AdminKeyError):
        class_server.check(class_server.key + "x", what="publishing")
    class_server.check(class_server.key, what="publishing")
    monkeypatch.setenv("GANLAB_ADMIN_KEY", "shared-by-replicas")
    assert AdminKey(listening_on="0.0.0.0").key == "shared-by-replicas"


def test_sessions_map_to_their_browsers_owner():
    owners = SessionOwners()
    assert owners.owner_of("s1") != owners.owner_of("s2")  # API sessions own what they save, apart
    owners.bind("s1", "token")
    owners.bind("s2", "token")  # the same browser in two tabs, or after a reload
    assert owners.owner_of("s1") == owners.owner_of("s2") == owner_id("token")
    owners.forget("s1")
    assert owners.owner_of("s1") != owner_id("token")


def test_the_server_overview_counts_runs_by_state(saved_root):
    from ganlab.overview import server_overview

    manager = RunManager(max_trainings=1)
    owners = SessionOwners()
    owners.bind("s1", "a browser")
    try:
        manager.start("alice", small())
        manager.start("bob", small())  # the only slot is alice's: bob waits
        manager.create("carol", small())

        class Quizzes:
            def open_quiz_count(self):
                return 2

        numbers = server_overview(manager, owners, Quizzes())
        assert (numbers.pages_open, numbers.runs_training, numbers.runs_queued, numbers.runs_in_memory) == (1, 1, 1, 3)
        assert numbers.quizzes_open == 2 and "**1** / 1 training slots busy" in numbers.markdown()
        assert server_overview(manager, owners).quizzes_open is None
    finally:
        manager.shutdown()

"""The live view's picture files (ganlab/live/previews.py): a client that fetches a picture seconds after it
was told about it still gets it, and a file already gone never raises."""

import os
import shutil
import time

import pytest
from run_helpers import small, wait_until

from ganlab.live import RunManager
from ganlab.live.previews import prune_previews


def pictures(folder, ages):
    """Files written ``ages`` seconds ago (oldest first)."""
    now = time.time()
    files = []
    for i, age in enumerate(ages):
        path = folder / f"run-{i}.png"
        path.write_bytes(b"png")
        os.utime(path, (now - age, now - age))
        files.append(path)
    return files


def test_recent_pictures_stay_for_a_client_seconds_late(tmp_path):
    files = pictures(tmp_path, [20, 15, 10, 5, 1])
    assert prune_previews(files, keep=2, keep_s=30) == files
    assert all(path.exists() for path in files)


def test_old_pictures_go_but_the_last_few_stay_however_old(tmp_path):
    files = pictures(tmp_path, [300, 200, 100, 90, 80, 1])
    left = prune_previews(files, keep=3, keep_s=30)
    assert left == files[-3:]  # 90 s and 80 s old, but among the last three
    assert [path.exists() for path in files] == [False, False, False, True, True, True]


def test_the_ring_is_bounded_even_when_every_picture_is_young(tmp_path):
    files = pictures(tmp_path, [5, 4, 3, 2, 1, 0])
    left = prune_previews(files, keep=2, keep_s=30, most=4)
    assert left == files[-4:] and not files[0].exists() and not files[1].exists()


def test_a_picture_already_gone_is_dropped_without_an_error(tmp_path):
    files = pictures(tmp_path, [100, 100, 100, 1])
    files[0].unlink()
    files[2].unlink()
    assert prune_previews(files, keep=1, keep_s=30) == files[-1:]
    assert prune_previews([tmp_path / "never-written.png"] * 3, keep=1) == [tmp_path / "never-written.png"]


def test_the_curves_on_show_are_kept_whatever_their_age(tmp_path):
    files = pictures(tmp_path, [500, 400, 300, 1])
    left = prune_previews(files, on_show=files[0], keep=1, keep_s=30)
    assert left == [files[0], files[3]] and files[0].exists() and not files[1].exists()


@pytest.fixture
def manager(tmp_path):
    manager = RunManager(max_trainings=1, preview_dir=tmp_path / "previews", preview_interval_s=0.0)
    yield manager
    manager.shutdown()


def test_a_training_keeps_its_recent_pictures_and_survives_files_deleted_under_it(manager):
    manager.start("p", small())
    assert wait_until(lambda: manager.snapshot("p").step >= 5)
    paths = []
    for _ in range(12):
        preview = manager.preview("p", force=True)
        paths.append(preview.path)
    assert all(path.exists() for path in paths)  # a dozen pictures in a second or two: none deleted yet
    for path in paths[:6]:
        path.unlink()  # cleaned away by someone else
    shutil.rmtree(manager.preview_dir)  # ... even the whole folder
    preview = manager.preview("p", force=True)
    assert preview.path is not None and preview.path.exists()
    assert preview.curves_path is not None
    manager.stop("p")

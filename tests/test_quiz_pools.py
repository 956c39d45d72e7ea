"""Quiz pools: sampled once from a checkpoint, kept on disk, and identical when loaded again."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganlab.sampling
from ganlab.checkpoints import save_model
from ganlab.data.images import load_image_dataset
from ganlab.models.gan import Generator, GeneratorConfig
from ganlab.quiz import QuizError, QuizStore
from ganlab.quiz.pools import GeneratorInfo, PoolCache, describe_generator, quiz_generators, slug

N = 60  # samples per checkpoint: enough for a 20-trial deck, fast to make


def tiny_generator(seed: int = 0, **overrides) -> Generator:
    torch.manual_seed(seed)
    config = dict(arch="dcgan", data_shape=(1, 28, 28), noise_dim=8, width=8)
    config.update(overrides)
    return Generator(GeneratorConfig(**config))


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("quiz-pools")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_model(tiny_generator(), folder, metadata={"dataset": "mnist"})
    return folder


def test_generator_pool_is_made_once_cached_on_disk_and_reloaded_identically(cache_root, checkpoint, monkeypatch):
    pool = PoolCache(cache_root, n_fakes=N).generator_pool(checkpoint, label="saved/Tiny Digits")
    assert pool.name.startswith("saved-tiny-digits-") and not pool.is_real
    assert pool.images.shape == (N, 28, 28) and pool.images.dtype == np.uint8
    assert (cache_root / pool.name / "pools.json").is_file()
    assert (cache_root / pool.name / f"{pool.name}.npy").is_file()

    # A fresh cache object (a restarted app) must load, never sample again.
    def no_sampling(*args, **kwargs):
        raise AssertionError("the pool was generated again instead of loaded")

    monkeypatch.setattr(ganlab.sampling, "generate_images", no_sampling)
    again = PoolCache(cache_root, n_fakes=N).generator_pool(checkpoint, label="saved/Tiny Digits")
    assert again.name == pool.name
    np.testing.assert_array_equal(again.images, pool.images)
    assert again.fingerprint == pool.fingerprint


def test_pool_name_follows_weights_count_and_seed(cache_root, checkpoint, tmp_path):
    cache = PoolCache(cache_root, n_fakes=N)
    name = cache.generator_pool_name(checkpoint, label="tiny")
    assert cache.generator_pool_name(checkpoint, label="tiny") == name
    retrained = tmp_path / "tiny"
    save_model(tiny_generator(seed=1), retrained, metadata={"dataset": "mnist"})
    assert cache.generator_pool_name(retrained, label="tiny") != name
    assert PoolCache(cache_root, n_fakes=N + 2).generator_pool_name(checkpoint, label="tiny") != name
    assert PoolCache(cache_root, n_fakes=N, seed=1).generator_pool_name(checkpoint, label="tiny") != name


def test_real_pool_is_the_heldout_split_and_is_kept(cache_root):
    pool = PoolCache(cache_root).real_pool("mnist")
    heldout = load_image_dataset("mnist", "heldout")
    assert pool.is_real and pool.name.startswith("mnist-heldout-")
    np.testing.assert_array_equal(pool.images, heldout.images.numpy()[:, 0])
    again = PoolCache(cache_root).real_pool("mnist")
    assert again.name == pool.name and again.fingerprint == pool.fingerprint
    with pytest.raises(QuizError, match="held-out real images"):
        PoolCache(cache_root).real_pool("cifar10")


def test_registry_loads_cached_pools_so_a_restarted_store_serves_old_quizzes(cache_root, checkpoint, tmp_path):
    info = GeneratorInfo("saved/tiny", checkpoint, "mnist", (1, 28, 28))
    names = PoolCache(cache_root, n_fakes=N).prepare([info])
    database = tmp_path / "quiz.sqlite"
    with QuizStore(database, PoolCache(cache_root, n_fakes=N).registry()) as store:
        created = store.create_quiz(sources=[names.fakes["saved/tiny"]], real_pool=names.real, deck_size=20)
        joined = store.join(created.code, "Ada")
        store.answer(joined.token, 1, "real", trial_id=store.render_trial(joined.token).trial_id)
    # "Restart": new cache object, empty registry; the pools come back from disk, fingerprints match.
    with QuizStore(database, PoolCache(cache_root, n_fakes=N).registry()) as store:
        trial = store.render_trial(joined.token)
        assert trial.trial_number == 2 and len(trial.images) == 1
    registry = PoolCache(cache_root).registry()
    for bad in ("no-such-pool", "../etc", "", "UPPER"):
        with pytest.raises(QuizError, match="no image pool"):
            registry.get(bad)


def test_a_modified_cache_file_is_refused(cache_root, checkpoint, tmp_path):
    cache = PoolCache(tmp_path, n_fakes=N)
    pool = cache.generator_pool(checkpoint, label="tiny")
    file = tmp_path / pool.name / f"{pool.name}.npy"
    tampered = pool.images.copy()
    tampered[0, 0, 0] ^= 1
    np.save(file, tampered, allow_pickle=False)
    with pytest.raises(QuizError, match="does not match its manifest"):
        PoolCache(tmp_path, n_fakes=N).load(pool.name)


def test_prepare_refuses_mixed_datasets_and_mismatched_shapes(cache_root, checkpoint, tmp_path):
    cache = PoolCache(cache_root, n_fakes=N)
    mnist = GeneratorInfo("a", checkpoint, "mnist", (1, 28, 28))
    fashion = GeneratorInfo("b", checkpoint, "fashion-mnist", (1, 28, 28))
    with pytest.raises(QuizError, match="same dataset"):
        cache.prepare([mnist, fashion])
    with pytest.raises(QuizError, match="at least one"):
        cache.prepare([])
    wrong = tmp_path / "rgb32"
    save_model(tiny_generator(data_shape=(3, 32, 32)), wrong, metadata={"dataset": "mnist"})
    with pytest.raises(QuizError, match="must match"):
        cache.prepare([GeneratorInfo("rgb", wrong, "mnist", (3, 32, 32))])


def test_describe_and_list_quiz_generators(checkpoint, tmp_path, monkeypatch):
    assert describe_generator("tiny", checkpoint).dataset == "mnist"
    toy = tmp_path / "saved" / "toy"
    save_model(Generator(GeneratorConfig(arch="mlp", data_shape=(2,), width=8)), toy, metadata={"dataset": "ring8"})
    with pytest.raises(QuizError, match="2D points"):
        describe_generator("toy", toy)
    unknown = tmp_path / "saved" / "unknown"
    save_model(tiny_generator(), unknown, metadata={})
    with pytest.raises(QuizError, match="unknown dataset"):
        describe_generator("unknown", unknown)
    save_model(tiny_generator(), tmp_path / "saved" / "digits", metadata={"dataset": "mnist"})
    monkeypatch.setenv("GANLAB_CHECKPOINTS", str(tmp_path / "saved"))
    found = quiz_generators()
    assert "saved/digits" in found and "saved/toy" not in found and "saved/unknown" not in found
    assert slug("saved/My Digits!") == "saved-my-digits" and slug("///") == "generator"


def test_each_quiz_gets_images_of_its_own(cache_root, checkpoint, tmp_path):
    """Two quizzes over the same generator share (almost) no image bytes: fakes sampled with a seed of
    their own, real images from held-out slices no other quiz has claimed."""
    info = GeneratorInfo("saved/tiny", checkpoint, "mnist", (1, 28, 28))
    cache = PoolCache(cache_root, n_fakes=N)
    first, second = cache.prepare([info], reals=150), cache.prepare([info], reals=150)
    assert first.real != second.real and first.fakes != second.fakes
    registry = cache.registry()
    assert len(registry.get(first.real)) >= 150
    served: list[set[bytes]] = []
    with QuizStore(tmp_path / "quiz.sqlite", registry) as store:
        for pools in (first, second):
            created = store.create_quiz(sources=list(pools.fakes.values()), real_pool=pools.real, deck_size=20)
            images = set()
            for person in range(6):
                token = store.join(created.code, f"p{person}").token
                while (trial := store.render_trial(token)) is not None:
                    images.update(trial.images)
                    store.answer(token, trial.trial_number, "real")
            served.append(images)
    # What each quiz could ever show, not only what it showed:
    pixels = [
        {image.tobytes() for name in (p.real, *p.fakes.values()) for image in registry.get(name).images} for p in (first, second)
    ]
    assert len(pixels[0] & pixels[1]) <= 0.01 * len(pixels[0] | pixels[1])
    assert len(served[0]) >= 60 and len(served[0] & served[1]) <= 0.01 * len(served[0] | served[1])

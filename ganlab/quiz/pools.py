"""Image pools for the quiz, made from generator checkpoints and held-out real images, kept on disk.

A quiz stores each pool's fingerprint and refuses to serve from a pool that changed (docs/QUIZ.md),
and sampling a generator again on another device need not give bit-identical images. So every
pool is made once and saved with ``QuizImages.save`` under ``<cache>/<pool name>/``; later calls
(and a restarted app) load it from there. The cache is ``$GANLAB_QUIZ_POOLS``, else
quiz-pools/ in the data home (``GANLAB_HOME``, ganlab.paths).

Every quiz gets images of its own (``prepare``): the fakes are sampled afresh with a sampling
seed of the quiz's own, and the real images are a share of the held-out split that no other quiz
has claimed yet (the split is cut, in a fixed shuffled order, into slices of ``REAL_SLICE``
images, and a quiz claims free slices by creating a file per slice, which is atomic even between
processes; when all are taken, the least recently made are reused). So a participant who takes
two quizzes over the same generator does not meet the same images twice, and one quiz's images
say nothing about another's.

Pool names carry a short hash of what made them: ``saved-digits-3fa2c1d0`` is samples of the
checkpoint ``saved/digits`` with those exact weights, that count and that sampling seed, and
``mnist-heldout-91be02aa`` the held-out MNIST digits with that fingerprint
(``mnist-heldout-91be02aa-s3-s4`` its slices 3 and 4). A retrained checkpoint therefore gets a
new pool and quizzes made with the old weights keep theirs. ``PoolCache.load`` is the loader a
``QuizImages`` registry calls for a pool it has not seen yet.

This is the one quiz module that touches torch (to sample generators); it imports it only when
it has to make a pool, so ``ganlab.quiz`` stays light.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganlab.data.registry import HELDOUT_DATASETS
from ganlab.paths import data_home, from_env
from ganlab.quiz.errors import QuizError
from ganlab.quiz.images import MANIFEST, POOL_NAME, ImagePool, QuizImages, fsync_directory

POOLS_ENV = "GANLAB_QUIZ_POOLS"
DEFAULT_FAKES = 1_000  # samples per checkpoint and quiz: many more than one deck uses, so decks differ
REAL_SLICE = 100  # held-out images per claimable slice
DEFAULT_REALS = 300  # held-out images per quiz (at least; more when its decks need more)
QUIZ_DATASETS = HELDOUT_DATASETS  # datasets with a held-out split of real images (ganlab.data.registry)
_FORMAT = 1  # bump when the way a pool is made changes, so old cache entries are not reused
_HASH_CHARS = 8


def default_pool_dir() -> Path:
    """``$GANLAB_QUIZ_POOLS``, else quiz-pools/ in the data home (ganlab.paths): a quiz's images must outlive
    a cleared cache as long as its answers do."""
    return from_env(POOLS_ENV, data_home() / "quiz-pools")


def slug(text: str) -> str:
    """A pool-name-safe version of a checkpoint name: "saved/My Digits" -> "saved-my-digits"."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-._")
    return cleaned[:40].rstrip("-._") or "generator"


@dataclass(frozen=True)
class GeneratorInfo:
    """What the quiz needs to know about a generator checkpoint before sampling it."""

    name: str  # as the user picked it, e.g. "mnist-dcgan" or "saved/digits"
    folder: Path
    dataset: str  # the dataset it was trained on ("mnist", "fashion-mnist")
    image_shape: tuple[int, int, int]  # (C, H, W)


def describe_generator(name: str, folder: str | Path) -> GeneratorInfo:
    """Read a checkpoint's config; raise QuizError if it cannot take part in a quiz."""
    from ganlab.checkpoints import CheckpointError, read_config

    try:
        document = read_config(folder)
    except CheckpointError as error:
        raise QuizError(f"cannot use {name}: {error}") from None
    if document["kind"] != "generator":
        raise QuizError(f"{name} is a {document['kind']}, not a generator")
    shape = tuple(document["config"].get("data_shape", ()))
    if len(shape) != 3:
        raise QuizError(f"{name} makes 2D points, not images; a quiz needs an image generator")
    dataset = (document.get("metadata") or {}).get("dataset")
    if dataset not in QUIZ_DATASETS:
        raise QuizError(
            f"{name} was trained on {dataset or 'an unknown dataset'}; the quiz needs held-out real images "
            f"to mix in, which exist for {', '.join(QUIZ_DATASETS)}"
        )
    return GeneratorInfo(name=name, folder=Path(folder), dataset=dataset, image_shape=shape)


def quiz_generators() -> dict[str, GeneratorInfo]:
    """Every generator checkpoint (shipped, then saved) a quiz can use, by name."""
    from ganlab.checkpoints import available_generators

    found = {}
    for name, folder in available_generators().items():
        try:
            found[name] = describe_generator(name, folder)
        except QuizError:
            continue  # 2D models and models of custom folders cannot be quizzed
    return found


@dataclass(frozen=True)
class QuizPools:
    """The pool names one quiz is created from."""

    real: str
    fakes: dict[str, str]  # checkpoint name -> pool name


class PoolCache:
    """Makes image pools once and keeps them on disk; ``load`` is a ``QuizImages`` loader.

    root: the cache folder (default ``default_pool_dir()``).
    n_fakes, seed: how many samples to draw from each checkpoint, and with which noise seed.
    device: where to run generators (default: ``ganlab.device.pick_device()``).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        n_fakes: int = DEFAULT_FAKES,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        if not isinstance(n_fakes, int) or n_fakes < 2:
            raise QuizError(f"n_fakes must be a whole number >= 2; got {n_fakes!r}")
        self.root = Path(root).expanduser() if root is not None else default_pool_dir()
        self.n_fakes = n_fakes
        self.seed = int(seed)
        self.device = device
        self._build_lock = threading.Lock()  # one pool is made at a time; others wait and then load it

    # -- reading the cache ---------------------------------------------------------------------
    def load(self, name: str) -> ImagePool | None:
        """The cached pool called ``name``, or None when the cache has no such pool."""
        if not isinstance(name, str) or not POOL_NAME.match(name):
            return None
        folder = self.root / name
        if not (folder / MANIFEST).is_file():
            return None
        registry = QuizImages.load(folder)  # checks every file against its fingerprint
        return registry.get(name)

    def registry(self) -> QuizImages:
        """An empty ``QuizImages`` that loads pools from this cache when a quiz asks for them."""
        return QuizImages(loader=self.load)

    # -- making pools --------------------------------------------------------------------------
    def generator_pool_name(self, checkpoint: str | Path, *, label: str | None = None, seed: int | None = None) -> str:
        """``<slug of the label>-<hash>``, the hash taken over the checkpoint's config and weights
        and over how the pool is sampled (count, seed), so different weights get different pools."""
        from ganlab.checkpoints import CONFIG_FILE, WEIGHTS_FILE, resolve_checkpoint

        folder = resolve_checkpoint(checkpoint)
        document = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        seed = self.seed if seed is None else int(seed)
        digest = hashlib.sha256(f"ganlab-quiz-pool/{_FORMAT}/{self.n_fakes}/{seed}/".encode())
        digest.update(json.dumps([document.get("class"), document.get("config")], sort_keys=True).encode())
        with open(folder / WEIGHTS_FILE, "rb") as weights:
            for block in iter(lambda: weights.read(1 << 20), b""):
                digest.update(block)
        return f"{slug(label or folder.name)}-{digest.hexdigest()[:_HASH_CHARS]}"

    def generator_pool(self, checkpoint: str | Path, *, label: str | None = None, seed: int | None = None) -> ImagePool:
        """``n_fakes`` samples of a generator checkpoint with sampling seed ``seed`` (default: the
        cache's), made on first use, then loaded."""
        seed = self.seed if seed is None else int(seed)
        name = self.generator_pool_name(checkpoint, label=label, seed=seed)
        cached = self.load(name)
        if cached is not None:
            return cached
        with self._build_lock:
            cached = self.load(name)  # another thread may have made it while we waited
            if cached is not None:
                return cached
            from ganlab.checkpoints import load_model
            from ganlab.device import pick_device
            from ganlab.sampling import generate_images

            device = pick_device(self.device)
            generator = load_model(checkpoint, device=device, kind="generator")
            if not generator.config.is_image:
                raise QuizError(f"{label or checkpoint} makes 2D points, not images")
            images, _ = generate_images(generator, self.n_fakes, seed=seed, device=device)
            pool = ImagePool.from_nchw(name, False, images)
            return self._save(pool)

    def real_pool(self, dataset: str) -> ImagePool:
        """The held-out real images of ``dataset``. The first version cached is kept for good, so
        quizzes never lose their real pool when a fuller copy of the dataset appears later."""
        if dataset not in QUIZ_DATASETS:
            raise QuizError(f"the quiz has held-out real images for {', '.join(QUIZ_DATASETS)}; got {dataset!r}")
        cached = self._first_real(dataset)
        if cached is not None:
            return cached
        with self._build_lock:
            cached = self._first_real(dataset)
            if cached is not None:
                return cached
            from ganlab.data.images import DataError, load_image_dataset

            try:
                data = load_image_dataset(dataset, "heldout")
            except DataError as error:
                raise QuizError(f"cannot load the held-out {dataset} images: {error}") from None
            images = data.images.numpy()
            unnamed = ImagePool.from_nchw("unnamed", True, images)  # the fingerprint names the pool
            pool = ImagePool(f"{dataset}-heldout-{unnamed.fingerprint[:_HASH_CHARS]}", True, unnamed.images)
            return self._save(pool)

    def real_share(self, dataset: str, count: int = DEFAULT_REALS) -> ImagePool:
        """At least ``count`` held-out images of ``dataset`` that no other quiz has (while free slices
        last): slices of the split in a fixed shuffled order, claimed by creating one file each."""
        full = self.real_pool(dataset)
        n_slices = max(1, len(full) // REAL_SLICE)
        wanted = min(n_slices, -(-max(count, 1) // REAL_SLICE))
        claims = self.root / "claims" / full.name
        claims.mkdir(parents=True, exist_ok=True)
        chosen: list[int] = []
        for index in range(n_slices):
            if len(chosen) == wanted:
                break
            try:
                os.close(os.open(claims / str(index), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                continue  # another quiz has it
            chosen.append(index)
        if len(chosen) < wanted:  # every slice is taken: reuse the ones claimed longest ago
            oldest = sorted((f for f in claims.iterdir() if f.name.isdigit()), key=lambda f: f.stat().st_mtime)
            for file in oldest:
                if len(chosen) == wanted:
                    break
                if int(file.name) not in chosen:
                    file.touch()
                    chosen.append(int(file.name))
        chosen.sort()
        order = np.random.default_rng(int(full.fingerprint[:16], 16)).permutation(len(full))
        size = len(full) // n_slices
        indices = np.concatenate([order[i * size : (i + 1) * size] for i in chosen])
        name = f"{full.name}-" + "-".join(f"s{i}" for i in chosen)
        if len(name) > 64:
            name = f"{full.name}-s{hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]}"
        cached = self.load(name)
        if cached is not None:
            return cached
        return self._save(ImagePool(name, True, full.images[np.sort(indices)]))

    def prepare(self, generators: Sequence[GeneratorInfo], *, reals: int = DEFAULT_REALS) -> QuizPools:
        """Make the pools of one new quiz over these generators (all of one dataset): fakes sampled
        with a fresh seed, and at least ``reals`` held-out images no other quiz has yet."""
        if not generators:
            raise QuizError("choose at least one generator checkpoint")
        datasets = sorted({g.dataset for g in generators})
        if len(datasets) > 1:
            raise QuizError(
                "all generators of a quiz must be trained on the same dataset (the real images are drawn "
                f"from one); got {', '.join(datasets)}"
            )
        real = self.real_share(datasets[0], reals)
        fakes = {}
        for info in generators:
            pool = self.generator_pool(info.folder, label=info.name, seed=secrets.randbits(62))
            if pool.image_shape != real.image_shape:
                raise QuizError(
                    f"{info.name} makes images of shape {pool.image_shape} but the held-out {info.dataset} "
                    f"images have shape {real.image_shape}; they must match"
                )
            fakes[info.name] = pool.name
        return QuizPools(real=real.name, fakes=fakes)

    def keep(self, pool: ImagePool) -> ImagePool:
        """Keep a pool made elsewhere (e.g. from your own image files) in the cache, so the app finds it."""
        return self._save(pool)

    # -- internals -----------------------------------------------------------------------------
    def _first_real(self, dataset: str) -> ImagePool | None:
        whole = re.compile(rf"^{re.escape(dataset)}-heldout-[0-9a-f]{{{_HASH_CHARS}}}$")  # not a quiz's share of it
        candidates = sorted(
            (
                folder
                for folder in self.root.glob(f"{dataset}-heldout-*")
                if whole.match(folder.name) and (folder / MANIFEST).is_file()
            ),
            key=lambda folder: (folder.stat().st_mtime, folder.name),
        )
        return self.load(candidates[0].name) if candidates else None

    def _save(self, pool: ImagePool) -> ImagePool:
        """Write the pool under a temporary name, then rename: a crash never leaves half a pool
        under the real name, and two processes making the same pool both end up with one."""
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / pool.name
        scratch = self.root / f".tmp-{pool.name}-{secrets.token_hex(4)}"
        QuizImages([pool]).save(scratch)
        try:
            os.rename(scratch, target)
            fsync_directory(self.root)  # the rename itself reaches the disk before a quiz refers to it
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)  # another process saved it first: use theirs
            cached = self.load(pool.name)
            if cached is None:
                raise
            return cached
        return pool

"""Evaluate images saved in files: a .npz written by ``ganlab sample``, or a folder or .zip of images.

``evaluate_files`` compares them with a named dataset or a folder of real images, reading the
files, guessing the dataset when none is named and splitting real images into two halves;
``ganlab.metrics.evaluate`` does the metrics. Its names stay importable from there too.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ganlab.metrics import evaluate as _evaluate
from ganlab.metrics.classifier import Classifier, classifier_name
from ganlab.metrics.evaluate import EvaluationReport, FeatureExtractor, Progress, _progress, classifier_metadata
from ganlab.metrics.inception import InceptionFeatures
from ganlab.metrics.memorization import nearest_training_distances

# The evaluate module's logger, as before the split; load_inception, load_classifier and
# evaluate_images are called through that module, so that patching them there still works.
log = _evaluate.log

# Folders are read at this size for Inception (which resizes to 299 itself): enough for the
# small images GANs make here, and 49 KB a picture rather than 268 KB at 299x299.
INCEPTION_READ_SIZE = 128
# Guessing the dataset of 28x28 images: this many of them against this many training images.
GUESS_QUERIES, GUESS_POOL = 200, 2000
# Labels of a .npz are checked (label accuracy, class-conditional FID) from this many images a class.
MIN_IMAGES_PER_CLASS = 20


def evaluate_files(
    source: str | Path,
    against: str | Path | None = None,
    *,
    classifier: str | Path | None = None,
    features: str | None = None,
    n: int = 10000,
    seed: int = 0,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Evaluate images saved in files: a .npz written by ``ganlab sample``, or a folder or .zip of images.

    ``against`` is what they are compared with: a dataset name ("mnist", "fashion-mnist"; its
    held-out split is the real set and its training split the reference), or a folder, .zip or
    .npz of real images, split at random into two halves: the real set and the reference. Left
    out, it is the dataset of ``classifier`` when that is a named dataset's, else, for 1x28x28
    images in a .npz, the named dataset nearest to them in pixels (a note says which).

    Features come from ``classifier`` (a domain classifier checkpoint, such as
    ``scripts/train_classifier.py --data-folder`` writes), from Inception-v3 (``features="inception"``),
    or by default from the shipped classifier of a named dataset and from Inception-v3 otherwise.
    Folders are read at the size of the other set (a .npz, a named dataset) or of the extractor.
    """
    report = _progress(progress)
    _check_options(n, features, classifier)
    source = Path(source)
    report(0.0, "loading the feature extractor")
    extractor, dataset = _named_extractor(source, against, classifier, features)

    report(0.02, "reading the images")
    generated, labels = _read_npz(source) if _is_npz(source) else (None, None)
    real_path, real = _real_files(against, dataset)
    notes = []
    if against is None and dataset is None:
        dataset = _nearest_dataset(source, generated, seed, notes)
    if extractor is None:
        extractor = _evaluate.load_classifier(classifier_name(dataset)) if dataset else _evaluate.load_inception()
    shape = _working_shape(generated, real, dataset, extractor)
    if generated is None:
        generated = _read_folder(source, shape)
    if dataset is None and real is None:
        real = _read_folder(real_path, shape)
    _check_shapes(generated, shape, source, real_path or dataset)
    _check_extractor(extractor, shape)
    log.info("features: %s; images compared at %s", extractor.config.dataset, "x".join(map(str, shape)))

    rng = np.random.default_rng(seed)
    heldout, train, real_labels, against_text = _real_sets(dataset, real, real_path, rng, notes)
    log.info("generated: %s, %d images; real: %s", source, len(generated), against_text)
    n = min(n, len(heldout), len(generated))
    if len(generated) > n:  # a random subset: a .npz may be stored sorted by class
        pick = rng.choice(len(generated), n, replace=False)
        generated, labels = generated[pick], (labels[pick] if labels is not None else None)
    if labels is not None:
        labels, note = _usable_labels(labels, extractor, real_labels, n)
        notes.append(note)

    result = _evaluate.evaluate_images(
        generated,
        heldout,
        train,
        extractor,
        generated_labels=labels,
        heldout_labels=real_labels[0] if labels is not None else None,
        train_labels=real_labels[1] if labels is not None else None,
        n=n,
        seed=seed,
        title=f"Evaluation of {source} against {against_text}",
        progress=lambda f, m: report(0.1 + 0.9 * f, m),
    )
    result.dataset = dataset or str(real_path)
    result.notes = notes + result.notes
    result.details.update(
        source=str(source),
        against=result.dataset,
        features="inception" if isinstance(extractor, InceptionFeatures) else str(extractor.checkpoint_path),
        conditional=labels is not None,
        seed=seed,
    )
    return result


def _check_options(n: int, features: str | None, classifier: str | Path | None) -> None:
    if n < 10:
        raise ValueError(f"n must be >= 10 images; got {n}")
    if features not in (None, "classifier", "inception"):
        raise ValueError(f"features must be 'classifier' or 'inception'; got {features!r}")
    if features == "inception" and classifier is not None:
        raise ValueError("give either a classifier or Inception features, not both")


def _real_files(against: str | Path | None, dataset: str | None) -> tuple[Path | None, np.ndarray | None]:
    """Where the real images are when they are in files (None: a named dataset), and their images when
    that is a .npz (a folder is read later, at the size the sets are compared at)."""
    real_path = Path(against) if against is not None and dataset is None else None
    if real_path is not None and not real_path.exists():
        raise FileNotFoundError(
            f"{against} is neither a dataset name (mnist, fashion-mnist) nor a folder, .zip or .npz of real images"
        )
    return real_path, _read_npz(real_path)[0] if real_path is not None and _is_npz(real_path) else None


def _say_what(source: Path) -> str:
    return (
        f"say what to compare {source} with: --against mnist or fashion-mnist, or --against a folder, .zip or .npz of real images"
    )


def _named_extractor(
    source: Path, against: str | Path | None, classifier: str | Path | None, features: str | None
) -> tuple[FeatureExtractor | None, str | None]:
    """The feature extractor asked for (None: the default, chosen once the dataset is known) and the named
    dataset to compare with (None: real images in files, or a dataset still to be guessed)."""
    extractor: FeatureExtractor | None = _evaluate.load_classifier(classifier) if classifier is not None else None
    dataset = _dataset_name(against)
    if against is None and isinstance(extractor, Classifier) and "data_folder" not in classifier_metadata(extractor):
        dataset = _dataset_name(extractor.config.dataset)  # a named dataset's classifier: compare with that dataset
    if against is None and dataset is None and not _is_npz(source):
        raise ValueError(_say_what(source))  # before Inception's weights are loaded, or downloaded
    if features == "classifier" and extractor is None and dataset is None:
        raise ValueError("features 'classifier' needs a classifier (--classifier DIR) or a named dataset to compare with")
    if features == "inception":
        extractor = _evaluate.load_inception()
    return extractor, dataset


def _nearest_dataset(source: Path, generated: np.ndarray, seed: int, notes: list[str]) -> str:
    """The named dataset nearest to 1x28x28 images in a .npz, said in ``notes``, when none is named."""
    if generated.shape[1:] != (1, 28, 28):
        raise ValueError(_say_what(source))
    dataset, distances = guess_dataset(generated, seed=seed)
    notes.append(
        f"compared with {dataset}, whose training images are nearest in pixels (median distance "
        + ", ".join(f"{name} {d:.2f}" for name, d in distances.items())
        + "); --against chooses"
    )
    return dataset


def _real_sets(
    dataset: str | None, real: np.ndarray | None, real_path: Path | None, rng: np.random.Generator, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None, str]:
    """(real set, reference set, their labels or None, a description): a dataset's splits, or two halves of ``real``."""
    from ganlab.data.images import load_image_dataset

    if dataset is not None:
        heldout, train = load_image_dataset(dataset, "heldout"), load_image_dataset(dataset, "train")
        labels = (heldout.labels.numpy(), train.labels.numpy())
        return heldout.images.numpy(), train.images.numpy(), labels, heldout.describe()
    if len(real) < 20:
        raise ValueError(f"{real_path} holds {len(real)} images; at least 20 real images are needed (two halves of 10)")
    order = rng.permutation(len(real))
    half = len(real) // 2
    notes.append(
        f"the {len(real):,} real images were split at random into halves of {half:,} (real set) and "
        f"{len(real) - half:,} (reference and memorization check)"
    )
    return real[order[:half]], real[order[half:]], None, str(real_path)


def _usable_labels(
    labels: np.ndarray, extractor: FeatureExtractor, real_labels: tuple[np.ndarray, np.ndarray] | None, n: int
) -> tuple[np.ndarray | None, str]:
    """The .npz labels when they can be checked (a named dataset, its classifier, enough images), and a note."""
    not_used = "the labels in the .npz were not used: "
    if real_labels is None or not isinstance(extractor, Classifier):
        return None, not_used + "they are checked against a named dataset's classes with its classifier"
    k = extractor.config.num_classes
    if labels.min() < 0 or labels.max() >= k:
        return None, not_used + f"they are not all between 0 and {k - 1}, the classes of the classifier"
    if n < MIN_IMAGES_PER_CLASS * k:
        return None, not_used + f"label accuracy and class-conditional FID need N >= {MIN_IMAGES_PER_CLASS * k:,}"
    return labels, f"the labels in the .npz were read as the classes {', '.join(extractor.config.class_names)}"


def guess_dataset(images: np.ndarray, *, seed: int = 0) -> tuple[str, dict[str, float]]:
    """The named dataset whose training images are nearest in pixels to these 1x28x28 uint8 images.

    Returns the name and the median nearest-neighbour distance to each dataset that could be loaded.
    """
    from ganlab.data.errors import DataError
    from ganlab.data.images import load_image_dataset
    from ganlab.data.registry import IMAGE_DATASETS

    rng = np.random.default_rng(seed)
    queries = images[rng.choice(len(images), min(GUESS_QUERIES, len(images)), replace=False)]
    distances = {}
    for name in IMAGE_DATASETS:
        try:
            train = load_image_dataset(name, "train").images.numpy()
        except DataError:  # e.g. Fashion-MNIST not installed: not a candidate
            continue
        pool = train[rng.choice(len(train), min(GUESS_POOL, len(train)), replace=False)]
        distances[name] = float(np.median(nearest_training_distances(queries, pool)))
    return min(distances, key=distances.__getitem__), distances


def _dataset_name(name: str | Path | None) -> str | None:
    """A named dataset ("mnist", "fashion-mnist"), unless a file or folder of that name exists."""
    from ganlab.data.registry import IMAGE_DATASETS

    if name is None or Path(name).exists():
        return None
    key = str(name).strip().lower().replace("_", "-")
    return key if key in IMAGE_DATASETS else None


def _is_npz(path: Path) -> bool:
    return path.suffix.lower() == ".npz"


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 images (N, C, H, W) and labels (N,) or None from a .npz as ``ganlab sample`` writes it."""
    from ganlab.data.errors import DataError

    written_by_sample = "a .npz as `ganlab sample` writes it: 'images' uint8 (N, H, W) or (N, H, W, 3)"
    if not path.is_file():
        raise DataError(f"{path} does not exist; give {written_by_sample}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files if key in ("images", "labels", "points")}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path} is not a readable .npz file ({error}); give {written_by_sample}") from None
    if "images" not in arrays:
        hint = " (it holds 2D points: evaluate the 2D model's checkpoint instead)" if "points" in arrays else ""
        raise DataError(f"{path} has no 'images' array{hint}; give {written_by_sample}")
    images, labels = arrays["images"], arrays.get("labels")
    if images.ndim == 4 and images.shape[3] in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    elif images.ndim == 3:
        images = images[:, None]
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) == 0:
        raise DataError(f"{path}: 'images' is {images.dtype} {tuple(arrays['images'].shape)}; give {written_by_sample}")
    if labels is not None and (labels.shape != (len(images),) or labels.dtype.kind not in "iu"):
        raise DataError(f"{path}: 'labels' must be one whole number per image; got {labels.dtype} {labels.shape}")
    return np.ascontiguousarray(images), labels.astype(np.int64) if labels is not None else None


def _read_folder(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """uint8 images (N, C, S, S) from a folder or .zip, each made ``shape`` as the folder loader does."""
    from ganlab.data.errors import DataError
    from ganlab.data.images import load_image_folder

    channels, height, width = shape
    if height != width:
        raise DataError(f"folders are read as square images, but the other set's images are {height}x{width}")
    return load_image_folder(path, size=height, channels=channels).images.numpy()


def _working_shape(
    generated: np.ndarray | None, real: np.ndarray | None, dataset: str | None, extractor: FeatureExtractor
) -> tuple[int, int, int]:
    """The (C, H, W) both sets are compared at: set by a .npz or dataset, else by the feature extractor."""
    for images in (generated, real):
        if images is not None:
            return tuple(images.shape[1:])  # type: ignore[return-value]
    if dataset is not None:
        return (1, 28, 28)
    if isinstance(extractor, Classifier):
        return (extractor.config.in_channels, extractor.config.image_size, extractor.config.image_size)
    return (3, INCEPTION_READ_SIZE, INCEPTION_READ_SIZE)


def _check_shapes(generated: np.ndarray, shape: tuple[int, int, int], source: Path, against: object) -> None:
    if tuple(generated.shape[1:]) != tuple(shape):
        c, h, w = generated.shape[1:]
        raise ValueError(
            f"the images in {source} are {c}x{h}x{w} but those of {against} are "
            f"{'x'.join(map(str, shape))}; the two sets must have one size to be compared"
        )


def _check_extractor(extractor: FeatureExtractor, shape: tuple[int, int, int]) -> None:
    if isinstance(extractor, Classifier):
        wanted = (extractor.config.in_channels, extractor.config.image_size, extractor.config.image_size)
        if tuple(shape) != wanted:
            raise ValueError(
                f"the classifier {extractor.checkpoint_path} takes {'x'.join(map(str, wanted))} images; "
                f"these are {'x'.join(map(str, shape))}: use a classifier trained at that size "
                "(scripts/train_classifier.py --image-size, --channels) or --features inception"
            )

"""Evaluate a generator: every metric for its samples, next to the same metric for real data.

A number like "FID 8.3" means little alone: its scale depends on the feature extractor, the
number of samples and the data. So every row of the report holds two columns:

* generated:  generated samples vs held-out real images (never seen in training)
* real reference:  held-out real images vs as many training images (what a perfect generator,
  one that samples the data distribution itself, would score at the same N)

Image metrics use the shipped domain classifier of the generator's dataset
(``ganlab.metrics.classifier``); 2D toys use mode coverage and histogram divergences.

Images saved in files (a .npz written by ``ganlab sample``, a folder or .zip of images) are
evaluated by ``evaluate_files``, against a named dataset or a folder of real images, with a
domain classifier of your own or Inception-v3 features (``ganlab.metrics.inception``).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.metrics.c2st import classifier_two_sample_test
from ganlab.metrics.classifier import Classifier, classifier_name, extract, load_classifier
from ganlab.metrics.conditional import class_conditional_fid, label_accuracy
from ganlab.metrics.fid import fid
from ganlab.metrics.inception import InceptionFeatures, load_inception  # noqa: F401  (evaluate_files calls it from here)
from ganlab.metrics.inception_score import inception_score
from ganlab.metrics.kid import kid
from ganlab.metrics.memorization import memorization, nearest_training_distances
from ganlab.metrics.modes import histogram_divergences, mode_coverage
from ganlab.metrics.prdc import prdc
from ganlab.metrics.result import MetricResult, to_jsonable

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]
FeatureExtractor = Classifier | InceptionFeatures
# Memorization compares pixels with the whole training set; this many queries per set give a
# precise median at a fraction of the cost.
MEMORIZATION_QUERIES = 2000


@dataclass
class EvaluationRow:
    metric: str
    generated: MetricResult | None
    reference: MetricResult | None

    @property
    def higher_is_better(self) -> bool | None:
        return (self.generated or self.reference).higher_is_better  # type: ignore[union-attr]


@dataclass
class EvaluationReport:
    """Rows of (metric, generated, real reference), plus notes and per-class details."""

    title: str
    dataset: str
    n: int
    rows: list[EvaluationRow]
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, metric: str) -> EvaluationRow:
        for row in self.rows:
            if row.metric == metric:
                return row
        raise KeyError(f"no metric {metric!r} in this report; it has: {', '.join(r.metric for r in self.rows)}")

    def to_table(self) -> str:
        """A plain-text table: metric | generated | real reference | n, then notes and warnings."""
        header = ("metric", "generated", "real reference", "n")
        lines = []
        for row in self.rows:
            arrow = {True: " (↑)", False: " (↓)", None: ""}[row.higher_is_better]
            lines.append(
                (
                    row.metric + arrow,
                    row.generated.format_value() if row.generated else "-",
                    row.reference.format_value() if row.reference else "-",
                    f"{(row.generated or row.reference).n:,}",  # type: ignore[union-attr]
                )
            )
        widths = [max(len(r[i]) for r in [header, *lines]) for i in range(4)]

        def fmt(cells: tuple[str, ...]) -> str:
            return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

        out = [self.title, fmt(header), "-+-".join("-" * w for w in widths), *map(fmt, lines)]
        legend = "(↑ higher is better, ↓ lower is better"
        legend += "; C2ST accuracy is best at 0.5)" if any(r.metric.startswith("C2ST") for r in self.rows) else ")"
        out.append(legend)
        for note in self.notes:
            out.append(f"note: {note}")
        warned = set()
        for row in self.rows:
            for label, result in (("generated", row.generated), ("reference", row.reference)):
                if result and result.warning and (row.metric, result.warning) not in warned:
                    warned.add((row.metric, result.warning))
                    out.append(f"warning ({row.metric}, {label}): {result.warning}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-able types."""
        return {
            "title": self.title,
            "dataset": self.dataset,
            "n": self.n,
            "rows": [
                {
                    "metric": row.metric,
                    "higher_is_better": row.higher_is_better,
                    "generated": row.generated.to_dict() if row.generated else None,
                    "reference": row.reference.to_dict() if row.reference else None,
                }
                for row in self.rows
            ],
            "notes": list(self.notes),
            "details": to_jsonable(self.details),
        }


@dataclass
class FeatureSet:
    """A set of images seen through the classifier: features, class probabilities, labels."""

    features: np.ndarray  # (N, D) float64
    probs: np.ndarray  # (N, K) float64
    labels: np.ndarray | None = None  # (N,) intended (generated) or true (real) classes


def features_of(extractor: FeatureExtractor, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, D) and class probabilities (N, K) of uint8 images, from either kind of extractor."""
    if isinstance(extractor, Classifier):
        return extract(extractor, images)
    return extractor.extract(images)


def set_metrics(fake: FeatureSet, real: FeatureSet, *, class_names: list[str], seed: int = 0) -> dict[str, MetricResult]:
    """Every feature-based metric of ``fake`` against ``real`` (both FeatureSets)."""
    results = {
        "FID": fid(fake.features, real.features),
        "KID": kid(fake.features, real.features, seed=seed),
        "Inception Score": inception_score(fake.probs, splits=min(10, len(fake.probs)), seed=seed),
    }
    precision, recall, density, coverage = prdc(real.features, fake.features)
    results.update(precision=precision, recall=recall, density=density, coverage=coverage)
    results["C2ST accuracy"] = classifier_two_sample_test(real.features, fake.features, seed=seed)
    if fake.labels is not None and real.labels is not None:
        results["label accuracy"] = label_accuracy(fake.probs, fake.labels, class_names=class_names)
        results["class-conditional FID"] = class_conditional_fid(
            fake.features, fake.labels, real.features, real.labels, class_names=class_names
        )
    return results


def evaluate_images(
    generated: np.ndarray | None,
    heldout: np.ndarray,
    train: np.ndarray,
    classifier: FeatureExtractor,
    *,
    generated_labels: np.ndarray | None = None,
    heldout_labels: np.ndarray | None = None,
    train_labels: np.ndarray | None = None,
    n: int | None = None,
    seed: int = 0,
    title: str = "Evaluation",
    progress: Progress | None = None,
) -> EvaluationReport:
    """Compare uint8 generated images with held-out real ones, and held-out with training ones.

    N = min(len(generated), len(heldout), n) images of each set are used (a random subset of
    ``heldout``); ``train`` is the whole training set: N random images of it form the reference
    row, and all of them are searched for the memorization check. ``classifier`` is a domain
    classifier or Inception-v3 (``features_of`` turns images into features). Give ``generated_labels``
    (intended classes) for conditional models; the real label arrays are then needed too.
    With ``generated=None`` only the real reference column is computed (labels permitting,
    label accuracy and class-conditional FID included).
    """
    report = _progress(progress)
    n = _set_size(generated, heldout, n)
    rng = np.random.default_rng(seed)
    conditional = heldout_labels is not None and train_labels is not None
    if generated_labels is not None and not conditional:
        raise ValueError("a conditional evaluation needs the labels of the held-out and training images")
    # Random subsets: datasets may be stored sorted by class, so "the first n" could be all zeros.
    pick_heldout = rng.choice(len(heldout), n, replace=False)
    pick_train = rng.choice(len(train), min(n, len(train)), replace=False)
    heldout = heldout[pick_heldout]
    names = list(classifier.config.class_names)

    start = time.time()
    fake, real, train_subset = _feature_sets(
        classifier,
        generated[:n] if generated is not None else None,
        np.asarray(generated_labels)[:n] if generated is not None and generated_labels is not None else None,
        heldout,
        np.asarray(heldout_labels)[pick_heldout] if conditional else None,
        train[pick_train],
        np.asarray(train_labels)[pick_train] if conditional else None,
        report,
    )
    generated_results: dict[str, MetricResult] = {}
    if fake is not None:
        report(0.45, "metrics: generated vs held-out")
        generated_results = set_metrics(fake, real, class_names=names, seed=seed)
    report(0.6, "metrics: held-out vs training (reference)")
    reference_results = set_metrics(real, train_subset, class_names=names, seed=seed)

    report(0.75, "memorization check: nearest training image of each sample")
    queries = min(n, MEMORIZATION_QUERIES)
    memorization_row = _memorization_row(generated, heldout, train, queries)  # heldout is a random subset
    report(0.95, "writing the report")

    # Label metrics only where they exist in the generated column (conditional generators).
    names_in_order = list(generated_results) if fake is not None else list(reference_results)
    rows = [EvaluationRow(m, generated_results.get(m), reference_results[m]) for m in names_in_order] + [memorization_row]
    details = _details(
        classifier,
        fake,
        real,
        generated_results,
        reference_results,
        memorization_queries=queries,
        train_size=len(train),
        seconds=round(time.time() - start, 1),
    )
    notes = [
        f"N = {n:,} images per set; features from the {classifier.config.dataset} classifier "
        f"({classifier.config.feature_dim}-d penultimate layer)",
        "real reference = held-out real images vs as many training images: what a perfect generator scores at this N",
        f"memorization: pixel-space distances to all {len(train):,} training images, {queries:,} queries per set",
    ]
    report(1.0, "done")
    return EvaluationReport(title, classifier.config.dataset, n, rows, notes, details)


def _set_size(generated: np.ndarray | None, heldout: np.ndarray, n: int | None) -> int:
    """N, the images of each set compared: as many as the smaller set holds, or ``n`` if fewer."""
    sizes = [len(heldout)] + ([len(generated)] if generated is not None else []) + ([n] if n else [])
    n = min(sizes)
    if n < 10:
        raise ValueError(f"evaluation needs at least 10 images per set; got {n}")
    return n


def _feature_sets(
    classifier: FeatureExtractor,
    generated: np.ndarray | None,
    generated_labels: np.ndarray | None,
    heldout: np.ndarray,
    heldout_labels: np.ndarray | None,
    train: np.ndarray,
    train_labels: np.ndarray | None,
    report: Progress,
) -> tuple[FeatureSet | None, FeatureSet, FeatureSet]:
    """The three sets seen through the classifier: generated (None without images), held-out, training."""
    fake = None
    if generated is not None:
        report(0.0, "classifier features of generated images")
        fake = FeatureSet(*features_of(classifier, generated), generated_labels)
    report(0.15, "classifier features of held-out real images")
    real = FeatureSet(*features_of(classifier, heldout), heldout_labels)
    report(0.3, "classifier features of training images (reference)")
    return fake, real, FeatureSet(*features_of(classifier, train), train_labels)


def _memorization_row(generated: np.ndarray | None, heldout: np.ndarray, train: np.ndarray, queries: int) -> EvaluationRow:
    """How near the generated images lie to training images, beside how near held-out real ones do."""
    heldout_distances = nearest_training_distances(heldout[:queries], train)
    if generated is not None:
        mem_generated, mem_reference = memorization(nearest_training_distances(generated[:queries], train), heldout_distances)
    else:
        mem_generated, mem_reference = None, memorization(heldout_distances, heldout_distances)[1]
    return EvaluationRow("memorization: median distance to nearest training image", mem_generated, mem_reference)


def _details(
    classifier: FeatureExtractor,
    fake: FeatureSet | None,
    real: FeatureSet,
    generated_results: dict[str, MetricResult],
    reference_results: dict[str, MetricResult],
    **measured: Any,
) -> dict[str, Any]:
    """The report's details: the features used, the classes the classifier sees in each set, what was
    ``measured`` (the memorization queries, the training set's size, the time), per-class accuracy."""
    names = list(classifier.config.class_names)
    details: dict[str, Any] = {
        "classifier_feature_dim": classifier.config.feature_dim,
        "class_names": names,
        "predicted_class_share": {"heldout": _class_shares(real.probs, names)},
        **measured,
    }
    if fake is not None:
        details["predicted_class_share"]["generated"] = _class_shares(fake.probs, names)
    if "label accuracy" in generated_results:
        details["label_accuracy_per_class"] = {
            "generated": generated_results["label accuracy"].details["per_class"],
            "heldout": reference_results["label accuracy"].details["per_class"],
        }
    return details


def evaluate_reference(
    dataset: str, *, n: int | None = None, seed: int = 0, progress: Progress | None = None
) -> EvaluationReport:
    """The real reference column alone: held-out real images vs training images of ``dataset``.

    These are the scores of a perfect generator at this N (docs/EVALUATION.md lists them).
    """
    from ganlab.data.images import load_image_dataset

    classifier = load_classifier(classifier_name(dataset))
    heldout = load_image_dataset(dataset, "heldout")
    train = load_image_dataset(dataset, "train")
    report = evaluate_images(
        None,
        heldout.images.numpy(),
        train.images.numpy(),
        classifier,
        heldout_labels=heldout.labels.numpy(),
        train_labels=train.labels.numpy(),
        n=n,
        seed=seed,
        title=f"Real reference: held-out vs train ({heldout.describe()})",
        progress=progress,
    )
    accuracy = classifier_metadata(classifier).get("heldout_accuracy")
    report.details.update(classifier_heldout_accuracy=accuracy, seed=seed)
    return report


def evaluate_checkpoint(
    path_or_name: str | Path,
    *,
    n: int = 10000,
    seed: int = 0,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
) -> EvaluationReport:
    """Sample ``n`` images from a generator checkpoint and evaluate them (see module docstring).

    ``n`` is capped by the size of the held-out set (2,000 for bundled MNIST, 10,000 for
    Fashion-MNIST), since the generated set is compared with an equally large real one.
    """
    from ganlab.checkpoints import load_model
    from ganlab.data.images import load_image_dataset
    from ganlab.sampling import generate_images, proportional_labels

    report = _progress(progress)
    if n < 10:
        raise ValueError(f"n must be >= 10 samples; got {n}")
    report(0.0, "loading the generator")
    generator = load_model(path_or_name, kind="generator", device=device)
    metadata = getattr(generator, "checkpoint_metadata", {}) or {}
    dataset = metadata.get("dataset")
    if not dataset:
        raise ValueError(
            f"checkpoint {path_or_name} does not say which dataset it was trained on (no 'dataset' in its "
            "metadata), so there is no real data to compare it with"
        )
    if not generator.config.is_image:
        raise ValueError(f"checkpoint {path_or_name} generates 2D points; use evaluate_toy for those")
    classifier = load_classifier(classifier_name(dataset))
    heldout = load_image_dataset(dataset, "heldout")
    train = load_image_dataset(dataset, "train")
    notes = []
    if n > len(heldout):
        notes.append(f"n capped at {len(heldout):,} (asked for {n:,}): the held-out set has {len(heldout):,} images")
        n = len(heldout)
    conditional = generator.config.conditional  # real classes, whose accuracy can be checked

    report(0.02, f"generating {n:,} images")
    labels = None
    if conditional and train.labels is not None:
        # Classes as often as the training data has them, not equally often: FID compares with real
        # images, whose classes are not balanced (MNIST: 9% 5s, 11% 1s), and on mnist-cdcgan balanced
        # classes alone added about a fifth to FID (median of six seeds 0.139 vs 0.109).
        shares = torch.bincount(train.labels.long(), minlength=generator.config.num_classes).double().tolist()
        labels = proportional_labels(n, shares, generator=torch.Generator().manual_seed(seed))
    images, labels = generate_images(generator, n, labels=labels, seed=seed, device=device)
    title = f"Evaluation of {path_or_name} ({heldout.describe()})"
    result = evaluate_images(
        images,
        heldout.images.numpy(),
        train.images.numpy(),
        classifier,
        generated_labels=labels if conditional else None,
        heldout_labels=heldout.labels.numpy() if conditional else None,
        train_labels=train.labels.numpy() if conditional else None,
        seed=seed,
        title=title,
        progress=lambda f, m: report(0.1 + 0.9 * f, m),
    )
    result.notes = notes + result.notes
    result.details.update(
        checkpoint=str(path_or_name),
        conditional=conditional,
        classifier_heldout_accuracy=classifier_metadata(classifier).get("heldout_accuracy"),
        seed=seed,
    )
    return result


# Evaluating files lives in ganlab.metrics.evaluate_files (which imports this module); its names
# are still served from here, imported on first use so that this module does not import it.
_FILES_NAMES = frozenset(
    {
        "INCEPTION_READ_SIZE",
        "GUESS_QUERIES",
        "GUESS_POOL",
        "MIN_IMAGES_PER_CLASS",
        "evaluate_files",
        "guess_dataset",
        "_real_sets",
        "_usable_labels",
        "_dataset_name",
        "_is_npz",
        "_read_npz",
        "_read_folder",
        "_working_shape",
        "_check_shapes",
        "_check_extractor",
    }
)


def __getattr__(name: str) -> Any:
    if name in _FILES_NAMES:
        return getattr(importlib.import_module("ganlab.metrics.evaluate_files"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def evaluate_toy(samples: np.ndarray | torch.Tensor, distribution: Any, *, seed: int = 0, bins: int = 50) -> EvaluationReport:
    """Mode coverage, high-quality share, KL and JS of 2D ``samples`` (N, 2) against a ToyDistribution.

    The real reference scores a fresh sample of N points from the distribution itself.
    """
    samples = np.asarray(torch.as_tensor(samples).detach().cpu().double().numpy())
    n = len(samples)
    data = distribution.sample_numpy(n, seed=seed + 1)
    reference = distribution.sample_numpy(n, seed=seed + 2)
    gen_cover, gen_hq = mode_coverage(samples, distribution.modes, distribution.std)
    ref_cover, ref_hq = mode_coverage(reference, distribution.modes, distribution.std)
    rows = [EvaluationRow(gen_cover.name, gen_cover, ref_cover), EvaluationRow(gen_hq.name, gen_hq, ref_hq)]
    gen_kl, gen_js = histogram_divergences(data, samples, bins=bins)
    ref_kl, ref_js = histogram_divergences(data, reference, bins=bins)
    rows += [EvaluationRow(gen_kl.name, gen_kl, ref_kl), EvaluationRow(gen_js.name, gen_js, ref_js)]
    notes = [
        f"{distribution.num_modes} modes, std {distribution.std:g}; high quality = within 3 std of the nearest mode",
        f"real reference = a fresh sample of {n:,} points from the distribution itself",
        f"KL/JS on a {bins}x{bins} histogram (+1 outside bin) against {n:,} data points, pseudo-count 1e-3 per bin",
    ]
    title = f"Evaluation on {distribution.name} ({n:,} samples)"
    return EvaluationReport(title, distribution.name, n, rows, notes, {"num_modes": distribution.num_modes})


def classifier_metadata(classifier: Classifier) -> dict[str, Any]:
    return dict(getattr(classifier, "checkpoint_metadata", {}) or {})


def _class_shares(probs: np.ndarray, names: list[str]) -> dict[str, float]:
    counts = np.bincount(probs.argmax(axis=1), minlength=len(names))
    return {name: float(c / len(probs)) for name, c in zip(names, counts, strict=True)}


def _progress(progress: Progress | None) -> Progress:
    return progress if progress is not None else (lambda fraction, message: None)

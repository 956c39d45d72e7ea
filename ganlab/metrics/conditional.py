"""Metrics for class-conditional generators: does "draw a 7" give a 7, and a good one?

* label accuracy: share of samples generated for class c that the domain classifier assigns to c,
  per class and overall. Real data gives the reference (the classifier's own held-out accuracy).
* class-conditional FID: the FID between generated and real samples *of the same class*, averaged
  over classes. A model that draws good images of the wrong class has a fine FID but a poor
  class-conditional FID. With N samples split over K classes each FID sees only N/K samples, so
  it is biased upward more than the unconditional FID (compare only at equal N).
"""

from __future__ import annotations

import numpy as np

from ganlab.metrics.fid import feature_statistics, fid_warning, frechet_distance
from ganlab.metrics.result import MetricResult


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for a proportion (Clopper & Pearson 1934)."""
    if trials <= 0:
        return (float("nan"), float("nan"))
    from scipy.stats import binomtest  # imported when used: scipy.stats costs seconds at the app's start

    interval = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence, method="exact")
    return (float(interval.low), float(interval.high))


def label_accuracy(predicted: np.ndarray, intended: np.ndarray, *, class_names: list[str] | None = None) -> MetricResult:
    """Share of samples whose predicted class equals the class they were generated for.

    ``predicted`` is (N,) class indices or (N, K) probabilities; ``intended`` is (N,) class indices.
    ``details["per_class"]`` maps each class name to its accuracy (NaN when it has no samples).
    """
    predicted = np.asarray(predicted)
    if predicted.ndim == 2:
        num_classes = predicted.shape[1]
        predicted = predicted.argmax(axis=1)
    else:
        num_classes = None
    intended = np.asarray(intended).astype(np.int64)
    if predicted.shape != intended.shape:
        raise ValueError(f"predicted and intended labels differ in length: {predicted.shape} vs {intended.shape}")
    if len(intended) == 0:
        raise ValueError("label accuracy needs at least one sample")
    if num_classes is None:
        num_classes = int(max(predicted.max(), intended.max())) + 1
    if class_names is not None:
        num_classes = max(num_classes, len(class_names))
    names = class_names or [str(c) for c in range(num_classes)]
    correct = predicted == intended
    per_class = {}
    counts = {}
    for c in range(num_classes):
        mask = intended == c
        counts[names[c]] = int(mask.sum())
        per_class[names[c]] = float(correct[mask].mean()) if mask.any() else float("nan")
    hits = int(correct.sum())
    warning = None
    smallest = min(v for v in counts.values() if v > 0)
    if smallest < 100:
        warning = f"as few as {smallest} samples in a class: per-class accuracies are coarse"
    return MetricResult(
        "label accuracy",
        hits / len(intended),
        len(intended),
        higher_is_better=True,
        ci=clopper_pearson(hits, len(intended)),
        warning=warning,
        details={"per_class": per_class, "per_class_n": counts},
    )


def class_conditional_fid(
    fake_features: np.ndarray,
    fake_labels: np.ndarray,
    real_features: np.ndarray,
    real_labels: np.ndarray,
    *,
    class_names: list[str] | None = None,
) -> MetricResult:
    """Mean over classes of FID(generated samples of class c, real samples of class c)."""
    fake_features = np.asarray(fake_features, dtype=np.float64)
    real_features = np.asarray(real_features, dtype=np.float64)
    fake_labels = np.asarray(fake_labels).astype(np.int64)
    real_labels = np.asarray(real_labels).astype(np.int64)
    classes = np.union1d(np.unique(fake_labels), np.unique(real_labels))
    names = class_names or [str(c) for c in range(int(classes.max()) + 1)]
    per_class = {}
    sizes = []
    for c in classes:
        fake_c, real_c = fake_features[fake_labels == c], real_features[real_labels == c]
        if len(fake_c) < 2 or len(real_c) < 2:
            raise ValueError(
                f"class {names[c]} has {len(fake_c)} generated and {len(real_c)} real samples; "
                "class-conditional FID needs at least 2 of each in every class"
            )
        per_class[names[c]] = frechet_distance(*feature_statistics(fake_c), *feature_statistics(real_c))
        sizes.append(min(len(fake_c), len(real_c)))
    smallest = min(sizes)
    warning = fid_warning(smallest, fake_features.shape[1])
    if warning:
        warning = "per class: " + warning
    return MetricResult(
        "class-conditional FID",
        float(np.mean(list(per_class.values()))),
        min(len(fake_features), len(real_features)),
        higher_is_better=False,
        warning=warning,
        details={"per_class": per_class, "smallest_class_n": smallest},
    )

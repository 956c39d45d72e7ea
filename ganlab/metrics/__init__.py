"""Metrics for generated samples; one module per concept, all pure functions on arrays.

    classifier.py       the domain classifier (feature extractor) and its preprocessing
    fid.py, kid.py      Fréchet and kernel distances between feature sets
    inception_score.py  Inception Score on the classifier's predictions
    prdc.py             precision/recall and density/coverage (k-NN manifolds)
    conditional.py      label accuracy and class-conditional FID
    c2st.py             classifier two-sample test
    memorization.py     nearest-training-image distances
    modes.py            2D toys: mode coverage, histogram KL/JS
    evaluate.py         evaluate_checkpoint / evaluate_toy: every metric next to a real reference
    result.py           MetricResult, the shape every metric returns

See docs/EVALUATION.md for formulas, references and caveats.
"""

from ganlab.metrics.c2st import classifier_two_sample_test
from ganlab.metrics.classifier import Classifier, ClassifierConfig, extract, load_classifier, preprocess
from ganlab.metrics.conditional import class_conditional_fid, label_accuracy
from ganlab.metrics.evaluate import (
    EvaluationReport,
    EvaluationRow,
    evaluate_checkpoint,
    evaluate_images,
    evaluate_reference,
    evaluate_toy,
)
from ganlab.metrics.fid import fid, frechet_distance
from ganlab.metrics.inception_score import inception_score
from ganlab.metrics.kid import kid
from ganlab.metrics.memorization import memorization, nearest_training_distances
from ganlab.metrics.modes import histogram_divergences, mode_coverage
from ganlab.metrics.prdc import density_coverage, prdc, precision_recall
from ganlab.metrics.result import MetricResult

__all__ = [
    "Classifier",
    "ClassifierConfig",
    "EvaluationReport",
    "EvaluationRow",
    "MetricResult",
    "class_conditional_fid",
    "classifier_two_sample_test",
    "density_coverage",
    "evaluate_checkpoint",
    "evaluate_images",
    "evaluate_reference",
    "evaluate_toy",
    "extract",
    "fid",
    "frechet_distance",
    "histogram_divergences",
    "inception_score",
    "kid",
    "label_accuracy",
    "load_classifier",
    "memorization",
    "mode_coverage",
    "nearest_training_distances",
    "precision_recall",
    "prdc",
    "preprocess",
]

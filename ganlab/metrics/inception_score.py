"""Inception Score (Salimans et al. 2016), computed on the domain classifier's predictions.

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

It is high when each sample is classified confidently (sharp p(y|x)) AND the classes are used
evenly (flat p(y)); it ranges from 1 to the number of classes K. As in the paper, the samples are
cut into 10 splits and the score is reported as mean ± std over the splits. IS only
looks at the generated samples: it never compares them with real data, so a model that draws one
perfect image per class scores the maximum. Read it next to FID/KID and precision/recall.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from ganlab.metrics.result import MetricResult

# With K = 10 classes, 100 samples per split estimate p(y) well; fewer bias the score low.
IS_MIN_RELIABLE_N = 1000


def inception_score(
    probs: np.ndarray, *, splits: int = 10, shuffle: bool = True, seed: int = 0, name: str = "Inception Score"
) -> MetricResult:
    """IS of class probabilities (N, K) whose rows sum to 1: mean ± std over ``splits`` splits.

    The rows are shuffled (seeded) before splitting, so that samples stored in class order
    (as datasets often are) still give splits that each hold every class.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probs must be (N, K) class probabilities; got shape {probs.shape}")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4) or (probs < 0).any():
        raise ValueError(
            "each row of probs must be a probability vector (non-negative, summing to 1); pass softmax outputs, not logits"
        )
    if not 1 <= splits <= len(probs):
        raise ValueError(f"splits must be between 1 and the number of samples ({len(probs)}); got {splits}")
    if shuffle:
        probs = probs[np.random.default_rng(seed).permutation(len(probs))]
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0)
        # xlogy(0, 0) = 0: classes a sample puts no mass on contribute nothing to the KL.
        kl = (xlogy(part, part) - xlogy(part, marginal[None, :])).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    scores = np.array(scores)
    warning = None
    if len(probs) < IS_MIN_RELIABLE_N:
        warning = f"N = {len(probs):,} < {IS_MIN_RELIABLE_N:,}: each split holds few samples, IS is biased low"
    return MetricResult(
        name,
        float(scores.mean()),
        len(probs),
        higher_is_better=True,
        spread=float(scores.std()) if splits > 1 else None,
        spread_kind=f"std over {splits} splits",
        warning=warning,
        details={"splits": splits, "num_classes": probs.shape[1], "split_scores": scores},
    )

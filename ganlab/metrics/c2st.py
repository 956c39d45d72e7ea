"""Classifier two-sample test (C2ST; Lopez-Paz & Oquab 2017).

Train a small classifier to tell set A (real) from set B (generated) on one half of each set, and
measure its accuracy on the other half. If the sets come from one distribution, no classifier can
beat chance: the held-out accuracy is 0.5 up to binomial noise. The further above 0.5, the easier
the fakes are to spot. We train a one-hidden-layer MLP on standardised classifier features
(full-batch Adam, fixed number of steps, weight decay), which takes about a second for N = 10,000.
The interval is the exact (Clopper-Pearson) 95% interval of the held-out accuracy and the p-value
is the one-sided binomial test of "accuracy > 0.5".
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ganlab.metrics.conditional import clopper_pearson
from ganlab.metrics.result import MetricResult, feature_pair

C2ST_MIN_RELIABLE_N = 1000


def classifier_two_sample_test(
    features_a: np.ndarray,
    features_b: np.ndarray,
    *,
    hidden: int = 64,
    steps: int = 300,
    learning_rate: float = 1e-2,
    weight_decay: float = 1e-3,
    seed: int = 0,
    name: str = "C2ST accuracy",
) -> MetricResult:
    """Held-out accuracy of an MLP trained to separate features_a (N1, D) from features_b (N2, D)."""
    a, b = feature_pair(features_a, features_b, np.float32)
    n = min(len(a), len(b))
    if n < 4:
        raise ValueError(f"C2ST needs at least 4 samples per set; got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    # Equal-sized sets so that chance level is exactly 0.5; each is shuffled then halved.
    a = a[rng.permutation(len(a))[:n]]
    b = b[rng.permutation(len(b))[:n]]
    half = n // 2
    train_x = np.concatenate([a[:half], b[:half]])
    train_y = np.concatenate([np.zeros(half), np.ones(half)]).astype(np.float32)
    test_x = np.concatenate([a[half:], b[half:]])
    test_y = np.concatenate([np.zeros(n - half), np.ones(n - half)])
    # Standardise with training statistics only, so nothing about the test half leaks in.
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(a.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    x, y = torch.from_numpy(train_x), torch.from_numpy(train_y)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = (model(torch.from_numpy(test_x)).squeeze(1) > 0).numpy()
    hits = int((predicted == test_y).sum())
    trials = len(test_y)
    warning = None
    if n < C2ST_MIN_RELIABLE_N:
        warning = f"N = {n:,} < {C2ST_MIN_RELIABLE_N:,}: the test half is small, so the interval is wide"
    return MetricResult(
        name,
        hits / trials,
        n,
        higher_is_better=False,  # 0.5 is best: real and generated cannot be told apart
        ci=clopper_pearson(hits, trials),
        warning=warning,
        details={
            "test_samples": trials,
            "p_value_above_chance": float(_binomtest()(hits, trials, 0.5, alternative="greater").pvalue),
            "train_loss": float(loss.item()),
        },
    )


def _binomtest():
    from scipy.stats import binomtest  # imported when used: scipy.stats costs seconds at the app's start

    return binomtest

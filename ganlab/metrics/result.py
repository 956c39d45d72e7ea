"""The one shape every metric returns (a value, its spread, how many samples, and a warning), and the
input check shared by the metrics that compare two feature sets."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MetricResult:
    """One number from one metric, with what a reader needs to trust it.

    ``spread`` is the uncertainty and ``spread_kind`` says what it is ("std over 10 splits",
    "s.e. over 100 subsets"); ``ci`` is a confidence interval where one is computed. ``n`` is the
    number of samples used (per set, for metrics that compare two sets). ``warning`` is set when
    the number is not to be trusted as is (too few samples, rank-deficient covariance, ...).
    """

    name: str
    value: float
    n: int
    higher_is_better: bool | None = None
    spread: float | None = None
    spread_kind: str | None = None
    ci: tuple[float, float] | None = None
    warning: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def format_value(self, digits: int = 4) -> str:
        """The value (and spread or interval), e.g. "0.0123 ± 0.0004" or "0.512 [0.49, 0.53]"."""
        text = _fmt(self.value, digits)
        if self.spread is not None:
            text += f" ± {_fmt(self.spread, digits)}"
        if self.ci is not None:
            text += f" [{_fmt(self.ci[0], digits)}, {_fmt(self.ci[1], digits)}]"
        return text

    def __str__(self) -> str:
        direction = {True: " (higher is better)", False: " (lower is better)", None: ""}[self.higher_is_better]
        text = f"{self.name} = {self.format_value()}{direction}, n = {self.n:,}"
        if self.warning:
            text += f"  [warning: {self.warning}]"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (NaN becomes None)."""
        data = asdict(self)
        data["value"] = _json_float(self.value)
        data["spread"] = _json_float(self.spread)
        data["ci"] = None if self.ci is None else [_json_float(c) for c in self.ci]
        data["details"] = to_jsonable(self.details)
        return data


def join_warnings(*warnings: str | None) -> str | None:
    """Several optional warnings as one sentence list, or None when there are none."""
    kept = [w for w in warnings if w]
    return "; ".join(kept) if kept else None


def _fmt(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude >= 1e5 or magnitude < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}" if magnitude >= 1 else f"{value:.{digits}f}"


def _json_float(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def to_jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays and nested containers into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return to_jsonable(value.tolist())
    if isinstance(value, float):
        return _json_float(value)
    return value


def feature_pair(a: np.ndarray, b: np.ndarray, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Two feature sets (N1, D) and (N2, D) as arrays of ``dtype``; ValueError if they do not pair up."""
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be 2D arrays with the same width; got {a.shape} and {b.shape}")
    return a, b

"""Bootstrap confidence intervals over evaluation items (seeded, percentile method)."""

from __future__ import annotations

import numpy as np


def bootstrap_ci(values: np.ndarray, n: int, seed: int, statistic=np.mean) -> tuple[float, float] | None:
    """95 % percentile interval of ``statistic`` over ``n`` resamples of ``values`` (None if n == 0)."""
    values = np.asarray(values, dtype=np.float64)
    if n == 0 or len(values) < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    stats = statistic(values[idx], axis=1)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def paired_difference_ci(a: np.ndarray, b: np.ndarray, n: int, seed: int) -> tuple[float, float] | None:
    """95 % interval of mean(b - a) over the same items (paired bootstrap)."""
    return bootstrap_ci(np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64), n, seed)

"""Summary statistics of a sample."""

from __future__ import annotations

import numpy as np

from . import util

try:  # optional: the same numbers, computed by SciPy when it is installed
    from scipy import stats as scipy_stats
except ImportError:
    scipy_stats = None


def summarize(values: np.ndarray, use_scipy: bool = False) -> dict[str, float]:
    """Mean and size of ``values``; with SciPy when asked and available."""
    if use_scipy and scipy_stats is not None:
        mean = float(scipy_stats.describe(values).mean)
    else:
        mean = float(np.mean(values))
    return util.as_record(mean=mean, n=values.size)

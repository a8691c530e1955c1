import numpy as np
from scipy.signal import find_peaks, peak_prominences

from .calibration import calibrate  # noqa: F401


def find_peaks_1d(trace: np.ndarray, min_prominence: float = 5.0) -> np.ndarray:
    idx, _ = find_peaks(trace, distance=20)
    prom = peak_prominences(trace, idx)[0]
    return idx[prom >= min_prominence]
